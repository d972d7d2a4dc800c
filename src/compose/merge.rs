//! Merging compose trees the way Docker Compose does: for override files and `extends`.
//! Scalars are replaced, mappings merged, some lists appended (ports, dns, ...), and
//! environment/labels merged by key, volumes by target.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::discover::{absolute, read_text, MAX_COMPOSE_FILE};
use super::error::Result;
use super::normalize::{check_keys, text};
use super::yaml::{Node, Sources, Val};

/// Service lists whose entries add up instead of replacing.
const APPENDED: &[&str] = &[
    "ports", "expose", "dns", "dns_search", "dns_opt", "cap_add", "cap_drop", "security_opt", "devices", "tmpfs",
    "group_add", "external_links", "links", "volumes_from", "env_file", "label_file", "configs", "secrets", "profiles", "device_cgroup_rules",
];
/// Service keys written as a list of `K=V` or as a mapping: merged by key.
const KEYED: &[&str] = &["environment", "labels", "sysctls", "extra_hosts", "annotations", "depends_on", "networks"];

/// Merges `over` onto `base` for a whole file (top-level keys).
pub fn merge_files(base: Node, over: Node) -> Node {
    merge_with(base, over, &|key, b, o| match key {
        "services" => merge_services(b, o),
        _ => merge_maps(b, o),
    })
}

fn merge_services(base: Node, over: Node) -> Node {
    merge_with(base, over, &|_, b, o| merge_service(b, o))
}

/// Merges one service's override onto its base.
pub fn merge_service(base: Node, over: Node) -> Node {
    merge_with(base, over, &|key, b, o| {
        if APPENDED.contains(&key) {
            append(b, o)
        } else if KEYED.contains(&key) {
            merge_maps(to_map(b, key), to_map(o, key))
        } else if key == "volumes" {
            by_target(b, o)
        } else if matches!(key, "command" | "entrypoint") {
            o
        } else if key == "build" && (b.as_map().is_none() || o.as_map().is_none()) {
            // A string build is the context: merge it as `{context: ...}`.
            merge_maps(build_map(b), build_map(o))
        } else {
            merge_maps(b, o)
        }
    })
}

/// Merges two mappings key by key with `f` for keys present in both; anything that is not
/// a pair of mappings is replaced by `over`. Keys are found through an index: a scan per
/// key made merging two files of n keys cost n².
fn merge_with(base: Node, over: Node, f: &dyn Fn(&str, Node, Node) -> Node) -> Node {
    let (mut bm, om) = match (base.v, over.v) {
        (Val::Map(b), Val::Map(o)) => (b, o),
        (_, v) => return Node { v, ..over },
    };
    // The first of equal keys wins, as a scan from the start would find it.
    let mut index: HashMap<String, usize> = HashMap::with_capacity(bm.len() + om.len());
    for (i, (k, _)) in bm.iter().enumerate() {
        index.entry(k.key().to_string()).or_insert(i);
    }
    for (k, v) in om {
        match index.get(k.key()) {
            Some(&i) => {
                let old = std::mem::replace(&mut bm[i].1, Node::like(&k, Val::Null));
                bm[i].1 = f(k.key(), old, v);
            }
            None => {
                index.insert(k.key().to_string(), bm.len());
                bm.push((k, v));
            }
        }
    }
    Node { v: Val::Map(bm), line: base.line, col: base.col, src: base.src }
}

/// Recursive mapping merge (scalars and lists replaced).
pub fn merge_maps(base: Node, over: Node) -> Node {
    merge_with(base, over, &|_, b, o| merge_maps(b, o))
}

