//! Whole-project checks after normalization: names (Docker's rules: engine names become
//! paths in the built-in store), environments, references to undefined services, networks
//! and volumes, dependency cycles, duplicate published ports, container_name with scale.

use std::collections::HashMap;

use super::error::{ComposeError, Result};
use super::model::{NetworkMode, Project, ShareMode, VolumeType, VolumesFromSource, WatchAction};
use super::normalize::Locs;

fn err(locs: &Locs, key: &str, msg: String) -> ComposeError {
    match locs.get(key) {
        Some(l) => ComposeError::at(l, msg),
        None => ComposeError::msg(msg),
    }
}

/// The services a service needs started first, with the key the need comes from.
fn edges(p: &Project, name: &str) -> Vec<(String, &'static str)> {
    let Some(s) = p.services.get(name) else { return vec![] };
    let mut out: Vec<(String, &'static str)> = Vec::new();
    out.extend(s.depends_on.iter().filter(|(_, d)| d.required).map(|(k, _)| (k.clone(), "depends_on")));
    out.extend(s.links.iter().map(|l| (l.target.clone(), "links")));
    for v in &s.volumes_from {
        if let VolumesFromSource::Service(x) = &v.source {
            out.push((x.clone(), "volumes_from"));
        }
    }
    if let Some(x) = s.network_mode.as_ref().and_then(NetworkMode::service) {
        out.push((x.to_string(), "network_mode"));
    }
    for (key, val) in [("pid", &s.pid), ("ipc", &s.ipc)] {
        if let Some(x) = val.as_ref().and_then(ShareMode::service) {
            out.push((x.to_string(), key));
        }
    }
    out
}

pub fn validate(p: &Project, locs: &Locs) -> Result<()> {
    names(p, locs)?;
    environment(p, locs)?;
    for (name, s) in &p.services {
        for (dep, key) in edges(p, name) {
            if !p.services.contains_key(&dep) {
                let why = if p.disabled_services.contains_key(&dep) { " (disabled by its profiles)" } else { "" };
                return Err(err(locs, &format!("{name}/{key}"), format!("service {name:?} refers to undefined service {dep:?} in {key}{why}")));
            }
        }
        if !p.legacy {
            for net in s.networks.keys() {
                if !p.networks.contains_key(net) && net != "default" {
                    return Err(err(locs, &format!("{name}/networks"), format!("service {name:?} refers to undefined network {net:?}")));
                }
            }
            if let Some(nm) = &s.network_mode
                && !s.networks.is_empty()
            {
                return Err(err(locs, &format!("{name}/network_mode"), format!("service {name:?}: network_mode {:?} cannot be combined with networks", nm.to_string())));
            }
            for v in &s.volumes {
                if v.kind == VolumeType::Volume
                    && let Some(src) = &v.source
                    && !p.volumes.contains_key(src)
                {
                    return Err(err(locs, &format!("{name}/volumes"), format!("service {name:?} refers to undefined volume {src:?}")));
                }
            }
        }
        for (kind, refs, defined) in [("secret", &s.secrets, &p.secrets), ("config", &s.configs, &p.configs)] {
            if let Some(r) = refs.iter().find(|r| !defined.contains_key(&r.source)) {
                return Err(err(locs, &format!("{name}/{kind}s"), format!("service {name:?} refers to undefined {kind} {:?}", r.source)));
            }
        }
        if s.container_name.is_some() && s.replicas() > 1 {
            return Err(err(
                locs,
                &format!("{name}/container_name"),
                format!("service {name:?} sets container_name and scale {}: a container name must be unique", s.replicas()),
            ));
        }
        // Docker Compose refuses this up front too: there is nothing to rebuild from.
        let rebuilds = s.develop.iter().flat_map(|d| &d.watch).any(|r| r.action == WatchAction::Rebuild);
        if rebuilds && s.build.is_none() {
            return Err(err(locs, &format!("{name}/develop"), format!("service {name:?}: develop.watch has a rebuild rule but the service has no build section")));
        }
        // `provider:` services are run by a plugin, not from an image.
        if s.image.is_none() && s.build.is_none() && !s.other.contains_key("provider") {
            return Err(err(locs, name, format!("service {name:?} has neither an image nor a build context")));
        }
    }
    cycles(p, locs)?;
    duplicate_ports(p, locs)
}

/// What an engine name names: Docker's rules differ a little between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    Container,
    Volume,
    Network,
}

/// Checks `name` against Docker's rules for a `kind` name. Container and volume names are
/// the engine's `[a-zA-Z0-9][a-zA-Z0-9_.-]+` (two characters at least); Docker takes
/// almost any network name, hoist the container rule with one character allowed. Either
/// way a valid name is one plain path component: the built-in store files things by name.
pub fn check_name(kind: NameKind, name: &str) -> std::result::Result<(), String> {
    let what = match kind {
        NameKind::Container => "container",
        NameKind::Volume => "volume",
        NameKind::Network => "network",
    };
    let valid_chars =
        name.starts_with(|c: char| c.is_ascii_alphanumeric()) && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if !valid_chars {
        return Err(format!("invalid {what} name {name:?}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"));
    }
    if kind != NameKind::Network && name.len() < 2 {
        return Err(format!("invalid {what} name {name:?}: names must be at least two characters"));
    }
    Ok(())
}

