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
    services: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct PushArgs {
    /// Push what can be pushed, ignoring failures.
    #[arg(long)]
    ignore_push_failures: bool,
    services: Vec<String>,
}

pub async fn build(app: &App, a: BuildArgs) -> Result<i32> {
    let mut ctx = app.ctx().await?;
    common::check_services(&ctx, &a.services)?;
    let mut project = (*ctx.project).clone();
    for (name, svc) in project.services.iter_mut() {
        if let Some(b) = svc.build.as_mut()
            && (a.services.is_empty() || a.services.contains(name))
        {
            b.no_cache |= a.no_cache;
            b.pull |= a.pull;
            for kv in common::env_pairs(&a.build_args) {
                b.args.insert(kv.0, Some(kv.1));
            }
        }
    }
    ctx.project = Arc::new(project);
    let names: Vec<String> =
        ctx.project.services.iter().filter(|(n, s)| s.build.is_some() && (a.services.is_empty() || a.services.contains(n))).map(|(n, _)| n.clone()).collect();
    for name in names {
        execute::build_service(&ctx, &name, false).await?;
    }
    Ok(0)
}

pub async fn push(app: &App, a: PushArgs) -> Result<i32> {
    let ctx = app.ctx().await?;
    common::check_services(&ctx, &a.services)?;
    for (name, svc) in &ctx.project.services {
        let Some(image) = &svc.image else { continue };
        if !a.services.is_empty() && !a.services.contains(name) {
            continue;
        }
        ctx.progress.event("Image", image, "Pushing");
        let progress = ctx.progress.clone();
        let img = image.clone();
        let cb: crate::backend::ProgressFn = Arc::new(move |e| {
            if e.status.contains("ushed") {
                progress.event("Image", &img, &e.status);
            }
        });
        match ctx.backend.push_image(image, cb).await.with_context(|| format!("pushing {image}")) {
            Ok(()) => ctx.progress.event("Image", image, "Pushed"),
            Err(e) if a.ignore_push_failures => ctx.progress.warn(&format!("{e:#}")),
            Err(e) => return Err(e),
        }
    }
    Ok(0)
}
