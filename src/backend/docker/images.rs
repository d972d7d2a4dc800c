//! Images on the engine: inspect (for the plan's image config), pull with per-layer
//! progress, `docker import` of a rootfs tarball, list, tag and remove.

use bollard::Docker;
use bollard::query_parameters::{CreateImageOptions, ListImagesOptions, RemoveImageOptions, TagImageOptions};
use futures::StreamExt;
use tokio::io::AsyncReadExt;

use super::networks::sorted;
use super::{engine_err, status_of};
use crate::backend::{BackendError, ImageConfig, ImageSummary, ImportOptions, ProgressEvent, ProgressFn, Result};

pub async fn config(docker: &Docker, reference: &str) -> Result<Option<ImageConfig>> {
    let img = match docker.inspect_image(reference).await {
        Ok(i) => i,
        Err(e) if status_of(&e) == Some(404) => return Ok(None),
        Err(e) => return Err(engine_err(format!("inspecting image {reference}"), e)),
    };
    let c = img.config.unwrap_or_default();
    let mut exposed = c.exposed_ports.unwrap_or_default();
    exposed.sort();
    let mut volumes = c.volumes.unwrap_or_default();
    volumes.sort();
    let platform = format!("{}/{}", img.os.as_deref().unwrap_or("linux"), img.architecture.as_deref().unwrap_or_default());
    Ok(Some(ImageConfig {
        id: img.id.unwrap_or_default(),
        platform,
        env: c.env.unwrap_or_default(),
        cmd: c.cmd,
        entrypoint: c.entrypoint,
        working_dir: c.working_dir.filter(|w| !w.is_empty()),
        user: c.user.filter(|u| !u.is_empty()),
        exposed_ports: exposed,
        volumes,
        labels: sorted(c.labels.unwrap_or_default()),
        stop_signal: c.stop_signal,
        // The engine applies the image's healthcheck itself.
        healthcheck: None,
    }))
}

/// `repo[:tag]` split the way the engine wants it (a digest stays in the repo part).
pub(super) fn split_reference(reference: &str) -> (String, Option<String>) {
    if reference.contains('@') {
        return (reference.to_string(), None);
    }
    let slash = reference.rfind('/').map_or(0, |i| i + 1);
    match reference[slash..].rfind(':') {
        Some(i) => (reference[..slash + i].to_string(), Some(reference[slash + i + 1..].to_string())),
        None => (reference.to_string(), None),
    }
}

pub async fn pull(docker: &Docker, reference: &str, progress: ProgressFn) -> Result<()> {
    let (repo, tag) = split_reference(reference);
    let opts = CreateImageOptions {
        from_image: Some(repo),
        tag: Some(tag.unwrap_or_else(|| "latest".into())),
        ..Default::default()
    };
    let mut stream = docker.create_image(Some(opts), None, None);
    while let Some(item) = stream.next().await {
        let info = item.map_err(|e| match status_of(&e) {
            Some(404) => BackendError::ImageNotFound(reference.to_string()),
            _ => engine_err(format!("pulling {reference}"), e),
        })?;
        if let Some(err) = info.error_detail.and_then(|d| d.message) {
            return Err(BackendError::Engine(format!("pulling {reference}: {err}")));
        }
        let detail = info.progress_detail.unwrap_or_default();
        progress(ProgressEvent {
            id: info.id.unwrap_or_else(|| reference.to_string()),
            status: info.status.unwrap_or_default(),
            current: detail.current.map(|v| v as u64),
            total: detail.total.map(|v| v as u64),
        });
    }
    Ok(())
}

