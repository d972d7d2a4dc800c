//! Container events and resource counters from the engine: the events API filtered by
//! the project label, and one-shot stats mapped to a `StatsSample`.

use std::collections::HashMap;

use bollard::Docker;
use bollard::models::{ContainerStatsResponse, EventMessage, EventMessageTypeEnum};
use bollard::query_parameters::{EventsOptions, StatsOptions};
use futures::StreamExt;

use super::{container_err, engine_err, parse_time};
use crate::backend::{ContainerEvent, EventOptions, EventStreamBox, Result, StatsSample, labels};

pub fn events(docker: &Docker, project: &str, opts: &EventOptions) -> EventStreamBox {
    let filters = HashMap::from([
        ("type".to_string(), vec!["container".to_string()]),
        ("label".to_string(), vec![format!("{}={project}", labels::PROJECT)]),
    ]);
    let q = EventsOptions {
        since: opts.since.map(unix_time),
        until: opts.until.map(unix_time),
        filters: Some(filters),
    };
    let stream = docker.events(Some(q)).filter_map(|item| async move {
        match item {
            Ok(m) => event(m).map(Ok),
            Err(e) => Some(Err(engine_err("reading engine events", e))),
        }
    });
    Box::pin(stream)
}

/// `seconds.nanoseconds`, the engine's most precise time format for since/until.
fn unix_time(t: chrono::DateTime<chrono::Utc>) -> String {
    format!("{}.{:09}", t.timestamp(), t.timestamp_subsec_nanos())
}

fn event(m: EventMessage) -> Option<ContainerEvent> {
    if m.typ.is_some_and(|t| t != EventMessageTypeEnum::CONTAINER) {
        return None;
    }
    let actor = m.actor?;
    let time = match (m.time_nano, m.time) {
        (Some(ns), _) if ns > 0 => chrono::DateTime::from_timestamp_nanos(ns),
        (_, Some(s)) => chrono::DateTime::from_timestamp(s, 0)?,
        _ => chrono::Utc::now(),
    };
    let mut attributes: Vec<(String, String)> = actor.attributes.unwrap_or_default().into_iter().collect();
    attributes.sort();
    Some(ContainerEvent { time, id: actor.id?, action: m.action?, attributes: attributes.into_iter().collect() })
}

pub async fn stats(docker: &Docker, id: &str) -> Result<StatsSample> {
    let q = StatsOptions { stream: false, one_shot: true };
    let mut s = docker.stats(id, Some(q));
    match s.next().await {
        Some(Ok(r)) => Ok(sample(r)),
        Some(Err(e)) => Err(container_err(id, "reading stats of", e)),
        None => Err(crate::backend::BackendError::Engine(format!("no stats for container {id}"))),
    }
}

fn sample(r: ContainerStatsResponse) -> StatsSample {
    let mem = r.memory_stats.unwrap_or_default();
    // Page cache that can be dropped does not count, as `docker stats` shows it
    // (cgroup v2: inactive_file, v1: total_inactive_file).
    let cache = mem.stats.as_ref().and_then(|s| s.get("inactive_file").or_else(|| s.get("total_inactive_file")).copied()).unwrap_or(0);
    let (mut rx, mut tx) = (0, 0);
    for n in r.networks.unwrap_or_default().values() {
        rx += n.rx_bytes.unwrap_or(0);
        tx += n.tx_bytes.unwrap_or(0);
    }
    let (mut read, mut write) = (0, 0);
    for e in r.blkio_stats.and_then(|b| b.io_service_bytes_recursive).unwrap_or_default() {
        match e.op.as_deref().map(str::to_ascii_lowercase).as_deref() {
            Some("read") => read += e.value.unwrap_or(0),
            Some("write") => write += e.value.unwrap_or(0),
            _ => {}
        }
    }
    StatsSample {
        read: r.read.as_ref().and_then(parse_time).unwrap_or_else(chrono::Utc::now),
        cpu_ns: r.cpu_stats.and_then(|c| c.cpu_usage).and_then(|u| u.total_usage).unwrap_or(0),
        memory_usage: mem.usage.unwrap_or(0).saturating_sub(cache),
        memory_limit: mem.limit.unwrap_or(0),
        net_rx: rx,
        net_tx: tx,
        block_read: read,
        block_write: write,
        pids: r.pids_stats.and_then(|p| p.current).unwrap_or(0),
    }
}
