//! Turns one merged services/networks/volumes tree into the normalized model: short
//! syntaxes expanded, paths made absolute, sizes in bytes, unknown keys rejected.

use std::collections::HashMap;
use std::path::Path;

use indexmap::IndexMap;

use super::discover::{absolute, Environment};
use super::env::read_dotenv;
use super::error::{ComposeError, Loc, Result};
use super::model::*;
use super::yaml::{Node, Sources, Val};

pub const SERVICE_KEYS: &[&str] = &[
    "develop", "deploy", "annotations", "attach", "build", "blkio_config", "cap_add", "cap_drop", "cgroup", "cgroup_parent",
    "command", "configs", "container_name", "cpu_count", "cpu_percent", "cpu_shares", "cpu_quota", "cpu_period",
    "cpu_rt_period", "cpu_rt_runtime", "cpus", "cpuset", "credential_spec", "depends_on", "device_cgroup_rules", "devices",
    "dns", "dns_opt", "dns_search", "domainname", "entrypoint", "env_file", "label_file", "environment", "expose", "extends",
    "provider", "external_links", "extra_hosts", "gpus", "group_add", "healthcheck", "hostname", "image", "init", "ipc",
    "isolation", "labels", "links", "logging", "mac_address", "mem_limit", "mem_reservation", "mem_swappiness",
    "memswap_limit", "network_mode", "models", "networks", "oom_kill_disable", "oom_score_adj", "pid", "pids_limit",
    "platform", "ports", "post_start", "pre_stop", "privileged", "profiles", "pull_policy", "pull_refresh_after",
    "read_only", "restart", "runtime", "scale", "security_opt", "shm_size", "secrets", "sysctls", "stdin_open",
    "stop_grace_period", "stop_signal", "storage_opt", "tmpfs", "tty", "ulimits", "use_api_socket", "user", "uts",
    "userns_mode", "volumes", "volumes_from", "working_dir",
];
/// Legacy v1 keys accepted (and mapped) in v1 files only.
pub const LEGACY_SERVICE_KEYS: &[&str] = &["net", "dockerfile", "cpu_set", "log_driver", "log_opt", "volume_driver", "mem_swappiness"];
pub const TOP_KEYS: &[&str] = &["version", "name", "include", "services", "models", "networks", "volumes", "secrets", "configs"];
/// Keys of a top-level `networks:` entry.
pub const NETWORK_KEYS: &[&str] =
    &["name", "driver", "driver_opts", "ipam", "external", "internal", "enable_ipv4", "enable_ipv6", "attachable", "labels"];
/// Keys of a top-level `volumes:` entry.
pub const VOLUME_KEYS: &[&str] = &["name", "driver", "driver_opts", "external", "labels"];

/// Where each normalized thing came from, for errors found after normalization
/// (keys like `web/links`, `web/ports`, `networks/front`).
pub type Locs = HashMap<String, Loc>;

pub struct Ctx<'a> {
    pub srcs: &'a Sources,
    pub project_dir: &'a Path,
    pub env: &'a Environment,
    pub legacy: bool,
    pub locs: &'a mut Locs,
}

// ---- typed accessors: each names what it expected and where --------------------------

pub fn type_err(srcs: &Sources, n: &Node, what: &str, expected: &str) -> ComposeError {
    srcs.err(n, format!("{what} must be {expected}, not {}", n.type_name()))
}

pub fn text(srcs: &Sources, n: &Node, what: &str) -> Result<String> {
    n.scalar_text().ok_or_else(|| type_err(srcs, n, what, "a string"))
}

fn opt_text(srcs: &Sources, n: &Node, what: &str) -> Result<Option<String>> {
    if n.v == Val::Null { Ok(None) } else { text(srcs, n, what).map(Some) }
}

/// `restart:` as the engine takes it, checked here so that a bad value is named with its
/// line rather than by the engine at create. A bare `no` (YAML 1.1's false) means "no".
fn restart(srcs: &Sources, n: &Node, what: &str) -> Result<Option<RestartPolicy>> {
    let policy = match &n.v {
        Val::Null => return Ok(None),
        Val::Bool(false) => "no".to_string(),
        _ => text(srcs, n, what)?,
    };
    policy.parse().map(Some).map_err(|e| srcs.err(n, format!("{what}: {e}")))
}

pub fn boolean(srcs: &Sources, n: &Node, what: &str) -> Result<bool> {
    match &n.v {
        Val::Bool(b) => Ok(*b),
        Val::Str(s) if matches!(s.to_lowercase().as_str(), "true" | "yes" | "y" | "on") => Ok(true),
        Val::Str(s) if matches!(s.to_lowercase().as_str(), "false" | "no" | "n" | "off") => Ok(false),
        _ => Err(type_err(srcs, n, what, "a boolean")),
    }
}

pub fn int<T: TryFrom<i64> + std::str::FromStr>(srcs: &Sources, n: &Node, what: &str) -> Result<T> {
    let bad = || srcs.err(n, format!("{what} must be an integer in range, not {}", n.scalar_text().unwrap_or_else(|| n.type_name().into())));
    match &n.v {
        Val::Int(i) => T::try_from(*i).map_err(|_| bad()),
        Val::Str(s) => s.trim().parse::<T>().map_err(|_| bad()),
        Val::Float(f) if f.fract() == 0.0 => T::try_from(*f as i64).map_err(|_| bad()),
        _ => Err(bad()),
    }
}

fn float(srcs: &Sources, n: &Node, what: &str) -> Result<f64> {
    match &n.v {
        Val::Int(i) => Ok(*i as f64),
        Val::Float(f) => Ok(*f),
        Val::Str(s) => s.trim().parse().map_err(|_| type_err(srcs, n, what, "a number")),
        _ => Err(type_err(srcs, n, what, "a number")),
    }
}

/// A number of CPUs: finite and not negative (the engine and the kernel take nothing else).
fn cpus(srcs: &Sources, n: &Node, what: &str) -> Result<f64> {
    let c = float(srcs, n, what)?;
    if !c.is_finite() || c < 0.0 {
        return Err(type_err(srcs, n, what, "a number of CPUs (0 or more)"));
    }
    Ok(c)
}

pub fn map<'n>(srcs: &Sources, n: &'n Node, what: &str) -> Result<&'n Vec<(Node, Node)>> {
    n.as_map().ok_or_else(|| type_err(srcs, n, what, "a mapping"))
}

/// A string or a list of strings.
pub fn str_list(srcs: &Sources, n: &Node, what: &str) -> Result<Vec<String>> {
    match &n.v {
        Val::Seq(items) => items.iter().map(|i| text(srcs, i, what)).collect(),
        Val::Null => Ok(vec![]),
        _ => Ok(vec![text(srcs, n, what)?]),
    }
}

/// A list of strings (no bare string).
fn strict_list(srcs: &Sources, n: &Node, what: &str) -> Result<Vec<String>> {
    match &n.v {
        Val::Seq(items) => items.iter().map(|i| text(srcs, i, what)).collect(),
        _ => Err(type_err(srcs, n, what, "a list of strings")),
    }
}

