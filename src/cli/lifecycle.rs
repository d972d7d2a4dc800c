//! `start`, `stop`, `restart`, `kill`, `rm`, `pause`, `unpause`, `top`: act on existing containers.

use std::io::Write;
use anyhow::{Context, Result};
use futures::future::join_all;

use super::{common, App};
use crate::plan::execute;

#[derive(clap::Args, Debug)]
pub struct ServicesArgs {
    services: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct StopArgs {
    /// Shutdown timeout in seconds.
    #[arg(short = 't', long)]
    timeout: Option<u64>,
    services: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct KillArgs {
    /// SIGNAL to send to the container.
    #[arg(short = 's', long, default_value = "SIGKILL")]
    signal: String,
    /// Remove containers for services not defined in the Compose file.
    #[arg(long, env = "COMPOSE_REMOVE_ORPHANS", value_parser = clap::builder::BoolishValueParser::new())]
    remove_orphans: bool,
    services: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct RmArgs {
    /// Don't ask to confirm removal.
    #[arg(short = 'f', long)]
    force: bool,
    /// Stop the containers, if required, before removing.
    #[arg(short = 's', long)]
    stop: bool,
    /// Remove any anonymous volumes attached to containers.
    #[arg(short = 'v', long)]
    volumes: bool,
    services: Vec<String>,
}

pub async fn start(app: &App, a: ServicesArgs) -> Result<i32> {
    let ctx = app.ctx_targeting(&a.services).await?;
    common::check_services(&ctx, &a.services)?;
    execute::start_existing(&ctx, &a.services).await?;
    Ok(0)
}

pub async fn stop(app: &App, a: StopArgs) -> Result<i32> {
    let ctx = app.ctx_targeting(&a.services).await?;
    common::check_services(&ctx, &a.services)?;
    execute::stop(&ctx, &a.services, common::timeout(a.timeout)).await?;
    Ok(0)
}

pub async fn restart(app: &App, a: StopArgs) -> Result<i32> {
    let ctx = app.ctx_targeting(&a.services).await?;
    common::check_services(&ctx, &a.services)?;
    execute::stop(&ctx, &a.services, common::timeout(a.timeout)).await?;
    execute::start_existing(&ctx, &a.services).await?;
    Ok(0)
}

pub async fn kill(app: &App, a: KillArgs) -> Result<i32> {
    let ctx = app.ctx_targeting(&a.services).await?;
    common::check_services(&ctx, &a.services)?;
    let list = common::containers(&ctx, &a.services, false).await?;
    let results = join_all(list.iter().map(|c| {
        let ctx = &ctx;
        let signal = &a.signal;
        async move {
            ctx.backend.kill_container(&c.id, signal).await.with_context(|| format!("container {}", c.name))?;
            ctx.progress.event("Container", &c.name, "Killed");
            Ok::<(), anyhow::Error>(())
        }
    }))
    .await;
    results.into_iter().collect::<Result<Vec<_>>>()?;
    if a.remove_orphans {
        execute::remove_orphans(&ctx, None).await?;
    }
    Ok(0)
}

pub async fn rm(app: &App, a: RmArgs) -> Result<i32> {
    let ctx = app.ctx_targeting(&a.services).await?;
    common::check_services(&ctx, &a.services)?;
    let _lock = common::lock_project(&ctx).await?;
    if a.stop {
        execute::stop(&ctx, &a.services, None).await?;
    }
    let list: Vec<_> = common::containers(&ctx, &a.services, true).await?.into_iter().filter(|c| !c.state.is_running()).collect();
    if list.is_empty() {
        eprintln!("No stopped containers");
        return Ok(0);
    }
    let _ = a.force; // no interactive confirmation: removal of stopped containers is what was asked
    for c in &list {
        ctx.progress.event("Container", &c.name, "Removing");
        ctx.backend.remove_container(&c.id, false, a.volumes).await.with_context(|| format!("container {}", c.name))?;
        ctx.progress.event("Container", &c.name, "Removed");
    }
    Ok(0)
}

pub async fn pause(app: &App, a: ServicesArgs, pause: bool) -> Result<i32> {
    let ctx = app.ctx_targeting(&a.services).await?;
    common::check_services(&ctx, &a.services)?;
    for c in common::containers(&ctx, &a.services, false).await? {
        if pause {
            ctx.backend.pause_container(&c.id).await.with_context(|| format!("container {}", c.name))?;
            ctx.progress.event("Container", &c.name, "Paused");
        } else {
            ctx.backend.unpause_container(&c.id).await.with_context(|| format!("container {}", c.name))?;
            ctx.progress.event("Container", &c.name, "Unpaused");
        }
    }
    Ok(0)
}

pub async fn top(app: &App, a: ServicesArgs) -> Result<i32> {
    let ctx = app.ctx_targeting(&a.services).await?;
    common::check_services(&ctx, &a.services)?;
    for c in common::containers(&ctx, &a.services, false).await? {
        let list = ctx.backend.top(&c.id).await.with_context(|| format!("container {}", c.name))?;
        writeln!(std::io::stdout(), "{}", c.name)?;
        let mut rows = vec![list.titles.clone()];
        rows.extend(list.processes.iter().cloned());
        super::ps::print_table(&rows)?;
        writeln!(std::io::stdout())?;
    }
    Ok(0)
}
