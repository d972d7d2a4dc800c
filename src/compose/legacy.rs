//! Legacy (v1) compose files: services at the top level, no `version:`/`services:`.
//! Detected here and rewritten into the `services:` shape the rest of the loader reads.

use super::normalize::{SERVICE_KEYS, TOP_KEYS};
use super::yaml::{Node, Val};

/// True when `root` is a v1 file: a mapping without `services:`/`version:` whose
/// top-level values are all service mappings (each with at least one service key, so a
/// misspelt `servics:` is reported as an unknown key rather than read as a service).
pub fn is_legacy(root: &Node) -> bool {
    let Some(m) = root.as_map() else { return false };
    if m.is_empty() || root.get("services").is_some() || root.get("version").is_some() {
        return false;
    }
    // A file holding only top-level spec keys (networks:, volumes: ...) is not v1.
    if m.iter().all(|(k, _)| TOP_KEYS.contains(&k.key()) || k.key().starts_with("x-")) {
        return false;
    }
    m.iter().all(|(k, v)| {
        k.key().starts_with("x-")
            || v.as_map().is_some_and(|sm| sm.iter().any(|(sk, _)| SERVICE_KEYS.contains(&sk.key()) || sk.key() == "net"))
    })
}

/// Wraps a v1 file's services under `services:`.
pub fn to_services_shape(root: Node) -> Node {
    let key = Node::like(&root, Val::Str("services".into()));
    let at = root.clone();
    Node::like(&at, Val::Map(vec![(key, root)]))
}