/// Engine names and the keys that become parts of paths (services, secrets and configs
/// under the runtime directory), checked where the file sets them.
fn names(p: &Project, locs: &Locs) -> Result<()> {
    let keys = [
        ("services", p.services.keys().collect::<Vec<_>>()),
        ("networks", p.networks.keys().collect()),
        ("volumes", p.volumes.keys().collect()),
        ("configs", p.configs.keys().collect()),
        ("secrets", p.secrets.keys().collect()),
    ];
    for (kind, keys) in keys {
        for key in keys {
            let loc = if kind == "services" { key.clone() } else { format!("{kind}/{key}") };
            let plain = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
            if !plain || key == "." || key == ".." {
                return Err(err(locs, &loc, format!("{kind}.{key}: invalid name {key:?}: use letters, digits, '.', '_' and '-', and not \".\" or \"..\"")));
            }
        }
    }
    let named = |kind: NameKind, name: &str, loc: &str, key: &str| {
        check_name(kind, name).map_err(|e| err(locs, loc, format!("{key}: {e}")))
    };
    for (name, s) in &p.services {
        if let Some(c) = &s.container_name {
            named(NameKind::Container, c, &format!("{name}/container_name"), &format!("services.{name}.container_name"))?;
        }
        // Legacy files name volumes in the service alone: `<project>_<source>`.
        for v in s.volumes.iter().filter(|v| p.legacy && v.kind == VolumeType::Volume) {
            if let Some(src) = v.source.as_deref().filter(|src| !p.volumes.contains_key(*src)) {
                named(NameKind::Volume, &format!("{}_{src}", p.name), &format!("{name}/volumes"), &format!("services.{name}.volumes"))?;
            }
        }
    }
    for (kind, key, name) in p
        .volumes
        .iter()
        .map(|(k, v)| (NameKind::Volume, ("volumes", k), &v.name))
        .chain(p.networks.iter().map(|(k, n)| (NameKind::Network, ("networks", k), &n.name)))
    {
        let (section, key) = key;
        // At its `name:` when it has one, else at its key (the name is made from it).
        let at_name = format!("{section}/{key}/name");
        let loc = if locs.contains_key(&at_name) { at_name } else { format!("{section}/{key}") };
        named(kind, name, &loc, &format!("{section}.{key}.name"))?;
    }
    Ok(())
}

/// Environment variables Docker would refuse (an empty name or one with `=` at create, a
/// NUL byte at start), refused at load on both backends rather than dropped or failed late.
fn environment(p: &Project, locs: &Locs) -> Result<()> {
    for (name, s) in &p.services {
        for (k, v) in &s.environment {
            let why = if k.is_empty() {
                "has an empty name".to_string()
            } else if k.contains(['=', '\0']) {
                "has '=' or a NUL byte in its name".to_string()
            } else if v.as_deref().is_some_and(|v| v.contains('\0')) {
                "has a NUL byte in its value".to_string()
            } else {
                continue;
            };
            let loc = if locs.contains_key(&format!("{name}/environment")) { format!("{name}/environment") } else { name.clone() };
            return Err(err(locs, &loc, format!("services.{name}.environment: variable {k:?} {why}")));
        }
    }
    Ok(())
}

fn cycles(p: &Project, locs: &Locs) -> Result<()> {
    // 0 = unseen, 1 = on the current path, 2 = done.
    let mut state: HashMap<&str, u8> = HashMap::new();
    fn visit<'a>(p: &'a Project, n: &'a str, state: &mut HashMap<&'a str, u8>, path: &mut Vec<&'a str>) -> Option<Vec<String>> {
        match state.get(n) {
            Some(2) => return None,
            Some(1) => {
                let start = path.iter().position(|x| *x == n).unwrap_or(0);
                let mut cycle: Vec<String> = path[start..].iter().map(|s| s.to_string()).collect();
                cycle.push(n.to_string());
                return Some(cycle);
            }
            _ => {}
        }
        state.insert(n, 1);
        path.push(n);
        let (key, _) = p.services.get_key_value(n)?;
        for (dep, _) in edges(p, key) {
            if let Some((k, _)) = p.services.get_key_value(&dep)
                && let Some(c) = visit(p, k, state, path)
            {
                return Some(c);
            }
        }
        path.pop();
        state.insert(n, 2);
        None
    }
    for name in p.services.keys() {
        let mut path = Vec::new();
        if let Some(c) = visit(p, name, &mut state, &mut path) {
            return Err(err(locs, &c[0], format!("dependency cycle: {}", c.join(" -> "))));
        }
    }
    Ok(())
}

fn duplicate_ports(p: &Project, locs: &Locs) -> Result<()> {
    let mut seen: HashMap<(String, u16, String), &str> = HashMap::new();
    for (name, s) in &p.services {
        for port in &s.ports {
            let Some(h) = port.published else { continue };
            let key = (port.host_ip.clone().unwrap_or_default(), h, port.protocol.clone());
            if let Some(other) = seen.insert(key, name) {
                return Err(err(
                    locs,
                    &format!("{name}/ports"),
                    format!("host port {h}/{} is published twice (services {other:?} and {name:?})", port.protocol),
                ));
            }
        }
    }
    Ok(())
}
