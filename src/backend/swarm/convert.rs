//! The model as swarm objects: an overlay network per project network, a config or
//! secret per referenced object (its name carries a hash of its content, since swarm
//! objects are immutable), a service spec per service with a hash of itself as a label.
//! Pure except `read_objects`, which reads the objects' contents.

use std::collections::HashMap;

use bollard::models::{
    ConfigSpec, EndpointPortConfig, EndpointPortConfigProtocolEnum, EndpointPortConfigPublishModeEnum, EndpointSpec,
    EndpointSpecModeEnum, GenericResourcesInner, GenericResourcesInnerDiscreteResourceSpec, Ipam, IpamConfig, Limit, Mount, MountTmpfsOptions, MountType, MountVolumeOptions,
    MountVolumeOptionsDriverConfig, NetworkAttachmentConfig, NetworkCreateRequest, ResourceObject, ResourcesUlimits,
    SecretSpec, ServiceSpec, ServiceSpecMode, ServiceSpecModeReplicated, ServiceSpecRollbackConfig,
    ServiceSpecRollbackConfigFailureActionEnum, ServiceSpecRollbackConfigOrderEnum, ServiceSpecUpdateConfig,
    ServiceSpecUpdateConfigFailureActionEnum, ServiceSpecUpdateConfigOrderEnum, TaskSpec, TaskSpecContainerSpec,
    TaskSpecContainerSpecConfigs, TaskSpecContainerSpecDnsConfig, TaskSpecContainerSpecFile, TaskSpecContainerSpecFile1,
    TaskSpecContainerSpecSecrets, TaskSpecLogDriver, TaskSpecPlacement, TaskSpecPlacementPreferences,
    TaskSpecPlacementSpread, TaskSpecResources, TaskSpecRestartPolicy, TaskSpecRestartPolicyConditionEnum,
};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{NAMESPACE, SPEC_HASH, STACK_IMAGE, SwarmError};
use crate::compose::logging::Logging;
use crate::compose::model::{
    FileRef,
    DeployMode, Duration, EndpointMode, FailureAction, Project, RestartCondition, RestartPolicy, Service, UpdateOrder, VolumeType,
};
use crate::plan::spec::{network_name, volume_name};

/// `<project>_<service>`, as `docker stack deploy` names services.
pub fn service_name(project: &str, service: &str) -> String {
    format!("{project}_{service}")
}

/// A project network as the overlay network to ensure.
#[derive(Debug, Clone)]
pub struct NetworkPlan {
    pub name: String,
    pub external: bool,
    pub request: NetworkCreateRequest,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    Config,
    Secret,
}

impl ObjectKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Config => "Config",
            ObjectKind::Secret => "Secret",
        }
    }
}

/// A config or secret of the project with its content, named for that content.
#[derive(Debug, Clone)]
pub struct ObjectPlan {
    pub kind: ObjectKind,
    /// The project-level key (`configs: {app: ...}` → `app`).
    pub key: String,
    /// Swarm-side name: `<project>_<key>-<content hash>`, or the external object's name.
    pub name: String,
    pub external: bool,
    pub data: Vec<u8>,
    pub labels: HashMap<String, String>,
}

impl ObjectPlan {
    pub fn config_spec(&self) -> ConfigSpec {
        ConfigSpec { name: Some(self.name.clone()), labels: Some(self.labels.clone()), data: Some(base64(&self.data)), ..Default::default() }
    }
    pub fn secret_spec(&self) -> SecretSpec {
        SecretSpec { name: Some(self.name.clone()), labels: Some(self.labels.clone()), data: Some(base64(&self.data)), ..Default::default() }
    }
}

fn base64(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// One compose service as the swarm service to create or update.
#[derive(Debug, Clone)]
pub struct ServicePlan {
    /// The compose service name.
    pub key: String,
    /// `<project>_<service>`.
    pub name: String,
    /// With `SPEC_HASH` among its labels; configs and secrets referenced by name only
    /// (the deploy step fills in their ids).
    pub spec: ServiceSpec,
    pub hash: String,
    /// `None` for a global service.
    pub replicas: Option<u64>,
}

/// The `services` selected (all when empty), in file order.
pub fn selected<'a>(project: &'a Project, services: &'a [String]) -> impl Iterator<Item = (&'a String, &'a Service)> {
    project.services.iter().filter(move |(n, _)| services.is_empty() || services.contains(n))
}

