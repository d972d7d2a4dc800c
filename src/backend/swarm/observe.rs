//! What a stack is doing: its tasks (where they run, their state, their host ports), the
//! stacks on the swarm, and the tasks' output.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use bollard::models::{EndpointPortConfigPublishModeEnum, Task};
use bollard::query_parameters::{ListNodesOptions, ListServicesOptions, ListTasksOptions};
use chrono::{DateTime, Utc};
use futures::StreamExt;

use super::deploy::{filter, replicas_of, spec_name, state_name};
use super::{engine, Result, Swarm, SwarmError, NAMESPACE};
use crate::backend::docker::{logs, parse_time};
use crate::backend::{LogLine, LogOptions, LogStreamBox, PublishedPort};

/// One task of a stack service, as `ps` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskSummary {
    pub id: String,
    /// `web.1` (`web.<node>` for a global service).
    pub name: String,
    /// The compose service.
    pub service: String,
    pub slot: Option<u32>,
    pub image: String,
    /// Hostname of the node it runs on.
    pub node: String,
    /// `running`, `shutdown`, ...: what the orchestrator wants.
    pub desired_state: String,
    /// `running`, `starting`, `failed`, ...: what the task is.
    pub state: String,
    /// When it entered that state.
    pub since: Option<DateTime<Utc>>,
    pub error: String,
    /// Host-mode ports of the task, and the service's ingress ports (open on every node).
    pub ports: Vec<PublishedPort>,
}

/// A stack on the swarm and how many services it has.
#[derive(Debug, Clone, PartialEq)]
pub struct StackSummary {
    pub name: String,
    pub services: usize,
    /// Tasks running / wanted over all its services.
    pub running: u64,
    pub desired: u64,
}

impl Swarm {
    /// The tasks of the stack's services (of `services` only, when given): the current
    /// ones, or with `all` also those shut down (the swarm keeps a few per slot).
    pub async fn tasks(&self, stack: &str, services: &[String], all: bool) -> Result<Vec<TaskSummary>> {
        let nodes: HashMap<String, String> = self
            .docker
            .list_nodes(None::<ListNodesOptions>)
            .await
            .map_err(|e| engine("listing nodes", e))?
            .into_iter()
            .filter_map(|n| Some((n.id?, n.description?.hostname?)))
            .collect();
        let prefix = format!("{stack}_");
        let stack_services = self.stack_services(stack).await?;
        let compose_name = |svc: &bollard::models::Service| spec_name(svc).strip_prefix(&prefix).unwrap_or(spec_name(svc)).to_string();
        if let Some(missing) = services.iter().find(|s| !stack_services.iter().any(|svc| compose_name(svc) == **s)) {
            return Err(SwarmError::NoSuchService { stack: stack.into(), service: missing.clone() });
        }
        let mut out = Vec::new();
        for svc in stack_services {
            let compose = compose_name(&svc);
            if !services.is_empty() && !services.contains(&compose) {
                continue;
            }
            let ingress: Vec<PublishedPort> = svc
                .endpoint
                .as_ref()
                .and_then(|e| e.ports.clone())
                .unwrap_or_default()
                .iter()
                .filter(|p| p.publish_mode != Some(EndpointPortConfigPublishModeEnum::HOST))
                .map(published)
                .collect();
            let mut filters = filter("service", spec_name(&svc)).unwrap_or_default();
            if !all {
                filters.insert("desired-state".into(), vec!["running".into()]);
            }
            let tasks = self
                .docker
                .list_tasks(Some(ListTasksOptions { filters: Some(filters) }))
                .await
                .map_err(|e| engine(format!("listing tasks of {}", spec_name(&svc)), e))?;
            let mut rows: Vec<(Option<DateTime<Utc>>, TaskSummary)> =
                tasks.into_iter().map(|t| (t.created_at.as_ref().and_then(parse_time), summary(&compose, t, &nodes, &ingress))).collect();
            // By slot, the newest task of a slot first, as `docker service ps` lists them.
            rows.sort_by(|a, b| (a.1.slot, &a.1.node, std::cmp::Reverse(a.0)).cmp(&(b.1.slot, &b.1.node, std::cmp::Reverse(b.0))));
            out.extend(rows.into_iter().map(|(_, t)| t));
        }
        Ok(out)
    }

    /// Every stack on the swarm (services carrying the namespace label).
    pub async fn stacks(&self) -> Result<Vec<StackSummary>> {
        let opts = ListServicesOptions { filters: filter("label", NAMESPACE), status: Some(true) };
        let services = self.docker.list_services(Some(opts)).await.map_err(|e| engine("listing services", e))?;
        let mut stacks: Vec<StackSummary> = Vec::new();
        for s in services {
            let Some(name) = s.spec.as_ref().and_then(|sp| sp.labels.as_ref()).and_then(|l| l.get(NAMESPACE)).cloned() else { continue };
            let status = s.service_status.clone().unwrap_or_default();
            let idx = match stacks.iter().position(|st| st.name == name) {
                Some(i) => i,
                None => {
                    stacks.push(StackSummary { name, services: 0, running: 0, desired: 0 });
                    stacks.len() - 1
                }
            };
            let st = &mut stacks[idx];
            st.services += 1;
            st.running += status.running_tasks.unwrap_or(0);
            st.desired += status.desired_tasks.unwrap_or_else(|| s.spec.as_ref().and_then(replicas_of).unwrap_or(0));
        }
        stacks.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(stacks)
    }

