//! `convert --to kubernetes`: the normalized project as Kubernetes objects, kompose-like.
//! Pure but for reading what `configs`/`secrets` name (`Content`); whatever does not map
//! is reported as a `Warning` naming the service and the key, never dropped in silence.

mod names;
mod network;
pub mod objects;
mod pod;
mod storage;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;

use crate::compose::model::{Project, Service};
pub use objects::{Kind, Object};

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{first} and {second} both become the Kubernetes {kind} name {name:?}: rename one of them")]
    NameClash { kind: &'static str, first: String, second: String, name: String },
    #[error("{what}: no Kubernetes name can be made from {name:?} (it needs a letter or a digit)")]
    BadName { what: String, name: String },
    #[error("{what}: cannot read {}: {source}", path.display())]
    Read {
        what: String,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{what}: the environment variable {var:?} is not set")]
    MissingVariable { what: String, var: String },
    #[error("{what}: it has no file, content or environment to take its data from")]
    NoContent { what: String },
    #[error("writing {kind:?} {name:?} as YAML: {message}")]
    Yaml { kind: Kind, name: String, message: String },
}

pub type Result<T> = std::result::Result<T, ExportError>;

/// Something of the compose file that Kubernetes cannot express (or expresses differently).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// `service "web"`, `volume "data"`, `config "nginx"`, `secret "token"`.
    pub subject: String,
    /// The compose key, as written (`links`, `deploy.update_config`).
    pub key: String,
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.subject, self.key, self.message)
    }
}

/// Where the data of `configs` and `secrets` comes from: their `file:` and `environment:`.
pub trait Content {
    fn file(&self, path: &Path) -> io::Result<Vec<u8>>;
    fn var(&self, name: &str) -> Option<String>;
}

/// Files from disk; variables from the project's environment (the process's and `.env`).
pub struct HostContent {
    pub env: IndexMap<String, String>,
}

impl Content for HostContent {
    fn file(&self, path: &Path) -> io::Result<Vec<u8>> {
        std::fs::read(path)
    }

    fn var(&self, name: &str) -> Option<String> {
        self.env.get(name).cloned()
    }
}

/// The objects of a project, in the order `kubectl apply` best takes them (data and
/// claims before the workloads that mount them), and what did not map.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifests {
    pub objects: Vec<Object>,
    pub warnings: Vec<Warning>,
}

impl Manifests {
    /// One YAML stream, `---` between documents.
    pub fn to_yaml(&self) -> Result<String> {
        let docs = self.objects.iter().map(object_yaml).collect::<Result<Vec<_>>>()?;
        Ok(docs.join("---\n"))
    }

    /// One file per object: `(<name>-<kind>.yaml, its YAML)`.
    pub fn files(&self) -> Result<Vec<(String, String)>> {
        self.objects.iter().map(|o| Ok((format!("{}-{}.yaml", o.name(), o.kind.file_word()), object_yaml(o)?))).collect()
    }
}

pub fn object_yaml(o: &Object) -> Result<String> {
    serde_saphyr::to_string(o).map_err(|e| ExportError::Yaml { kind: o.kind, name: o.name().to_string(), message: e.to_string() })
}

/// The whole project as Kubernetes objects.
pub fn convert(project: &Project, content: &dyn Content) -> Result<Manifests> {
    let ports: IndexMap<&str, network::ServicePorts> = project.services.iter().map(|(k, s)| (k.as_str(), network::ports(s))).collect();
    let names = Names::new(project, &ports)?;
    let mut cx = Cx { project, names, ports, warnings: Vec::new() };
    let mut objects = storage::config_maps(&mut cx, content)?;
    objects.extend(storage::secrets(&mut cx, content)?);
    objects.extend(storage::claims(&mut cx));
    for (key, svc) in &project.services {
        let subject = service_subject(key);
        for (k, message) in cx.ports[key.as_str()].warnings.clone() {
            cx.warn(&subject, k, message);
        }
        let meta = cx.labels(&subject, "labels", cx.app_labels(key), &svc.labels);
        objects.extend(network::services(&cx, key, &meta));
        objects.push(pod::workload(&mut cx, key, svc, &meta));
    }
    Ok(Manifests { objects, warnings: cx.warnings })
}

/// What the converters share: the project, the Kubernetes name of everything, the ports
/// of each service, and the warnings so far.
struct Cx<'a> {
    project: &'a Project,
    names: Names,
    ports: IndexMap<&'a str, network::ServicePorts>,
    warnings: Vec<Warning>,
}

