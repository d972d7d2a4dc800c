//! The one trait every backend implements, and the plain data that crosses it.
//! The plan decides *what* to do; a backend only knows *how* on its engine.

pub mod archive;
pub mod builtin;
pub mod docker;
pub mod dryrun;
pub mod signals;
pub mod swarm;
#[cfg(test)]
pub mod fake;

use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::Stream;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::compose::model::{ExposedPort, ExtraHost, Healthcheck, LocalMount, MacAddress, Port, RestartPolicy, Ulimit};

pub type Result<T, E = BackendError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("no such image: {0}")]
    ImageNotFound(String),
    #[error("no such container: {0}")]
    ContainerNotFound(String),
    #[error("{what}: port is already allocated ({addr})")]
    PortInUse { what: String, addr: String },
    #[error("{0}")]
    Engine(String),
    /// A network or volume that containers still use (`down` warns and goes on, as Compose).
    #[error("{0}")]
    InUse(String),
    /// The container's logging driver keeps nothing to read (`none`); Compose's words.
    #[error("Can't retrieve logs for {0:?}: configured logging driver does not support reading")]
    LogsNotReadable(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl BackendError {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        BackendError::Io { context: context.into(), source }
    }
}

/// Labels as Docker Compose writes them, so its tools see our containers.
pub mod labels {
    pub const PROJECT: &str = "com.docker.compose.project";
    pub const SERVICE: &str = "com.docker.compose.service";
    pub const NUMBER: &str = "com.docker.compose.container-number";
    pub const ONEOFF: &str = "com.docker.compose.oneoff";
    pub const CONFIG_HASH: &str = "com.docker.compose.config-hash";
    pub const WORKING_DIR: &str = "com.docker.compose.project.working_dir";
    pub const CONFIG_FILES: &str = "com.docker.compose.project.config_files";
    pub const VERSION: &str = "com.docker.compose.version";
    pub const NETWORK: &str = "com.docker.compose.network";
    pub const VOLUME: &str = "com.docker.compose.volume";
    pub const DEPENDS_ON: &str = "com.docker.compose.depends_on";
    pub const IMAGE: &str = "com.docker.compose.image";
}

/// Everything a backend needs to create one container, as typed values: the plan builds
/// it from the model and has resolved the project references (volumes, networks, linked
/// containers). Backends read nothing else of the compose file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerSpec {
    /// Engine-side container name (`<project>-<service>-<n>` or `container_name`).
    pub name: String,
    pub project: String,
    pub service_name: String,
    pub number: u32,
    pub oneoff: bool,
    /// Image reference to run.
    pub image: String,
    /// `None`: the image's ENTRYPOINT.
    pub entrypoint: Option<Vec<String>>,
    /// `None`: the image's CMD (none at all when `entrypoint` is set, as with Docker).
    pub command: Option<Vec<String>>,
    /// Final environment (without link variables, which the backend adds).
    pub env: Vec<(String, String)>,
    /// The service's labels and Compose's own.
    pub labels: IndexMap<String, String>,
    pub hostname: Option<String>,
    pub domainname: Option<String>,
    /// `None`: the image's user.
    pub user: Option<String>,
    /// `None`: the image's working directory.
    pub working_dir: Option<String>,
    pub mounts: Vec<Mount>,
    /// Containers whose mounts this one takes, with forced read-only.
    pub volumes_from: Vec<(String, bool)>,
    pub ports: Vec<Port>,
    /// The service's `expose` (image EXPOSE is added by the backend).
    pub expose: Vec<ExposedPort>,
    pub network: NetworkMode,
    /// (source container name, alias).
    pub links: Vec<(String, String)>,
    pub extra_hosts: Vec<ExtraHost>,
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub dns_opt: Vec<String>,
    /// pid / ipc namespaces to join (`host` or `container:<name>`).
    pub pid: Option<String>,
    pub ipc: Option<String>,
    pub tty: bool,
    pub stdin_open: bool,
    pub init: Option<bool>,
    pub privileged: bool,
    pub read_only: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub security_opt: Vec<String>,
    pub group_add: Vec<String>,
    pub sysctls: IndexMap<String, String>,
    pub ulimits: IndexMap<String, Ulimit>,
    pub devices: Vec<crate::compose::model::Device>,
    pub resources: Resources,
    pub cgroup_parent: Option<String>,
    pub oom_score_adj: Option<i64>,
    /// Devices of a driver (GPUs) the engine gives the container: `gpus` (with the `gpu`
    /// capability added, as Compose) then `deploy.resources.reservations.devices`.
    pub device_requests: Vec<crate::compose::model::DeviceRequest>,
    pub userns_mode: Option<String>,
    /// The engine's OCI runtime.
    pub runtime: Option<String>,
    /// `None`: the engine's default (no restart).
    pub restart: Option<RestartPolicy>,
    /// The service's healthcheck; `None`: the image's.
    pub healthcheck: Option<Healthcheck>,
    /// `None`: the image's STOPSIGNAL, else SIGTERM.
    pub stop_signal: Option<String>,
    pub stop_grace_period: Option<Duration>,
    pub config_hash: String,
    /// `None`: the engine's default driver (json-file on the built-in runtime).
    pub logging: Option<crate::compose::logging::Logging>,
    /// The service-level `mac_address`: Docker engines before API 1.44 take it for the
    /// container; otherwise it is the main attachment's (the plan copies it there).
    pub mac_address: Option<MacAddress>,
}

