//! The built-in, daemonless runtime: images (`image`), container processes under
//! supervisors (`runtime`), bridges and ports (`network`), tied together as a `Backend`.
//! State lives under `/var/lib/hoist` (or `$HOIST_ROOT`); see docs/builtin-state.md.

pub(crate) mod build;
pub mod events;
mod files;
pub mod image;
pub mod links;
pub mod network;
pub mod runtime;
mod store;
pub(crate) mod tree;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use indexmap::IndexMap;

use self::image::ImageStore;
use self::network::{NetworkManager, PortForward, DEFAULT_BRIDGE};
use self::runtime::{HealthSpec, MountKind, NamespaceMode, Resources, RestartPolicy, RuntimeMount, RuntimeSpec};
pub use self::store::state_root;
use self::store::{io, random_id, rewrite_in_place, Record, Store};
use super::*;
use crate::compose::logging::LogPolicy;
use crate::compose::model::LocalMount;

pub struct BuiltinBackend {
    store: Store,
    images: ImageStore,
    net: NetworkManager,
    hosts: HostsRefresh,
    /// Whether `collect_garbage` ran in this process.
    collected: std::sync::atomic::AtomicBool,
}


/// Combines the /etc/hosts refreshes that follow starts, stops and removals: a refresh
/// reads every record of the project, and ten containers stopping at once need one
/// refresh after the last of them, not ten. A caller's request is served by a refresh
/// that began after it was made: its own, or one that a caller queued behind it ran.
#[derive(Default)]
struct HostsRefresh {
    requested: std::sync::atomic::AtomicU64,
    /// Per project, the last request a finished refresh covered; held while refreshing.
    done: std::sync::Mutex<std::collections::HashMap<String, u64>>,
}

fn other(e: impl std::fmt::Display) -> BackendError {
    BackendError::Engine(e.to_string())
}

/// Runs blocking work (files, namespaces, mounts) from async code without stalling the
/// runtime's workers: on a multi-threaded runtime the worker hands its other tasks over
/// first; elsewhere it just runs.
fn off_workers<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// Runs blocking runtime work off the async threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(other)?
}

