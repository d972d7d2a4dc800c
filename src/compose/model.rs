//! The normalized compose model: what every compose file, of either generation, becomes
//! once loaded, interpolated, merged and validated. Backends and the plan read only this.
//!
//! Short syntaxes are already expanded here (ports, volumes, depends_on, links, ...), so
//! consumers never parse compose strings themselves. `schemas/compose.schema.json` is
//! generated from these types.

use std::collections::BTreeMap;
use std::path::PathBuf;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use super::values::{Device, Duration, ExposedPort, ExtraHost, MacAddress, NetworkMode, PullPolicy, RestartPolicy, ShareMode, Tmpfs};

/// A whole project: the merged result of all its compose files.
// No `deny_unknown_fields` on Project and Service: serde does not support it together with
// the flattened `x-*` extensions (every extension was refused); the schema keeps the rule.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(extend("patternProperties" = {"^x-": {}}, "additionalProperties" = false))]
pub struct Project {
    /// Normalized project name (`[a-z0-9_-]`, starts with a letter or digit).
    pub name: String,
    /// The project directory: relative paths in the files resolve against it.
    #[serde(default, skip_serializing_if = "is_default")]
    pub working_dir: PathBuf,
    /// The files this project was loaded from, in merge order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub config_files: Vec<PathBuf>,
    /// True when the (first) file is the legacy v1 format: services at the top level.
    /// v1 projects use the default bridge and Docker's legacy links, as docker-compose 1.x did.
    #[serde(default, skip_serializing_if = "is_default")]
    pub legacy: bool,
    pub services: IndexMap<String, Service>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub networks: IndexMap<String, Network>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub volumes: IndexMap<String, Volume>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub configs: IndexMap<String, FileObject>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub secrets: IndexMap<String, FileObject>,
    /// Services left out by profiles (kept so `config --profiles` can list them).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub disabled_services: IndexMap<String, Service>,
    /// No compose file: `-p NAME` alone, the project known only by its containers,
    /// networks and volumes (their labels), as Compose acts on one. Never printed.
    #[serde(skip)]
    pub from_labels: bool,
    /// `--compatibility` (`COMPOSE_COMPATIBILITY`): containers are named with `_` as
    /// docker-compose 1.x named them (`project_web_1`). Never printed.
    #[serde(skip)]
    pub compatibility: bool,
    /// `--all-resources`: the file's networks and volumes are created even when no
    /// service uses them. Never printed.
    #[serde(skip)]
    pub all_resources: bool,
    /// Top-level `x-*` extensions, kept as they were.
    #[serde(default, flatten, skip_serializing_if = "IndexMap::is_empty")]
    pub extensions: IndexMap<String, serde_json::Value>,
}

impl Project {
    /// What joins project, service and number in container names: `-`, or `_` in
    /// compatibility mode.
    pub fn separator(&self) -> char {
        if self.compatibility { '_' } else { '-' }
    }
}

