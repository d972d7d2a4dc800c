//! `hoist up`, `hoist create` and `hoist scale`: converge the project to the model.

use std::collections::HashMap;

use anyhow::{bail, Result};

use super::{common, App};
use crate::backend::LogOptions;
use crate::compose::model::PullPolicy;
use crate::output::logs::{short_name, LogPrinter};
use crate::plan::converge::Recreate;
use crate::plan::execute::{self, Ctx, ImageOptions, UpOptions};
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
    #[command(flatten)]
    pub(super) recreate: RecreateArgs,
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
    #[arg(long, conflicts_with_all = ["detach", "abort_on_container_failure"])]
    pub(super) abort_on_container_exit: bool,
    /// Stops all containers if any container exited with failure.
    #[arg(long, conflicts_with = "detach")]
    pub(super) abort_on_container_failure: bool,
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
    #[command(flatten)]
    pub(super) images: ImageArgs,
    /// Don't print the prefix (service name) in the logs.
    #[arg(long)]
    pub(super) no_log_prefix: bool,
    /// Automatically attach to log output of dependent services.
    #[arg(long)]
    pub(super) attach_dependencies: bool,
    /// Assume "yes" as answer to all prompts (hoist's `up` asks none).
    #[arg(short = 'y', long)]
    pub(super) yes: bool,
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

/// How `up` and `create` treat containers that exist.
#[derive(clap::Args, Debug)]
pub struct RecreateArgs {
    /// Recreate containers even if their configuration and image haven't changed.
    #[arg(long, conflicts_with = "no_recreate")]
    pub(super) force_recreate: bool,
    /// If containers already exist, don't recreate them.
    #[arg(long)]
    pub(super) no_recreate: bool,
    /// Recreate dependent containers.
    #[arg(long, conflicts_with = "no_recreate")]
    pub(super) always_recreate_deps: bool,
    /// Recreate anonymous volumes instead of retrieving data from the previous containers.
    #[arg(short = 'V', long)]
    pub(super) renew_anon_volumes: bool,
}

/// How `up` and `create` get images: what `run` takes, and `--no-build`.
#[derive(clap::Args, Debug)]
pub struct ImageArgs {
    #[command(flatten)]
    pub(super) get: RunImageArgs,
    /// Don't build an image, even if it's missing.
    #[arg(long, conflicts_with = "build")]
    pub(super) no_build: bool,
}

/// How `run` gets its service's image (Compose's `run` has no --no-build).
#[derive(clap::Args, Debug)]
pub struct RunImageArgs {
    /// Pull image before running: always, missing, never, build; policy (the default)
    /// follows each service's pull_policy.
    #[arg(long, default_value = "policy", value_parser = parse_pull)]
    pub(super) pull: PullFlag,
    /// Build images before starting containers.
    #[arg(long)]
    pub(super) build: bool,
    /// Pull without printing progress information.
    #[arg(long)]
    quiet_pull: bool,
    /// Suppress the build output.
    #[arg(long)]
    quiet_build: bool,
}

impl RunImageArgs {
    pub(super) fn options(&self) -> ImageOptions {
        ImageOptions { pull: self.pull.0.clone(), build: self.build.then_some(true), quiet_pull: self.quiet_pull, quiet_build: self.quiet_build }
    }
}

/// `--pull`: a policy for every service, or (`policy`) each service's own.
#[derive(Debug, Clone)]
pub struct PullFlag(Option<PullPolicy>);

fn parse_pull(s: &str) -> std::result::Result<PullFlag, String> {
    match s {
        "policy" => Ok(PullFlag(None)),
        "always" | "missing" | "never" | "build" => Ok(PullFlag(Some(s.parse()?))),
        _ => Err(format!("invalid --pull option {s:?}: use always, missing, never, build or policy")),
    }
}

impl ImageArgs {
    /// `--pull` was given a policy (not `policy`, the default).
    pub(super) fn pull_given(&self) -> bool {
        self.get.pull.0.is_some()
    }

    pub(super) fn options(&self) -> ImageOptions {
        let mut opts = self.get.options();
        if self.no_build {
            opts.build = Some(false);
        }
        opts
    }
}

impl RecreateArgs {
    fn apply(&self, opts: &mut UpOptions) {
        opts.recreate = recreate(self.force_recreate, self.no_recreate);
        // Services that are only dependencies of the named ones, as Docker Compose.
        opts.recreate_deps = recreate(self.always_recreate_deps, self.no_recreate);
        opts.renew_anon_volumes = self.renew_anon_volumes;
    }
}

