//! The execute step: runs the plan against any `Backend`, each service as soon as the
//! services it needs are ready (parallel where the graph allows, bounded by `--parallel`).

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use futures::future::{join_all, BoxFuture, FutureExt, Shared};
use futures::StreamExt;
use tokio::sync::Semaphore;

use super::converge::{optional_dependency_warning, orphans, plan_service, readiness, Action, Readiness, Recreate};
use super::graph::{EdgeKind, Graph};
use super::spec::{container_spec, network_specs, service_image, volume_specs};
use crate::backend::{labels, Backend, BackendError, ContainerSummary, EventOptions, ExecSpec};
use crate::compose::model::PullPolicy;
use crate::compose::model::{DependsCondition, Project, ServiceHook};
use crate::output::progress::ProgressRef;

/// Shared context of one command's execution.
#[derive(Clone)]
pub struct Ctx {
    pub backend: Arc<dyn Backend>,
    pub project: Arc<Project>,
    pub progress: ProgressRef,
    /// `--parallel`: how many engine operations at once (None = unbounded).
    pub limit: Option<Arc<Semaphore>>,
}

impl Ctx {
    pub fn new(backend: Arc<dyn Backend>, project: Arc<Project>, progress: ProgressRef, parallel: Option<usize>) -> Self {
        let limit = parallel.filter(|&n| n > 0).map(|n| Arc::new(Semaphore::new(n)));
        Ctx { backend, project, progress, limit }
    }

    /// Runs one engine operation under the parallelism bound.
    async fn bounded<T>(&self, f: impl Future<Output = T>) -> T {
        let _permit = match &self.limit {
            Some(s) => Some(s.acquire().await.expect("semaphore never closed")),
            None => None,
        };
        f.await
    }

    pub async fn observe(&self) -> Result<Vec<ContainerSummary>> {
        Ok(self.backend.list_containers(&self.project.name, true).await?)
    }
}

#[derive(Debug, Clone, Default)]
pub struct UpOptions {
    /// Services named on the command line (empty: all).
    pub services: Vec<String>,
    pub no_deps: bool,
    pub scale: HashMap<String, u32>,
    /// For the services named (all when none is).
    pub recreate: Recreate,
    /// For the services only pulled in as dependencies of the named ones.
    pub recreate_deps: Recreate,
    /// `-V`: recreated containers get new anonymous volumes instead of the old ones'.
    pub renew_anon_volumes: bool,
    /// `create` / `up --no-start`.
    pub no_start: bool,
    pub remove_orphans: bool,
    /// `COMPOSE_IGNORE_ORPHANS`: orphans are neither reported nor removed.
    pub ignore_orphans: bool,
    /// How images are pulled and built.
    pub images: ImageOptions,
    /// Stop timeout for recreated / removed containers.
    pub timeout: Option<Duration>,
    /// `--wait`: wait for running/healthy before returning.
    pub wait: bool,
    /// `--wait-timeout`: how long `--wait` and the waits for dependencies may take.
    pub wait_timeout: Option<Duration>,
}

/// How `up`, `create` and `run` get the images they need.
#[derive(Debug, Clone, Default)]
pub struct ImageOptions {
    /// `--pull`: overrides every service's `pull_policy` (None: each service's own).
    pub pull: Option<PullPolicy>,
    /// `--build` (Some(true): build every service with `build:`), `--no-build` (Some(false):
    /// never build, a missing image is an error).
    pub build: Option<bool>,
    /// `--quiet-pull`: no per-layer pull progress.
    pub quiet_pull: bool,
    /// `--quiet-build`: no build output.
    pub quiet_build: bool,
}

/// Services an operation covers: the named ones (or all) plus, unless `no_deps`, what they need.
pub fn select_services(project: &Project, graph: &Graph, named: &[String], no_deps: bool) -> Result<Vec<String>> {
    for s in named {
        if !project.services.contains_key(s) {
            if project.disabled_services.contains_key(s) {
                bail!("service {s:?} is not enabled by the active profiles");
            }
            bail!("no such service: {s}");
        }
    }
    let set: HashSet<String> = if named.is_empty() {
        project.services.keys().cloned().collect()
    } else if no_deps {
        named.iter().cloned().collect()
    } else {
        graph.with_dependencies(named).into_iter().collect()
    };
    Ok(graph.start_order().into_iter().filter(|s| set.contains(s)).collect())
}

/// Every service the files define, those of inactive profiles included: their
/// containers are the project's, not orphans.
fn defined_services(project: &Project) -> Vec<&str> {
    project.services.keys().chain(project.disabled_services.keys()).map(String::as_str).collect()
}

type Done = Shared<BoxFuture<'static, Result<(), String>>>;

/// `up` / `create`: converge the selected services to the model.
pub async fn up(ctx: &Ctx, opts: &UpOptions) -> Result<()> {
    let project = ctx.project.clone();
    let graph = Graph::new(&project)?;
    let services = select_services(&project, &graph, &opts.services, opts.no_deps)?;
    for s in opts.scale.keys() {
        if !project.services.contains_key(s) {
            bail!("no such service: {s}");
        }
    }
    let observed = ctx.observe().await?;

    // Everything that can fail on input is checked before anything is created.
    ensure_images(ctx, &services, &opts.images).await?;
    check_free_ports(ctx, &services, &observed, opts)?;
    write_service_files(ctx, &services)?;

    let orphaned = if opts.ignore_orphans { Vec::new() } else { orphans(&observed, &defined_services(&project)) };
    if !orphaned.is_empty() {
        if opts.remove_orphans {
            for c in &orphaned {
                remove_container(ctx, c, opts.timeout, false).await?;
            }
        } else {
            let names: Vec<&str> = orphaned.iter().map(|c| c.name.as_str()).collect();
            ctx.progress.warn(&format!(
                "Found orphan containers ({}) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.",
                names.join(", ")
            ));
        }
    }

    let existing_networks: HashSet<String> = ctx.backend.list_networks(&project.name).await?.into_iter().map(|n| n.name).collect();
    let created = Created::default();
    let deadline = opts.wait_timeout.map(|t| Instant::now() + t);
    let result = converge_all(ctx, opts, &graph, &services, observed, &existing_networks, &created, deadline).await;
    if result.is_err() {
        rollback(ctx, &created, &existing_networks).await;
        return result;
    }
    if opts.wait && !opts.no_start {
        wait_ready(ctx, &services, DependsCondition::ServiceHealthy, true, deadline).await?;
    }
    Ok(())
}

