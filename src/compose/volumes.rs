//! Service `volumes:` entries (short `src:dst:mode` and long form) into `ServiceVolume`s,
//! with bind sources resolved to absolute paths against the project directory.

use std::path::Path;

use super::discover::absolute;
use super::error::Result;
use super::model::{ServiceVolume, VolumeType};
use super::normalize::{boolean, check_keys, map, parse_bytes, text, type_err, Ctx, expand_home};
use super::yaml::{Node, Val};

const MODES: &[&str] = &["ro", "rw", "z", "Z", "nocopy", "shared", "rshared", "slave", "rslave", "private", "rprivate", "cached", "delegated", "consistent"];

fn blank(kind: VolumeType, target: String) -> ServiceVolume {
    ServiceVolume {
        kind,
        source: None,
        target,
        read_only: false,
        create_host_path: false,
        options: vec![],
        nocopy: false,
        tmpfs_size: None,
        tmpfs_mode: None,
    }
}

/// Parses a short-syntax volume; `project_dir` resolves relative bind sources.
pub fn parse_short(spec: &str, project_dir: &Path) -> std::result::Result<ServiceVolume, String> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (source, target, mode) = match parts.as_slice() {
        [t] => (None, *t, None),
        [s, m] if s.starts_with('/') && m.split(',').all(|x| MODES.contains(&x)) => (None, *s, Some(*m)),
        [s, t] => (Some(*s), *t, None),
        [s, t, m] => (Some(*s), *t, Some(*m)),
        _ => return Err(format!("invalid volume spec {spec:?}: too many ':'")),
    };
    if target.is_empty() || source == Some("") || mode == Some("") {
        return Err(format!("invalid volume spec {spec:?}: empty part"));
    }
    if !target.starts_with('/') {
        return Err(format!("invalid volume spec {spec:?}: container path {target:?} must be absolute"));
    }
    let mut v = match source {
        None => blank(VolumeType::Volume, target.to_string()),
        Some(s) if s.starts_with(['/', '.', '~']) => {
            let mut v = blank(VolumeType::Bind, target.to_string());
            v.source = Some(absolute(project_dir, Path::new(&expand_home(s))).display().to_string());
            v.create_host_path = true;
            v
        }
        Some(s) => {
            if !s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')) {
                return Err(format!("invalid volume spec {spec:?}: {s:?} is neither a path nor a volume name"));
            }
            let mut v = blank(VolumeType::Volume, target.to_string());
            v.source = Some(s.to_string());
            v
        }
    };
    for m in mode.map(|m| m.split(',').collect::<Vec<_>>()).unwrap_or_default() {
        match m {
            "ro" => v.read_only = true,
            "rw" => {}
            "nocopy" => v.nocopy = true,
            m if MODES.contains(&m) => v.options.push(m.to_string()),
            other => return Err(format!("invalid volume spec {spec:?}: unknown mode {other:?}")),
        }
    }
    Ok(v)
}

pub fn service_volumes(cx: &mut Ctx, n: &Node, what: &str) -> Result<Vec<ServiceVolume>> {
    let srcs = cx.srcs;
    let Val::Seq(items) = &n.v else { return Err(type_err(srcs, n, what, "a list")) };
    let mut out = Vec::new();
    for item in items {
        if item.as_map().is_some() {
            out.push(long(cx, item, what)?);
        } else {
            let spec = text(srcs, item, what)?;
            out.push(parse_short(&spec, cx.project_dir).map_err(|e| srcs.err(item, format!("{what}: {e}")))?);
        }
    }
    Ok(out)
}