/// `KEY: value` mapping or `["KEY=value", "KEY"]` list; values may be absent.
pub fn kv(srcs: &Sources, n: &Node, what: &str, sep: char) -> Result<Vec<(String, Option<String>)>> {
    match &n.v {
        Val::Map(m) => m.iter().map(|(k, v)| Ok((k.key().to_string(), opt_text(srcs, v, what)?))).collect(),
        Val::Seq(items) => items
            .iter()
            .map(|i| {
                let s = text(srcs, i, what)?;
                Ok(match s.split_once(sep) {
                    Some((k, v)) => (k.to_string(), Some(v.to_string())),
                    None => (s, None),
                })
            })
            .collect(),
        Val::Null => Ok(vec![]),
        _ => Err(type_err(srcs, n, what, "a mapping or a list")),
    }
}

fn labels(srcs: &Sources, n: &Node, what: &str) -> Result<IndexMap<String, String>> {
    Ok(kv(srcs, n, what, '=')?.into_iter().map(|(k, v)| (k, v.unwrap_or_default())).collect())
}

/// Rejects keys not in `allowed` (and not `x-*`), suggesting the closest known key.
pub fn check_keys(srcs: &Sources, m: &[(Node, Node)], allowed: &[&str], what: &str) -> Result<()> {
    for (k, _) in m {
        let key = k.key();
        if key.starts_with("x-") || allowed.contains(&key) {
            continue;
        }
        let best = allowed
            .iter()
            .map(|a| (strsim::jaro_winkler(a, key), *a))
            .filter(|(s, _)| *s > 0.8)
            .max_by(|a, b| a.0.total_cmp(&b.0));
        let hint = best.map(|(_, a)| format!(" (did you mean {a:?}?)")).unwrap_or_default();
        return Err(srcs.err(k, format!("unknown key {key:?} in {what}{hint}")));
    }
    Ok(())
}

/// `512m`, `1g`, `1024`, `1.5gb` → bytes.
pub fn parse_bytes(s: &str) -> Option<u64> {
    let s = s.trim().to_lowercase();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let num: f64 = num.parse().ok()?;
    let mult: u64 = match unit.trim() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        _ => return None,
    };
    Some((num * mult as f64) as u64)
}

fn bytes(srcs: &Sources, n: &Node, what: &str) -> Result<u64> {
    match &n.v {
        Val::Int(i) if *i >= 0 => Ok(*i as u64),
        _ => n
            .scalar_text()
            .and_then(|s| parse_bytes(&s))
            .ok_or_else(|| srcs.err(n, format!("{what} must be a size like 512m or 1g"))),
    }
}

/// A compose duration, checked and typed.
fn duration(srcs: &Sources, n: &Node, what: &str) -> Result<Duration> {
    let s = text(srcs, n, what)?;
    s.parse().map_err(|e| srcs.err(n, format!("{what}: {e}")))
}

/// One of the names of an enum of the model (its serde names), or an error listing them.
fn choice<T: serde::de::DeserializeOwned>(srcs: &Sources, n: &Node, what: &str, names: &str) -> Result<T> {
    let t = text(srcs, n, what)?;
    serde_json::from_value(serde_json::Value::String(t.clone())).map_err(|_| srcs.err(n, format!("{what}: {t:?} is not {names}")))
}

/// `deploy:`, every key typed and checked here, so swarm and the exports never meet a bad value.
fn deploy(srcs: &Sources, n: &Node, service: &str) -> Result<Deploy> {
    const KEYS: &[&str] =
        &["mode", "endpoint_mode", "replicas", "labels", "rollback_config", "update_config", "resources", "restart_policy", "placement"];
    let what = |k: &str| format!("deploy.{k} of service {service:?}");
    let m = map(srcs, n, &format!("deploy of service {service:?}"))?;
    check_keys(srcs, m, KEYS, "deploy")?;
    let mut d = Deploy::default();
    for (k, v) in m {
        let key = k.key();
        let w = what(key);
        match key {
            "mode" => d.mode = Some(choice(srcs, v, &w, "replicated, global, replicated-job or global-job")?),
            "endpoint_mode" => d.endpoint_mode = Some(choice(srcs, v, &w, "vip or dnsrr")?),
            "replicas" => d.replicas = Some(int(srcs, v, &w)?),
            "labels" => d.labels = labels(srcs, v, &w)?,
            "update_config" | "rollback_config" => {
                let c = update_config(srcs, v, &w)?;
                if key == "rollback_config" && c.failure_action == Some(FailureAction::Rollback) {
                    let at = v.get("failure_action").unwrap_or(v);
                    return Err(srcs.err(at, format!("{w}: failure_action must be continue or pause (a rollback cannot roll back)")));
                }
                if key == "update_config" { d.update_config = Some(c) } else { d.rollback_config = Some(c) }
            }
            "resources" => d.resources = Some(deploy_resources(srcs, v, service)?),
            "restart_policy" => {
                check_keys(srcs, map(srcs, v, &w)?, &["condition", "delay", "max_attempts", "window"], &w)?;
                let field = |f: &str| v.get(f).map(|x| (x, format!("{w}.{f}")));
                d.restart_policy = Some(DeployRestartPolicy {
                    condition: field("condition").map(|(x, w)| choice(srcs, x, &w, "none, on-failure or any")).transpose()?,
                    delay: field("delay").map(|(x, w)| duration(srcs, x, &w)).transpose()?,
                    max_attempts: field("max_attempts").map(|(x, w)| int(srcs, x, &w)).transpose()?,
                    window: field("window").map(|(x, w)| duration(srcs, x, &w)).transpose()?,
                });
            }
            "placement" => d.placement = Some(placement(srcs, v, &w)?),
            _ => {}
        }
    }
    Ok(d)
}

fn update_config(srcs: &Sources, n: &Node, what: &str) -> Result<UpdateConfig> {
    check_keys(srcs, map(srcs, n, what)?, &["parallelism", "delay", "failure_action", "monitor", "max_failure_ratio", "order"], what)?;
    let field = |f: &str| n.get(f).map(|x| (x, format!("{what}.{f}")));
    Ok(UpdateConfig {
        parallelism: field("parallelism").map(|(x, w)| int(srcs, x, &w)).transpose()?,
        delay: field("delay").map(|(x, w)| duration(srcs, x, &w)).transpose()?,
        failure_action: field("failure_action").map(|(x, w)| choice(srcs, x, &w, "continue, pause or rollback")).transpose()?,
        monitor: field("monitor").map(|(x, w)| duration(srcs, x, &w)).transpose()?,
        max_failure_ratio: field("max_failure_ratio").map(|(x, w)| float(srcs, x, &w)).transpose()?,
        order: field("order").map(|(x, w)| choice(srcs, x, &w, "stop-first or start-first")).transpose()?,
    })
}

fn placement(srcs: &Sources, n: &Node, what: &str) -> Result<Placement> {
    check_keys(srcs, map(srcs, n, what)?, &["constraints", "preferences", "max_replicas_per_node"], what)?;
    let mut p = Placement::default();
    if let Some(c) = n.get("constraints") {
        p.constraints = strict_list(srcs, c, &format!("{what}.constraints"))?;
    }
    if let Some(prefs) = n.get("preferences") {
        let w = format!("{what}.preferences");
        let Val::Seq(items) = &prefs.v else { return Err(type_err(srcs, prefs, &w, "a list of {spread: ...}")) };
        for i in items {
            check_keys(srcs, map(srcs, i, &w)?, &["spread"], &w)?;
            let spread = i.get("spread").ok_or_else(|| srcs.err(i, format!("{w}: each preference needs `spread`")))?;
            p.preferences.push(PlacementPreference { spread: text(srcs, spread, &w)? });
        }
    }
    if let Some(m) = n.get("max_replicas_per_node") {
        p.max_replicas_per_node = Some(int(srcs, m, &format!("{what}.max_replicas_per_node"))?);
    }
    Ok(p)
}