/// What a one-off container of `service` needs before it is created (`run`): its image
/// (pulled or built when missing), the project networks and volumes it uses. No service
/// container is touched.
pub async fn prepare_one_off(ctx: &Ctx, service: &str, images: &ImageOptions) -> Result<()> {
    let services = [service.to_string()];
    ensure_images(ctx, &services, images).await?;
    write_service_files(ctx, &services)?;
    for spec in network_specs(&ctx.project, &services) {
        let existed = ctx.backend.list_networks(&ctx.project.name).await?.iter().any(|n| n.name == spec.name);
        ctx.bounded(ctx.backend.ensure_network(&spec)).await.with_context(|| format!("network {}", spec.name))?;
        if !existed && !spec.external {
            ctx.progress.event("Network", &spec.name, "Created");
        }
    }
    for spec in volume_specs(&ctx.project, &services) {
        ctx.bounded(ctx.backend.ensure_volume(&spec)).await.with_context(|| format!("volume {}", spec.name))?;
    }
    Ok(())
}

/// Secrets and configs of `services`: checks that the files they name exist and writes
/// those with `environment:` or `content:` under the project's runtime directory
/// (directories 0700, each file with its mode and owner, replaced atomically).
fn write_service_files(ctx: &Ctx, services: &[String]) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    use super::spec::{host_files, runtime_dir, HostFile};
    let root = runtime_dir(&ctx.project.name);
    for name in services {
        if !ctx.project.services.contains_key(name) {
            continue;
        }
        for f in host_files(&ctx.project, name)? {
            match f {
                HostFile::Existing(path) => {
                    if !path.is_file() {
                        bail!("service {name:?}: {} is not a file", path.display());
                    }
                }
                HostFile::Write { .. } if ctx.backend.dry_run() => {}
                HostFile::Write { path, data, mode, uid, gid } => {
                    let dir = path.parent().context("a written secret has a directory")?;
                    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).with_context(|| format!("creating {}", dir.display()))?;
                    // Existing directories keep their mode: set it on every level we own.
                    let mut d = Some(dir);
                    while let Some(p) = d.filter(|p| p.starts_with(&root)) {
                        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o700)).with_context(|| format!("chmod {}", p.display()))?;
                        d = p.parent();
                    }
                    let tmp = dir.join(format!(".{}.tmp", path.file_name().and_then(|n| n.to_str()).unwrap_or("file")));
                    let _ = std::fs::remove_file(&tmp);
                    std::fs::write(&tmp, &data).with_context(|| format!("writing {}", tmp.display()))?;
                    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode)).with_context(|| format!("chmod {}", tmp.display()))?;
                    if uid.is_some() || gid.is_some() {
                        std::os::unix::fs::chown(&tmp, uid, gid).with_context(|| format!("chown {}", tmp.display()))?;
                    }
                    std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
                }
            }
        }
    }
    Ok(())
}

/// `down`: the written secrets and configs go with the containers: those of `services`
/// (`down SERVICE...`), or all of the project's (none named). A dry run removes nothing.
fn remove_service_files(ctx: &Ctx, services: &[String]) {
    if ctx.backend.dry_run() {
        return;
    }
    let root = super::spec::runtime_dir(&ctx.project.name);
    for kind in ["secrets", "configs"] {
        if services.is_empty() {
            let _ = std::fs::remove_dir_all(root.join(kind));
        }
        for s in services {
            let _ = std::fs::remove_dir_all(root.join(kind).join(s));
        }
    }
    // Only when empty: the directory may hold other things one day.
    let _ = std::fs::remove_dir(&root);
}

/// What one `up` created, so that a failure can take it back.
#[derive(Default, Clone)]
struct Created {
    containers: Arc<std::sync::Mutex<Vec<String>>>,
    networks: Arc<std::sync::Mutex<Vec<String>>>,
}

/// A failed `up` removes the containers and networks it created itself, so nothing is
/// left half-made. Volumes stay: data is only ever deleted by `down -v` or `volume rm`.
async fn rollback(ctx: &Ctx, created: &Created, existed: &HashSet<String>) {
    let ids: Vec<String> = created.containers.lock().map(|v| v.clone()).unwrap_or_default();
    for id in ids.iter().rev() {
        let _ = ctx.backend.remove_container(id, true, false).await;
    }
    let nets: Vec<String> = created.networks.lock().map(|v| v.clone()).unwrap_or_default();
    for n in nets.iter().filter(|n| !existed.contains(*n)) {
        let _ = ctx.backend.remove_network(n).await;
    }
}

