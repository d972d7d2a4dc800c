//! Deploying, scaling and removing a stack on the swarm: networks, configs and secrets
//! ensured first, then each service created, updated (a rolling update, when its spec
//! hash changed) or left alone; optionally waiting until every task runs.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use bollard::models::{ServiceSpec, ServiceUpdateStatusStateEnum, TaskState};
use bollard::query_parameters::{
    ListConfigsOptions, ListContainersOptions, ListNetworksOptions, ListSecretsOptions, ListServicesOptions, ListTasksOptions,
    ListVolumesOptions, RemoveVolumeOptions, UpdateServiceOptions,
};

use super::convert::{self, NetworkPlan, ObjectKind, ObjectPlan, ServicePlan};
use super::{check, engine, not_found, Result, Swarm, SwarmError, NAMESPACE, SPEC_HASH};
use crate::backend::docker::parse_time;
use crate::compose::model::Project;

const POLL: Duration = Duration::from_millis(500);

#[derive(Debug, Clone, Default)]
pub struct DeployOptions {
    /// Services named on the command line (empty: all).
    pub services: Vec<String>,
    /// `--scale SERVICE=N`: replicas instead of the file's.
    pub scale: HashMap<String, u32>,
    /// `--force-recreate`: roll every selected service, changed or not.
    pub force: bool,
    /// `--no-recreate`: leave services whose spec changed as they are.
    pub no_recreate: bool,
    pub remove_orphans: bool,
    /// `--wait`: return once every task runs (and is healthy) and updates completed.
    pub wait: bool,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct RemoveOptions {
    /// `-v`: also the stack's named volumes (on the node hoist talks to).
    pub volumes: bool,
}

/// A label filter (`label=k=v`) or any other single engine filter.
pub(super) fn filter(key: &str, value: impl Into<String>) -> Option<HashMap<String, Vec<String>>> {
    Some(HashMap::from([(key.to_string(), vec![value.into()])]))
}

fn namespace(stack: &str) -> Option<HashMap<String, Vec<String>>> {
    filter("label", format!("{NAMESPACE}={stack}"))
}

impl Swarm {
    /// `up`: deploys the selected services of the project as the stack `project.name`.
    pub async fn deploy(&self, project: &Project, opts: &DeployOptions) -> Result<()> {
        for s in opts.services.iter().chain(opts.scale.keys()) {
            if !project.services.contains_key(s) {
                return Err(SwarmError::NoSuchService { stack: project.name.clone(), service: s.clone() });
            }
        }
        // Everything that can be refused is, before the first change (the caller shows
        // the warnings).
        check(project, &opts.services).map_err(SwarmError::Refused)?;
        let objects = convert::read_objects(project, &opts.services)?;
        let mut plans: Vec<ServicePlan> = convert::selected(project, &opts.services)
            .map(|(key, _)| convert::service(project, key, &objects, opts.scale.get(key).copied()))
            .collect();

        for net in convert::networks(project, &opts.services) {
            self.ensure_network(&net).await?;
        }
        let ids = self.ensure_objects(&objects).await?;
        let existing = self.stack_services(&project.name).await?;
        let mut changed = Vec::new();
        for plan in &mut plans {
            fill_object_ids(&mut plan.spec, &ids);
            let current = existing.iter().find(|s| s.spec.as_ref().and_then(|s| s.name.as_deref()) == Some(plan.name.as_str()));
            changed.push(self.converge_service(plan, current, opts).await?);
        }
        self.orphans(project, &existing, opts.remove_orphans).await?;
        if opts.wait {
            for (plan, changed) in plans.iter().zip(changed) {
                self.wait_converged(&plan.name, changed).await?;
            }
            // Only now: a failed update rolling back would still need the old objects.
            self.prune_objects(&project.name).await;
        }
        Ok(())
    }

    async fn ensure_network(&self, net: &NetworkPlan) -> Result<()> {
        let found = self
            .docker
            .list_networks(Some(ListNetworksOptions { filters: filter("name", &net.name) }))
            .await
            .map_err(|e| engine("listing networks", e))?;
        if found.iter().any(|n| n.name.as_deref() == Some(net.name.as_str())) {
            return Ok(());
        }
        if net.external {
            return Err(SwarmError::Engine(format!("network {} declared as external, but could not be found", net.name)));
        }
        match self.docker.create_network(net.request.clone()).await {
            Ok(_) => {}
            Err(e) if crate::backend::docker::status_of(&e) == Some(409) => {}
            Err(e) => return Err(engine(format!("creating network {}", net.name), e)),
        }
        self.progress.event("Network", &net.name, "Created");
        Ok(())
    }