/// The overlay networks the selected services join.
pub fn networks(project: &Project, services: &[String]) -> Vec<NetworkPlan> {
    let mut keys: Vec<String> = Vec::new();
    for (_, s) in selected(project, services) {
        for key in network_keys(s) {
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
    }
    keys.into_iter()
        .map(|key| {
            let net = project.networks.get(&key).cloned().unwrap_or_default();
            let name = network_name(project, &key);
            let mut labels: HashMap<String, String> = net.labels.clone().into_iter().collect();
            labels.insert(NAMESPACE.into(), project.name.clone());
            let ipam = (!net.subnets.is_empty()).then(|| Ipam {
                config: Some(
                    net.subnets
                        .iter()
                        .map(|s| IpamConfig { subnet: Some(s.subnet.clone()), gateway: s.gateway.clone(), ip_range: s.ip_range.clone(), ..Default::default() })
                        .collect(),
                ),
                ..Default::default()
            });
            let request = NetworkCreateRequest {
                name: name.clone(),
                driver: Some(net.driver.clone().unwrap_or_else(|| "overlay".into())),
                // Attachable, so `docker run --network <stack>_<net>` can join to debug.
                attachable: Some(true),
                internal: Some(net.internal),
                ipam,
                options: (!net.driver_opts.is_empty()).then(|| net.driver_opts.clone().into_iter().collect()),
                labels: Some(labels),
                ..Default::default()
            };
            NetworkPlan { name, external: net.external, request }
        })
        .collect()
}

/// The project network keys a service joins (`default` when it names none).
pub fn network_keys(s: &Service) -> Vec<String> {
    if s.networks.is_empty() { vec!["default".into()] } else { s.networks.keys().cloned().collect() }
}

/// Reads the configs and secrets the selected services use; each is named for its content.
pub fn read_objects(project: &Project, services: &[String]) -> Result<Vec<ObjectPlan>, SwarmError> {
    let mut out: Vec<ObjectPlan> = Vec::new();
    for (_, s) in selected(project, services) {
        for (kind, refs, defined) in [(ObjectKind::Config, &s.configs, &project.configs), (ObjectKind::Secret, &s.secrets, &project.secrets)] {
            for key in refs.iter().map(|r| r.source.as_str()) {
                if out.iter().any(|o| o.kind == kind && o.key == key) {
                    continue;
                }
                // Validation already refused references to undefined objects.
                let Some(obj) = defined.get(key) else { continue };
                let what = format!("{} {key:?}", kind.as_str().to_lowercase());
                if obj.external {
                    out.push(ObjectPlan { kind, key: key.into(), name: obj.name.clone(), external: true, data: vec![], labels: HashMap::new() });
                    continue;
                }
                let data = if let Some(content) = &obj.content {
                    content.clone().into_bytes()
                } else if let Some(file) = &obj.file {
                    std::fs::read(file).map_err(|e| SwarmError::Io { context: format!("{what}: reading {}", file.display()), source: e })?
                } else if let Some(var) = &obj.environment {
                    // The loader read it (from the environment or `.env`).
                    let value = obj.value.clone().ok_or_else(|| SwarmError::Engine(format!("{what}: environment variable {var} is not set")))?;
                    value.into_bytes()
                } else {
                    return Err(SwarmError::Engine(format!("{what} has no file, content or environment")));
                };
                let mut labels: HashMap<String, String> = obj.labels.clone().into_iter().collect();
                labels.insert(NAMESPACE.into(), project.name.clone());
                let hash = hex::encode(Sha256::digest(&data));
                out.push(ObjectPlan { kind, key: key.into(), name: format!("{}-{}", obj.name, &hash[..12]), external: false, data, labels });
            }
        }
    }
    Ok(out)
}

/// The swarm service for compose service `key`. `replicas` overrides the file's count.
pub fn service(project: &Project, key: &str, objects: &[ObjectPlan], replicas: Option<u32>) -> ServicePlan {
    let s = &project.services[key];
    let (deploy, _) = deploy(s);
    let image = s.image.clone().unwrap_or_default();
    let mut container_labels: HashMap<String, String> = s.labels.clone().into_iter().collect();
    container_labels.insert(NAMESPACE.into(), project.name.clone());

    let container = TaskSpecContainerSpec {
        image: Some(image.clone()),
        labels: Some(container_labels),
        // Compose's `entrypoint` is the engine's command, its `command` the arguments.
        command: s.entrypoint.clone(),
        args: s.command.clone(),
        hostname: s.hostname.clone(),
        env: Some(s.environment.iter().filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}"))).collect()),
        dir: s.working_dir.clone(),
        user: s.user.clone(),
        groups: non_empty(s.group_add.clone()),
        tty: Some(s.tty),
        open_stdin: Some(s.stdin_open),
        read_only: Some(s.read_only),
        mounts: Some(mounts(project, s)),
        stop_signal: s.stop_signal.clone(),
        stop_grace_period: s.stop_grace_period.map(Duration::nanos),
        health_check: s.healthcheck.as_ref().map(crate::backend::docker::convert::healthcheck),
        hosts: non_empty(s.extra_hosts.iter().map(|h| format!("{} {}", h.ip, h.host)).collect()),
        dns_config: (!s.dns.is_empty() || !s.dns_search.is_empty() || !s.dns_opt.is_empty()).then(|| TaskSpecContainerSpecDnsConfig {
            nameservers: non_empty(s.dns.clone()),
            search: non_empty(s.dns_search.clone()),
            options: non_empty(s.dns_opt.clone()),
        }),
        configs: non_empty(s.configs.iter().filter_map(|r| config_ref(r, objects)).collect()),
        secrets: non_empty(s.secrets.iter().filter_map(|r| secret_ref(r, objects)).collect()),
        init: s.init,
        sysctls: (!s.sysctls.is_empty()).then(|| s.sysctls.clone().into_iter().collect()),
        capability_add: non_empty(s.cap_add.clone()),
        capability_drop: non_empty(s.cap_drop.clone()),
        ulimits: non_empty(
            s.ulimits.iter().map(|(name, u)| ResourcesUlimits { name: Some(name.clone()), soft: Some(u.soft), hard: Some(u.hard) }).collect(),
        ),
        ..Default::default()
    };
    let task = TaskSpec {
        container_spec: Some(container),
        resources: deploy.resources,
        restart_policy: deploy.restart_policy,
        placement: deploy.placement,
        networks: Some(
            network_keys(s)
                .into_iter()
                .map(|net| {
                    let mut aliases = vec![key.to_string()];
                    aliases.extend(s.networks.get(&net).map(|n| n.aliases.clone()).unwrap_or_default());
                    NetworkAttachmentConfig { target: Some(network_name(project, &net)), aliases: Some(aliases), ..Default::default() }
                })
                .collect(),
        ),
        log_driver: s.logging.as_ref().and_then(log_driver),
        ..Default::default()
    };
    let ports: Vec<EndpointPortConfig> = s.ports.iter().map(port).collect();
    let wanted = replicas.map(u64::from).unwrap_or(u64::from(s.replicas()));
    let mut spec = ServiceSpec {
        name: Some(service_name(&project.name, key)),
        labels: None,
        task_template: Some(task),
        mode: Some(if deploy.global {
            ServiceSpecMode { global: Some(HashMap::new()), ..Default::default() }
        } else {
            ServiceSpecMode { replicated: Some(ServiceSpecModeReplicated { replicas: None }), ..Default::default() }
        }),
        update_config: deploy.update_config,
        rollback_config: deploy.rollback_config,
        endpoint_spec: Some(EndpointSpec { mode: deploy.endpoint_mode, ports: non_empty(ports) }),
        ..Default::default()
    };
    let mut labels = deploy.labels;
    labels.insert(NAMESPACE.into(), project.name.clone());
    labels.insert(STACK_IMAGE.into(), image);
    spec.labels = Some(labels);
    // The hash leaves the replica count out: `scale` is not a change of the service.
    let hash = spec_hash(&spec);
    spec.labels.get_or_insert_with(HashMap::new).insert(SPEC_HASH.into(), hash.clone());
    let replicas = (!deploy.global).then_some(wanted);
    set_replicas(&mut spec, replicas);
    ServicePlan { key: key.to_string(), name: service_name(&project.name, key), spec, hash, replicas }
}

pub fn set_replicas(spec: &mut ServiceSpec, replicas: Option<u64>) {
    if let (Some(n), Some(r)) = (replicas, spec.mode.as_mut().and_then(|m| m.replicated.as_mut())) {
        r.replicas = Some(n as i64);
    }
}

/// SHA-256 of the spec as JSON with sorted keys (the engine types hold HashMaps).
fn spec_hash(spec: &ServiceSpec) -> String {
    fn canonical(v: Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut entries: Vec<(String, Value)> = m.into_iter().map(|(k, v)| (k, canonical(v))).collect();
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                Value::Object(entries.into_iter().collect())
            }
            Value::Array(a) => Value::Array(a.into_iter().map(canonical).collect()),
            v => v,
        }
    }
    let value = canonical(serde_json::to_value(spec).unwrap_or_default());
    hex::encode(Sha256::digest(value.to_string().as_bytes()))
}