async fn converge_all(
    ctx: &Ctx,
    opts: &UpOptions,
    graph: &Graph,
    services: &[String],
    observed: Vec<ContainerSummary>,
    existing_networks: &HashSet<String>,
    created: &Created,
    deadline: Option<Instant>,
) -> Result<()> {
    let project = ctx.project.clone();
    for spec in network_specs(&project, services) {
        ctx.bounded(ctx.backend.ensure_network(&spec)).await.with_context(|| format!("network {}", spec.name))?;
        if !spec.external && !existing_networks.contains(&spec.name) {
            created.networks.lock().map(|mut v| v.push(spec.name.clone())).ok();
            ctx.progress.event("Network", &spec.name, "Created");
        }
    }
    for spec in volume_specs(&project, services) {
        ctx.bounded(ctx.backend.ensure_volume(&spec)).await.with_context(|| format!("volume {}", spec.name))?;
    }

    let observed = Arc::new(observed);
    let mut done: HashMap<String, Done> = HashMap::new();
    for name in services {
        let deps: Vec<(String, EdgeKind, Done)> = graph
            .dependencies(name)
            .into_iter()
            .filter_map(|(d, kind)| done.get(&d).map(|f| (d, kind, f.clone())))
            .collect();
        let ctx2 = ctx.clone();
        let opts2 = opts.clone();
        let name2 = name.clone();
        let observed2 = observed.clone();
        let created2 = created.clone();
        let fut = async move {
            for (dep, kind, f) in deps {
                f.await.map_err(|_| format!("dependency {dep} failed to start"))?;
                if !opts2.no_start {
                    wait_dependency(&ctx2, &name2, &dep, kind.condition(), deadline).await.map_err(|e| format!("{e:#}"))?;
                }
            }
            converge_service(&ctx2, &name2, &opts2, &observed2, &created2).await.map_err(|e| format!("{e:#}"))
        }
        .boxed()
        .shared();
        // Drive every service even if nobody awaits it yet.
        tokio::spawn(fut.clone());
        done.insert(name.clone(), fut);
    }
    let mut first_err = None;
    for name in services {
        if let Err(e) = done[name].clone().await
            && first_err.is_none()
        {
            first_err = Some(e);
        }
    }
    match first_err {
        Some(e) => Err(anyhow!(e)),
        None => Ok(()),
    }
}

/// Pulls and builds what the services need, by their pull policy as Docker Compose
/// applies it: `missing` pulls an absent image (builds it when the service can be built),
/// `always` pulls (a failure is ignored for a buildable service, then built if absent),
/// `never` pulls nothing, `build` (or `--build`) builds. Refuses up front when an image is
/// absent and may be neither pulled nor built.
async fn ensure_images(ctx: &Ctx, services: &[String], opts: &ImageOptions) -> Result<()> {
    let mut images: Vec<(String, String)> = Vec::new();
    for s in services {
        let image = service_image(&ctx.project, s);
        if !images.iter().any(|(i, _)| *i == image) {
            images.push((image, s.clone()));
        }
    }
    let results = join_all(images.into_iter().map(|(image, service)| async move {
        let svc = &ctx.project.services[&service];
        let buildable = svc.build.is_some() && opts.build != Some(false);
        let mut policy = opts.pull.clone().or_else(|| svc.pull_policy.clone()).unwrap_or(PullPolicy::MISSING);
        if opts.build == Some(true) && svc.build.is_some() {
            policy = PullPolicy::Build;
        }
        let present = ctx.backend.image_config(&image).await?.is_some();
        let missing = || {
            let why = if svc.build.is_some() { "building is disabled (--no-build)" } else { "pulling is disabled" };
            anyhow!("service {service:?}: image {image} not found and {why}")
        };
        match policy {
            PullPolicy::Build if buildable => return build_service(ctx, &service, opts.quiet_build).await,
            PullPolicy::Always => {}
            _ if present => return Ok(()),
            // `up` builds what is missing, as Docker Compose does.
            _ if buildable => return build_service(ctx, &service, opts.quiet_build).await,
            PullPolicy::Never | PullPolicy::Build => return Err(missing()),
            _ if svc.build.is_some() => return Err(missing()),
            _ => {}
        }
        match pull_image(ctx, &service, &image, opts.quiet_pull).await {
            Ok(()) => Ok(()),
            // A buildable service's pull may fail: its image is built instead when absent.
            Err(e) if svc.build.is_some() => {
                ctx.progress.warn(&format!("{e:#}"));
                match (present, buildable) {
                    (true, _) => Ok(()),
                    (false, true) => build_service(ctx, &service, opts.quiet_build).await,
                    (false, false) => Err(missing()),
                }
            }
            Err(e) => Err(e),
        }
    }))
    .await;
    results.into_iter().collect()
}

async fn pull_image(ctx: &Ctx, service: &str, image: &str, quiet: bool) -> Result<()> {
    ctx.progress.event("Image", image, "Pulling");
    let progress = ctx.progress.clone();
    let img = image.to_string();
    let cb: crate::backend::ProgressFn = Arc::new(move |e| {
        if !quiet && (e.status.contains("complete") || e.status.contains("Complete")) {
            progress.event("Image", &format!("{img} {}", e.id), &e.status);
        }
    });
    ctx.backend
        .pull_image(image, cb)
        .await
        .with_context(|| format!("service {service:?}: pull access denied or image {image} not found"))?;
    ctx.progress.event("Image", image, "Pulled");
    Ok(())
}

