//! `hoist config`: the merged, interpolated, normalized model.

use std::io::Write;
use anyhow::{bail, Result};

use super::App;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Only validate the configuration, don't print anything.
    #[arg(short = 'q', long)]
    quiet: bool,
    /// Print the service names, one per line.
    #[arg(long)]
    services: bool,
    /// Print the volume names, one per line.
    #[arg(long)]
    volumes: bool,
    /// Print the profile names, one per line.
    #[arg(long)]
    profiles: bool,
    /// Print the image names, one per line.
    #[arg(long)]
    images: bool,
    /// Don't interpolate environment variables.
    #[arg(long)]
    no_interpolate: bool,
    /// yaml or json.
    #[arg(long, default_value = "yaml")]
    format: String,
}

pub async fn run(app: &App, a: Args) -> Result<i32> {
    let out = crate::compose::load_with_warnings(&app.load_options(!a.no_interpolate))?;
    for w in &out.warnings {
        eprintln!("WARN[0000] {w}");
    }
    let project = out.project;
    if app.backend_kind == super::BackendKind::Swarm {
        super::stack::check(&project, &[], &app.progress())?;
    }
    if a.quiet {
        return Ok(0);
    }
    if a.services {
        for s in project.services.keys() {
            writeln!(std::io::stdout(), "{s}")?;
        }
    } else if a.volumes {
        for v in project.volumes.keys() {
            writeln!(std::io::stdout(), "{v}")?;
        }
    } else if a.profiles {
        let mut profiles: Vec<&String> = project.services.values().chain(project.disabled_services.values()).flat_map(|s| &s.profiles).collect();
        profiles.sort();
        profiles.dedup();
        for p in profiles {
            writeln!(std::io::stdout(), "{p}")?;
        }
    } else if a.images {
        for s in project.services.keys() {
            writeln!(std::io::stdout(), "{}", crate::plan::spec::service_image(&project, s))?;
        }
    } else {
        match a.format.as_str() {
            "yaml" => write!(std::io::stdout(), "{}", crate::compose::to_yaml(&project))?,
            "json" => writeln!(std::io::stdout(), "{}", crate::compose::to_json(&project))?,
            other => bail!("invalid --format {other:?}: use yaml or json"),
        }
    }
    Ok(0)
}
