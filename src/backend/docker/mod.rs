//! The Docker backend: drives a Docker engine through bollard, writing the same
//! `com.docker.compose.*` labels Docker Compose does so both tools see the same project.

mod build;
mod containers;
pub(crate) mod convert;
mod events;
mod exec;
mod files;
mod images;
pub(crate) mod logs;
mod mac;
mod networks;
mod volumes;

use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use bollard::Docker;
use bollard::errors::Error as DockerError;

use crate::backend::{
    Backend, BackendError, BuildSpec, ContainerSpec, ContainerSummary, EventOptions, EventStreamBox, ExecSpec, ImageConfig,
    ImageSummary, ImportOptions, LogOptions, LogStreamBox, NetworkSpec, NetworkSummary, ProcessList, ProgressFn, Result,
    StatsSample, VolumeSpec, VolumeSummary,
};

/// A connection to one Docker engine.
pub struct DockerBackend {
    docker: Docker,
    /// Engine version, fetched once on demand (`version()` is synchronous).
    version: OnceLock<String>,
}

impl DockerBackend {
    /// Connects to `$DOCKER_HOST`, or the default unix socket. No request is made yet.
    pub fn new() -> Result<Self> {
        let docker = match std::env::var("DOCKER_HOST") {
            Ok(host) if !host.is_empty() => Docker::connect_with_defaults(),
            _ => Docker::connect_with_unix_defaults(),
        }
        .map_err(|e| BackendError::Engine(format!("cannot connect to the Docker engine: {e}")))?;
        // Long operations (pulls, follow logs, wait) must not hit bollard's 2-minute default.
        let docker = docker.with_timeout(Duration::from_secs(3600 * 24));
        Ok(DockerBackend { docker, version: OnceLock::new() })
    }

    /// The backend as the CLI uses it.
    pub fn connect() -> anyhow::Result<Arc<dyn Backend>> {
        Ok(Arc::new(Self::new()?))
    }

    pub(crate) fn client(&self) -> &Docker {
        &self.docker
    }
}

/// HTTP status of an engine error, if it was one.
/// Whether the engine's API version (`1.41`) is `min` or later.
pub(crate) fn api_at_least(api_version: &str, min: (u32, u32)) -> bool {
    let mut parts = api_version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0)) >= min
}

