//! `hoist up`, `hoist create` and `hoist scale`: converge the project to the model.

use std::collections::HashMap;

use anyhow::{bail, Result};

use super::{common, App};
use crate::backend::{LogOptions, PullPolicy};
use crate::output::logs::LogPrinter;
use crate::plan::converge::Recreate;
use crate::plan::execute::{self, Ctx, UpOptions};
use crate::watch::Watch;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Detached mode: run containers in the background.
    #[arg(short = 'd', long)]
    pub(super) detach: bool,
    /// Scale SERVICE to NUM instances (repeatable: `--scale web=3`).
    #[arg(long, value_name = "SERVICE=NUM")]
    pub(super) scale: Vec<String>,
    /// Don't start linked services.
    #[arg(long)]
    pub(super) no_deps: bool,
    /// Recreate containers even if their configuration hasn't changed.
    #[arg(long, conflicts_with = "no_recreate")]
    pub(super) force_recreate: bool,
    /// If containers already exist, don't recreate them.
    #[arg(long)]
    pub(super) no_recreate: bool,
    /// Remove containers for services not defined in the compose file.
    #[arg(long, env = "COMPOSE_REMOVE_ORPHANS", value_parser = clap::builder::BoolishValueParser::new())]
    pub(super) remove_orphans: bool,
    /// Wait for services to be running|healthy (implies detached mode).
    #[arg(long)]
    pub(super) wait: bool,
    /// Maximum duration in seconds to wait for the project to be running|healthy.
    #[arg(long, value_name = "SECONDS")]
    pub(super) wait_timeout: Option<u64>,
    /// Stops all containers if any container was stopped.
    #[arg(long)]
    pub(super) abort_on_container_exit: bool,
    /// Return the exit code of the selected service container (implies --abort-on-container-exit).
    #[arg(long)]
    pub(super) exit_code_from: Option<String>,
    /// Shutdown timeout in seconds.
    #[arg(short = 't', long)]
    pub(super) timeout: Option<u64>,
    /// Don't start the services after creating them.
    #[arg(long)]
    pub(super) no_start: bool,
    /// Produce monochrome output.
    #[arg(long)]
    pub(super) no_color: bool,
    /// Show timestamps.
    #[arg(long)]
    pub(super) timestamps: bool,
    /// Pull image before running: always, missing, never.
    #[arg(long, value_enum, default_value = "missing")]
    pub(super) pull: PullPolicy,
    /// Build images before starting containers.
    #[arg(long)]
    pub(super) build: bool,
    /// Watch source code and update the services (`develop.watch`) as files change.
    #[arg(short = 'w', long, conflicts_with = "no_start")]
    pub(super) watch: bool,
    /// Restrict attaching to the specified services (repeatable).
    #[arg(long, value_name = "SERVICE")]
    pub(super) attach: Vec<String>,
    /// Do not attach (stream logs) to the specified services (repeatable).
    #[arg(long, value_name = "SERVICE")]
    pub(super) no_attach: Vec<String>,
    pub(super) services: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct CreateArgs {
    #[arg(long, conflicts_with = "no_recreate")]
    force_recreate: bool,
    #[arg(long)]
    no_recreate: bool,
    #[arg(long, value_enum, default_value = "missing")]
    pull: PullPolicy,
    #[arg(long, value_name = "SERVICE=NUM")]
    scale: Vec<String>,
    #[arg(long, env = "COMPOSE_REMOVE_ORPHANS", value_parser = clap::builder::BoolishValueParser::new())]
    remove_orphans: bool,
    services: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct ScaleArgs {
    /// Don't start linked services.
    #[arg(long)]
    pub(super) no_deps: bool,
    /// SERVICE=NUM pairs.
    #[arg(required = true, value_name = "SERVICE=NUM")]
    pub(super) scale: Vec<String>,
}

pub(super) fn parse_scale(items: &[String]) -> Result<HashMap<String, u32>> {
    let mut out = HashMap::new();
    for item in items {
        let Some((svc, n)) = item.split_once('=') else { bail!("invalid scale {item:?}: expected SERVICE=NUM") };
        let Ok(n) = n.parse::<u32>() else { bail!("invalid scale {item:?}: {n:?} is not a number") };
        out.insert(svc.to_string(), n);
    }
    Ok(out)
}

fn recreate(force: bool, never: bool) -> Recreate {
    if force {
        Recreate::Force
    } else if never {
        Recreate::Never
    } else {
        Recreate::Diverged
    }
}

pub async fn run(app: &App, a: Args) -> Result<i32> {
    let ctx = app.ctx_targeting(&a.services).await?;
    let opts = UpOptions {
        services: a.services.clone(),
        no_deps: a.no_deps,
        scale: parse_scale(&a.scale)?,
        recreate: recreate(a.force_recreate, a.no_recreate),
        no_start: a.no_start,
        remove_orphans: a.remove_orphans,
        ignore_orphans: super::env_true("COMPOSE_IGNORE_ORPHANS"),
        pull: a.pull,
        timeout: common::timeout(a.timeout),
        wait: a.wait,
        wait_timeout: a.wait_timeout.map(std::time::Duration::from_secs),
    };
    // Checked before anything starts: a watch without rules is an error up front.
    let watch = if a.watch { Some(Watch::new(&ctx.project, &a.services)?) } else { None };
    let lock = common::lock_project(&ctx).await?;
    if a.build {
        let graph = crate::plan::graph::Graph::new(&ctx.project)?;
        for name in execute::select_services(&ctx.project, &graph, &a.services, a.no_deps)? {
            if ctx.project.services[&name].build.is_some() {
                execute::build_service(&ctx, &name).await?;
            }
        }
    }
    execute::up(&ctx, &opts).await?;
    drop(lock);
    if a.detach || a.wait || a.no_start {
        return match &watch {
            Some(w) => super::watch::until_stopped(w.run(&ctx)).await,
            None => Ok(0),
        };
    }
    attached(app, &ctx, &a, watch.as_ref()).await
}

/// Attached `up`: stream every container's output until they all exit, or until Ctrl-C
/// (which stops the stack), or the first exit with --abort-on-container-exit; with
/// `--watch`, files are kept in step meanwhile.
async fn attached(app: &App, ctx: &Ctx, a: &Args, file_watch: Option<&Watch>) -> Result<i32> {
    let services = a.services.clone();
    let shown = attach_to(ctx, a)?;
    // The session watches the named services, else the attached ones (all when none is),
    // as Docker Compose's monitor does.
    let monitored = if services.is_empty() { shown.clone() } else { services.clone() };
    let containers = common::containers(ctx, &monitored, true).await?;
    let containers: Vec<_> = containers.into_iter().filter(|c| !c.oneoff).collect();
    let order: Vec<String> = ctx.project.services.keys().cloned().collect();
    let mut printer = LogPrinter::new(&order, &containers, app.color && !a.no_color, true, a.timestamps);
    let opts = LogOptions { follow: true, tail: None, timestamps: a.timestamps, ..Default::default() };
    let abort = a.abort_on_container_exit || a.exit_code_from.is_some();
    let watch = async {
        if abort {
            // First container to exit ends the session.
            let waits = containers.iter().map(|c| {
                let backend = ctx.backend.clone();
                let c = c.clone();
                Box::pin(async move { (c.service.clone(), backend.wait_container(&c.id).await) })
            });
            let ((svc, code), _, _) = futures::future::select_all(waits).await;
            Some((svc, code.unwrap_or(1)))
        } else {
            futures::future::pending::<Option<(String, i32)>>().await
        }
    };
    let watching = async {
        match file_watch {
            Some(w) => w.run(ctx).await,
            None => futures::future::pending().await,
        }
    };
    let outcome = tokio::select! {
        r = super::logs::follow(ctx, &monitored, Some(&shown), None, &opts, &mut printer, true) => { r?; None }
        r = watching => { r?; None }
        _ = tokio::signal::ctrl_c() => Some(None),
        first = watch => Some(first),
    };
    let mut code = 0;
    if let Some(first) = outcome {
        eprintln!("Gracefully stopping... (press Ctrl+C again to force)");
        if let (Some(svc), Some((exited, c))) = (&a.exit_code_from, &first) {
            if svc == exited {
                code = *c;
            } else if let Ok(container) = common::service_container(ctx, svc, None).await {
                code = ctx.backend.inspect_container(&container.id).await.ok().and_then(|c| c.exit_code).unwrap_or(0);
            }
        } else if let Some((_, c)) = first {
            code = c;
        }
        // A fresh reporter: the live lines of the start are above the logs by now, and
        // redrawing them would write over the logs.
        let ctx = Ctx { progress: app.progress(), ..ctx.clone() };
        execute::stop(&ctx, &services, common::timeout(a.timeout)).await?;
    }
    Ok(code)
}

/// The services whose output attached `up` prints, by Docker Compose's rule: those of
/// `--attach`, else the services started (all when none is named) but those with
/// `attach: false`; then without those of `--no-attach`.
fn attach_to(ctx: &Ctx, a: &Args) -> Result<Vec<String>> {
    let services = &ctx.project.services;
    if let Some(bad) = a.attach.iter().find(|s| !services.contains_key(*s)) {
        bail!("cannot attach to services not included in up: {bad}");
    }
    let chosen: Vec<String> = if !a.attach.is_empty() {
        a.attach.clone()
    } else {
        services.iter().filter(|(name, s)| (a.services.is_empty() || a.services.contains(*name)) && s.attached()).map(|(n, _)| n.clone()).collect()
    };
    Ok(chosen.into_iter().filter(|s| !a.no_attach.contains(s)).collect())
}

pub async fn create(app: &App, a: CreateArgs) -> Result<i32> {
    let ctx = app.ctx_targeting(&a.services).await?;
    let opts = UpOptions {
        services: a.services,
        scale: parse_scale(&a.scale)?,
        recreate: recreate(a.force_recreate, a.no_recreate),
        no_start: true,
        remove_orphans: a.remove_orphans,
        ignore_orphans: super::env_true("COMPOSE_IGNORE_ORPHANS"),
        pull: a.pull,
        ..Default::default()
    };
    let _lock = common::lock_project(&ctx).await?;
    execute::up(&ctx, &opts).await?;
    Ok(0)
}

pub async fn scale(app: &App, a: ScaleArgs) -> Result<i32> {
    let ctx = app.ctx().await?;
    let scale = parse_scale(&a.scale)?;
    let opts = UpOptions {
        services: scale.keys().cloned().collect(),
        no_deps: a.no_deps,
        scale,
        recreate: Recreate::Never,
        ..Default::default()
    };
    let _lock = common::lock_project(&ctx).await?;
    execute::up(&ctx, &opts).await?;
    Ok(0)
}