/// Builds the image of a service with `build:`; `quiet` keeps the build's output back.
pub async fn build_service(ctx: &Ctx, service: &str, quiet: bool) -> Result<()> {
    let spec = super::spec::build_spec(&ctx.project, service).with_context(|| format!("service {service:?} has no build section"))?;
    let name = spec.tags.first().cloned().unwrap_or_default();
    ctx.progress.event("Image", &name, "Building");
    let progress = ctx.progress.clone();
    let n = name.clone();
    let cb: crate::backend::ProgressFn = Arc::new(move |e| {
        if !quiet && !e.status.trim().is_empty() {
            progress.event("Image", &n, e.status.trim());
        }
    });
    ctx.backend.build_image(&spec, cb).await.with_context(|| format!("service {service:?}: building {name}"))?;
    ctx.progress.event("Image", &name, "Built");
    Ok(())
}

/// A fixed host port that another process holds makes `up` fail before anything is created.
fn check_free_ports(ctx: &Ctx, services: &[String], observed: &[ContainerSummary], opts: &UpOptions) -> Result<()> {
    let ours: HashSet<(String, u16)> =
        observed.iter().flat_map(|c| c.ports.iter().map(|p| (p.protocol.clone(), p.host_port))).collect();
    for s in services {
        let svc = &ctx.project.services[s];
        let existing = observed.iter().filter(|c| c.service == *s && !c.oneoff).count();
        let replicas = opts.scale.get(s).copied().unwrap_or_else(|| svc.replicas());
        if existing >= replicas as usize {
            continue;
        }
        for p in &svc.ports {
            let Some(port) = p.published else { continue };
            if ours.contains(&(p.protocol.clone(), port)) {
                continue;
            }
            let ip = p.host_ip.as_deref().filter(|i| !i.is_empty()).unwrap_or("0.0.0.0");
            let addr = format!("{}:{port}", if ip.contains(':') { format!("[{ip}]") } else { ip.to_string() });
            let free = match p.protocol.as_str() {
                "udp" => std::net::UdpSocket::bind(&addr).is_ok(),
                _ => std::net::TcpListener::bind(&addr).is_ok(),
            };
            if !free {
                bail!("service {s:?}: cannot publish {addr}/{}: port is already allocated", p.protocol);
            }
        }
    }
    Ok(())
}

async fn converge_service(ctx: &Ctx, name: &str, opts: &UpOptions, observed: &[ContainerSummary], created: &Created) -> Result<()> {
    let service = &ctx.project.services[name];
    let replicas = opts.scale.get(name).copied().unwrap_or_else(|| service.replicas());
    if replicas > 1 && service.container_name.is_some() {
        bail!("service {name:?}: container_name {:?} cannot be used with more than one container", service.container_name.as_deref().unwrap_or(""));
    }
    let hash = super::spec::service_hash(&ctx.project, name);
    let existing: Vec<ContainerSummary> = observed.iter().filter(|c| c.service == name && !c.oneoff).cloned().collect();
    // The image a container runs is part of what it is: a rebuilt or newly pulled image
    // recreates it, as with Docker Compose (which records the ID in the same label).
    let image_id = ctx.backend.image_config(&service_image(&ctx.project, name)).await?.map(|i| i.id).unwrap_or_default();
    let spec_of = |number: u32, current: &[ContainerSummary]| {
        let mut spec = container_spec(&ctx.project, name, number, false, current);
        if !image_id.is_empty() {
            spec.labels.insert(labels::IMAGE.into(), image_id.clone());
        }
        spec
    };
    let strategy = if opts.services.is_empty() || opts.services.iter().any(|s| s == name) { opts.recreate } else { opts.recreate_deps };
    let actions = plan_service(&existing, replicas, &hash, &image_id, strategy);
    // Removals first (scale down), then the rest in parallel.
    for a in &actions {
        if let Action::Remove { container } = a {
            remove_container(ctx, container, opts.timeout, false).await?;
        }
    }
    let spec_of = &spec_of;
    let results = join_all(actions.iter().filter(|a| !matches!(a, Action::Remove { .. })).map(|a| async move {
        match a {
            Action::Create { number } => {
                let spec = spec_of(*number, &current(ctx, name, observed).await?);
                ctx.progress.event("Container", &spec.name, "Creating");
                let id = ctx.bounded(ctx.backend.create_container(&spec, None)).await.with_context(|| format!("container {}", spec.name))?;
                created.containers.lock().map(|mut v| v.push(id.clone())).ok();
                ctx.progress.event("Container", &spec.name, "Created");
                if !opts.no_start {
                    start(ctx, name, &id, &spec.name).await?;
                }
            }
            Action::Recreate { old } => {
                ctx.progress.event("Container", &old.name, "Recreate");
                if old.state.is_running() {
                    ctx.bounded(ctx.backend.stop_container(&old.id, opts.timeout.or(service_timeout(ctx, name)))).await?;
                }
                let tmp = format!("{}_{}", &old.id[..old.id.len().min(12)], old.name);
                ctx.bounded(ctx.backend.rename_container(&old.id, &tmp)).await?;
                let spec = spec_of(old.number, &current(ctx, name, observed).await?);
                let carried = if opts.renew_anon_volumes { None } else { Some(old) };
                let id = match ctx.bounded(ctx.backend.create_container(&spec, carried)).await {
                    Ok(id) => id,
                    Err(e) => {
                        // Put the old container back under its name so nothing is lost.
                        let _ = ctx.backend.rename_container(&old.id, &old.name).await;
                        return Err(anyhow!(e).context(format!("container {}", spec.name)));
                    }
                };
                ctx.bounded(ctx.backend.remove_container(&old.id, true, false)).await?;
                ctx.progress.event("Container", &spec.name, "Recreated");
                if !opts.no_start {
                    start(ctx, name, &id, &spec.name).await?;
                }
            }
            Action::Start { container } if !opts.no_start => start(ctx, name, &container.id, &container.name).await?,
            Action::Start { container } | Action::Keep { container } => {
                ctx.progress.event("Container", &container.name, if container.state.is_running() { "Running" } else { "Created" });
            }
            Action::Remove { .. } => {}
        }
        Ok::<(), anyhow::Error>(())
    }))
    .await;
    results.into_iter().collect()
}