fn mounts(project: &Project, s: &Service) -> Vec<Mount> {
    let mut out: Vec<Mount> = s
        .volumes
        .iter()
        .map(|v| match v.kind {
            VolumeType::Bind => Mount {
                typ: Some(MountType::BIND),
                source: v.source.clone(),
                target: Some(v.target.clone()),
                read_only: Some(v.read_only),
                ..Default::default()
            },
            VolumeType::Tmpfs => tmpfs(&v.target, v.tmpfs_size, v.tmpfs_mode),
            _ => {
                let declared = v.source.as_ref().and_then(|k| project.volumes.get(k));
                let mut labels = HashMap::from([(NAMESPACE.to_string(), project.name.clone())]);
                labels.extend(declared.map(|d| d.labels.clone()).unwrap_or_default());
                // Swarm creates named volumes on each node a task lands on, from these options.
                let options = match declared {
                    Some(d) if d.external => MountVolumeOptions { no_copy: Some(v.nocopy), ..Default::default() },
                    _ => MountVolumeOptions {
                        no_copy: Some(v.nocopy),
                        labels: Some(labels),
                        driver_config: declared.and_then(|d| d.driver.clone()).map(|name| MountVolumeOptionsDriverConfig {
                            name: Some(name),
                            options: declared.map(|d| d.driver_opts.clone().into_iter().collect()),
                        }),
                        ..Default::default()
                    },
                };
                Mount {
                    typ: Some(MountType::VOLUME),
                    source: v.source.as_ref().map(|k| volume_name(project, k)),
                    target: Some(v.target.clone()),
                    read_only: Some(v.read_only),
                    volume_options: Some(options),
                    ..Default::default()
                }
            }
        })
        .collect();
    for t in &s.tmpfs {
        out.push(tmpfs(&t.target, t.size, t.mode));
    }
    out
}

