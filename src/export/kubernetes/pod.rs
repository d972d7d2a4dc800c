//! A compose service → a Deployment, or a StatefulSet when it mounts named volumes: the
//! pod template with its container, mounts, probe, resources and security settings.

use indexmap::IndexMap;

use super::objects::*;
use super::{escape_refs, has_claims, names, seconds, service_subject, Cx};
use crate::compose::model::{DeployMode, Duration, EndpointMode, NetworkMode, Healthcheck, RestartCondition, RestartPolicy, Service, ShareMode, VolumeType};

pub(super) fn workload(cx: &mut Cx, key: &str, svc: &Service, meta: &Metadata) -> Object {
    let s = &service_subject(key);
    let name = cx.names.services[key].clone();
    let mut container = container(cx, s, key, svc);
    let mut pv = PodVolumes::default();
    mounts(cx, s, svc, &mut pv);
    file_mounts(cx, s, svc, false, &mut pv);
    file_mounts(cx, s, svc, true, &mut pv);
    container.volume_mounts = std::mem::take(&mut pv.mounts);
    let deploy = Deploy::read(cx, s, svc);
    let spec = pod_spec(cx, s, svc, container, pv.volumes, deploy.node_selector);
    unmapped(cx, s, svc);

    let stateful = has_claims(svc);
    let replicas = svc.replicas();
    if stateful && replicas > 1 {
        cx.warn(s, "volumes", format!("{replicas} replicas share each named volume's ReadWriteOnce claim: they must run on one node (or use ReadWriteMany storage)"));
    }
    let mut metadata = Metadata { name: Some(name.clone()), ..meta.clone() };
    let extra = cx.labels(s, "deploy.labels", IndexMap::new(), &deploy.labels);
    metadata.labels.extend(extra.labels.into_iter().filter(|(k, _)| !meta.labels.contains_key(k)));
    metadata.annotations.extend(extra.annotations);
    let mut template = Metadata { name: None, ..meta.clone() };
    template.annotations.extend(annotations(cx, s, svc));
    let spec = WorkloadSpec {
        replicas,
        service_name: stateful.then_some(name),
        selector: LabelSelector { match_labels: cx.app_labels(key) },
        template: PodTemplate { metadata: template, spec },
    };
    Object::new(if stateful { Kind::StatefulSet } else { Kind::Deployment }, metadata, Body::Workload { spec: Box::new(spec) })
}

fn container(cx: &mut Cx, s: &str, key: &str, svc: &Service) -> Container {
    let image = crate::plan::spec::service_image(cx.project, key);
    if svc.build.is_some() {
        let what = match &svc.image {
            Some(_) => format!("Kubernetes does not build images: push {image:?} to a registry the cluster pulls from (hoist build, hoist push)"),
            None => format!("no image is named, so the manifests use {image:?}: build it, push it to a registry the cluster pulls from and set image:"),
        };
        cx.warn(s, "build", what);
    }
    use crate::compose::model::PullPolicy;
    let image_pull_policy = match &svc.pull_policy {
        None => None,
        Some(PullPolicy::Always) => Some("Always"),
        Some(PullPolicy::Never) => Some("Never"),
        Some(PullPolicy::Missing { .. }) => Some("IfNotPresent"),
        Some(other) => {
            cx.warn(s, "pull_policy", format!("{:?} has no Kubernetes equivalent: the cluster's default applies", other.to_string()));
            None
        }
    };
    if svc.entrypoint.as_ref().is_some_and(Vec::is_empty) {
        cx.warn(s, "entrypoint", "an empty entrypoint cannot be expressed: the image's ENTRYPOINT runs");
    }
    let escape = |v: &Option<Vec<String>>| v.iter().flatten().map(|a| escape_refs(a)).collect();
    Container {
        name: cx.names.services[key].clone(),
        image,
        image_pull_policy,
        command: escape(&svc.entrypoint),
        args: escape(&svc.command),
        working_dir: svc.working_dir.clone(),
        env: svc.environment.iter().filter_map(|(k, v)| Some(EnvVar { name: k.clone(), value: escape_refs(v.as_ref()?) })).collect(),
        ports: cx.ports[key].container.iter().map(|p| ContainerPort { container_port: p.target, protocol: p.protocol }).collect(),
        volume_mounts: Vec::new(),
        resources: resources(cx, s, svc),
        liveness_probe: svc.healthcheck.as_ref().and_then(|h| probe(cx, s, h)),
        security_context: security_context(cx, s, svc),
        tty: svc.tty,
        stdin: svc.stdin_open,
    }
}

