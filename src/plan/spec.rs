//! From a service of the model to the `ContainerSpec` a backend creates: names, labels,
//! config hash, and project references (volumes, networks, linked containers) resolved.

use indexmap::IndexMap;
use sha2::{Digest, Sha256};

use crate::backend::{
    labels, ContainerSpec, ContainerSummary, Mount, NetworkAttachment, NetworkMode, NetworkSpec, Resources, VolumeSpec,
};
use crate::compose::model::{FileObject, FileRef, Project, Service, ShareMode, VolumeType, VolumesFromSource};

/// The version written in `com.docker.compose.version`.
pub const COMPOSE_VERSION: &str = concat!("hoist-", env!("CARGO_PKG_VERSION"));

/// `<project>-<service>-<n>`, or the service's `container_name`.
pub fn container_name(project: &Project, service_name: &str, service: &Service, number: u32) -> String {
    let sep = project.separator();
    match &service.container_name {
        Some(name) => name.clone(),
        None => format!("{}{sep}{service_name}{sep}{number}", project.name),
    }
}

/// A stable hash of what makes a container: a change recreates it. Scale is left out,
/// so scaling never recreates the containers that stay.
pub fn config_hash(service: &Service) -> String {
    let mut value = serde_json::to_value(service).unwrap_or_default();
    if let Some(map) = value.as_object_mut() {
        map.remove("scale");
        // Watch rules say what `watch` does on the host, nothing about the container.
        map.remove("develop");
        if let Some(deploy) = map.get_mut("deploy").and_then(|d| d.as_object_mut()) {
            deploy.remove("replicas");
        }
    }
    hex::encode(Sha256::digest(value.to_string().as_bytes()))
}

/// `config_hash` of the service, plus the data of the secrets and configs it mounts: a
/// changed `content:`, variable or file recreates the container. Services without any
/// hash as before.
pub fn service_hash(project: &Project, service_name: &str) -> String {
    let service = &project.services[service_name];
    let base = config_hash(service);
    let digests: Vec<String> = file_refs(project, service)
        .filter_map(|(_, _, obj)| obj.and_then(|o| o.digest.clone()))
        .collect();
    if digests.is_empty() {
        return base;
    }
    hex::encode(Sha256::digest(format!("{base}\n{}", digests.join("\n")).as_bytes()))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Secret,
    Config,
}

impl FileKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::Secret => "secret",
            FileKind::Config => "config",
        }
    }
}

/// A service's secrets then configs: the parsed reference and its top-level definition.
fn file_refs<'a>(project: &'a Project, service: &'a Service) -> impl Iterator<Item = (FileKind, FileRef, Option<&'a FileObject>)> + 'a {
    let secrets = service.secrets.iter().map(|v| (FileKind::Secret, v));
    let configs = service.configs.iter().map(|v| (FileKind::Config, v));
    secrets.chain(configs).map(move |(kind, r)| {
        let defs = if kind == FileKind::Secret { &project.secrets } else { &project.configs };
        (kind, r.clone(), defs.get(&r.source))
    })
}

/// Where a secret or config appears in the container: `/run/secrets/<target or name>`
/// (an absolute target as is), `/<target or name>` for configs.
pub fn file_target(kind: FileKind, r: &FileRef) -> String {
    let name = r.target.as_deref().unwrap_or(&r.source);
    match kind {
        _ if name.starts_with('/') => name.to_string(),
        FileKind::Secret => format!("/run/secrets/{name}"),
        FileKind::Config => format!("/{name}"),
    }
}