/// `mac_address:` (of a service or of one of its networks).
fn mac(srcs: &Sources, n: &Node, what: &str) -> Result<Option<MacAddress>> {
    let Some(text) = opt_text(srcs, n, what)? else { return Ok(None) };
    text.parse().map(Some).map_err(|e| srcs.err(n, format!("{what}: {e}")))
}

/// `oom_score_adj:` in the kernel's range.
fn oom_score_adj(srcs: &Sources, n: &Node, what: &str) -> Result<i64> {
    let v: i64 = int(srcs, n, what)?;
    if !(-1000..=1000).contains(&v) {
        return Err(srcs.err(n, format!("{what}: {v} is out of range: use -1000 to 1000")));
    }
    Ok(v)
}

/// `cgroup_parent:` a path below the cgroup mount (leading `/` or not, as Docker's
/// cgroupfs driver takes it): no `.` or `..` component may lead anywhere else.
fn cgroup_parent(srcs: &Sources, n: &Node, what: &str) -> Result<Option<String>> {
    let Some(parent) = opt_text(srcs, n, what)? else { return Ok(None) };
    crate::compose::values::check_cgroup_parent(&parent).map_err(|e| srcs.err(n, format!("{what}: {e}")))?;
    Ok(Some(parent))
}

/// The service-level `mac_address` is the main network's (the first by priority): as
/// Docker Compose, a different one set on that network is an error.
fn check_main_mac(srcs: &Sources, node: &Node, s: &Service, what: &str) -> Result<()> {
    let (Some(mac), Some(at)) = (s.mac_address, node.get("mac_address")) else { return Ok(()) };
    use super::model::NetworkMode as Mode;
    if let Some(m @ (Mode::Host | Mode::None | Mode::Service(_) | Mode::Container(_))) = &s.network_mode {
        // The container has no interface of its own to give the address to; the engine
        // refuses it ("conflicting options: mac-address and the network mode").
        return Err(srcs.err(at, format!("{what}: mac_address cannot be set with network_mode: {m}")));
    }
    let mut nets: Vec<(&String, &ServiceNetwork)> = s.networks.iter().collect();
    nets.sort_by_key(|(_, n)| std::cmp::Reverse(n.priority.unwrap_or(0)));
    match nets.first() {
        Some((name, n)) if n.mac_address.is_some_and(|m| m != mac) => {
            Err(srcs.err(at, format!("{what}: the service-level mac_address should have the same value as network {name}")))
        }
        _ => Ok(()),
    }
}

/// A key and its `deploy` twin set to two values: refused, as compose-go refuses them.
/// `deploy.replicas` alone is the scale.
fn check_distinct(srcs: &Sources, node: &Node, s: &mut Service, name: &str) -> Result<()> {
    let Some(d) = &s.deploy else { return Ok(()) };
    let limits = d.resources.as_ref().and_then(|r| r.limits.as_ref());
    let reservations = d.resources.as_ref().and_then(|r| r.reservations.as_ref());
    let clash = [
        ("scale", "replicas", s.scale.zip(d.replicas).is_some_and(|(a, b)| a != b)),
        ("cpus", "resources.limits.cpus", s.cpus.zip(limits.and_then(|l| l.cpus)).is_some_and(|(a, b)| a != b)),
        ("mem_limit", "resources.limits.memory", s.mem_limit.zip(limits.and_then(|l| l.memory)).is_some_and(|(a, b)| a != b)),
        (
            "mem_reservation",
            "resources.reservations.memory",
            s.mem_reservation.zip(reservations.and_then(|r| r.memory)).is_some_and(|(a, b)| a != b),
        ),
        ("pids_limit", "resources.limits.pids", s.pids_limit.zip(limits.and_then(|l| l.pids)).is_some_and(|(a, b)| a != b)),
    ];
    if let Some((key, twin, _)) = clash.iter().find(|c| c.2) {
        let at = node.get(key).unwrap_or(node);
        return Err(srcs.err(at, format!("services.{name}: can't set distinct values on '{key}' and 'deploy.{twin}'")));
    }
    if s.scale.is_none() {
        s.scale = d.replicas;
    }
    Ok(())
}

/// `deploy.resources`: the limits and reservations every backend applies, checked here.
fn deploy_resources(srcs: &Sources, n: &Node, service: &str) -> Result<DeployResources> {
    let what = |k: &str| format!("deploy.resources.{k} of service {service:?}");
    check_keys(srcs, map(srcs, n, &what(""))?, &["limits", "reservations"], "deploy.resources")?;
    let mut out = DeployResources::default();
    if let Some(l) = n.get("limits") {
        let w = what("limits");
        check_keys(srcs, map(srcs, l, &w)?, &["cpus", "memory", "pids"], &w)?;
        out.limits = Some(ResourceLimits {
            cpus: l.get("cpus").map(|c| cpus(srcs, c, &what("limits.cpus"))).transpose()?,
            memory: l.get("memory").map(|m| bytes(srcs, m, &what("limits.memory"))).transpose()?,
            pids: l.get("pids").map(|p| int(srcs, p, &what("limits.pids"))).transpose()?,
        });
    }
    if let Some(r) = n.get("reservations") {
        let w = what("reservations");
        let m = map(srcs, r, &w)?;
        check_keys(srcs, m, &["cpus", "memory", "devices", "generic_resources"], &w)?;
        let mut res = ResourceReservations::default();
        for (k, v) in m {
            match k.key() {
                "cpus" => res.cpus = Some(cpus(srcs, v, &what("reservations.cpus"))?),
                "memory" => res.memory = Some(bytes(srcs, v, &what("reservations.memory"))?),
                "devices" => res.devices = device_requests(srcs, v, &what("reservations.devices"))?,
                "generic_resources" => res.generic_resources = generic_resources(srcs, v, &what("reservations.generic_resources"))?,
                _ => {}
            }
        }
        out.reservations = Some(res);
    }
    Ok(out)
}

/// `deploy.resources.reservations.devices` (and `gpus`): requests for devices of a driver.
pub fn device_requests(srcs: &Sources, n: &Node, what: &str) -> Result<Vec<DeviceRequest>> {
    let Val::Seq(items) = &n.v else { return Err(type_err(srcs, n, what, "a list of device requests")) };
    items
        .iter()
        .map(|i| {
            check_keys(srcs, map(srcs, i, what)?, &["capabilities", "count", "device_ids", "driver", "options"], what)?;
            let field = |f: &str| i.get(f).map(|x| (x, format!("{what}.{f}")));
            let count = field("count")
                .map(|(x, w)| match x.scalar_text().as_deref() {
                    Some("all") => Ok(DeviceCount::All(AllDevices::All)),
                    _ => int(srcs, x, &w).map(DeviceCount::Count),
                })
                .transpose()?;
            Ok(DeviceRequest {
                capabilities: field("capabilities").map(|(x, w)| strict_list(srcs, x, &w)).transpose()?.unwrap_or_default(),
                count,
                device_ids: field("device_ids").map(|(x, w)| strict_list(srcs, x, &w)).transpose()?.unwrap_or_default(),
                driver: field("driver").map(|(x, w)| text(srcs, x, &w)).transpose()?,
                options: field("options").map(|(x, w)| labels(srcs, x, &w)).transpose()?.unwrap_or_default(),
            })
        })
        .collect()
}

