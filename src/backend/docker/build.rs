//! Image build (the classic builder, context sent as a tar), push to a registry, and
//! `docker load` of saved archives.

use std::collections::HashMap;

use bollard::Docker;
use bollard::query_parameters::{BuildImageOptions, ImportImageOptions, PushImageOptions};
use futures::StreamExt;

use super::images::{split_reference, tag};
use super::{engine_err, status_of};
use crate::backend::{BackendError, BuildSpec, ProgressEvent, ProgressFn, Result};

/// Name the inline Dockerfile gets inside the sent context.
const INLINE_DOCKERFILE: &str = ".hoist-inline.Dockerfile";

/// The build context as an in-memory tar (plus the inline Dockerfile, if any).
fn context_tar(spec: &BuildSpec) -> Result<Vec<u8>> {
    let mut b = tar::Builder::new(Vec::new());
    b.follow_symlinks(false);
    b.append_dir_all(".", &spec.context)
        .map_err(|e| BackendError::io(format!("reading build context {}", spec.context.display()), e))?;
    if let Some(content) = &spec.dockerfile_inline {
        let mut h = tar::Header::new_gnu();
        h.set_size(content.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, INLINE_DOCKERFILE, content.as_bytes())
            .map_err(|e| BackendError::io("adding the inline Dockerfile", e))?;
    }
    b.into_inner().map_err(|e| BackendError::io("packing the build context", e))
}

pub async fn build(docker: &Docker, spec: &BuildSpec, progress: ProgressFn) -> Result<String> {
    let ctx = {
        let spec = spec.clone();
        tokio::task::spawn_blocking(move || context_tar(&spec))
            .await
            .map_err(|e| BackendError::Engine(format!("packing the build context: {e}")))??
    };
    let dockerfile = match &spec.dockerfile_inline {
        Some(_) => INLINE_DOCKERFILE.to_string(),
        None => spec.dockerfile.clone().unwrap_or_else(|| "Dockerfile".into()),
    };
    let opts = BuildImageOptions {
        dockerfile,
        t: spec.tags.first().cloned(),
        nocache: spec.no_cache,
        pull: spec.pull.then(|| "1".to_string()),
        rm: true,
        buildargs: (!spec.args.is_empty()).then(|| spec.args.iter().cloned().collect::<HashMap<_, _>>()),
        labels: (!spec.labels.is_empty()).then(|| spec.labels.clone().into_iter().collect()),
        target: spec.target.clone().unwrap_or_default(),
        ..Default::default()
    };
    let what = spec.tags.first().cloned().unwrap_or_else(|| spec.context.display().to_string());
    let mut id = None;
    let mut stream = docker.build_image(opts, None, Some(bollard::body_full(ctx.into())));
    while let Some(item) = stream.next().await {
        let info = item.map_err(|e| engine_err(format!("building {what}"), e))?;
        if let Some(err) = info.error_detail.and_then(|d| d.message) {
            return Err(BackendError::Engine(format!("building {what}: {err}")));
        }
        if let Some(aux_id) = info.aux.and_then(|a| a.id) {
            id = Some(aux_id);
        }
        if let Some(text) = info.stream.or(info.status) {
            let text = text.trim_end();
            if !text.is_empty() {
                progress(ProgressEvent { id: what.clone(), status: text.to_string(), current: None, total: None });
            }
        }
    }
    for extra in spec.tags.iter().skip(1) {
        tag(docker, &spec.tags[0], extra).await?;
    }
    match (id, spec.tags.first()) {
        (Some(id), _) => Ok(id),
        (None, Some(t)) => {
            let img = docker.inspect_image(t).await.map_err(|e| engine_err(format!("inspecting {t}"), e))?;
            Ok(img.id.unwrap_or_default())
        }
        (None, None) => Err(BackendError::Engine(format!("building {what}: the engine reported no image id"))),
    }
}

pub async fn push(docker: &Docker, reference: &str, progress: ProgressFn) -> Result<()> {
    let (repo, tag) = split_reference(reference);
    let opts = PushImageOptions { tag: Some(tag.unwrap_or_else(|| "latest".into())), ..Default::default() };
    let mut stream = docker.push_image(&repo, Some(opts), None);
    while let Some(item) = stream.next().await {
        let info = item.map_err(|e| match status_of(&e) {
            Some(404) => BackendError::ImageNotFound(reference.to_string()),
            _ => engine_err(format!("pushing {reference}"), e),
        })?;
        if let Some(err) = info.error_detail.and_then(|d| d.message) {
            return Err(BackendError::Engine(format!("pushing {reference}: {err}")));
        }
        let detail = info.progress_detail.unwrap_or_default();
        progress(ProgressEvent {
            id: reference.to_string(),
            status: info.status.unwrap_or_default(),
            current: detail.current.map(|v| v as u64),
            total: detail.total.map(|v| v as u64),
        });
    }
    Ok(())
}

pub async fn load(docker: &Docker, archive: &std::path::Path) -> Result<Vec<String>> {
    let data = tokio::fs::read(archive).await.map_err(|e| BackendError::io(format!("reading {}", archive.display()), e))?;
    let body = futures::stream::iter([Ok::<_, std::io::Error>(bytes_of(data))]);
    let mut stream = docker.import_image_stream(ImportImageOptions::default(), body, None);
    let mut loaded = Vec::new();
    while let Some(item) = stream.next().await {
        let info = item.map_err(|e| engine_err(format!("loading {}", archive.display()), e))?;
        if let Some(err) = info.error_detail.and_then(|d| d.message) {
            return Err(BackendError::Engine(format!("loading {}: {err}", archive.display())));
        }
        // "Loaded image: name:tag" or "Loaded image ID: sha256:..."
        for line in info.stream.iter().flat_map(|s| s.lines()) {
            if let Some(r) = line.strip_prefix("Loaded image: ").or_else(|| line.strip_prefix("Loaded image ID: ")) {
                loaded.push(r.trim().to_string());
            }
        }
    }
    Ok(loaded)
}

/// bollard's byte type without naming its crate.
fn bytes_of<B: From<Vec<u8>>>(v: Vec<u8>) -> B {
    B::from(v)
}