/// The containers a new container of `service` is specified against: observed again
/// when it refers to other services' containers (created since the first observation),
/// else the first observation (listing the project's containers per create is costly).
async fn current(ctx: &Ctx, service: &str, observed: &[ContainerSummary]) -> Result<Vec<ContainerSummary>> {
    if super::spec::refers_to_containers(&ctx.project, service) {
        ctx.observe().await
    } else {
        Ok(observed.to_vec())
    }
}

/// Starts a container and runs its service's `post_start` hooks: it counts as started (for
/// its dependants too) once they have succeeded, as with Docker Compose.
async fn start(ctx: &Ctx, service: &str, id: &str, name: &str) -> Result<()> {
    ctx.progress.event("Container", name, "Starting");
    ctx.bounded(ctx.backend.start_container(id)).await.with_context(|| format!("container {name}"))?;
    if let Some(s) = ctx.project.services.get(service) {
        run_hooks(ctx, service, id, &s.post_start).await?;
    }
    ctx.progress.event("Container", name, "Started");
    Ok(())
}

/// Runs lifecycle hooks in a container, in order, as execs with Docker Compose's message for
/// one that fails (the exec's own output went to ours).
async fn run_hooks(ctx: &Ctx, service: &str, id: &str, hooks: &[ServiceHook]) -> Result<()> {
    for hook in hooks {
        let spec = ExecSpec {
            command: hook.command.clone(),
            env: hook.environment.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            user: hook.user.clone(),
            working_dir: hook.working_dir.clone(),
            privileged: hook.privileged,
            ..Default::default()
        };
        let code = ctx.backend.exec(id, &spec).await.with_context(|| format!("{service} hook {:?}", hook.command))?;
        if code != 0 {
            bail!("{service} hook exited with status {code}");
        }
    }
    Ok(())
}

fn service_timeout(ctx: &Ctx, service: &str) -> Option<Duration> {
    ctx.project.services.get(service)?.stop_grace_period.map(|d| d.0)
}

/// Waits until `service` satisfies `cond` for its dependents, or fails as soon as it
/// cannot (see `converge::readiness`), or at `deadline` (`--wait-timeout`).
pub async fn wait_condition(ctx: &Ctx, service: &str, cond: DependsCondition, deadline: Option<Instant>) -> Result<()> {
    wait_ready(ctx, &[service.to_string()], cond, false, deadline).await.map_err(|e| match cond {
        DependsCondition::ServiceHealthy => anyhow!("dependency failed to start: {e:#}"),
        _ => e,
    })
}

/// Waits until `dep` satisfies what `dependant` asks of it. An optional dependency
/// (`required: false`) that has no container or fails its condition is a warning and the
/// dependant starts anyway, as with Docker Compose; running out of time fails either way.
async fn wait_dependency(ctx: &Ctx, dependant: &str, dep: &str, cond: DependsCondition, deadline: Option<Instant>) -> Result<()> {
    let required = ctx.project.services.get(dependant).and_then(|s| s.depends_on.get(dep)).is_none_or(|d| d.required);
    if required || cond == DependsCondition::ServiceStarted {
        return wait_condition(ctx, dep, cond, deadline).await;
    }
    if !ctx.observe().await?.iter().any(|c| c.service == dep && !c.oneoff) {
        ctx.progress.warn(&format!("{dependant} is missing dependency {dep}"));
        return Ok(());
    }
    match wait_ready(ctx, &[dep.to_string()], cond, false, deadline).await {
        Err(e) if deadline.is_none_or(|d| Instant::now() < d) => {
            ctx.progress.warn(&optional_dependency_warning(dep, cond, &format!("{e:#}")));
            Ok(())
        }
        other => other,
    }
}

/// `start --wait`: waits until the services' containers are running, and healthy where
/// they have a health check, within `timeout`.
pub async fn wait_until_ready(ctx: &Ctx, services: &[String], timeout: Option<Duration>) -> Result<()> {
    wait_ready(ctx, services, DependsCondition::ServiceHealthy, true, timeout.map(|t| Instant::now() + t)).await
}