/// `devices:`: `host[:container][:permissions]` strings, or `{source, target, permissions}`.
fn devices(srcs: &Sources, n: &Node, what: &str) -> Result<Vec<Device>> {
    let Val::Seq(items) = &n.v else { return Err(type_err(srcs, n, what, "a list")) };
    items
        .iter()
        .map(|i| {
            let d = if i.as_map().is_some() {
                check_keys(srcs, map(srcs, i, what)?, &["source", "target", "permissions"], what)?;
                let source = i.get("source").map(|x| text(srcs, x, what)).transpose()?.ok_or_else(|| srcs.err(i, format!("{what}: an entry needs a `source`")))?;
                let target = i.get("target").map(|x| text(srcs, x, what)).transpose()?.unwrap_or_else(|| source.clone());
                let permissions = i.get("permissions").map(|x| text(srcs, x, what)).transpose()?.unwrap_or_else(|| "rwm".into());
                Device::new(&source, &target, &permissions)
            } else {
                text(srcs, i, what)?.parse()
            };
            d.map_err(|e| srcs.err(i, format!("{what}: {e}")))
        })
        .collect()
}

/// `gpus: all`, or a list of device requests, as compose-go reads them.
fn gpus(srcs: &Sources, n: &Node, what: &str) -> Result<Vec<DeviceRequest>> {
    match n.scalar_text().as_deref() {
        Some("all") => Ok(vec![DeviceRequest { count: Some(DeviceCount::All(AllDevices::All)), ..DeviceRequest::default() }]),
        Some(_) => Err(type_err(srcs, n, what, "`all` or a list of device requests")),
        None => device_requests(srcs, n, what),
    }
}

fn generic_resources(srcs: &Sources, n: &Node, what: &str) -> Result<Vec<GenericResource>> {
    let Val::Seq(items) = &n.v else { return Err(type_err(srcs, n, what, "a list")) };
    items
        .iter()
        .map(|i| {
            check_keys(srcs, map(srcs, i, what)?, &["discrete_resource_spec"], what)?;
            let spec = i.get("discrete_resource_spec").ok_or_else(|| srcs.err(i, format!("{what}: each entry needs `discrete_resource_spec`")))?;
            let w = format!("{what}.discrete_resource_spec");
            check_keys(srcs, map(srcs, spec, &w)?, &["kind", "value"], &w)?;
            let need = |f: &str| spec.get(f).ok_or_else(|| srcs.err(spec, format!("{w}: needs `{f}`")));
            Ok(GenericResource { discrete_resource_spec: DiscreteResource { kind: text(srcs, need("kind")?, &w)?, value: int(srcs, need("value")?, &w)? } })
        })
        .collect()
}

// ---- services ---------------------------------------------------------------------------

pub fn service(cx: &mut Ctx, name: &str, node: &Node) -> Result<Service> {
    let srcs = cx.srcs;
    let what = format!("service {name:?}");
    let m = map(srcs, node, &what)?;
    if cx.legacy {
        let mut all: Vec<&str> = SERVICE_KEYS.to_vec();
        all.extend(LEGACY_SERVICE_KEYS);
        check_keys(srcs, m, &all, &what)?;
    } else {
        check_keys(srcs, m, SERVICE_KEYS, &what)?;
    }
    let mut s = Service::default();
    let mut env_from_files: IndexMap<String, Option<String>> = IndexMap::new();
    let mut environment: Vec<(String, Option<String>)> = Vec::new();
    let mut label_files = IndexMap::new();
    for (k, v) in m {
        let key = k.key();
        let w = format!("{key} of service {name:?}");
        cx.locs.insert(format!("{name}/{key}"), srcs.loc(k));
        if key.starts_with("x-") {
            s.extensions.insert(key.to_string(), v.to_json());
            continue;
        }
        match key {
            "image" => s.image = opt_text(srcs, v, &w)?,
            "build" => s.build = Some(build(cx, v, &w)?),
            "dockerfile" => {} // legacy v1: read with `build` below
            "command" => s.command = command(srcs, v, &w)?,
            "entrypoint" => s.entrypoint = command(srcs, v, &w)?,
            "environment" => environment = kv(srcs, v, &w, '=')?,
            "env_file" => {
                s.env_file = env_files(cx, v, &w)?;
                for f in &s.env_file {
                    let env = cx.env;
                    let Some(vars) = read_dotenv(&f.path, &|x| env.get(x))? else {
                        if f.required {
                            return Err(srcs.err(v, format!("env file {} not found", f.path.display())));
                        }
                        continue;
                    };
                    for (k, val) in vars {
                        env_from_files.insert(k, Some(val));
                    }
                }
            }
            "ports" => s.ports = super::ports::ports(srcs, v, &w)?,
            "expose" => s.expose = super::ports::expose(srcs, v, &w)?,
            "volumes" => s.volumes = super::volumes::service_volumes(cx, v, &w)?,
            "volumes_from" => s.volumes_from = volumes_from(srcs, v, &w)?,
            "depends_on" => s.depends_on = depends_on(srcs, v, &w)?,
            "links" => s.links = links(srcs, v, &w)?,
            "external_links" => s.external_links = links(srcs, v, &w)?,
            "network_mode" | "net" => {
                s.network_mode = opt_text(srcs, v, &w)?.map(|m| m.parse().map_err(|e| srcs.err(v, format!("{w}: {e}")))).transpose()?
            }
            "networks" => s.networks = service_networks(srcs, v, &w)?,
            "healthcheck" => s.healthcheck = Some(healthcheck(srcs, v, &w)?),
            "restart" => s.restart = restart(srcs, v, &w)?,
            "scale" => s.scale = Some(int(srcs, v, &w)?),
            "deploy" => s.deploy = Some(deploy(srcs, v, name)?),
            "init" => s.init = Some(boolean(srcs, v, &w)?),
            "stop_signal" => s.stop_signal = opt_text(srcs, v, &w)?,
            "stop_grace_period" => s.stop_grace_period = Some(duration(srcs, v, &w)?),
            // Docker takes `/name` for `name` (its own names start with a slash).
            "container_name" => s.container_name = opt_text(srcs, v, &w)?.map(|n| n.strip_prefix('/').map(str::to_string).unwrap_or(n)),
            "hostname" => s.hostname = opt_text(srcs, v, &w)?,
            "domainname" => s.domainname = opt_text(srcs, v, &w)?,
            "user" => s.user = opt_text(srcs, v, &w)?,
            "working_dir" => s.working_dir = opt_text(srcs, v, &w)?,
            "privileged" => s.privileged = boolean(srcs, v, &w)?,
            "read_only" => s.read_only = boolean(srcs, v, &w)?,
            "tty" => s.tty = boolean(srcs, v, &w)?,
            "stdin_open" => s.stdin_open = boolean(srcs, v, &w)?,
            "cap_add" => s.cap_add = strict_list(srcs, v, &w)?,
            "cap_drop" => s.cap_drop = strict_list(srcs, v, &w)?,
            "dns" => s.dns = str_list(srcs, v, &w)?,
            "dns_search" => s.dns_search = str_list(srcs, v, &w)?,
            "dns_opt" => s.dns_opt = str_list(srcs, v, &w)?,
            "extra_hosts" => s.extra_hosts = extra_hosts(srcs, v, &w)?,
            "labels" => s.labels = labels(srcs, v, &w)?,
            "mem_limit" => s.mem_limit = Some(bytes(srcs, v, &w)?),
            "mem_reservation" => s.mem_reservation = Some(bytes(srcs, v, &w)?),
            "shm_size" => s.shm_size = Some(bytes(srcs, v, &w)?),
            "memswap_limit" => {
                s.memswap_limit = Some(match &v.v {
                    Val::Int(i) => *i,
                    _ => bytes(srcs, v, &w)? as i64,
                })
            }
            "cpu_shares" => s.cpu_shares = Some(int(srcs, v, &w)?),
            "cpus" => s.cpus = Some(cpus(srcs, v, &w)?),
            "cpu_quota" => s.cpu_quota = Some(int(srcs, v, &w)?),
            "cpu_period" => s.cpu_period = Some(int(srcs, v, &w)?),
            "cpuset" | "cpu_set" => s.cpuset = opt_text(srcs, v, &w)?,
            "pids_limit" => s.pids_limit = Some(int(srcs, v, &w)?),
            "security_opt" => s.security_opt = strict_list(srcs, v, &w)?,
            "sysctls" => s.sysctls = labels(srcs, v, &w)?,
            "ulimits" => s.ulimits = ulimits(srcs, v, &w)?,
            "devices" => s.devices = devices(srcs, v, &w)?,
            "tmpfs" => {
                let entries = str_list(srcs, v, &w)?;
                s.tmpfs = entries.iter().map(|t| t.parse().map_err(|e| srcs.err(v, format!("{w}: {e}")))).collect::<Result<_>>()?;
            }
            "group_add" => s.group_add = strict_list(srcs, v, &w)?,
            "cgroup_parent" => s.cgroup_parent = cgroup_parent(srcs, v, &w)?,
            "oom_score_adj" => s.oom_score_adj = Some(oom_score_adj(srcs, v, &w)?),
            "gpus" => s.gpus = gpus(srcs, v, &w)?,
            "mac_address" => s.mac_address = mac(srcs, v, &w)?,
            "userns_mode" => s.userns_mode = opt_text(srcs, v, &w)?,
            "runtime" => s.runtime = opt_text(srcs, v, &w)?,
            "annotations" => s.annotations = labels(srcs, v, &w)?,
            "pid" => s.pid = opt_text(srcs, v, &w)?.map(|m| ShareMode::pid(&m).map_err(|e| srcs.err(v, format!("{w}: {e}")))).transpose()?,
            "ipc" => s.ipc = opt_text(srcs, v, &w)?.map(|m| m.parse().map_err(|e| srcs.err(v, format!("{w}: {e}")))).transpose()?,
            "platform" => s.platform = opt_text(srcs, v, &w)?,
            "pull_policy" => s.pull_policy = opt_text(srcs, v, &w)?.map(|p| p.parse().map_err(|e| srcs.err(v, format!("{w}: {e}")))).transpose()?,
            "profiles" => s.profiles = strict_list(srcs, v, &w)?,
            "logging" => s.logging = Some(super::logging::logging(srcs, v, &w)?),
            // Legacy v1: read below, into `logging`.
            "log_driver" | "log_opt" => {}
            "develop" => s.develop = Some(develop(cx, v, &w)?),
            "post_start" => s.post_start = hooks(srcs, v, &w)?,
            "pre_stop" => s.pre_stop = hooks(srcs, v, &w)?,
            "attach" => s.attach = Some(boolean(srcs, v, &w)?),
            "label_file" => label_files = label_file_labels(cx, v, &w)?,
            "configs" => s.configs = file_refs(srcs, v, &w)?,
            "secrets" => s.secrets = file_refs(srcs, v, &w)?,
            // Resolved before normalization.
            "extends" => {}
            other => {
                s.other.insert(other.to_string(), v.to_json());
            }
        }
    }
    // Legacy `log_driver`/`log_opt` become `logging`; `dockerfile` joins `build`.
    if cx.legacy && s.logging.is_none() {
        s.logging = super::logging::legacy(srcs, node, &what)?;
    }
    if cx.legacy && let (Some(df), Some(b)) = (node.get("dockerfile"), s.build.as_mut()) {
        b.dockerfile = Some(text(srcs, df, "dockerfile")?);
    }
    check_main_mac(srcs, node, &s, &what)?;
    check_distinct(srcs, node, &mut s, name)?;
    // `labels:` wins over the files, whichever comes first in the mapping.
    label_files.extend(std::mem::take(&mut s.labels));
    s.labels = label_files;
    let env = cx.env;
    s.environment = env_from_files;
    for (k, v) in environment {
        // A bare `KEY` takes its value from the environment (.env included), else stays unset.
        let v = v.or_else(|| env.get(&k));
        s.environment.insert(k, v);
    }
    Ok(s)
}

