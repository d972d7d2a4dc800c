//! `hoist stats`: CPU, memory, network, block I/O and PIDs of the running containers, as
//! `docker stats` shows them; CPU % is the CPU time used between two samples.

use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use anyhow::Result;
use futures::future::join_all;
use serde::Serialize;

use super::{common, App};
use crate::backend::{ContainerSummary, StatsSample};
use crate::output::template::{self, Format};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Show all containers (default shows just running).
    #[arg(short = 'a', long)]
    all: bool,
    /// Disable streaming stats and only pull the first result.
    #[arg(long)]
    no_stream: bool,
    /// Don't truncate output.
    #[arg(long)]
    no_trunc: bool,
    /// table, json (one object per container and line), or a Go template over the JSON fields.
    #[arg(long, default_value = "table")]
    format: String,
    services: Vec<String>,
}

/// One container's line: Docker's text fields, then the numbers behind them.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Row {
    #[serde(rename = "ID")]
    id: String,
    container: String,
    name: String,
    service: String,
    #[serde(rename = "CPUPerc")]
    cpu_perc: String,
    mem_usage: String,
    mem_perc: String,
    #[serde(rename = "NetIO")]
    net_io: String,
    #[serde(rename = "BlockIO")]
    block_io: String,
    #[serde(rename = "PIDs")]
    pids_text: String,
    #[serde(rename = "CPUPercent")]
    cpu_percent: f64,
    memory_usage: u64,
    memory_limit: u64,
    memory_percent: f64,
    net_rx: u64,
    net_tx: u64,
    block_read: u64,
    block_write: u64,
    pids: u64,
}

impl Row {
    /// A running container's row from two samples; a stopped one's (`before` None) is zeros.
    fn new(c: &ContainerSummary, before: Option<&StatsSample>, now: &StatsSample, trunc: bool) -> Row {
        let wall = before.map_or(0, |b| (now.read - b.read).num_nanoseconds().unwrap_or(0));
        let cpu_percent = match before {
            Some(b) if wall > 0 => now.cpu_ns.saturating_sub(b.cpu_ns) as f64 / wall as f64 * 100.0,
            _ => 0.0,
        };
        let memory_percent = if now.memory_limit > 0 { now.memory_usage as f64 / now.memory_limit as f64 * 100.0 } else { 0.0 };
        let id: String = if trunc { c.id.chars().take(12).collect() } else { c.id.clone() };
        Row {
            container: id.clone(),
            id,
            name: c.name.clone(),
            service: c.service.clone(),
            cpu_perc: format!("{cpu_percent:.2}%"),
            mem_usage: format!("{} / {}", binary_size(now.memory_usage), binary_size(now.memory_limit)),
            mem_perc: format!("{memory_percent:.2}%"),
            net_io: format!("{} / {}", decimal_size(now.net_rx), decimal_size(now.net_tx)),
            block_io: format!("{} / {}", decimal_size(now.block_read), decimal_size(now.block_write)),
            pids_text: now.pids.to_string(),
            cpu_percent,
            memory_usage: now.memory_usage,
            memory_limit: now.memory_limit,
            memory_percent,
            net_rx: now.net_rx,
            net_tx: now.net_tx,
            block_read: now.block_read,
            block_write: now.block_write,
            pids: now.pids,
        }
    }
}

