//! Turns a `ContainerSpec` into the engine's create body (config + host config + first
//! network endpoint). Pure, except that missing bind sources are created on the host.

use std::collections::HashMap;

use bollard::models::{
    ContainerCreateBody, DeviceMapping, EndpointIpamConfig, EndpointSettings, HealthConfig, HostConfig, HostConfigLogConfig, Mount as DMount,
    MountTmpfsOptions, MountType, MountVolumeOptions, NetworkingConfig, PortBinding, ResourcesUlimits, RestartPolicy,
    RestartPolicyNameEnum,
};

use crate::backend::{BackendError, ContainerSpec, Mount, NetworkAttachment, NetworkMode, Result};
use crate::compose::model::{Duration, Healthcheck};

/// An anonymous volume of the container being replaced, to mount again in the new one.
#[derive(Debug, Clone, PartialEq)]
pub struct CarriedVolume {
    pub name: String,
    pub target: String,
}

/// The create body, plus the networks to connect after create (all but the first).
pub struct CreatePlan {
    pub body: ContainerCreateBody,
    pub later_networks: Vec<NetworkAttachment>,
}

pub fn create_body(spec: &ContainerSpec, carried: &[CarriedVolume]) -> Result<CreatePlan> {
    let labels: HashMap<String, String> = spec.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect();

    let mut exposed: Vec<String> = spec.expose.iter().map(|e| e.to_string()).collect();
    let mut bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
    for p in &spec.ports {
        let key = format!("{}/{}", p.target, p.protocol);
        if !exposed.contains(&key) {
            exposed.push(key.clone());
        }
        let binding = PortBinding {
            host_ip: p.host_ip.clone(),
            // Empty host port: the engine picks a free one.
            host_port: Some(p.published.map(|n| n.to_string()).unwrap_or_default()),
        };
        bindings.entry(key).or_insert_with(|| Some(Vec::new())).get_or_insert_with(Vec::new).push(binding);
    }

    let (network_mode, endpoints, later_networks, legacy_links) = network_parts(spec);

    let r = &spec.resources;
    let host = HostConfig {
        network_mode: Some(network_mode),
        links: legacy_links,
        port_bindings: (!bindings.is_empty()).then_some(bindings),
        mounts: Some(mounts(spec, carried)?),
        volumes_from: non_empty(
            spec.volumes_from.iter().map(|(name, ro)| if *ro { format!("{name}:ro") } else { name.clone() }).collect(),
        ),
        restart_policy: spec.restart.map(restart_policy),
        init: spec.init,
        cap_add: non_empty(spec.cap_add.clone()),
        cap_drop: non_empty(spec.cap_drop.clone()),
        privileged: Some(spec.privileged),
        readonly_rootfs: Some(spec.read_only),
        security_opt: non_empty(spec.security_opt.clone()),
        sysctls: (!spec.sysctls.is_empty()).then(|| spec.sysctls.clone().into_iter().collect()),
        ulimits: non_empty(
            spec.ulimits
                .iter()
                .map(|(name, u)| ResourcesUlimits { name: Some(name.clone()), soft: Some(u.soft), hard: Some(u.hard) })
                .collect(),
        ),
        devices: non_empty(spec.devices.iter().map(|d| device(d)).collect()),
        // `tmpfs:` entries are Mounts (with their size and mode) from the plan.
        group_add: non_empty(spec.group_add.clone()),
        dns: non_empty(spec.dns.clone()),
        dns_search: non_empty(spec.dns_search.clone()),
        dns_options: non_empty(spec.dns_opt.clone()),
        extra_hosts: non_empty(spec.extra_hosts.iter().map(|h| h.to_string()).collect()),
        memory: r.memory.map(|v| v as i64),
        memory_reservation: r.memory_reservation.map(|v| v as i64),
        memory_swap: r.memory_swap,
        shm_size: r.shm_size.map(|v| v as i64),
        cpu_shares: r.cpu_shares.map(|v| v as i64),
        nano_cpus: r.cpus.map(|c| (c * 1e9) as i64),
        cpu_quota: r.cpu_quota,
        cpu_period: r.cpu_period.map(|v| v as i64),
        cpuset_cpus: r.cpuset.clone(),
        pids_limit: r.pids_limit,
        pid_mode: spec.pid.clone(),
        ipc_mode: spec.ipc.clone(),
        cgroup_parent: spec.cgroup_parent.clone(),
        oom_score_adj: spec.oom_score_adj,
        device_requests: non_empty(
            spec.device_requests
                .iter()
                .map(|d| bollard::models::DeviceRequest {
                    driver: d.driver.clone(),
                    count: d.count.map(|c| c.engine()),
                    device_ids: non_empty(d.device_ids.clone()),
                    capabilities: Some(vec![d.capabilities.clone()]),
                    options: (!d.options.is_empty()).then(|| d.options.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
                })
                .collect(),
        ),
        userns_mode: spec.userns_mode.clone(),
        runtime: spec.runtime.clone(),
        // As Compose: the driver (empty: the engine's default) and its options as written.
        log_config: spec.logging.as_ref().map(|l| HostConfigLogConfig {
            typ: Some(l.driver.clone().unwrap_or_default()),
            config: Some(l.options.clone().into_iter().collect()),
        }),
        ..Default::default()
    };

    let body = ContainerCreateBody {
        image: Some(spec.image.clone()),
        cmd: spec.command.clone(),
        entrypoint: spec.entrypoint.clone(),
        env: Some(spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        hostname: spec.hostname.clone(),
        domainname: spec.domainname.clone(),
        user: spec.user.clone(),
        working_dir: spec.working_dir.clone(),
        tty: Some(spec.tty),
        open_stdin: Some(spec.stdin_open),
        attach_stdin: Some(spec.stdin_open),
        // As Compose's `run`: the engine closes the container's stdin when ours ends, and
        // keeps streaming its output (without it, our stdin's EOF ends the attach and
        // what the container prints afterwards is lost).
        stdin_once: Some(spec.oneoff && spec.stdin_open),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        exposed_ports: non_empty(exposed),
        labels: Some(labels),
        healthcheck: spec.healthcheck.as_ref().map(healthcheck),
        stop_signal: spec.stop_signal.clone(),
        stop_timeout: spec.stop_grace_period.map(|d| d.as_secs() as i64),
        host_config: Some(host),
        networking_config: endpoints.map(|e| NetworkingConfig { endpoints_config: Some(e) }),
        ..Default::default()
    };
    Ok(CreatePlan { body, later_networks })
}

type NetworkParts = (String, Option<HashMap<String, EndpointSettings>>, Vec<NetworkAttachment>, Option<Vec<String>>);

/// Network mode string, the first endpoint, the networks to connect later, and legacy links.
fn network_parts(spec: &ContainerSpec) -> NetworkParts {
    let links: Vec<String> = spec.links.iter().map(|(name, alias)| format!("{name}:{alias}")).collect();
    match &spec.network {
        // Legacy links: the engine writes the link env vars and /etc/hosts lines.
        NetworkMode::DefaultBridge => ("bridge".into(), None, Vec::new(), non_empty(links)),
        NetworkMode::Host => ("host".into(), None, Vec::new(), None),
        NetworkMode::None => ("none".into(), None, Vec::new(), None),
        NetworkMode::Container(name) => (format!("container:{name}"), None, Vec::new(), None),
        NetworkMode::Networks(list) => match list.split_first() {
            None => ("bridge".into(), None, Vec::new(), non_empty(links)),
            Some((first, rest)) => {
                let mut eps = HashMap::new();
                eps.insert(first.network.clone(), endpoint(first, &links));
                (first.network.clone(), Some(eps), rest.to_vec(), None)
            }
        },
    }
}

/// Endpoint settings for one user network; links there become aliases on that network.
pub fn endpoint(att: &NetworkAttachment, links: &[String]) -> EndpointSettings {
    EndpointSettings {
        aliases: non_empty(att.aliases.clone()),
        links: non_empty(links.to_vec()),
        ipam_config: att
            .ipv4_address
            .as_ref()
            .map(|ip| EndpointIpamConfig { ipv4_address: Some(ip.clone()), ..Default::default() }),
        // Read by engines from API 1.44; older ones take `Config.MacAddress` (see `mac`).
        mac_address: att.mac_address.map(|m| m.to_string()),
        ..Default::default()
    }
}

fn mounts(spec: &ContainerSpec, carried: &[CarriedVolume]) -> Result<Vec<DMount>> {
    let mut out = Vec::new();
    for m in &spec.mounts {
        // An anonymous volume the old container had at this target is mounted again instead.
        if let Mount::Volume { name: None, target, .. } = m
            && carried.iter().any(|c| &c.target == target)
        {
            continue;
        }
        out.push(mount(m)?);
    }
    for c in carried {
        let taken = spec.mounts.iter().any(|m| m.target() == c.target && !matches!(m, Mount::Volume { name: None, .. }));
        if !taken {
            out.push(DMount {
                typ: Some(MountType::VOLUME),
                source: Some(c.name.clone()),
                target: Some(c.target.clone()),
                ..Default::default()
            });
        }
    }
    Ok(out)
}

fn mount(m: &Mount) -> Result<DMount> {
    Ok(match m {
        Mount::Bind { source, target, read_only, create_host_path } => {
            if *create_host_path && !source.exists() {
                // Docker's own behaviour for a missing bind source: an empty directory.
                std::fs::create_dir_all(source)
                    .map_err(|e| BackendError::io(format!("creating bind source {}", source.display()), e))?;
            }
            DMount {
                typ: Some(MountType::BIND),
                source: Some(source.to_string_lossy().into_owned()),
                target: Some(target.clone()),
                read_only: Some(*read_only),
                ..Default::default()
            }
        }
        Mount::Volume { name, target, read_only, nocopy } => DMount {
            typ: Some(MountType::VOLUME),
            // No source: the engine creates an anonymous volume.
            source: name.clone(),
            target: Some(target.clone()),
            read_only: Some(*read_only),
            volume_options: nocopy.then(|| MountVolumeOptions { no_copy: Some(true), ..Default::default() }),
            ..Default::default()
        },
        Mount::Tmpfs { target, size, mode } => DMount {
            typ: Some(MountType::TMPFS),
            target: Some(target.clone()),
            tmpfs_options: Some(MountTmpfsOptions {
                size_bytes: size.map(|s| s as i64),
                mode: mode.map(|m| m as i64),
                ..Default::default()
            }),
            ..Default::default()
        },
    })
}

pub(crate) fn healthcheck(h: &Healthcheck) -> HealthConfig {
    let ns = |d: &Option<Duration>| d.map(Duration::nanos);
    let test = if h.disable { Some(vec!["NONE".to_string()]) } else { non_empty(h.test.clone()) };
    HealthConfig {
        test,
        interval: ns(&h.interval),
        timeout: ns(&h.timeout),
        retries: h.retries.map(i64::from),
        start_period: ns(&h.start_period),
        start_interval: ns(&h.start_interval),
    }
}

fn restart_policy(p: crate::compose::model::RestartPolicy) -> RestartPolicy {
    use crate::compose::model::RestartPolicy as P;
    let (name, count) = match p {
        P::No => (RestartPolicyNameEnum::NO, None),
        P::Always => (RestartPolicyNameEnum::ALWAYS, None),
        P::UnlessStopped => (RestartPolicyNameEnum::UNLESS_STOPPED, None),
        P::OnFailure(n) => (RestartPolicyNameEnum::ON_FAILURE, n.map(i64::from)),
    };
    RestartPolicy { name: Some(name), maximum_retry_count: count }
}

/// `host[:container[:perms]]`.
fn device(d: &crate::compose::model::Device) -> DeviceMapping {
    DeviceMapping { path_on_host: Some(d.source.clone()), path_in_container: Some(d.target.clone()), cgroup_permissions: Some(d.permissions.clone()) }
}

fn non_empty<T>(v: Vec<T>) -> Option<Vec<T>> {
    (!v.is_empty()).then_some(v)
}

/// True for the 64-hex names Docker gives anonymous volumes.
pub fn is_anonymous_volume_name(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_policies() {
        let p = restart_policy("on-failure:3".parse().unwrap());
        assert_eq!(p.name, Some(RestartPolicyNameEnum::ON_FAILURE));
        assert_eq!(p.maximum_retry_count, Some(3));
    }

    #[test]
    fn devices_and_anonymous_names() {
        let d = device(&"/dev/fuse".parse().unwrap());
        assert_eq!(d.path_in_container.as_deref(), Some("/dev/fuse"));
        assert_eq!(d.cgroup_permissions.as_deref(), Some("rwm"));
        assert!(is_anonymous_volume_name(&"ab".repeat(32)));
        assert!(!is_anonymous_volume_name("proj_data"));
    }
}