/// One service, normalized. Every compose-spec service key has a field here, even the
/// ones a backend does not act on yet, so nothing a user wrote is silently dropped.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(extend("patternProperties" = {"^x-": {}}, "additionalProperties" = false))]
pub struct Service {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build: Option<Build>,
    /// `None` means "the image's CMD". A string command is split with shell rules.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    /// Final environment: env_file entries, then `environment` on top. `None` values are
    /// variables named without a value and not found in the environment (unset in the container).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub environment: IndexMap<String, Option<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env_file: Vec<EnvFile>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<Port>,
    /// Exposed container ports, one per port (ranges expanded), printed as `port/proto`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expose: Vec<ExposedPort>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<ServiceVolume>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes_from: Vec<VolumesFrom>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub depends_on: IndexMap<String, DependsOn>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub external_links: Vec<Link>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_mode: Option<NetworkMode>,
    /// Networks the service joins; empty means the project's `default` network.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub networks: IndexMap<String, ServiceNetwork>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Healthcheck>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart: Option<RestartPolicy>,
    /// Replica count from `scale` or `deploy.replicas` (absent = 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scale: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deploy: Option<Deploy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_grace_period: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domainname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub privileged: bool,
    #[serde(default, skip_serializing_if = "is_default")]
    pub read_only: bool,
    #[serde(default, skip_serializing_if = "is_default")]
    pub tty: bool,
    #[serde(default, skip_serializing_if = "is_default")]
    pub stdin_open: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cap_add: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cap_drop: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_search: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_opt: Vec<String>,
    /// Printed as `host:ip`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_hosts: Vec<ExtraHost>,
    /// `labels:` over the labels of the `label_file:` files (read at load, in order).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub labels: IndexMap<String, String>,
    /// Bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mem_limit: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mem_reservation: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memswap_limit: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shm_size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_shares: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpus: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_quota: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_period: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpuset: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pids_limit: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cgroup_parent: Option<String>,
    /// -1000..=1000.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oom_score_adj: Option<i64>,
    /// `gpus:` (`all` is one request for every GPU).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gpus: Vec<DeviceRequest>,
    /// The container's address on its main network (the first by priority).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac_address: Option<MacAddress>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub userns_mode: Option<String>,
    /// The engine's OCI runtime (`runc`, `runsc`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
    /// Container annotations (`annotations:`), kept on Kubernetes pods.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub annotations: IndexMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_opt: Vec<String>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub sysctls: IndexMap<String, String>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub ulimits: IndexMap<String, Ulimit>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<Device>,
    /// `tmpfs:` entries (`/path[:options]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tmpfs: Vec<Tmpfs>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_add: Vec<String>,
    /// `host`, `service:X`, `container:X`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<ShareMode>,
    /// `pid`'s and the engine's `private`, `shareable`, `none`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipc: Option<ShareMode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pull_policy: Option<PullPolicy>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logging: Option<super::logging::Logging>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub develop: Option<Develop>,
    /// Commands run in each container right after it starts, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post_start: Vec<ServiceHook>,
    /// Commands run in each running container before it is stopped, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pre_stop: Vec<ServiceHook>,
    /// `attach: false`: attached `up` and `logs` leave its output out unless it is named
    /// (see `Service::attached`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attach: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub configs: Vec<FileRef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<FileRef>,
    /// Every other compose-spec service key (`blkio_config`, `storage_opt`,
    /// ...), stored as written: nothing downstream reads these.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub other: IndexMap<String, serde_json::Value>,
    /// `x-*` keys of the service.
    #[serde(default, flatten, skip_serializing_if = "IndexMap::is_empty")]
    pub extensions: IndexMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Build {
    /// Absolute path (or URL) of the build context.
    pub context: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dockerfile: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dockerfile_inline: Option<String>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub args: IndexMap<String, Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub labels: IndexMap<String, String>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub no_cache: bool,
    #[serde(default, skip_serializing_if = "is_default")]
    pub pull: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cache_from: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub other: IndexMap<String, serde_json::Value>,
}

/// `develop:` of a service: what `watch` does when files of the project change.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Develop {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub watch: Vec<WatchRule>,
}

/// One `develop.watch` rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WatchRule {
    /// Absolute host path watched (recursively when a directory).
    pub path: PathBuf,
    pub action: WatchAction,
    /// Absolute path in the container that `path` is synced to (sync actions only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// `.dockerignore`-style patterns, relative to `path`, of changes that do nothing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore: Vec<String>,
    /// When set, only changes matching one of these patterns (relative to `path`) count.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
    /// Sync everything under `path` when the watch starts.
    #[serde(default, skip_serializing_if = "is_default")]
    pub initial_sync: bool,
    /// The command of a `sync+exec` rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exec: Option<ServiceHook>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum WatchAction {
    #[serde(rename = "sync")]
    Sync,
    #[serde(rename = "rebuild")]
    Rebuild,
    #[serde(rename = "restart")]
    Restart,
    #[serde(rename = "sync+restart")]
    SyncRestart,
    #[serde(rename = "sync+exec")]
    SyncExec,
}

impl WatchAction {
    pub const NAMES: [&str; 5] = ["sync", "rebuild", "restart", "sync+restart", "sync+exec"];

    pub fn as_str(self) -> &'static str {
        match self {
            WatchAction::Sync => "sync",
            WatchAction::Rebuild => "rebuild",
            WatchAction::Restart => "restart",
            WatchAction::SyncRestart => "sync+restart",
            WatchAction::SyncExec => "sync+exec",
        }
    }

    /// Whether the rule copies files (and so needs a `target`).
    pub fn syncs(self) -> bool {
        matches!(self, WatchAction::Sync | WatchAction::SyncRestart | WatchAction::SyncExec)
    }
}

