//! `hoist watch`: bring the services up, then keep their containers in step with their
//! source files (`develop.watch`) until Ctrl-C.

use std::future::Future;

use anyhow::Result;

use super::{common, App};
use crate::plan::execute::{self, UpOptions};
use crate::watch::Watch;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Do not build and start the services before watching.
    #[arg(long)]
    no_up: bool,
    /// Hide build output.
    #[arg(long)]
    quiet: bool,
    /// Prune dangling images on rebuild (`--prune=false` keeps them).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    prune: bool,
    services: Vec<String>,
}

pub async fn run(app: &App, a: Args) -> Result<i32> {
    let ctx = app.ctx_targeting(&a.services).await?;
    let mut watch = Watch::new(&ctx.project, &a.services)?;
    watch.quiet = a.quiet;
    watch.prune = a.prune;
    if !a.no_up {
        let _lock = common::lock_project(&ctx).await?;
        execute::up(&ctx, &UpOptions { services: watch.service_names(), ..UpOptions::default() }).await?;
    }
    until_stopped(watch.run(&ctx)).await
}

/// Runs `f` until it ends or SIGINT/SIGTERM arrives, which is a clean end (exit 0).
pub async fn until_stopped(f: impl Future<Output = Result<()>>) -> Result<i32> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = f => r.map(|_| 0),
        _ = tokio::signal::ctrl_c() => Ok(0),
        _ = term.recv() => Ok(0),
    }
}