fn tmpfs(target: &str, size: Option<u64>, mode: Option<u32>) -> Mount {
    Mount {
        typ: Some(MountType::TMPFS),
        target: Some(target.to_string()),
        tmpfs_options: Some(MountTmpfsOptions { size_bytes: size.map(|s| s as i64), mode: mode.map(i64::from), ..Default::default() }),
        ..Default::default()
    }
}

fn port(p: &crate::compose::model::Port) -> EndpointPortConfig {
    EndpointPortConfig {
        name: p.name.clone(),
        protocol: Some(match p.protocol.as_str() {
            "udp" => EndpointPortConfigProtocolEnum::UDP,
            "sctp" => EndpointPortConfigProtocolEnum::SCTP,
            _ => EndpointPortConfigProtocolEnum::TCP,
        }),
        target_port: Some(i64::from(p.target)),
        published_port: p.published.map(i64::from),
        publish_mode: Some(if p.mode.as_deref() == Some("host") {
            EndpointPortConfigPublishModeEnum::HOST
        } else {
            EndpointPortConfigPublishModeEnum::INGRESS
        }),
    }
}

/// The task's log driver: `logging.driver` and its options (without a driver, the swarm's).
fn log_driver(l: &Logging) -> Option<TaskSpecLogDriver> {
    let options = (!l.options.is_empty()).then(|| l.options.iter().map(|(k, v)| (k.clone(), v.clone())).collect());
    Some(TaskSpecLogDriver { name: Some(l.driver.clone()?), options })
}

