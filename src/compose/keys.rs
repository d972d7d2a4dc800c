//! Every property of the Compose Specification, with what each local backend does with it
//! (applied, warned about, refused), and the load-time pass that warns or refuses by it.
//!
//! The table is the one truth: `docs/compose-keys.md` is checked against it, and a test
//! walks the Compose Specification schema so that no property can be missing from it.
//! Statuses were found by reading each key's path through the loader, the plan and the
//! backends, and by trying keys on both backends; where a backend does less than Docker
//! Compose, the row says so instead of accepting the key in silence.

use super::error::{ComposeError, Loc, Result};
use super::yaml::{Node, Sources, Val};

/// The local backends the table speaks of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Builtin,
    Docker,
}

impl Backend {
    pub fn label(self) -> &'static str {
        match self {
            Backend::Builtin => "the built-in runtime",
            Backend::Docker => "the Docker backend",
        }
    }
}

/// What a backend does with a key that is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Done as Docker Compose does it.
    Applied,
    /// Accepted, but not (fully) done: a warning on stderr says what is missing.
    Warned(&'static str),
    /// Refused when the file is loaded: running without it would not be what the file says.
    Refused(&'static str),
}

impl Status {
    pub fn word(self) -> &'static str {
        match self {
            Status::Applied => "applied",
            Status::Warned(_) => "warned",
            Status::Refused(_) => "refused",
        }
    }

    pub fn reason(self) -> Option<&'static str> {
        match self {
            Status::Applied => None,
            Status::Warned(r) | Status::Refused(r) => Some(r),
        }
    }
}

/// One property path of the specification: `services.*.ports[].target` (`*` a name the
/// file chooses, `[]` an item of a list).
#[derive(Debug, Clone, Copy)]
pub struct Key {
    pub path: &'static str,
    pub builtin: Status,
    pub docker: Status,
    pub note: &'static str,
    /// For a key whose effect depends on its value: true when the backend does apply
    /// this value (then neither warning nor refusal, whatever the status).
    pub applied_if: Option<fn(Backend, &Node) -> bool>,
    /// A legacy v1 key (not in the specification; accepted in v1 files only).
    pub legacy: bool,
}

impl Key {
    pub fn status(&self, b: Backend) -> Status {
        match b {
            Backend::Builtin => self.builtin,
            Backend::Docker => self.docker,
        }
    }

    /// The status that holds for this value of the key.
    pub fn status_for(&self, b: Backend, value: &Node) -> Status {
        if self.applied_if.is_some_and(|f| f(b, value)) { Applied } else { self.status(b) }
    }

    const fn when(mut self, f: fn(Backend, &Node) -> bool) -> Key {
        self.applied_if = Some(f);
        self
    }

    const fn legacy(mut self) -> Key {
        self.legacy = true;
        self
    }
}

use Status::{Applied, Refused, Warned};

const fn k(path: &'static str, builtin: Status, docker: Status, note: &'static str) -> Key {
    Key { path, builtin, docker, note, applied_if: None, legacy: false }
}

/// Applied by both backends.
const fn a(path: &'static str, note: &'static str) -> Key {
    k(path, Applied, Applied, note)
}

/// The same status on both backends.
const fn both(path: &'static str, s: Status, note: &'static str) -> Key {
    k(path, s, s, note)
}

// Reasons shared by several rows.
const SWARM: Status = Warned("only a swarm uses it (`--backend swarm`); Docker Compose ignores it too");
const WINDOWS: Status = Warned("Windows containers only; nothing to do on Linux");
const RETRIES_ON_FAILURE: Status =
    Refused("max_attempts goes with condition: on-failure only on one engine (Docker refuses a retry count with another policy; a swarm takes it)");
const NOT_PASSED: Status = Warned("not passed to the engine yet");
const NOT_BUILTIN: Status = Warned("not implemented by the built-in runtime yet");
const BUILD_NOT_PASSED: Status = Warned("not passed to the builder yet");
const LOG_DRIVER: Status = Refused("the built-in runtime has only the json-file, local and none logging drivers");
const LOG_OPTIONS: Status = Warned("the built-in runtime applies only max-size and max-file (and compress: false) to its log files");
const CPU_RESERVATION: Status = Warned("a swarm scheduling option: Docker Compose does not apply it outside a swarm either");
const BLKIO: Status = Warned("block I/O limits are not applied yet");
const NET_ATTACH: Status = Warned("not applied to the container's network endpoint yet");
const NET_OPTS: Status = Warned("not passed to the network yet");
const BIND_OPTS: Status = Warned("bind options are not applied yet (the mount is a plain recursive bind)");
const RESTART_TIMING: Status =
    Warned("the engine has no restart delay or window (it backs off on its own): Docker Compose does not apply it outside a swarm either");
const GPU: Status = Refused("the built-in runtime cannot give a container GPUs or other devices of a driver: use --backend docker");
const PROVIDER: Status = Refused("provider services are not supported: no provider plugin is run");
const MODELS: Status = Refused("AI models are not supported");
const FILE_SWARM: Status = Warned("only a swarm uses it; a local file is mounted as it is");

fn is_true(n: &Node) -> bool {
    matches!(n.v, Val::Bool(true)) || n.as_str().is_some_and(|s| s.eq_ignore_ascii_case("true"))
}