/// The pod's volumes and the container's mounts, each volume named once.
#[derive(Default)]
struct PodVolumes {
    volumes: Vec<Volume>,
    mounts: Vec<VolumeMount>,
}

impl PodVolumes {
    /// Mounts `source` at `path`; a source already there is mounted again, not added twice.
    fn mount(&mut self, base: &str, source: VolumeSource, path: &str, sub_path: Option<String>, read_only: bool) {
        let name = match self.volumes.iter().find(|v| v.source == source) {
            Some(v) => v.name.clone(),
            None => {
                let base = names::dns_label(base).unwrap_or_else(|| "volume".into());
                let mut name = base.clone();
                for n in 2.. {
                    if !self.volumes.iter().any(|v| v.name == name) {
                        break;
                    }
                    name = names::suffixed(&base, &n.to_string());
                }
                self.volumes.push(Volume { name: name.clone(), source });
                name
            }
        };
        self.mounts.push(VolumeMount { name, mount_path: path.to_string(), sub_path, read_only });
    }
}

fn memory_dir(size: Option<u64>) -> VolumeSource {
    VolumeSource::EmptyDir { medium: Some("Memory"), size_limit: size.map(memory_quantity) }
}

/// `volumes`, `tmpfs` and `shm_size`.
fn mounts(cx: &mut Cx, s: &str, svc: &Service, pv: &mut PodVolumes) {
    for v in &svc.volumes {
        let target = &v.target;
        let (base, source) = match (v.kind, &v.source) {
            (VolumeType::Volume, Some(src)) => match cx.names.volumes.get(src) {
                Some(claim) => (claim.clone(), VolumeSource::PersistentVolumeClaim { claim_name: claim.clone() }),
                None => {
                    cx.warn(s, "volumes", format!("{target}: the volume {src:?} is not defined: dropped"));
                    continue;
                }
            },
            (VolumeType::Volume, None) => ("anon".into(), VolumeSource::EmptyDir { medium: None, size_limit: None }),
            (VolumeType::Bind, src) => {
                let path = src.clone().unwrap_or_default();
                cx.warn(s, "volumes", format!("the bind mount {path} → {target} becomes a hostPath volume: the path must exist on the node that runs the pod (a ConfigMap or a claim is usually better)"));
                ("bind".into(), VolumeSource::HostPath { path })
            }
            (VolumeType::Tmpfs, _) => {
                if let Some(mode) = v.tmpfs_mode {
                    cx.warn(s, "volumes", format!("{target}: tmpfs mode {mode:o} is not kept (an emptyDir in memory is world-writable)"));
                }
                ("tmpfs".into(), memory_dir(v.tmpfs_size))
            }
            (kind, _) => {
                cx.warn(s, "volumes", format!("{target}: {kind:?} volumes have no Kubernetes equivalent: dropped"));
                continue;
            }
        };
        if !v.options.is_empty() {
            cx.warn(s, "volumes", format!("{target}: the options {:?} are not kept", v.options));
        }
        pv.mount(&base, source, target, None, v.read_only);
    }
    for t in &svc.tmpfs {
        let dropped = t.mode.map(|m| format!("mode={m:o}")).into_iter().chain(t.other.iter().cloned());
        for o in dropped {
            cx.warn(s, "tmpfs", format!("{}: the option {o:?} is not kept", t.target));
        }
        pv.mount("tmpfs", memory_dir(t.size), &t.target, None, false);
    }
    if let Some(size) = svc.shm_size {
        pv.mount("shm", memory_dir(Some(size)), "/dev/shm", None, false);
    }
}