/// The project's runtime directory, where `up` writes secrets and configs:
/// `/run/hoist/<root>/<project>` as root, else under the temporary directory (per user).
/// `<root>` stands for the state root (its last component and a hash of its path): two
/// state roots with a project of the same name must not share, or remove, each other's
/// files. It stays in /run rather than under the state root: the files are not kept on
/// disk, and a Docker engine on this host bind-mounts them from there as well.
pub fn runtime_dir(project: &str) -> std::path::PathBuf {
    use sha2::Digest;
    let base = if nix::unistd::geteuid().is_root() {
        std::path::PathBuf::from("/run/hoist")
    } else {
        std::env::temp_dir().join(format!("hoist-{}", nix::unistd::geteuid()))
    };
    let root = crate::backend::builtin::state_root();
    let root = std::fs::canonicalize(&root).or_else(|_| std::path::absolute(&root)).unwrap_or(root);
    let name = root.file_name().map_or("root".into(), |n| n.to_string_lossy());
    let hash = hex::encode(sha2::Sha256::digest(root.as_os_str().as_encoded_bytes()));
    base.join(format!("{name}-{}", &hash[..12])).join(project)
}

/// Where a secret or config without a file of its own (`environment:`, `content:`) is
/// written for a service: `<runtime dir>/<secrets|configs>/<service>/<key>`. Each name
/// must be one plain path component (the loader checks; this is the last line).
pub fn written_path(project: &str, service_name: &str, kind: FileKind, key: &str) -> anyhow::Result<std::path::PathBuf> {
    for name in [project, service_name, key] {
        let mut parts = std::path::Path::new(name).components();
        if !matches!((parts.next(), parts.next()), (Some(std::path::Component::Normal(_)), None)) || name.contains('/') {
            anyhow::bail!("{} {key:?} of service {service_name:?}: {name:?} cannot be part of a path", kind.as_str());
        }
    }
    Ok(runtime_dir(project).join(format!("{}s", kind.as_str())).join(service_name).join(key))
}

/// What the host must hold for one of a service's secrets or configs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostFile {
    /// `file:`: bind-mounted as it is; it must exist.
    Existing(std::path::PathBuf),
    /// `environment:` / `content:`: written by `up` before the container is created.
    Write { path: std::path::PathBuf, data: Vec<u8>, mode: u32, uid: Option<u32>, gid: Option<u32> },
}

/// The host files a service's secrets and configs need, or why they cannot be had: an
/// `external` object (swarm only), an unset variable, an undefined name, a bad uid/gid.
pub fn host_files(project: &Project, service_name: &str) -> anyhow::Result<Vec<HostFile>> {
    let service = &project.services[service_name];
    let mut out = Vec::new();
    for (kind, r, obj) in file_refs(project, service) {
        let what = format!("service {service_name:?}: {} {:?}", kind.as_str(), r.source);
        let Some(obj) = obj else { anyhow::bail!("{what} is not defined") };
        if obj.external {
            anyhow::bail!("{what} is external: external {}s exist only on a swarm, which hoist does not run; define it with file:, environment: or content:", kind.as_str());
        }
        if let Some(f) = &obj.file
            && obj.content.is_none()
            && obj.environment.is_none()
        {
            out.push(HostFile::Existing(f.clone()));
            continue;
        }
        let data = match (&obj.content, &obj.environment) {
            (Some(c), _) => c.clone(),
            (None, Some(var)) => match &obj.value {
                Some(v) => v.clone(),
                None => anyhow::bail!("{what}: environment variable {var:?} is not set"),
            },
            _ => anyhow::bail!("{what} has neither file, environment nor content"),
        };
        let id = |which: &str, v: &Option<String>| -> anyhow::Result<Option<u32>> {
            v.as_deref().map(|s| s.parse::<u32>().map_err(|_| anyhow::anyhow!("{what}: {which} {s:?} is not a number"))).transpose()
        };
        let default_mode = if kind == FileKind::Secret { 0o400 } else { 0o444 };
        out.push(HostFile::Write {
            path: written_path(&project.name, service_name, kind, &r.source)?,
            data: data.into_bytes(),
            mode: r.mode.unwrap_or(default_mode),
            uid: id("uid", &r.uid)?,
            gid: id("gid", &r.gid)?,
        });
    }
    Ok(out)
}

