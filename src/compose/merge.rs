//! Merging compose trees the way Docker Compose does: for override files and `extends`.
//! Scalars are replaced, mappings merged, some lists appended (ports, dns, ...), and
//! environment/labels merged by key, volumes by target.

use super::yaml::{Node, Val};

/// Service lists whose entries add up instead of replacing.
const APPENDED: &[&str] = &[
    "ports", "expose", "dns", "dns_search", "dns_opt", "cap_add", "cap_drop", "security_opt", "devices", "tmpfs",
    "group_add", "external_links", "links", "volumes_from", "env_file", "configs", "secrets", "profiles", "device_cgroup_rules",
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
/// a pair of mappings is replaced by `over`.
fn merge_with(base: Node, over: Node, f: &dyn Fn(&str, Node, Node) -> Node) -> Node {
    let (Val::Map(mut bm), Val::Map(om)) = (base.v.clone(), over.v.clone()) else { return over };
    for (k, v) in om {
        if let Some(i) = bm.iter().position(|(bk, _)| bk.key() == k.key()) {
            let old = bm[i].1.clone();
            bm[i].1 = f(k.key(), old, v);
        } else {
            bm.push((k, v));
        }
    }
    Node { v: Val::Map(bm), ..base }
}

/// Recursive mapping merge (scalars and lists replaced).
pub fn merge_maps(base: Node, over: Node) -> Node {
    merge_with(base, over, &|_, b, o| merge_maps(b, o))
}

fn append(base: Node, over: Node) -> Node {
    match (base.v.clone(), over.v.clone()) {
        (Val::Seq(mut b), Val::Seq(o)) => {
            for item in o {
                if !b.iter().any(|x| x.v == item.v) {
                    b.push(item);
                }
            }
            Node { v: Val::Seq(b), ..base }
        }
        _ => over,
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
    match (base.v.clone(), over.v.clone()) {
        (Val::Seq(mut b), Val::Seq(o)) => {
            for item in o {
                let t = volume_target(&item);
                match b.iter().position(|x| t.is_some() && volume_target(x) == t) {
                    Some(i) => b[i] = item,
                    None => b.push(item),
                }
            }
            Node { v: Val::Seq(b), ..base }
        }
        _ => over,
    }
}

/// Makes a service's relative paths (build context, env_file, bind sources) absolute
/// against `dir`: a service extended from another file keeps pointing at that file's
/// neighbours once merged into this project.
pub fn rebase_service(n: Node, dir: &std::path::Path) -> Node {
    let abs = |s: &str| -> String {
        if s.starts_with('.') { super::discover::absolute(dir, std::path::Path::new(s)).display().to_string() } else { s.to_string() }
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
