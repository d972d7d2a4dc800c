//! `hoist down`: stop and remove containers and networks (and volumes with -v).

use anyhow::Result;

use super::{common, App};
use crate::plan::execute::{down, DownOptions};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Remove named volumes declared in the volumes section and anonymous volumes.
    #[arg(short = 'v', long)]
    pub(super) volumes: bool,
    /// Remove containers for services not defined in the compose file.
    #[arg(long, env = "COMPOSE_REMOVE_ORPHANS", value_parser = clap::builder::BoolishValueParser::new())]
    pub(super) remove_orphans: bool,
    /// Shutdown timeout in seconds.
    #[arg(short = 't', long)]
    pub(super) timeout: Option<u64>,
    /// Remove images used by services: `local` or `all`.
    #[arg(long)]
    pub(super) rmi: Option<String>,
    /// Only these services' containers (networks and named volumes stay).
    #[arg(value_name = "SERVICE")]
    pub(super) services: Vec<String>,
}

pub async fn run(app: &App, a: Args) -> Result<i32> {
    let ctx = app.ctx().await?;
    common::check_services(&ctx, &a.services)?;
    let images: Vec<String> = match a.rmi.as_deref() {
        None => vec![],
        Some("all") => ctx.project.services.keys().filter(|s| a.services.is_empty() || a.services.contains(s)).map(|s| crate::plan::spec::service_image(&ctx.project, s)).collect(),
        Some("local") => ctx
            .project
            .services
            .iter()
            .filter(|(n, s)| s.image.is_none() && (a.services.is_empty() || a.services.contains(n)))
            .map(|(n, _)| crate::plan::spec::service_image(&ctx.project, n))
            .collect(),
        Some(other) => anyhow::bail!("invalid --rmi value {other:?}: use local or all"),
    };
    let _lock = common::lock_project(&ctx).await?;
    down(&ctx, &DownOptions { volumes: a.volumes, remove_orphans: a.remove_orphans, timeout: common::timeout(a.timeout), services: a.services.clone() }).await?;
    for image in images {
        if ctx.backend.remove_image(&image, false).await.is_ok() {
            ctx.progress.event("Image", &image, "Removed");
        }
    }
    Ok(0)
}