/// The read-only bind mounts of a service's secrets and configs (external or undefined
/// ones are left out: `host_files` refuses them before anything is created).
fn file_mounts(project: &Project, service_name: &str) -> Vec<Mount> {
    let service = &project.services[service_name];
    file_refs(project, service)
        .filter_map(|(kind, r, obj)| {
            let obj = obj.filter(|o| !o.external)?;
            let source = match &obj.file {
                Some(f) if obj.content.is_none() && obj.environment.is_none() => f.clone(),
                _ => written_path(&project.name, service_name, kind, &r.source).ok()?,
            };
            Some(Mount::Bind { source, target: file_target(kind, &r), read_only: true, create_host_path: false })
        })
        .collect()
}

/// The engine-side name of the container that stands for `service` when another service
/// refers to it (links, volumes_from, network_mode): its lowest-numbered existing
/// container, or the name its first container will get.
pub fn primary_container(project: &Project, service_name: &str, observed: &[ContainerSummary]) -> String {
    observed
        .iter()
        .filter(|c| c.service == service_name && !c.oneoff)
        .min_by_key(|c| c.number)
        .map(|c| c.name.clone())
        .unwrap_or_else(|| {
            let svc = project.services.get(service_name).cloned().unwrap_or_default();
            container_name(project, service_name, &svc, 1)
        })
}

/// Labels every container of the project carries (as Docker Compose writes them).
pub fn container_labels(project: &Project, service_name: &str, number: u32, oneoff: bool, hash: &str) -> IndexMap<String, String> {
    let service = &project.services[service_name];
    let mut l: IndexMap<String, String> = service.labels.clone();
    l.insert(labels::PROJECT.into(), project.name.clone());
    l.insert(labels::SERVICE.into(), service_name.into());
    l.insert(labels::NUMBER.into(), number.to_string());
    l.insert(labels::ONEOFF.into(), if oneoff { "True" } else { "False" }.into());
    l.insert(labels::CONFIG_HASH.into(), hash.into());
    l.insert(labels::WORKING_DIR.into(), project.working_dir.display().to_string());
    let files: Vec<String> = project.config_files.iter().map(|f| f.display().to_string()).collect();
    l.insert(labels::CONFIG_FILES.into(), files.join(","));
    l.insert(labels::VERSION.into(), COMPOSE_VERSION.into());
    // labels::IMAGE, the image's ID, is added by the executor: only the backend knows it.
    l
}

/// The image a service runs: `image:`, or `<project>-<service>` for build-only services.
pub fn service_image(project: &Project, service_name: &str) -> String {
    let service = &project.services[service_name];
    service.image.clone().unwrap_or_else(|| format!("{}-{}", project.name, service_name))
}

/// Whether the spec of `service_name` names other services' containers (links,
/// volumes_from, `service:` network/ipc/pid modes): only then does building it need
/// the containers as they are now rather than as first observed.
pub fn refers_to_containers(project: &Project, service_name: &str) -> bool {
    let s = &project.services[service_name];
    let by_service = |m: &Option<ShareMode>| m.as_ref().and_then(ShareMode::service).is_some();
    !s.links.is_empty()
        || s.volumes_from.iter().any(|vf| matches!(vf.source, VolumesFromSource::Service(_)))
        || s.network_mode.as_ref().and_then(|m| m.service()).is_some()
        || by_service(&s.ipc)
        || by_service(&s.pid)
}

