//! The Docker backend: drives a Docker engine through bollard, with Docker Compose's
//! labels so that `docker compose` and hoist see the same containers.

mod convert;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bollard::errors::Error as DError;
use bollard::query_parameters as q;
use bollard::Docker;
use futures::{StreamExt, TryStreamExt};
use tokio::io::AsyncWriteExt;
use tokio::sync::OnceCell;

use super::*;

pub struct DockerBackend {
    base: Docker,
    /// The client after API version negotiation (an older engine refuses newer versions).
    client: OnceCell<Docker>,
}

impl DockerBackend {
    /// Connects to `DOCKER_HOST`, else the local socket. Nothing is sent until first use.
    pub fn connect() -> anyhow::Result<Arc<dyn Backend>> {
        let base = Docker::connect_with_defaults().map_err(|e| anyhow::anyhow!("cannot connect to the Docker engine: {e}"))?;
        Ok(Arc::new(DockerBackend { base, client: OnceCell::new() }))
    }

    async fn docker(&self) -> Result<&Docker> {
        self.client
            .get_or_try_init(|| async {
                self.base.clone().negotiate_version().await.map_err(|e| {
                    BackendError::Engine(format!("cannot reach the Docker engine (is dockerd running?): {e}"))
                })
            })
            .await
    }
}

fn is_not_found(e: &DError) -> bool {
    matches!(e, DError::DockerResponseServerError { status_code: 404, .. })
}

fn engine(e: DError) -> BackendError {
    match e {
        DError::DockerResponseServerError { message, .. } => BackendError::Engine(message),
        DError::DockerStreamError { error } => BackendError::Engine(error),
        other => BackendError::Engine(other.to_string()),
    }
}

fn label_filter(label: String) -> Option<HashMap<String, Vec<String>>> {
    Some(HashMap::from([("label".to_string(), vec![label])]))
}

/// Writes the bytes of a container output frame to our stdout or stderr.
async fn copy_output(output: &mut (impl futures::Stream<Item = std::result::Result<bollard::container::LogOutput, DError>> + Unpin)) -> Result<()> {
    let mut out = tokio::io::stdout();
    let mut err = tokio::io::stderr();
    while let Some(frame) = output.next().await {
        match frame.map_err(engine)? {
            bollard::container::LogOutput::StdErr { message } => {
                err.write_all(&message).await.map_err(|e| BackendError::io("stderr", e))?;
                err.flush().await.ok();
            }
            bollard::container::LogOutput::StdOut { message } | bollard::container::LogOutput::Console { message } => {
                out.write_all(&message).await.map_err(|e| BackendError::io("stdout", e))?;
                out.flush().await.ok();
            }
            _ => {}
        }
    }
    Ok(())
}

/// Forwards our stdin to the container until it closes.
fn forward_stdin(mut input: std::pin::Pin<Box<dyn tokio::io::AsyncWrite + Send>>) {
    tokio::spawn(async move {
        let mut stdin = tokio::io::stdin();
        let _ = tokio::io::copy(&mut stdin, &mut input).await;
        let _ = input.shutdown().await;
    });
}