impl BuiltinBackend {
    /// Opens the state root; the built-in runtime needs root (no user namespaces yet).
    pub fn open() -> anyhow::Result<Arc<dyn Backend>> {
        if !nix::unistd::geteuid().is_root() {
            anyhow::bail!("the built-in runtime needs root for now (run with sudo), or use --backend docker");
        }
        let root = store::state_root();
        for d in ["containers", "volumes", "netns", "names", "events"] {
            std::fs::create_dir_all(root.join(d)).map_err(|e| anyhow::anyhow!("creating {}: {e}", root.join(d).display()))?;
        }
        // Canonical once: container directories are named by this path everywhere
        // (supervisors' command lines included).
        let root = root.canonicalize().map_err(|e| anyhow::anyhow!("{}: {e}", root.display()))?;
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o700));
        let images = ImageStore::open(&root).map_err(|e| anyhow::anyhow!("{e}"))?;
        let net = NetworkManager::open(&root).map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(Arc::new(BuiltinBackend { store: Store::new(root), images, net, hosts: HostsRefresh::default(), collected: Default::default() }))
    }

    fn summary(&self, r: &Record) -> ContainerSummary {
        let st = runtime::state(&self.store.container_dir(&r.id)).unwrap_or_default();
        let state = match st.status.as_str() {
            "running" => ContainerState::Running,
            "restarting" => ContainerState::Restarting,
            "paused" => ContainerState::Paused,
            "exited" => ContainerState::Exited,
            "dead" => ContainerState::Dead,
            _ => ContainerState::Created,
        };
        let health = match st.health.as_deref() {
            Some("healthy") => Some(Health::Healthy),
            Some("unhealthy") => Some(Health::Unhealthy),
            Some("starting") => Some(Health::Starting),
            _ => None,
        };
        let label = |k: &str| r.spec.labels.get(k).cloned().unwrap_or_default();
        let mut command: Vec<String> = r.spec.entrypoint.clone().or_else(|| r.image_config.entrypoint.clone()).unwrap_or_default();
        command.extend(r.spec.command.clone().or_else(|| r.image_config.cmd.clone()).unwrap_or_default());
        let ports = if state.is_running() {
            let mut ports: Vec<PublishedPort> = st
                .ports
                .iter()
                .map(|p| PublishedPort { host_ip: p.host_ip.clone(), host_port: p.host_port, container_port: p.container_port, protocol: p.protocol.clone() })
                .collect();
            // Exposed but not published (the image's EXPOSE, `expose:`): `5432/tcp`, as Docker lists them.
            let service_exposed = r.spec.expose.iter().map(|e| (e.port, e.protocol.clone()));
            for (container_port, protocol) in exposed_ports(&r.image_config.exposed_ports).into_iter().chain(service_exposed) {
                if !ports.iter().any(|p| p.container_port == container_port && p.protocol == protocol) {
                    ports.push(PublishedPort { host_ip: String::new(), host_port: 0, container_port, protocol });
                }
            }
            ports.sort_by(|a, b| (a.container_port, &a.protocol, &a.host_ip).cmp(&(b.container_port, &b.protocol, &b.host_ip)));
            ports
        } else {
            vec![]
        };
        // Volumes by name, bind mounts by host path, as Docker lists them; tmpfs and the
        // files hoist writes itself (hosts, resolv.conf ...) left out, as the engine's are.
        let volumes_root = self.store.root.join("volumes");
        let mounts: Vec<(String, bool)> = r
            .mounts
            .iter()
            .filter(|m| m.kind == runtime::MountKind::Bind)
            .filter_map(|m| match m.source.strip_prefix(&volumes_root).ok().and_then(|rel| rel.components().next()) {
                Some(name) => Some((name.as_os_str().to_string_lossy().into_owned(), true)),
                None if m.source.starts_with(&self.store.root) => None,
                None => Some((m.source.display().to_string(), false)),
            })
            .collect();
        ContainerSummary {
            id: r.id.clone(),
            name: r.name.clone(),
            project: label(labels::PROJECT),
            service: label(labels::SERVICE),
            number: label(labels::NUMBER).parse().unwrap_or(r.spec.number),
            oneoff: label(labels::ONEOFF) == "True",
            config_hash: label(labels::CONFIG_HASH),
            image: r.spec.image.clone(),
            command: command.join(" "),
            state,
            exit_code: st.exit_code,
            health,
            created: r.created,
            started_at: st.started_at,
            finished_at: st.finished_at,
            ports,
            labels: r.spec.labels.clone(),
            networks: {
                let mut n: Vec<String> = r.networks.iter().map(|a| a.network.clone()).collect();
                n.sort();
                n
            },
            mounts: mounts.iter().map(|(name, _)| name.clone()).collect(),
            local_volumes: mounts.iter().filter(|(_, volume)| *volume).count(),
        }
    }

    /// Where the events of a container go, and what they say about it (as Docker: its
    /// labels, name and image).
    fn event_sink(&self, r: &Record) -> events::EventSink {
        let mut attributes = r.spec.labels.clone();
        attributes.insert("image".into(), r.spec.image.clone());
        attributes.insert("name".into(), r.name.clone());
        events::EventSink { log: events::log_path(&self.store.root, &r.spec.project), id: r.id.clone(), attributes }
    }

    /// Seeds the volume at `data` with what the image has at `target` when the volume is
    /// empty, as Docker does at each create (named and anonymous volumes alike): the
    /// contents, owner and mode of the image's directory. The target is resolved inside the
    /// image's own merged view, so an image's symlink there leads into the image, never to
    /// the host; both sides are reached only through `tree`.
    fn copy_up(&self, layers: &[PathBuf], target: &str, data: &Path) -> Result<()> {
        let failed = |e: std::io::Error| BackendError::Engine(format!("copying the image's {target} into its volume: {e}"));
        let volume = tree::Tree::open(data).and_then(|t| t.dir(Path::new(""))).map_err(failed)?;
        if !volume.names().map_err(failed)?.is_empty() {
            return Ok(());
        }
        let scratch = self.images.temp_path("copy-up");
        let (empty, view) = (scratch.join("empty"), scratch.join("view"));
        let copied = std::fs::create_dir_all(&empty).and_then(|()| std::fs::create_dir_all(&view)).and_then(|()| {
            // The view is mounted in a mount namespace of this thread alone: it goes away
            // with the thread, also when hoist is killed.
            std::thread::scope(|s| s.spawn(|| copy_from_image(layers, &empty, &view, target, &volume)).join())
                .unwrap_or_else(|_| Err(std::io::Error::other("the copying thread panicked")))
        });
        let _ = std::fs::remove_dir_all(&scratch);
        copied.map_err(failed)
    }

    /// The addresses of a container: (network, ip), first network first.
    fn addresses(&self, r: &Record) -> Vec<(String, String)> {
        ordered_addresses(r, &self.net.container_addresses(&r.id).unwrap_or_default())
    }

    /// `refresh_hosts` of the whole project after a start, stop or removal, combined with
    /// the concurrent ones (see `HostsRefresh`).
    fn refresh_all_hosts(&self, project: &str) {
        // File I/O for the whole project, and a mutex other refreshes wait on: off the
        // async workers, which would otherwise all stall here (two workers, many starts).
        off_workers(|| self.refresh_all_hosts_now(project))
    }

    fn refresh_all_hosts_now(&self, project: &str) {
        use std::sync::atomic::Ordering;
        let mine = self.hosts.requested.fetch_add(1, Ordering::SeqCst) + 1;
        let mut done = self.hosts.done.lock().unwrap_or_else(|e| e.into_inner());
        if done.get(project).is_some_and(|d| *d >= mine) {
            return;
        }
        let covered = self.hosts.requested.load(Ordering::SeqCst);
        self.refresh_hosts(project, None);
        done.insert(project.to_string(), covered);
    }

    /// Rewrites /etc/hosts of every container of the project: itself, every other running
    /// container on a shared network (service name, container name, aliases), and links.
    /// Network records are read once: this runs on every start and removal, for the
    /// whole project. Stopped containers are left alone (their start refreshes them); with
    /// `starting` (not running yet), only that container's file is written.
    fn refresh_hosts(&self, project: &str, starting: Option<&str>) {
        let all: Vec<Arc<Record>> = self.store.records().into_iter().filter(|r| r.spec.project == project).collect();
        let status: std::collections::HashMap<&str, String> = all.iter().filter_map(|r| Some((r.id.as_str(), runtime::recorded_status(&self.store.container_dir(&r.id))?))).collect();
        let has = |r: &Record, states: &[&str]| status.get(r.id.as_str()).is_some_and(|s| states.contains(&s.as_str()));
        let running: Vec<&Record> = all.iter().map(|r| r.as_ref()).filter(|r| has(r, &["running"])).collect();
        let recorded = self.net.all_addresses().unwrap_or_default();
        let addresses = |r: &Record| ordered_addresses(r, recorded.get(&r.id).map_or(&[][..], Vec::as_slice));
        let running: Vec<(&Record, Vec<(String, String)>)> = running.into_iter().map(|o| (o, addresses(o))).collect();
        // A start writes the starting container's file only: the others learn of it from
        // the refresh that follows the start.
        let targets = all.iter().filter(|r| match starting {
            Some(id) => r.id == id,
            None => has(r, &["running", "paused", "restarting"]),
        });
        for r in targets {
            let mine = addresses(r);
            let mut entries: Vec<(String, Vec<String>)> = Vec::new();
            let mut own = own_host_names(&r.hostname, r.spec.domainname.as_deref());
            match mine.first() {
                Some((_, ip)) => {
                    own.push(r.name.clone());
                    entries.push((ip.clone(), own));
                }
                None => entries.push(("127.0.1.1".into(), own)),
            }
            for (other, theirs) in running.iter().filter(|(o, _)| o.id != r.id) {
                for (net, ip) in theirs {
                    if mine.iter().any(|(n, _)| n == net) {
                        // The names it has on that network: a service container's service
                        // name, container name and aliases; a one-off's own name only.
                        let mut names = match other.networks.iter().find(|a| a.network == *net) {
                            Some(a) if !a.aliases.is_empty() => a.aliases.clone(),
                            _ => vec![other.spec.service_name.clone()],
                        };
                        names.push(other.name.clone());
                        let mut seen = std::collections::HashSet::new();
                        names.retain(|n| seen.insert(n.clone()));
                        entries.push((ip.clone(), names));
                    }
                }
            }
            for (source, alias) in &r.spec.links {
                if let Ok(src) = self.store.find(source)
                    && let Some((_, ip)) = addresses(&src).first()
                {
                    entries.push((ip.clone(), vec![alias.clone(), src.name.clone()]));
                }
            }
            // extra_hosts, as Docker adds them.
            for h in &r.spec.extra_hosts {
                entries.push((h.ip.clone(), vec![h.host.clone()]));
            }
            let hosts = self.store.container_dir(&r.id).join("hosts");
            let content = network::render_hosts(&entries);
            if std::fs::read_to_string(&hosts).ok().as_deref() != Some(content.as_str()) {
                let _ = rewrite_in_place(&hosts, &content);
            }
        }
    }

    /// As the local driver when it mounts a volume: a bind volume's device must exist when
    /// a container using it starts (with the engine's words for it).
    fn check_devices(&self, r: &Record) -> Result<()> {
        for m in &r.spec.mounts {
            if let Mount::Volume { name: Some(name), .. } = m
                && let Some(LocalMount::Bind { device, .. }) = self.store.volume(name).and_then(|v| v.local_mount)
                && !device.exists()
            {
                let data = self.store.volume_dir(name)?.join("_data");
                return Err(BackendError::Engine(format!(
                    "error while mounting volume '{}': failed to mount local volume: mount {}:{}: no such file or directory",
                    data.display(),
                    device.display(),
                    data.display()
                )));
            }
        }
        Ok(())
    }

    /// Everything a start needs before the process runs: networks wired, link variables,
    /// /etc/hosts, and `runtime.json`.
    async fn prepare_start(&self, id: &str) -> Result<(PathBuf, Record)> {
        let r = self.store.find(id)?;
        let dir = self.store.container_dir(&r.id);
        if r.own_netns
            && !r.networks.is_empty()
            && self.net.container_addresses(&r.id).unwrap_or_default().is_empty()
            && let Some(ns) = &r.netns
        {
            self.net.attach(&r.id, ns, &r.networks).await.map_err(other)?;
        }
        self.check_devices(&r)?;
        let ip = self.addresses(&r).first().map(|(_, ip)| ip.clone());
        let mut env: Vec<String> = r.image_config.env.clone();
        for (k, v) in &r.spec.env {
            env.retain(|e| e.split('=').next() != Some(k.as_str()));
            env.push(format!("{k}={v}"));
        }
        for (source, alias) in &r.spec.links {
            let src = self.store.find(source).map_err(|_| BackendError::Engine(format!("cannot link to {source}: no such container")))?;
            let src_ip = self.addresses(&src).first().map(|(_, ip)| ip.clone()).unwrap_or_default();
            let mut src_env = src.image_config.env.clone();
            src_env.extend(src.spec.env.iter().map(|(k, v)| format!("{k}={v}")));
            let mut ports = src.image_config.exposed_ports.clone();
            ports.extend(src.spec.expose.iter().map(|e| e.to_string()));
            ports.extend(src.spec.ports.iter().map(|p| format!("{}/{}", p.target, p.protocol)));
            let link = links::LinkSource { alias, name: &src.name, ip: &src_ip, env: &src_env, ports: &ports };
            env.extend(links::link_env(&r.name, &link));
        }
        let ns = |mode: &Option<String>| -> Result<NamespaceMode> {
            Ok(match mode.as_deref() {
                Some("host") => NamespaceMode::Host,
                Some(m) if m.starts_with("container:") => {
                    let other = self.store.find(&m["container:".len()..])?;
                    NamespaceMode::Container(runtime::pid_file(&self.store.container_dir(&other.id)))
                }
                _ => NamespaceMode::Private,
            })
        };
        let base = runtime::base_layer(&self.store.root).map_err(other)?;
        let mut spec = runtime_spec(&r, &dir, env, ip.as_deref(), ns(&r.spec.pid)?, ns(&r.spec.ipc)?, Some(base));
        spec.events = Some(self.event_sink(&r));
        // The process may read /etc/hosts at once: it must hold its links before it starts.
        off_workers(|| self.refresh_hosts(&r.spec.project, Some(&r.id)));
        store::write_atomic(&dir.join("runtime.json"), &serde_json::to_vec_pretty(&spec).map_err(other)?)?;
        Ok((dir, r))
    }
}