fn is_false(n: &Node) -> bool {
    matches!(n.v, Val::Bool(false)) || n.as_str().is_some_and(|s| s.eq_ignore_ascii_case("false"))
}

fn text_is(n: &Node, values: &[&str]) -> bool {
    n.scalar_text().is_some_and(|s| values.contains(&s.as_str()))
}

fn local_driver(n: &Node) -> bool {
    text_is(n, &["local"])
}

fn bridge_driver(n: &Node) -> bool {
    text_is(n, &["bridge"])
}

/// `security_opt` entries the built-in runtime applies.
fn builtin_security_opts(n: &Node) -> bool {
    let applied = |o: &str| {
        matches!(o, "no-new-privileges" | "no-new-privileges:true" | "no-new-privileges=true")
            || o.strip_prefix("seccomp").and_then(|r| r.strip_prefix(['=', ':'])).is_some_and(|p| matches!(p, "unconfined" | "default" | "builtin"))
    };
    every_item(n, applied)
}

/// `tmpfs` entries with only `size=`/`mode=` options.
fn tmpfs_size_mode_only(n: &Node) -> bool {
    every_item(n, |t| {
        let opts = t.split_once(':').map(|(_, o)| o).unwrap_or("");
        opts.split(',').filter(|o| !o.is_empty()).all(|o| o.starts_with("size=") || o.starts_with("mode="))
    })
}

/// Short-syntax volume entries without SELinux (`z`, `Z`) or propagation options.
fn volumes_without_ignored_modes(n: &Node) -> bool {
    const IGNORED: &[&str] = &["z", "Z", "shared", "rshared", "slave", "rslave", "private", "rprivate"];
    let Val::Seq(items) = &n.v else { return true };
    items.iter().filter_map(Node::as_str).all(|v| {
        let parts: Vec<&str> = v.split(':').collect();
        parts.len() < 2 || !parts[parts.len() - 1].split(',').any(|m| IGNORED.contains(&m))
    })
}

/// `linux/amd64`, `linux/arm64`, ...: what images run here without a `platform:`.
fn host_platform() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    format!("linux/{arch}")
}

fn every_item(n: &Node, f: impl Fn(&str) -> bool) -> bool {
    match &n.v {
        Val::Seq(items) => items.iter().all(|i| i.scalar_text().is_some_and(|s| f(&s))),
        _ => n.scalar_text().is_some_and(|s| f(&s)),
    }
}

/// `deploy.restart_policy` that one engine can take: a retry count (not 0) only with
/// `on-failure`, as Docker Compose passes both to the engine, which refuses the rest.
fn retries_fit(n: &Node) -> bool {
    let retries = n.get("max_attempts").and_then(Node::scalar_text).is_some_and(|t| t != "0");
    !retries || n.get("condition").and_then(Node::scalar_text).is_some_and(|c| c == "on-failure")
}

/// A logging driver the built-in runtime implements.
fn builtin_log_driver(n: &Node) -> bool {
    text_is(n, super::logging::BUILTIN_DRIVERS)
}

/// Logging options the built-in runtime applies (`compress: false` is what it does anyway).
fn builtin_log_options(n: &Node) -> bool {
    n.as_map().is_some_and(|m| {
        m.iter().all(|(k, v)| super::logging::BUILTIN_OPTIONS.contains(&k.key()) || (k.key() == "compress" && text_is(v, &["false", "0", "f", "F", "FALSE", "False"])))
    })
}

/// Local-driver `driver_opts` of a form the built-in runtime mounts (`LocalMount`).
fn local_mount_applied(n: &Node) -> bool {
    let Some(m) = n.as_map() else { return false };
    let pairs: Option<Vec<(&str, String)>> = m.iter().map(|(k, v)| Some((k.key(), v.scalar_text()?))).collect();
    pairs.is_some_and(|p| matches!(super::model::LocalMount::parse(p.iter().map(|(k, v)| (*k, v.as_str()))), Ok(Some(_))))
}

fn supported_volume_type(n: &Node) -> bool {
    text_is(n, &["bind", "volume", "tmpfs"])
}

