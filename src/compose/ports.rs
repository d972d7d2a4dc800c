//! `ports:` (short `[ip:][host:]container[/proto]` with ranges, and long form) and `expose:`,
//! expanded to one entry per port and checked for range and address errors.

use std::net::IpAddr;

use super::error::Result;
use super::model::{ExposedPort, Port};
use super::normalize::{check_keys, int, text, type_err};
use super::yaml::{Node, Sources, Val};

fn range(s: &str) -> std::result::Result<(u32, u32), String> {
    let num = |x: &str| x.trim().parse::<u32>().map_err(|_| format!("invalid port {x:?}"));
    let (a, b) = match s.split_once('-') {
        Some((a, b)) => (num(a)?, num(b)?),
        None => (num(s)?, num(s)?),
    };
    for p in [a, b] {
        if p == 0 || p > 65535 {
            return Err(format!("port {p} out of range 1-65535"));
        }
    }
    if b < a {
        return Err(format!("invalid port range {s:?}: end is before start"));
    }
    Ok((a, b))
}

/// Parses one short-syntax port spec.
pub fn parse_short(spec: &str) -> std::result::Result<Vec<Port>, String> {
    let (body, protocol) = match spec.rsplit_once('/') {
        Some((b, p)) => (b, p.to_string()),
        None => (spec, "tcp".to_string()),
    };
    if !matches!(protocol.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!("invalid protocol {protocol:?}"));
    }
    let (ip, rest) = if let Some(r) = body.strip_prefix('[') {
        let (ip, rest) = r.split_once("]:").ok_or_else(|| "missing ']:' after an IPv6 address".to_string())?;
        (Some(ip.to_string()), rest.to_string())
    } else {
        let parts: Vec<&str> = body.rsplitn(3, ':').collect();
        match parts.as_slice() {
            [_, _, ip] => (Some(ip.to_string()), format!("{}:{}", parts[1], parts[0])),
            _ => (None, body.to_string()),
        }
    };
    let (host, container) = match rest.rsplit_once(':') {
        Some((h, c)) => (Some(h), c),
        None => (None, rest.as_str()),
    };
    if let Some(ip) = &ip
        && ip.parse::<IpAddr>().is_err()
    {
        return Err(format!("invalid host IP {ip:?}"));
    }
    let (c0, c1) = range(container)?;
    let host = host.filter(|h| !h.is_empty()).map(range).transpose()?;
    // A host range for one container port lets the engine pick a host port in the range;
    // we publish its start. Otherwise the two ranges must be the same length.
    if let Some((h0, h1)) = host
        && c0 != c1
        && h1 - h0 != c1 - c0
    {
        return Err(format!("host and container port ranges differ in length in {spec:?}"));
    }
    Ok((c0..=c1)
        .enumerate()
        .map(|(i, c)| Port {
            target: c as u16,
            published: host.map(|(h0, _)| (h0 + i as u32) as u16),
            host_ip: ip.clone(),
            protocol: protocol.clone(),
            mode: None,
            name: None,
            app_protocol: None,
        })
        .collect())
}

pub fn ports(srcs: &Sources, n: &Node, what: &str) -> Result<Vec<Port>> {
    let Val::Seq(items) = &n.v else { return Err(type_err(srcs, n, what, "a list")) };
    let mut out = Vec::new();
    for item in items {
        if item.as_map().is_some() {
            out.extend(long(srcs, item, what)?);
            continue;
        }
        let spec = text(srcs, item, what)?;
        out.extend(parse_short(&spec).map_err(|e| srcs.err(item, format!("{what}: {e}")))?);
    }
    Ok(out)
}

fn long(srcs: &Sources, n: &Node, what: &str) -> Result<Vec<Port>> {
    let m = n.as_map().map(Vec::as_slice).unwrap_or_default();
    check_keys(srcs, m, &["name", "mode", "host_ip", "target", "published", "protocol", "app_protocol"], what)?;
    let get = |k: &str| n.get(k).map(|v| text(srcs, v, what)).transpose();
    let target_node = n.get("target").ok_or_else(|| srcs.err(n, format!("{what}: `target` is required")))?;
    let target: u16 = int(srcs, target_node, what)?;
    if target == 0 {
        return Err(srcs.err(target_node, format!("{what}: port 0 out of range 1-65535")));
    }
    let host_ip = get("host_ip")?;
    if let Some(ip) = &host_ip
        && ip.parse::<IpAddr>().is_err()
    {
        return Err(srcs.err(n, format!("{what}: invalid host IP {ip:?}")));
    }
    let base = Port {
        target,
        published: None,
        host_ip,
        protocol: get("protocol")?.unwrap_or_else(|| "tcp".into()),
        mode: get("mode")?,
        name: get("name")?,
        app_protocol: get("app_protocol")?,
    };
    match get("published")?.filter(|p| !p.is_empty()) {
        None => Ok(vec![base]),
        Some(p) => {
            let (h0, h1) = range(&p).map_err(|e| srcs.err(n, format!("{what}: {e}")))?;
            // A published range with one target: compose picks from the range; we take its start.
            let _ = h1;
            Ok(vec![Port { published: Some(h0 as u16), ..base }])
        }
    }
}

pub fn expose(srcs: &Sources, n: &Node, what: &str) -> Result<Vec<ExposedPort>> {
    let Val::Seq(items) = &n.v else { return Err(type_err(srcs, n, what, "a list")) };
    let mut out = Vec::new();
    for item in items {
        let spec = text(srcs, item, what)?;
        let (ports, proto) = spec.split_once('/').unwrap_or((&spec, "tcp"));
        let (a, b) = range(ports).map_err(|e| srcs.err(item, format!("{what}: {e}")))?;
        out.extend((a..=b).map(|p| ExposedPort { port: p as u16, protocol: proto.to_string() }));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(s: &str) -> (Option<String>, Option<u16>, u16, String) {
        let p = parse_short(s).unwrap();
        assert_eq!(p.len(), 1, "{s}");
        let p = &p[0];
        (p.host_ip.clone(), p.published, p.target, p.protocol.clone())
    }

    #[test]
    fn short_forms() {
        assert_eq!(one("80"), (None, None, 80, "tcp".into()));
        assert_eq!(one("8080:80"), (None, Some(8080), 80, "tcp".into()));
        assert_eq!(one("127.0.0.1:8080:80/udp"), (Some("127.0.0.1".into()), Some(8080), 80, "udp".into()));
        assert_eq!(one("127.0.0.1::80"), (Some("127.0.0.1".into()), None, 80, "tcp".into()));
        assert_eq!(one("[::1]:80:80"), (Some("::1".into()), Some(80), 80, "tcp".into()));
        let r = parse_short("8000-8001:80-81").unwrap();
        assert_eq!(r.iter().map(|p| (p.published, p.target)).collect::<Vec<_>>(), vec![(Some(8000), 80), (Some(8001), 81)]);
        assert_eq!(one("6005-6015:80"), (None, Some(6005), 80, "tcp".into()));
    }

    #[test]
    fn invalid_ports() {
        for bad in ["0", "70000", "81-80", "8000-8002:80-81", "8000:80-81", "1.2.3:80:80", "80/xyz", "a:80", ""] {
            assert!(parse_short(bad).is_err(), "{bad}");
        }
    }
}