/// `extra_hosts:` as a `host: ip` mapping or a list of `host:ip` / `host=ip`.
fn extra_hosts(srcs: &Sources, n: &Node, what: &str) -> Result<Vec<ExtraHost>> {
    let entries: Vec<(String, &Node)> = match &n.v {
        Val::Map(m) => m.iter().map(|(k, v)| Ok((format!("{}={}", k.key(), text(srcs, v, what)?), v))).collect::<Result<_>>()?,
        Val::Seq(items) => items.iter().map(|i| Ok((text(srcs, i, what)?, i))).collect::<Result<_>>()?,
        _ => return Err(type_err(srcs, n, what, "a list of strings")),
    };
    entries.into_iter().map(|(e, node)| e.parse().map_err(|msg| srcs.err(node, format!("{what}: {msg}")))).collect()
}

fn develop(cx: &Ctx, n: &Node, what: &str) -> Result<Develop> {
    let srcs = cx.srcs;
    check_keys(srcs, map(srcs, n, what)?, &["watch"], what)?;
    let Some(watch) = n.get("watch") else { return Ok(Develop::default()) };
    let Val::Seq(items) = &watch.v else { return Err(type_err(srcs, watch, &what.replacen("develop", "develop.watch", 1), "a list")) };
    let rules = items.iter().enumerate().map(|(i, item)| watch_rule(cx, item, &what.replacen("develop", &format!("develop.watch[{i}]"), 1))).collect::<Result<_>>()?;
    Ok(Develop { watch: rules })
}

fn watch_rule(cx: &Ctx, n: &Node, what: &str) -> Result<WatchRule> {
    let srcs = cx.srcs;
    let m = map(srcs, n, what)?;
    check_keys(srcs, m, &["path", "action", "target", "ignore", "include", "initial_sync", "exec"], what)?;
    let required = |key: &str| n.get(key).ok_or_else(|| srcs.err(n, format!("{what}: `{key}` is required")));
    let path = absolute(cx.project_dir, Path::new(&expand_home(&text(srcs, required("path")?, what)?)));
    let action_node = required("action")?;
    let action = match text(srcs, action_node, what)?.as_str() {
        "sync" => WatchAction::Sync,
        "rebuild" => WatchAction::Rebuild,
        "restart" => WatchAction::Restart,
        "sync+restart" => WatchAction::SyncRestart,
        "sync+exec" => WatchAction::SyncExec,
        other => {
            return Err(srcs.err(action_node, format!("{what}: unknown action {other:?} (use {})", WatchAction::NAMES.join(", "))));
        }
    };
    let mut rule = WatchRule { path, action, target: None, ignore: vec![], include: vec![], initial_sync: false, exec: None };
    for (k, v) in m {
        let w = format!("{}: {}", what, k.key());
        match k.key() {
            "target" => {
                let t = text(srcs, v, &w)?;
                if !t.starts_with('/') {
                    return Err(srcs.err(v, format!("{w} must be an absolute path in the container, not {t:?}")));
                }
                rule.target = Some(t);
            }
            "ignore" => rule.ignore = strict_list(srcs, v, &w)?,
            "include" => rule.include = strict_list(srcs, v, &w)?,
            "initial_sync" => rule.initial_sync = boolean(srcs, v, &w)?,
            "exec" => rule.exec = Some(hook(srcs, v, &w)?),
            _ => {}
        }
    }
    if action.syncs() && rule.target.is_none() {
        return Err(srcs.err(n, format!("{what}: action {} needs a `target` (where the files go in the container)", action.as_str())));
    }
    match (action, &rule.exec) {
        (WatchAction::SyncExec, None) => return Err(srcs.err(n, format!("{what}: action sync+exec needs `exec.command`"))),
        (WatchAction::SyncExec, Some(_)) | (_, None) => {}
        (_, Some(_)) => return Err(srcs.err(required("exec")?, format!("{what}: `exec` only applies to action sync+exec"))),
    }
    Ok(rule)
}