/// Builds the spec of container `number` of `service_name`.
pub fn container_spec(
    project: &Project,
    service_name: &str,
    number: u32,
    oneoff: bool,
    observed: &[ContainerSummary],
) -> ContainerSpec {
    let service = &project.services[service_name];
    let hash = service_hash(project, service_name);
    let name = container_name(project, service_name, service, number);
    let resolve = |svc: &str| primary_container(project, svc, observed);

    let mut mounts = Vec::new();
    for v in &service.volumes {
        mounts.push(match v.kind {
            VolumeType::Bind => Mount::Bind {
                source: v.source.clone().unwrap_or_default().into(),
                target: v.target.clone(),
                read_only: v.read_only,
                create_host_path: v.create_host_path,
            },
            VolumeType::Tmpfs => Mount::Tmpfs { target: v.target.clone(), size: v.tmpfs_size, mode: v.tmpfs_mode },
            _ => Mount::Volume {
                name: v.source.as_ref().map(|key| volume_name(project, key)),
                target: v.target.clone(),
                read_only: v.read_only,
                nocopy: v.nocopy,
            },
        });
    }
    for t in &service.tmpfs {
        mounts.push(Mount::Tmpfs { target: t.target.clone(), size: t.size, mode: t.mode });
    }
    mounts.extend(file_mounts(project, service_name));

    let volumes_from = service
        .volumes_from
        .iter()
        .map(|vf| match &vf.source {
            VolumesFromSource::Service(s) => (resolve(s), vf.read_only),
            VolumesFromSource::Container(c) => (c.clone(), vf.read_only),
        })
        .collect();

    let network = network_mode(project, service_name, &name, observed);
    let links = service
        .links
        .iter()
        .map(|l| (resolve(&l.target), l.alias.clone()))
        .chain(service.external_links.iter().map(|l| (l.target.clone(), l.alias.clone())))
        .collect();
    // The engine's words: another service's namespace is its container's.
    let ns = |mode: &Option<ShareMode>| {
        mode.as_ref().map(|m| match m.service() {
            Some(s) => format!("container:{}", resolve(s)),
            None => m.to_string(),
        })
    };

    ContainerSpec {
        name,
        project: project.name.clone(),
        service_name: service_name.to_string(),
        number,
        oneoff,
        image: service_image(project, service_name),
        env: service.environment.iter().filter_map(|(k, v)| v.as_ref().map(|v| (k.clone(), v.clone()))).collect(),
        labels: container_labels(project, service_name, number, oneoff, &hash),
        mounts,
        volumes_from,
        network,
        links,
        pid: ns(&service.pid),
        ipc: ns(&service.ipc),
        config_hash: hash,
        ..service_settings(service)
    }
}

/// The settings a container takes from its service as they are, with nothing of the
/// project resolved (name, image, environment, labels, mounts, network, links and
/// namespaces are left empty for the caller).
pub fn service_settings(s: &Service) -> ContainerSpec {
    // As Compose outside swarm: `deploy.resources` overrides the service-level keys where
    // set (non-zero); `reservations.cpus` is swarm's alone (keys.rs warns about it).
    let (limits, reservations) = s.deploy.as_ref().map(|d| (d.limits(), d.reservations())).unwrap_or_default();
    ContainerSpec {
        entrypoint: s.entrypoint.clone(),
        command: s.command.clone(),
        hostname: s.hostname.clone(),
        domainname: s.domainname.clone(),
        user: s.user.clone(),
        working_dir: s.working_dir.clone(),
        ports: s.ports.clone(),
        expose: s.expose.clone(),
        extra_hosts: s.extra_hosts.clone(),
        dns: s.dns.clone(),
        dns_search: s.dns_search.clone(),
        dns_opt: s.dns_opt.clone(),
        tty: s.tty,
        stdin_open: s.stdin_open,
        init: s.init,
        privileged: s.privileged,
        read_only: s.read_only,
        cap_add: s.cap_add.clone(),
        cap_drop: s.cap_drop.clone(),
        security_opt: s.security_opt.clone(),
        group_add: s.group_add.clone(),
        sysctls: s.sysctls.clone(),
        ulimits: s.ulimits.clone(),
        devices: s.devices.clone(),
        resources: Resources {
            memory: limits.memory.filter(|m| *m > 0).or(s.mem_limit),
            memory_reservation: reservations.memory.filter(|m| *m > 0).or(s.mem_reservation),
            memory_swap: s.memswap_limit,
            shm_size: s.shm_size,
            cpu_shares: s.cpu_shares,
            cpus: limits.cpus.filter(|c| *c > 0.0).or(s.cpus),
            cpu_quota: s.cpu_quota,
            cpu_period: s.cpu_period,
            cpuset: s.cpuset.clone(),
            pids_limit: limits.pids.filter(|p| *p != 0).or(s.pids_limit),
        },
        cgroup_parent: s.cgroup_parent.clone(),
        oom_score_adj: s.oom_score_adj,
        device_requests: device_requests(s),
        mac_address: s.mac_address,
        userns_mode: s.userns_mode.clone(),
        runtime: s.runtime.clone(),
        restart: s.restart_policy(),
        healthcheck: s.healthcheck.clone(),
        stop_signal: s.stop_signal.clone(),
        stop_grace_period: s.stop_grace_period.map(|d| d.0),
        logging: s.logging.clone(),
        ..ContainerSpec::default()
    }
}

