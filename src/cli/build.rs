//! `hoist build` and `hoist push`: images from source, and to their registry.

use std::sync::Arc;

use anyhow::{Context, Result};

use super::{common, App};
use crate::plan::execute;

#[derive(clap::Args, Debug)]
pub struct BuildArgs {
    /// Do not use cache when building the image.
    #[arg(long)]
    no_cache: bool,
    /// Always attempt to pull a newer version of the base image.
    #[arg(long)]
    pull: bool,
    /// Set build-time variables (repeatable: `--build-arg KEY=VAL`).
    #[arg(long = "build-arg")]
    build_args: Vec<String>,
    /// Suppress the build output.
    #[arg(short = 'q', long)]
    quiet: bool,
    /// Push service images after building them.
    #[arg(long)]
    push: bool,
    /// Also build dependencies (transitively).
    #[arg(long)]
    with_dependencies: bool,
    services: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct PushArgs {
    /// Push what can be pushed, ignoring failures.
    #[arg(long)]
    ignore_push_failures: bool,
    /// Also push images of services declared as dependencies.
    #[arg(long)]
    include_deps: bool,
    /// Push without printing progress information.
    #[arg(short = 'q', long)]
    quiet: bool,
    services: Vec<String>,
}

/// The named services (all when none), with what they depend on when `deps`.
fn selected(ctx: &execute::Ctx, services: &[String], deps: bool) -> Result<Vec<String>> {
    if deps && !services.is_empty() {
        let graph = crate::plan::graph::Graph::new(&ctx.project)?;
        return execute::select_services(&ctx.project, &graph, services, false);
    }
    Ok(ctx.project.services.keys().filter(|n| services.is_empty() || services.contains(n)).cloned().collect())
}

pub async fn build(app: &App, a: BuildArgs) -> Result<i32> {
    let mut ctx = app.ctx().await?;
    common::check_services(&ctx, &a.services)?;
    let chosen = selected(&ctx, &a.services, a.with_dependencies)?;
    let mut project = (*ctx.project).clone();
    for (name, svc) in project.services.iter_mut() {
        if let Some(b) = svc.build.as_mut()
            && chosen.contains(name)
        {
            b.no_cache |= a.no_cache;
            b.pull |= a.pull;
            for kv in common::env_pairs(&a.build_args) {
                b.args.insert(kv.0, Some(kv.1));
            }
        }
    }
    ctx.project = Arc::new(project);
    let names: Vec<String> = chosen.into_iter().filter(|n| ctx.project.services[n].build.is_some()).collect();
    for name in &names {
        execute::build_service(&ctx, name, a.quiet).await?;
    }
    if a.push {
        push_images(&ctx, &names, false, a.quiet).await?;
    }
    Ok(0)
}

pub async fn push(app: &App, a: PushArgs) -> Result<i32> {
    let ctx = app.ctx().await?;
    common::check_services(&ctx, &a.services)?;
    let chosen = selected(&ctx, &a.services, a.include_deps)?;
    push_images(&ctx, &chosen, a.ignore_push_failures, a.quiet).await?;
    Ok(0)
}

/// Pushes the images the services name (`image:`); `quiet` shows no progress.
async fn push_images(ctx: &execute::Ctx, services: &[String], ignore_failures: bool, quiet: bool) -> Result<()> {
    for name in services {
        let Some(image) = &ctx.project.services[name].image else { continue };
        if !quiet {
            ctx.progress.event("Image", image, "Pushing");
        }
        let progress = ctx.progress.clone();
        let img = image.clone();
        let cb: crate::backend::ProgressFn = Arc::new(move |e| {
            if !quiet && e.status.contains("ushed") {
                progress.event("Image", &img, &e.status);
            }
        });
        match ctx.backend.push_image(image, cb).await.with_context(|| format!("pushing {image}")) {
            Ok(()) if !quiet => ctx.progress.event("Image", image, "Pushed"),
            Ok(()) => {}
            Err(e) if ignore_failures => ctx.progress.warn(&format!("{e:#}")),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