/// Every property of the Compose Specification, and the legacy v1 keys.
pub const KEYS: &[Key] = &[
    // ---- top level
    a("version", "obsolete: the loader warns that it is ignored, as Docker Compose does"),
    a("name", "the project name, unless -p or COMPOSE_PROJECT_NAME"),
    a("include", "resolved when the file is loaded"),
    a("include[].path", ""),
    a("include[].project_directory", ""),
    a("include[].env_file", ""),
    a("services", ""),
    both("models", MODELS, ""),
    both("models.*.model", MODELS, ""),
    both("models.*.name", MODELS, ""),
    both("models.*.context_size", MODELS, ""),
    both("models.*.runtime_flags", MODELS, ""),
    // ---- services
    both("services.*.annotations", NOT_PASSED, "container annotations"),
    a("services.*.attach", "`false`: attached `up` and `logs` leave the service's output out unless it is named, as Docker Compose does"),
    both("services.*.blkio_config", BLKIO, ""),
    both("services.*.blkio_config.device_read_bps", BLKIO, ""),
    both("services.*.blkio_config.device_read_bps[].path", BLKIO, ""),
    both("services.*.blkio_config.device_read_bps[].rate", BLKIO, ""),
    both("services.*.blkio_config.device_read_iops", BLKIO, ""),
    both("services.*.blkio_config.device_read_iops[].path", BLKIO, ""),
    both("services.*.blkio_config.device_read_iops[].rate", BLKIO, ""),
    both("services.*.blkio_config.device_write_bps", BLKIO, ""),
    both("services.*.blkio_config.device_write_bps[].path", BLKIO, ""),
    both("services.*.blkio_config.device_write_bps[].rate", BLKIO, ""),
    both("services.*.blkio_config.device_write_iops", BLKIO, ""),
    both("services.*.blkio_config.device_write_iops[].path", BLKIO, ""),
    both("services.*.blkio_config.device_write_iops[].rate", BLKIO, ""),
    both("services.*.blkio_config.weight", BLKIO, ""),
    both("services.*.blkio_config.weight_device", BLKIO, ""),
    both("services.*.blkio_config.weight_device[].path", BLKIO, ""),
    both("services.*.blkio_config.weight_device[].weight", BLKIO, ""),
    a("services.*.build", "a local directory context; URL and git contexts fail at build"),
    a("services.*.build.context", "a local directory"),
    a("services.*.build.dockerfile", ""),
    a("services.*.build.dockerfile_inline", ""),
    a("services.*.build.args", ""),
    a("services.*.build.target", ""),
    a("services.*.build.labels", ""),
    a("services.*.build.no_cache", ""),
    a("services.*.build.pull", ""),
    a("services.*.build.tags", ""),
    both("services.*.build.additional_contexts", Refused("additional build contexts are not supported yet"), ""),
    both("services.*.build.cache_from", BUILD_NOT_PASSED, ""),
    both("services.*.build.cache_to", BUILD_NOT_PASSED, ""),
    both("services.*.build.entitlements", BUILD_NOT_PASSED, ""),
    both("services.*.build.extra_hosts", BUILD_NOT_PASSED, ""),
    both("services.*.build.isolation", WINDOWS, ""),
    both("services.*.build.network", BUILD_NOT_PASSED, "built-in: RUN uses the host's network"),
    both("services.*.build.platforms", BUILD_NOT_PASSED, ""),
    both("services.*.build.privileged", BUILD_NOT_PASSED, ""),
    both("services.*.build.provenance", BUILD_NOT_PASSED, ""),
    both("services.*.build.sbom", BUILD_NOT_PASSED, ""),
    both("services.*.build.secrets", Refused("build secrets are not supported yet"), ""),
    both("services.*.build.secrets[].source", Refused("build secrets are not supported yet"), ""),
    both("services.*.build.secrets[].target", Refused("build secrets are not supported yet"), ""),
    both("services.*.build.secrets[].uid", Refused("build secrets are not supported yet"), ""),
    both("services.*.build.secrets[].gid", Refused("build secrets are not supported yet"), ""),
    both("services.*.build.secrets[].mode", Refused("build secrets are not supported yet"), ""),
    both("services.*.build.shm_size", BUILD_NOT_PASSED, ""),
    both("services.*.build.ssh", Refused("build SSH agent forwarding is not supported yet"), ""),
    both("services.*.build.ulimits", BUILD_NOT_PASSED, ""),
    both("services.*.build.ulimits.*.soft", BUILD_NOT_PASSED, ""),
    both("services.*.build.ulimits.*.hard", BUILD_NOT_PASSED, ""),
    a("services.*.cap_add", ""),
    a("services.*.cap_drop", ""),
    both("services.*.cgroup", NOT_PASSED, "`host` or `private` cgroup namespace"),
    a("services.*.cgroup_parent", "built-in: the container's groups are `<parent>/<id>` under each controller, as with Docker's cgroupfs driver"),
    a("services.*.command", ""),
    a("services.*.configs", "mounted read-only at `/<target or name>`; `content:`/`environment:` ones are written under /run/hoist/<root>-<hash>/<project>/configs"),
    a("services.*.configs[].source", ""),
    a("services.*.configs[].target", ""),
    a("services.*.configs[].uid", "for written configs; a `file:` config is bind-mounted as it is, as Docker Compose does"),
    a("services.*.configs[].gid", "as `uid`"),
    a("services.*.configs[].mode", "as `uid`"),
    a("services.*.container_name", ""),
    both("services.*.cpu_count", WINDOWS, ""),
    both("services.*.cpu_percent", WINDOWS, ""),
    k("services.*.cpu_period", NOT_BUILTIN, Applied, "built-in: use `cpus`"),
    k("services.*.cpu_quota", NOT_BUILTIN, Applied, "built-in: use `cpus`"),
    both("services.*.cpu_rt_period", NOT_PASSED, ""),
    both("services.*.cpu_rt_runtime", NOT_PASSED, ""),
    a("services.*.cpu_shares", "built-in: cgroup `cpu.shares` / `cpu.weight`"),
    a("services.*.cpus", ""),
    k("services.*.cpuset", NOT_BUILTIN, Applied, ""),
    both("services.*.credential_spec", WINDOWS, ""),
    both("services.*.credential_spec.config", WINDOWS, ""),
    both("services.*.credential_spec.file", WINDOWS, ""),
    both("services.*.credential_spec.registry", WINDOWS, ""),
    a("services.*.depends_on", "start order"),
    a("services.*.depends_on.*.condition", "service_started, service_healthy, service_completed_successfully"),
    a("services.*.depends_on.*.required", ""),
    both("services.*.depends_on.*.restart", Warned("`hoist restart` of the dependency restarts this service too; an `up` that recreates the dependency does not"), "`false` is applied").when(|_, n| !is_true(n)),
    a("services.*.deploy", "what each sub-key does is in its own row"),
    both("services.*.deploy.endpoint_mode", SWARM, ""),
    both("services.*.deploy.labels", SWARM, "labels of the swarm service, not of containers"),
    both("services.*.deploy.mode", Warned("`global` runs one container, as `replicated` does"), "`replicated` is applied").when(|_, n| text_is(n, &["replicated"])),
    both("services.*.deploy.placement", SWARM, ""),
    both("services.*.deploy.placement.constraints", SWARM, ""),
    both("services.*.deploy.placement.max_replicas_per_node", SWARM, ""),
    both("services.*.deploy.placement.preferences", SWARM, ""),
    both("services.*.deploy.placement.preferences[].spread", SWARM, ""),
    a("services.*.deploy.replicas", "taken as `scale`; a different `scale` is refused, as in Docker Compose"),
    a("services.*.deploy.resources", "what each sub-key does is in its own row"),
    a("services.*.deploy.resources.limits", "what each sub-key does is in its own row"),
    a("services.*.deploy.resources.limits.cpus", "a different value in the service-level key is refused, as in Docker Compose"),
    a("services.*.deploy.resources.limits.memory", "a different value in the service-level key is refused, as in Docker Compose"),
    a("services.*.deploy.resources.limits.pids", "a different value in the service-level key is refused, as in Docker Compose"),
    a("services.*.deploy.resources.reservations", "what each sub-key does is in its own row"),
    both("services.*.deploy.resources.reservations.cpus", CPU_RESERVATION, ""),
    a("services.*.deploy.resources.reservations.memory", "a different `mem_reservation` is refused, as in Docker Compose"),
    k("services.*.deploy.resources.reservations.devices", GPU, Applied, "Docker: the engine's device requests, as Docker Compose passes them"),
    k("services.*.deploy.resources.reservations.devices[].capabilities", GPU, Applied, ""),
    k("services.*.deploy.resources.reservations.devices[].count", GPU, Applied, ""),
    k("services.*.deploy.resources.reservations.devices[].device_ids", GPU, Applied, ""),
    k("services.*.deploy.resources.reservations.devices[].driver", GPU, Applied, ""),
    k("services.*.deploy.resources.reservations.devices[].options", GPU, Applied, ""),
    both("services.*.deploy.resources.reservations.generic_resources", SWARM, ""),
    both("services.*.deploy.resources.reservations.generic_resources[].discrete_resource_spec", SWARM, ""),
    both("services.*.deploy.resources.reservations.generic_resources[].discrete_resource_spec.kind", SWARM, ""),
    both("services.*.deploy.resources.reservations.generic_resources[].discrete_resource_spec.value", SWARM, ""),
    both("services.*.deploy.restart_policy", RETRIES_ON_FAILURE, "what each sub-key does is in its own row").when(|_, n| retries_fit(n)),
    a("services.*.deploy.restart_policy.condition", "the containers' restart policy, over `restart`, as in Docker Compose"),
    both("services.*.deploy.restart_policy.delay", RESTART_TIMING, ""),
    a("services.*.deploy.restart_policy.max_attempts", "the retry count of `on-failure`, as in Docker Compose"),
    both("services.*.deploy.restart_policy.window", RESTART_TIMING, ""),
    both("services.*.deploy.rollback_config", SWARM, ""),
    both("services.*.deploy.rollback_config.delay", SWARM, ""),
    both("services.*.deploy.rollback_config.failure_action", SWARM, ""),
    both("services.*.deploy.rollback_config.max_failure_ratio", SWARM, ""),
    both("services.*.deploy.rollback_config.monitor", SWARM, ""),
    both("services.*.deploy.rollback_config.order", SWARM, ""),
    both("services.*.deploy.rollback_config.parallelism", SWARM, ""),
    both("services.*.deploy.update_config", SWARM, ""),
    both("services.*.deploy.update_config.delay", SWARM, ""),
    both("services.*.deploy.update_config.failure_action", SWARM, ""),
    both("services.*.deploy.update_config.max_failure_ratio", SWARM, ""),
    both("services.*.deploy.update_config.monitor", SWARM, ""),
    both("services.*.deploy.update_config.order", SWARM, ""),
    both("services.*.deploy.update_config.parallelism", SWARM, ""),
    a("services.*.develop", "`hoist watch` / `up --watch`; see watch.md"),
    a("services.*.develop.watch", ""),
    a("services.*.develop.watch[].action", "sync, rebuild, restart, sync+restart, sync+exec"),
    a("services.*.develop.watch[].exec", ""),
    a("services.*.develop.watch[].exec.command", ""),
    a("services.*.develop.watch[].exec.environment", ""),
    a("services.*.develop.watch[].exec.privileged", ""),
    a("services.*.develop.watch[].exec.user", ""),
    a("services.*.develop.watch[].exec.working_dir", ""),
    a("services.*.develop.watch[].ignore", ""),
    a("services.*.develop.watch[].include", ""),
    a("services.*.develop.watch[].initial_sync", ""),
    a("services.*.develop.watch[].path", ""),
    a("services.*.develop.watch[].target", ""),
    both("services.*.device_cgroup_rules", NOT_PASSED, ""),
    a("services.*.devices", "`host[:container[:rwm]]`; built-in: bind-mounted, permissions enforced by the devices cgroup"),
    a("services.*.devices[].source", ""),
    a("services.*.devices[].target", "the source's path when left out"),
    a("services.*.devices[].permissions", "`rwm` when left out"),
    a("services.*.dns", "built-in: written to the container's resolv.conf"),
    a("services.*.dns_opt", "built-in: the `options` line of the container's resolv.conf, as Docker writes it"),
    a("services.*.dns_search", ""),
    a("services.*.domainname", "the FQDN `hostname.domainname` first on the container's own /etc/hosts line"),
    a("services.*.entrypoint", ""),
    a("services.*.env_file", "read when the file is loaded"),
    a("services.*.env_file[].path", ""),
    a("services.*.env_file[].required", ""),
    both("services.*.env_file[].format", Warned("only the default dotenv format is read"), ""),
    a("services.*.environment", ""),
    a("services.*.expose", "built-in: used for link variables; a network reaches every port anyway"),
    a("services.*.extends", "resolved when the file is loaded"),
    a("services.*.extends.file", ""),
    a("services.*.extends.service", ""),
    a("services.*.external_links", ""),
    a("services.*.extra_hosts", "`name:ip` / `name=ip` lines in /etc/hosts"),
    k("services.*.gpus", GPU, Applied, "Docker: device requests with the `gpu` capability, as Docker Compose passes them"),
    k("services.*.gpus[].capabilities", GPU, Applied, ""),
    k("services.*.gpus[].count", GPU, Applied, ""),
    k("services.*.gpus[].device_ids", GPU, Applied, ""),
    k("services.*.gpus[].driver", GPU, Applied, ""),
    k("services.*.gpus[].options", GPU, Applied, ""),
    a("services.*.group_add", "with the primary group kept in the supplementary list, as Docker keeps it"),
    a("services.*.healthcheck", ""),
    a("services.*.healthcheck.disable", ""),
    a("services.*.healthcheck.interval", ""),
    a("services.*.healthcheck.retries", ""),
    k("services.*.healthcheck.start_interval", NOT_BUILTIN, Applied, "built-in: checks run every `interval` during `start_period` too"),
    a("services.*.healthcheck.start_period", ""),
    a("services.*.healthcheck.test", ""),
    a("services.*.healthcheck.timeout", ""),
    a("services.*.hostname", ""),
    a("services.*.image", ""),
    a("services.*.init", "built-in: hoist's own init runs as PID 1"),
    k("services.*.ipc", Warned("`none` gets a private IPC namespace with a /dev/shm"), Applied, "`host`, `service:X`, `container:X`, `private`, `shareable`")
        .when(|_, n| !text_is(n, &["none"])),
    both("services.*.isolation", WINDOWS, ""),
    a("services.*.label_file", "read when the file is loaded, relative to the project directory; `labels` override them"),
    a("services.*.labels", ""),
    a("services.*.links", ""),
    a("services.*.logging", ""),
    k("services.*.logging.driver", LOG_DRIVER, Applied, "built-in: `json-file` (the default), `local` and `none`; Docker: passed to the engine")
        .when(|_, n| builtin_log_driver(n)),
    k("services.*.logging.options", LOG_OPTIONS, Applied, "built-in: `max-size` and `max-file` rotate the container's log file; Docker: passed to the engine")
        .when(|_, n| builtin_log_options(n)),
    a("services.*.mac_address", "the address on the main network (the first by priority)"),
    a("services.*.mem_limit", ""),
    a("services.*.mem_reservation", ""),
    both("services.*.mem_swappiness", NOT_PASSED, ""),
    a("services.*.memswap_limit", "with `mem_limit`, as Docker requires"),
    both("services.*.models", MODELS, ""),
    both("services.*.models.*.endpoint_var", MODELS, ""),
    both("services.*.models.*.model_var", MODELS, ""),
    a("services.*.network_mode", "`host`, `none`, `bridge`, `service:X`, `container:X` or a network"),
    a("services.*.networks", ""),
    a("services.*.networks.*.aliases", ""),
    both("services.*.networks.*.driver_opts", NET_ATTACH, ""),
    both("services.*.networks.*.gw_priority", NET_ATTACH, ""),
    both("services.*.networks.*.interface_name", NET_ATTACH, ""),
    a("services.*.networks.*.ipv4_address", ""),
    both("services.*.networks.*.ipv6_address", NET_ATTACH, ""),
    both("services.*.networks.*.link_local_ips", NET_ATTACH, ""),
    a("services.*.networks.*.mac_address", "Docker engines before API 1.44 take one, on the main network, as with Docker Compose"),
    a("services.*.networks.*.priority", "the order networks are connected in"),
    both("services.*.oom_kill_disable", NOT_PASSED, "`false` is applied").when(|_, n| !is_true(n)),
    a("services.*.oom_score_adj", "built-in: also for processes `exec` starts, as runc does"),
    a("services.*.pid", "`host`, `service:X`, `container:X`"),
    a("services.*.pids_limit", ""),
    both("services.*.platform", Warned("not passed to pulls, builds or creates yet: the host's platform is used"), "the host's own platform is applied")
        .when(|_, n| n.scalar_text().is_some_and(|p| p == host_platform())),
    a("services.*.ports", "built-in: the container's supervisor forwards the host port"),
    a("services.*.ports[].app_protocol", "metadata only, as with Docker Compose"),
    a("services.*.ports[].host_ip", ""),
    a("services.*.ports[].mode", "`host` and `ingress` differ only on a swarm"),
    a("services.*.ports[].name", "metadata only, as with Docker Compose"),
    a("services.*.ports[].protocol", ""),
    a("services.*.ports[].published", ""),
    a("services.*.ports[].target", ""),
    a("services.*.post_start", "execs run in order right after each container starts, before its dependants start; a failing one fails the command with `<service> hook exited with status N`, as Docker Compose does"),
    a("services.*.post_start[].command", ""),
    a("services.*.post_start[].environment", ""),
    a("services.*.post_start[].privileged", ""),
    a("services.*.post_start[].user", ""),
    a("services.*.post_start[].working_dir", ""),
    a("services.*.pre_stop", "execs run in order in each running container before `stop`, `restart`, `down`, `rm -s` and scale-down stop it (not before a recreate, as Docker Compose); a failing one leaves the container running and fails the command"),
    a("services.*.pre_stop[].command", ""),
    a("services.*.pre_stop[].environment", ""),
    a("services.*.pre_stop[].privileged", ""),
    a("services.*.pre_stop[].user", ""),
    a("services.*.pre_stop[].working_dir", ""),
    a("services.*.privileged", ""),
    a("services.*.profiles", "applied when the file is loaded"),
    both("services.*.provider", PROVIDER, ""),
    both("services.*.provider.options", PROVIDER, ""),
    both("services.*.provider.type", PROVIDER, ""),
    both("services.*.pull_policy", Warned("`daily`, `weekly` and `every_<duration>` are not honoured: the image is pulled when missing"), "`always`, `never`, `missing`, `if_not_present` and `build` are applied; `--pull` overrides them")
        .when(|_, n| text_is(n, &["always", "never", "missing", "if_not_present", "build"])),
    both("services.*.pull_refresh_after", NOT_PASSED, ""),
    a("services.*.read_only", ""),
    a("services.*.restart", "built-in: the supervisor restarts the process"),
    k("services.*.runtime", Refused("the built-in runtime runs containers itself; another OCI runtime cannot be chosen"), Applied, "built-in: `runc` is accepted as the same")
        .when(|_, n| text_is(n, &["runc"])),
    a("services.*.scale", ""),
    a("services.*.secrets", "mounted read-only at /run/secrets/<target or name>"),
    a("services.*.secrets[].source", ""),
    a("services.*.secrets[].target", ""),
    a("services.*.secrets[].uid", "as for configs"),
    a("services.*.secrets[].gid", "as for configs"),
    a("services.*.secrets[].mode", "as for configs"),
    k("services.*.security_opt", Warned("apparmor and label options are not applied (a custom seccomp profile fails at start)"), Applied, "built-in: `no-new-privileges`, `seccomp=unconfined` and `seccomp=default` are applied")
        .when(|_, n| builtin_security_opts(n)),
    a("services.*.shm_size", ""),
    a("services.*.stdin_open", ""),
    a("services.*.stop_grace_period", ""),
    a("services.*.stop_signal", ""),
    both("services.*.storage_opt", NOT_PASSED, ""),
    a("services.*.sysctls", ""),
    both("services.*.tmpfs", Warned("options other than size= and mode= are not applied"), "`/path[:size=..,mode=..]` is applied, mounted nosuid,nodev,noexec as Docker mounts it")
        .when(|_, n| tmpfs_size_mode_only(n)),
    a("services.*.tty", ""),
    a("services.*.ulimits", ""),
    a("services.*.ulimits.*.hard", ""),
    a("services.*.ulimits.*.soft", ""),
    both("services.*.use_api_socket", Refused("the engine's API socket is not mounted into containers"), "`false` is applied").when(|_, n| !is_true(n)),
    a("services.*.user", "the primary group is also a supplementary group, as Docker makes it"),
    k("services.*.userns_mode", Warned("user namespaces are not used"), Applied, "built-in: `host` is applied").when(|_, n| text_is(n, &["host"])),
    both("services.*.uts", NOT_PASSED, ""),
    both(
        "services.*.volumes",
        Warned("SELinux relabelling (z, Z) and propagation options are not applied"),
        "bind, named, anonymous and tmpfs mounts (tmpfs nosuid,nodev,noexec as Docker's); applied: short-syntax entries without z, Z or propagation options",
    )
    .when(|_, n| volumes_without_ignored_modes(n)),
    both("services.*.volumes[].type", Refused("only bind, volume and tmpfs mounts are supported"), "`bind`, `volume`, `tmpfs` are applied").when(|_, n| supported_volume_type(n)),
    a("services.*.volumes[].source", ""),
    a("services.*.volumes[].target", ""),
    a("services.*.volumes[].read_only", ""),
    a("services.*.volumes[].consistency", "has no effect on Linux, as with Docker"),
    a("services.*.volumes[].bind", ""),
    a("services.*.volumes[].bind.create_host_path", ""),
    both("services.*.volumes[].bind.propagation", BIND_OPTS, ""),
    both("services.*.volumes[].bind.recursive", BIND_OPTS, ""),
    both("services.*.volumes[].bind.selinux", BIND_OPTS, ""),
    a("services.*.volumes[].volume", ""),
    a("services.*.volumes[].volume.nocopy", ""),
    both("services.*.volumes[].volume.labels", NOT_PASSED, ""),
    both("services.*.volumes[].volume.subpath", Refused("volume subpaths are not supported yet: the whole volume would be mounted"), ""),
    a("services.*.volumes[].tmpfs", ""),
    a("services.*.volumes[].tmpfs.size", ""),
    a("services.*.volumes[].tmpfs.mode", ""),
    both("services.*.volumes[].image", Refused("image mounts are not supported yet"), ""),
    both("services.*.volumes[].image.subpath", Refused("image mounts are not supported yet"), ""),
    a("services.*.volumes_from", ""),
    a("services.*.working_dir", ""),
    // ---- legacy v1 service keys
    a("services.*.net", "as `network_mode`").legacy(),
    a("services.*.dockerfile", "as `build.dockerfile`").legacy(),
    k("services.*.cpu_set", NOT_BUILTIN, Applied, "as `cpuset`").legacy(),
    k("services.*.log_driver", LOG_DRIVER, Applied, "as `logging.driver`").when(|_, n| builtin_log_driver(n)).legacy(),
    k("services.*.log_opt", LOG_OPTIONS, Applied, "as `logging.options`").when(|_, n| builtin_log_options(n)).legacy(),
    both("services.*.volume_driver", Warned("volume drivers are not applied to a service's volumes"), "the driver of the service's volumes").legacy(),
    // ---- networks
    a("networks", ""),
    a("networks.*.attachable", "built-in: any container may join a network anyway"),
    k("networks.*.driver", Refused("the built-in runtime makes only `bridge` networks"), Applied, "built-in: `bridge` is applied").when(|_, n| bridge_driver(n)),
    both("networks.*.driver_opts", NET_OPTS, ""),
    both("networks.*.enable_ipv4", Warned("IPv4 cannot be turned off"), "`true` is applied").when(|_, n| !is_false(n)),
    k("networks.*.enable_ipv6", Warned("built-in networks are IPv4 only"), NET_OPTS, "`false` is applied").when(|_, n| !is_true(n)),
    a("networks.*.external", ""),
    a("networks.*.external.name", "legacy form of `name`"),
    a("networks.*.internal", ""),
    a("networks.*.ipam", ""),
    a("networks.*.ipam.config", "built-in: the first IPv4 entry"),
    a("networks.*.ipam.config[].subnet", ""),
    a("networks.*.ipam.config[].gateway", ""),
    a("networks.*.ipam.config[].ip_range", ""),
    both("networks.*.ipam.config[].aux_addresses", NET_OPTS, ""),
    both("networks.*.ipam.driver", NET_OPTS, "`default` is applied").when(|_, n| text_is(n, &["default"])),
    both("networks.*.ipam.options", NET_OPTS, ""),
    a("networks.*.labels", ""),
    a("networks.*.name", ""),
    // ---- volumes
    a("volumes", ""),
    k("volumes.*.driver", Refused("built-in volumes are local directories; another driver cannot be used"), Applied, "built-in: `local` is applied").when(|_, n| local_driver(n)),
    k(
        "volumes.*.driver_opts",
        Refused("the built-in runtime applies only `type: none` with `o: bind` (and `ro`) and a `device` directory, or `type: tmpfs` with `o` of size, mode, uid, gid, nr_inodes, nr_blocks: other options would not put the data where the file says"),
        Applied,
        "built-in: a bind device or a tmpfs, as the local driver mounts them",
    )
    .when(|_, n| local_mount_applied(n)),
    a("volumes.*.external", ""),
    a("volumes.*.external.name", "legacy form of `name`"),
    a("volumes.*.labels", ""),
    a("volumes.*.name", ""),
    // ---- configs and secrets
    a("configs", ""),
    a("configs.*.content", "written under /run/hoist/<root>-<hash>/<project>/configs by `up`"),
    a("configs.*.environment", "read when the file is loaded"),
    both("configs.*.external", Refused("external configs exist only on a swarm"), "`false` is applied").when(|_, n| is_false(n)),
    both("configs.*.external.name", Refused("external configs exist only on a swarm"), ""),
    a("configs.*.file", "bind-mounted as it is"),
    both("configs.*.labels", FILE_SWARM, ""),
    a("configs.*.name", "names the object on a swarm; nothing to do locally"),
    both("configs.*.template_driver", Warned("templates are not expanded"), ""),
    a("secrets", ""),
    both("secrets.*.driver", FILE_SWARM, ""),
    both("secrets.*.driver_opts", FILE_SWARM, ""),
    a("secrets.*.environment", "read when the file is loaded"),
    both("secrets.*.external", Refused("external secrets exist only on a swarm"), "`false` is applied").when(|_, n| is_false(n)),
    both("secrets.*.external.name", Refused("external secrets exist only on a swarm"), ""),
    a("secrets.*.file", "bind-mounted as it is"),
    both("secrets.*.labels", FILE_SWARM, ""),
    a("secrets.*.name", "names the object on a swarm; nothing to do locally"),
    both("secrets.*.template_driver", Warned("templates are not expanded"), ""),
];