/// uid, gid and mode of a `configs:`/`secrets:` entry (swarm's defaults: 0, 0, 0444).
fn file_owner(r: &FileRef) -> (String, String, u32) {
    (r.uid.clone().unwrap_or_else(|| "0".into()), r.gid.clone().unwrap_or_else(|| "0".into()), r.mode.unwrap_or(0o444))
}

fn find<'a>(objects: &'a [ObjectPlan], kind: ObjectKind, key: &str) -> Option<&'a ObjectPlan> {
    objects.iter().find(|o| o.kind == kind && o.key == key)
}

fn config_ref(r: &FileRef, objects: &[ObjectPlan]) -> Option<TaskSpecContainerSpecConfigs> {
    let key = r.source.as_str();
    let obj = find(objects, ObjectKind::Config, key)?;
    let target = r.target.clone().unwrap_or_else(|| format!("/{key}"));
    let (uid, gid, mode) = file_owner(r);
    Some(TaskSpecContainerSpecConfigs {
        file: Some(TaskSpecContainerSpecFile1 { name: Some(target), uid: Some(uid), gid: Some(gid), mode: Some(mode) }),
        config_name: Some(obj.name.clone()),
        ..Default::default()
    })
}

fn secret_ref(r: &FileRef, objects: &[ObjectPlan]) -> Option<TaskSpecContainerSpecSecrets> {
    let key = r.source.as_str();
    let obj = find(objects, ObjectKind::Secret, key)?;
    // A relative target lands in /run/secrets.
    let target = r.target.clone().unwrap_or_else(|| key.to_string());
    let (uid, gid, mode) = file_owner(r);
    Some(TaskSpecContainerSpecSecrets {
        file: Some(TaskSpecContainerSpecFile { name: Some(target), uid: Some(uid), gid: Some(gid), mode: Some(mode) }),
        secret_name: Some(obj.name.clone()),
        ..Default::default()
    })
}

// ---- deploy -----------------------------------------------------------------------------

/// The `deploy:` section (and the older keys it stands for: `restart`, `mem_limit`,
/// `cpus`, ...) as swarm fields.
#[derive(Debug, Default)]
pub struct Deploy {
    pub global: bool,
    pub endpoint_mode: Option<EndpointSpecModeEnum>,
    pub labels: HashMap<String, String>,
    pub resources: Option<TaskSpecResources>,
    pub restart_policy: Option<TaskSpecRestartPolicy>,
    pub update_config: Option<ServiceSpecUpdateConfig>,
    pub rollback_config: Option<ServiceSpecRollbackConfig>,
    pub placement: Option<TaskSpecPlacement>,
}

