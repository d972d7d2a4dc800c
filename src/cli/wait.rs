//! `hoist wait`: blocks until the services' containers stop, prints their exit codes, and
//! exits with the code of the first to stop (`--down-project` then takes the project down).

use std::io::Write;

use anyhow::{Context, Result, bail};
use futures::StreamExt;
use futures::stream::FuturesUnordered;

use super::{common, App};
use crate::plan::execute::{self, DownOptions};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Drops project when the first container stops.
    #[arg(long)]
    down_project: bool,
    #[arg(required = true)]
    services: Vec<String>,
}

pub async fn run(app: &App, a: Args) -> Result<i32> {
    let ctx = app.ctx().await?;
    common::check_services(&ctx, &a.services)?;
    let list = common::containers(&ctx, &a.services, true).await?;
    if list.is_empty() {
        bail!("no containers for {} in project {:?}", a.services.join(", "), ctx.project.name);
    }
    let mut waits: FuturesUnordered<_> = list
        .iter()
        .map(|c| {
            let backend = ctx.backend.clone();
            async move { (c, backend.wait_container(&c.id).await) }
        })
        .collect();
    let mut first = None;
    while let Some((c, code)) = waits.next().await {
        let code = code.with_context(|| format!("waiting for container {}", c.name))?;
        writeln!(std::io::stdout(), "container {:?} exited with status code {code}", c.name)?;
        if first.is_none() {
            first = Some(code);
            if a.down_project {
                break;
            }
        }
    }
    drop(waits);
    if a.down_project {
        let _lock = common::lock_project(&ctx).await?;
        execute::down(&ctx, &DownOptions { remove_orphans: true, ..Default::default() }).await?;
    }
    Ok(first.unwrap_or(0))
}