/// `post_start:` / `pre_stop:`: a list of hooks.
fn hooks(srcs: &Sources, n: &Node, what: &str) -> Result<Vec<ServiceHook>> {
    let Val::Seq(items) = &n.v else { return Err(type_err(srcs, n, what, "a list")) };
    items.iter().enumerate().map(|(i, item)| hook(srcs, item, &format!("{what}[{i}]"))).collect()
}

fn hook(srcs: &Sources, n: &Node, what: &str) -> Result<ServiceHook> {
    check_keys(srcs, map(srcs, n, what)?, &["command", "user", "working_dir", "environment", "privileged"], what)?;
    let mut e = ServiceHook::default();
    for (k, v) in map(srcs, n, what)? {
        let w = format!("{what}.{}", k.key());
        match k.key() {
            "command" => e.command = command(srcs, v, &w)?.unwrap_or_default(),
            "user" => e.user = opt_text(srcs, v, &w)?,
            "working_dir" => e.working_dir = opt_text(srcs, v, &w)?,
            "environment" => e.environment = labels(srcs, v, &w)?,
            "privileged" => e.privileged = boolean(srcs, v, &w)?,
            _ => {}
        }
    }
    if e.command.is_empty() {
        return Err(srcs.err(n, format!("{what}: `command` is required")));
    }
    Ok(e)
}

/// A service's `configs:` or `secrets:`: names, or entries with a `source`.
fn file_refs(srcs: &Sources, n: &Node, what: &str) -> Result<Vec<FileRef>> {
    let Val::Seq(items) = &n.v else { return Err(type_err(srcs, n, what, "a list")) };
    items
        .iter()
        .map(|i| {
            if let Val::Str(name) = &i.v {
                return Ok(FileRef { source: name.clone(), ..FileRef::default() });
            }
            check_keys(srcs, map(srcs, i, what)?, &["source", "target", "uid", "gid", "mode"], what)?;
            let field = |f: &str| i.get(f).filter(|x| x.v != Val::Null).map(|x| text(srcs, x, &format!("{what}.{f}"))).transpose();
            Ok(FileRef {
                source: field("source")?.ok_or_else(|| srcs.err(i, format!("{what}: an entry needs a `source`")))?,
                target: field("target")?,
                uid: field("uid")?,
                gid: field("gid")?,
                mode: i.get("mode").map(|m| file_mode(srcs, m, &format!("{what}.mode"))).transpose()?,
            })
        })
        .collect()
}

/// A file mode as Docker Compose reads one: a string is octal (`"0440"`, `"440"`); a
/// number written in a base (`0o440`, `0x120`, and `0440`, octal in YAML 1.1) is that
/// number; bare digits that are all octal (`440`) are read as octal too, as people mean.
pub fn file_mode(srcs: &Sources, n: &Node, what: &str) -> Result<u32> {
    let bad = || srcs.err(n, format!("{what}: mode {:?} is not a file mode (use octal, like 0440)", n.scalar_text().unwrap_or_default()));
    let mode = match &n.v {
        Val::Int(i) => {
            let written = srcs.written(n).unwrap_or_default();
            let written = written.trim_start_matches('+');
            let based = written.starts_with("0o") || written.starts_with("0x");
            let digits = i.to_string();
            if !based && digits.chars().all(|c| ('0'..='7').contains(&c)) { u32::from_str_radix(&digits, 8).ok() } else { u32::try_from(*i).ok() }
        }
        Val::Str(t) => u32::from_str_radix(t.trim_start_matches("0o"), 8).ok(),
        _ => None,
    };
    mode.filter(|m| *m <= 0o7777).ok_or_else(bad)
}

fn command(srcs: &Sources, n: &Node, what: &str) -> Result<Option<Vec<String>>> {
    match &n.v {
        Val::Null => Ok(None),
        Val::Seq(items) => Ok(Some(items.iter().map(|i| text(srcs, i, what)).collect::<Result<_>>()?)),
        _ => {
            let s = text(srcs, n, what)?;
            shell_words::split(&s).map(Some).map_err(|e| srcs.err(n, format!("{what}: {e}")))
        }
    }
}

fn build(cx: &mut Ctx, n: &Node, what: &str) -> Result<Build> {
    let srcs = cx.srcs;
    let ctx_path = |s: &str| -> String {
        // URLs and git contexts stay as written; paths become absolute.
        if s.contains("://") || s.starts_with("git@") || s.starts_with("github.com/") {
            s.to_string()
        } else {
            absolute(cx.project_dir, Path::new(&expand_home(s))).display().to_string()
        }
    };
    if n.as_map().is_none() {
        return Ok(Build { context: ctx_path(&text(srcs, n, what)?), ..Build::default() });
    }
    let m = map(srcs, n, what)?;
    const KEYS: &[&str] = &[
        "context", "dockerfile", "dockerfile_inline", "entitlements", "args", "ssh", "labels", "cache_from", "cache_to",
        "no_cache", "additional_contexts", "network", "provenance", "sbom", "pull", "target", "shm_size", "extra_hosts",
        "isolation", "privileged", "secrets", "tags", "ulimits", "platforms",
    ];
    check_keys(srcs, m, KEYS, what)?;
    let mut b = Build { context: ctx_path("."), ..Build::default() };
    for (k, v) in m {
        let w = format!("build.{} ({what})", k.key());
        match k.key() {
            "context" => b.context = ctx_path(&text(srcs, v, &w)?),
            "dockerfile" => b.dockerfile = opt_text(srcs, v, &w)?,
            "dockerfile_inline" => b.dockerfile_inline = opt_text(srcs, v, &w)?,
            "args" => b.args = kv(srcs, v, &w, '=')?.into_iter().collect(),
            "target" => b.target = opt_text(srcs, v, &w)?,
            "labels" => b.labels = labels(srcs, v, &w)?,
            "no_cache" => b.no_cache = boolean(srcs, v, &w)?,
            "pull" => b.pull = boolean(srcs, v, &w)?,
            "cache_from" => b.cache_from = strict_list(srcs, v, &w)?,
            "tags" => b.tags = strict_list(srcs, v, &w)?,
            "network" => b.network = opt_text(srcs, v, &w)?,
            other => {
                b.other.insert(other.to_string(), v.to_json());
            }
        }
    }
    Ok(b)
}

pub fn expand_home(s: &str) -> String {
    match s.strip_prefix('~') {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => {
            format!("{}{rest}", std::env::var("HOME").unwrap_or_else(|_| "/root".into()))
        }
        _ => s.to_string(),
    }
}