/// The row of `path`, if the table has one.
pub fn find(path: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.path == path)
}

/// A key set in a file that some backend does not apply: its row, what each backend does
/// with this value, where it is, and the service it belongs to.
#[derive(Debug, Clone)]
pub struct KeyUse {
    pub key: &'static Key,
    /// The path as written, names filled in (`services.web.deploy.resources.limits`).
    pub shown: String,
    pub builtin: Status,
    pub docker: Status,
    pub loc: Loc,
    pub service: Option<String>,
}

impl KeyUse {
    fn status(&self, b: Backend) -> Status {
        match b {
            Backend::Builtin => self.builtin,
            Backend::Docker => self.docker,
        }
    }
}

/// Collects the keys of a merged, interpolated tree (in the services shape) that some
/// backend does not apply, with their places. Unknown keys are the loader's to refuse.
pub fn collect(srcs: &Sources, root: &Node, legacy: bool, out: &mut Vec<KeyUse>) {
    walk(srcs, root, "", "", legacy, None, out);
}

fn walk(srcs: &Sources, n: &Node, path: &str, shown: &str, legacy: bool, service: Option<&str>, out: &mut Vec<KeyUse>) {
    let join = |p: &str, s: &str| if p.is_empty() { s.to_string() } else { format!("{p}.{s}") };
    match &n.v {
        Val::Map(m) => {
            // The entries of this map are names the file chooses (services, networks, ...).
            let names = join(path, "*");
            let named = KEYS.iter().any(|k| k.path == names || k.path.starts_with(&format!("{names}.")));
            for (kn, v) in m {
                let name = kn.key();
                if name.starts_with("x-") {
                    continue;
                }
                let child_shown = join(shown, name);
                let service = if path == "services" { Some(name) } else { service };
                if named {
                    walk(srcs, v, &names, &child_shown, legacy, service, out);
                    continue;
                }
                let child = join(path, name);
                let Some(key) = find(&child).filter(|k| legacy || !k.legacy) else { continue };
                let (builtin, docker) = (key.status_for(Backend::Builtin, v), key.status_for(Backend::Docker, v));
                if !is_unset(v) && (builtin != Applied || docker != Applied) {
                    let at = srcs.loc(kn);
                    out.push(KeyUse { key, shown: child_shown.clone(), builtin, docker, loc: at, service: service.map(str::to_string) });
                }
                walk(srcs, v, &child, &child_shown, legacy, service, out);
            }
        }
        Val::Seq(items) => {
            let child = format!("{path}[]");
            if KEYS.iter().any(|k| k.path.starts_with(&format!("{child}."))) {
                for (i, item) in items.iter().enumerate() {
                    walk(srcs, item, &child, &format!("{shown}[{i}]"), legacy, service, out);
                }
            }
        }
        _ => {}
    }
}