/// Waits until all of `services` are ready together (`up --wait` asks that of the whole
/// project: one that exits meanwhile fails it). The engine's events wake the wait and a
/// slow poll covers a backend without them; an awaited container that dies fails a
/// health wait even when its restart policy brings it back before it is seen restarting.
async fn wait_ready(ctx: &Ctx, services: &[String], cond: DependsCondition, running_will_do: bool, deadline: Option<Instant>) -> Result<()> {
    // A dry run started nothing: there is nothing to wait for.
    if ctx.backend.dry_run() || cond == DependsCondition::ServiceStarted && !running_will_do {
        return Ok(());
    }
    let label = |service: &str| format!("{}-{service}", ctx.project.name);
    for s in services {
        ctx.progress.event("Container", &label(s), "Waiting");
    }
    let done = match cond {
        DependsCondition::ServiceCompletedSuccessfully => "Exited",
        _ => "Healthy",
    };
    let mut reported: HashSet<&str> = HashSet::new();
    // Opened before the first look, so nothing that happens after it is missed.
    let mut events = ctx.backend.events(&ctx.project.name, &EventOptions::default()).await.ok();
    loop {
        let observed = ctx.observe().await?;
        let mut pending = Vec::new();
        let mut awaited: HashMap<String, &str> = HashMap::new();
        for s in services {
            let containers: Vec<ContainerSummary> = observed.iter().filter(|c| c.service == *s && !c.oneoff).cloned().collect();
            if containers.is_empty() {
                bail!("service {s:?} has no container");
            }
            awaited.extend(containers.iter().map(|c| (c.id.clone(), s.as_str())));
            match readiness(&containers, cond, running_will_do) {
                Readiness::Ready => {
                    if reported.insert(s) {
                        ctx.progress.event("Container", &label(s), done);
                    }
                }
                Readiness::Failed(why) => {
                    ctx.progress.event("Container", &label(s), "Error");
                    bail!(why);
                }
                Readiness::Pending => pending.push(s.as_str()),
            }
        }
        if pending.is_empty() {
            return Ok(());
        }
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if left == Some(Duration::ZERO) {
            for s in &pending {
                ctx.progress.event("Container", &label(s), "Error");
            }
            bail!("timed out waiting for {}", pending.join(", "));
        }
        let tick = left.map_or(POLL, |l| l.min(POLL));
        let event = async {
            match events.as_mut() {
                Some(stream) => stream.next().await,
                None => futures::future::pending().await,
            }
        };
        match tokio::time::timeout(tick, event).await {
            Ok(Some(Ok(e))) if cond == DependsCondition::ServiceHealthy && e.action == "die" && awaited.contains_key(&e.id) => {
                ctx.progress.event("Container", &label(awaited[&e.id]), "Error");
                let name = e.attributes.get("name").cloned().unwrap_or_default();
                let code = e.attributes.get("exitCode").map_or("?", String::as_str);
                bail!("container {name} exited ({code})");
            }
            // The stream ended or failed: polling alone from now on.
            Ok(None | Some(Err(_))) => events = None,
            _ => {}
        }
    }
}

/// How often a wait looks again when no event wakes it.
const POLL: Duration = Duration::from_millis(500);

/// Removes the containers of services the files no longer define (`--remove-orphans`).
pub async fn remove_orphans(ctx: &Ctx, timeout: Option<Duration>) -> Result<()> {
    let observed = ctx.observe().await?;
    for c in orphans(&observed, &defined_services(&ctx.project)) {
        remove_container(ctx, c, timeout, false).await?;
    }
    Ok(())
}

async fn remove_container(ctx: &Ctx, c: &ContainerSummary, timeout: Option<Duration>, volumes: bool) -> Result<()> {
    stop_container(ctx, c, timeout).await?;
    remove_stopped(ctx, c, volumes).await
}

/// Stops a running container after its service's `pre_stop` hooks (a failing one leaves it
/// running, as with Docker Compose). A recreate stops the old container without them, as
/// Docker Compose does.
async fn stop_container(ctx: &Ctx, c: &ContainerSummary, timeout: Option<Duration>) -> Result<()> {
    if c.state.is_running() {
        ctx.progress.event("Container", &c.name, "Stopping");
        if let Some(s) = ctx.project.services.get(&c.service) {
            run_hooks(ctx, &c.service, &c.id, &s.pre_stop).await?;
        }
        ctx.bounded(ctx.backend.stop_container(&c.id, timeout)).await.with_context(|| format!("container {}", c.name))?;
        ctx.progress.event("Container", &c.name, "Stopped");
    }
    Ok(())
}

async fn remove_stopped(ctx: &Ctx, c: &ContainerSummary, volumes: bool) -> Result<()> {
    ctx.progress.event("Container", &c.name, "Removing");
    ctx.bounded(ctx.backend.remove_container(&c.id, true, volumes)).await.with_context(|| format!("container {}", c.name))?;
    ctx.progress.event("Container", &c.name, "Removed");
    Ok(())
}

/// Runs `f` for each service's containers in reverse dependency order: a service's
/// containers are handled once every service that needs it is done.
pub async fn in_stop_order<F, Fut>(ctx: &Ctx, containers: Vec<ContainerSummary>, f: F) -> Result<()>
where
    F: Fn(ContainerSummary) -> Fut + Send + Sync + Clone + 'static,
    Fut: Future<Output = Result<()>> + Send + 'static,
{
    let graph = Graph::new(&ctx.project)?;
    let mut by_service: HashMap<String, Vec<ContainerSummary>> = HashMap::new();
    for c in containers {
        by_service.entry(c.service.clone()).or_default().push(c);
    }
    let mut done: HashMap<String, Done> = HashMap::new();
    // Services unknown to the model (orphans) have no dependents: they go first.
    let mut order: Vec<String> = by_service.keys().filter(|s| !ctx.project.services.contains_key(*s)).cloned().collect();
    order.extend(graph.stop_order());
    for name in order {
        let waits: Vec<Done> = graph.dependents(&name).iter().filter_map(|d| done.get(d).cloned()).collect();
        let mine = by_service.remove(&name).unwrap_or_default();
        let f = f.clone();
        let fut = async move {
            for w in waits {
                let _ = w.await;
            }
            let results = join_all(mine.into_iter().map(f)).await;
            results.into_iter().collect::<Result<Vec<_>>>().map(|_| ()).map_err(|e| format!("{e:#}"))
        }
        .boxed()
        .shared();
        tokio::spawn(fut.clone());
        done.insert(name, fut);
    }
    let mut first = None;
    for (_, f) in done {
        if let Err(e) = f.await
            && first.is_none()
        {
            first = Some(e);
        }
    }
    match first {
        Some(e) => Err(anyhow!(e)),
        None => Ok(()),
    }
}