/// A command run in a service's containers: a `post_start`/`pre_stop` hook, or the `exec:`
/// of a `sync+exec` watch rule (one type in the Compose Specification too).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceHook {
    pub command: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub environment: IndexMap<String, String>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub privileged: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvFile {
    pub path: PathBuf,
    #[serde(default = "yes")]
    pub required: bool,
}

/// One published or exposed port mapping. Ranges are expanded: `8000-8001:80-81` is two.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Port {
    /// Container port.
    pub target: u16,
    /// Host port; `None` lets the backend pick a free one. Printed as a string, as
    /// Compose prints it.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "port_text")]
    #[schemars(with = "Option<String>")]
    pub published: Option<u16>,
    /// Host address to bind; `None` means all addresses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_ip: Option<String>,
    /// `tcp` or `udp` (or `sctp`).
    pub protocol: String,
    /// `ingress` or `host` (swarm).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_protocol: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum VolumeType {
    Bind,
    Volume,
    Tmpfs,
    Npipe,
    Cluster,
    Image,
}

/// A mount of a service, long form. Short syntax is converted:
/// `/data` → anonymous volume; `name:/data` → named volume; `./dir:/data:ro` → bind with
/// an absolute source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceVolume {
    #[serde(rename = "type")]
    pub kind: VolumeType,
    /// Bind: absolute host path. Volume: the project-level volume key (`None` = anonymous).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Absolute path in the container.
    pub target: String,
    #[serde(default, skip_serializing_if = "is_default")]
    pub read_only: bool,
    /// Bind only: create the host path when missing (true for short syntax, as Docker does).
    #[serde(default, skip_serializing_if = "is_default")]
    pub create_host_path: bool,
    /// `z`, `Z`, or bind propagation, as written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
    /// Volume only: do not copy the image's content into a new volume.
    #[serde(default, skip_serializing_if = "is_default")]
    pub nocopy: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tmpfs_size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tmpfs_mode: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VolumesFrom {
    pub source: VolumesFromSource,
    #[serde(default, skip_serializing_if = "is_default")]
    pub read_only: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum VolumesFromSource {
    /// Another service of the project (its first container).
    Service(String),
    /// A container by name, outside the project.
    Container(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DependsCondition {
    #[default]
    ServiceStarted,
    ServiceHealthy,
    ServiceCompletedSuccessfully,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DependsOn {
    pub condition: DependsCondition,
    #[serde(default, skip_serializing_if = "is_default")]
    pub restart: bool,
    #[serde(default = "yes")]
    pub required: bool,
}

/// `svc` or `svc:alias`; `alias` is the service (or container) name when none was given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Link {
    pub target: String,
    pub alias: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceNetwork {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipv4_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipv6_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac_address: Option<MacAddress>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Healthcheck {
    /// `["CMD", ...]`, `["CMD-SHELL", "..."]` or `["NONE"]` (a string test becomes CMD-SHELL).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub test: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_period: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_interval: Option<Duration>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub disable: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Ulimit {
    pub soft: i64,
    pub hard: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// Real name on the engine: `<project>_<key>` unless `name:` or external.
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub driver_opts: IndexMap<String, String>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub external: bool,
    #[serde(default, skip_serializing_if = "is_default")]
    pub internal: bool,
    #[serde(default, skip_serializing_if = "is_default")]
    pub attachable: bool,
    #[serde(default, skip_serializing_if = "is_default")]
    pub enable_ipv6: bool,
    /// Subnets from `ipam.config[].subnet`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subnets: Vec<IpamConfig>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub labels: IndexMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IpamConfig {
    pub subnet: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_range: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Volume {
    /// Real name: `<project>_<key>` unless `name:` or external.
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub driver_opts: IndexMap<String, String>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub external: bool,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub labels: IndexMap<String, String>,
    /// What the local driver mounts, read from `driver_opts` by the loader when they are
    /// a form the built-in runtime applies (`None` for a plain directory, or other options).
    #[serde(skip)]
    pub local_mount: Option<LocalMount>,
}

/// A local-driver volume's `driver_opts` that the built-in runtime applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum LocalMount {
    /// `type: none, o: bind, device: DIR`: the volume's data is the host directory DIR.
    Bind { device: PathBuf, read_only: bool },
    /// `type: tmpfs, device: tmpfs, o: size=..`: a fresh tmpfs each time it is mounted,
    /// `options` its mount data (`size=10m,uid=1000`).
    Tmpfs { options: String },
}

impl LocalMount {
    /// `tmpfs` mount data the built-in runtime passes on (flags such as `noexec` it does not).
    const TMPFS_OPTIONS: [&str; 6] = ["size", "mode", "uid", "gid", "nr_inodes", "nr_blocks"];

    /// Reads a local volume's `driver_opts`: `Ok(None)` when they are not one of the two
    /// forms above (another backend may still apply them), an error when the value can
    /// mean nothing anywhere (a bind `device` that is not an absolute path).
    pub fn parse<'a>(opts: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Option<LocalMount>, String> {
        let (mut kind, mut o, mut device) = (None, "", None);
        for (k, v) in opts {
            match k {
                "type" => kind = Some(v),
                "o" => o = v,
                "device" => device = Some(v),
                _ => return Ok(None),
            }
        }
        let flags: Vec<&str> = o.split(',').map(str::trim).filter(|f| !f.is_empty()).collect();
        match (kind, device) {
            (Some("none"), Some(device)) if flags.iter().any(|f| matches!(*f, "bind" | "rbind")) => {
                if !std::path::Path::new(device).is_absolute() {
                    return Err(format!("driver_opts.device {device:?} of a bind volume must be an absolute path"));
                }
                if !flags.iter().all(|f| matches!(*f, "bind" | "rbind" | "ro" | "rw")) {
                    return Ok(None);
                }
                Ok(Some(LocalMount::Bind { device: device.into(), read_only: flags.contains(&"ro") }))
            }
            (Some("tmpfs"), _) => {
                let known = |f: &&str| f.split_once('=').is_some_and(|(k, _)| Self::TMPFS_OPTIONS.contains(&k));
                Ok(flags.iter().all(known).then(|| LocalMount::Tmpfs { options: flags.join(",") }))
            }
            _ => Ok(None),
        }
    }
}

/// A top-level `configs:` or `secrets:` entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileObject {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub external: bool,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub labels: IndexMap<String, String>,
    /// The value of the `environment:` variable, read by the loader. Never printed.
    #[serde(skip)]
    pub value: Option<String>,
    /// SHA-256 of the data (`content`, the variable's value, or the file as read at load
    /// time), so a container's config hash changes with it. Never printed.
    #[serde(skip)]
    pub digest: Option<String>,
}

/// A service's `secrets:` / `configs:` entry, read once by the loader (`- name` is
/// `{source: name}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileRef {
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<String>,
    /// Printed as octal digits (`"0440"`), which every reader of a compose file takes as octal.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "octal_mode")]
    #[schemars(with = "Option<String>")]
    pub mode: Option<u32>,
}

mod port_text {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(port: &Option<u16>, s: S) -> Result<S::Ok, S::Error> {
        match port {
            Some(p) => s.collect_str(p),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u16>, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Number(u16),
            Text(String),
        }
        match Option::<Either>::deserialize(d)? {
            None => Ok(None),
            Some(Either::Number(n)) => Ok(Some(n)),
            Some(Either::Text(t)) => t.parse().map(Some).map_err(serde::de::Error::custom),
        }
    }
}

mod octal_mode {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(mode: &Option<u32>, s: S) -> Result<S::Ok, S::Error> {
        match mode {
            Some(m) => s.serialize_str(&format!("0{m:o}")),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
        let text = Option::<String>::deserialize(d)?;
        text.map(|t| u32::from_str_radix(&t, 8).map_err(serde::de::Error::custom)).transpose()
    }
}

impl Service {
    /// Replicas wanted when no `--scale` overrides it.
    pub fn replicas(&self) -> u32 {
        self.scale.unwrap_or(1)
    }

    /// Whether attached `up` and `logs` show this service's output without being asked to.
    pub fn attached(&self) -> bool {
        self.attach != Some(false)
    }

    /// The engine's restart policy for the service's containers, as Docker Compose sets it
    /// outside swarm: `deploy.restart_policy` (its condition and max_attempts) wins over
    /// `restart`. A retry count goes with on-failure only (the engine takes it nowhere else),
    /// and 0 is the engine's "no limit".
    pub fn restart_policy(&self) -> Option<RestartPolicy> {
        let Some(rp) = self.deploy.as_ref().and_then(|d| d.restart_policy.as_ref()) else { return self.restart };
        let attempts = rp.max_attempts.filter(|n| *n > 0).map(|n| u32::try_from(n).unwrap_or(u32::MAX));
        Some(match rp.condition {
            None | Some(RestartCondition::None | RestartCondition::No) => RestartPolicy::No,
            Some(RestartCondition::OnFailure) => RestartPolicy::OnFailure(attempts),
            Some(RestartCondition::UnlessStopped) => RestartPolicy::UnlessStopped,
            Some(RestartCondition::Any | RestartCondition::Always) => RestartPolicy::Always,
        })
    }
}

/// Parses a compose duration (`1m30s`, `500ms`, `10s`, `2h`, or bare seconds) into
/// a std Duration. Returns None for malformed input (validation rejects those earlier).
pub fn parse_duration(s: &str) -> Option<std::time::Duration> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    // Bare seconds: digits and a dot only (`inf`, `NaN` and `1e400` parse as f64 too).
    if s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return s.parse::<f64>().ok().and_then(|secs| std::time::Duration::try_from_secs_f64(secs).ok());
    }
    let mut total = 0f64;
    let mut num = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let mut unit = c.to_string();
        while let Some(&n) = chars.peek() {
            if n.is_ascii_alphabetic() || n == 'µ' {
                unit.push(n);
                chars.next();
            } else {
                break;
            }
        }
        let v: f64 = num.parse().ok()?;
        num.clear();
        let mult = match unit.as_str() {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86400.0,
            _ => return None,
        };
        total += v * mult;
    }
    if !num.is_empty() {
        return None;
    }
    std::time::Duration::try_from_secs_f64(total).ok()
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

fn yes() -> bool {
    true
}

/// Sorted view used for stable hashing of maps.
pub type SortedMap = BTreeMap<String, String>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("10"), Some(Duration::from_secs(10)));
        assert_eq!(parse_duration("1x"), None);
        assert_eq!(parse_duration(""), None);
    }
}