/// The service's deploy settings, and what in them swarm cannot do as (key path, reason).
/// Values were checked at load; what is left is what swarm has no field for.
pub fn deploy(s: &Service) -> (Deploy, Vec<(String, String)>) {
    let d = s.deploy.clone().unwrap_or_default();
    let mut problems = Vec::new();
    let mut out = Deploy::default();
    match d.mode {
        None | Some(DeployMode::Replicated) => {}
        Some(DeployMode::Global) => out.global = true,
        Some(m @ (DeployMode::ReplicatedJob | DeployMode::GlobalJob)) => {
            let name = serde_json::to_value(m).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
            problems.push(("deploy.mode".into(), format!("{name} services are not supported by hoist yet")));
        }
    }
    out.endpoint_mode = d.endpoint_mode.map(|m| match m {
        EndpointMode::Vip => EndpointSpecModeEnum::VIP,
        EndpointMode::Dnsrr => EndpointSpecModeEnum::DNSRR,
    });
    out.labels = d.labels.clone().into_iter().collect();

    let (limits, reservations) = (d.limits(), d.reservations());
    if !reservations.devices.is_empty() {
        problems.push(("deploy.resources.reservations.devices".into(), "is not supported on swarm".into()));
    }
    let limit = Limit {
        nano_cpus: limits.cpus.or(s.cpus).map(|c| (c * 1e9) as i64),
        memory_bytes: limits.memory.or(s.mem_limit).map(|m| m as i64),
        pids: limits.pids.or(s.pids_limit),
    };
    let generic: Vec<GenericResourcesInner> = reservations
        .generic_resources
        .iter()
        .map(|g| GenericResourcesInner {
            discrete_resource_spec: Some(GenericResourcesInnerDiscreteResourceSpec {
                kind: Some(g.discrete_resource_spec.kind.clone()),
                value: Some(g.discrete_resource_spec.value),
            }),
            ..Default::default()
        })
        .collect();
    let reservation = ResourceObject {
        nano_cpus: reservations.cpus.map(|c| (c * 1e9) as i64),
        memory_bytes: reservations.memory.or(s.mem_reservation).map(|m| m as i64),
        generic_resources: non_empty(generic),
    };
    if limit != Limit::default() || reservation != ResourceObject::default() {
        out.resources = Some(TaskSpecResources {
            limits: (limit != Limit::default()).then_some(limit),
            reservations: (reservation != ResourceObject::default()).then_some(reservation),
            ..Default::default()
        });
    }

    out.restart_policy = match &d.restart_policy {
        Some(rp) => {
            let condition = rp.condition.map(|c| match c {
                RestartCondition::None | RestartCondition::No => TaskSpecRestartPolicyConditionEnum::NONE,
                RestartCondition::OnFailure => TaskSpecRestartPolicyConditionEnum::ON_FAILURE,
                RestartCondition::Any | RestartCondition::Always | RestartCondition::UnlessStopped => TaskSpecRestartPolicyConditionEnum::ANY,
            });
            Some(TaskSpecRestartPolicy {
                condition,
                delay: rp.delay.map(Duration::nanos),
                max_attempts: rp.max_attempts.map(|n| n as i64),
                window: rp.window.map(Duration::nanos),
            })
        }
        None => s.restart.map(restart_from_engine_policy),
    };

    out.update_config = d.update_config.as_ref().map(|c| ServiceSpecUpdateConfig {
        parallelism: c.parallelism.map(|n| n as i64),
        delay: c.delay.map(Duration::nanos),
        failure_action: c.failure_action.map(|a| match a {
            FailureAction::Continue => ServiceSpecUpdateConfigFailureActionEnum::CONTINUE,
            FailureAction::Pause => ServiceSpecUpdateConfigFailureActionEnum::PAUSE,
            FailureAction::Rollback => ServiceSpecUpdateConfigFailureActionEnum::ROLLBACK,
        }),
        monitor: c.monitor.map(Duration::nanos),
        max_failure_ratio: c.max_failure_ratio,
        order: c.order.map(|o| match o {
            UpdateOrder::StopFirst => ServiceSpecUpdateConfigOrderEnum::STOP_FIRST,
            UpdateOrder::StartFirst => ServiceSpecUpdateConfigOrderEnum::START_FIRST,
        }),
    });
    // The loader refuses `failure_action: rollback` here.
    out.rollback_config = d.rollback_config.as_ref().map(|c| ServiceSpecRollbackConfig {
        parallelism: c.parallelism.map(|n| n as i64),
        delay: c.delay.map(Duration::nanos),
        failure_action: c.failure_action.and_then(|a| match a {
            FailureAction::Continue => Some(ServiceSpecRollbackConfigFailureActionEnum::CONTINUE),
            FailureAction::Pause => Some(ServiceSpecRollbackConfigFailureActionEnum::PAUSE),
            FailureAction::Rollback => None,
        }),
        monitor: c.monitor.map(Duration::nanos),
        max_failure_ratio: c.max_failure_ratio,
        order: c.order.map(|o| match o {
            UpdateOrder::StopFirst => ServiceSpecRollbackConfigOrderEnum::STOP_FIRST,
            UpdateOrder::StartFirst => ServiceSpecRollbackConfigOrderEnum::START_FIRST,
        }),
    });

    out.placement = d.placement.as_ref().map(|p| TaskSpecPlacement {
        constraints: non_empty(p.constraints.clone()),
        preferences: non_empty(
            p.preferences
                .iter()
                .map(|pref| TaskSpecPlacementPreferences { spread: Some(TaskSpecPlacementSpread { spread_descriptor: Some(pref.spread.clone()) }) })
                .collect(),
        ),
        max_replicas: p.max_replicas_per_node.map(|n| n as i64),
        ..Default::default()
    });
    (out, problems)
}