/// As Docker Compose builds them: each `gpus` entry asks for the `gpu` capability too.
fn device_requests(s: &Service) -> Vec<crate::compose::model::DeviceRequest> {
    let gpus = s.gpus.iter().cloned().map(|mut g| {
        g.capabilities.push("gpu".into());
        g
    });
    gpus.chain(s.deploy.as_ref().map(|d| d.reservations().devices).unwrap_or_default()).collect()
}

fn network_mode(project: &Project, service_name: &str, container: &str, observed: &[ContainerSummary]) -> NetworkMode {
    let service = &project.services[service_name];
    use crate::compose::model::NetworkMode as Mode;
    match &service.network_mode {
        Some(Mode::Host) => return NetworkMode::Host,
        Some(Mode::None) => return NetworkMode::None,
        Some(Mode::Bridge) => return NetworkMode::DefaultBridge,
        Some(Mode::Service(s)) => return NetworkMode::Container(primary_container(project, s, observed)),
        Some(Mode::Container(c)) => return NetworkMode::Container(c.clone()),
        Some(Mode::Network(other)) => {
            return NetworkMode::Networks(vec![NetworkAttachment {
                network: other.clone(),
                aliases: vec![service_name.to_string()],
                ipv4_address: None,
                mac_address: service.mac_address,
            }]);
        }
        None => {}
    }
    if project.legacy {
        return NetworkMode::DefaultBridge;
    }
    let mut nets: Vec<(&String, Option<&crate::compose::model::ServiceNetwork>)> =
        service.networks.iter().map(|(k, v)| (k, Some(v))).collect();
    let default_key = "default".to_string();
    if nets.is_empty() {
        nets.push((&default_key, None));
    }
    // Higher priority first, as Docker Compose connects them.
    nets.sort_by_key(|(_, n)| std::cmp::Reverse(n.and_then(|n| n.priority).unwrap_or(0)));
    NetworkMode::Networks(
        nets.into_iter()
            .enumerate()
            .map(|(i, (key, n))| {
                let mut aliases = vec![service_name.to_string(), container.to_string()];
                if let Some(n) = n {
                    aliases.extend(n.aliases.iter().cloned());
                }
                NetworkAttachment {
                    network: network_name(project, key),
                    aliases,
                    ipv4_address: n.and_then(|n| n.ipv4_address.clone()),
                    // The service-level address is the main network's, as Compose does it.
                    mac_address: n.and_then(|n| n.mac_address).or(service.mac_address.filter(|_| i == 0)),
                }
            })
            .collect(),
    )
}

/// Engine-side name of a project network key.
pub fn network_name(project: &Project, key: &str) -> String {
    project.networks.get(key).map(|n| n.name.clone()).unwrap_or_else(|| format!("{}_{key}", project.name))
}

/// Engine-side name of a project volume key.
pub fn volume_name(project: &Project, key: &str) -> String {
    project.volumes.get(key).map(|v| v.name.clone()).unwrap_or_else(|| format!("{}_{key}", project.name))
}