    /// Creates the configs and secrets that do not exist yet; returns name → id of all.
    async fn ensure_objects(&self, objects: &[ObjectPlan]) -> Result<HashMap<String, String>> {
        let mut ids = HashMap::new();
        for o in objects {
            let id = match self.object_id(o.kind, &o.name).await? {
                Some(id) => id,
                None if o.external => {
                    let kind = o.kind.as_str().to_lowercase();
                    return Err(SwarmError::Engine(format!("{kind} {} declared as external, but could not be found", o.name)));
                }
                None => {
                    let created = match o.kind {
                        ObjectKind::Config => self.docker.create_config(o.config_spec()).await,
                        ObjectKind::Secret => self.docker.create_secret(o.secret_spec()).await,
                    };
                    let id = created.map_err(|e| engine(format!("creating {} {}", o.kind.as_str().to_lowercase(), o.name), e))?.id;
                    self.progress.event(o.kind.as_str(), &o.name, "Created");
                    id
                }
            };
            ids.insert(o.name.clone(), id);
        }
        Ok(ids)
    }

    async fn object_id(&self, kind: ObjectKind, name: &str) -> Result<Option<String>> {
        Ok(match kind {
            ObjectKind::Config => self
                .docker
                .list_configs(Some(ListConfigsOptions { filters: filter("name", name) }))
                .await
                .map_err(|e| engine("listing configs", e))?
                .into_iter()
                .find(|c| c.spec.as_ref().and_then(|s| s.name.as_deref()) == Some(name))
                .and_then(|c| c.id),
            ObjectKind::Secret => self
                .docker
                .list_secrets(Some(ListSecretsOptions { filters: filter("name", name) }))
                .await
                .map_err(|e| engine("listing secrets", e))?
                .into_iter()
                .find(|s| s.spec.as_ref().and_then(|s| s.name.as_deref()) == Some(name))
                .and_then(|s| s.id),
        })
    }

    /// The services of the stack, as the engine has them.
    pub(super) async fn stack_services(&self, stack: &str) -> Result<Vec<bollard::models::Service>> {
        let opts = ListServicesOptions { filters: namespace(stack), ..Default::default() };
        let mut list = self.docker.list_services(Some(opts)).await.map_err(|e| engine("listing services", e))?;
        list.sort_by(|a, b| spec_name(a).cmp(spec_name(b)));
        Ok(list)
    }

    /// Creates the service, updates it when its spec changed (or only its replica count),
    /// or leaves it alone; says whether it changed it.
    async fn converge_service(&self, plan: &ServicePlan, current: Option<&bollard::models::Service>, opts: &DeployOptions) -> Result<bool> {
        let Some(current) = current else {
            self.docker.create_service(plan.spec.clone(), None).await.map_err(|e| engine(format!("creating service {}", plan.name), e))?;
            self.progress.event("Service", &plan.name, "Created");
            return Ok(true);
        };
        let cur_spec = current.spec.as_ref();
        let changed = cur_spec.and_then(|s| s.labels.as_ref()).and_then(|l| l.get(SPEC_HASH)) != Some(&plan.hash);
        let status = if opts.force || (changed && !opts.no_recreate) {
            "Updated"
        } else if !changed && plan.replicas.is_some() && plan.replicas != cur_spec.and_then(replicas_of) {
            "Scaled"
        } else {
            self.progress.event("Service", &plan.name, "Unchanged");
            return Ok(false);
        };
        // Always the file's spec, never the engine's read back (see `scale`).
        self.update(current, plan.spec.clone(), opts.force).await?;
        self.progress.event("Service", &plan.name, status);
        Ok(true)
    }

    /// Replaces the service's spec. `ForceUpdate` is carried over (a lower one would be a
    /// change), and raised with `force`, which makes swarm replace every task.
    async fn update(&self, current: &bollard::models::Service, mut spec: ServiceSpec, force: bool) -> Result<()> {
        let name = spec_name(current).to_string();
        let forced = current.spec.as_ref().and_then(|s| s.task_template.as_ref()).and_then(|t| t.force_update).unwrap_or(0);
        spec.task_template.get_or_insert_with(Default::default).force_update = Some(forced + u64::from(force));
        let version = current.version.as_ref().and_then(|v| v.index).unwrap_or(0);
        let opts = UpdateServiceOptions { version: i32::try_from(version).unwrap_or(i32::MAX), ..Default::default() };
        self.docker.update_service(&name, spec, opts, None).await.map_err(|e| engine(format!("updating service {name}"), e))?;
        Ok(())
    }