/// `restart:` (the engine's policy) as swarm's, when `deploy.restart_policy` is absent.
fn restart_from_engine_policy(p: RestartPolicy) -> TaskSpecRestartPolicy {
    let (condition, count) = match p {
        RestartPolicy::No => (TaskSpecRestartPolicyConditionEnum::NONE, None),
        RestartPolicy::OnFailure(n) => (TaskSpecRestartPolicyConditionEnum::ON_FAILURE, n.map(i64::from)),
        RestartPolicy::Always | RestartPolicy::UnlessStopped => (TaskSpecRestartPolicyConditionEnum::ANY, None),
    };
    TaskSpecRestartPolicy { condition: Some(condition), max_attempts: count, ..Default::default() }
}

fn non_empty<T>(v: Vec<T>) -> Option<Vec<T>> {
    (!v.is_empty()).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::model::{FileObject, Network, Port};
    use serde_json::json;

    fn project() -> Project {
        let mut p = Project { name: "demo".into(), ..Default::default() };
        let mut web = Service { image: Some("busybox:latest".into()), ..Default::default() };
        web.command = Some(vec!["httpd".into(), "-f".into()]);
        web.environment.insert("GREETING".into(), Some("hello".into()));
        web.environment.insert("UNSET".into(), None);
        web.ports.push(Port { target: 80, published: Some(8080), host_ip: None, protocol: "tcp".into(), mode: Some("host".into()), name: None, app_protocol: None });
        web.configs.push(FileRef { source: "app".into(), target: Some("/etc/app.conf".into()), mode: Some(0o440), ..FileRef::default() });
        web.secrets.push(FileRef { source: "token".into(), ..FileRef::default() });
        web.scale = Some(3);
        web.restart = Some(RestartPolicy::OnFailure(Some(2)));
        web.mem_limit = Some(64 << 20);
        web.extra_hosts.push("db:10.0.0.5".parse().unwrap());
        web.deploy = serde_json::from_value(json!({
            "replicas": 3, "labels": {"tier": "front"},
            "resources": {"limits": {"cpus": 0.5}, "reservations": {"memory": 16 << 20}},
            "update_config": {"parallelism": 2, "delay": "1s", "order": "start-first", "failure_action": "rollback"},
            "placement": {"constraints": ["node.role == manager"], "max_replicas_per_node": 1}
        }))
        .unwrap();
        p.services.insert("web".into(), web);
        p.networks.insert("default".into(), Network { name: "demo_default".into(), ..Default::default() });
        p.configs.insert("app".into(), FileObject { name: "demo_app".into(), content: Some("level=1".into()), ..Default::default() });
        p.secrets.insert("token".into(), FileObject { name: "demo_token".into(), content: Some("s3cret".into()), ..Default::default() });
        p
    }

    #[test]
    fn a_service_as_swarm_spec() {
        let p = project();
        let objects = read_objects(&p, &[]).unwrap();
        assert_eq!(objects.len(), 2);
        assert!(objects[0].name.starts_with("demo_app-") && objects[0].name.len() == "demo_app-".len() + 12);
        let plan = service(&p, "web", &objects, None);
        assert_eq!(plan.name, "demo_web");
        assert_eq!(plan.replicas, Some(3));
        let spec = &plan.spec;
        let labels = spec.labels.as_ref().unwrap();
        assert_eq!(labels[NAMESPACE], "demo");
        assert_eq!(labels[STACK_IMAGE], "busybox:latest");
        assert_eq!(labels["tier"], "front");
        assert_eq!(labels[SPEC_HASH], plan.hash);
        let task = spec.task_template.as_ref().unwrap();
        let c = task.container_spec.as_ref().unwrap();
        assert_eq!(c.args.as_deref(), Some(&["httpd".to_string(), "-f".to_string()][..]));
        assert_eq!(c.env.as_deref(), Some(&["GREETING=hello".to_string()][..]));
        assert_eq!(c.hosts.as_deref(), Some(&["10.0.0.5 db".to_string()][..]));
        let cfg = &c.configs.as_ref().unwrap()[0];
        assert_eq!(cfg.config_name.as_deref(), Some(objects[0].name.as_str()));
        assert_eq!(cfg.file.as_ref().unwrap().mode, Some(0o440));
        assert_eq!(c.secrets.as_ref().unwrap()[0].file.as_ref().unwrap().name.as_deref(), Some("token"));
        let res = task.resources.as_ref().unwrap();
        assert_eq!(res.limits.as_ref().unwrap().nano_cpus, Some(500_000_000));
        assert_eq!(res.limits.as_ref().unwrap().memory_bytes, Some(64 << 20));
        assert_eq!(res.reservations.as_ref().unwrap().memory_bytes, Some(16 << 20));
        assert_eq!(task.restart_policy.as_ref().unwrap().condition, Some(TaskSpecRestartPolicyConditionEnum::ON_FAILURE));
        assert_eq!(task.restart_policy.as_ref().unwrap().max_attempts, Some(2));
        assert_eq!(task.placement.as_ref().unwrap().max_replicas, Some(1));
        assert_eq!(task.networks.as_ref().unwrap()[0].target.as_deref(), Some("demo_default"));
        let uc = spec.update_config.as_ref().unwrap();
        assert_eq!((uc.parallelism, uc.delay), (Some(2), Some(1_000_000_000)));
        assert_eq!(uc.order, Some(ServiceSpecUpdateConfigOrderEnum::START_FIRST));
        let port = &spec.endpoint_spec.as_ref().unwrap().ports.as_ref().unwrap()[0];
        assert_eq!((port.published_port, port.publish_mode), (Some(8080), Some(EndpointPortConfigPublishModeEnum::HOST)));
        assert_eq!(spec.mode.as_ref().unwrap().replicated.as_ref().unwrap().replicas, Some(3));
    }

    #[test]
    fn the_hash_follows_the_spec_not_the_replicas() {
        let mut p = project();
        let objects = read_objects(&p, &[]).unwrap();
        let before = service(&p, "web", &objects, None).hash;
        assert_eq!(before, service(&p, "web", &objects, Some(7)).hash);
        assert_eq!(before, service(&p, "web", &objects, None).hash, "stable across runs (HashMaps inside)");
        p.services["web"].environment.insert("GREETING".into(), Some("changed".into()));
        assert_ne!(before, service(&p, "web", &objects, None).hash);
        // A config's new content is a new object name, so a new spec.
        let mut p = project();
        p.configs["app"].content = Some("level=2".into());
        let changed = read_objects(&p, &[]).unwrap();
        assert_ne!(changed[0].name, objects[0].name);
        assert_ne!(before, service(&p, "web", &changed, None).hash);
    }

    #[test]
    fn global_services_and_ingress_ports() {
        let mut p = project();
        let web = &mut p.services["web"];
        web.deploy = serde_json::from_value(json!({"mode": "global"})).unwrap();
        web.ports[0].mode = None;
        let plan = service(&p, "web", &read_objects(&p, &[]).unwrap(), None);
        assert_eq!(plan.replicas, None);
        let mode = plan.spec.mode.as_ref().unwrap();
        assert!(mode.global.is_some() && mode.replicated.is_none());
        let port = &plan.spec.endpoint_spec.as_ref().unwrap().ports.as_ref().unwrap()[0];
        assert_eq!(port.publish_mode, Some(EndpointPortConfigPublishModeEnum::INGRESS));
    }

    #[test]
    fn networks_are_attachable_overlays() {
        let nets = networks(&project(), &[]);
        assert_eq!(nets.len(), 1);
        assert_eq!(nets[0].name, "demo_default");
        assert_eq!(nets[0].request.driver.as_deref(), Some("overlay"));
        assert_eq!(nets[0].request.attachable, Some(true));
        assert_eq!(nets[0].request.labels.as_ref().unwrap()[NAMESPACE], "demo");
    }
}
