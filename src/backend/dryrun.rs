//! `--dry-run`: any backend, reading as it does and changing nothing. What a command
//! would create, start, stop or remove is answered as done (the containers it would make
//! are remembered, running and healthy, so the rest of the plan goes on), and the
//! progress lines say `DRY-RUN MODE -`, as Docker Compose's dry run does.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use super::*;
use crate::output::progress::{Progress, ProgressRef};

pub struct DryRun {
    inner: Arc<dyn Backend>,
    /// Containers "created" by this run, by the id they were given.
    made: Mutex<HashMap<String, ContainerSummary>>,
}

impl DryRun {
    pub fn wrap(inner: Arc<dyn Backend>) -> Arc<dyn Backend> {
        Arc::new(DryRun { inner, made: Mutex::default() })
    }

    fn made(&self, id: &str) -> Option<ContainerSummary> {
        self.made.lock().ok()?.get(id).cloned()
    }

    fn set_state(&self, id: &str, state: ContainerState) {
        if let Ok(mut made) = self.made.lock()
            && let Some(c) = made.get_mut(id)
        {
            c.state = state;
        }
    }
}

/// Progress lines marked as a dry run's.
pub struct DryRunProgress(pub ProgressRef);

impl Progress for DryRunProgress {
    fn event(&self, kind: &str, name: &str, status: &str) {
        self.0.event(&format!("DRY-RUN MODE -  {kind}"), name, status);
    }
    fn warn(&self, message: &str) {
        self.0.warn(message);
    }
}

#[async_trait]
impl Backend for DryRun {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn dry_run(&self) -> bool {
        true
    }
    fn version(&self) -> String {
        self.inner.version()
    }

    async fn list_containers(&self, project: &str, all: bool) -> Result<Vec<ContainerSummary>> {
        let mut list = self.inner.list_containers(project, all).await?;
        let made = self.made.lock().map(|m| m.values().filter(|c| c.project == project).cloned().collect::<Vec<_>>()).unwrap_or_default();
        list.extend(made);
        Ok(list)
    }
    async fn list_all_projects(&self) -> Result<Vec<ContainerSummary>> {
        self.inner.list_all_projects().await
    }
    async fn create_container(&self, spec: &ContainerSpec, _replace: Option<&ContainerSummary>) -> Result<String> {
        let id = format!("dry-run-{}", spec.name);
        let summary = ContainerSummary {
            id: id.clone(),
            name: spec.name.clone(),
            project: spec.project.clone(),
            service: spec.service_name.clone(),
            number: spec.number,
            oneoff: spec.oneoff,
            config_hash: spec.config_hash.clone(),
            image: spec.image.clone(),
            command: spec.command.clone().unwrap_or_default().join(" "),
            state: ContainerState::Created,
            exit_code: None,
            // So that waiting for it to be healthy ends at once.
            health: spec.healthcheck.as_ref().filter(|h| !h.disable).map(|_| Health::Healthy),
            created: chrono::Utc::now(),
            started_at: None,
            finished_at: None,
            ports: vec![],
            labels: spec.labels.clone(),
            networks: vec![],
            mounts: vec![],
            local_volumes: 0,
        };
        self.made.lock().map_err(|_| BackendError::Engine("dry run state poisoned".into()))?.insert(id.clone(), summary);
        Ok(id)
    }
    async fn start_container(&self, id: &str) -> Result<()> {
        self.set_state(id, ContainerState::Running);
        Ok(())
    }
    async fn stop_container(&self, id: &str, _timeout: Option<Duration>) -> Result<()> {
        self.set_state(id, ContainerState::Exited);
        Ok(())
    }
    async fn kill_container(&self, id: &str, _signal: &str) -> Result<()> {
        self.set_state(id, ContainerState::Exited);
        Ok(())
    }
    async fn remove_container(&self, id: &str, _force: bool, _volumes: bool) -> Result<()> {
        if let Ok(mut made) = self.made.lock() {
            made.remove(id);
        }
        Ok(())
    }
    async fn rename_container(&self, _id: &str, _new_name: &str) -> Result<()> {
        Ok(())
    }
    async fn pause_container(&self, _id: &str) -> Result<()> {
        Ok(())
    }
    async fn unpause_container(&self, _id: &str) -> Result<()> {
        Ok(())
    }
    async fn inspect_container(&self, id: &str) -> Result<ContainerSummary> {
        match self.made(id) {
            Some(c) => Ok(c),
            None => self.inner.inspect_container(id).await,
        }
    }
    async fn wait_container(&self, id: &str) -> Result<i32> {
        match self.made(id) {
            Some(_) => Ok(0),
            None => self.inner.wait_container(id).await,
        }
    }
    async fn logs(&self, containers: &[ContainerSummary], opts: &LogOptions) -> Result<LogStreamBox> {
        let real: Vec<ContainerSummary> = containers.iter().filter(|c| self.made(&c.id).is_none()).cloned().collect();
        self.inner.logs(&real, opts).await
    }
    async fn exec(&self, _id: &str, _spec: &ExecSpec) -> Result<i32> {
        Ok(0)
    }
    async fn attach_and_start(&self, _id: &str, _tty: bool, _interactive: bool) -> Result<i32> {
        Ok(0)
    }
    async fn attach(&self, _id: &str, _opts: &AttachOptions) -> Result<i32> {
        Ok(0)
    }
    async fn top(&self, id: &str) -> Result<ProcessList> {
        match self.made(id) {
            Some(_) => Ok(ProcessList::default()),
            None => self.inner.top(id).await,
        }
    }