/// A key set to nothing (`~`, `[]`, `{}`) asks for nothing; rows that care about other
/// values (`false`, a default) decide with `applied_if`.
fn is_unset(n: &Node) -> bool {
    match &n.v {
        Val::Null => true,
        Val::Seq(s) => s.is_empty(),
        Val::Map(m) => m.is_empty(),
        _ => false,
    }
}

/// Judges the collected uses for `backend`: the first refused key is an error at its
/// place (unless `refuse` is false, as for `config`), warned keys become warnings, one
/// per key (not one more for each of its sub-keys with the same status). Keys of
/// services that profiles left out are skipped: nothing will run them.
pub fn judge(uses: &[KeyUse], backend: Backend, refuse: bool, enabled: &dyn Fn(&str) -> bool, warnings: &mut Vec<String>) -> Result<()> {
    let mut said: Vec<(&str, &str)> = Vec::new();
    for u in uses {
        let status = u.status(backend);
        if status == Applied || u.service.as_deref().is_some_and(|s| !enabled(s)) {
            continue;
        }
        let under = |p: &str| u.shown.strip_prefix(p).is_some_and(|r| r.starts_with(['.', '[']));
        if said.iter().any(|(p, word)| under(p) && *word == status.word()) {
            continue;
        }
        said.push((&u.shown, status.word()));
        match status {
            Refused(why) if refuse => {
                return Err(ComposeError::at(&u.loc, format!("{}: refused by {}: {why}", u.shown, backend.label())));
            }
            Refused(why) | Warned(why) => {
                warnings.push(format!("{}{}: not applied by {}: {why}", shown_place(&u.loc), u.shown, backend.label()));
            }
            Applied => {}
        }
    }
    Ok(())
}

/// `file:line: ` as errors show files (relative to the current directory when under it).
fn shown_place(loc: &Loc) -> String {
    let cwd = std::env::current_dir().unwrap_or_default();
    let file = loc.file.strip_prefix(&cwd).ok().filter(|r| !r.as_os_str().is_empty()).unwrap_or(&loc.file);
    if loc.line > 0 { format!("{}:{}: ", file.display(), loc.line) } else { format!("{}: ", file.display()) }
}