pub(crate) fn status_of(e: &DockerError) -> Option<u16> {
    match e {
        DockerError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

/// Engine error with what we were doing; 404 on a container becomes `ContainerNotFound`.
pub(crate) fn engine_err(context: impl std::fmt::Display, e: DockerError) -> BackendError {
    match &e {
        DockerError::DockerResponseServerError { message, .. } => BackendError::Engine(format!("{context}: {message}")),
        _ => BackendError::Engine(format!("{context}: {e}")),
    }
}

pub(crate) fn container_err(id: &str, context: &str, e: DockerError) -> BackendError {
    if status_of(&e) == Some(404) {
        BackendError::ContainerNotFound(id.to_string())
    } else {
        engine_err(format!("{context} {id}"), e)
    }
}

/// Parses an engine timestamp whatever type bollard gives it (string or chrono), ignoring
/// Docker's zero time `0001-01-01T00:00:00Z` which means "never".
pub(crate) fn parse_time<T: serde::Serialize>(t: &T) -> Option<chrono::DateTime<chrono::Utc>> {
    let v = serde_json::to_value(t).ok()?;
    let s = v.as_str()?;
    let dt = chrono::DateTime::parse_from_rfc3339(s).ok()?.with_timezone(&chrono::Utc);
    (chrono::Datelike::year(&dt) > 1).then_some(dt)
}

#[async_trait]
impl Backend for DockerBackend {
    fn name(&self) -> &'static str {
        "docker"
    }

    async fn list_containers(&self, project: &str, all: bool) -> Result<Vec<ContainerSummary>> {
        self.list_by_label(Some(project), all).await
    }
    async fn list_all_projects(&self) -> Result<Vec<ContainerSummary>> {
        self.list_by_label(None, true).await
    }
    async fn create_container(&self, spec: &ContainerSpec, replace: Option<&ContainerSummary>) -> Result<String> {
        self.create(spec, replace).await
    }
    async fn start_container(&self, id: &str) -> Result<()> {
        self.start(id).await
    }
    async fn stop_container(&self, id: &str, timeout: Option<Duration>) -> Result<()> {
        self.stop(id, timeout).await
    }
    async fn kill_container(&self, id: &str, signal: &str) -> Result<()> {
        self.kill(id, signal).await
    }
    async fn remove_container(&self, id: &str, force: bool, volumes: bool) -> Result<()> {
        self.remove(id, force, volumes).await
    }
    async fn rename_container(&self, id: &str, new_name: &str) -> Result<()> {
        self.rename(id, new_name).await
    }
    async fn pause_container(&self, id: &str) -> Result<()> {
        self.docker.pause_container(id).await.map_err(|e| container_err(id, "pausing", e))
    }
    async fn unpause_container(&self, id: &str) -> Result<()> {
        self.docker.unpause_container(id).await.map_err(|e| container_err(id, "unpausing", e))
    }
    async fn inspect_container(&self, id: &str) -> Result<ContainerSummary> {
        self.inspect(id).await
    }
    async fn wait_container(&self, id: &str) -> Result<i32> {
        self.wait(id).await
    }
    async fn logs(&self, containers: &[ContainerSummary], opts: &LogOptions) -> Result<LogStreamBox> {
        Ok(logs::merged(self.docker.clone(), containers, opts))
    }
    async fn exec(&self, id: &str, spec: &ExecSpec) -> Result<i32> {
        exec::exec(&self.docker, id, spec).await
    }
    async fn attach_and_start(&self, id: &str, tty: bool, interactive: bool) -> Result<i32> {
        exec::attach_and_start(&self.docker, id, tty, interactive).await
    }
    async fn top(&self, id: &str) -> Result<ProcessList> {
        self.top_processes(id).await
    }

    async fn ensure_network(&self, spec: &NetworkSpec) -> Result<()> {
        networks::ensure(&self.docker, spec).await
    }
    async fn remove_network(&self, name: &str) -> Result<()> {
        networks::remove(&self.docker, name).await
    }
    async fn list_networks(&self, project: &str) -> Result<Vec<NetworkSummary>> {
        networks::list(&self.docker, project).await
    }

    async fn ensure_volume(&self, spec: &VolumeSpec) -> Result<()> {
        volumes::ensure(&self.docker, spec).await
    }
    async fn remove_volume(&self, name: &str) -> Result<()> {
        volumes::remove(&self.docker, name).await
    }
    async fn list_volumes(&self, project: Option<&str>) -> Result<Vec<VolumeSummary>> {
        volumes::list(&self.docker, project).await
    }

    async fn image_config(&self, reference: &str) -> Result<Option<ImageConfig>> {
        images::config(&self.docker, reference).await
    }
    async fn pull_image(&self, reference: &str, progress: ProgressFn) -> Result<()> {
        images::pull(&self.docker, reference, progress).await
    }
    async fn import_image(&self, tarball: &Path, reference: &str, opts: &ImportOptions) -> Result<String> {
        images::import(&self.docker, tarball, reference, opts).await
    }
    async fn list_images(&self) -> Result<Vec<ImageSummary>> {
        images::list(&self.docker).await
    }
    async fn remove_image(&self, reference: &str, force: bool) -> Result<()> {
        images::remove(&self.docker, reference, force).await
    }
    async fn tag_image(&self, source: &str, target: &str) -> Result<()> {
        images::tag(&self.docker, source, target).await
    }
    async fn build_image(&self, spec: &BuildSpec, progress: ProgressFn) -> Result<String> {
        build::build(&self.docker, spec, progress).await
    }
    async fn push_image(&self, reference: &str, progress: ProgressFn) -> Result<()> {
        build::push(&self.docker, reference, progress).await
    }
    async fn load_images(&self, archive: &Path) -> Result<Vec<String>> {
        build::load(&self.docker, archive).await
    }

    fn version(&self) -> String {
        if let Some(v) = self.version.get() {
            return v.clone();
        }
        // `version()` is sync; ask the engine only where blocking a worker is allowed.
        let fetched = tokio::runtime::Handle::try_current().ok().and_then(|h| {
            (h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread).then(|| {
                tokio::task::block_in_place(|| h.block_on(self.docker.version())).ok().and_then(|v| v.version)
            })?
        });
        match fetched {
            Some(v) => self.version.get_or_init(|| format!("docker {v}")).clone(),
            None => "docker".to_string(),
        }
    }

    // Events and stats
    async fn events(&self, project: &str, opts: &EventOptions) -> Result<EventStreamBox> {
        Ok(events::events(&self.docker, project, opts))
    }
    async fn stats(&self, id: &str) -> Result<StatsSample> {
        events::stats(&self.docker, id).await
    }

    // Files (cp, watch)
    async fn copy_from_container(&self, id: &str, path: &str, follow_link: bool) -> Result<crate::backend::archive::TarStream> {
        files::copy_from(&self.docker, id, path, follow_link).await
    }

    async fn copy_to_container(&self, id: &str, dest: &str, archive: crate::backend::archive::TarStream, copy_uid_gid: bool) -> Result<()> {
        files::copy_to(&self.docker, id, dest, archive, copy_uid_gid).await
    }

    async fn is_dir_in_container(&self, id: &str, path: &str) -> Result<Option<bool>> {
        files::is_dir(&self.docker, id, path).await
    }

    async fn remove_from_container(&self, id: &str, paths: &[String]) -> Result<()> {
        files::remove(&self.docker, id, paths).await
    }
    async fn attach(&self, id: &str, opts: &crate::backend::AttachOptions) -> Result<i32> {
        exec::attach(&self.docker, id, opts).await
    }
    async fn commit_container(&self, id: &str, opts: &crate::backend::CommitOptions) -> Result<String> {
        images::commit(&self.docker, id, opts).await
    }
    async fn export_container(&self, id: &str) -> Result<crate::backend::archive::TarStream> {
        files::export(&self.docker, id).await
    }
}