/// `docker import`: the tarball becomes a one-layer image named `reference`.
pub async fn import(docker: &Docker, tarball: &std::path::Path, reference: &str, opts: &ImportOptions) -> Result<String> {
    let file = tokio::fs::File::open(tarball)
        .await
        .map_err(|e| BackendError::io(format!("opening {}", tarball.display()), e))?;
    // Streamed in chunks: root filesystems can be large. State is None after an error.
    let body = futures::stream::unfold(Some(file), |f| async move {
        let mut f = f?;
        let mut buf = vec![0u8; 256 * 1024];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(buf.into()), Some(f)))
            }
            Err(e) => Some((Err(e), None)),
        }
    });
    let (repo, tag) = split_reference(reference);
    let q = CreateImageOptions {
        from_src: Some("-".into()),
        repo: Some(repo),
        tag: Some(tag.unwrap_or_else(|| "latest".into())),
        changes: opts.changes.clone(),
        ..Default::default()
    };
    let mut stream = docker.create_image(Some(q), Some(bollard::body_try_stream(body)), None);
    while let Some(item) = stream.next().await {
        let info = item.map_err(|e| engine_err(format!("importing {}", tarball.display()), e))?;
        if let Some(err) = info.error_detail.and_then(|d| d.message) {
            return Err(BackendError::Engine(format!("importing {}: {err}", tarball.display())));
        }
    }
    let img = docker.inspect_image(reference).await.map_err(|e| engine_err(format!("inspecting {reference}"), e))?;
    Ok(img.id.unwrap_or_default())
}

/// `docker commit`, the engine's: the reference split as the engine wants it, the changes
/// one per line.
pub async fn commit(docker: &Docker, id: &str, opts: &crate::backend::CommitOptions) -> Result<String> {
    let (repo, tag) = match &opts.reference {
        // The tag is after the last `:` that is not part of a registry's `host:port`.
        Some(r) => match r.rsplit_once(':').filter(|(_, t)| !t.contains('/')) {
            Some((repo, tag)) => (Some(repo.to_string()), Some(tag.to_string())),
            None => (Some(r.clone()), None),
        },
        None => (None, None),
    };
    let options = bollard::query_parameters::CommitContainerOptions {
        container: Some(id.to_string()),
        repo,
        tag,
        comment: opts.message.clone(),
        author: opts.author.clone(),
        pause: opts.pause,
        changes: (!opts.changes.is_empty()).then(|| opts.changes.join("\n")),
    };
    let made = docker
        .commit_container(options, bollard::models::ContainerConfig::default())
        .await
        .map_err(|e| super::container_err(id, "committing", e))?;
    Ok(made.id)
}

pub async fn list(docker: &Docker) -> Result<Vec<ImageSummary>> {
    let imgs = docker
        .list_images(Some(ListImagesOptions::default()))
        .await
        .map_err(|e| engine_err("listing images", e))?;
    Ok(imgs
        .into_iter()
        .map(|i| ImageSummary {
            id: i.id,
            tags: i.repo_tags.into_iter().filter(|t| t != "<none>:<none>").collect(),
            size: i.size.max(0) as u64,
            created: chrono::DateTime::from_timestamp(i.created, 0),
        })
        .collect())
}

pub async fn remove(docker: &Docker, reference: &str, force: bool) -> Result<()> {
    let opts = RemoveImageOptions { force, ..Default::default() };
    match docker.remove_image(reference, Some(opts), None).await {
        Ok(_) => Ok(()),
        Err(e) if status_of(&e) == Some(404) => Err(BackendError::ImageNotFound(reference.to_string())),
        Err(e) => Err(engine_err(format!("removing image {reference}"), e)),
    }
}

pub async fn tag(docker: &Docker, source: &str, target: &str) -> Result<()> {
    let (repo, tag) = split_reference(target);
    let opts = TagImageOptions { repo: Some(repo), tag: Some(tag.unwrap_or_else(|| "latest".into())) };
    docker.tag_image(source, Some(opts)).await.map_err(|e| match status_of(&e) {
        Some(404) => BackendError::ImageNotFound(source.to_string()),
        _ => engine_err(format!("tagging {source} as {target}"), e),
    })
}


#[cfg(test)]
mod tests {
    use super::split_reference;

    #[test]
    fn references() {
        assert_eq!(split_reference("busybox"), ("busybox".into(), None));
        assert_eq!(split_reference("busybox:1.36"), ("busybox".into(), Some("1.36".into())));
        assert_eq!(split_reference("localhost:5000/a/b:t"), ("localhost:5000/a/b".into(), Some("t".into())));
        assert_eq!(split_reference("localhost:5000/a"), ("localhost:5000/a".into(), None));
    }
}