#[derive(Debug, Clone, Default)]
pub struct DownOptions {
    pub volumes: bool,
    pub remove_orphans: bool,
    pub timeout: Option<Duration>,
    /// `down SERVICE...`: only these services' containers (their anonymous volumes with
    /// `volumes`); the networks and named volumes stay, as Compose leaves them.
    pub services: Vec<String>,
}

/// `down`: stop and remove the project's containers (dependents first), its networks, and
/// with `volumes` its named and anonymous volumes.
pub async fn down(ctx: &Ctx, opts: &DownOptions) -> Result<()> {
    let observed = ctx.observe().await?;
    // Every service of the files, whatever the active profiles, as Docker Compose does.
    let known = defined_services(&ctx.project);
    let mut targets = Vec::new();
    for c in observed {
        if !opts.services.is_empty() {
            if opts.services.contains(&c.service) && !c.oneoff {
                targets.push(c);
            }
            continue;
        }
        // Without a file every container of the project is its own, none an orphan.
        let orphan = !c.oneoff && !known.contains(&c.service.as_str()) && !ctx.project.from_labels;
        if orphan && !opts.remove_orphans {
            ctx.progress.warn(&format!("Found orphan container ({}) for this project; use --remove-orphans to remove it.", c.name));
            continue;
        }
        targets.push(c);
    }
    // Each service is stopped and removed before the services it depends on, as Docker
    // Compose does: `--progress plain` output stays in a stable order.
    let ctx2 = ctx.clone();
    let timeout = opts.timeout;
    let volumes = opts.volumes;
    in_stop_order(ctx, targets, move |c| {
        let ctx = ctx2.clone();
        async move {
            let timeout = timeout.or_else(|| service_timeout(&ctx, &c.service));
            remove_container(&ctx, &c, timeout, volumes).await
        }
    })
    .await?;
    if !opts.services.is_empty() {
        remove_service_files(ctx, &opts.services);
        return Ok(());
    }
    // A network or volume that another container (an orphan, another project's) still
    // uses stays, with a warning, and `down` succeeds: Compose's teardown does the same.
    let removed = |kind: &str, name: &str, r: Result<(), BackendError>| match r {
        Ok(()) => Ok(ctx.progress.event(kind, name, "Removed")),
        Err(BackendError::InUse(_)) => Ok(ctx.progress.event(kind, name, IN_USE)),
        Err(e) => Err(anyhow::Error::from(e).context(format!("{} {name}", kind.to_lowercase()))),
    };
    for net in ctx.backend.list_networks(&ctx.project.name).await? {
        ctx.progress.event("Network", &net.name, "Removing");
        removed("Network", &net.name, ctx.bounded(ctx.backend.remove_network(&net.name)).await)?;
    }
    remove_service_files(ctx, &[]);
    if opts.volumes {
        // The file's own volumes, external ones never, as Compose's `down -v`: a volume
        // that carries the project's label but left the file (renamed, made external) stays.
        // Anonymous volumes went with their containers above.
        // Without a file, the volumes carrying the project's label are its own, as Compose.
        let declared: Vec<&str> = ctx.project.volumes.values().filter(|v| !v.external).map(|v| v.name.as_str()).collect();
        let own = |name: &str| ctx.project.from_labels || declared.contains(&name);
        for vol in ctx.backend.list_volumes(Some(&ctx.project.name)).await?.into_iter().filter(|v| own(&v.name)) {
            ctx.progress.event("Volume", &vol.name, "Removing");
            removed("Volume", &vol.name, ctx.bounded(ctx.backend.remove_volume(&vol.name)).await)?;
        }
    }
    Ok(())
}

/// The status Compose shows for a resource `down` leaves because it is still used.
pub const IN_USE: &str = "Resource is still in use";

/// `stop`: stop running containers of the selected services, dependents first.
pub async fn stop(ctx: &Ctx, services: &[String], timeout: Option<Duration>) -> Result<()> {
    let targets: Vec<ContainerSummary> = ctx
        .observe()
        .await?
        .into_iter()
        .filter(|c| c.state.is_running() && (services.is_empty() || services.contains(&c.service)))
        .collect();
    let ctx2 = ctx.clone();
    in_stop_order(ctx, targets, move |c| {
        let ctx = ctx2.clone();
        async move {
            let t = timeout.or_else(|| service_timeout(&ctx, &c.service));
            stop_container(&ctx, &c, t).await
        }
    })
    .await
}

/// `restart`: the selected services' containers and, unless `no_deps`, the services that
/// depend on them with `restart: true`, as Compose; each container's `pre_stop` and
/// `post_start` hooks run around it.
pub async fn restart(ctx: &Ctx, services: &[String], no_deps: bool, timeout: Option<Duration>) -> Result<()> {
    let mut selected: Vec<String> = services.to_vec();
    if !services.is_empty() && !no_deps {
        // Dependents by `depends_on: {X: {restart: true}}`, transitively.
        let mut i = 0;
        while i < selected.len() {
            let target = selected[i].clone();
            for (name, svc) in &ctx.project.services {
                if svc.depends_on.get(&target).is_some_and(|d| d.restart) && !selected.contains(name) {
                    selected.push(name.clone());
                }
            }
            i += 1;
        }
    }
    stop(ctx, &selected, timeout).await?;
    start_existing(ctx, &selected).await
}