    async fn ensure_network(&self, _spec: &NetworkSpec) -> Result<()> {
        Ok(())
    }
    async fn remove_network(&self, _name: &str) -> Result<()> {
        Ok(())
    }
    async fn list_networks(&self, project: &str) -> Result<Vec<NetworkSummary>> {
        self.inner.list_networks(project).await
    }
    async fn ensure_volume(&self, _spec: &VolumeSpec) -> Result<()> {
        Ok(())
    }
    async fn remove_volume(&self, _name: &str) -> Result<()> {
        Ok(())
    }
    async fn list_volumes(&self, project: Option<&str>) -> Result<Vec<VolumeSummary>> {
        self.inner.list_volumes(project).await
    }

    async fn image_config(&self, reference: &str) -> Result<Option<ImageConfig>> {
        self.inner.image_config(reference).await
    }
    async fn pull_image(&self, _reference: &str, _progress: ProgressFn) -> Result<()> {
        Ok(())
    }
    async fn import_image(&self, _tarball: &Path, reference: &str, _opts: &ImportOptions) -> Result<String> {
        Ok(format!("dry-run-{reference}"))
    }
    async fn list_images(&self) -> Result<Vec<ImageSummary>> {
        self.inner.list_images().await
    }
    async fn remove_image(&self, _reference: &str, _force: bool) -> Result<()> {
        Ok(())
    }
    async fn build_image(&self, spec: &BuildSpec, _progress: ProgressFn) -> Result<String> {
        Ok(format!("dry-run-{}", spec.tags.first().map(String::as_str).unwrap_or("build")))
    }
    async fn push_image(&self, _reference: &str, _progress: ProgressFn) -> Result<()> {
        Ok(())
    }
    async fn tag_image(&self, _source: &str, _target: &str) -> Result<()> {
        Ok(())
    }
    async fn load_images(&self, _archive: &Path) -> Result<Vec<String>> {
        Ok(vec![])
    }

    async fn events(&self, project: &str, opts: &EventOptions) -> Result<EventStreamBox> {
        self.inner.events(project, opts).await
    }
    async fn stats(&self, id: &str) -> Result<StatsSample> {
        match self.made(id) {
            Some(_) => Ok(StatsSample { read: chrono::Utc::now(), ..StatsSample::default() }),
            None => self.inner.stats(id).await,
        }
    }

    async fn copy_from_container(&self, id: &str, path: &str, follow_link: bool) -> Result<archive::TarStream> {
        self.inner.copy_from_container(id, path, follow_link).await
    }
    async fn copy_to_container(&self, _id: &str, _dest: &str, _archive: archive::TarStream, _copy_uid_gid: bool) -> Result<()> {
        Ok(())
    }
    async fn is_dir_in_container(&self, id: &str, path: &str) -> Result<Option<bool>> {
        match self.made(id) {
            Some(_) => Ok(Some(true)),
            None => self.inner.is_dir_in_container(id, path).await,
        }
    }
    async fn remove_from_container(&self, _id: &str, _paths: &[String]) -> Result<()> {
        Ok(())
    }
    async fn commit_container(&self, id: &str, _opts: &CommitOptions) -> Result<String> {
        Ok(format!("dry-run-{id}"))
    }
    async fn export_container(&self, id: &str) -> Result<archive::TarStream> {
        self.inner.export_container(id).await
    }
}
