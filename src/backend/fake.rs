//! An in-memory backend for fast tests of the plan and the commands: containers,
//! networks and volumes are entries in maps, and every call is recorded.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream;

use super::*;

#[derive(Default)]
pub struct FakeBackend {
    pub state: Mutex<FakeState>,
}

#[derive(Default)]
pub struct FakeState {
    pub containers: BTreeMap<String, (ContainerSummary, ContainerSpec)>,
    pub networks: Vec<String>,
    pub volumes: Vec<VolumeSpec>,
    pub images: Vec<String>,
    pub calls: Vec<String>,
    next_id: u32,
}

impl FakeBackend {
    pub fn with_images(images: &[&str]) -> Self {
        let b = FakeBackend::default();
        b.state.lock().unwrap().images = images.iter().map(|s| s.to_string()).collect();
        b
    }
    pub fn calls(&self) -> Vec<String> {
        self.state.lock().unwrap().calls.clone()
    }
    fn with<T>(&self, f: impl FnOnce(&mut FakeState) -> T) -> T {
        f(&mut self.state.lock().unwrap())
    }
    fn set_state(&self, id: &str, state: ContainerState) -> Result<()> {
        self.with(|s| {
            let c = s.containers.get_mut(id).ok_or_else(|| BackendError::ContainerNotFound(id.into()))?;
            c.0.state = state;
            Ok(())
        })
    }
}