fn long(cx: &Ctx, n: &Node, what: &str) -> Result<ServiceVolume> {
    let srcs = cx.srcs;
    let m = map(srcs, n, what)?;
    check_keys(srcs, m, &["type", "source", "target", "read_only", "consistency", "bind", "volume", "tmpfs", "image"], what)?;
    let kind_node = n.get("type").ok_or_else(|| srcs.err(n, format!("{what}: `type` is required")))?;
    let kind = match text(srcs, kind_node, what)?.as_str() {
        "bind" => VolumeType::Bind,
        "volume" => VolumeType::Volume,
        "tmpfs" => VolumeType::Tmpfs,
        "npipe" => VolumeType::Npipe,
        "cluster" => VolumeType::Cluster,
        "image" => VolumeType::Image,
        other => return Err(srcs.err(kind_node, format!("{what}: unknown volume type {other:?}"))),
    };
    let target_node = n.get("target").ok_or_else(|| srcs.err(n, format!("{what}: `target` is required")))?;
    let target = text(srcs, target_node, what)?;
    if !target.starts_with('/') {
        return Err(srcs.err(target_node, format!("{what}: container path {target:?} must be absolute")));
    }
    let mut v = blank(kind, target);
    if let Some(s) = n.get("source") {
        let s = text(srcs, s, what)?;
        v.source = Some(if kind == VolumeType::Bind {
            absolute(cx.project_dir, Path::new(&expand_home(&s))).display().to_string()
        } else {
            s
        });
    }
    if kind == VolumeType::Bind && v.source.is_none() {
        return Err(srcs.err(n, format!("{what}: a bind mount needs `source`")));
    }
    if let Some(r) = n.get("read_only") {
        v.read_only = boolean(srcs, r, what)?;
    }
    if let Some(b) = n.get("bind") {
        check_keys(srcs, map(srcs, b, what)?, &["propagation", "create_host_path", "recursive", "selinux"], what)?;
        if let Some(p) = b.get("propagation") {
            v.options.push(text(srcs, p, what)?);
        }
        if let Some(s) = b.get("selinux") {
            v.options.push(text(srcs, s, what)?);
        }
        if let Some(c) = b.get("create_host_path") {
            v.create_host_path = boolean(srcs, c, what)?;
        }
    }
    if let Some(vo) = n.get("volume") {
        check_keys(srcs, map(srcs, vo, what)?, &["labels", "nocopy", "subpath"], what)?;
        if let Some(c) = vo.get("nocopy") {
            v.nocopy = boolean(srcs, c, what)?;
        }
    }
    if let Some(t) = n.get("tmpfs") {
        check_keys(srcs, map(srcs, t, what)?, &["size", "mode"], what)?;
        if let Some(s) = t.get("size") {
            v.tmpfs_size = Some(match &s.v {
                Val::Int(i) if *i >= 0 => *i as u64,
                _ => s.scalar_text().and_then(|x| parse_bytes(&x)).ok_or_else(|| srcs.err(s, format!("{what}: invalid tmpfs size")))?,
            });
        }
        if let Some(m) = t.get("mode") {
            v.tmpfs_mode = Some(super::normalize::file_mode(srcs, m, what)?);
        }
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_forms() {
        let d = Path::new("/proj");
        let v = parse_short("/data", d).unwrap();
        assert_eq!((v.kind, v.source, v.target.as_str()), (VolumeType::Volume, None, "/data"));
        let v = parse_short("db:/var/lib:ro", d).unwrap();
        assert_eq!((v.kind, v.source.as_deref(), v.read_only), (VolumeType::Volume, Some("db"), true));
        let v = parse_short("./x:/y:Z", d).unwrap();
        assert_eq!((v.kind, v.source.as_deref(), v.create_host_path), (VolumeType::Bind, Some("/proj/x"), true));
        assert_eq!(v.options, vec!["Z".to_string()]);
        assert_eq!(parse_short("../up:/y", d).unwrap().source.as_deref(), Some("/up"));
        assert!(parse_short("/abs:/y:nocopy", d).unwrap().nocopy);
        assert!(parse_short("~/x:/y", d).unwrap().source.unwrap().starts_with('/'));
    }

    #[test]
    fn invalid_specs() {
        for bad in ["x:rel", "a::/b", ":/b", "/a:/b:bogus", "a:/b:c:d", "/a:/b:"] {
            assert!(parse_short(bad, Path::new("/p")).is_err(), "{bad}");
        }
    }
}