/// `start`: start existing containers of the selected services, in dependency order.
pub async fn start_existing(ctx: &Ctx, services: &[String]) -> Result<()> {
    let graph = Graph::new(&ctx.project)?;
    let observed = ctx.observe().await?;
    if observed.iter().all(|c| c.oneoff) {
        bail!("service(s) not found: no containers to start (run `hoist up` first)");
    }
    // Without a file (`-p NAME start`), the project's stopped containers start as they are,
    // with no dependency order to follow (Compose's order comes from the file too).
    if ctx.project.from_labels {
        let mine: Vec<&ContainerSummary> =
            observed.iter().filter(|c| !c.oneoff && !c.state.is_running() && (services.is_empty() || services.contains(&c.service))).collect();
        let results = join_all(mine.into_iter().map(|c| start(ctx, &c.service, &c.id, &c.name))).await;
        return results.into_iter().collect::<Result<Vec<_>>>().map(|_| ());
    }
    // /run is emptied by a reboot: the secrets and configs are written again.
    let named: Vec<String> = if services.is_empty() { ctx.project.services.keys().cloned().collect() } else { services.to_vec() };
    write_service_files(ctx, &named)?;
    for name in graph.start_order() {
        if !services.is_empty() && !services.contains(&name) {
            continue;
        }
        for (dep, kind) in graph.dependencies(&name) {
            if services.is_empty() || services.contains(&dep) {
                wait_dependency(ctx, &name, &dep, kind.condition(), None).await?;
            }
        }
        let mine: Vec<&ContainerSummary> = observed.iter().filter(|c| c.service == name && !c.oneoff && !c.state.is_running()).collect();
        let results = join_all(mine.into_iter().map(|c| start(ctx, &name, &c.id, &c.name))).await;
        results.into_iter().collect::<Result<Vec<_>>>()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::fake::FakeBackend;
    use crate::compose::model::{DependsOn, Link, Service};
    use crate::output::progress::RecordingProgress;

    fn project() -> Project {
        let mut p = Project { name: "demo".into(), ..Default::default() };
        let mut web = Service { image: Some("busybox".into()), ..Default::default() };
        web.links.push(Link { target: "db".into(), alias: "db".into() });
        web.depends_on.insert("cache".into(), DependsOn { condition: DependsCondition::ServiceStarted, restart: false, required: true });
        p.services.insert("web".into(), web);
        p.services.insert("db".into(), Service { image: Some("busybox".into()), ..Default::default() });
        p.services.insert("cache".into(), Service { image: Some("busybox".into()), ..Default::default() });
        p
    }

    fn ctx(p: Project, backend: Arc<FakeBackend>) -> Ctx {
        Ctx::new(backend, Arc::new(p), Arc::new(RecordingProgress::default()), None)
    }

    fn pos(calls: &[String], call: &str) -> usize {
        calls.iter().position(|c| c == call).unwrap_or_else(|| panic!("no {call:?} in {calls:?}"))
    }

    #[tokio::test]
    async fn up_starts_dependencies_first_and_is_idempotent() {
        let fake = Arc::new(FakeBackend::with_images(&["busybox"]));
        let c = ctx(project(), fake.clone());
        up(&c, &UpOptions::default()).await.unwrap();
        let calls = fake.calls();
        assert!(pos(&calls, "start demo-db-1") < pos(&calls, "create demo-web-1"));
        assert!(pos(&calls, "start demo-cache-1") < pos(&calls, "create demo-web-1"));
        assert_eq!(fake.state.lock().unwrap().networks, vec!["demo_default".to_string()]);
        let before = fake.calls().len();
        up(&c, &UpOptions::default()).await.unwrap();
        assert_eq!(fake.calls().len(), before, "a second up changed something: {:?}", &fake.calls()[before..]);
    }

    #[tokio::test]
    async fn scale_and_recreate() {
        let fake = Arc::new(FakeBackend::with_images(&["busybox"]));
        let c = ctx(project(), fake.clone());
        let mut opts = UpOptions::default();
        opts.scale.insert("web".into(), 3);
        up(&c, &opts).await.unwrap();
        assert_eq!(c.observe().await.unwrap().iter().filter(|x| x.service == "web").count(), 3);
        opts.scale.insert("web".into(), 1);
        up(&c, &opts).await.unwrap();
        let web: Vec<_> = c.observe().await.unwrap().into_iter().filter(|x| x.service == "web").collect();
        assert_eq!(web.len(), 1);
        assert_eq!(web[0].number, 1);
        // A changed service is recreated under the same name; the others stay.
        let mut p = project();
        p.services["db"].command = Some(vec!["sleep".into(), "1".into()]);
        let c2 = ctx(p, fake.clone());
        let before = fake.calls().len();
        up(&c2, &UpOptions::default()).await.unwrap();
        let new_calls = fake.calls()[before..].to_vec();
        assert!(new_calls.contains(&"create demo-db-1".to_string()), "{new_calls:?}");
        assert!(!new_calls.iter().any(|c| c.contains("cache")), "{new_calls:?}");
    }

    #[tokio::test]
    async fn missing_image_fails_before_anything_is_created() {
        let fake = Arc::new(FakeBackend::with_images(&[]));
        let c = ctx(project(), fake.clone());
        assert!(up(&c, &UpOptions::default()).await.is_err());
        let st = fake.state.lock().unwrap();
        assert!(st.containers.is_empty() && st.networks.is_empty() && st.volumes.is_empty());
    }

    #[tokio::test]
    async fn down_removes_dependents_first() {
        let fake = Arc::new(FakeBackend::with_images(&["busybox"]));
        let c = ctx(project(), fake.clone());
        up(&c, &UpOptions::default()).await.unwrap();
        down(&c, &DownOptions::default()).await.unwrap();
        let calls = fake.calls();
        assert!(pos(&calls, "remove demo-web-1") < pos(&calls, "stop demo-db-1"));
        let st = fake.state.lock().unwrap();
        assert!(st.containers.is_empty() && st.networks.is_empty());
    }
}
