//! Translation between hoist's plain data and the Docker engine API's types: a
//! `ContainerSpec` becomes a create body, an inspect response becomes a `ContainerSummary`.

use std::collections::HashMap;

use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, ContainerStateStatusEnum, EndpointIpamConfig, EndpointSettings,
    HealthConfig, HealthStatusEnum, HostConfig, Mount as DMount, MountTmpfsOptions, MountType, MountVolumeOptions,
    NetworkingConfig, PortBinding, ResourcesUlimits, RestartPolicy, RestartPolicyNameEnum,
};
use chrono::{DateTime, Utc};

use crate::backend::{labels, ContainerSpec, ContainerState, ContainerSummary, Health, Mount, NetworkMode, PublishedPort};
use crate::compose::model::parse_duration;

fn nanos(d: &Option<String>) -> Option<i64> {
    d.as_deref().and_then(parse_duration).map(|d| d.as_nanos() as i64)
}

/// `80/tcp` keys of every port the container exposes.
fn exposed(spec: &ContainerSpec) -> Vec<String> {
    let mut out: Vec<String> = spec.expose.clone();
    for p in &spec.ports {
        let k = format!("{}/{}", p.target, p.protocol);
        if !out.contains(&k) {
            out.push(k);
        }
    }
    out
}

fn restart_policy(restart: &Option<String>) -> Option<RestartPolicy> {
    let r = restart.as_deref()?;
    let (name, count) = r.split_once(':').map(|(n, c)| (n, c.parse().ok())).unwrap_or((r, None));
    let name = match name {
        "always" => RestartPolicyNameEnum::ALWAYS,
        "on-failure" => RestartPolicyNameEnum::ON_FAILURE,
        "unless-stopped" => RestartPolicyNameEnum::UNLESS_STOPPED,
        _ => RestartPolicyNameEnum::NO,
    };
    Some(RestartPolicy { name: Some(name), maximum_retry_count: count })
}

fn mounts(spec: &ContainerSpec, anonymous: &HashMap<String, String>) -> Vec<DMount> {
    spec.mounts
        .iter()
        .map(|m| match m {
            Mount::Bind { source, target, read_only, .. } => DMount {
                target: Some(target.clone()),
                source: Some(source.display().to_string()),
                typ: Some(MountType::BIND),
                read_only: Some(*read_only),
                ..Default::default()
            },
            Mount::Volume { name, target, read_only, nocopy } => DMount {
                target: Some(target.clone()),
                // An anonymous volume keeps the previous container's volume on recreate.
                source: name.clone().or_else(|| anonymous.get(target).cloned()),
                typ: Some(MountType::VOLUME),
                read_only: Some(*read_only),
                volume_options: nocopy.then(|| MountVolumeOptions { no_copy: Some(true), ..Default::default() }),
                ..Default::default()
            },
            Mount::Tmpfs { target, size, mode } => DMount {
                target: Some(target.clone()),
                typ: Some(MountType::TMPFS),
                tmpfs_options: Some(MountTmpfsOptions { size_bytes: size.map(|s| s as i64), mode: mode.map(|m| m as i64), ..Default::default() }),
                ..Default::default()
            },
        })
        .collect()
}