    async fn orphans(&self, project: &Project, existing: &[bollard::models::Service], remove: bool) -> Result<()> {
        let orphans: Vec<&str> = existing
            .iter()
            .map(spec_name)
            .filter(|n| !project.services.keys().any(|k| convert::service_name(&project.name, k) == *n))
            .collect();
        if orphans.is_empty() {
            return Ok(());
        }
        if !remove {
            self.progress.warn(&format!(
                "Found orphan services ({}) in stack {}; `up --remove-orphans` removes them",
                orphans.join(", "),
                project.name
            ));
            return Ok(());
        }
        for name in orphans {
            self.delete_service(name).await?;
        }
        Ok(())
    }

    async fn delete_service(&self, name: &str) -> Result<()> {
        match self.docker.delete_service(name).await {
            Err(e) if !not_found(&e) => return Err(engine(format!("removing service {name}"), e)),
            _ => {}
        }
        self.progress.event("Service", name, "Removed");
        Ok(())
    }

    /// `scale SERVICE=N`: a service update of the replica count, then waits for the tasks.
    ///
    /// The spec sent is the compose file's, not the engine's read back: bollard reads a
    /// service's `Healthcheck` under another name and would drop it, restarting every task.
    /// So the deployed spec must still be the file's (same hash).
    pub async fn scale(&self, project: &Project, wanted: &[(String, u32)]) -> Result<()> {
        let names: Vec<String> = wanted.iter().map(|(s, _)| s.clone()).collect();
        for s in &names {
            if !project.services.contains_key(s) {
                return Err(SwarmError::NoSuchService { stack: project.name.clone(), service: s.clone() });
            }
        }
        let objects = convert::read_objects(project, &names)?;
        let mut updated = Vec::new();
        for (service, n) in wanted {
            let mut plan = convert::service(project, service, &objects, Some(*n));
            let current = match self.docker.inspect_service(&plan.name, None).await {
                Ok(s) => s,
                Err(e) if not_found(&e) => return Err(SwarmError::NoSuchService { stack: project.name.clone(), service: service.clone() }),
                Err(e) => return Err(engine(format!("inspecting service {}", plan.name), e)),
            };
            let fail = |message: &str| SwarmError::Service { service: plan.name.clone(), message: message.into() };
            if plan.replicas.is_none() {
                return Err(fail("is global (one task per node) and cannot be scaled"));
            }
            let deployed = current.spec.as_ref().and_then(|s| s.labels.as_ref()).and_then(|l| l.get(SPEC_HASH));
            if deployed != Some(&plan.hash) {
                return Err(fail(&format!(
                    "the deployed service is not the compose file's (changed since the last `up`, or deployed by another tool): `hoist up --scale {service}={n}` deploys both"
                )));
            }
            let ids = self.ensure_objects(&objects).await?;
            fill_object_ids(&mut plan.spec, &ids);
            self.update(&current, plan.spec, false).await?;
            self.progress.event("Service", &plan.name, "Scaled");
            updated.push(plan.name);
        }
        for name in &updated {
            self.wait_converged(name, true).await?;
        }
        Ok(())
    }