fn env_files(cx: &Ctx, n: &Node, what: &str) -> Result<Vec<EnvFile>> {
    let srcs = cx.srcs;
    let one = |i: &Node| -> Result<EnvFile> {
        if let Some(m) = i.as_map() {
            check_keys(srcs, m, &["path", "required", "format"], what)?;
            let p = i.get("path").ok_or_else(|| srcs.err(i, format!("{what}: `path` is required")))?;
            let required = match i.get("required") {
                Some(r) => boolean(srcs, r, what)?,
                None => true,
            };
            Ok(EnvFile { path: absolute(cx.project_dir, Path::new(&text(srcs, p, what)?)), required })
        } else {
            Ok(EnvFile { path: absolute(cx.project_dir, Path::new(&text(srcs, i, what)?)), required: true })
        }
    };
    match &n.v {
        Val::Seq(items) => items.iter().map(one).collect(),
        _ => Ok(vec![one(n)?]),
    }
}

/// The labels of `label_file:` (a path or a list, relative to the project directory), read
/// as compose-go reads them: dotenv lines, a later file over an earlier one, `${VAR}` and a
/// bare `KEY` resolved against the labels read so far (not the environment).
fn label_file_labels(cx: &Ctx, n: &Node, what: &str) -> Result<IndexMap<String, String>> {
    let srcs = cx.srcs;
    let mut labels: IndexMap<String, String> = IndexMap::new();
    for path in str_list(srcs, n, what)? {
        let path = absolute(cx.project_dir, Path::new(&expand_home(&path)));
        let lookup = |k: &str| labels.get(k).cloned();
        let Some(read) = read_dotenv(&path, &lookup)? else {
            return Err(srcs.err(n, format!("{what}: label file {} not found", path.display())));
        };
        labels.extend(read);
    }
    Ok(labels)
}

fn volumes_from(srcs: &Sources, n: &Node, what: &str) -> Result<Vec<VolumesFrom>> {
    strict_list(srcs, n, what)?
        .into_iter()
        .map(|e| {
            let (container, rest) = match e.strip_prefix("container:") {
                Some(r) => (true, r.to_string()),
                None => (false, e.clone()),
            };
            let (src, mode) = match rest.rsplit_once(':') {
                Some((s, m)) if m == "ro" || m == "rw" => (s.to_string(), Some(m)),
                _ => (rest.clone(), None),
            };
            if src.is_empty() || src.contains(':') {
                return Err(srcs.err(n, format!("{what}: invalid entry {e:?} (use svc, svc:ro or container:name[:ro])")));
            }
            let source = if container { VolumesFromSource::Container(src) } else { VolumesFromSource::Service(src) };
            Ok(VolumesFrom { source, read_only: mode == Some("ro") })
        })
        .collect()
}

fn depends_on(srcs: &Sources, n: &Node, what: &str) -> Result<IndexMap<String, DependsOn>> {
    let started = || DependsOn { condition: DependsCondition::ServiceStarted, restart: false, required: true };
    if let Val::Seq(_) = n.v {
        return Ok(strict_list(srcs, n, what)?.into_iter().map(|s| (s, started())).collect());
    }
    let mut out = IndexMap::new();
    for (k, v) in map(srcs, n, what)? {
        let mut d = started();
        let m = map(srcs, v, what)?;
        check_keys(srcs, m, &["condition", "restart", "required"], what)?;
        if let Some(c) = v.get("condition") {
            d.condition = match text(srcs, c, what)?.as_str() {
                "service_started" => DependsCondition::ServiceStarted,
                "service_healthy" => DependsCondition::ServiceHealthy,
                "service_completed_successfully" => DependsCondition::ServiceCompletedSuccessfully,
                other => {
                    return Err(srcs.err(c, format!(
                        "{what}: unknown condition {other:?} (use service_started, service_healthy or service_completed_successfully)"
                    )));
                }
            };
        }
        if let Some(r) = v.get("restart") {
            d.restart = boolean(srcs, r, what)?;
        }
        if let Some(r) = v.get("required") {
            d.required = boolean(srcs, r, what)?;
        }
        out.insert(k.key().to_string(), d);
    }
    Ok(out)
}

fn links(srcs: &Sources, n: &Node, what: &str) -> Result<Vec<Link>> {
    strict_list(srcs, n, what)?
        .into_iter()
        .map(|l| {
            let (target, alias) = match l.split_once(':') {
                Some((t, a)) => (t.to_string(), a.to_string()),
                None => (l.clone(), l.clone()),
            };
            if target.is_empty() || alias.is_empty() {
                return Err(srcs.err(n, format!("{what}: invalid link {l:?}")));
            }
            Ok(Link { target, alias })
        })
        .collect()
}

fn service_networks(srcs: &Sources, n: &Node, what: &str) -> Result<IndexMap<String, ServiceNetwork>> {
    if let Val::Seq(_) = n.v {
        return Ok(strict_list(srcs, n, what)?.into_iter().map(|s| (s, ServiceNetwork::default())).collect());
    }
    let mut out = IndexMap::new();
    for (k, v) in map(srcs, n, what)? {
        let mut sn = ServiceNetwork::default();
        if v.v != Val::Null {
            let m = map(srcs, v, what)?;
            const KEYS: &[&str] = &[
                "aliases", "interface_name", "ipv4_address", "ipv6_address", "link_local_ips", "mac_address", "driver_opts",
                "priority", "gw_priority",
            ];
            check_keys(srcs, m, KEYS, what)?;
            for (fk, fv) in m {
                match fk.key() {
                    "aliases" => sn.aliases = strict_list(srcs, fv, what)?,
                    "ipv4_address" => sn.ipv4_address = opt_text(srcs, fv, what)?,
                    "ipv6_address" => sn.ipv6_address = opt_text(srcs, fv, what)?,
                    "priority" => sn.priority = Some(int(srcs, fv, what)?),
                    "mac_address" => sn.mac_address = mac(srcs, fv, &format!("mac_address of network {:?} ({what})", k.key()))?,
                    _ => {}
                }
            }
        }
        out.insert(k.key().to_string(), sn);
    }
    Ok(out)
}

fn healthcheck(srcs: &Sources, n: &Node, what: &str) -> Result<Healthcheck> {
    let m = map(srcs, n, what)?;
    check_keys(srcs, m, &["disable", "interval", "retries", "test", "timeout", "start_period", "start_interval"], what)?;
    let mut h = Healthcheck::default();
    for (k, v) in m {
        let w = format!("healthcheck.{} ({what})", k.key());
        match k.key() {
            "test" => {
                h.test = match &v.v {
                    Val::Seq(_) => strict_list(srcs, v, &w)?,
                    Val::Null => vec![],
                    _ => vec!["CMD-SHELL".to_string(), text(srcs, v, &w)?],
                };
                if let Some(first) = h.test.first()
                    && !matches!(first.as_str(), "CMD" | "CMD-SHELL" | "NONE")
                {
                    return Err(srcs.err(v, format!("{w}: a test list must start with CMD, CMD-SHELL or NONE")));
                }
            }
            "interval" => h.interval = Some(duration(srcs, v, &w)?),
            "timeout" => h.timeout = Some(duration(srcs, v, &w)?),
            "start_period" => h.start_period = Some(duration(srcs, v, &w)?),
            "start_interval" => h.start_interval = Some(duration(srcs, v, &w)?),
            "retries" => h.retries = Some(int(srcs, v, &w)?),
            "disable" => h.disable = boolean(srcs, v, &w)?,
            _ => {}
        }
    }
    if h.test.first().map(String::as_str) == Some("NONE") {
        h.disable = true;
    }
    Ok(h)
}