impl Cx<'_> {
    fn warn(&mut self, subject: &str, key: &str, message: impl Into<String>) {
        self.warnings.push(Warning { subject: subject.to_string(), key: key.to_string(), message: message.into() });
    }

    /// `app.kubernetes.io/name` and `part-of`: what selectors match a service's pods by.
    fn app_labels(&self, service: &str) -> IndexMap<String, String> {
        let mut l = self.part_of();
        l.shift_insert(0, "app.kubernetes.io/name".into(), self.names.services[service].clone());
        l
    }

    fn part_of(&self) -> IndexMap<String, String> {
        let p = &self.project.name;
        let value = if names::valid_label_value(p) { p.clone() } else { names::dns_label(p).unwrap_or_default() };
        IndexMap::from([("app.kubernetes.io/part-of".to_string(), value)])
    }

    /// `base` plus the compose `labels`: those Kubernetes cannot take as labels (values with
    /// spaces, longer than 63) become annotations; keys it cannot take at all are warned about.
    fn labels(&mut self, subject: &str, key: &str, base: IndexMap<String, String>, compose: &IndexMap<String, String>) -> objects::Metadata {
        let mut m = objects::Metadata { labels: base, ..Default::default() };
        for (k, v) in compose {
            if let Some(ours) = m.labels.get(k) {
                if ours != v {
                    self.warn(subject, key, format!("{k}={v:?} is not set: hoist sets {k}={ours:?} (selectors use it)"));
                }
            } else if !names::valid_key(k) {
                self.warn(subject, key, format!("{k:?} is not a valid Kubernetes label or annotation key: dropped"));
            } else if names::valid_label_value(v) {
                m.labels.insert(k.clone(), v.clone());
            } else {
                m.annotations.insert(k.clone(), v.clone());
            }
        }
        m
    }
}

fn service_subject(key: &str) -> String {
    format!("service {key:?}")
}

/// The Kubernetes name of every compose service, volume, config and secret, checked for
/// clashes (`web_a` and `web-a` would both be `web-a`).
struct Names {
    services: IndexMap<String, String>,
    /// Services with published ports: the name of their LoadBalancer Service.
    public: IndexMap<String, String>,
    volumes: IndexMap<String, String>,
    configs: IndexMap<String, String>,
    secrets: IndexMap<String, String>,
}

impl Names {
    fn new(p: &Project, ports: &IndexMap<&str, network::ServicePorts>) -> Result<Names> {
        let mut taken: IndexMap<String, String> = IndexMap::new();
        let claim = |kind: &'static str, name: String, owner: String, taken: &mut IndexMap<String, String>| -> Result<String> {
            match taken.get(&format!("{kind}/{name}")) {
                Some(first) => Err(ExportError::NameClash { kind, first: first.clone(), second: owner, name }),
                None => {
                    taken.insert(format!("{kind}/{name}"), owner);
                    Ok(name)
                }
            }
        };
        let bad = |what: String, name: &str| ExportError::BadName { what, name: name.to_string() };
        let mut n = Names { services: IndexMap::new(), public: IndexMap::new(), volumes: IndexMap::new(), configs: IndexMap::new(), secrets: IndexMap::new() };
        for key in p.services.keys() {
            let what = service_subject(key);
            let name = names::service_label(key).ok_or_else(|| bad(what.clone(), key))?;
            n.services.insert(key.clone(), claim("Service", name, what, &mut taken)?);
        }
        for key in p.services.keys() {
            if !ports[key.as_str()].public.is_empty() {
                let name = names::suffixed(&n.services[key], "public");
                n.public.insert(key.clone(), claim("Service", name, format!("the published ports of service {key:?}"), &mut taken)?);
            }
        }
        for (key, v) in &p.volumes {
            let what = format!("volume {key:?}");
            let source = object_name(&p.name, key, &v.name, v.external);
            let name = names::dns_label(source).ok_or_else(|| bad(what.clone(), source))?;
            n.volumes.insert(key.clone(), claim("PersistentVolumeClaim", name, what, &mut taken)?);
        }
        for (kind, objects, out) in [("ConfigMap", &p.configs, &mut n.configs), ("Secret", &p.secrets, &mut n.secrets)] {
            for (key, o) in objects {
                let what = format!("{} {key:?}", if kind == "Secret" { "secret" } else { "config" });
                let source = object_name(&p.name, key, &o.name, o.external);
                let name = names::dns_label(source).ok_or_else(|| bad(what.clone(), source))?;
                out.insert(key.clone(), claim(kind, name, what, &mut taken)?);
            }
        }
        Ok(n)
    }
}

/// What a volume, config or secret is called in the cluster: its compose key (the
/// namespace plays the project's part), or its own name when external or named explicitly.
fn object_name<'a>(project: &str, key: &'a str, name: &'a str, external: bool) -> &'a str {
    if external || name != format!("{project}_{key}") { name } else { key }
}

/// Kubernetes expands `$(VAR)` in command, args and env values and reads `$$` as `$`:
/// doubling each `$` that comes before `(` or `$` keeps the text as the compose file has it.
fn escape_refs(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '$' && matches!(chars.peek(), Some('(' | '$')) {
            out.push('$');
        }
    }
    out
}

/// The number of whole seconds a compose duration lasts, rounded up.
fn seconds(d: crate::compose::model::Duration) -> u64 {
    d.0.as_secs() + u64::from(d.0.subsec_nanos() > 0)
}

/// Whether a service mounts a named volume (then it becomes a StatefulSet).
fn has_claims(svc: &Service) -> bool {
    svc.volumes.iter().any(|v| v.kind == crate::compose::model::VolumeType::Volume && v.source.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_escaped() {
        assert_eq!(escape_refs("echo $HOME $(date) $$ $$("), "echo $HOME $$(date) $$$ $$$$(");
        assert_eq!(seconds("1500ms".parse().unwrap()), 2);
        assert_eq!(seconds("1m".parse().unwrap()), 60);
    }
}
