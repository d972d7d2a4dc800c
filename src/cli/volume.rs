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
        VolumeCommand::Rm { force: _, names } => {
            for n in names {
                // A name, never a path: checked before the engine sees it.
                check_name(NameKind::Volume, &n).map_err(anyhow::Error::msg)?;
                backend.remove_volume(&n).await.with_context(|| format!("volume {n}"))?;
                writeln!(std::io::stdout(), "{n}")?;
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
