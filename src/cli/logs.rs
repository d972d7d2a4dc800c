//! `hoist logs`: the output of the project's containers, multiplexed. With `-f` it also
//! follows containers that appear later (scale up, recreate), which Docker Compose misses.

use std::collections::HashSet;
use std::io::Write;
use std::time::Duration;

use anyhow::{Context, Result};
use futures::StreamExt;

use super::{common, App};
use crate::backend::{LogLine, LogOptions};
use crate::output::logs::LogPrinter;
use crate::plan::execute::Ctx;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Follow log output.
    #[arg(short = 'f', long)]
    follow: bool,
    /// Number of lines to show from the end of the logs for each container (or `all`).
    #[arg(short = 'n', long, default_value = "all")]
    tail: String,
    /// Show timestamps.
    #[arg(short = 't', long)]
    timestamps: bool,
    /// Show logs since timestamp (RFC 3339) or relative (e.g. 42m).
    #[arg(long)]
    since: Option<String>,
    /// Show logs before a timestamp (RFC 3339) or relative (e.g. 42m).
    #[arg(long)]
    until: Option<String>,
    /// Produce monochrome output.
    #[arg(long)]
    no_color: bool,
    /// Don't print prefix in logs.
    #[arg(long)]
    no_log_prefix: bool,
    /// Index of the container if the service has multiple replicas.
    #[arg(long)]
    index: Option<u32>,
    services: Vec<String>,
}

fn parse_time(s: &str) -> Result<chrono::DateTime<chrono::Utc>> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&chrono::Utc));
    }
    let d = crate::compose::model::parse_duration(s).with_context(|| format!("invalid time {s:?}: use RFC 3339 or a duration like 42m"))?;
    Ok(chrono::Utc::now() - chrono::Duration::from_std(d)?)
}

pub async fn run(app: &App, a: Args) -> Result<i32> {
    let ctx = app.ctx().await?;
    common::check_services(&ctx, &a.services)?;
    let tail = match a.tail.as_str() {
        "all" | "-1" => None,
        n => Some(n.parse::<usize>().with_context(|| format!("invalid --tail {n:?}"))?),
    };
    let opts = LogOptions {
        follow: a.follow,
        tail,
        since: a.since.as_deref().map(parse_time).transpose()?,
        until: a.until.as_deref().map(parse_time).transpose()?,
        timestamps: a.timestamps,
    };
    let mut list = common::containers(&ctx, &a.services, true).await?;
    if let Some(i) = a.index {
        list.retain(|c| c.number == i);
    }
    let mut printer = LogPrinter::new(&list, app.color && !a.no_color, !a.no_log_prefix, a.timestamps);
    if !a.follow {
        let stream = ctx.backend.logs(&list, &opts).await?;
        printer.print(stream).await?;
        return Ok(0);
    }
    tokio::select! {
        r = follow(&ctx, &a.services, a.index, &opts, &mut printer, false) => r?,
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(0)
}

/// Streams the logs of the services' containers, picking up containers that appear later.
/// With `until_all_exit`, returns once every container has stopped and its output is drained.
pub async fn follow(ctx: &Ctx, services: &[String], index: Option<u32>, opts: &LogOptions, printer: &mut LogPrinter, until_all_exit: bool) -> Result<()> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<LogLine>>(4096);
    let mut seen: HashSet<String> = HashSet::new();
    let mut first = true;
    let open_streams = std::sync::Arc::new(());
    loop {
        let current: Vec<_> = common::containers(ctx, services, true)
            .await?
            .into_iter()
            .filter(|c| !c.oneoff && index.is_none_or(|i| c.number == i))
            .collect();
        let fresh: Vec<_> = current.iter().filter(|c| !seen.contains(&c.id)).cloned().collect();
        if !fresh.is_empty() {
            for c in &fresh {
                seen.insert(c.id.clone());
                printer.add(c);
            }
            // Containers that appear after the start are shown from their first line.
            let mut o = opts.clone();
            if !first {
                o.tail = None;
            }
            let mut stream = ctx.backend.logs(&fresh, &o).await?;
            let tx = tx.clone();
            let token = open_streams.clone();
            tokio::spawn(async move {
                let _token = token;
                while let Some(item) = stream.next().await {
                    if tx.send(item.map_err(anyhow::Error::from)).await.is_err() {
                        break;
                    }
                }
            });
        }
        first = false;
        // Print what arrived, then look for new containers again.
        let deadline = tokio::time::sleep(Duration::from_millis(500));
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                Some(item) = rx.recv() => {
                    let line = item?;
                    writeln!(std::io::stdout(), "{}", printer.format(&line))?;
                }
                _ = &mut deadline => break,
            }
        }
        if until_all_exit && current.iter().all(|c| !c.state.is_running()) && std::sync::Arc::strong_count(&open_streams) == 1 {
            while let Ok(item) = rx.try_recv() {
                writeln!(std::io::stdout(), "{}", printer.format(&item?))?;
            }
            return Ok(());
        }
    }
}