    /// Polls until the service's update is complete and exactly its wanted tasks run (a
    /// task with a healthcheck counts once healthy). A task that fails or is rejected ends
    /// the wait with its error: one created since this command `changed` the service, or
    /// one that appeared during the wait (not an old failure the swarm already replaced).
    pub(super) async fn wait_converged(&self, name: &str, changed: bool) -> Result<()> {
        let fail = |message: String| SwarmError::Service { service: name.to_string(), message };
        let (mut last_status, mut last_progress) = (String::new(), String::new());
        let mut before: Option<HashSet<String>> = None;
        loop {
            let service = self.docker.inspect_service(name, None).await.map_err(|e| engine(format!("inspecting service {name}"), e))?;
            let update = service.update_status.as_ref();
            let message = update.and_then(|u| u.message.clone()).unwrap_or_default();
            let updating = match update.and_then(|u| u.state) {
                Some(ServiceUpdateStatusStateEnum::PAUSED | ServiceUpdateStatusStateEnum::ROLLBACK_PAUSED) => {
                    return Err(fail(format!("the update is paused: {message}")));
                }
                Some(ServiceUpdateStatusStateEnum::ROLLBACK_COMPLETED) => return Err(fail(format!("the update was rolled back: {message}"))),
                Some(ServiceUpdateStatusStateEnum::UPDATING | ServiceUpdateStatusStateEnum::ROLLBACK_STARTED) => true,
                _ => false,
            };
            let since = service.updated_at.as_ref().and_then(parse_time);
            // Only tasks of the current spec (the engine's filter `docker service` uses):
            // right after an update, the old tasks still run.
            let mut filters = filter("service", name).unwrap_or_default();
            filters.insert("_up-to-date".into(), vec!["true".into()]);
            let tasks = self
                .docker
                .list_tasks(Some(ListTasksOptions { filters: Some(filters) }))
                .await
                .map_err(|e| engine(format!("listing tasks of {name}"), e))?;
            let before = before.get_or_insert_with(|| tasks.iter().filter_map(|t| t.id.clone()).collect());
            let mut running = 0;
            let mut desired = 0;
            for t in &tasks {
                let status = t.status.clone().unwrap_or_default();
                let recent = match (since, t.created_at.as_ref().and_then(parse_time)) {
                    (Some(since), Some(created)) if changed => created >= since,
                    _ => t.id.as_ref().is_some_and(|id| !before.contains(id)),
                };
                if recent && matches!(status.state, Some(TaskState::FAILED | TaskState::REJECTED)) {
                    let why = status.err.or(status.message).unwrap_or_default();
                    return Err(fail(format!("task {} {}: {why}", t.id.as_deref().unwrap_or("?"), state_name(status.state))));
                }
                if t.desired_state == Some(TaskState::RUNNING) {
                    desired += 1;
                    if status.state == Some(TaskState::RUNNING) {
                        running += 1;
                    }
                    // A task the scheduler cannot place says why; show it once.
                    if let Some(err) = status.err.filter(|_| status.state == Some(TaskState::PENDING))
                        && err != last_status
                    {
                        self.progress.warn(&format!("{name}: a task is pending: {err}"));
                        last_status = err;
                    }
                }
            }
            let wanted = replicas_of(service.spec.as_ref().unwrap_or(&ServiceSpec::default())).unwrap_or(desired);
            if !updating && running == wanted && desired == wanted {
                self.progress.event("Service", name, "Running");
                return Ok(());
            }
            let status = format!("Waiting {running}/{wanted}");
            if status != last_progress {
                self.progress.event("Service", name, &status);
                last_progress = status;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Removes the stack's configs and secrets that no service of it refers to any more.
    async fn prune_objects(&self, stack: &str) {
        let Ok(services) = self.stack_services(stack).await else { return };
        let spec_json: Vec<String> = services.iter().map(|s| serde_json::to_string(&s.spec).unwrap_or_default()).collect();
        let used = |name: &str| spec_json.iter().any(|j| j.contains(&format!("\"{name}\"")));
        if let Ok(configs) = self.docker.list_configs(Some(ListConfigsOptions { filters: namespace(stack) })).await {
            for c in configs {
                let (Some(id), Some(name)) = (c.id, c.spec.and_then(|s| s.name)) else { continue };
                if !used(&name) && self.docker.delete_config(&id).await.is_ok() {
                    self.progress.event("Config", &name, "Removed");
                }
            }
        }
        if let Ok(secrets) = self.docker.list_secrets(Some(ListSecretsOptions { filters: namespace(stack) })).await {
            for s in secrets {
                let (Some(id), Some(name)) = (s.id, s.spec.and_then(|s| s.name)) else { continue };
                if !used(&name) && self.docker.delete_secret(&id).await.is_ok() {
                    self.progress.event("Secret", &name, "Removed");
                }
            }
        }
    }

    /// `down`: the stack's services, then (once their containers on this node are gone)
    /// its networks, configs and secrets, and with `volumes` its named volumes.
    pub async fn remove(&self, stack: &str, opts: RemoveOptions) -> Result<()> {
        let mut grace = Duration::ZERO;
        for s in self.stack_services(stack).await? {
            let stop = s.spec.as_ref().and_then(|s| s.task_template.as_ref()).and_then(|t| t.container_spec.as_ref()).and_then(|c| c.stop_grace_period);
            grace = grace.max(Duration::from_nanos(stop.unwrap_or(10_000_000_000).max(0) as u64));
            self.delete_service(spec_name(&s)).await?;
        }
        self.wait_containers_gone(stack, grace + Duration::from_secs(60)).await?;
        let networks = self
            .docker
            .list_networks(Some(ListNetworksOptions { filters: namespace(stack) }))
            .await
            .map_err(|e| engine("listing networks", e))?;
        for n in networks {
            let name = n.name.unwrap_or_default();
            self.remove_network(&name, n.id.as_deref().unwrap_or(&name)).await?;
        }
        let configs = self.docker.list_configs(Some(ListConfigsOptions { filters: namespace(stack) })).await.map_err(|e| engine("listing configs", e))?;
        for c in configs {
            let (id, name) = (c.id.unwrap_or_default(), c.spec.and_then(|s| s.name).unwrap_or_default());
            match self.docker.delete_config(&id).await {
                Err(e) if !not_found(&e) => return Err(engine(format!("removing config {name}"), e)),
                _ => self.progress.event("Config", &name, "Removed"),
            }
        }
        let secrets = self.docker.list_secrets(Some(ListSecretsOptions { filters: namespace(stack) })).await.map_err(|e| engine("listing secrets", e))?;
        for s in secrets {
            let (id, name) = (s.id.unwrap_or_default(), s.spec.and_then(|s| s.name).unwrap_or_default());
            match self.docker.delete_secret(&id).await {
                Err(e) if !not_found(&e) => return Err(engine(format!("removing secret {name}"), e)),
                _ => self.progress.event("Secret", &name, "Removed"),
            }
        }
        if opts.volumes {
            let volumes = self
                .docker
                .list_volumes(Some(ListVolumesOptions { filters: namespace(stack) }))
                .await
                .map_err(|e| engine("listing volumes", e))?;
            for v in volumes.volumes.unwrap_or_default() {
                match self.docker.remove_volume(&v.name, None::<RemoveVolumeOptions>).await {
                    Err(e) if !not_found(&e) => return Err(engine(format!("removing volume {}", v.name), e)),
                    _ => self.progress.event("Volume", &v.name, "Removed"),
                }
            }
        }
        Ok(())
    }

    /// Task containers stop within their stop grace period once their service is gone;
    /// their networks and volumes can only go after them.
    async fn wait_containers_gone(&self, stack: &str, patience: Duration) -> Result<()> {
        let deadline = tokio::time::Instant::now() + patience;
        let labels = vec![format!("{NAMESPACE}={stack}"), "com.docker.swarm.task.id".to_string()];
        loop {
            let opts = ListContainersOptions { all: true, filters: Some(HashMap::from([("label".into(), labels.clone())])), ..Default::default() };
            let left = self.docker.list_containers(Some(opts)).await.map_err(|e| engine("listing containers", e))?;
            if left.is_empty() {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                let names: Vec<String> = left.into_iter().filter_map(|c| c.names.and_then(|n| n.into_iter().next())).collect();
                return Err(SwarmError::Engine(format!("the stack's task containers are still there: {}", names.join(", "))));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Removes a network, retrying while tasks on other nodes still hold endpoints on it.
    async fn remove_network(&self, name: &str, id: &str) -> Result<()> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            match self.docker.remove_network(id).await {
                Ok(()) => break,
                Err(e) if not_found(&e) => break,
                Err(_) if tokio::time::Instant::now() < deadline => tokio::time::sleep(POLL).await,
                Err(e) => return Err(engine(format!("removing network {name}"), e)),
            }
        }
        self.progress.event("Network", name, "Removed");
        Ok(())
    }
}

/// Points each config and secret reference at the id of the object of that name.
fn fill_object_ids(spec: &mut ServiceSpec, ids: &HashMap<String, String>) {
    let Some(c) = spec.task_template.as_mut().and_then(|t| t.container_spec.as_mut()) else { return };
    for r in c.configs.iter_mut().flatten() {
        r.config_id = r.config_name.as_ref().and_then(|n| ids.get(n)).cloned();
    }
    for r in c.secrets.iter_mut().flatten() {
        r.secret_id = r.secret_name.as_ref().and_then(|n| ids.get(n)).cloned();
    }
}

pub(super) fn spec_name(s: &bollard::models::Service) -> &str {
    s.spec.as_ref().and_then(|s| s.name.as_deref()).unwrap_or_default()
}

/// The replica count of a replicated service; `None` for a global one.
pub(super) fn replicas_of(spec: &ServiceSpec) -> Option<u64> {
    let mode = spec.mode.as_ref()?;
    if mode.global.is_some() {
        return None;
    }
    Some(mode.replicated.as_ref().and_then(|r| r.replicas).unwrap_or(1).max(0) as u64)
}

/// `running`, `failed`, ... as `docker service ps` writes task states.
pub(super) fn state_name(state: Option<TaskState>) -> String {
    state.map(|s| s.to_string()).unwrap_or_default()
}
