//! `cp` and watch's sync on Docker: the engine's archive API (tar in, tar out); removals
//! run `rm -rf` in the container, as Docker Compose's watch does (the API has no delete).

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::query_parameters::{ContainerArchiveInfoOptions, DownloadFromContainerOptions, UploadToContainerOptions};
use bytes::Bytes;
use futures::StreamExt;

use super::{container_err, engine_err};
use crate::backend::archive::TarStream;
use crate::backend::{BackendError, Result};

/// The engine's archive of `path` as it arrives. The first chunk is awaited here, so a
/// missing path fails before the stream is handed on.
pub async fn copy_from(docker: &Docker, id: &str, path: &str, follow_link: bool) -> Result<TarStream> {
    let path = match follow_link {
        // As `docker cp -L`: the engine's stat names the link's target, in the container.
        true => link_target(docker, id, path).await?.unwrap_or_else(|| path.to_string()),
        false => path.to_string(),
    };
    let opts = DownloadFromContainerOptions { path: path.clone() };
    let mut stream = docker.download_from_container(id, Some(opts));
    let first = match stream.next().await {
        Some(chunk) => chunk.map_err(|e| not_found(id, &path, e))?,
        None => Bytes::new(),
    };
    let rest = stream.map(|chunk| chunk.map_err(std::io::Error::other));
    Ok(Box::pin(futures::stream::once(async move { Ok(first) }).chain(rest)))
}

/// `docker export`: the engine's tar of the container's filesystem, as it arrives (the
/// first chunk awaited, so a missing container fails here).
pub async fn export(docker: &Docker, id: &str) -> Result<TarStream> {
    let mut stream = docker.export_container(id);
    let first = match stream.next().await {
        Some(chunk) => chunk.map_err(|e| container_err(id, "exporting", e))?,
        None => Bytes::new(),
    };
    let rest = stream.map(|chunk| chunk.map_err(std::io::Error::other));
    Ok(Box::pin(futures::stream::once(async move { Ok(first) }).chain(rest)))
}

pub async fn copy_to(docker: &Docker, id: &str, dest: &str, archive: TarStream, copy_uid_gid: bool) -> Result<()> {
    let opts = UploadToContainerOptions { path: dest.to_string(), copy_uidgid: copy_uid_gid.then(|| "1".to_string()), ..Default::default() };
    docker.upload_to_container(id, Some(opts), bollard::body_try_stream(archive)).await.map_err(|e| not_found(id, dest, e))
}

/// Where the symlink at `path` points (absolute, in the container); `None` if no symlink.
async fn link_target(docker: &Docker, id: &str, path: &str) -> Result<Option<String>> {
    let opts = ContainerArchiveInfoOptions { path: path.to_string() };
    let stat = docker.get_container_archive_info(id, Some(opts)).await.map_err(|e| not_found(id, path, e))?;
    Ok((stat.file_mode & MODE_SYMLINK != 0 && !stat.link_target.is_empty()).then_some(stat.link_target))
}

/// Go's `os.ModeDir` and `os.ModeSymlink` in the engine's path stat.
const MODE_DIR: u32 = 1 << 31;
const MODE_SYMLINK: u32 = 1 << 27;

pub async fn is_dir(docker: &Docker, id: &str, path: &str) -> Result<Option<bool>> {
    let mut path = path.to_string();
    // The engine stats the link itself; follow it once, as `docker cp` does.
    for _ in 0..2 {
        let opts = ContainerArchiveInfoOptions { path: path.clone() };
        let stat = match docker.get_container_archive_info(id, Some(opts)).await {
            Ok(s) => s,
            Err(e) if super::status_of(&e) == Some(404) && !e.to_string().contains("No such container") => return Ok(None),
            Err(e) => return Err(not_found(id, &path, e)),
        };
        if stat.file_mode & MODE_SYMLINK == 0 || stat.link_target.is_empty() {
            return Ok(Some(stat.file_mode & MODE_DIR != 0));
        }
        path = if stat.link_target.starts_with('/') {
            stat.link_target
        } else {
            let parent = path.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
            format!("{parent}/{}", stat.link_target)
        };
    }
    Ok(Some(false))
}

pub async fn remove(docker: &Docker, id: &str, paths: &[String]) -> Result<()> {
    if paths.is_empty() {
        return Ok(());
    }
    let mut cmd = vec!["rm".to_string(), "-rf".into(), "--".into()];
    cmd.extend(paths.iter().cloned());
    let opts = CreateExecOptions { attach_stdout: Some(true), attach_stderr: Some(true), cmd: Some(cmd), ..Default::default() };
    let exec = docker.create_exec(id, opts).await.map_err(|e| container_err(id, "exec in", e))?;
    let mut said = String::new();
    if let StartExecResults::Attached { mut output, .. } = docker.start_exec(&exec.id, None).await.map_err(|e| container_err(id, "exec in", e))? {
        while let Some(Ok(item)) = output.next().await {
            if let LogOutput::StdErr { message } | LogOutput::StdOut { message } = item {
                said.push_str(&String::from_utf8_lossy(&message));
            }
        }
    }
    let code = docker.inspect_exec(&exec.id).await.map_err(|e| engine_err("inspecting exec", e))?.exit_code.unwrap_or(0);
    if code != 0 {
        return Err(BackendError::Engine(format!("removing {} in {id}: rm exited with {code}: {}", paths.join(", "), said.trim())));
    }
    Ok(())
}

/// A 404 of the archive API is about the path as often as the container.
fn not_found(id: &str, path: &str, e: bollard::errors::Error) -> BackendError {
    match &e {
        bollard::errors::Error::DockerResponseServerError { status_code: 404, message } if !message.contains("No such container") => {
            BackendError::Engine(format!("container {id}: {path}: {message}"))
        }
        _ => container_err(id, &format!("copying {path} in"), e),
    }
}
