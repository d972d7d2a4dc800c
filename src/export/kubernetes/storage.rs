//! Named volumes → PersistentVolumeClaims (one per volume, shared by every pod that
//! mounts it, as a compose volume is); `configs` → ConfigMaps; `secrets` → Secrets.

use base64::Engine;
use indexmap::IndexMap;

use super::objects::{Body, ClaimSpec, Kind, Object, Resources};
use super::{names, Content, Cx, ExportError, Result};
use crate::compose::model::FileObject;

/// What a claim asks for: compose volumes have no size, so a small default the user edits.
pub const CLAIM_SIZE: &str = "1Gi";

pub(super) fn claims(cx: &mut Cx) -> Vec<Object> {
    let mut out = Vec::new();
    let project = cx.project;
    for (key, v) in &project.volumes {
        let subject = format!("volume {key:?}");
        let name = cx.names.volumes[key].clone();
        if v.external {
            cx.warn(&subject, "external", format!("no claim is written: a PersistentVolumeClaim named {name:?} must exist in the namespace"));
            continue;
        }
        if let Some(d) = v.driver.as_deref().filter(|d| *d != "local") {
            cx.warn(&subject, "driver", format!("{d:?} is not kept: the cluster's default StorageClass provisions the claim"));
        }
        if !v.driver_opts.is_empty() {
            cx.warn(&subject, "driver_opts", "not kept: the cluster's default StorageClass provisions the claim");
        }
        let mut metadata = cx.labels(&subject, "labels", cx.part_of(), &v.labels);
        metadata.name = Some(name);
        let resources = Resources { requests: IndexMap::from([("storage".to_string(), CLAIM_SIZE.to_string())]), ..Default::default() };
        out.push(Object::new(Kind::PersistentVolumeClaim, metadata, Body::Claim { spec: ClaimSpec { access_modes: vec!["ReadWriteOnce"], resources } }));
    }
    out
}

pub(super) fn config_maps(cx: &mut Cx, content: &dyn Content) -> Result<Vec<Object>> {
    let mut out = Vec::new();
    let project = cx.project;
    for (key, c) in &project.configs {
        let Some((metadata, bytes)) = file_object(cx, content, "config", key, c, &cx.names.configs[key].clone())? else { continue };
        let (mut data, mut binary_data) = (IndexMap::new(), IndexMap::new());
        match String::from_utf8(bytes) {
            Ok(text) => data.insert(names::data_key(key), text),
            Err(e) => binary_data.insert(names::data_key(key), base64(e.as_bytes())),
        };
        out.push(Object::new(Kind::ConfigMap, metadata, Body::ConfigMap { data, binary_data }));
    }
    Ok(out)
}

pub(super) fn secrets(cx: &mut Cx, content: &dyn Content) -> Result<Vec<Object>> {
    let mut out = Vec::new();
    let project = cx.project;
    for (key, s) in &project.secrets {
        let Some((metadata, bytes)) = file_object(cx, content, "secret", key, s, &cx.names.secrets[key].clone())? else { continue };
        let data = IndexMap::from([(names::data_key(key), base64(&bytes))]);
        out.push(Object::new(Kind::Secret, metadata, Body::Secret { kind: "Opaque", data }));
    }
    Ok(out)
}

/// The metadata and data of a config or secret; None (and a warning) when it is external.
fn file_object(cx: &mut Cx, content: &dyn Content, kind: &str, key: &str, o: &FileObject, name: &str) -> Result<Option<(super::objects::Metadata, Vec<u8>)>> {
    let subject = format!("{kind} {key:?}");
    if o.external {
        let object = if kind == "secret" { "Secret" } else { "ConfigMap" };
        cx.warn(&subject, "external", format!("nothing is written: a {object} named {name:?} with the key {:?} must exist in the namespace", names::data_key(key)));
        return Ok(None);
    }
    let bytes = if let Some(c) = &o.content {
        c.clone().into_bytes()
    } else if let Some(path) = &o.file {
        content.file(path).map_err(|source| ExportError::Read { what: subject.clone(), path: path.clone(), source })?
    } else if let Some(var) = &o.environment {
        content.var(var).ok_or_else(|| ExportError::MissingVariable { what: subject.clone(), var: var.clone() })?.into_bytes()
    } else {
        return Err(ExportError::NoContent { what: subject });
    };
    let mut metadata = cx.labels(&subject, "labels", cx.part_of(), &o.labels);
    metadata.name = Some(name.to_string());
    Ok(Some((metadata, bytes)))
}

fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
