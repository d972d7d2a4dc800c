//! `hoist ps`: the project's containers as a table, ids, services or JSON.

use std::io::Write;

use anyhow::{bail, Result};
use serde::Serialize;

use super::{common, App};
use crate::backend::{ContainerState, ContainerSummary};
use crate::output::template::{self, Format};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Show all stopped containers (including those created by the run command).
    #[arg(short = 'a', long)]
    pub(super) all: bool,
    /// Only display IDs.
    #[arg(short = 'q', long)]
    pub(super) quiet: bool,
    /// Display services.
    #[arg(long)]
    pub(super) services: bool,
    /// Filter services by a property (supported filters: status).
    #[arg(long, value_name = "KEY=VAL")]
    pub(super) filter: Option<String>,
    /// Filter by status: created, restarting, running, removing, paused, exited, dead (repeatable).
    #[arg(long)]
    pub(super) status: Vec<String>,
    /// Include orphaned services (not declared by project); `--orphans=false` leaves them out.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub(super) orphans: bool,
    /// Don't truncate output.
    #[arg(long)]
    pub(super) no_trunc: bool,
    /// table, json, or a Go template over the JSON fields: `table {{.Name}}\t{{.Label "x"}}`.
    #[arg(long, default_value = "table")]
    pub(super) format: String,
    #[arg(value_name = "SERVICE")]
    pub(super) service_names: Vec<String>,
}

/// One row of `ps --format json`: Docker Compose's fields, in its (alphabetical) order.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Row {
    command: String,
    created_at: String,
    exit_code: i32,
    health: String,
    #[serde(rename = "ID")]
    id: String,
    image: String,
    /// `key=value` pairs joined by commas, as Docker Compose prints them (sorted here).
    labels: String,
    local_volumes: String,
    mounts: String,
    name: String,
    names: String,
    networks: String,
    ports: String,
    project: String,
    publishers: Vec<Publisher>,
    running_for: String,
    service: String,
    size: String,
    state: String,
    status: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Publisher {
    #[serde(rename = "URL")]
    pub(super) url: String,
    pub(super) target_port: u16,
    pub(super) published_port: u16,
    pub(super) protocol: String,
}

impl Args {
    /// The states asked for by `--status` and `--filter status=X` (Compose's only filter).
    pub(super) fn statuses(&self) -> Result<Vec<String>> {
        let mut status = self.status.clone();
        if let Some(filter) = &self.filter {
            match filter.split_once('=') {
                Some(("status", v)) => status.push(v.to_string()),
                Some(("source", _)) => bail!("the source filter is not implemented (nor is it in Docker Compose)"),
                Some((key, _)) => bail!("unknown filter {key}"),
                None => bail!("arguments to --filter should be in form KEY=VAL"),
            }
        }
        Ok(status)
    }
}

pub async fn run(app: &App, a: Args) -> Result<i32> {
    let status = a.statuses()?;
    let format = Format::parse(&a.format)?;
    let ctx = app.ctx().await?;
    common::check_services(&ctx, &a.service_names)?;
    let all = a.all || !status.is_empty();
    let mut list = common::containers(&ctx, &a.service_names, all).await?;
    if !a.all {
        list.retain(|c| !c.oneoff || c.state.is_running());
    }
    if !status.is_empty() {
        list.retain(|c| status.iter().any(|s| s == c.state.as_str()));
    }
    if !a.orphans && !ctx.project.from_labels {
        list.retain(|c| ctx.project.services.contains_key(&c.service));
    }
    // By name, as Docker Compose lists them.
    list.sort_by(|x, y| x.name.cmp(&y.name));
    let mut out = std::io::stdout().lock();
    if a.quiet {
        for c in &list {
            writeln!(out, "{}", c.id)?;
        }
        return Ok(0);
    }
    if a.services {
        let mut seen = Vec::new();
        for c in &list {
            if !seen.contains(&c.service) {
                writeln!(out, "{}", c.service)?;
                seen.push(c.service.clone());
            }
        }
        return Ok(0);
    }
    drop(out);
    let trunc = !a.no_trunc;
    let rows: Vec<template::Row<Row>> = list.iter().map(|c| template::Row { fields: row(c, trunc), labels: Some(&c.labels) }).collect();
    format.print(&rows, header, || {
        let mut table = vec![["NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS"].map(String::from).to_vec()];
        for r in rows.iter().map(|r| &r.fields) {
            table.push([&r.name, &r.image, &r.command, &r.service, &r.running_for, &r.status, &r.ports].map(String::clone).to_vec());
        }
        table
    })?;
    Ok(0)
}

/// A container's fields as Docker Compose's formatter gives them; `trunc` shortens the ID
/// to 12 digits, the command to 20 characters and mount names to 15.
fn row(c: &ContainerSummary, trunc: bool) -> Row {
    let ellipsis = |s: &str, n: usize| if trunc && s.chars().count() > n { s.chars().take(n - 1).collect::<String>() + "…" } else { s.to_string() };
    let now = chrono::Utc::now();
    Row {
        command: format!("{:?}", ellipsis(&c.command, 20)),
        // Go's time.Time String() in UTC: `2026-12-06 10:54:00 +0000 UTC`.
        created_at: c.created.format("%Y-%m-%d %H:%M:%S +0000 UTC").to_string(),
        // Compose reports the exit code of stopped containers only.
        exit_code: if matches!(c.state, ContainerState::Exited | ContainerState::Dead) { c.exit_code.unwrap_or(0) } else { 0 },
        health: if c.state == ContainerState::Running { c.health.map(|h| h.as_str().to_string()).unwrap_or_default() } else { String::new() },
        id: if trunc { c.id.chars().take(12).collect() } else { c.id.clone() },
        image: c.image.clone(),
        labels: {
            let mut pairs: Vec<String> = c.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            pairs.sort();
            pairs.join(",")
        },
        local_volumes: c.local_volumes.to_string(),
        mounts: c.mounts.iter().map(|m| ellipsis(m, 15)).collect::<Vec<_>>().join(","),
        name: c.name.clone(),
        names: c.name.clone(),
        networks: c.networks.join(","),
        ports: common::ports_text(c),
        project: c.project.clone(),
        publishers: c
            .ports
            .iter()
            .map(|p| Publisher {
                url: if p.host_port == 0 { String::new() } else if p.host_ip.is_empty() { "0.0.0.0".into() } else { p.host_ip.clone() },
                target_port: p.container_port,
                published_port: p.host_port,
                protocol: p.protocol.clone(),
            })
            .collect(),
        running_for: format!("{} ago", common::human_duration((now - c.created).to_std().unwrap_or_default())),
        service: c.service.clone(),
        // The writable layer's size is not measured by `ps` (Compose asks the engine
        // without sizes, so its value is 0B too).
        size: "0B".into(),
        state: c.state.as_str().into(),
        status: common::status_text(c),
    }
}

/// Column names of Docker Compose's container formatter.
fn header(field: &str) -> String {
    match field {
        "ID" => "CONTAINER ID".into(),
        "CreatedAt" => "CREATED AT".into(),
        "RunningFor" => "CREATED".into(),
        other => template::default_header(other),
    }
}

pub use crate::output::template::print_table;
