//! `start`, `stop`, `restart`, `kill`, `rm`, `pause`, `unpause`, `top`: act on existing containers.

use anyhow::{Context, Result};
use futures::future::join_all;

use super::{common, App};
use crate::plan::execute;

#[derive(clap::Args, Debug)]
pub struct ServicesArgs {
    services: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct StartArgs {
    /// Wait for services to be running|healthy.
    #[arg(long)]
    wait: bool,
    /// Maximum duration in seconds to wait for the project to be running|healthy.
    #[arg(long, value_name = "SECONDS", requires = "wait")]
    wait_timeout: Option<u64>,
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
pub struct RestartArgs {
    /// Shutdown timeout in seconds.
    #[arg(short = 't', long)]
    timeout: Option<u64>,
    /// Don't restart dependent services.
    #[arg(long)]
    no_deps: bool,
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

pub async fn start(app: &App, a: StartArgs) -> Result<i32> {
    let ctx = app.ctx_targeting(&a.services).await?;
    common::check_services(&ctx, &a.services)?;
    execute::start_existing(&ctx, &a.services).await?;
    if a.wait {
        let services: Vec<String> = if a.services.is_empty() { ctx.project.services.keys().cloned().collect() } else { a.services.clone() };
        execute::wait_until_ready(&ctx, &services, a.wait_timeout.map(std::time::Duration::from_secs)).await?;
    }
    Ok(0)
}

pub async fn stop(app: &App, a: StopArgs) -> Result<i32> {
    let ctx = app.ctx_targeting(&a.services).await?;
    common::check_services(&ctx, &a.services)?;
    execute::stop(&ctx, &a.services, common::timeout(a.timeout)).await?;
    Ok(0)
}

pub async fn restart(app: &App, a: RestartArgs) -> Result<i32> {
    let ctx = app.ctx_targeting(&a.services).await?;
    common::check_services(&ctx, &a.services)?;
    execute::restart(&ctx, &a.services, a.no_deps, common::timeout(a.timeout)).await?;
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
    // Without -f, Compose asks, and anything but yes removes nothing.
    if !a.force {
        let names: Vec<&str> = list.iter().map(|c| c.name.as_str()).collect();
        eprint!("Going to remove {}\n? Are you sure? [y/N] ", names.join(", "));
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if !matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
            eprintln!();
            return Ok(0);
        }
    }
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
    // One table, SERVICE and container number first, as Compose prints it.
    let mut rows: Vec<Vec<String>> = Vec::new();
    for c in common::containers(&ctx, &a.services, false).await? {
        let list = ctx.backend.top(&c.id).await.with_context(|| format!("container {}", c.name))?;
        if rows.is_empty() {
            rows.push(["SERVICE".to_string(), "#".to_string()].into_iter().chain(list.titles.iter().cloned()).collect());
        }
        for p in list.processes {
            rows.push([c.service.clone(), c.number.to_string()].into_iter().chain(p).collect());
        }
    }
    super::ps::print_table(&rows)?;
    Ok(0)
}
