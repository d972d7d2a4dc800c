//! `hoist logs`: the output of the project's containers, multiplexed.

use anyhow::{Context, Result};

use super::{common, App};
use crate::backend::LogOptions;
use crate::output::logs::LogPrinter;

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
    let mut list = common::containers(&ctx, &a.services, true).await?;
    if let Some(i) = a.index {
        list.retain(|c| c.number == i);
    }
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
    let mut printer = LogPrinter::new(&list, app.color && !a.no_color, !a.no_log_prefix, a.timestamps);
    let stream = ctx.backend.logs(&list, &opts).await?;
    tokio::select! {
        r = printer.print(stream) => r?,
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(0)
}