/// The networks the given services need, as specs to ensure.
pub fn network_specs(project: &Project, services: &[String]) -> Vec<NetworkSpec> {
    let mut keys: Vec<String> = Vec::new();
    if !project.legacy {
        for s in services {
            let svc = &project.services[s];
            if svc.network_mode.is_some() {
                continue;
            }
            if svc.networks.is_empty() {
                keys.push("default".into());
            }
            keys.extend(svc.networks.keys().cloned());
        }
        if project.all_resources {
            keys.extend(project.networks.keys().cloned());
        }
    }
    let mut seen = std::collections::HashSet::new();
    keys.retain(|k| seen.insert(k.clone()));
    keys.into_iter()
        .map(|key| {
            let net = project.networks.get(&key).cloned().unwrap_or_default();
            let mut labels = net.labels.clone();
            labels.insert(labels::PROJECT.into(), project.name.clone());
            labels.insert(labels::NETWORK.into(), key.clone());
            labels.insert(labels::VERSION.into(), COMPOSE_VERSION.into());
            NetworkSpec {
                name: network_name(project, &key),
                project: project.name.clone(),
                key,
                driver: net.driver,
                internal: net.internal,
                attachable: net.attachable,
                subnets: net.subnets,
                labels,
                external: net.external,
            }
        })
        .collect()
}

/// The named volumes the given services mount, as specs to ensure.
pub fn volume_specs(project: &Project, services: &[String]) -> Vec<VolumeSpec> {
    let mut keys: Vec<String> = Vec::new();
    for s in services {
        for v in &project.services[s].volumes {
            if v.kind == VolumeType::Volume
                && let Some(k) = &v.source
                && !keys.contains(k)
            {
                keys.push(k.clone());
            }
        }
    }
    if project.all_resources {
        keys.extend(project.volumes.keys().filter(|k| !keys.contains(k)).cloned().collect::<Vec<_>>());
    }
    keys.into_iter().map(|k| volume_spec(project, &k)).collect()
}

