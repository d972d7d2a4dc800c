//! Container lifecycle on the engine: list and inspect (mapped to `ContainerSummary` from
//! the compose labels), create (with anonymous volumes carried over), start, stop, remove.

use std::collections::HashMap;
use std::time::Duration;

use bollard::errors::Error as DockerError;
use bollard::models::{ContainerInspectResponse, ContainerStateStatusEnum, HealthStatusEnum};
use bollard::query_parameters::{
    CreateContainerOptions, KillContainerOptions, ListContainersOptions, RemoveContainerOptions,
    RenameContainerOptions, StopContainerOptions, WaitContainerOptions,
};
use futures::StreamExt;
use indexmap::IndexMap;

use super::convert::{self, CarriedVolume};
use super::mac;
use super::{DockerBackend, container_err, engine_err, parse_time, status_of};
use crate::backend::{
    BackendError, ContainerSpec, ContainerState, ContainerSummary, Health, ProcessList, PublishedPort, Result, labels,
};

impl DockerBackend {
    /// Containers carrying the compose project label (of `project`, or any project).
    pub(super) async fn list_by_label(&self, project: Option<&str>, all: bool) -> Result<Vec<ContainerSummary>> {
        let filter = match project {
            Some(p) => format!("{}={p}", labels::PROJECT),
            None => labels::PROJECT.to_string(),
        };
        let opts = ListContainersOptions {
            all,
            filters: Some(HashMap::from([("label".to_string(), vec![filter])])),
            ..Default::default()
        };
        let listed = self.client().list_containers(Some(opts)).await.map_err(|e| engine_err("listing containers", e))?;
        let mut out = Vec::with_capacity(listed.len());
        for c in listed {
            let Some(id) = c.id else { continue };
            // The list lacks start/finish times and health details: inspect each one.
            match self.inspect(&id).await {
                Ok(s) => out.push(s),
                // Removed between the list and the inspect.
                Err(BackendError::ContainerNotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        out.sort_by(|a, b| (&a.service, a.number, &a.name).cmp(&(&b.service, b.number, &b.name)));
        Ok(out)
    }

    pub(super) async fn inspect_raw(&self, id: &str) -> Result<ContainerInspectResponse> {
        self.client().inspect_container(id, None).await.map_err(|e| container_err(id, "inspecting", e))
    }

    pub(super) async fn inspect(&self, id: &str) -> Result<ContainerSummary> {
        Ok(summary(self.inspect_raw(id).await?))
    }

    pub(super) async fn create(&self, spec: &ContainerSpec, replace: Option<&ContainerSummary>) -> Result<String> {
        let carried = match replace {
            Some(old) => anonymous_volumes(&self.inspect_raw(&old.id).await?),
            None => Vec::new(),
        };
        let plan = convert::create_body(spec, &carried)?;
        let start_interval = spec.healthcheck.as_ref().is_some_and(|h| h.start_interval.is_some() && !h.disable);
        let api = match mac::wanted(spec) || start_interval {
            true => self.client().version().await.map_err(|e| engine_err("asking the engine's API version", e))?.api_version.unwrap_or_default(),
            false => String::new(),
        };
        // An engine before API 1.44 would drop it without a word; Compose refuses, in these words.
        if start_interval && !super::api_at_least(&api, (1, 44)) {
            return Err(BackendError::Engine("can't set healthcheck.start_interval as feature require Docker Engine v25 or later".into()));
        }
        let mac = match mac::wanted(spec) {
            true => mac::container_wide(spec, &api)?,
            false => None,
        };
        let create = || async {
            match mac {
                Some(m) => mac::create(&spec.name, &plan.body, m).await,
                None => {
                    let opts = CreateContainerOptions { name: Some(spec.name.clone()), ..Default::default() };
                    self.client().create_container(Some(opts), plan.body.clone()).await
                }
            }
        };
        let mut attempt = create().await;
        if let Err(e) = &attempt
            && status_of(e) == Some(409)
            && self.remove_interrupted(spec).await
        {
            attempt = create().await;
        }
        let created = attempt.map_err(|e| {
            if status_of(&e) == Some(404) && message_of(&e).contains("image") {
                BackendError::ImageNotFound(spec.image.clone())
            } else {
                engine_err(format!("creating container {}", spec.name), e)
            }
        })?;
        let links: Vec<String> = spec.links.iter().map(|(n, a)| format!("{n}:{a}")).collect();
        for att in &plan.later_networks {
            let req = bollard::models::NetworkConnectRequest {
                container: created.id.clone(),
                endpoint_config: Some(convert::endpoint(att, &links)),
            };
            self.client()
                .connect_network(&att.network, req)
                .await
                .map_err(|e| engine_err(format!("connecting {} to network {}", spec.name, att.network), e))?;
        }
        Ok(created.id)
    }

    /// A container holding this spec's name that belongs to the same project and service
    /// and that no observation knew about is the remnant of an interrupted command (its
    /// create landed after the client died): remove it so the name can be used. Project
    /// commands hold the project lock, so no live hoist owns it. True when removed.
    async fn remove_interrupted(&self, spec: &ContainerSpec) -> bool {
        let Ok(existing) = self.inspect_raw(&spec.name).await else { return false };
        let labels = existing.config.and_then(|c| c.labels).unwrap_or_default();
        let ours = labels.get(crate::backend::labels::PROJECT) == Some(&spec.project)
            && labels.get(crate::backend::labels::SERVICE) == Some(&spec.service_name);
        let Some(id) = existing.id.filter(|_| ours) else { return false };
        let opts = bollard::query_parameters::RemoveContainerOptions { force: true, ..Default::default() };
        self.client().remove_container(&id, Some(opts)).await.is_ok()
    }

    pub(super) async fn start(&self, id: &str) -> Result<()> {
        let Err(e) = self.client().start_container(id, None).await else { return Ok(()) };
        let msg = message_of(&e);
        if msg.contains("port is already allocated") || msg.contains("address already in use") {
            let name = match self.inspect(id).await {
                Ok(s) => s.name,
                Err(_) => id.to_string(),
            };
            return Err(BackendError::PortInUse { what: name, addr: address_in(&msg) });
        }
        Err(container_err(id, "starting", e))
    }

    pub(super) async fn stop(&self, id: &str, timeout: Option<Duration>) -> Result<()> {
        let mut t = timeout.map(|d| d.as_secs() as i32);
        if t != Some(0) && self.stop_signal_is_discarded(id).await {
            // The engine would wait the grace period out for nothing (see signals.rs).
            t = Some(0);
        }
        let opts = StopContainerOptions { t, ..Default::default() };
        match self.client().stop_container(id, Some(opts)).await {
            // 304: already stopped.
            Err(e) if status_of(&e) != Some(304) => Err(container_err(id, "stopping", e)),
            _ => Ok(()),
        }
    }

    /// With the engine on this host: whether the container's PID 1 would discard its stop
    /// signal (a shell as PID 1 without a trap).
    async fn stop_signal_is_discarded(&self, id: &str) -> bool {
        let Ok(c) = self.inspect_raw(id).await else { return false };
        let (Some(full_id), Some(pid)) = (c.id.as_deref(), c.state.as_ref().and_then(|s| s.pid)) else { return false };
        if !crate::backend::signals::is_process_of_container(pid, full_id) {
            return false;
        }
        let signal = c.config.and_then(|c| c.stop_signal).unwrap_or_else(|| "SIGTERM".into());
        crate::backend::signals::parse(&signal)
            .is_some_and(|sig| crate::backend::signals::discarded_by_namespace_init(pid as i32, sig as i32))
    }

    pub(super) async fn kill(&self, id: &str, signal: &str) -> Result<()> {
        let opts = KillContainerOptions { signal: signal.to_string() };
        self.client().kill_container(id, Some(opts)).await.map_err(|e| container_err(id, "killing", e))
    }

    pub(super) async fn remove(&self, id: &str, force: bool, volumes: bool) -> Result<()> {
        // The engine's `v` skips volumes mounted by name, which is how anonymous volumes
        // carried over a recreate are mounted: remove those ourselves afterwards.
        let anonymous = if volumes { anonymous_volumes(&self.inspect_raw(id).await?) } else { Vec::new() };
        let opts = RemoveContainerOptions { force, v: volumes, ..Default::default() };
        self.client().remove_container(id, Some(opts)).await.map_err(|e| container_err(id, "removing", e))?;
        for v in anonymous {
            // Gone already, or still used by another container (409): both fine.
            let _ = self.client().remove_volume(&v.name, None::<bollard::query_parameters::RemoveVolumeOptions>).await;
        }
        Ok(())
    }

    pub(super) async fn rename(&self, id: &str, new_name: &str) -> Result<()> {
        let opts = RenameContainerOptions { name: new_name.to_string() };
        self.client().rename_container(id, opts).await.map_err(|e| container_err(id, "renaming", e))
    }

    pub(super) async fn wait(&self, id: &str) -> Result<i32> {
        wait_exit(self.client(), id).await
    }

    pub(super) async fn top_processes(&self, id: &str) -> Result<ProcessList> {
        let top = self.client().top_processes(id, None).await.map_err(|e| container_err(id, "listing processes of", e))?;
        Ok(ProcessList { titles: top.titles.unwrap_or_default(), processes: top.processes.unwrap_or_default() })
    }
}

/// Waits for the container to exit; bollard reports non-zero exits as errors, which are
/// just exit codes here.
pub(super) async fn wait_exit(docker: &bollard::Docker, id: &str) -> Result<i32> {
    let mut s = docker.wait_container(id, None::<WaitContainerOptions>);
    match s.next().await {
        Some(Ok(r)) => Ok(r.status_code as i32),
        Some(Err(DockerError::DockerContainerWaitError { code, .. })) => Ok(code as i32),
        Some(Err(e)) => Err(container_err(id, "waiting for", e)),
        None => Err(BackendError::Engine(format!("waiting for {id}: the engine closed the stream"))),
    }
}

fn message_of(e: &DockerError) -> String {
    match e {
        DockerError::DockerResponseServerError { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// The `ip:port` an engine bind error names (`Bind for 0.0.0.0:8080 failed: ...`).
fn address_in(msg: &str) -> String {
    msg.split_whitespace()
        .map(|w| w.trim_end_matches(':'))
        .rfind(|w| w.rsplit_once(':').is_some_and(|(_, p)| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())))
        .unwrap_or("unknown address")
        .to_string()
}

/// The old container's anonymous volumes (64-hex names), to mount again after a recreate.
fn anonymous_volumes(old: &ContainerInspectResponse) -> Vec<CarriedVolume> {
    old.mounts
        .iter()
        .flatten()
        .filter(|m| m.typ.as_deref() == Some("volume"))
        .filter_map(|m| {
            let name = m.name.clone()?;
            let target = m.destination.clone()?;
            convert::is_anonymous_volume_name(&name).then_some(CarriedVolume { name, target })
        })
        .collect()
}

/// Maps an inspect response to the backend's summary, reading identity from labels.
pub(super) fn summary(c: ContainerInspectResponse) -> ContainerSummary {
    let config = c.config.unwrap_or_default();
    let labels_map: IndexMap<String, String> = {
        let mut l: Vec<_> = config.labels.unwrap_or_default().into_iter().collect();
        l.sort();
        l.into_iter().collect()
    };
    let label = |k: &str| labels_map.get(k).cloned().unwrap_or_default();
    let st = c.state.unwrap_or_default();
    let state = match st.status {
        Some(ContainerStateStatusEnum::CREATED) => ContainerState::Created,
        Some(ContainerStateStatusEnum::RUNNING) => ContainerState::Running,
        Some(ContainerStateStatusEnum::PAUSED) => ContainerState::Paused,
        Some(ContainerStateStatusEnum::RESTARTING) => ContainerState::Restarting,
        Some(ContainerStateStatusEnum::REMOVING) => ContainerState::Removing,
        Some(ContainerStateStatusEnum::DEAD) => ContainerState::Dead,
        _ => ContainerState::Exited,
    };
    let health = st.health.and_then(|h| match h.status? {
        HealthStatusEnum::STARTING => Some(Health::Starting),
        HealthStatusEnum::HEALTHY => Some(Health::Healthy),
        HealthStatusEnum::UNHEALTHY => Some(Health::Unhealthy),
        _ => None,
    });
    let mut networks: Vec<String> = c.network_settings.as_ref().and_then(|n| n.networks.as_ref()).map(|n| n.keys().cloned().collect()).unwrap_or_default();
    networks.sort();
    // Volumes by name, binds by source, as Compose's `ps` lists them.
    let mount_points = c.mounts.unwrap_or_default();
    let local_volumes = mount_points.iter().filter(|m| m.driver.as_deref() == Some("local")).count();
    let mounts = mount_points.into_iter().map(|m| m.name.filter(|n| !n.is_empty()).or(m.source).unwrap_or_default()).collect();
    let mut ports = Vec::new();
    for (key, bindings) in c.network_settings.and_then(|n| n.ports).unwrap_or_default() {
        let (port, proto) = key.split_once('/').unwrap_or((key.as_str(), "tcp"));
        let Ok(container_port) = port.parse::<u16>() else { continue };
        // Exposed but not published: shown as `5432/tcp`, as Compose shows it.
        if bindings.as_ref().is_none_or(|b| b.is_empty()) {
            ports.push(PublishedPort { host_ip: String::new(), host_port: 0, container_port, protocol: proto.to_string() });
        }
        for b in bindings.into_iter().flatten() {
            let Some(host_port) = b.host_port.as_deref().and_then(|p| p.parse().ok()) else { continue };
            ports.push(PublishedPort {
                host_ip: b.host_ip.unwrap_or_default(),
                host_port,
                container_port,
                protocol: proto.to_string(),
            });
        }
    }
    ports.sort_by(|a, b| (a.container_port, &a.protocol, &a.host_ip).cmp(&(b.container_port, &b.protocol, &b.host_ip)));
    let command = std::iter::once(c.path.unwrap_or_default())
        .chain(c.args.unwrap_or_default())
        .filter(|s| !s.is_empty())
        .map(|s| if s.contains(' ') { format!("{s:?}") } else { s })
        .collect::<Vec<_>>()
        .join(" ");
    ContainerSummary {
        id: c.id.unwrap_or_default(),
        name: c.name.unwrap_or_default().trim_start_matches('/').to_string(),
        project: label(labels::PROJECT),
        service: label(labels::SERVICE),
        number: label(labels::NUMBER).parse().unwrap_or(1),
        oneoff: label(labels::ONEOFF).eq_ignore_ascii_case("true"),
        config_hash: label(labels::CONFIG_HASH),
        image: config.image.unwrap_or_default(),
        command,
        exit_code: (state != ContainerState::Created && !state.is_running())
            .then(|| st.exit_code.map(|c| c as i32))
            .flatten(),
        state,
        health,
        created: c.created.as_ref().and_then(parse_time).unwrap_or_default(),
        started_at: st.started_at.as_ref().and_then(parse_time),
        finished_at: st.finished_at.as_ref().and_then(parse_time),
        ports,
        labels: labels_map,
        networks,
        mounts,
        local_volumes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_error_address() {
        let m = "driver failed programming external connectivity on endpoint x (abc): Bind for 0.0.0.0:8080 failed: port is already allocated";
        assert_eq!(address_in(m), "0.0.0.0:8080");
        let m = "failed to bind host port: listen tcp4 127.0.0.1:9000: bind: address already in use";
        assert_eq!(address_in(m), "127.0.0.1:9000");
    }
}