/// The create body for `spec`. `anonymous` maps targets to the anonymous volumes of the
/// container being replaced.
pub fn create_body(spec: &ContainerSpec, anonymous: &HashMap<String, String>) -> ContainerCreateBody {
    let s = &spec.service;
    let mut port_bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
    for p in &spec.ports {
        port_bindings.entry(format!("{}/{}", p.target, p.protocol)).or_insert_with(|| Some(vec![])).get_or_insert_with(Vec::new).push(PortBinding {
            host_ip: p.host_ip.clone(),
            host_port: Some(p.published.map(|p| p.to_string()).unwrap_or_default()),
        });
    }
    let links: Vec<String> = spec.links.iter().map(|(name, alias)| format!("{name}:{alias}")).collect();
    let (network_mode, networking_config) = match &spec.network {
        NetworkMode::DefaultBridge => ("bridge".to_string(), None),
        NetworkMode::Host => ("host".to_string(), None),
        NetworkMode::None => ("none".to_string(), None),
        NetworkMode::Container(c) => (format!("container:{c}"), None),
        NetworkMode::Networks(nets) => {
            let first = nets.first();
            let endpoints = first.map(|n| {
                let mut m = HashMap::new();
                m.insert(
                    n.network.clone(),
                    EndpointSettings {
                        aliases: Some(n.aliases.clone()),
                        links: (!links.is_empty()).then(|| links.clone()),
                        ipam_config: n.ipv4_address.clone().map(|ip| EndpointIpamConfig { ipv4_address: Some(ip), ..Default::default() }),
                        ..Default::default()
                    },
                );
                NetworkingConfig { endpoints_config: Some(m) }
            });
            (first.map(|n| n.network.clone()).unwrap_or_else(|| "bridge".into()), endpoints)
        }
    };
    let legacy_links = matches!(spec.network, NetworkMode::DefaultBridge) && !links.is_empty();
    let healthcheck = s.healthcheck.as_ref().map(|h| HealthConfig {
        test: Some(if h.disable { vec!["NONE".to_string()] } else { h.test.clone() }),
        interval: nanos(&h.interval),
        timeout: nanos(&h.timeout),
        retries: h.retries.map(i64::from),
        start_period: nanos(&h.start_period),
        start_interval: nanos(&h.start_interval),
    });
    let host_config = HostConfig {
        network_mode: Some(network_mode),
        port_bindings: (!port_bindings.is_empty()).then_some(port_bindings),
        links: legacy_links.then_some(links),
        mounts: Some(mounts(spec, anonymous)),
        volumes_from: (!spec.volumes_from.is_empty())
            .then(|| spec.volumes_from.iter().map(|(c, ro)| if *ro { format!("{c}:ro") } else { c.clone() }).collect()),
        restart_policy: restart_policy(&s.restart),
        init: s.init,
        cap_add: (!s.cap_add.is_empty()).then(|| s.cap_add.clone()),
        cap_drop: (!s.cap_drop.is_empty()).then(|| s.cap_drop.clone()),
        privileged: Some(s.privileged),
        readonly_rootfs: Some(s.read_only),
        security_opt: (!s.security_opt.is_empty()).then(|| s.security_opt.clone()),
        sysctls: (!s.sysctls.is_empty()).then(|| s.sysctls.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        ulimits: (!s.ulimits.is_empty()).then(|| {
            s.ulimits.iter().map(|(n, u)| ResourcesUlimits { name: Some(n.clone()), soft: Some(u.soft), hard: Some(u.hard) }).collect()
        }),
        devices: (!s.devices.is_empty()).then(|| {
            s.devices
                .iter()
                .map(|d| {
                    let mut parts = d.split(':');
                    let host = parts.next().unwrap_or_default().to_string();
                    let cont = parts.next().map(String::from).unwrap_or_else(|| host.clone());
                    let perms = parts.next().unwrap_or("rwm").to_string();
                    bollard::models::DeviceMapping { path_on_host: Some(host), path_in_container: Some(cont), cgroup_permissions: Some(perms) }
                })
                .collect()
        }),
        group_add: (!s.group_add.is_empty()).then(|| s.group_add.clone()),
        dns: (!s.dns.is_empty()).then(|| s.dns.clone()),
        dns_search: (!s.dns_search.is_empty()).then(|| s.dns_search.clone()),
        dns_options: (!s.dns_opt.is_empty()).then(|| s.dns_opt.clone()),
        extra_hosts: (!s.extra_hosts.is_empty()).then(|| s.extra_hosts.clone()),
        memory: s.mem_limit.map(|v| v as i64),
        memory_reservation: s.mem_reservation.map(|v| v as i64),
        memory_swap: s.memswap_limit,
        shm_size: s.shm_size.map(|v| v as i64),
        cpu_shares: s.cpu_shares.map(|v| v as i64),
        nano_cpus: s.cpus.map(|c| (c * 1e9) as i64),
        cpu_quota: s.cpu_quota,
        cpu_period: s.cpu_period.map(|v| v as i64),
        cpuset_cpus: s.cpuset.clone(),
        pids_limit: s.pids_limit,
        pid_mode: spec.pid.clone(),
        ipc_mode: spec.ipc.clone(),
        ..Default::default()
    };
    ContainerCreateBody {
        image: Some(spec.image.clone()),
        cmd: s.command.clone(),
        entrypoint: s.entrypoint.clone(),
        env: Some(spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        labels: Some(spec.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        hostname: spec.hostname.clone(),
        domainname: s.domainname.clone(),
        user: s.user.clone(),
        working_dir: s.working_dir.clone(),
        tty: Some(s.tty),
        open_stdin: Some(s.stdin_open),
        attach_stdin: Some(s.stdin_open),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        stdin_once: Some(s.stdin_open),
        exposed_ports: Some(exposed(spec)),
        healthcheck,
        stop_signal: s.stop_signal.clone(),
        stop_timeout: spec.stop_grace_period.map(|d| d.as_secs() as i64),
        host_config: Some(host_config),
        networking_config,
        ..Default::default()
    }
}

fn time(s: &Option<String>) -> Option<DateTime<Utc>> {
    let s = s.as_deref()?;
    let t = DateTime::parse_from_rfc3339(s).ok()?.with_timezone(&Utc);
    // Docker reports "0001-01-01T00:00:00Z" for never.
    (t.timestamp() > 0).then_some(t)
}

/// The summary of an inspected container.
pub fn summary(c: &ContainerInspectResponse) -> ContainerSummary {
    let config = c.config.clone().unwrap_or_default();
    let labels_map = config.labels.clone().unwrap_or_default();
    let label = |k: &str| labels_map.get(k).cloned().unwrap_or_default();
    let st = c.state.clone().unwrap_or_default();
    let state = match st.status {
        Some(ContainerStateStatusEnum::RUNNING) => ContainerState::Running,
        Some(ContainerStateStatusEnum::PAUSED) => ContainerState::Paused,
        Some(ContainerStateStatusEnum::RESTARTING) => ContainerState::Restarting,
        Some(ContainerStateStatusEnum::EXITED) => ContainerState::Exited,
        Some(ContainerStateStatusEnum::DEAD) => ContainerState::Dead,
        Some(ContainerStateStatusEnum::REMOVING) => ContainerState::Removing,
        _ => ContainerState::Created,
    };
    let health = st.health.as_ref().and_then(|h| match h.status {
        Some(HealthStatusEnum::HEALTHY) => Some(Health::Healthy),
        Some(HealthStatusEnum::UNHEALTHY) => Some(Health::Unhealthy),
        Some(HealthStatusEnum::STARTING) => Some(Health::Starting),
        _ => None,
    });
    let mut ports = Vec::new();
    if let Some(map) = c.network_settings.as_ref().and_then(|n| n.ports.clone()) {
        for (key, bindings) in map {
            let (port, proto) = key.split_once('/').unwrap_or((&key, "tcp"));
            let container_port: u16 = port.parse().unwrap_or(0);
            match bindings {
                Some(list) if !list.is_empty() => {
                    for b in list {
                        let ip = b.host_ip.unwrap_or_default();
                        // Docker lists `::` beside `0.0.0.0` for the same port: keep one.
                        if ip == "::" {
                            continue;
                        }
                        ports.push(PublishedPort {
                            host_ip: ip,
                            host_port: b.host_port.and_then(|p| p.parse().ok()).unwrap_or(0),
                            container_port,
                            protocol: proto.to_string(),
                        });
                    }
                }
                _ => ports.push(PublishedPort { host_ip: String::new(), host_port: 0, container_port, protocol: proto.to_string() }),
            }
        }
    }
    ports.sort_by_key(|p| (p.container_port, p.host_port));
    let mut command: Vec<String> = config.entrypoint.clone().unwrap_or_default();
    command.extend(config.cmd.clone().unwrap_or_default());
    ContainerSummary {
        id: c.id.clone().unwrap_or_default(),
        name: c.name.clone().unwrap_or_default().trim_start_matches('/').to_string(),
        project: label(labels::PROJECT),
        service: label(labels::SERVICE),
        number: label(labels::NUMBER).parse().unwrap_or(0),
        oneoff: label(labels::ONEOFF) == "True",
        config_hash: label(labels::CONFIG_HASH),
        image: config.image.clone().unwrap_or_default(),
        command: command.join(" "),
        state,
        exit_code: st.exit_code.map(|c| c as i32),
        health,
        created: time(&c.created).unwrap_or_else(Utc::now),
        started_at: time(&st.started_at),
        finished_at: time(&st.finished_at),
        ports,
        labels: labels_map.into_iter().collect(),
    }
}