#[async_trait]
impl Backend for FakeBackend {
    fn name(&self) -> &'static str {
        "fake"
    }
    async fn list_containers(&self, project: &str, _all: bool) -> Result<Vec<ContainerSummary>> {
        Ok(self.with(|s| s.containers.values().filter(|c| c.0.project == project).map(|c| c.0.clone()).collect()))
    }
    async fn list_all_projects(&self) -> Result<Vec<ContainerSummary>> {
        Ok(self.with(|s| s.containers.values().map(|c| c.0.clone()).collect()))
    }
    async fn create_container(&self, spec: &ContainerSpec, _replace: Option<&ContainerSummary>) -> Result<String> {
        self.with(|s| {
            if s.containers.values().any(|c| c.0.name == spec.name) {
                return Err(BackendError::Engine(format!("Conflict. The container name \"/{}\" is already in use", spec.name)));
            }
            s.next_id += 1;
            let id = format!("{:064}", s.next_id);
            s.calls.push(format!("create {}", spec.name));
            let summary = ContainerSummary {
                id: id.clone(),
                name: spec.name.clone(),
                oneoff: spec.oneoff,
                config_hash: spec.config_hash.clone(),
                image: spec.image.clone(),
                state: ContainerState::Created,
                labels: spec.labels.clone(),
                ..ContainerSummary::for_test(&spec.project, &spec.service_name, spec.number)
            };
            s.containers.insert(id.clone(), (summary, spec.clone()));
            Ok(id)
        })
    }
    async fn start_container(&self, id: &str) -> Result<()> {
        let name = self.inspect_container(id).await?.name;
        self.with(|s| s.calls.push(format!("start {name}")));
        self.set_state(id, ContainerState::Running)
    }
    async fn stop_container(&self, id: &str, _timeout: Option<Duration>) -> Result<()> {
        let name = self.inspect_container(id).await?.name;
        self.with(|s| s.calls.push(format!("stop {name}")));
        self.set_state(id, ContainerState::Exited)
    }
    async fn kill_container(&self, id: &str, _signal: &str) -> Result<()> {
        self.set_state(id, ContainerState::Exited)
    }
    async fn remove_container(&self, id: &str, _force: bool, _volumes: bool) -> Result<()> {
        self.with(|s| {
            let (c, _) = s.containers.remove(id).ok_or_else(|| BackendError::ContainerNotFound(id.into()))?;
            s.calls.push(format!("remove {}", c.name));
            Ok(())
        })
    }
    async fn rename_container(&self, id: &str, new_name: &str) -> Result<()> {
        self.with(|s| {
            let c = s.containers.get_mut(id).ok_or_else(|| BackendError::ContainerNotFound(id.into()))?;
            c.0.name = new_name.into();
            Ok(())
        })
    }
    async fn pause_container(&self, id: &str) -> Result<()> {
        self.set_state(id, ContainerState::Paused)
    }
    async fn unpause_container(&self, id: &str) -> Result<()> {
        self.set_state(id, ContainerState::Running)
    }
    async fn inspect_container(&self, id: &str) -> Result<ContainerSummary> {
        self.with(|s| s.containers.get(id).map(|c| c.0.clone()).ok_or_else(|| BackendError::ContainerNotFound(id.into())))
    }
    async fn wait_container(&self, _id: &str) -> Result<i32> {
        Ok(0)
    }
    async fn logs(&self, _containers: &[ContainerSummary], _opts: &LogOptions) -> Result<LogStreamBox> {
        Ok(Box::pin(stream::empty()))
    }
    async fn exec(&self, _id: &str, _spec: &ExecSpec) -> Result<i32> {
        Ok(0)
    }
    async fn attach_and_start(&self, id: &str, _tty: bool, _interactive: bool) -> Result<i32> {
        self.start_container(id).await?;
        Ok(0)
    }
    async fn top(&self, _id: &str) -> Result<ProcessList> {
        Ok(ProcessList::default())
    }
    async fn ensure_network(&self, spec: &NetworkSpec) -> Result<()> {
        self.with(|s| {
            if !s.networks.contains(&spec.name) {
                s.networks.push(spec.name.clone());
            }
        });
        Ok(())
    }
    async fn remove_network(&self, name: &str) -> Result<()> {
        self.with(|s| s.networks.retain(|n| n != name));
        Ok(())
    }
    async fn list_networks(&self, project: &str) -> Result<Vec<NetworkSummary>> {
        let prefix = format!("{project}_");
        Ok(self.with(|s| {
            s.networks
                .iter()
                .filter(|n| n.starts_with(&prefix))
                .map(|n| NetworkSummary { name: n.clone(), id: n.clone(), driver: "bridge".into(), labels: Default::default() })
                .collect()
        }))
    }
    async fn ensure_volume(&self, spec: &VolumeSpec) -> Result<()> {
        self.with(|s| {
            if !s.volumes.iter().any(|v| v.name == spec.name) {
                s.volumes.push(spec.clone());
            }
        });
        Ok(())
    }
    async fn remove_volume(&self, name: &str) -> Result<()> {
        self.with(|s| s.volumes.retain(|v| v.name != name));
        Ok(())
    }
    async fn list_volumes(&self, project: Option<&str>) -> Result<Vec<VolumeSummary>> {
        Ok(self.with(|s| {
            s.volumes
                .iter()
                .filter(|v| project.is_none_or(|p| v.project == p))
                .map(|v| VolumeSummary { name: v.name.clone(), driver: "local".into(), mountpoint: String::new(), labels: v.labels.clone() })
                .collect()
        }))
    }
    async fn image_config(&self, reference: &str) -> Result<Option<ImageConfig>> {
        Ok(self.with(|s| s.images.iter().any(|i| i == reference).then(|| ImageConfig { id: format!("sha256:{reference}"), ..Default::default() })))
    }
    async fn pull_image(&self, reference: &str, _progress: ProgressFn) -> Result<()> {
        Err(BackendError::ImageNotFound(reference.into()))
    }
    async fn import_image(&self, _tarball: &Path, reference: &str, _opts: &ImportOptions) -> Result<String> {
        self.with(|s| s.images.push(reference.into()));
        Ok(format!("sha256:{reference}"))
    }
    async fn list_images(&self) -> Result<Vec<ImageSummary>> {
        Ok(vec![])
    }
    async fn remove_image(&self, _reference: &str, _force: bool) -> Result<()> {
        Ok(())
    }

    // Events and stats
    async fn events(&self, _project: &str, _opts: &EventOptions) -> Result<EventStreamBox> {
        Ok(Box::pin(stream::empty()))
    }
    async fn stats(&self, id: &str) -> Result<StatsSample> {
        self.with(|s| s.containers.get(id).map(|_| StatsSample::default()).ok_or_else(|| BackendError::ContainerNotFound(id.into())))
    }
}