fn ulimits(srcs: &Sources, n: &Node, what: &str) -> Result<IndexMap<String, Ulimit>> {
    let mut out = IndexMap::new();
    for (k, v) in map(srcs, n, what)? {
        let u = match &v.v {
            Val::Map(m) => {
                check_keys(srcs, m, &["soft", "hard"], what)?;
                let get = |f: &str| v.get(f).ok_or_else(|| srcs.err(v, format!("{what}: {} needs `{f}`", k.key())));
                Ulimit { soft: int(srcs, get("soft")?, what)?, hard: int(srcs, get("hard")?, what)? }
            }
            _ => {
                let x = int(srcs, v, what)?;
                Ulimit { soft: x, hard: x }
            }
        };
        out.insert(k.key().to_string(), u);
    }
    Ok(out)
}

// ---- top-level objects --------------------------------------------------------------------

fn string_map(srcs: &Sources, n: &Node, what: &str) -> Result<IndexMap<String, String>> {
    Ok(kv(srcs, n, what, '=')?.into_iter().map(|(k, v)| (k, v.unwrap_or_default())).collect())
}

/// `external: true` or the legacy `external: {name: x}`; returns (external, legacy name).
fn external(srcs: &Sources, n: &Node, what: &str) -> Result<(bool, Option<String>)> {
    match &n.v {
        Val::Map(_) => Ok((true, n.get("name").map(|x| text(srcs, x, what)).transpose()?)),
        _ => Ok((boolean(srcs, n, what)?, None)),
    }
}

pub fn network(srcs: &Sources, project: &str, key: &str, n: &Node) -> Result<Network> {
    let what = format!("network {key:?}");
    let mut net = Network { name: format!("{project}_{key}"), ..Network::default() };
    if n.v == Val::Null {
        return Ok(net);
    }
    let m = map(srcs, n, &what)?;
    check_keys(srcs, m, NETWORK_KEYS, &what)?;
    let mut explicit_name = None;
    for (k, v) in m {
        match k.key() {
            "name" => explicit_name = Some(text(srcs, v, &what)?),
            "driver" => net.driver = opt_text(srcs, v, &what)?,
            "driver_opts" => net.driver_opts = string_map(srcs, v, &what)?,
            "external" => {
                let (ext, n) = external(srcs, v, &what)?;
                net.external = ext;
                explicit_name = explicit_name.or(n);
            }
            "internal" => net.internal = boolean(srcs, v, &what)?,
            "attachable" => net.attachable = boolean(srcs, v, &what)?,
            "enable_ipv6" => net.enable_ipv6 = boolean(srcs, v, &what)?,
            "labels" => net.labels = labels(srcs, v, &what)?,
            "ipam" => {
                let im = map(srcs, v, &what)?;
                check_keys(srcs, im, &["driver", "config", "options"], &what)?;
                if let Some(cfg) = v.get("config") {
                    let Val::Seq(items) = &cfg.v else { return Err(type_err(srcs, cfg, "ipam.config", "a list")) };
                    for c in items {
                        let cm = map(srcs, c, "ipam.config")?;
                        check_keys(srcs, cm, &["subnet", "ip_range", "gateway", "aux_addresses"], "ipam.config")?;
                        let get = |f: &str| c.get(f).map(|x| text(srcs, x, "ipam.config")).transpose();
                        if let Some(subnet) = get("subnet")? {
                            net.subnets.push(IpamConfig { subnet, gateway: get("gateway")?, ip_range: get("ip_range")? });
                        }
                    }
                }
            }
            _ => {}
        }
    }
    if let Some(n) = explicit_name {
        net.name = n;
    } else if net.external {
        net.name = key.to_string();
    }
    Ok(net)
}

pub fn volume(srcs: &Sources, project: &str, key: &str, n: &Node) -> Result<Volume> {
    let what = format!("volume {key:?}");
    let mut vol = Volume { name: format!("{project}_{key}"), ..Volume::default() };
    if n.v == Val::Null {
        return Ok(vol);
    }
    let m = map(srcs, n, &what)?;
    check_keys(srcs, m, VOLUME_KEYS, &what)?;
    let mut explicit_name = None;
    for (k, v) in m {
        match k.key() {
            "name" => explicit_name = Some(text(srcs, v, &what)?),
            "driver" => vol.driver = opt_text(srcs, v, &what)?,
            "driver_opts" => vol.driver_opts = string_map(srcs, v, &what)?,
            "external" => {
                let (ext, n) = external(srcs, v, &what)?;
                vol.external = ext;
                explicit_name = explicit_name.or(n);
            }
            "labels" => vol.labels = labels(srcs, v, &what)?,
            _ => {}
        }
    }
    if let Some(opts) = n.get("driver_opts")
        && vol.driver.as_deref().is_none_or(|d| d == "local")
    {
        let pairs = vol.driver_opts.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        vol.local_mount = LocalMount::parse(pairs).map_err(|e| srcs.err(opts, format!("{what}: {e}")))?;
    }
    if let Some(n) = explicit_name {
        vol.name = n;
    } else if vol.external {
        vol.name = key.to_string();
    }
    Ok(vol)
}

/// A top-level `configs:`/`secrets:` entry (`kind` is "config" or "secret").
pub fn file_object(cx: &Ctx, kind: &str, project: &str, key: &str, n: &Node) -> Result<FileObject> {
    let srcs = cx.srcs;
    let what = format!("{kind} {key:?}");
    let m = map(srcs, n, &what)?;
    let keys: &[&str] = if kind == "config" {
        &["name", "content", "environment", "file", "external", "labels", "template_driver"]
    } else {
        &["name", "environment", "file", "external", "labels", "driver", "driver_opts", "template_driver"]
    };
    check_keys(srcs, m, keys, &what)?;
    let mut o = FileObject { name: format!("{project}_{key}"), ..FileObject::default() };
    let mut explicit_name = None;
    for (k, v) in m {
        match k.key() {
            "name" => explicit_name = Some(text(srcs, v, &what)?),
            "file" => o.file = Some(absolute(cx.project_dir, Path::new(&expand_home(&text(srcs, v, &what)?)))),
            "environment" => o.environment = opt_text(srcs, v, &what)?,
            "content" => o.content = opt_text(srcs, v, &what)?,
            "external" => {
                let (ext, n) = external(srcs, v, &what)?;
                o.external = ext;
                explicit_name = explicit_name.or(n);
            }
            "labels" => o.labels = labels(srcs, v, &what)?,
            _ => {}
        }
    }
    if let Some(n) = explicit_name {
        o.name = n;
    } else if o.external {
        o.name = key.to_string();
    }
    // What a container gets, resolved now: `up` writes it, the config hash covers it.
    o.value = o.environment.as_deref().and_then(|var| cx.env.get(var));
    let data = match (&o.content, &o.value, &o.file) {
        (Some(c), _, _) => Some(c.as_bytes().to_vec()),
        (None, Some(v), _) => Some(v.as_bytes().to_vec()),
        (None, None, Some(f)) => super::discover::read_bytes(f, super::discover::MAX_COMPOSE_FILE).ok(),
        _ => None,
    };
    o.digest = data.map(|d| {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&d))
    });
    Ok(o)
}