#[async_trait]
impl Backend for DockerBackend {
    fn name(&self) -> &'static str {
        "docker"
    }

    async fn list_containers(&self, project: &str, all: bool) -> Result<Vec<ContainerSummary>> {
        let d = self.docker().await?;
        let opts = q::ListContainersOptions { all, filters: label_filter(format!("{}={project}", labels::PROJECT)), ..Default::default() };
        let list = d.list_containers(Some(opts)).await.map_err(engine)?;
        let inspected = futures::future::join_all(list.iter().filter_map(|c| c.id.clone()).map(|id| async move { self.inspect_container(&id).await })).await;
        // A container removed between list and inspect is simply gone.
        Ok(inspected.into_iter().filter_map(|r| r.ok()).collect())
    }

    async fn list_all_projects(&self) -> Result<Vec<ContainerSummary>> {
        let d = self.docker().await?;
        let opts = q::ListContainersOptions { all: true, filters: label_filter(labels::PROJECT.to_string()), ..Default::default() };
        let list = d.list_containers(Some(opts)).await.map_err(engine)?;
        Ok(list
            .into_iter()
            .map(|c| {
                let l = c.labels.clone().unwrap_or_default();
                let running = matches!(c.state, Some(bollard::models::ContainerSummaryStateEnum::RUNNING));
                ContainerSummary {
                    id: c.id.unwrap_or_default(),
                    name: c.names.and_then(|n| n.first().cloned()).unwrap_or_default().trim_start_matches('/').into(),
                    project: l.get(labels::PROJECT).cloned().unwrap_or_default(),
                    service: l.get(labels::SERVICE).cloned().unwrap_or_default(),
                    number: l.get(labels::NUMBER).and_then(|n| n.parse().ok()).unwrap_or(0),
                    oneoff: l.get(labels::ONEOFF).is_some_and(|v| v == "True"),
                    config_hash: l.get(labels::CONFIG_HASH).cloned().unwrap_or_default(),
                    image: c.image.unwrap_or_default(),
                    command: c.command.unwrap_or_default(),
                    state: if running { ContainerState::Running } else { ContainerState::Exited },
                    exit_code: None,
                    health: None,
                    created: chrono::DateTime::from_timestamp(c.created.unwrap_or(0), 0).unwrap_or_default(),
                    started_at: None,
                    finished_at: None,
                    ports: vec![],
                    labels: l.into_iter().collect(),
                }
            })
            .collect())
    }

    async fn create_container(&self, spec: &ContainerSpec, replace: Option<&ContainerSummary>) -> Result<String> {
        let d = self.docker().await?;
        let mut anonymous = HashMap::new();
        if let Some(old) = replace {
            let info = d.inspect_container(&old.id, None::<q::InspectContainerOptions>).await.map_err(engine)?;
            for m in info.mounts.unwrap_or_default() {
                let (Some(name), Some(dest)) = (m.name, m.destination) else { continue };
                // Anonymous volumes have 64-hex names; named ones are the user's and stay named.
                if name.len() == 64 && name.chars().all(|c| c.is_ascii_hexdigit()) {
                    anonymous.insert(dest, name);
                }
            }
        }
        for m in &spec.mounts {
            if let Mount::Bind { source, create_host_path: true, .. } = m
                && !source.exists()
            {
                std::fs::create_dir_all(source).map_err(|e| BackendError::io(format!("creating {}", source.display()), e))?;
            }
        }
        let body = convert::create_body(spec, &anonymous);
        let opts = q::CreateContainerOptions { name: Some(spec.name.clone()), ..Default::default() };
        let id = match d.create_container(Some(opts), body).await {
            Ok(r) => r.id,
            Err(e) if is_not_found(&e) => return Err(BackendError::ImageNotFound(spec.image.clone())),
            Err(e) => return Err(engine(e)),
        };
        // Further networks are connected after creation, as the API takes only one.
        if let NetworkMode::Networks(nets) = &spec.network {
            for n in nets.iter().skip(1) {
                let req = bollard::models::NetworkConnectRequest {
                    container: id.clone(),
                    endpoint_config: Some(bollard::models::EndpointSettings { aliases: Some(n.aliases.clone()), ..Default::default() }),
                };
                d.connect_network(&n.network, req).await.map_err(engine)?;
            }
        }
        Ok(id)
    }

    async fn start_container(&self, id: &str) -> Result<()> {
        let d = self.docker().await?;
        d.start_container(id, None::<q::StartContainerOptions>).await.map_err(|e| {
            let msg = e.to_string();
            if msg.contains("port is already allocated") || msg.contains("address already in use") {
                BackendError::PortInUse { what: id.chars().take(12).collect(), addr: msg }
            } else {
                engine(e)
            }
        })
    }

    async fn stop_container(&self, id: &str, timeout: Option<Duration>) -> Result<()> {
        let d = self.docker().await?;
        let opts = q::StopContainerOptions { t: timeout.map(|t| t.as_secs() as i32), ..Default::default() };
        match d.stop_container(id, Some(opts)).await {
            Ok(()) => Ok(()),
            Err(DError::DockerResponseServerError { status_code: 304, .. }) => Ok(()),
            Err(e) => Err(engine(e)),
        }
    }

    async fn kill_container(&self, id: &str, signal: &str) -> Result<()> {
        let d = self.docker().await?;
        d.kill_container(id, Some(q::KillContainerOptions { signal: signal.to_string() })).await.map_err(engine)
    }

    async fn remove_container(&self, id: &str, force: bool, volumes: bool) -> Result<()> {
        let d = self.docker().await?;
        let opts = q::RemoveContainerOptions { force, v: volumes, ..Default::default() };
        match d.remove_container(id, Some(opts)).await {
            Err(e) if !is_not_found(&e) => Err(engine(e)),
            _ => Ok(()),
        }
    }

    async fn rename_container(&self, id: &str, new_name: &str) -> Result<()> {
        let d = self.docker().await?;
        d.rename_container(id, q::RenameContainerOptions { name: new_name.to_string() }).await.map_err(engine)
    }

    async fn pause_container(&self, id: &str) -> Result<()> {
        self.docker().await?.pause_container(id).await.map_err(engine)
    }

    async fn unpause_container(&self, id: &str) -> Result<()> {
        self.docker().await?.unpause_container(id).await.map_err(engine)
    }

    async fn inspect_container(&self, id: &str) -> Result<ContainerSummary> {
        let d = self.docker().await?;
        match d.inspect_container(id, None::<q::InspectContainerOptions>).await {
            Ok(c) => Ok(convert::summary(&c)),
            Err(e) if is_not_found(&e) => Err(BackendError::ContainerNotFound(id.to_string())),
            Err(e) => Err(engine(e)),
        }
    }

    async fn wait_container(&self, id: &str) -> Result<i32> {
        let d = self.docker().await?;
        let mut s = d.wait_container(id, None::<q::WaitContainerOptions>);
        match s.next().await {
            Some(Ok(r)) => Ok(r.status_code as i32),
            // bollard reports a non-zero exit as an error carrying the code.
            Some(Err(DError::DockerContainerWaitError { code, .. })) => Ok(code as i32),
            Some(Err(e)) => Err(engine(e)),
            None => Ok(self.inspect_container(id).await?.exit_code.unwrap_or(0)),
        }
    }

    async fn logs(&self, containers: &[ContainerSummary], opts: &LogOptions) -> Result<LogStreamBox> {
        let d = self.docker().await?.clone();
        let streams = containers.iter().map(|c| {
            let o = q::LogsOptions {
                follow: opts.follow,
                stdout: true,
                stderr: true,
                since: opts.since.map(|t| t.timestamp() as i32).unwrap_or(0),
                until: opts.until.map(|t| t.timestamp() as i32).unwrap_or(0),
                timestamps: true,
                tail: opts.tail.map(|n| n.to_string()).unwrap_or_else(|| "all".into()),
            };
            let name = c.name.clone();
            // Frames may hold several lines or part of one: split on newlines per container.
            let mut pending: HashMap<bool, String> = HashMap::new();
            d.logs(&c.id, Some(o))
                .map(move |frame| -> Vec<Result<LogLine>> {
                    let frame = match frame {
                        Ok(f) => f,
                        Err(e) => return vec![Err(engine(e))],
                    };
                    let (stream, bytes) = match frame {
                        bollard::container::LogOutput::StdErr { message } => (LogStream::Stderr, message),
                        bollard::container::LogOutput::StdOut { message } | bollard::container::LogOutput::Console { message } => (LogStream::Stdout, message),
                        _ => return vec![],
                    };
                    let buf = pending.entry(stream == LogStream::Stderr).or_default();
                    buf.push_str(&String::from_utf8_lossy(&bytes));
                    let mut out = Vec::new();
                    while let Some(pos) = buf.find('\n') {
                        let line: String = buf.drain(..=pos).collect();
                        let line = line.trim_end_matches(['\n', '\r']);
                        let (time, text) = match line.split_once(' ') {
                            Some((t, rest)) if t.len() > 20 && t.as_bytes()[4] == b'-' => (chrono::DateTime::parse_from_rfc3339(t).ok().map(|t| t.with_timezone(&chrono::Utc)), rest),
                            _ => (None, line),
                        };
                        out.push(Ok(LogLine { container: name.clone(), stream, time, text: text.to_string() }));
                    }
                    out
                })
                .flat_map(futures::stream::iter)
                .boxed()
        });
        Ok(Box::pin(futures::stream::select_all(streams)))
    }

    async fn exec(&self, id: &str, spec: &ExecSpec) -> Result<i32> {
        let d = self.docker().await?;
        let env: Vec<String> = spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let create = bollard::exec::CreateExecOptions::<String> {
            attach_stdin: Some(spec.interactive && !spec.detach),
            attach_stdout: Some(!spec.detach),
            attach_stderr: Some(!spec.detach),
            tty: Some(spec.tty),
            env: (!env.is_empty()).then_some(env),
            cmd: Some(spec.command.clone()),
            privileged: Some(spec.privileged),
            user: spec.user.clone(),
            working_dir: spec.working_dir.clone(),
            ..Default::default()
        };
        let exec = d.create_exec(id, create).await.map_err(engine)?.id;
        let start = bollard::exec::StartExecOptions { detach: spec.detach, tty: spec.tty, output_capacity: None };
        match d.start_exec(&exec, Some(start)).await.map_err(engine)? {
            bollard::exec::StartExecResults::Detached => return Ok(0),
            bollard::exec::StartExecResults::Attached { mut output, input } => {
                if spec.interactive {
                    forward_stdin(input);
                }
                copy_output(&mut output).await?;
            }
        }
        let info = d.inspect_exec(&exec).await.map_err(engine)?;
        Ok(info.exit_code.unwrap_or(0) as i32)
    }

    async fn attach_and_start(&self, id: &str, _tty: bool, interactive: bool) -> Result<i32> {
        let d = self.docker().await?;
        let opts = q::AttachContainerOptions { stdin: interactive, stdout: true, stderr: true, stream: true, logs: true, ..Default::default() };
        let attached = d.attach_container(id, Some(opts)).await.map_err(engine)?;
        let mut output = attached.output;
        if interactive {
            forward_stdin(attached.input);
        }
        self.start_container(id).await?;
        copy_output(&mut output).await?;
        self.wait_container(id).await
    }

    async fn top(&self, id: &str) -> Result<ProcessList> {
        let d = self.docker().await?;
        let r = d.top_processes(id, None::<q::TopOptions>).await.map_err(engine)?;
        Ok(ProcessList { titles: r.titles.unwrap_or_default(), processes: r.processes.unwrap_or_default() })
    }

    async fn ensure_network(&self, spec: &NetworkSpec) -> Result<()> {
        let d = self.docker().await?;
        match d.inspect_network(&spec.name, None::<q::InspectNetworkOptions>).await {
            Ok(_) => return Ok(()),
            Err(e) if !is_not_found(&e) => return Err(engine(e)),
            Err(_) if spec.external => {
                return Err(BackendError::Engine(format!("network {} declared as external, but could not be found", spec.name)));
            }
            Err(_) => {}
        }
        let ipam = (!spec.subnets.is_empty()).then(|| bollard::models::Ipam {
            config: Some(
                spec.subnets
                    .iter()
                    .map(|s| bollard::models::IpamConfig { subnet: Some(s.subnet.clone()), gateway: s.gateway.clone(), ip_range: s.ip_range.clone(), ..Default::default() })
                    .collect(),
            ),
            ..Default::default()
        });
        let req = bollard::models::NetworkCreateRequest {
            name: spec.name.clone(),
            driver: Some(spec.driver.clone().unwrap_or_else(|| "bridge".into())),
            internal: Some(spec.internal),
            attachable: Some(spec.attachable),
            ipam,
            labels: Some(spec.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
            ..Default::default()
        };
        match d.create_network(req).await {
            Ok(_) => Ok(()),
            // Another process created it in the meantime.
            Err(DError::DockerResponseServerError { status_code: 409, .. }) => Ok(()),
            Err(e) => Err(engine(e)),
        }
    }

    async fn remove_network(&self, name: &str) -> Result<()> {
        let d = self.docker().await?;
        match d.remove_network(name).await {
            Err(e) if !is_not_found(&e) => Err(engine(e)),
            _ => Ok(()),
        }
    }

    async fn list_networks(&self, project: &str) -> Result<Vec<NetworkSummary>> {
        let d = self.docker().await?;
        let opts = q::ListNetworksOptions { filters: label_filter(format!("{}={project}", labels::PROJECT)) };
        Ok(d.list_networks(Some(opts))
            .await
            .map_err(engine)?
            .into_iter()
            .map(|n| NetworkSummary {
                name: n.name.unwrap_or_default(),
                id: n.id.unwrap_or_default(),
                driver: n.driver.unwrap_or_default(),
                labels: n.labels.unwrap_or_default().into_iter().collect(),
            })
            .collect())
    }

    async fn ensure_volume(&self, spec: &VolumeSpec) -> Result<()> {
        let d = self.docker().await?;
        match d.inspect_volume(&spec.name).await {
            Ok(_) => return Ok(()),
            Err(e) if !is_not_found(&e) => return Err(engine(e)),
            Err(_) if spec.external => return Err(BackendError::Engine(format!("external volume \"{}\" not found", spec.name))),
            Err(_) => {}
        }
        let req = bollard::models::VolumeCreateRequest {
            name: Some(spec.name.clone()),
            driver: spec.driver.clone(),
            driver_opts: (!spec.driver_opts.is_empty()).then(|| spec.driver_opts.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
            labels: Some(spec.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
            ..Default::default()
        };
        d.create_volume(req).await.map_err(engine)?;
        Ok(())
    }

    async fn remove_volume(&self, name: &str) -> Result<()> {
        let d = self.docker().await?;
        match d.remove_volume(name, None::<q::RemoveVolumeOptions>).await {
            Err(e) if !is_not_found(&e) => Err(engine(e)),
            _ => Ok(()),
        }
    }

    async fn list_volumes(&self, project: Option<&str>) -> Result<Vec<VolumeSummary>> {
        let d = self.docker().await?;
        let opts = q::ListVolumesOptions { filters: project.and_then(|p| label_filter(format!("{}={p}", labels::PROJECT))) };
        let r = d.list_volumes(Some(opts)).await.map_err(engine)?;
        Ok(r.volumes
            .unwrap_or_default()
            .into_iter()
            .map(|v| VolumeSummary { name: v.name, driver: v.driver, mountpoint: v.mountpoint, labels: v.labels.into_iter().collect() })
            .collect())
    }

    async fn image_config(&self, reference: &str) -> Result<Option<ImageConfig>> {
        let d = self.docker().await?;
        let img = match d.inspect_image(reference).await {
            Ok(i) => i,
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => return Err(engine(e)),
        };
        let c = img.config.unwrap_or_default();
        Ok(Some(ImageConfig {
            env: c.env.unwrap_or_default(),
            cmd: c.cmd,
            entrypoint: c.entrypoint,
            working_dir: c.working_dir.filter(|w| !w.is_empty()),
            user: c.user.filter(|u| !u.is_empty()),
            exposed_ports: c.exposed_ports.unwrap_or_default(),
            volumes: c.volumes.unwrap_or_default(),
            labels: c.labels.unwrap_or_default().into_iter().collect(),
            stop_signal: c.stop_signal,
        }))
    }

    async fn pull_image(&self, reference: &str, progress: ProgressFn) -> Result<()> {
        let d = self.docker().await?;
        let opts = q::CreateImageOptions { from_image: Some(reference.to_string()), ..Default::default() };
        let mut s = d.create_image(Some(opts), None, None);
        while let Some(info) = s.next().await {
            let info = info.map_err(engine)?;
            progress(ProgressEvent {
                id: info.id.unwrap_or_default(),
                status: info.status.unwrap_or_default(),
                current: info.progress_detail.as_ref().and_then(|p| p.current).map(|v| v as u64),
                total: info.progress_detail.as_ref().and_then(|p| p.total).map(|v| v as u64),
            });
        }
        Ok(())
    }

    async fn import_image(&self, tarball: &Path, reference: &str, opts: &ImportOptions) -> Result<String> {
        let d = self.docker().await?;
        let bytes = tokio::fs::read(tarball).await.map_err(|e| BackendError::io(format!("reading {}", tarball.display()), e))?;
        let (repo, tag) = split_reference(reference);
        let o = q::CreateImageOptions {
            from_src: Some("-".into()),
            repo: Some(repo),
            tag: Some(tag),
            changes: opts.changes.clone(),
            ..Default::default()
        };
        let infos: Vec<_> = d.create_image(Some(o), Some(bollard::body_full(bytes.into())), None).try_collect().await.map_err(engine)?;
        let id = infos.iter().rev().find_map(|i| i.status.clone()).unwrap_or_default();
        Ok(id)
    }

    async fn list_images(&self) -> Result<Vec<ImageSummary>> {
        let d = self.docker().await?;
        let list = d.list_images(None::<q::ListImagesOptions>).await.map_err(engine)?;
        Ok(list
            .into_iter()
            .map(|i| ImageSummary {
                id: i.id,
                tags: i.repo_tags.into_iter().filter(|t| t != "<none>:<none>").collect(),
                size: i.size.max(0) as u64,
                created: chrono::DateTime::from_timestamp(i.created, 0),
            })
            .collect())
    }

    async fn remove_image(&self, reference: &str, force: bool) -> Result<()> {
        let d = self.docker().await?;
        let opts = q::RemoveImageOptions { force, ..Default::default() };
        match d.remove_image(reference, Some(opts), None).await {
            Ok(_) => Ok(()),
            Err(e) if is_not_found(&e) => Err(BackendError::ImageNotFound(reference.into())),
            Err(e) => Err(engine(e)),
        }
    }

    async fn tag_image(&self, source: &str, target: &str) -> Result<()> {
        let d = self.docker().await?;
        let (repo, tag) = split_reference(target);
        d.tag_image(source, Some(q::TagImageOptions { repo: Some(repo), tag: Some(tag) })).await.map_err(engine)
    }

    fn version(&self) -> String {
        "docker".into()
    }
}

/// `repo[:tag]` → (repo, tag) with `latest` by default; a registry port is not a tag.
fn split_reference(r: &str) -> (String, String) {
    let last = r.rsplit('/').next().unwrap_or(r);
    match last.rsplit_once(':') {
        Some((_, tag)) => (r[..r.len() - tag.len() - 1].to_string(), tag.to_string()),
        None => (r.to_string(), "latest".to_string()),
    }
}