fn append(base: Node, over: Node) -> Node {
    // A lone string (`env_file: a.env`, `dns: 1.1.1.1`) is a list of one, as compose-go's
    // canonical form makes it before merging: both sides' entries are kept.
    let as_list = |n: Node| match n.v {
        Val::Str(_) => Node { v: Val::Seq(vec![n.clone()]), ..n },
        _ => n,
    };
    let (base, over) = (as_list(base), as_list(over));
    match (base.v, over.v) {
        (Val::Seq(mut b), Val::Seq(o)) => {
            // Items equal to one already there are dropped. `Val` has floats and no Hash:
            // its debug text stands for it (equal exactly when the values are, positions
            // of nested nodes included, as `==` compares them).
            let mut seen: HashSet<String> = b.iter().map(|x| format!("{:?}", x.v)).collect();
            for item in o {
                if seen.insert(format!("{:?}", item.v)) {
                    b.push(item);
                }
            }
            Node { v: Val::Seq(b), ..base }
        }
        (_, v) => Node { v, ..over },
    }
}

/// `["K=V", "K2"]` (or `[svc]` for depends_on/networks) as a mapping.
fn to_map(n: Node, key: &str) -> Node {
    let Val::Seq(items) = &n.v else { return n };
    let sep = if key == "extra_hosts" { ':' } else { '=' };
    let entries = items
        .iter()
        .map(|i| {
            let s = i.scalar_text().unwrap_or_default();
            let (k, v) = match (key, s.split_once(sep)) {
                ("depends_on", _) => {
                    let cond = Node::like(i, Val::Str("service_started".into()));
                    let ck = Node::like(i, Val::Str("condition".into()));
                    (s.clone(), Node::like(i, Val::Map(vec![(ck, cond)])))
                }
                ("networks", _) => (s.clone(), Node::like(i, Val::Null)),
                (_, Some((k, v))) => (k.to_string(), Node::like(i, Val::Str(v.to_string()))),
                (_, None) => (s.clone(), Node::like(i, Val::Null)),
            };
            (Node::like(i, Val::Str(k)), v)
        })
        .collect();
    Node { v: Val::Map(entries), ..n }
}

fn build_map(n: Node) -> Node {
    if n.as_map().is_some() {
        return n;
    }
    let k = Node::like(&n, Val::Str("context".into()));
    Node { v: Val::Map(vec![(k, n.clone())]), ..n }
}

/// The container path of a volume entry, short or long form.
fn volume_target(n: &Node) -> Option<String> {
    if let Some(t) = n.get("target") {
        return t.scalar_text();
    }
    let s = n.scalar_text()?;
    let parts: Vec<&str> = s.split(':').collect();
    Some(if parts.len() >= 2 && parts[1].starts_with('/') { parts[1] } else { parts[0] }.to_string())
}

fn by_target(base: Node, over: Node) -> Node {
    match (base.v, over.v) {
        (Val::Seq(mut b), Val::Seq(o)) => {
            // Entry index by target (the first of equal targets, as a scan would find).
            let mut index: HashMap<String, usize> = HashMap::new();
            for (i, x) in b.iter().enumerate() {
                if let Some(t) = volume_target(x) {
                    index.entry(t).or_insert(i);
                }
            }
            for item in o {
                match volume_target(&item) {
                    Some(t) => match index.get(&t) {
                        Some(&i) => b[i] = item,
                        None => {
                            index.insert(t, b.len());
                            b.push(item);
                        }
                    },
                    None => b.push(item),
                }
            }
            Node { v: Val::Seq(b), ..base }
        }
        (_, v) => Node { v, ..over },
    }
}