/// `deploy:`, typed: swarm, the Kubernetes export and the local backends read these
/// fields; none re-reads the file. Keys print in Compose's order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Deploy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<DeployMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u32>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub labels: IndexMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_config: Option<UpdateConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_config: Option<UpdateConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<DeployResources>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_policy: Option<DeployRestartPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<Placement>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_mode: Option<EndpointMode>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum DeployMode {
    Replicated,
    Global,
    ReplicatedJob,
    GlobalJob,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum EndpointMode {
    Vip,
    Dnsrr,
}

/// `update_config` or `rollback_config` (rollback takes no `failure_action: rollback`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallelism: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_action: Option<FailureAction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitor: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_failure_ratio: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<UpdateOrder>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FailureAction {
    Continue,
    Pause,
    Rollback,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum UpdateOrder {
    StopFirst,
    StartFirst,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeployRestartPolicy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<RestartCondition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<Duration>,
}

/// `deploy.restart_policy.condition`: swarm's three, and the engine's names Compose also
/// takes for local containers (`no`, `always`, `unless-stopped`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RestartCondition {
    None,
    OnFailure,
    Any,
    No,
    Always,
    UnlessStopped,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Placement {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub constraints: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub preferences: Vec<PlacementPreference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_replicas_per_node: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlacementPreference {
    pub spread: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeployResources {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<ResourceLimits>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservations: Option<ResourceReservations>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceLimits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<f64>,
    /// Bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pids: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceReservations {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<f64>,
    /// Bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<DeviceRequest>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub generic_resources: Vec<GenericResource>,
}

/// A request for devices of a driver (GPUs): `deploy.resources.reservations.devices[]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceRequest {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capabilities: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<DeviceCount>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub device_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub options: IndexMap<String, String>,
}

/// `count:` of a device request: a number, or `all` (the engine's -1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum DeviceCount {
    Count(u32),
    All(AllDevices),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AllDevices {
    All,
}

impl DeviceCount {
    /// As the engine takes it.
    pub fn engine(self) -> i64 {
        match self {
            DeviceCount::Count(n) => i64::from(n),
            DeviceCount::All(_) => -1,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GenericResource {
    pub discrete_resource_spec: DiscreteResource,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DiscreteResource {
    pub kind: String,
    pub value: i64,
}

impl Deploy {
    pub fn limits(&self) -> ResourceLimits {
        self.resources.as_ref().and_then(|r| r.limits.clone()).unwrap_or_default()
    }

    pub fn reservations(&self) -> ResourceReservations {
        self.resources.as_ref().and_then(|r| r.reservations.clone()).unwrap_or_default()
    }
}
