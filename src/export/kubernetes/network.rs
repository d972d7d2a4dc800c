//! Ports → Services. `<service>` (ClusterIP) carries every container port, as compose's
//! service DNS does between containers (headless when there are none: the name still
//! resolves, to the pods); published ports also get `<service>-public`, a LoadBalancer.

use std::net::IpAddr;

use super::objects::{Body, Kind, Metadata, Object, ServicePort, ServiceSpec};
use super::Cx;
use crate::compose::model::Service;

/// A port of a service: what clients connect to (`port`) and where it lands (`target`).
#[derive(Debug, Clone, PartialEq)]
pub struct PortRef {
    pub port: u16,
    pub target: u16,
    pub protocol: &'static str,
    pub app_protocol: Option<String>,
}

/// A service's ports as Kubernetes sees them, and what of them did not map.
#[derive(Debug, Clone, Default)]
pub struct ServicePorts {
    /// Every container port (`ports` targets and `expose`), once each.
    pub container: Vec<PortRef>,
    /// Published ports that leave the machine (not bound to a loopback address).
    pub public: Vec<PortRef>,
    /// (compose key, message).
    pub warnings: Vec<(&'static str, String)>,
}

pub fn protocol(p: &str) -> Option<&'static str> {
    match p.to_ascii_lowercase().as_str() {
        "tcp" => Some("TCP"),
        "udp" => Some("UDP"),
        "sctp" => Some("SCTP"),
        _ => None,
    }
}

fn loopback(ip: &str) -> bool {
    ip == "localhost" || ip.trim_matches(['[', ']']).parse::<IpAddr>().is_ok_and(|a| a.is_loopback())
}

fn unspecified(ip: &str) -> bool {
    ip.trim_matches(['[', ']']).parse::<IpAddr>().is_ok_and(|a| a.is_unspecified())
}

pub fn ports(svc: &Service) -> ServicePorts {
    let mut out = ServicePorts::default();
    let add = |list: &mut Vec<PortRef>, p: PortRef| {
        if !list.iter().any(|q| q.port == p.port && q.protocol == p.protocol) {
            list.push(p);
        }
    };
    for p in &svc.ports {
        let shown = match (&p.host_ip, p.published) {
            (Some(ip), Some(h)) => format!("{ip}:{h}:{}", p.target),
            (Some(ip), None) => format!("{ip}::{}", p.target),
            (None, Some(h)) => format!("{h}:{}", p.target),
            (None, None) => p.target.to_string(),
        };
        let Some(proto) = protocol(&p.protocol) else {
            out.warnings.push(("ports", format!("{shown}: protocol {:?} is not one Kubernetes knows (tcp, udp, sctp): dropped", p.protocol)));
            continue;
        };
        let container = PortRef { port: p.target, target: p.target, protocol: proto, app_protocol: p.app_protocol.clone() };
        add(&mut out.container, container.clone());
        if let Some(name) = &p.name {
            out.warnings.push(("ports", format!("{shown}: the name {name:?} is not kept: Service ports are named <protocol>-<port>")));
        }
        if let Some(ip) = &p.host_ip {
            if loopback(ip) {
                out.warnings.push(("ports", format!("{shown} is bound to a loopback address: not published outside the cluster (kubectl port-forward reaches it)")));
                continue;
            }
            if !unspecified(ip) {
                out.warnings.push(("ports", format!("{shown}: the host address {ip} is not kept: the load balancer publishes the port on its own address")));
            }
        }
        if p.mode.as_deref() == Some("host") {
            out.warnings.push(("ports", format!("{shown}: mode host is not kept: the port is published by the load balancer")));
        }
        let public = PortRef { port: p.published.unwrap_or(p.target), ..container };
        if out.public.iter().any(|q| q.port == public.port && q.protocol == public.protocol) {
            out.warnings.push(("ports", format!("{shown}: port {} is already published: dropped", public.port)));
        } else {
            out.public.push(public);
        }
    }
    for e in &svc.expose {
        match protocol(&e.protocol) {
            Some(protocol) => add(&mut out.container, PortRef { port: e.port, target: e.port, protocol, app_protocol: None }),
            None => out.warnings.push(("expose", format!("{:?} is not a port/protocol Kubernetes knows (tcp, udp, sctp): dropped", e.to_string()))),
        }
    }
    out
}

/// The Services of one compose service; `meta` has its labels.
pub(super) fn services(cx: &Cx, key: &str, meta: &Metadata) -> Vec<Object> {
    let ports = &cx.ports[key];
    let mut out = Vec::new();
    let lists = [(cx.names.services.get(key), "ClusterIP", &ports.container), (cx.names.public.get(key), "LoadBalancer", &ports.public)];
    for (name, kind, list) in lists {
        let Some(name) = name else { continue };
        let metadata = Metadata { name: Some(name.clone()), ..meta.clone() };
        let spec = ServiceSpec {
            kind,
            cluster_ip: list.is_empty().then_some("None"),
            selector: cx.app_labels(key),
            ports: list
                .iter()
                .map(|p| ServicePort {
                    name: format!("{}-{}", p.protocol.to_ascii_lowercase(), p.port),
                    port: p.port,
                    target_port: p.target,
                    protocol: p.protocol,
                    app_protocol: p.app_protocol.clone(),
                })
                .collect(),
        };
        out.push(Object::new(Kind::Service, metadata, Body::Service { spec }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::model::Port;

    fn port(target: u16, published: Option<u16>, ip: Option<&str>, proto: &str) -> Port {
        Port { target, published, host_ip: ip.map(str::to_string), protocol: proto.into(), mode: None, name: None, app_protocol: None }
    }

    #[test]
    fn container_public_and_loopback_ports() {
        let svc = Service {
            ports: vec![port(80, Some(8080), None, "tcp"), port(80, Some(8081), None, "tcp"), port(53, Some(53), None, "udp"), port(9, Some(9), Some("127.0.0.1"), "tcp"), port(7, None, None, "tcp")],
            expose: vec!["6379/tcp".parse().unwrap(), "6380/xyz".parse().unwrap()],
            ..Default::default()
        };
        let p = ports(&svc);
        let pairs = |l: &[PortRef]| l.iter().map(|p| (p.port, p.target, p.protocol)).collect::<Vec<_>>();
        assert_eq!(pairs(&p.container), vec![(80, 80, "TCP"), (53, 53, "UDP"), (9, 9, "TCP"), (7, 7, "TCP"), (6379, 6379, "TCP")]);
        assert_eq!(pairs(&p.public), vec![(8080, 80, "TCP"), (8081, 80, "TCP"), (53, 53, "UDP"), (7, 7, "TCP")]);
        assert_eq!(p.warnings.len(), 2, "{:?}", p.warnings);
        assert!(p.warnings[0].1.contains("loopback"));
        assert_eq!(p.warnings[1].0, "expose");
    }
}