/// cgroup limits of a container (bytes, CPUs, pids).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Resources {
    pub memory: Option<u64>,
    pub memory_reservation: Option<u64>,
    /// -1: unlimited swap.
    pub memory_swap: Option<i64>,
    pub shm_size: Option<u64>,
    pub cpu_shares: Option<u64>,
    pub cpus: Option<f64>,
    pub cpu_quota: Option<i64>,
    pub cpu_period: Option<u64>,
    pub cpuset: Option<String>,
    pub pids_limit: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Mount {
    Bind { source: PathBuf, target: String, read_only: bool, create_host_path: bool },
    /// `name: None` is an anonymous volume; the backend names it and labels it with the container.
    Volume { name: Option<String>, target: String, read_only: bool, nocopy: bool },
    Tmpfs { target: String, size: Option<u64>, mode: Option<u32> },
}

impl Mount {
    pub fn target(&self) -> &str {
        match self {
            Mount::Bind { target, .. } | Mount::Volume { target, .. } | Mount::Tmpfs { target, .. } => target,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub enum NetworkMode {
    /// The engine's default bridge (legacy v1 projects): links are legacy links.
    #[default]
    DefaultBridge,
    /// Project networks (already created by the plan), in priority order.
    Networks(Vec<NetworkAttachment>),
    Host,
    None,
    /// Join another container's network namespace.
    Container(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkAttachment {
    /// Engine-side network name (`<project>_default`).
    pub network: String,
    /// Service name, container name and the service's `aliases`.
    pub aliases: Vec<String>,
    pub ipv4_address: Option<String>,
    pub mac_address: Option<MacAddress>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkSpec {
    /// Engine-side name.
    pub name: String,
    pub project: String,
    pub key: String,
    pub driver: Option<String>,
    pub internal: bool,
    pub attachable: bool,
    pub subnets: Vec<crate::compose::model::IpamConfig>,
    pub labels: IndexMap<String, String>,
    pub external: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeSpec {
    /// Engine-side name.
    pub name: String,
    pub project: String,
    pub key: String,
    pub driver: Option<String>,
    pub driver_opts: IndexMap<String, String>,
    pub labels: IndexMap<String, String>,
    pub external: bool,
    /// The local driver's mount, as read from `driver_opts` (for the built-in runtime).
    pub local_mount: Option<LocalMount>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContainerState {
    Created,
    Running,
    Paused,
    Restarting,
    Exited,
    Dead,
    Removing,
}

impl ContainerState {
    pub fn as_str(self) -> &'static str {
        match self {
            ContainerState::Created => "created",
            ContainerState::Running => "running",
            ContainerState::Paused => "paused",
            ContainerState::Restarting => "restarting",
            ContainerState::Exited => "exited",
            ContainerState::Dead => "dead",
            ContainerState::Removing => "removing",
        }
    }
    pub fn is_running(self) -> bool {
        matches!(self, ContainerState::Running | ContainerState::Restarting | ContainerState::Paused)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    Starting,
    Healthy,
    Unhealthy,
}

impl Health {
    /// Docker's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Starting => "starting",
            Health::Healthy => "healthy",
            Health::Unhealthy => "unhealthy",
        }
    }
}

/// A published port as the engine reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedPort {
    pub host_ip: String,
    pub host_port: u16,
    pub container_port: u16,
    pub protocol: String,
}

/// One container as observed on the engine, read from its labels and state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerSummary {
    pub id: String,
    pub name: String,
    pub project: String,
    pub service: String,
    pub number: u32,
    pub oneoff: bool,
    pub config_hash: String,
    pub image: String,
    pub command: String,
    pub state: ContainerState,
    pub exit_code: Option<i32>,
    pub health: Option<Health>,
    pub created: DateTime<Utc>,
    /// When the container last started (for `ps` status text).
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub ports: Vec<PublishedPort>,
    pub labels: IndexMap<String, String>,
    /// The networks it is attached to, by engine-side name, sorted.
    pub networks: Vec<String>,
    /// Its volumes by name and bind mounts by host path, as `ps` lists them.
    pub mounts: Vec<String>,
    /// How many of its mounts are volumes of the `local` driver.
    pub local_volumes: usize,
}

impl ContainerSummary {
    /// A summary with only what tests care about (`<project>-<service>-<n>`, running).
    pub fn for_test(project: &str, service: &str, number: u32) -> Self {
        ContainerSummary {
            id: format!("id-{service}-{number}"),
            name: format!("{project}-{service}-{number}"),
            project: project.into(),
            service: service.into(),
            number,
            oneoff: false,
            config_hash: String::new(),
            image: String::new(),
            command: String::new(),
            state: ContainerState::Running,
            exit_code: None,
            health: None,
            created: Utc::now(),
            started_at: None,
            finished_at: None,
            ports: vec![],
            labels: IndexMap::new(),
            networks: vec![],
            mounts: vec![],
            local_volumes: 0,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VolumeSummary {
    pub name: String,
    pub driver: String,
    pub mountpoint: String,
    pub labels: IndexMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NetworkSummary {
    pub name: String,
    pub id: String,
    pub driver: String,
    pub labels: IndexMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageSummary {
    pub id: String,
    /// `repo:tag` references.
    pub tags: Vec<String>,
    pub size: u64,
    pub created: Option<DateTime<Utc>>,
}

/// The parts of an image's config the plan and the link variables need.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ImageConfig {
    /// The image's ID (`sha256:<hex>`), filled in by `Backend::image_config`.
    #[serde(skip)]
    pub id: String,
    /// `os/architecture` (`linux/amd64`), filled in by `Backend::image_config`.
    #[serde(skip)]
    pub platform: String,
    pub env: Vec<String>,
    pub cmd: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
    /// `port/proto`.
    pub exposed_ports: Vec<String>,
    pub volumes: Vec<String>,
    pub labels: IndexMap<String, String>,
    pub stop_signal: Option<String>,
    /// The image's HEALTHCHECK, used when the service sets none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<crate::compose::model::Healthcheck>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum PullPolicy {
    Always,
    #[default]
    Missing,
    Never,
}

#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    pub follow: bool,
    pub tail: Option<usize>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub timestamps: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogStream {
    Stdout,
    Stderr,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogLine {
    /// Container name the line came from.
    pub container: String,
    pub stream: LogStream,
    pub time: Option<DateTime<Utc>>,
    /// One line, without its trailing newline.
    pub text: String,
}

pub type LogStreamBox = Pin<Box<dyn Stream<Item = Result<LogLine>> + Send>>;

#[derive(Debug, Clone, Default)]
pub struct ExecSpec {
    pub command: Vec<String>,
    pub env: Vec<(String, String)>,
    pub user: Option<String>,
    pub working_dir: Option<String>,
    pub tty: bool,
    pub interactive: bool,
    pub detach: bool,
    pub privileged: bool,
}

/// A Dockerfile-style change for `image import --change`.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    pub changes: Vec<String>,
}

/// How `attach` joins a container.
#[derive(Debug, Clone, Default)]
pub struct AttachOptions {
    /// Our stdin to the container's (when it keeps stdin open).
    pub stdin: bool,
    /// Docker's `--detach-keys` (`ctrl-p,ctrl-q` when None).
    pub detach_keys: Option<String>,
}

/// What `commit` makes of a container.
#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    /// `repository[:tag]` for the new image; None leaves it untagged.
    pub reference: Option<String>,
    pub author: Option<String>,
    pub message: Option<String>,
    /// Dockerfile instructions applied to its configuration (`CMD ["sh"]`, `ENV A=b` ...).
    pub changes: Vec<String>,
    /// Pause a running container while its changes are read.
    pub pause: bool,
}

/// What `top` shows: a header and one row per process.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProcessList {
    pub titles: Vec<String>,
    pub processes: Vec<Vec<String>>,
}

/// One lifecycle event of a container, as the engine reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerEvent {
    pub time: DateTime<Utc>,
    /// Engine id of the container.
    pub id: String,
    /// Docker's action names: `create`, `start`, `die`, `kill`, `stop`, `destroy`, `pause`,
    /// `unpause`, `rename`, `health_status: healthy`, ...
    pub action: String,
    /// The container's labels, `name`, `image`, and what the action adds (`exitCode` of
    /// `die`, `signal` of `kill`, `oldName` of `rename`).
    pub attributes: IndexMap<String, String>,
}

pub type EventStreamBox = Pin<Box<dyn Stream<Item = Result<ContainerEvent>> + Send>>;

#[derive(Debug, Clone, Default)]
pub struct EventOptions {
    /// Replay the events from this time on (default: only new ones).
    pub since: Option<DateTime<Utc>>,
    /// Stop after this time (default: never).
    pub until: Option<DateTime<Utc>>,
}

/// The resource counters of a running container at one moment. Counters are totals
/// since the container started: rates (CPU %) need two samples.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StatsSample {
    /// When the counters were read.
    pub read: DateTime<Utc>,
    /// CPU time used, in nanoseconds.
    pub cpu_ns: u64,
    /// Memory in use, page cache that can be dropped (inactive files) left out, as Docker counts it.
    pub memory_usage: u64,
    /// The container's memory limit, or the host's memory when it has none.
    pub memory_limit: u64,
    pub net_rx: u64,
    pub net_tx: u64,
    pub block_read: u64,
    pub block_write: u64,
    pub pids: u64,
}

/// Callback the backend uses to report progress of long operations (pulls, creates).
pub type ProgressFn = std::sync::Arc<dyn Fn(ProgressEvent) + Send + Sync>;

#[derive(Debug, Clone)]
pub struct ProgressEvent {
    /// What the event is about: a container, an image, a layer id.
    pub id: String,
    /// Short status text (`Pulling`, `Downloading`, `Pull complete`).
    pub status: String,
    /// Bytes done / total where known.
    pub current: Option<u64>,
    pub total: Option<u64>,
}

/// One engine: the built-in runtime, Docker, ...
#[async_trait]
pub trait Backend: Send + Sync {
    fn name(&self) -> &'static str;

    // containers
    /// Every container of the project (one-off ones too), from labels.
    async fn list_containers(&self, project: &str, all: bool) -> Result<Vec<ContainerSummary>>;
    /// Containers of every project (for `ls`).
    async fn list_all_projects(&self) -> Result<Vec<ContainerSummary>>;
    async fn create_container(&self, spec: &ContainerSpec, replace: Option<&ContainerSummary>) -> Result<String>;
    async fn start_container(&self, id: &str) -> Result<()>;
    async fn stop_container(&self, id: &str, timeout: Option<Duration>) -> Result<()>;
    async fn kill_container(&self, id: &str, signal: &str) -> Result<()>;
    async fn remove_container(&self, id: &str, force: bool, volumes: bool) -> Result<()>;
    async fn rename_container(&self, id: &str, new_name: &str) -> Result<()>;
    async fn pause_container(&self, id: &str) -> Result<()>;
    async fn unpause_container(&self, id: &str) -> Result<()>;
    async fn inspect_container(&self, id: &str) -> Result<ContainerSummary>;
    /// Blocks until the container exits; returns its exit code.
    async fn wait_container(&self, id: &str) -> Result<i32>;
    async fn logs(&self, containers: &[ContainerSummary], opts: &LogOptions) -> Result<LogStreamBox>;
    /// Runs a command in a running container with the caller's stdio; returns its exit code.
    async fn exec(&self, id: &str, spec: &ExecSpec) -> Result<i32>;
    /// Attaches the caller's stdio to a created container, starts it, and returns its exit code.
    async fn attach_and_start(&self, id: &str, tty: bool, interactive: bool) -> Result<i32>;
    async fn top(&self, id: &str) -> Result<ProcessList>;

    // networks
    async fn ensure_network(&self, spec: &NetworkSpec) -> Result<()>;
    async fn remove_network(&self, name: &str) -> Result<()>;
    async fn list_networks(&self, project: &str) -> Result<Vec<NetworkSummary>>;

    // volumes
    async fn ensure_volume(&self, spec: &VolumeSpec) -> Result<()>;
    async fn remove_volume(&self, name: &str) -> Result<()>;
    async fn list_volumes(&self, project: Option<&str>) -> Result<Vec<VolumeSummary>>;

    // images
    async fn image_config(&self, reference: &str) -> Result<Option<ImageConfig>>;
    async fn pull_image(&self, reference: &str, progress: ProgressFn) -> Result<()>;
    async fn import_image(&self, tarball: &std::path::Path, reference: &str, opts: &ImportOptions) -> Result<String>;
    async fn list_images(&self) -> Result<Vec<ImageSummary>>;
    async fn remove_image(&self, reference: &str, force: bool) -> Result<()>;

    /// Builds an image from a context and a Dockerfile; returns the image id.
    async fn build_image(&self, spec: &BuildSpec, _progress: ProgressFn) -> Result<String> {
        Err(BackendError::Engine(format!("{}: building images is not supported yet ({})", self.name(), spec.tags.join(", "))))
    }
    /// Pushes an image to the registry its name points at.
    async fn push_image(&self, reference: &str, _progress: ProgressFn) -> Result<()> {
        Err(BackendError::Engine(format!("{}: pushing {reference} is not supported yet", self.name())))
    }
    /// Gives an image another name.
    async fn tag_image(&self, source: &str, target: &str) -> Result<()> {
        Err(BackendError::Engine(format!("{}: tagging {source} as {target} is not supported yet", self.name())))
    }
    /// Loads a `docker save` / OCI archive; returns the references loaded.
    async fn load_images(&self, archive: &std::path::Path) -> Result<Vec<String>> {
        Err(BackendError::Engine(format!("{}: loading {} is not supported yet", self.name(), archive.display())))
    }

    fn version(&self) -> String {
        self.name().to_string()
    }

    /// A dry run's backend (`--dry-run`): it changes nothing, and the executor writes
    /// nothing on the host either.
    fn dry_run(&self) -> bool {
        false
    }

    // Events and stats
    /// Lifecycle events of the project's containers (one-off ones too): those since
    /// `opts.since`, then new ones as they happen; the stream ends after `opts.until`.
    async fn events(&self, project: &str, opts: &EventOptions) -> Result<EventStreamBox>;
    /// The resource counters of a running container, read now.
    async fn stats(&self, id: &str) -> Result<StatsSample>;

    // Files (cp, watch): archives cross as streams, so their size never sits in memory.
    /// A tar archive of `path` in the container, as Docker's archive API gives it: one top
    /// entry named after the path's last component (a directory with all below it). A
    /// symlink at `path` is archived as the link, or followed with `follow_link` (`cp -L`).
    /// A missing path is an error here, before the stream.
    async fn copy_from_container(&self, id: &str, path: &str, _follow_link: bool) -> Result<archive::TarStream> {
        Err(BackendError::Engine(format!("{}: copying {path} out of {id} is not supported", self.name())))
    }
    /// Unpacks a tar archive into the directory `dest` of the container (which must exist);
    /// missing parent directories of entries are created. Entries keep their owner with
    /// `copy_uid_gid` (`cp -a`), else they belong to root.
    async fn copy_to_container(&self, id: &str, dest: &str, _archive: archive::TarStream, _copy_uid_gid: bool) -> Result<()> {
        Err(BackendError::Engine(format!("{}: copying into {dest} of {id} is not supported", self.name())))
    }
    /// What is at `path` in the container (symlinks followed): `Some(true)` a directory,
    /// `Some(false)` something else, `None` nothing.
    async fn is_dir_in_container(&self, id: &str, path: &str) -> Result<Option<bool>> {
        Err(BackendError::Engine(format!("{}: looking at {path} in {id} is not supported", self.name())))
    }
    /// Removes files or directories (recursively) from the container; missing ones are skipped.
    async fn remove_from_container(&self, id: &str, paths: &[String]) -> Result<()> {
        Err(BackendError::Engine(format!("{}: removing {} from {id} is not supported", self.name(), paths.join(", "))))
    }
    /// `attach`: the running container's output to ours (and our stdin to it with
    /// `opts.stdin`) until it exits (its exit code) or the detach keys are typed (0).
    async fn attach(&self, id: &str, _opts: &AttachOptions) -> Result<i32> {
        Err(BackendError::Engine(format!("{}: attaching to {id} is not supported", self.name())))
    }
    /// `docker commit`: a new image of the container's changes on its image, with the
    /// container's configuration and `opts.changes` (Dockerfile lines) applied; returns its ID.
    async fn commit_container(&self, id: &str, _opts: &CommitOptions) -> Result<String> {
        Err(BackendError::Engine(format!("{}: committing {id} is not supported", self.name())))
    }
    /// The container's filesystem as a tar archive, as `docker export` writes it: its
    /// image's files with its changes, no volume or bind mount, entries named from `/`.
    async fn export_container(&self, id: &str) -> Result<archive::TarStream> {
        Err(BackendError::Engine(format!("{}: exporting {id} is not supported", self.name())))
    }
}

/// What to build: the resolved `build:` section of a service.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BuildSpec {
    /// Absolute path of the build context.
    pub context: PathBuf,
    /// Dockerfile path relative to the context (default `Dockerfile`).
    pub dockerfile: Option<String>,
    /// Inline Dockerfile content (wins over `dockerfile`).
    pub dockerfile_inline: Option<String>,
    pub args: Vec<(String, String)>,
    pub target: Option<String>,
    pub labels: IndexMap<String, String>,
    pub no_cache: bool,
    /// Always try to pull newer base images.
    pub pull: bool,
    /// Names to give the result (the first is the service's image).
    pub tags: Vec<String>,
}