    /// The output of the stack's tasks (of `services`, of slot `index`), each line
    /// attributed to its task (`web.1`). With `follow`, tasks that start later (a scale, a
    /// rolling update) are picked up, until the stream is dropped.
    pub async fn logs(&self, stack: &str, services: &[String], index: Option<u32>, opts: &LogOptions) -> Result<LogStreamBox> {
        let wanted = move |t: &TaskSummary| index.is_none_or(|i| t.slot == Some(i));
        let tasks: Vec<TaskSummary> = self.tasks(stack, services, true).await?.into_iter().filter(wanted).collect();
        if !opts.follow {
            let streams: Vec<_> = tasks.iter().map(|t| self.task_lines(t, opts)).collect();
            return Ok(Box::pin(futures::stream::select_all(streams)));
        }
        let (tx, rx) = tokio::sync::mpsc::channel::<crate::backend::Result<LogLine>>(4096);
        let swarm = Swarm { docker: self.docker.clone(), progress: self.progress.clone() };
        let (stack, services, opts) = (stack.to_string(), services.to_vec(), opts.clone());
        tokio::spawn(async move {
            let mut seen: HashSet<String> = HashSet::new();
            let mut current = tasks;
            let mut first = true;
            while !tx.is_closed() {
                for t in current.iter().filter(|t| seen.insert(t.id.clone())) {
                    // Tasks that appear later are shown from their first line.
                    let o = LogOptions { tail: if first { opts.tail } else { None }, ..opts.clone() };
                    let mut lines = swarm.task_lines(t, &o);
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        while let Some(line) = lines.next().await {
                            if tx.send(line).await.is_err() {
                                break;
                            }
                        }
                    });
                }
                first = false;
                tokio::time::sleep(Duration::from_millis(500)).await;
                match swarm.tasks(&stack, &services, true).await {
                    Ok(list) => current = list.into_iter().filter(wanted).collect(),
                    Err(e) => {
                        let _ = tx.send(Err(crate::backend::BackendError::Engine(e.to_string()))).await;
                        break;
                    }
                }
            }
        });
        Ok(Box::pin(futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|line| (line, rx)) })))
    }

    /// One task's lines. Only a running task is followed; the output of a task that is
    /// gone may be gone with it, which is no error.
    fn task_lines(&self, t: &TaskSummary, opts: &LogOptions) -> LogStreamBox {
        let live = t.desired_state == "running";
        let q = logs::query(&LogOptions { follow: opts.follow && live, ..opts.clone() });
        let raw = Box::pin(self.docker.task_logs(&t.id, Some(q)));
        let lines = logs::lines(raw, t.name.clone());
        Box::pin(lines.filter(move |l| std::future::ready(live || l.is_ok())))
    }
}

fn summary(service: &str, t: Task, nodes: &HashMap<String, String>, ingress: &[PublishedPort]) -> TaskSummary {
    let status = t.status.unwrap_or_default();
    let node = t.node_id.as_ref().and_then(|n| nodes.get(n)).cloned().unwrap_or_default();
    let slot = t.slot.and_then(|s| u32::try_from(s).ok());
    let name = match slot {
        Some(s) => format!("{service}.{s}"),
        None => format!("{service}.{node}"),
    };
    let image = t.spec.and_then(|s| s.container_spec).and_then(|c| c.image).unwrap_or_default();
    let mut ports: Vec<PublishedPort> =
        status.port_status.and_then(|p| p.ports).unwrap_or_default().iter().map(published).collect();
    ports.extend(ingress.iter().cloned());
    // The engine reports a host-mode port once per address family.
    ports.dedup();
    TaskSummary {
        id: t.id.unwrap_or_default(),
        name,
        service: service.to_string(),
        slot,
        // `docker stack deploy` pins images by digest; show the name people wrote.
        image: image.split('@').next().unwrap_or_default().to_string(),
        node,
        desired_state: state_name(t.desired_state),
        state: state_name(status.state),
        since: status.timestamp.as_ref().and_then(parse_time),
        error: status.err.unwrap_or_default(),
        ports,
    }
}

fn published(p: &bollard::models::EndpointPortConfig) -> PublishedPort {
    PublishedPort {
        host_ip: String::new(),
        host_port: p.published_port.and_then(|n| u16::try_from(n).ok()).unwrap_or(0),
        container_port: p.target_port.and_then(|n| u16::try_from(n).ok()).unwrap_or(0),
        protocol: p.protocol.map(|p| p.to_string()).unwrap_or_else(|| "tcp".into()),
    }
}
