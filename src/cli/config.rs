//! `hoist config`: the merged, interpolated, normalized model.

use std::io::Write;
use anyhow::{bail, Context, Result};

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
    /// Print the network names, one per line.
    #[arg(long)]
    networks: bool,
    /// Print the environment used for interpolation.
    #[arg(long)]
    environment: bool,
    /// Print the model variables and their default values.
    #[arg(long)]
    variables: bool,
    /// Print the service config hash, one per line (`*` for all, or `web,db`).
    #[arg(long, value_name = "SERVICES")]
    hash: Option<String>,
    /// Save to file (default to stdout).
    #[arg(short = 'o', long, value_name = "FILE")]
    output: Option<std::path::PathBuf>,
    /// Don't interpolate environment variables.
    #[arg(long)]
    no_interpolate: bool,
    /// yaml or json.
    #[arg(long, default_value = "yaml")]
    format: String,
    /// Only these services (and what they need).
    #[arg(value_name = "SERVICE")]
    service_names: Vec<String>,
}

pub async fn run(app: &App, a: Args) -> Result<i32> {
    let opts = app.load_options(!a.no_interpolate);
    // These two read the files and the environment, not the model.
    if a.environment {
        let text: String = crate::compose::environment(&opts)?.into_iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        return write(&a, &text);
    }
    if a.variables {
        let vars = crate::compose::variables(&opts)?;
        if a.format == "json" {
            return write(&a, &format!("{}\n", serde_json::to_string_pretty(&vars)?));
        }
        let mut rows = vec![["NAME", "REQUIRED", "DEFAULT VALUE", "ALTERNATE VALUE"].map(String::from).to_vec()];
        rows.extend(vars.values().map(|v| vec![v.name.clone(), v.required.to_string(), v.default_value.clone(), v.presence_value.clone()]));
        return write(&a, &crate::output::template::table_text(&rows));
    }
    let out = crate::compose::load_with_warnings(&crate::compose::LoadOptions { targets: a.service_names.clone(), ..opts })?;
    for w in &out.warnings {
        eprintln!("WARN[0000] {w}");
    }
    let mut project = out.project;
    if !a.service_names.is_empty() {
        let graph = crate::plan::graph::Graph::new(&project)?;
        let keep = crate::plan::execute::select_services(&project, &graph, &a.service_names, false)?;
        project.services.retain(|name, _| keep.contains(name));
    }
    if app.backend_kind == super::BackendKind::Swarm {
        super::stack::check(&project, &[], &app.progress())?;
    }
    if a.quiet {
        return Ok(0);
    }
    let lines = |items: Vec<String>| items.into_iter().map(|i| i + "\n").collect::<String>();
    let text = if a.services {
        lines(project.services.keys().cloned().collect())
    } else if a.volumes {
        lines(project.volumes.keys().cloned().collect())
    } else if a.networks {
        lines(project.networks.keys().cloned().collect())
    } else if a.profiles {
        let mut profiles: Vec<String> = project.services.values().chain(project.disabled_services.values()).flat_map(|s| s.profiles.clone()).collect();
        profiles.sort();
        profiles.dedup();
        lines(profiles)
    } else if a.images {
        lines(project.services.keys().map(|s| crate::plan::spec::service_image(&project, s)).collect())
    } else if let Some(which) = &a.hash {
        let wanted: Vec<&str> = which.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
        if wanted.is_empty() {
            bail!("--hash needs service names (`web,db`) or `*`");
        }
        let mut out = String::new();
        for name in &wanted {
            if *name != "*" && !project.services.contains_key(*name) {
                bail!("no such service: {name}");
            }
        }
        for name in project.services.keys().filter(|n| wanted.contains(&"*") || wanted.contains(&n.as_str())) {
            out.push_str(&format!("{name} {}\n", crate::plan::spec::service_hash(&project, name)));
        }
        out
    } else {
        match a.format.as_str() {
            "yaml" => crate::compose::to_yaml(&project),
            "json" => crate::compose::to_json(&project) + "\n",
            other => bail!("invalid --format {other:?}: use yaml or json"),
        }
    };
    write(&a, &text)
}

/// To `-o FILE`, else stdout.
fn write(a: &Args, text: &str) -> Result<i32> {
    match &a.output {
        Some(path) => std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?,
        None => write!(std::io::stdout(), "{text}")?,
    }
    Ok(0)
}