/// `recorded` (network, ip) pairs of `r` in the order of its networks.
fn ordered_addresses(r: &Record, recorded: &[(String, std::net::Ipv4Addr)]) -> Vec<(String, String)> {
    r.networks
        .iter()
        .filter_map(|n| recorded.iter().find(|(net, _)| *net == n.network).map(|(net, ip)| (net.clone(), ip.to_string())))
        .collect()
}

/// Mounts `layers` read-only at `view` in a new mount namespace of the calling thread and
/// copies what is at `target` inside them into `volume` (see `copy_up`).
fn copy_from_image(layers: &[PathBuf], empty: &Path, view: &Path, target: &str, volume: &tree::Dir) -> std::io::Result<()> {
    use nix::mount::{MsFlags, mount};
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)?;
    // Private first: a mount under a shared one would show up in the host's namespace.
    mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None::<&str>)?;
    let mut lowers = image::overlay_lowers(layers);
    // An overlay without an upper directory needs two lower ones.
    lowers.push(empty.to_path_buf());
    let data = format!("lowerdir={}", lowers.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(":"));
    mount(Some("overlay"), view, Some("overlay"), MsFlags::MS_RDONLY, Some(data.as_str())).map_err(|e| std::io::Error::other(format!("mounting the image's layers: {e}")))?;
    let rel = tree::clean(Path::new(target));
    let source = match tree::Tree::open(view)?.dir(&rel) {
        Ok(dir) => dir,
        // Nothing there (or not a directory): the volume stays as it is.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENOTDIR) => return Ok(()),
        Err(e) => return Err(e),
    };
    tree::copy_contents(&source, volume)?;
    let st = source.stat_self()?;
    volume.set_owner_mode(st.st_uid, st.st_gid, st.st_mode)
}

/// Docker's argv rules: a service entrypoint drops the image's CMD unless a command is given.
fn argv(r: &Record) -> Vec<String> {
    let s = &r.spec;
    let entrypoint = s.entrypoint.clone().or_else(|| r.image_config.entrypoint.clone()).unwrap_or_default();
    let cmd = match (&s.entrypoint, &s.command) {
        (_, Some(c)) => c.clone(),
        (Some(_), None) => vec![],
        (None, None) => r.image_config.cmd.clone().unwrap_or_default(),
    };
    entrypoint.into_iter().chain(cmd).collect()
}

fn restart(policy: Option<crate::compose::model::RestartPolicy>) -> RestartPolicy {
    use crate::compose::model::RestartPolicy as P;
    match policy {
        Some(P::Always) => RestartPolicy::Always,
        Some(P::UnlessStopped) => RestartPolicy::UnlessStopped,
        Some(P::OnFailure(n)) => RestartPolicy::OnFailure(n),
        Some(P::No) | None => RestartPolicy::No,
    }
}

fn runtime_spec(r: &Record, dir: &Path, env: Vec<String>, ip: Option<&str>, pid_ns: NamespaceMode, ipc_ns: NamespaceMode, base_layer: Option<PathBuf>) -> RuntimeSpec {
    let s = &r.spec;
    let dur = |v: &Option<crate::compose::model::Duration>, d: u64| v.map(|v| v.0).unwrap_or(Duration::from_secs(d));
    // The service's healthcheck, else the image's (a service `disable: true` turns both off).
    let image_check = r.image_config.healthcheck.as_ref().filter(|_| s.healthcheck.is_none());
    let healthcheck = s.healthcheck.as_ref().or(image_check).filter(|h| !h.disable && !h.test.is_empty() && h.test[0] != "NONE").map(|h| HealthSpec {
        test: h.test.clone(),
        interval: dur(&h.interval, 30),
        timeout: dur(&h.timeout, 30),
        retries: h.retries.unwrap_or(3),
        start_period: dur(&h.start_period, 0),
    });
    let ports = match (&r.spec.network, ip) {
        (NetworkMode::Host, _) | (_, None) => vec![],
        (_, Some(ip)) => r
            .spec
            .ports
            .iter()
            .filter_map(|p| {
                Some(PortForward {
                    host_ip: p.host_ip.clone().unwrap_or_default(),
                    host_port: p.published.unwrap_or(0),
                    container_ip: ip.parse().ok()?,
                    container_port: p.target,
                    protocol: p.protocol.clone(),
                })
            })
            .collect(),
    };
    RuntimeSpec {
        id: r.id.clone(),
        name: r.name.clone(),
        layers: r.layers.clone(),
        base_layer,
        upper_dir: dir.join("upper"),
        work_dir: dir.join("work"),
        rootfs: dir.join("rootfs"),
        mounts: r.mounts.clone(),
        args: argv(r),
        env,
        cwd: s.working_dir.clone().or_else(|| r.image_config.working_dir.clone()).unwrap_or_else(|| "/".into()),
        user: s.user.clone().or_else(|| r.image_config.user.clone()),
        group_add: s.group_add.clone(),
        hostname: r.hostname.clone(),
        domainname: s.domainname.clone(),
        netns: r.netns.clone(),
        pid_ns,
        ipc_ns,
        tty: s.tty,
        stdin_open: s.stdin_open,
        init: s.init.unwrap_or(false),
        privileged: s.privileged,
        read_only: s.read_only,
        cap_add: s.cap_add.clone(),
        cap_drop: s.cap_drop.clone(),
        security_opt: s.security_opt.clone(),
        sysctls: s.sysctls.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        ulimits: s.ulimits.iter().map(|(k, u)| (k.clone(), u.soft, u.hard)).collect(),
        devices: s.devices.clone(),
        resources: Resources {
            memory: s.resources.memory,
            memory_reservation: s.resources.memory_reservation,
            memory_swap: s.resources.memory_swap,
            cpu_shares: s.resources.cpu_shares,
            cpus: s.resources.cpus,
            pids_limit: s.resources.pids_limit,
            shm_size: s.resources.shm_size,
        },
        cgroup_parent: s.cgroup_parent.clone(),
        oom_score_adj: s.oom_score_adj,
        stop_signal: s.stop_signal.clone().or_else(|| r.image_config.stop_signal.clone()).unwrap_or_else(|| "SIGTERM".into()),
        stop_timeout: r.spec.stop_grace_period.unwrap_or(Duration::from_secs(10)),
        restart: restart(s.restart),
        healthcheck,
        ports,
        events: None,
        log: s.logging.as_ref().and_then(|l| l.policy()).unwrap_or_default(),
    }
}