pub fn volume_spec(project: &Project, key: &str) -> VolumeSpec {
    let vol = project.volumes.get(key).cloned().unwrap_or_default();
    let mut labels = vol.labels.clone();
    labels.insert(labels::PROJECT.into(), project.name.clone());
    labels.insert(labels::VOLUME.into(), key.into());
    labels.insert(labels::VERSION.into(), COMPOSE_VERSION.into());
    VolumeSpec {
        name: volume_name(project, key),
        project: project.name.clone(),
        key: key.into(),
        driver: vol.driver,
        driver_opts: vol.driver_opts,
        labels,
        external: vol.external,
        local_mount: vol.local_mount,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::model::{Link, ServiceVolume};

    fn project() -> Project {
        let mut p = Project { name: "demo".into(), ..Default::default() };
        let mut web = Service { image: Some("busybox".into()), ..Default::default() };
        web.links.push(Link { target: "db".into(), alias: "database".into() });
        web.volumes.push(ServiceVolume {
            kind: VolumeType::Volume,
            source: Some("data".into()),
            target: "/data".into(),
            read_only: false,
            create_host_path: false,
            options: vec![],
            nocopy: false,
            tmpfs_size: None,
            tmpfs_mode: None,
        });
        p.services.insert("web".into(), web);
        p.services.insert("db".into(), Service { image: Some("redis".into()), ..Default::default() });
        p
    }

    #[test]
    fn names_labels_and_references() {
        let p = project();
        let spec = container_spec(&p, "web", 2, false, &[]);
        assert_eq!(spec.name, "demo-web-2");
        assert_eq!(spec.labels[labels::NUMBER], "2");
        assert_eq!(spec.labels[labels::ONEOFF], "False");
        assert_eq!(spec.links, vec![("demo-db-1".to_string(), "database".to_string())]);
        assert!(matches!(&spec.mounts[0], Mount::Volume { name: Some(n), .. } if n == "demo_data"));
        assert!(matches!(&spec.network, NetworkMode::Networks(n) if n[0].network == "demo_default"));
        let mut legacy = p.clone();
        legacy.legacy = true;
        assert_eq!(container_spec(&legacy, "web", 1, false, &[]).network, NetworkMode::DefaultBridge);
    }

    #[test]
    fn secrets_and_configs_mount_read_only_and_hash_their_data() {
        use crate::compose::model::FileObject;
        let mut p = project();
        let web = p.services.get_mut("web").unwrap();
        let r = |source: &str, target: Option<&str>, mode: Option<u32>| FileRef { source: source.into(), target: target.map(Into::into), mode, ..FileRef::default() };
        web.secrets = vec![r("tok", None, None), r("env", Some("e"), Some(0o440))];
        web.configs = vec![r("conf", Some("etc/app.ini"), None)];
        p.secrets.insert("tok".into(), FileObject { file: Some("/srv/tok".into()), digest: Some("a".into()), ..Default::default() });
        p.secrets.insert("env".into(), FileObject { environment: Some("E".into()), value: Some("v".into()), digest: Some("b".into()), ..Default::default() });
        p.configs.insert("conf".into(), FileObject { content: Some("k=v".into()), digest: Some("c".into()), ..Default::default() });
        let spec = container_spec(&p, "web", 1, false, &[]);
        let binds: Vec<(String, String)> = spec
            .mounts
            .iter()
            .filter_map(|m| match m {
                Mount::Bind { source, target, read_only: true, create_host_path: false } => Some((source.display().to_string(), target.clone())),
                _ => None,
            })
            .collect();
        let dir = runtime_dir("demo");
        assert_eq!(
            binds,
            vec![
                ("/srv/tok".to_string(), "/run/secrets/tok".to_string()),
                (dir.join("secrets/web/env").display().to_string(), "/run/secrets/e".to_string()),
                (dir.join("configs/web/conf").display().to_string(), "/etc/app.ini".to_string()),
            ]
        );
        let files = host_files(&p, "web").unwrap();
        assert_eq!(files[0], HostFile::Existing("/srv/tok".into()));
        assert!(matches!(&files[1], HostFile::Write { data, mode: 0o440, .. } if data == b"v"));
        assert!(matches!(&files[2], HostFile::Write { data, mode: 0o444, .. } if data == b"k=v"));

        let h = service_hash(&p, "web");
        assert_ne!(h, config_hash(&p.services["web"]));
        p.configs.get_mut("conf").unwrap().digest = Some("d".into());
        assert_ne!(h, service_hash(&p, "web"));
        assert_eq!(service_hash(&p, "db"), config_hash(&p.services["db"]));

        p.secrets.get_mut("tok").unwrap().external = true;
        let e = host_files(&p, "web").unwrap_err().to_string();
        assert!(e.contains("service \"web\": secret \"tok\" is external"), "{e}");
        p.secrets.get_mut("tok").unwrap().external = false;
        p.secrets.get_mut("env").unwrap().value = None;
        assert!(host_files(&p, "web").unwrap_err().to_string().contains("\"E\" is not set"));
    }

    #[test]
    fn hash_ignores_scale_only() {
        let mut s = Service { image: Some("busybox".into()), ..Default::default() };
        let h = config_hash(&s);
        s.scale = Some(3);
        assert_eq!(h, config_hash(&s));
        s.command = Some(vec!["true".into()]);
        assert_ne!(h, config_hash(&s));
    }
}

/// What to build for a service with `build:`: its context, Dockerfile, args and the name
/// the result gets (`image:`, else `<project>-<service>`).
pub fn build_spec(project: &Project, service_name: &str) -> Option<crate::backend::BuildSpec> {
    let svc = project.services.get(service_name)?;
    let b = svc.build.as_ref()?;
    let mut tags = vec![service_image(project, service_name)];
    tags.extend(b.tags.iter().cloned());
    Some(crate::backend::BuildSpec {
        context: b.context.clone().into(),
        dockerfile: b.dockerfile.clone(),
        dockerfile_inline: b.dockerfile_inline.clone(),
        args: b.args.iter().filter_map(|(k, v)| v.clone().map(|v| (k.clone(), v))).collect(),
        target: b.target.clone(),
        labels: b.labels.clone(),
        no_cache: b.no_cache,
        pull: b.pull,
        tags,
    })
}