/// `configs` (`secrets` when `secret`): a ConfigMap or Secret volume, its one key mounted
/// at the target as a file (`subPath`).
fn file_mounts(cx: &mut Cx, s: &str, svc: &Service, secret: bool, pv: &mut PodVolumes) {
    let (key, refs) = if secret { ("secrets", &svc.secrets) } else { ("configs", &svc.configs) };
    for r in refs {
        for (id, set) in [("uid", r.uid.is_some()), ("gid", r.gid.is_some())] {
            if set {
                cx.warn(s, key, format!("{:?}: {id} is not kept: the file belongs to root (a pod securityContext.fsGroup can set its group)", r.source));
            }
        }
        let source = r.source.as_str();
        let objects = if secret { &cx.names.secrets } else { &cx.names.configs };
        let Some(object) = objects.get(source).cloned() else {
            cx.warn(s, key, format!("{source:?}: not a defined {}: dropped", &key[..key.len() - 1]));
            continue;
        };
        let dir = if secret { "/run/secrets/" } else { "/" };
        let path = match &r.target {
            Some(t) if t.starts_with('/') => t.to_string(),
            Some(t) => format!("{dir}{t}"),
            None => format!("{dir}{source}"),
        };
        let mode = match r.mode {
            Some(m) if m <= 0o777 => Some(m),
            Some(m) => {
                cx.warn(s, key, format!("{source}: mode {m:o} is not a file mode (octal, at most 0777): the default applies"));
                None
            }
            None => None,
        };
        let data_key = names::data_key(source);
        let items = vec![KeyToPath { key: data_key.clone(), path: data_key.clone(), mode }];
        let (base, volume) = if secret {
            (format!("secret-{object}"), VolumeSource::Secret { secret_name: object, items })
        } else {
            (format!("config-{object}"), VolumeSource::ConfigMap { name: object, items })
        };
        pv.mount(&base, volume, &path, Some(data_key), true);
    }
}