#[async_trait]
impl Backend for BuiltinBackend {
    fn name(&self) -> &'static str {
        "builtin"
    }

    async fn list_containers(&self, project: &str, _all: bool) -> Result<Vec<ContainerSummary>> {
        Ok(self.store.records().iter().filter(|r| r.spec.project == project).map(|r| self.summary(r)).collect())
    }

    async fn list_all_projects(&self) -> Result<Vec<ContainerSummary>> {
        Ok(self.store.records().iter().map(|r| self.summary(r)).collect())
    }

    async fn create_container(&self, spec: &ContainerSpec, replace: Option<&ContainerSummary>) -> Result<String> {
        if !self.collected.swap(true, std::sync::atomic::Ordering::SeqCst) {
            off_workers(|| self.collect_garbage());
        }
        let image = self
            .images
            .resolve(&spec.image)
            .map_err(other)?
            .ok_or_else(|| BackendError::ImageNotFound(spec.image.clone()))?;
        let id = random_id();
        // Held until the record is written: until then the claim is not stale.
        let _claim = self.store.claim_name(&spec.name, &id)?;
        // Namespaces, mounts and files: blocking work, off the async workers.
        let result = off_workers(|| self.create_inner(&id, spec, replace, image));
        match result {
            Ok(record) => {
                self.event_sink(&record).emit("create", &[]);
                Ok(id)
            }
            Err(e) => {
                self.store.release_name(&spec.name, &id);
                // The namespace is a mount of its own: nothing else would ever remove it.
                let _ = self.net.remove_netns(&self.store.root.join("netns").join(&id));
                let _ = std::fs::remove_dir_all(self.store.container_dir(&id));
                Err(e)
            }
        }
    }

    async fn start_container(&self, id: &str) -> Result<()> {
        let (dir, r) = self.prepare_start(id).await?;
        let name = r.name.clone();
        let started = blocking(move || runtime::start(&dir).map_err(other)).await;
        self.refresh_all_hosts(&r.spec.project);
        match started {
            Ok(_) => Ok(()),
            Err(e) if e.to_string().contains("already allocated") || e.to_string().contains("in use") => {
                Err(BackendError::PortInUse { what: name, addr: e.to_string() })
            }
            Err(e) => Err(e),
        }
    }

    async fn stop_container(&self, id: &str, timeout: Option<Duration>) -> Result<()> {
        let r = self.store.find(id)?;
        let dir = self.store.container_dir(&r.id);
        let t = timeout.or(r.spec.stop_grace_period).unwrap_or(Duration::from_secs(10));
        let sink = self.event_sink(&r);
        if runtime::state(&dir).is_ok_and(|s| s.status == "running" || s.status == "paused") {
            let signal = r.spec.stop_signal.clone().or_else(|| r.image_config.stop_signal.clone()).unwrap_or_else(|| "SIGTERM".into());
            sink.emit("kill", &[("signal", runtime::signal_number(&signal).unwrap_or(15).to_string())]);
        }
        blocking(move || runtime::stop(&dir, t).map_err(other)).await?;
        sink.emit("stop", &[]);
        self.refresh_all_hosts(&r.spec.project);
        Ok(())
    }

    async fn kill_container(&self, id: &str, signal: &str) -> Result<()> {
        let r = self.store.find(id)?;
        let dir = self.store.container_dir(&r.id);
        if runtime::state(&dir).is_ok_and(|s| s.status == "running" || s.status == "paused") {
            self.event_sink(&r).emit("kill", &[("signal", runtime::signal_number(signal).unwrap_or(9).to_string())]);
        }
        let signal = signal.to_string();
        blocking(move || {
            runtime::kill(&dir, &signal).map_err(other)?;
            // SIGKILL cannot be caught: return once the supervisor has recorded the exit.
            if matches!(signal.trim_start_matches("SIG"), "KILL" | "9") {
                for _ in 0..50 {
                    if runtime::state(&dir).is_ok_and(|s| !matches!(s.status.as_str(), "running" | "paused")) {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
            Ok(())
        })
        .await
    }

    async fn remove_container(&self, id: &str, force: bool, volumes: bool) -> Result<()> {
        let r = match self.store.find(id) {
            Ok(r) => r,
            Err(BackendError::ContainerNotFound(_)) => return Ok(()),
            Err(e) => return Err(e),
        };
        let dir = self.store.container_dir(&r.id);
        let running = runtime::state(&dir).is_ok_and(|s| matches!(s.status.as_str(), "running" | "restarting" | "paused"));
        if running && !force {
            return Err(BackendError::Engine(format!("cannot remove container {}: it is running (stop it first, or force)", r.name)));
        }
        let sink = self.event_sink(&r);
        if running {
            sink.emit("kill", &[("signal", "9".into())]);
        }
        let d = dir.clone();
        // Held until the directory is gone: no supervisor can start the container meanwhile.
        let _claim = blocking(move || {
            if running {
                runtime::stop(&d, Duration::from_secs(0)).map_err(other)?;
            }
            let claim = runtime::claim_for_removal(&d, force).map_err(other)?;
            runtime::cleanup(&d).map_err(other)?;
            Ok(claim)
        })
        .await?;
        if r.own_netns
            && let Some(ns) = &r.netns
        {
            // The veths go with the namespace (see `release`).
            let _ = self.net.release(&r.id).await;
            let _ = self.net.remove_netns(ns);
        }
        if volumes {
            for (_, v) in &r.anonymous {
                if let Ok(d) = self.store.volume_dir(v) {
                    let _ = std::fs::remove_dir_all(d);
                }
            }
        }
        // Moved aside first: a concurrent writer (another container's /etc/hosts refresh)
        // can no longer recreate files under the removed directory.
        let doomed = self.store.root.join("containers").join(format!(".removing-{}", r.id));
        std::fs::rename(&dir, &doomed).map_err(io(format!("removing {}", dir.display())))?;
        std::fs::remove_dir_all(&doomed).map_err(io(format!("removing {}", doomed.display())))?;
        self.store.release_name(&r.name, &r.id);
        self.refresh_all_hosts(&r.spec.project);
        sink.emit("destroy", &[]);
        Ok(())
    }

    async fn rename_container(&self, id: &str, new_name: &str) -> Result<()> {
        let mut r = self.store.find(id)?;
        self.store.claim_name(new_name, &r.id)?;
        self.store.release_name(&r.name, &r.id);
        let old_name = std::mem::replace(&mut r.name, new_name.to_string());
        self.store.save(&r)?;
        self.event_sink(&r).emit("rename", &[("oldName", format!("/{old_name}"))]);
        Ok(())
    }

    async fn pause_container(&self, id: &str) -> Result<()> {
        let r = self.store.find(id)?;
        let dir = self.store.container_dir(&r.id);
        blocking(move || runtime::pause(&dir).map_err(other)).await?;
        self.event_sink(&r).emit("pause", &[]);
        Ok(())
    }

    async fn unpause_container(&self, id: &str) -> Result<()> {
        let r = self.store.find(id)?;
        let dir = self.store.container_dir(&r.id);
        blocking(move || runtime::unpause(&dir).map_err(other)).await?;
        self.event_sink(&r).emit("unpause", &[]);
        Ok(())
    }

    async fn inspect_container(&self, id: &str) -> Result<ContainerSummary> {
        Ok(self.summary(&self.store.find(id)?))
    }

    async fn wait_container(&self, id: &str) -> Result<i32> {
        let dir = self.store.container_dir(&self.store.find(id)?.id);
        blocking(move || runtime::wait(&dir).map_err(other)).await
    }

    async fn logs(&self, containers: &[ContainerSummary], opts: &LogOptions) -> Result<LogStreamBox> {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<LogLine>>(8192);
        for c in containers {
            let dir = self.store.container_dir(&c.id);
            let (tx, name, opts) = (tx.clone(), c.name.clone(), opts.clone());
            let discarded = self.store.find(&c.id).is_ok_and(|r| r.spec.logging.as_ref().and_then(|l| l.policy()) == Some(LogPolicy::Discard));
            tokio::spawn(async move {
                if discarded {
                    let _ = tx.send(Err(BackendError::LogsNotReadable(name))).await;
                    return;
                }
                let path = dir.join(runtime::state::LOG_FILE);
                let keep = |e: &runtime::logs::LogEntry| -> Option<LogLine> {
                    let time = chrono::DateTime::parse_from_rfc3339(&e.time).ok().map(|t| t.with_timezone(&chrono::Utc));
                    if let (Some(since), Some(t)) = (opts.since, time)
                        && t < since
                    {
                        return None;
                    }
                    if let (Some(until), Some(t)) = (opts.until, time)
                        && t > until
                    {
                        return None;
                    }
                    let stream = if e.stream == "stderr" { LogStream::Stderr } else { LogStream::Stdout };
                    Some(LogLine { container: name.clone(), stream, time, text: e.text.clone() })
                };
                let (first, mut reader) = match runtime::logs::LogReader::read_all(&path) {
                    Ok(r) => r,
                    Err(e) => {
                        let _ = tx.send(Err(BackendError::io(format!("reading the log of {name}"), e))).await;
                        return;
                    }
                };
                let mut lines: Vec<LogLine> = first.iter().filter_map(keep).collect();
                if let Some(n) = opts.tail {
                    lines = lines.split_off(lines.len().saturating_sub(n));
                }
                for l in lines {
                    if tx.send(Ok(l)).await.is_err() {
                        return;
                    }
                }
                if !opts.follow {
                    return;
                }
                loop {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    let running = runtime::state(&dir).is_ok_and(|s| matches!(s.status.as_str(), "running" | "restarting" | "paused" | "created"));
                    let more = reader.next_entries().unwrap_or_default();
                    for l in more.iter().filter_map(keep) {
                        if tx.send(Ok(l)).await.is_err() {
                            return;
                        }
                    }
                    if !running && more.is_empty() {
                        break;
                    }
                }
            });
        }
        Ok(Box::pin(tokio_stream(rx)))
    }

    async fn exec(&self, id: &str, spec: &ExecSpec) -> Result<i32> {
        let dir = self.store.container_dir(&self.store.find(id)?.id);
        let spec = spec.clone();
        blocking(move || runtime::exec(&dir, &spec).map_err(other)).await
    }

    async fn attach_and_start(&self, id: &str, _tty: bool, interactive: bool) -> Result<i32> {
        let (dir, r) = self.prepare_start(id).await?;
        let project = r.spec.project.clone();
        let net_ready = async {
            // /etc/hosts of the others is refreshed once the process runs.
            tokio::time::sleep(Duration::from_millis(300)).await;
            self.refresh_all_hosts(&project);
        };
        let run = blocking(move || runtime::run_attached(&dir, interactive).map_err(other));
        let (code, _) = tokio::join!(run, net_ready);
        code
    }

    async fn top(&self, id: &str) -> Result<ProcessList> {
        let dir = self.store.container_dir(&self.store.find(id)?.id);
        blocking(move || runtime::top(&dir).map_err(other)).await
    }

    async fn ensure_network(&self, spec: &NetworkSpec) -> Result<()> {
        self.net.ensure_network(spec).await.map_err(other)
    }

    async fn remove_network(&self, name: &str) -> Result<()> {
        if let Some(user) = self.store.records().iter().find(|r| r.networks.iter().any(|n| n.network == name)) {
            return Err(BackendError::InUse(format!("network {name} is in use by container {}", user.name)));
        }
        off_workers(|| self.collect_garbage());
        self.net.remove_network(name).await.map_err(other)
    }

    async fn list_networks(&self, project: &str) -> Result<Vec<NetworkSummary>> {
        self.net.list_networks(Some(project)).map_err(other)
    }

    async fn ensure_volume(&self, spec: &VolumeSpec) -> Result<()> {
        if spec.external {
            return match self.store.volume(&spec.name) {
                Some(_) => Ok(()),
                None => Err(BackendError::Engine(format!("external volume \"{}\" not found", spec.name))),
            };
        }
        self.store.ensure_volume(&spec.name, spec.labels.clone(), false, spec.local_mount.clone()).map(|_| ())
    }

    async fn remove_volume(&self, name: &str) -> Result<()> {
        let dir = self.store.volume_dir(name)?;
        let data = dir.join("_data");
        let mounts_it = |r: &Record| r.mounts.iter().any(|m| m.source == data) || r.spec.mounts.iter().any(|m| matches!(m, Mount::Volume { name: Some(n), .. } if n == name));
        if let Some(user) = self.store.records().iter().find(|r| mounts_it(r)) {
            return Err(BackendError::InUse(format!("volume \"{name}\" is in use by container {}", user.name)));
        }
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(format!("removing volume {name}"))(e)),
            _ => Ok(()),
        }
    }

    async fn list_volumes(&self, project: Option<&str>) -> Result<Vec<VolumeSummary>> {
        Ok(self.store.volumes().into_iter().filter(|v| project.is_none_or(|p| v.labels.get(labels::PROJECT).is_some_and(|l| l == p))).collect())
    }

    async fn image_config(&self, reference: &str) -> Result<Option<ImageConfig>> {
        // Images are pulled, imported and built for the host's platform only.
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            other => other,
        };
        Ok(self.images.resolve(reference).map_err(other)?.map(|i| ImageConfig { id: i.id, platform: format!("linux/{arch}"), ..i.config }))
    }

    async fn pull_image(&self, reference: &str, progress: ProgressFn) -> Result<()> {
        self.images.pull(reference, progress).await.map(|_| ()).map_err(other)
    }

    async fn import_image(&self, tarball: &Path, reference: &str, opts: &ImportOptions) -> Result<String> {
        let (images_root, tarball, reference, changes) = (self.store.root.clone(), tarball.to_path_buf(), reference.to_string(), opts.changes.clone());
        blocking(move || {
            let store = ImageStore::open(&images_root).map_err(other)?;
            store.import_rootfs(&tarball, &reference, &changes).map_err(other)
        })
        .await
    }

    async fn list_images(&self) -> Result<Vec<ImageSummary>> {
        self.images.list().map_err(other)
    }

    async fn remove_image(&self, reference: &str, force: bool) -> Result<()> {
        let image = self.images.resolve(reference).map_err(other)?.ok_or_else(|| BackendError::ImageNotFound(reference.into()))?;
        // As Docker: removing one of several tags only untags, even if containers use it.
        let by_tag = image.references.iter().any(|r| image::normalize_reference(reference).is_ok_and(|n| n == *r));
        let last_reference = !by_tag || image.references.len() <= 1;
        if !force
            && last_reference
            && let Some(user) = self.store.records().iter().find(|r| r.image_id == image.id)
        {
            return Err(BackendError::Engine(format!("image {reference} is in use by container {}", user.name)));
        }
        self.images.remove(reference).map_err(other)
    }

    async fn tag_image(&self, source: &str, target: &str) -> Result<()> {
        self.images.tag(source, target).map_err(other)
    }

    async fn build_image(&self, spec: &BuildSpec, progress: ProgressFn) -> Result<String> {
        build::build(self, spec, progress).await.map_err(other)
    }

    async fn push_image(&self, reference: &str, progress: ProgressFn) -> Result<()> {
        self.images.push(reference, progress).await.map_err(other)
    }

    async fn load_images(&self, archive: &Path) -> Result<Vec<String>> {
        let (images, archive) = (self.images.clone(), archive.to_path_buf());
        blocking(move || images.load(&archive).map_err(other)).await
    }

    // Events and stats
    async fn events(&self, project: &str, opts: &EventOptions) -> Result<EventStreamBox> {
        Ok(events::follow(events::log_path(&self.store.root, project), opts))
    }

    async fn stats(&self, id: &str) -> Result<StatsSample> {
        let r = self.store.find(id)?;
        let dir = self.store.container_dir(&r.id);
        let read = chrono::Utc::now();
        let u = blocking(move || runtime::usage(&dir).map_err(other)).await?;
        let (net_rx, net_tx) = self.net.container_traffic(&r.id);
        Ok(StatsSample {
            read,
            cpu_ns: u.cpu_ns,
            memory_usage: u.memory_usage,
            memory_limit: u.memory_limit,
            net_rx,
            net_tx,
            block_read: u.block_read,
            block_write: u.block_write,
            pids: u.pids,
        })
    }

    // Files (cp, watch)
    async fn copy_from_container(&self, id: &str, path: &str, follow_link: bool) -> Result<archive::TarStream> {
        let path = path.to_string();
        let ((files, parts), name) = self.with_files(id, move |files| files.fs.source(&path, follow_link).map(|parts| (files, parts))).await?;
        // The rootfs stays mounted (`files`) until the archive is written.
        Ok(archive::produce(move |w| files.fs.archive(&parts, w).map_err(|e| std::io::Error::other(format!("container {name}: {e}")))))
    }

    async fn copy_to_container(&self, id: &str, dest: &str, tar: archive::TarStream, copy_uid_gid: bool) -> Result<()> {
        let (dest, tar) = (dest.to_string(), archive::reader(tar));
        self.with_files(id, move |files| files.fs.extract(&dest, tar, copy_uid_gid)).await.map(|(r, _)| r)
    }

    async fn is_dir_in_container(&self, id: &str, path: &str) -> Result<Option<bool>> {
        let path = path.to_string();
        self.with_files(id, move |files| files.fs.is_dir(&path)).await.map(|(r, _)| r)
    }

    async fn remove_from_container(&self, id: &str, paths: &[String]) -> Result<()> {
        let paths = paths.to_vec();
        self.with_files(id, move |files| paths.iter().try_for_each(|p| files.fs.remove(p))).await.map(|(r, _)| r)
    }

    async fn attach(&self, id: &str, opts: &AttachOptions) -> Result<i32> {
        use futures::StreamExt;
        use std::io::Write;
        let r = self.store.find(id)?;
        // A detached container's stdin is not kept by its supervisor: output only.
        if opts.stdin && r.spec.stdin_open {
            return Err(BackendError::Engine(format!(
                "container {}: the built-in runtime keeps no stdin for a detached container: attach with --no-stdin (its output), or use `hoist exec`",
                r.name
            )));
        }
        if opts.detach_keys.is_some() {
            return Err(BackendError::Engine("--detach-keys: the built-in runtime attaches no stdin, so no keys reach it (Ctrl-C is passed to the container as SIGINT; with --sig-proxy=false it stops following)".into()));
        }
        let summary = self.summary(&r);
        if !summary.state.is_running() {
            return Err(BackendError::Engine(format!("cannot attach to a stopped container {}: start it first", r.name)));
        }
        // What it prints from now on, as an attach sees it, until it exits.
        let mut lines = self.logs(std::slice::from_ref(&summary), &LogOptions { follow: true, since: Some(chrono::Utc::now()), ..Default::default() }).await?;
        while let Some(line) = lines.next().await {
            let line = line?;
            let written = match line.stream {
                LogStream::Stdout => writeln!(std::io::stdout(), "{}", line.text),
                LogStream::Stderr => writeln!(std::io::stderr(), "{}", line.text),
            };
            written.map_err(|e| BackendError::io("writing output", e))?;
        }
        self.wait_container(id).await
    }

    async fn commit_container(&self, id: &str, opts: &CommitOptions) -> Result<String> {
        if opts.author.is_some() || opts.message.is_some() {
            return Err(BackendError::Engine("the built-in image store keeps no author or commit message: leave out --author and --message".into()));
        }
        let r = self.store.find(id)?;
        let dir = self.store.container_dir(&r.id);
        let status = runtime::state(&dir).unwrap_or_default().status;
        // Its changes are read from the host while no process of it runs: stopped, or
        // paused for the while (a running container could swap paths under the reader).
        let pause = status == "running";
        // Between two runs its process may start at any moment: neither paused nor stopped.
        if status == "restarting" {
            return Err(BackendError::Engine(format!("container {} is restarting: commit it once it runs or has stopped", r.name)));
        }
        if pause && !opts.pause {
            return Err(BackendError::Engine(format!("container {}: the built-in runtime commits a running container only paused (leave out --pause=false, or stop it first)", r.name)));
        }
        if pause {
            self.pause_container(&r.id).await?;
        }
        let (images, upper) = (self.images.clone(), dir.join("upper"));
        let (reference, changes) = (opts.reference.clone(), opts.changes.clone());
        let record = r.clone();
        let made = blocking(move || {
            // The layers the container runs on, whatever its image's name points at now.
            let layers: Vec<String> = record.layers.iter().filter_map(|l| l.file_name().map(|n| n.to_string_lossy().into_owned())).collect();
            let refs: Vec<String> = reference.into_iter().collect();
            images.commit(&layers, &upper, committed_config(&record), &changes, &refs).map_err(other)
        })
        .await;
        if pause {
            self.unpause_container(&r.id).await?;
        }
        made
    }

    async fn export_container(&self, id: &str) -> Result<archive::TarStream> {
        // The rootfs alone: volumes and bind mounts are not part of an export, as Docker's.
        let (files, name) = self.with_tree(id, false, Ok).await?;
        Ok(archive::produce(move |w| files.fs.export(w).map_err(|e| std::io::Error::other(format!("container {name}: {e}")))))
    }
}

