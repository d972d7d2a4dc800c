//! `hoist volume ls|rm|inspect`.

use std::io::Write;
use anyhow::{Context, Result};
use clap::Subcommand;

use super::App;
use crate::compose::validate::{check_name, NameKind};

#[derive(Subcommand, Debug)]
pub enum VolumeCommand {
    /// List volumes (of this project when a compose file is found, else all).
    #[command(alias = "list")]
    Ls {
        #[arg(short = 'q', long)]
        quiet: bool,
        #[arg(long, default_value = "table")]
        format: String,
    },
    /// Remove volumes.
    #[command(alias = "remove")]
    Rm {
        #[arg(short = 'f', long)]
        force: bool,
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Show a volume as JSON.
    Inspect { names: Vec<String> },
}

#[derive(clap::Args, Debug)]
pub struct VolumesArgs {
    /// Only display volume names.
    #[arg(short = 'q', long)]
    quiet: bool,
    /// table, json, or a Go template over the JSON fields.
    #[arg(long, default_value = "table")]
    format: String,
    /// Only the volumes these services' containers use.
    #[arg(value_name = "SERVICE")]
    services: Vec<String>,
}

/// `hoist volumes`: the project's volumes, as `docker compose volumes` lists them.
pub async fn volumes(app: &App, a: VolumesArgs) -> Result<i32> {
    use crate::output::template::{self, Format};
    let format = Format::parse(&a.format)?;
    let ctx = app.ctx().await?;
    super::common::check_services(&ctx, &a.services)?;
    let mut list = ctx.backend.list_volumes(Some(&ctx.project.name)).await?;
    if !a.services.is_empty() {
        let used: Vec<String> = super::common::containers(&ctx, &a.services, true).await?.into_iter().flat_map(|c| c.mounts).collect();
        list.retain(|v| used.contains(&v.name));
    }
    if a.quiet {
        for v in &list {
            writeln!(std::io::stdout(), "{}", v.name)?;
        }
        return Ok(0);
    }
    let rows = list
        .iter()
        .map(|v| {
            let mut labels: Vec<String> = v.labels.iter().map(|(k, l)| format!("{k}={l}")).collect();
            labels.sort();
            let fields = serde_json::json!({
                "Driver": v.driver, "Labels": labels.join(","), "Links": "N/A", "Mountpoint": v.mountpoint,
                "Name": v.name, "Scope": "local", "Size": "N/A",
            });
            template::Row { fields, labels: Some(&v.labels) }
        })
        .collect::<Vec<_>>();
    let header = |f: &str| if f == "Name" { "VOLUME NAME".to_string() } else { template::default_header(f) };
    format.print(&rows, header, || {
        let mut table = vec![vec!["DRIVER".to_string(), "VOLUME NAME".into()]];
        table.extend(list.iter().map(|v| vec![v.driver.clone(), v.name.clone()]));
        table
    })?;
    Ok(0)
}

pub async fn run(app: &App, c: VolumeCommand) -> Result<i32> {
    let backend = app.backend().await?;
    match c {
        VolumeCommand::Ls { quiet, format } => {
            let project = app.project_name().ok();
            let list = backend.list_volumes(project.as_deref()).await?;
            if quiet {
                for v in &list {
                    writeln!(std::io::stdout(), "{}", v.name)?;
                }
            } else if format == "json" {
                writeln!(std::io::stdout(), "{}", serde_json::to_string(&list)?)?;
            } else {
                let mut rows = vec![vec!["DRIVER".to_string(), "VOLUME NAME".into()]];
                rows.extend(list.iter().map(|v| vec![v.driver.clone(), v.name.clone()]));
                super::ps::print_table(&rows)?;
            }
        }
        VolumeCommand::Rm { force, names } => {
            for n in names {
                // A name, never a path: checked before the engine sees it.
                check_name(NameKind::Volume, &n).map_err(anyhow::Error::msg)?;
                match backend.remove_volume(&n).await {
                    Ok(()) => writeln!(std::io::stdout(), "{n}")?,
                    // -f: a volume that cannot be removed (gone already) is not an error;
                    // one in use still is, as for `docker volume rm -f`.
                    Err(e) if force && !matches!(e, crate::backend::BackendError::InUse(_)) => eprintln!("WARN[0000] volume {n}: {e}"),
                    Err(e) => return Err(anyhow::Error::from(e).context(format!("volume {n}"))),
                }
            }
        }
        VolumeCommand::Inspect { names } => {
            let all = backend.list_volumes(None).await?;
            let mut out = Vec::new();
            for n in names {
                out.push(all.iter().find(|v| v.name == n).with_context(|| format!("no such volume: {n}"))?.clone());
            }
            writeln!(std::io::stdout(), "{}", serde_json::to_string_pretty(&out)?)?;
        }
    }
    Ok(0)
}