/// Bytes as a Kubernetes quantity, in the largest binary unit that divides them.
fn memory_quantity(bytes: u64) -> String {
    for (unit, size) in [("Ti", 1u64 << 40), ("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)] {
        if bytes >= size && bytes.is_multiple_of(size) {
            return format!("{}{unit}", bytes / size);
        }
    }
    bytes.to_string()
}

/// CPUs (`0.5`, `"2"`) as a quantity (`500m`, `2`); None for zero (no limit) or nonsense.
fn cpu_quantity(cpus: f64) -> Option<String> {
    let milli = (cpus * 1000.0).round();
    if !milli.is_finite() || milli < 1.0 {
        return None;
    }
    let milli = milli as u64;
    Some(if milli.is_multiple_of(1000) { (milli / 1000).to_string() } else { format!("{milli}m") })
}

/// `deploy.resources` limits and reservations (→ requests), then `mem_limit`,
/// `mem_reservation` and `cpus` for what deploy does not set.
fn resources(cx: &mut Cx, s: &str, svc: &Service) -> Option<Resources> {
    let mut r = Resources::default();
    let (limits, reservations) = svc.deploy.as_ref().map(|d| (d.limits(), d.reservations())).unwrap_or_default();
    for (section, cpus, memory, out) in [
        ("limits", limits.cpus, limits.memory, &mut r.limits),
        ("reservations", reservations.cpus, reservations.memory, &mut r.requests),
    ] {
        match cpus.map(cpu_quantity) {
            Some(Some(q)) => {
                out.insert("cpu".into(), q);
            }
            Some(None) => cx.warn(s, &format!("deploy.resources.{section}.cpus"), format!("{} is not a quantity: dropped", cpus.unwrap_or_default())),
            None => {}
        }
        if let Some(b) = memory.filter(|b| *b > 0) {
            out.insert("memory".into(), memory_quantity(b));
        }
    }
    if limits.pids.is_some() {
        cx.warn(s, "deploy.resources.limits.pids", "not kept: Kubernetes has no such container resource here");
    }
    for (k, set) in [("devices", !reservations.devices.is_empty()), ("generic_resources", !reservations.generic_resources.is_empty())] {
        if set {
            cx.warn(s, &format!("deploy.resources.reservations.{k}"), "not kept: Kubernetes has no such container resource here");
        }
    }
    if let Some(b) = svc.mem_limit.filter(|b| *b > 0) {
        r.limits.entry("memory".into()).or_insert_with(|| memory_quantity(b));
    }
    if let Some(b) = svc.mem_reservation.filter(|b| *b > 0) {
        r.requests.entry("memory".into()).or_insert_with(|| memory_quantity(b));
    }
    if let Some(q) = svc.cpus.and_then(cpu_quantity) {
        r.limits.entry("cpu".into()).or_insert(q);
    }
    (!r.limits.is_empty() || !r.requests.is_empty()).then_some(r)
}

/// The healthcheck as an exec livenessProbe, with compose's defaults (30s, 30s, 3).
fn probe(cx: &mut Cx, s: &str, h: &Healthcheck) -> Option<Probe> {
    if h.disable {
        return None;
    }
    let command = match h.test.split_first() {
        Some((kind, rest)) if kind == "CMD" && !rest.is_empty() => rest.to_vec(),
        Some((kind, rest)) if kind == "CMD-SHELL" && !rest.is_empty() => vec!["/bin/sh".into(), "-c".into(), rest.join(" ")],
        Some((kind, _)) if kind == "NONE" => return None,
        _ => {
            cx.warn(s, "healthcheck", "no test: the image's own HEALTHCHECK is not known here, so no probe is written");
            return None;
        }
    };
    if h.start_interval.is_some() {
        cx.warn(s, "healthcheck.start_interval", "not kept: the probe runs every interval from the start");
    }
    let secs = |d: &Option<Duration>, default: u64| d.map(seconds).unwrap_or(default).max(1);
    Some(Probe {
        exec: ExecAction { command },
        initial_delay_seconds: h.start_period.map(seconds),
        period_seconds: secs(&h.interval, 30),
        timeout_seconds: secs(&h.timeout, 30),
        failure_threshold: h.retries.unwrap_or(3).max(1),
    })
}

fn security_context(cx: &mut Cx, s: &str, svc: &Service) -> Option<SecurityContext> {
    let mut c = SecurityContext::default();
    if svc.privileged {
        c.privileged = Some(true);
        cx.warn(s, "privileged", "kept as securityContext.privileged, which Pod Security admission (baseline, restricted) refuses");
    }
    if svc.read_only {
        c.read_only_root_filesystem = Some(true);
    }
    if let Some(u) = &svc.user {
        let (user, group) = u.split_once(':').map_or((u.as_str(), None), |(a, b)| (a, Some(b)));
        match (user.parse::<i64>(), group.map(str::parse::<i64>)) {
            (Ok(uid), None) => c.run_as_user = Some(uid),
            (Ok(uid), Some(Ok(gid))) => (c.run_as_user, c.run_as_group) = (Some(uid), Some(gid)),
            _ => cx.warn(s, "user", format!("{u:?}: Kubernetes takes numeric ids (runAsUser, runAsGroup): the image's user runs")),
        }
    }
    let caps = |l: &[String]| l.iter().map(|c| c.trim_start_matches("CAP_").to_ascii_uppercase()).collect::<Vec<_>>();
    if !svc.cap_add.is_empty() || !svc.cap_drop.is_empty() {
        c.capabilities = Some(Capabilities { add: caps(&svc.cap_add), drop: caps(&svc.cap_drop) });
    }
    (c != SecurityContext::default()).then_some(c)
}

fn pod_spec(cx: &mut Cx, s: &str, svc: &Service, container: Container, volumes: Vec<Volume>, node_selector: IndexMap<String, String>) -> PodSpec {
    let mut p = PodSpec { containers: vec![container], volumes, restart_policy: "Always", node_selector, ..Default::default() };
    p.termination_grace_period_seconds = svc.stop_grace_period.map(seconds);
    if let Some(h) = &svc.hostname {
        p.hostname = names::dns_label(h);
        if p.hostname.as_deref() != Some(h.as_str()) {
            cx.warn(s, "hostname", format!("{h:?} is not a DNS label: the pod's hostname is {:?}", p.hostname.as_deref().unwrap_or("its name")));
        }
    }
    match &svc.network_mode {
        None | Some(NetworkMode::Bridge) => {}
        Some(NetworkMode::Network(n)) if n == "default" => {}
        Some(NetworkMode::Host) => p.host_network = true,
        Some(m @ (NetworkMode::Service(_) | NetworkMode::Container(_))) => cx.warn(
            s,
            "network_mode",
            format!("{:?}: a pod cannot join another pod's network namespace: the pod gets its own (containers that must share one belong in one pod)", m.to_string()),
        ),
        Some(m) => cx.warn(s, "network_mode", format!("{:?} is not kept: the pod joins the cluster's pod network", m.to_string())),
    }
    for (key, mode, host) in [("pid", &svc.pid, &mut p.host_pid), ("ipc", &svc.ipc, &mut p.host_ipc)] {
        match mode {
            None | Some(ShareMode::Private | ShareMode::Shareable) => {}
            Some(ShareMode::Host) => *host = true,
            Some(m) => cx.warn(s, key, format!("{:?} is not kept: a pod cannot join another pod's namespaces", m.to_string())),
        }
    }
    let mut dns = DnsConfig { nameservers: svc.dns.clone(), searches: svc.dns_search.clone(), options: Vec::new() };
    for o in &svc.dns_opt {
        let (name, value) = o.split_once(':').map_or((o.as_str(), None), |(n, v)| (n, Some(v.to_string())));
        dns.options.push(DnsOption { name: name.to_string(), value });
    }
    p.dns_config = (dns != DnsConfig::default()).then_some(dns);
    for e in &svc.extra_hosts {
        let (host, ip) = (e.host.as_str(), e.ip.as_str());
        if ip.parse::<std::net::IpAddr>().is_err() {
            cx.warn(s, "extra_hosts", format!("{host}:{ip}: Kubernetes host aliases take an IP address: dropped"));
            continue;
        }
        match p.host_aliases.iter_mut().find(|a| a.ip == ip) {
            Some(a) => a.hostnames.push(host.to_string()),
            None => p.host_aliases.push(HostAlias { ip: ip.to_string(), hostnames: vec![host.to_string()] }),
        }
    }
    let sysctls = svc.sysctls.iter().map(|(k, v)| Sysctl { name: k.clone(), value: v.clone() }).collect();
    let mut sc = PodSecurityContext { sysctls, ..Default::default() };
    for g in &svc.group_add {
        match g.parse() {
            Ok(gid) => sc.supplemental_groups.push(gid),
            Err(_) => cx.warn(s, "group_add", format!("{g:?}: Kubernetes takes numeric group ids (supplementalGroups): dropped")),
        }
    }
    p.security_context = (sc != PodSecurityContext::default()).then_some(sc);
    if let Some(platform) = &svc.platform {
        let mut parts = platform.split('/');
        for key in ["kubernetes.io/os", "kubernetes.io/arch"] {
            if let Some(v) = parts.next().filter(|v| !v.is_empty()) {
                p.node_selector.insert(key.into(), v.to_string());
            }
        }
        if let Some(variant) = parts.next() {
            cx.warn(s, "platform", format!("the variant {variant:?} is not kept: nodes are selected by os and architecture"));
        }
    }
    p
}

/// The `deploy` keys that become labels and node selectors; the others are warned about.
struct Deploy {
    labels: IndexMap<String, String>,
    node_selector: IndexMap<String, String>,
}

impl Deploy {
    fn read(cx: &mut Cx, s: &str, svc: &Service) -> Deploy {
        let mut d = Deploy { labels: IndexMap::new(), node_selector: IndexMap::new() };
        let Some(dep) = svc.deploy.as_ref() else { return d };
        if let Some(m) = dep.mode.filter(|m| *m != DeployMode::Replicated) {
            cx.warn(s, "deploy.mode", format!("{} is not kept: a Deployment runs `replicas` pods (a DaemonSet would run one per node)", written(&m)));
        }
        if dep.endpoint_mode.is_some_and(|m| m != EndpointMode::Vip) {
            cx.warn(s, "deploy.endpoint_mode", "not kept: Kubernetes is not given it (see docs/kubernetes.md)");
        }
        d.labels = dep.labels.clone();
        if let Some(rp) = &dep.restart_policy {
            let kept = [
                ("condition", rp.condition.filter(|c| *c != RestartCondition::Any).map(|c| written(&c))),
                ("delay", rp.delay.map(|v| written(&v))),
                ("max_attempts", rp.max_attempts.map(|v| v.to_string())),
                ("window", rp.window.map(|v| written(&v))),
            ];
            for (k, v) in kept {
                if let Some(v) = v {
                    cx.warn(s, &format!("deploy.restart_policy.{k}"), format!("{v} is not kept: the pods of a Deployment always restart"));
                }
            }
        }
        if let Some(p) = &dep.placement {
            for c in &p.constraints {
                match node_selector(c) {
                    Some((label, value)) => {
                        d.node_selector.insert(label, value);
                    }
                    None => cx.warn(s, "deploy.placement.constraints", format!("{c:?} is not kept: only `node.labels.X == Y` and `node.hostname == Y` become node selectors")),
                }
            }
            for (k, set) in [("preferences", !p.preferences.is_empty()), ("max_replicas_per_node", p.max_replicas_per_node.is_some())] {
                if set {
                    cx.warn(s, &format!("deploy.placement.{k}"), "not kept: only constraints become node selectors");
                }
            }
        }
        for (k, set) in [("update_config", dep.update_config.is_some()), ("rollback_config", dep.rollback_config.is_some())] {
            if set {
                cx.warn(s, &format!("deploy.{k}"), "not kept: Kubernetes is not given it (see docs/kubernetes.md)");
            }
        }
        d
    }
}

/// A value as Compose writes it, quoted (`"global"`, `"5s"`), for warnings.
fn written<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// `node.labels.disk == ssd` → (`disk`, `ssd`); `node.hostname == n1` → (`kubernetes.io/hostname`, `n1`).
fn node_selector(c: &str) -> Option<(String, String)> {
    let (lhs, rhs) = c.split_once("==")?;
    let (lhs, rhs) = (lhs.trim(), rhs.trim());
    let label = match lhs.strip_prefix("node.labels.") {
        Some(l) => l.to_string(),
        None if lhs == "node.hostname" => "kubernetes.io/hostname".to_string(),
        None => return None,
    };
    (names::valid_key(&label) && names::valid_label_value(rhs)).then(|| (label, rhs.to_string()))
}
/// The service's `annotations:`, onto the pod template.
fn annotations(cx: &mut Cx, s: &str, svc: &Service) -> IndexMap<String, String> {
    let mut out = IndexMap::new();
    for (k, v) in &svc.annotations {
        if names::valid_key(k) {
            out.insert(k.clone(), v.clone());
        } else {
            cx.warn(s, "annotations", format!("{k:?} is not a valid Kubernetes annotation key: dropped"));
        }
    }
    out
}

/// Warnings for the keys nothing above maps.
fn unmapped(cx: &mut Cx, s: &str, svc: &Service) {
    for l in &svc.links {
        let mut msg = match cx.names.services.get(&l.target) {
            Some(name) => format!("Kubernetes has no links: {:?} is reached by its Service name {name:?}", l.target),
            None => format!("{:?} is not a service of the project: not kept", l.target),
        };
        if l.alias != l.target {
            msg.push_str(&format!("; the alias {:?} does not resolve", l.alias));
        }
        cx.warn(s, "links", msg + " (nor are the link environment variables set)");
    }
    for l in &svc.external_links {
        cx.warn(s, "external_links", format!("{}: not kept: containers outside the project do not exist in the cluster", l.target));
    }
    for v in &svc.volumes_from {
        cx.warn(s, "volumes_from", format!("{:?}: not kept: pods cannot mount another pod's volumes (mount the same named volume instead)", v.source));
    }
    if !svc.depends_on.is_empty() {
        let deps: Vec<&String> = svc.depends_on.keys().collect();
        cx.warn(s, "depends_on", format!("{deps:?}: not kept: Kubernetes starts every workload at once (the app must retry its connections, or use an init container)"));
    }
    let project_networks = cx.project.services.values().flat_map(|x| x.networks.keys()).collect::<std::collections::BTreeSet<_>>();
    for (net, n) in &svc.networks {
        if project_networks.len() > 1 {
            cx.warn(s, "networks", format!("{net:?}: Kubernetes has one flat pod network: the services of different networks can reach each other (NetworkPolicies restrict that)"));
        }
        if !n.aliases.is_empty() {
            cx.warn(s, "networks", format!("{net:?}: the aliases {:?} do not resolve: only the Service name does", n.aliases));
        }
        if n.ipv4_address.is_some() || n.ipv6_address.is_some() {
            cx.warn(s, "networks", format!("{net:?}: fixed addresses are not kept: pods get theirs from the cluster"));
        }
    }
    match svc.restart {
        None | Some(RestartPolicy::Always | RestartPolicy::UnlessStopped) => {}
        Some(r) => cx.warn(s, "restart", format!("{:?} is not kept: the pods of a Deployment always restart (a run-once service fits a Job)", r.to_string())),
    }
    let ignored = [
        ("container_name", svc.container_name.is_some()),
        ("domainname", svc.domainname.is_some()),
        ("init", svc.init == Some(true)),
        ("stop_signal", svc.stop_signal.is_some()),
        ("security_opt", !svc.security_opt.is_empty()),
        ("ulimits", !svc.ulimits.is_empty()),
        ("devices", !svc.devices.is_empty()),
        ("logging", svc.logging.is_some()),
        ("develop", svc.develop.is_some()),
        ("cpu_shares", svc.cpu_shares.is_some()),
        ("cpu_quota", svc.cpu_quota.is_some()),
        ("cpu_period", svc.cpu_period.is_some()),
        ("cpuset", svc.cpuset.is_some()),
        ("pids_limit", svc.pids_limit.is_some()),
        ("memswap_limit", svc.memswap_limit.is_some()),
        ("cgroup_parent", svc.cgroup_parent.is_some()),
        ("oom_score_adj", svc.oom_score_adj.is_some()),
        ("mac_address", svc.mac_address.is_some()),
        ("userns_mode", svc.userns_mode.is_some()),
        ("runtime", svc.runtime.is_some()),
        ("gpus", !svc.gpus.is_empty()),
        ("attach", svc.attach.is_some()),
        ("post_start", !svc.post_start.is_empty()),
        ("pre_stop", !svc.pre_stop.is_empty()),
    ];
    for (key, set) in ignored {
        if set {
            cx.warn(s, key, "not kept: Kubernetes has no equivalent (see docs/kubernetes.md)");
        }
    }
    for key in svc.other.keys() {
        cx.warn(s, key, "not kept: Kubernetes has no equivalent (see docs/kubernetes.md)");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_and_modes() {
        assert_eq!(memory_quantity(64 << 20), "64Mi");
        assert_eq!(memory_quantity(1 << 30), "1Gi");
        assert_eq!(memory_quantity(1500), "1500");
        assert_eq!(cpu_quantity(0.5).as_deref(), Some("500m"));
        assert_eq!(cpu_quantity(2.0).as_deref(), Some("2"));
        assert_eq!(cpu_quantity(0.0), None);
        assert_eq!(node_selector("node.labels.disk == ssd"), Some(("disk".into(), "ssd".into())));
        assert_eq!(node_selector("node.role == manager"), None);
    }
}