#[derive(clap::Args, Debug)]
pub struct CreateArgs {
    #[command(flatten)]
    recreate: RecreateArgs,
    #[command(flatten)]
    images: ImageArgs,
    /// Assume "yes" as answer to all prompts (hoist's `create` asks none).
    #[arg(short = 'y', long)]
    yes: bool,
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
    let mut opts = UpOptions {
        services: a.services.clone(),
        no_deps: a.no_deps,
        scale: parse_scale(&a.scale)?,
        no_start: a.no_start,
        remove_orphans: a.remove_orphans,
        ignore_orphans: super::env_true("COMPOSE_IGNORE_ORPHANS"),
        images: a.images.options(),
        timeout: common::timeout(a.timeout),
        wait: a.wait,
        wait_timeout: a.wait_timeout.map(std::time::Duration::from_secs),
        ..Default::default()
    };
    a.recreate.apply(&mut opts);
    // Checked before anything starts: a watch without rules is an error up front.
    let watch = if a.watch { Some(Watch::new(&ctx.project, &a.services)?) } else { None };
    let lock = common::lock_project(&ctx).await?;
    let session_start = chrono::Utc::now();
    execute::up(&ctx, &opts).await?;
    drop(lock);
    // A dry run started nothing to attach to.
    if a.detach || a.wait || a.no_start || app.dry_run {
        return match &watch {
            Some(w) => super::watch::until_stopped(w.run(&ctx)).await,
            None => Ok(0),
        };
    }
    attached(app, &ctx, &a, watch.as_ref(), session_start).await
}

/// Attached `up`: stream every container's output until they all exit, or until Ctrl-C
/// (which stops the stack), or the first exit with --abort-on-container-exit; with
/// `--watch`, files are kept in step meanwhile.
async fn attached(app: &App, ctx: &Ctx, a: &Args, file_watch: Option<&Watch>, since: chrono::DateTime<chrono::Utc>) -> Result<i32> {
    let services = a.services.clone();
    let shown = attach_to(ctx, a)?;
    // The session watches the named services, else the attached ones (all when none is),
    // as Docker Compose's monitor does.
    let monitored = if services.is_empty() { shown.clone() } else { services.clone() };
    let followed: Vec<String> = ctx.project.services.keys().filter(|s| monitored.contains(s) || shown.contains(s)).cloned().collect();
    let containers = common::containers(ctx, &followed, true).await?;
    let containers: Vec<_> = containers.into_iter().filter(|c| !c.oneoff).collect();
    let order: Vec<String> = ctx.project.services.keys().cloned().collect();
    let mut printer = LogPrinter::new(&order, &containers, app.color && !a.no_color, !a.no_log_prefix, a.timestamps);
    let names: Vec<String> = containers.iter().filter(|c| shown.contains(&c.service)).map(short_name).collect();
    // On the status stream, as Compose's (stderr, stdout with COMPOSE_STATUS_STDOUT).
    let attaching = format!("Attaching to {}", names.join(", "));
    if app.status_stdout { println!("{attaching}") } else { eprintln!("{attaching}") }
    // What the containers print from the start of this `up` on, as Compose attaches
    // before it starts them (output of earlier runs is not shown again).
    let opts = LogOptions { follow: true, tail: None, since: Some(since), timestamps: a.timestamps, ..Default::default() };
    // The first exit (or failure) ends the session once its output is shown.
    let abort = if a.abort_on_container_exit || a.exit_code_from.is_some() {
        Some(false)
    } else {
        a.abort_on_container_failure.then_some(true)
    };
    let session = super::logs::Session { monitored: &monitored, abort };
    let watching = async {
        match file_watch {
            Some(w) => w.run(ctx).await,
            None => futures::future::pending().await,
        }
    };
    let outcome = tokio::select! {
        r = super::logs::follow(ctx, &followed, Some(&shown), None, &opts, &mut printer, Some(&session)) => r?.map(Some),
        r = watching => { r?; None }
        _ = tokio::signal::ctrl_c() => Some(None),
    };
    let mut code = 0;
    if let Some(first) = outcome {
        match &first {
            Some(_) => println!("Aborting on container exit..."),
            None => eprintln!("Gracefully stopping... (press Ctrl+C again to force)"),
        }
        if let (Some(svc), Some((exited, c))) = (&a.exit_code_from, &first) {
            if *svc == exited.service {
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
    // With --attach-dependencies, the named services' dependencies are shown too.
    let started = if a.attach_dependencies && !a.services.is_empty() {
        let graph = crate::plan::graph::Graph::new(&ctx.project)?;
        execute::select_services(&ctx.project, &graph, &a.services, a.no_deps)?
    } else {
        a.services.clone()
    };
    let chosen: Vec<String> = if !a.attach.is_empty() {
        a.attach.clone()
    } else {
        services.iter().filter(|(name, s)| (started.is_empty() || started.contains(*name)) && s.attached()).map(|(n, _)| n.clone()).collect()
    };
    Ok(chosen.into_iter().filter(|s| !a.no_attach.contains(s)).collect())
}

pub async fn create(app: &App, a: CreateArgs) -> Result<i32> {
    let ctx = app.ctx_targeting(&a.services).await?;
    let mut opts = UpOptions {
        services: a.services,
        scale: parse_scale(&a.scale)?,
        no_start: true,
        remove_orphans: a.remove_orphans,
        ignore_orphans: super::env_true("COMPOSE_IGNORE_ORPHANS"),
        images: a.images.options(),
        ..Default::default()
    };
    a.recreate.apply(&mut opts);
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
