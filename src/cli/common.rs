//! Small pieces the command files share.

use std::time::Duration;

use anyhow::{bail, Result};

use crate::backend::ContainerSummary;
use crate::plan::execute::Ctx;

/// `-t/--timeout` seconds → Duration.
pub fn timeout(secs: Option<u64>) -> Option<Duration> {
    secs.map(Duration::from_secs)
}

/// Rejects service names the project does not define.
pub fn check_services(ctx: &Ctx, services: &[String]) -> Result<()> {
    // Without a file, the services are those of the containers found.
    if ctx.project.from_labels {
        return Ok(());
    }
    for s in services {
        if !ctx.project.services.contains_key(s) {
            bail!("no such service: {s}");
        }
    }
    Ok(())
}

/// The project's service containers (not one-off), optionally only of `services`, by
/// service order then number.
pub async fn containers(ctx: &Ctx, services: &[String], all: bool) -> Result<Vec<ContainerSummary>> {
    let mut list: Vec<ContainerSummary> = ctx
        .observe()
        .await?
        .into_iter()
        .filter(|c| services.is_empty() || services.contains(&c.service))
        .filter(|c| all || c.state.is_running())
        .collect();
    let order: Vec<&String> = ctx.project.services.keys().collect();
    list.sort_by_key(|c| (order.iter().position(|s| **s == c.service).unwrap_or(usize::MAX), c.oneoff, c.number, c.name.clone()));
    Ok(list)
}

/// The container `--index N` of a service (default 1), running.
pub async fn service_container(ctx: &Ctx, service: &str, index: Option<u32>) -> Result<ContainerSummary> {
    check_services(ctx, &[service.to_string()])?;
    let list = containers(ctx, &[service.to_string()], true).await?;
    let list: Vec<_> = list.into_iter().filter(|c| !c.oneoff).collect();
    let found = match index {
        Some(i) => list.into_iter().find(|c| c.number == i),
        None => list.into_iter().min_by_key(|c| (!c.state.is_running(), c.number)),
    };
    match (found, index) {
        (Some(c), _) => Ok(c),
        (None, Some(i)) => bail!("service {service:?} has no container number {i}"),
        (None, None) => bail!("service {service:?} is not running"),
    }
}

/// `KEY=VAL` or `KEY` (value from the environment) pairs from `-e`.
pub fn env_pairs(items: &[String]) -> Vec<(String, String)> {
    items
        .iter()
        .filter_map(|e| match e.split_once('=') {
            Some((k, v)) => Some((k.to_string(), v.to_string())),
            None => std::env::var(e).ok().map(|v| (e.clone(), v)),
        })
        .collect()
}

/// "Up 3 seconds", "Exited (0) 2 minutes ago": Docker's status wording.
pub fn status_text(c: &ContainerSummary) -> String {
    use crate::backend::{ContainerState, Health};
    let now = chrono::Utc::now();
    let ago = |t: Option<chrono::DateTime<chrono::Utc>>| t.map(|t| human_duration((now - t).to_std().unwrap_or_default()));
    match c.state {
        ContainerState::Running | ContainerState::Paused => {
            let mut s = format!("Up {}", ago(c.started_at).unwrap_or_else(|| "Less than a second".into()));
            match c.health {
                Some(Health::Healthy) => s.push_str(" (healthy)"),
                Some(Health::Unhealthy) => s.push_str(" (unhealthy)"),
                Some(Health::Starting) => s.push_str(" (health: starting)"),
                None => {}
            }
            if c.state == ContainerState::Paused {
                s.push_str(" (Paused)");
            }
            s
        }
        ContainerState::Exited | ContainerState::Dead => {
            format!("Exited ({}) {} ago", c.exit_code.unwrap_or(0), ago(c.finished_at).unwrap_or_else(|| "Less than a second".into()))
        }
        ContainerState::Created => "Created".into(),
        ContainerState::Restarting => format!("Restarting ({})", c.exit_code.unwrap_or(0)),
        ContainerState::Removing => "Removal In Progress".into(),
    }
}

pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0 => "Less than a second".into(),
        1 => "1 second".into(),
        2..=59 => format!("{s} seconds"),
        60..=119 => "About a minute".into(),
        120..=3599 => format!("{} minutes", s / 60),
        3600..=7199 => "About an hour".into(),
        7200..=172_799 => format!("{} hours", s / 3600),
        _ => format!("{} days", s / 86400),
    }
}

/// Ports as `ps` shows them: `0.0.0.0:8080->80/tcp`.
pub fn ports_text(c: &ContainerSummary) -> String {
    c.ports
        .iter()
        .map(|p| {
            if p.host_port == 0 {
                format!("{}/{}", p.container_port, p.protocol)
            } else {
                format!("{}:{}->{}/{}", if p.host_ip.is_empty() { "0.0.0.0" } else { &p.host_ip }, p.host_port, p.container_port, p.protocol)
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub use crate::plan::lock::{lock_named, lock_project};