/// Makes a service's relative paths (build context, env_file, label_file, bind sources) absolute
/// against `dir`: a service extended from another file keeps pointing at that file's
/// neighbours once merged into this project.
pub fn rebase_service(n: Node, dir: &Path) -> Node {
    let abs = |s: &str| -> String {
        if s.starts_with('.') { absolute(dir, Path::new(s)).display().to_string() } else { s.to_string() }
    };
    let rebase_str = |v: &Node| -> Node {
        match &v.v {
            Val::Str(s) => Node { v: Val::Str(abs(s)), ..v.clone() },
            _ => v.clone(),
        }
    };
    let rebase_key = |v: &Node, key: &str| -> Node {
        match &v.v {
            Val::Map(m) => Node {
                v: Val::Map(m.iter().map(|(k, x)| (k.clone(), if k.key() == key { rebase_str(x) } else { x.clone() })).collect()),
                ..v.clone()
            },
            _ => rebase_str(v),
        }
    };
    let Val::Map(m) = &n.v else { return n };
    let entries = m
        .iter()
        .map(|(k, v)| {
            let v = match (k.key(), &v.v) {
                ("build", _) => rebase_key(v, "context"),
                ("env_file", Val::Seq(items)) => Node { v: Val::Seq(items.iter().map(|i| rebase_key(i, "path")).collect()), ..v.clone() },
                ("env_file", _) => rebase_key(v, "path"),
                ("label_file", Val::Seq(items)) => Node { v: Val::Seq(items.iter().map(rebase_str).collect()), ..v.clone() },
                ("label_file", _) => rebase_str(v),
                ("volumes", Val::Seq(items)) => Node {
                    v: Val::Seq(
                        items
                            .iter()
                            .map(|i| match &i.v {
                                Val::Str(s) if s.starts_with('.') => {
                                    let (src, rest) = s.split_once(':').unwrap_or((s, ""));
                                    let joined = if rest.is_empty() { abs(src) } else { format!("{}:{rest}", abs(src)) };
                                    Node { v: Val::Str(joined), ..i.clone() }
                                }
                                Val::Map(_) => rebase_key(i, "source"),
                                _ => i.clone(),
                            })
                            .collect(),
                    ),
                    ..v.clone()
                },
                _ => v.clone(),
            };
            (k.clone(), v)
        })
        .collect();
    Node { v: Val::Map(entries), ..n }
}

/// A services mapping `extends` looks in: the project's own (None) or another file's.
type MapId = Option<PathBuf>;

/// `extends` chains longer than this are refused: no real project comes near, and a
/// chain is resolved recursively.
const MAX_EXTENDS_DEPTH: usize = 64;

/// Reads another file's tree for `extends.file` (shaped and interpolated).
pub type ReadTree<'a> = dyn FnMut(&mut Sources, &Path, String) -> Result<Node> + 'a;

/// Resolves `extends:` (same file, or `file:` relative to the extending file) in the
/// project's `services`, in place. Each service is resolved once and each file read
/// once: resolving every chain from scratch made n services cost n² (a chain n³).
pub fn resolve_extends(root: &mut Node, srcs: &mut Sources, read: &mut ReadTree) -> Result<()> {
    let Val::Map(top) = &mut root.v else { return Ok(()) };
    let Some((_, services)) = top.iter_mut().find(|(k, _)| k.key() == "services") else { return Ok(()) };
    // Anything but a mapping is left as it is, for the type check to name it.
    if !matches!(services.v, Val::Map(_)) {
        return Ok(());
    }
    let Val::Map(entries) = std::mem::replace(&mut services.v, Val::Null) else { unreachable!("checked above") };
    let keys: Vec<Node> = entries.iter().map(|(k, _)| k.clone()).collect();
    let mut ex = Extender { srcs, read, maps: HashMap::new(), done: HashMap::new() };
    ex.add_map(None, entries);
    let mut resolved = Vec::with_capacity(keys.len());
    for k in keys {
        let svc = ex.maps[&None].get(k.key()).cloned().unwrap_or_else(|| Node::like(&k, Val::Null));
        let v = ex.resolve(&None, k.key(), svc, &mut Vec::new())?;
        resolved.push((k, v));
    }
    services.v = Val::Map(resolved);
    Ok(())
}

struct Extender<'a, 'r> {
    srcs: &'a mut Sources,
    read: &'a mut ReadTree<'r>,
    /// The services of each mapping by name.
    maps: HashMap<MapId, HashMap<String, Node>>,
    /// Services resolved so far (those with `extends`).
    done: HashMap<(MapId, String), Node>,
}

