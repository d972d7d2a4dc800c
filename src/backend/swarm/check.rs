//! What swarm cannot do with a project, found before anything is deployed: keys it has
//! no equivalent for are refused (the service would behave differently), keys that only
//! lose a nicety are warned about. Pure: the model in, refusals and warnings out.

use std::fmt;

use crate::compose::model::{Project, Service, VolumeType};

use super::convert;

/// One thing swarm cannot do, with the service and the compose key it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub service: String,
    pub key: String,
    pub reason: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "service {:?}: {}: {}", self.service, self.key, self.reason)
    }
}

/// Keys that land in `Service::other` and that a swarm service has no field for.
const IGNORED_OTHER: &str = "has no swarm service equivalent and is ignored";

/// Checks `services` (all when empty) of the project. Returns the warnings when swarm can
/// deploy them, every refusal otherwise.
pub fn check(project: &Project, services: &[String]) -> Result<Vec<String>, Vec<Refusal>> {
    let mut refusals = Vec::new();
    let mut warnings = Vec::new();
    for (name, s) in project.services.iter().filter(|(n, _)| services.is_empty() || services.contains(n)) {
        let mut refuse = |key: &str, reason: &str| {
            refusals.push(Refusal { service: name.clone(), key: key.into(), reason: reason.into() });
        };
        refused_keys(s, &mut refuse);
        for key in convert::network_keys(s) {
            let driver = project.networks.get(&key).filter(|n| !n.external).and_then(|n| n.driver.as_deref());
            if let Some(d @ ("bridge" | "host" | "none")) = driver {
                refuse("networks", &format!("network {key:?} has driver {d}, which is local to one host; swarm networks are overlay (drop `driver:`)"));
            }
        }
        for (key, reason) in convert::deploy(s).1 {
            refuse(&key, &reason);
        }
        let mut warn = |key: &str, reason: &str| warnings.push(format!("service {name:?}: {key} {reason}"));
        warned_keys(s, &mut warn);
    }
    if refusals.is_empty() { Ok(warnings) } else { Err(refusals) }
}

fn refused_keys(s: &Service, refuse: &mut impl FnMut(&str, &str)) {
    if s.image.is_none() {
        refuse("build", "swarm runs images from a registry: set `image:`, then `hoist build` and `hoist push` it");
    }
    if !s.links.is_empty() {
        refuse("links", "swarm services do not link; they reach each other by service name on a shared network");
    }
    if !s.external_links.is_empty() {
        refuse("external_links", "swarm services do not link; join the other service's network instead");
    }
    if !s.volumes_from.is_empty() {
        refuse("volumes_from", "swarm tasks cannot share another container's volumes; mount the same named volume instead");
    }
    if let Some(mode) = &s.network_mode {
        refuse("network_mode", &format!("{:?} is not possible for a swarm service, which joins networks (`networks:`)", mode.to_string()));
    }
    if s.container_name.is_some() {
        refuse("container_name", "swarm names task containers itself (`<stack>_<service>.<slot>.<task id>`)");
    }
    if s.pid.is_some() {
        refuse("pid", "swarm services cannot share a PID namespace");
    }
    if s.ipc.is_some() {
        refuse("ipc", "swarm services cannot share an IPC namespace");
    }
    if s.privileged {
        refuse("privileged", "swarm services cannot run privileged");
    }
    if !s.gpus.is_empty() {
        refuse("gpus", "swarm services take no device requests: advertise GPUs as generic resources (deploy.resources.reservations.generic_resources)");
    }
    if !s.devices.is_empty() {
        refuse("devices", "swarm services cannot map host devices");
    }
    if !s.security_opt.is_empty() {
        refuse("security_opt", "swarm services take no security options");
    }
    if s.ports.iter().any(|p| p.host_ip.is_some()) {
        refuse("ports", "swarm publishes a port on every address of a node; a host address (`127.0.0.1:8080:80`) cannot be honoured");
    }
    if s.networks.values().any(|n| n.ipv4_address.is_some() || n.ipv6_address.is_some()) {
        refuse("networks", "swarm assigns the addresses of service tasks; ipv4_address/ipv6_address cannot be set");
    }
    for v in &s.volumes {
        if !matches!(v.kind, VolumeType::Bind | VolumeType::Volume | VolumeType::Tmpfs) {
            refuse("volumes", &format!("a {:?} mount at {} is not possible on swarm", v.kind, v.target));
        }
    }
}