pub async fn run(app: &App, a: Args) -> Result<i32> {
    let format = Format::parse(&a.format)?;
    let ctx = app.ctx().await?;
    common::check_services(&ctx, &a.services)?;
    let interval = Duration::from_millis(if a.no_stream { 500 } else { 1000 });
    let terminal = console::Term::stdout().is_term();
    let mut previous: HashMap<String, StatsSample> = HashMap::new();
    let mut first = true;
    let sampling = async {
        loop {
            // Containers started meanwhile join; those that stopped leave.
            let mut list = common::containers(&ctx, &a.services, a.all).await?;
            list.retain(|c| !c.oneoff || c.state.is_running());
            let samples = join_all(list.iter().map(|c| async { if c.state.is_running() { ctx.backend.stats(&c.id).await.ok() } else { None } })).await;
            let mut rows = Vec::new();
            let mut next = HashMap::new();
            for (c, sample) in list.iter().zip(samples) {
                match sample {
                    Some(sample) => {
                        if let Some(before) = previous.get(&c.id) {
                            rows.push(Row::new(c, Some(before), &sample, !a.no_trunc));
                        }
                        next.insert(c.id.clone(), sample);
                    }
                    // Stopped (or stopped between the list and the read): zeros with -a, as Docker.
                    None if a.all => rows.push(Row::new(c, None, &StatsSample::default(), !a.no_trunc)),
                    None => {}
                }
            }
            previous = next;
            if !first {
                print(&rows, &format, terminal && !a.no_stream)?;
                if a.no_stream {
                    return Ok::<(), anyhow::Error>(());
                }
            }
            first = false;
            tokio::time::sleep(interval).await;
        }
    };
    tokio::select! {
        r = sampling => r?,
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(0)
}

fn print(rows: &[Row], format: &Format, redraw: bool) -> Result<()> {
    if redraw && *format == Format::Table {
        // Clear the screen and go home, as `docker stats` redraws.
        write!(std::io::stdout(), "\x1b[2J\x1b[H")?;
    }
    let fields: Vec<_> = rows.iter().map(|r| template::Row { fields: r, labels: None }).collect();
    format.print(&fields, header, || {
        let mut table = vec![["CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS"].map(String::from).to_vec()];
        for r in rows {
            table.push(vec![r.id.clone(), r.name.clone(), r.cpu_perc.clone(), r.mem_usage.clone(), r.mem_perc.clone(), r.net_io.clone(), r.block_io.clone(), r.pids_text.clone()]);
        }
        table
    })?;
    std::io::stdout().flush()?;
    Ok(())
}

/// Column names of `docker stats`.
fn header(field: &str) -> String {
    match field {
        "ID" => "CONTAINER ID".into(),
        "Container" => "CONTAINER".into(),
        "CPUPerc" => "CPU %".into(),
        "MemUsage" => "MEM USAGE / LIMIT".into(),
        "MemPerc" => "MEM %".into(),
        "NetIO" => "NET I/O".into(),
        "BlockIO" => "BLOCK I/O".into(),
        "PIDs" => "PIDS".into(),
        other => template::default_header(other),
    }
}

/// Memory as Docker shows it: powers of 1024, four significant digits (`1.5MiB`).
fn binary_size(bytes: u64) -> String {
    scaled(bytes, 1024.0, &["B", "KiB", "MiB", "GiB", "TiB", "PiB"], 4)
}

/// Traffic as Docker shows it: powers of 1000, three significant digits (`1.23kB`).
pub(super) fn decimal_size(bytes: u64) -> String {
    scaled(bytes, 1000.0, &["B", "kB", "MB", "GB", "TB", "PB"], 3)
}

fn scaled(bytes: u64, base: f64, units: &[&str], digits: i32) -> String {
    let (mut v, mut i) = (bytes as f64, 0);
    while v >= base && i + 1 < units.len() {
        v /= base;
        i += 1;
    }
    let whole_digits = if v >= 1.0 { v.log10().floor() as i32 + 1 } else { 1 };
    let decimals = (digits - whole_digits).max(0) as usize;
    let mut s = format!("{v:.decimals$}");
    if s.contains('.') {
        s = s.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    format!("{s}{}", units[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_as_docker_prints_them() {
        assert_eq!(binary_size(0), "0B");
        assert_eq!(binary_size(1536 * 1024), "1.5MiB");
        assert_eq!(binary_size(8_346_005_504), "7.773GiB");
        assert_eq!(decimal_size(648), "648B");
        assert_eq!(decimal_size(1234), "1.23kB");
        assert_eq!(decimal_size(12_000_000), "12MB");
    }

    #[test]
    fn cpu_percent_from_two_samples() {
        let t0 = chrono::Utc::now();
        let before = StatsSample { read: t0, cpu_ns: 1_000_000_000, ..Default::default() };
        let now = StatsSample { read: t0 + chrono::Duration::seconds(2), cpu_ns: 2_000_000_000, memory_usage: 50, memory_limit: 200, ..Default::default() };
        let r = Row::new(&ContainerSummary::for_test("demo", "web", 1), Some(&before), &now, true);
        assert_eq!((r.cpu_perc.as_str(), r.mem_perc.as_str()), ("50.00%", "25.00%"));
    }
}