/// The configuration a commit gives the image, as Docker's: the container's own (its
/// command, environment, user, working directory, labels, ports) over its image's.
fn committed_config(r: &Record) -> ImageConfig {
    let mut c = r.image_config.clone();
    let spec = &r.spec;
    if spec.entrypoint.is_some() {
        c.entrypoint = spec.entrypoint.clone();
        c.cmd = spec.command.clone();
    } else if spec.command.is_some() {
        c.cmd = spec.command.clone();
    }
    for (k, v) in &spec.env {
        c.env.retain(|e| e.split('=').next() != Some(k.as_str()));
        c.env.push(format!("{k}={v}"));
    }
    if spec.user.is_some() {
        c.user = spec.user.clone();
    }
    if spec.working_dir.is_some() {
        c.working_dir = spec.working_dir.clone();
    }
    c.labels.extend(spec.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
    for e in &spec.expose {
        let port = format!("{}/{}", e.port, e.protocol);
        if !c.exposed_ports.contains(&port) {
            c.exposed_ports.push(port);
        }
    }
    c
}

impl BuiltinBackend {
    /// Runs `f` on the container's files, seen from the host (a stopped container's
    /// rootfs is mounted while they live); returns its result and the container's name.
    async fn with_files<T: Send + 'static>(
        &self,
        id: &str,
        f: impl FnOnce(files::ContainerFiles) -> std::result::Result<T, files::FsError> + Send + 'static,
    ) -> Result<(T, String)> {
        self.with_tree(id, true, f).await
    }

    /// As `with_files`, the container's mounts seen in it or (`mounts` false) its rootfs alone.
    async fn with_tree<T: Send + 'static>(
        &self,
        id: &str,
        mounts: bool,
        f: impl FnOnce(files::ContainerFiles) -> std::result::Result<T, files::FsError> + Send + 'static,
    ) -> Result<(T, String)> {
        let r = self.store.find(id)?;
        let dir = self.store.container_dir(&r.id);
        blocking(move || {
            let seen: &[RuntimeMount] = if mounts { &r.mounts } else { &[] };
            let files = files::ContainerFiles::open(&dir, &r.layers, seen, r.spec.read_only).map_err(other)?;
            match f(files) {
                Ok(out) => Ok((out, r.name)),
                Err(e) => Err(BackendError::Engine(format!("container {}: {e}", r.name))),
            }
        })
        .await
    }

    fn create_inner(&self, id: &str, spec: &ContainerSpec, replace: Option<&ContainerSummary>, image: image::Image) -> Result<Record> {
        let dir = self.store.container_dir(id);
        std::fs::create_dir_all(&dir).map_err(io(format!("creating {}", dir.display())))?;
        // Held until the record exists: `collect_garbage` leaves a directory alone while
        // its creator holds it (the kernel drops it if the creator is killed).
        let _creating = runtime::claim(&dir).map_err(other)?.ok_or_else(|| BackendError::Engine(format!("container directory {} is in use", dir.display())))?;
        let old = replace.and_then(|o| self.store.find(&o.id).ok());
        let mut mounts: Vec<RuntimeMount> = Vec::new();
        let mut anonymous: Vec<(String, String)> = Vec::new();
        let mut volume_mount = |name: Option<String>, target: &str, read_only: bool, nocopy: bool, mounts: &mut Vec<RuntimeMount>| -> Result<()> {
            let (vol, anon) = match name {
                Some(n) => (n, false),
                None => {
                    let reused = old.as_ref().and_then(|o| o.anonymous.iter().find(|(t, _)| t == target).map(|(_, v)| v.clone()));
                    (reused.unwrap_or_else(random_id), true)
                }
            };
            let mut labels = IndexMap::new();
            if anon {
                labels.insert("com.docker.volume.anonymous".to_string(), String::new());
            }
            let data = self.store.ensure_volume(&vol, labels, anon, None)?;
            if anon {
                anonymous.push((target.to_string(), vol.clone()));
            }
            let target = target.to_string();
            match self.store.volume(&vol).and_then(|v| v.local_mount) {
                // The data is the device. Docker copies the image's content into it at create
                // (when empty); a missing device is the start's error (`check_devices`).
                Some(LocalMount::Bind { device, read_only: ro }) => {
                    if !nocopy && device.is_dir() {
                        self.copy_up(&image.layers, &target, &device)?;
                    }
                    mounts.push(RuntimeMount { source: device, target, kind: MountKind::Bind, read_only: read_only || ro });
                }
                // A fresh tmpfs at each start: what Docker copies at create goes with the
                // tmpfs it unmounts, so nothing is copied.
                Some(LocalMount::Tmpfs { options }) => {
                    mounts.push(RuntimeMount { source: options.into(), target, kind: MountKind::TmpfsVolume, read_only });
                }
                None => {
                    if !nocopy {
                        self.copy_up(&image.layers, &target, &data)?;
                    }
                    mounts.push(RuntimeMount { source: data, target, kind: MountKind::Bind, read_only });
                }
            }
            Ok(())
        };
        for m in &spec.mounts {
            match m {
                Mount::Bind { source, target, read_only, create_host_path } => {
                    if *create_host_path && !source.exists() {
                        std::fs::create_dir_all(source).map_err(io(format!("creating {}", source.display())))?;
                    }
                    mounts.push(RuntimeMount { source: source.clone(), target: target.clone(), kind: MountKind::Bind, read_only: *read_only });
                }
                Mount::Volume { name, target, read_only, nocopy } => volume_mount(name.clone(), target, *read_only, *nocopy, &mut mounts)?,
                Mount::Tmpfs { target, size, mode } => {
                    let mut opts = Vec::new();
                    if let Some(s) = size {
                        opts.push(format!("size={s}"));
                    }
                    if let Some(m) = mode {
                        opts.push(format!("mode={m:o}"));
                    }
                    mounts.push(RuntimeMount { source: PathBuf::from(opts.join(",")), target: target.clone(), kind: MountKind::Tmpfs, read_only: false });
                }
            }
        }
        // volumes_from: every mount of the other container (also when it has exited).
        for (source, ro) in &spec.volumes_from {
            let src = self.store.find(source).map_err(|_| BackendError::Engine(format!("volumes_from: no such container: {source}")))?;
            for m in src.mounts.iter().filter(|m| m.kind == MountKind::Bind && !m.target.starts_with("/etc/")) {
                if !mounts.iter().any(|x| x.target == m.target) {
                    mounts.push(RuntimeMount { read_only: m.read_only || *ro, ..m.clone() });
                }
            }
        }
        // Image VOLUMEs nobody mounted become anonymous volumes.
        for v in &image.config.volumes {
            if !mounts.iter().any(|m| m.target == *v) {
                volume_mount(None, v, false, false, &mut mounts)?;
            }
        }

        let hostname = spec.hostname.clone().unwrap_or_else(|| id[..12].to_string());
        let (netns, own_netns, networks) = match &spec.network {
            NetworkMode::Host => (None, false, vec![]),
            NetworkMode::Container(name) => {
                let other = self.store.find(name).map_err(|_| BackendError::Engine(format!("network_mode: no such container: {name}")))?;
                (other.netns.clone(), false, vec![])
            }
            mode => {
                let ns = self.store.root.join("netns").join(id);
                self.net.create_netns(&ns).map_err(other)?;
                let nets = match mode {
                    NetworkMode::DefaultBridge => vec![NetworkAttachment { network: DEFAULT_BRIDGE.into(), aliases: vec![], ipv4_address: None, mac_address: spec.mac_address }],
                    NetworkMode::Networks(n) => n.clone(),
                    _ => vec![],
                };
                (Some(ns), true, nets)
            }
        };
        std::fs::write(dir.join("hostname"), format!("{hostname}\n")).map_err(io("writing hostname"))?;
        std::fs::write(dir.join("hosts"), network::render_hosts(&[("127.0.1.1".into(), own_host_names(&hostname, spec.domainname.as_deref()))])).map_err(io("writing hosts"))?;
        std::fs::write(dir.join("resolv.conf"), resolv_conf(&spec.dns, &spec.dns_search, &spec.dns_opt, matches!(spec.network, NetworkMode::Networks(_)))).map_err(io("writing resolv.conf"))?;
        for f in ["hostname", "hosts", "resolv.conf"] {
            mounts.push(RuntimeMount { source: dir.join(f), target: format!("/etc/{f}"), kind: MountKind::Bind, read_only: false });
        }
        let record = Record {
            id: id.to_string(),
            name: spec.name.clone(),
            created: chrono::Utc::now(),
            image_id: image.id.clone(),
            image_config: image.config.clone(),
            layers: image.layers.clone(),
            spec: spec.clone(),
            mounts,
            anonymous,
            netns,
            own_netns,
            networks,
            hostname,
        };
        self.store.save(&record)?;
        Ok(record)
    }

    /// Removes what a `hoist` killed in the middle of a create left: a container directory
    /// with no record whose creator is gone, and its network namespace (a mount). Runs
    /// before this process's first create and when `down` removes a network. Volumes are
    /// never touched.
    fn collect_garbage(&self) {
        let Ok(entries) = std::fs::read_dir(self.store.root.join("containers")) else { return };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let dir = e.path();
            let young = e.metadata().ok().and_then(|m| m.modified().ok()).and_then(|t| t.elapsed().ok()).is_none_or(|age| age < Duration::from_secs(60));
            if name.starts_with(".removing-") {
                // A removal cut short after the container was taken apart (not one that
                // another process is finishing right now).
                if !young {
                    let _ = std::fs::remove_dir_all(&dir);
                }
                continue;
            }
            if name.starts_with('.') || dir.join("config.json").exists() {
                continue;
            }
            // No claim file yet: made a moment ago (or its creator died right then); a
            // claim someone holds: its create is still running.
            if young && !runtime::has_claim_file(&dir) {
                continue;
            }
            let Ok(Some(_claim)) = runtime::claim(&dir) else { continue };
            let _ = self.net.remove_netns(&self.store.root.join("netns").join(&name));
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}