impl Extender<'_, '_> {
    fn add_map(&mut self, id: MapId, entries: Vec<(Node, Node)>) {
        let mut by_name = HashMap::with_capacity(entries.len());
        for (k, v) in entries {
            by_name.entry(k.key().to_string()).or_insert(v);
        }
        self.maps.insert(id, by_name);
    }

    /// The services of `path` (read on first use).
    fn load(&mut self, path: &Path, ext: &Node) -> Result<()> {
        if self.maps.contains_key(&Some(path.to_path_buf())) {
            return Ok(());
        }
        let srcs = &*self.srcs;
        let text = read_text(path, MAX_COMPOSE_FILE, |e| srcs.err(ext, format!("extends: cannot read {}: {e}", path.display())))?;
        let tree = (self.read)(self.srcs, path, text)?;
        let entries = match tree.get("services").map(|s| &s.v) {
            Some(Val::Map(m)) => m.clone(),
            _ => vec![],
        };
        self.add_map(Some(path.to_path_buf()), entries);
        Ok(())
    }

    /// Service `name` of mapping `map` (its tree is `svc`) with its `extends` applied.
    /// `stack`: the services being resolved, to name a cycle.
    fn resolve(&mut self, map: &MapId, name: &str, svc: Node, stack: &mut Vec<(MapId, String)>) -> Result<Node> {
        let Some(ext) = svc.get("extends").cloned() else { return Ok(svc) };
        let key = (map.clone(), name.to_string());
        if let Some(n) = self.done.get(&key) {
            return Ok(n.clone());
        }
        let srcs = &*self.srcs;
        let (base_name, file) = match &ext.v {
            Val::Map(m) => {
                check_keys(srcs, m, &["service", "file"], "extends")?;
                let s = ext.get("service").ok_or_else(|| srcs.err(&ext, "extends: `service` is required"))?;
                (text(srcs, s, "extends.service")?, ext.get("file").map(|f| text(srcs, f, "extends.file")).transpose()?)
            }
            _ => (text(srcs, &ext, "extends")?, None),
        };
        let target: MapId = match &file {
            Some(f) => {
                let dir = srcs.path(&ext).parent().map(Path::to_path_buf).unwrap_or_default();
                let path = absolute(&dir, Path::new(f));
                self.load(&path, &ext)?;
                Some(path)
            }
            None => map.clone(),
        };
        let srcs = &*self.srcs;
        let id = (target.clone(), base_name.clone());
        if stack.contains(&id) {
            stack.push(id);
            let names: Vec<&str> = stack.iter().map(|(_, n)| n.as_str()).collect();
            return Err(srcs.err(&ext, format!("extends cycle: {}", names.join(" -> "))));
        }
        if stack.len() >= MAX_EXTENDS_DEPTH {
            return Err(srcs.err(&ext, format!("extends chain is longer than {MAX_EXTENDS_DEPTH} services")));
        }
        let base = self.maps[&target]
            .get(&base_name)
            .ok_or_else(|| srcs.err(&ext, format!("service {name:?} extends undefined service {base_name:?}")))?
            .clone();
        stack.push(id);
        let mut base = self.resolve(&target, &base_name, base, stack)?;
        stack.pop();
        if let Some(dir) = target.as_deref().filter(|_| file.is_some()).and_then(Path::parent) {
            base = rebase_service(base, dir);
        }
        let strip = |n: Node| -> Node {
            match n.v {
                Val::Map(m) => Node { v: Val::Map(m.into_iter().filter(|(k, _)| k.key() != "extends").collect()), ..n },
                v => Node { v, ..n },
            }
        };
        let merged = merge_service(strip(base), strip(svc));
        self.done.insert(key, merged.clone());
        Ok(merged)
    }
}