fn warned_keys(s: &Service, warn: &mut impl FnMut(&str, &str)) {
    if !s.depends_on.is_empty() {
        warn("depends_on", "is ignored: swarm starts every service at once (make services retry their dependencies)");
    }
    if s.build.is_some() && s.image.is_some() {
        warn("build", "is ignored: swarm runs `image:` as it is in the registry (or on the nodes)");
    }
    let unmapped: [(&str, bool); 16] = [
        ("domainname", s.domainname.is_some()),
        ("memswap_limit", s.memswap_limit.is_some()),
        ("shm_size", s.shm_size.is_some()),
        ("cpu_shares", s.cpu_shares.is_some()),
        ("cpu_quota", s.cpu_quota.is_some()),
        ("cpu_period", s.cpu_period.is_some()),
        ("cpuset", s.cpuset.is_some()),
        ("platform", s.platform.is_some()),
        ("pull_policy", s.pull_policy.is_some()),
        ("develop", s.develop.is_some()),
        ("cgroup_parent", s.cgroup_parent.is_some()),
        ("oom_score_adj", s.oom_score_adj.is_some()),
        ("mac_address", s.mac_address.is_some()),
        ("userns_mode", s.userns_mode.is_some()),
        ("runtime", s.runtime.is_some()),
        ("annotations", !s.annotations.is_empty()),
    ];
    for (key, set) in unmapped {
        if set {
            warn(key, IGNORED_OTHER);
        }
    }
    for key in s.other.keys() {
        warn(key, IGNORED_OTHER);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::model::{DependsOn, Link, Port, VolumesFrom, VolumesFromSource};

    fn project(services: Vec<(&str, Service)>) -> Project {
        let mut p = Project { name: "demo".into(), ..Default::default() };
        for (n, s) in services {
            p.services.insert(n.into(), s);
        }
        p
    }

    fn image() -> Service {
        Service { image: Some("busybox".into()), ..Default::default() }
    }

    #[test]
    fn refuses_what_swarm_cannot_do_naming_service_and_key() {
        let mut web = image();
        web.links.push(Link { target: "db".into(), alias: "db".into() });
        web.container_name = Some("web".into());
        let mut db = Service { build: Some(Default::default()), ..Default::default() };
        db.volumes_from.push(VolumesFrom { source: VolumesFromSource::Service("web".into()), read_only: false });
        let mut proxy = image();
        proxy.network_mode = Some("service:web".parse().unwrap());
        proxy.ports.push(Port { target: 80, published: Some(8080), host_ip: Some("127.0.0.1".into()), protocol: "tcp".into(), mode: None, name: None, app_protocol: None });
        let p = project(vec![("web", web), ("db", db), ("proxy", proxy)]);
        let refused = check(&p, &[]).unwrap_err();
        let keys: Vec<(&str, &str)> = refused.iter().map(|r| (r.service.as_str(), r.key.as_str())).collect();
        assert_eq!(
            keys,
            vec![("web", "links"), ("web", "container_name"), ("db", "build"), ("db", "volumes_from"), ("proxy", "network_mode"), ("proxy", "ports")]
        );
        assert!(refused[0].to_string().starts_with("service \"web\": links: "));
        // Only the services asked for are checked.
        assert_eq!(check(&p, &["proxy".into()]).unwrap_err().len(), 2);
    }

    #[test]
    fn warns_about_ordering_and_ignored_keys() {
        let mut web = image();
        web.depends_on.insert("db".into(), DependsOn { condition: Default::default(), restart: false, required: true });
        web.oom_score_adj = Some(100);
        let warnings = check(&project(vec![("web", web), ("db", image())]), &[]).unwrap();
        assert_eq!(warnings.len(), 2);
        assert!(warnings[0].contains("depends_on is ignored"));
        assert!(warnings[1].contains("oom_score_adj"));
    }

    #[test]
    fn deploy_keys_swarm_cannot_do_are_refused() {
        // Bad values are refused by the loader; these are valid, but not for swarm here.
        let mut web = image();
        let deploy = serde_json::json!({"mode": "replicated-job", "resources": {"reservations": {"devices": [{"capabilities": ["gpu"]}]}}});
        web.deploy = serde_json::from_value(deploy).unwrap();
        let refused = check(&project(vec![("web", web)]), &[]).unwrap_err();
        let keys: Vec<&str> = refused.iter().map(|r| r.key.as_str()).collect();
        assert_eq!(keys, vec!["deploy.mode", "deploy.resources.reservations.devices"]);
    }
}