/// The names of a container's own line in /etc/hosts: with a `domainname`, the FQDN
/// first, as Docker writes it (`hostname -f` and `dnsdomainname` read it from there).
fn own_host_names(hostname: &str, domainname: Option<&str>) -> Vec<String> {
    match domainname.filter(|d| !d.is_empty()) {
        Some(d) => vec![format!("{hostname}.{d}"), hostname.to_string()],
        None => vec![hostname.to_string()],
    }
}

/// The host's resolv.conf without loopback nameservers (they mean nothing inside), or
/// the service's `dns`. Options are Docker's: `dns_opt` (else the host's), and on a user
/// network `ndots:0` unless an `ndots:N` above 0 is set (Docker adds it for its
/// embedded DNS; the line is the same here so lookups behave the same).
fn resolv_conf(dns: &[String], search: &[String], dns_opt: &[String], user_network: bool) -> String {
    let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let mut out = String::new();
    let mut options: Vec<String> = dns_opt.to_vec();
    for l in host.lines() {
        if let Some(o) = l.strip_prefix("options") {
            if dns_opt.is_empty() {
                options.extend(o.split_whitespace().map(String::from));
            }
            continue;
        }
        if !dns.is_empty() && l.starts_with("nameserver") {
            continue;
        }
        if l.starts_with("nameserver") && (l.contains(" 127.") || l.contains(" ::1")) {
            continue;
        }
        if l.starts_with("search") && !search.is_empty() {
            continue;
        }
        out.push_str(l);
        out.push('\n');
    }
    for d in dns {
        out.push_str(&format!("nameserver {d}\n"));
    }
    if !search.is_empty() {
        out.push_str(&format!("search {}\n", search.join(" ")));
    }
    let ndots_set = options.iter().any(|o| o.strip_prefix("ndots:").and_then(|n| n.parse::<u32>().ok()).is_some_and(|n| n > 0));
    if user_network && !ndots_set {
        options.push("ndots:0".into());
    }
    if !options.is_empty() {
        out.push_str(&format!("options {}\n", options.join(" ")));
    }
    out
}

/// A stream over an mpsc receiver.
fn tokio_stream<T: Send + 'static>(mut rx: tokio::sync::mpsc::Receiver<T>) -> impl futures::Stream<Item = T> + Send {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// `80`, `80/udp`, `8000-8002/tcp` (EXPOSE and `expose:` forms) → (port, protocol) pairs.
/// The image's EXPOSE entries (`80`, `53/udp`, `8000-8010/tcp`) as (port, protocol).
fn exposed_ports(specs: &[String]) -> Vec<(u16, String)> {
    let mut out = Vec::new();
    for spec in specs {
        let (range, proto) = spec.split_once('/').unwrap_or((spec.as_str(), "tcp"));
        let (lo, hi) = range.split_once('-').unwrap_or((range, range));
        if let (Ok(lo), Ok(hi)) = (lo.trim().parse::<u16>(), hi.trim().parse::<u16>()) {
            out.extend((lo..=hi.max(lo)).take(1024).map(|p| (p, proto.to_string())));
        }
    }
    out
}
