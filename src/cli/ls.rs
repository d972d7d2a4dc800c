//! `hoist ls` (projects on the engine) and `hoist version`.

use std::io::Write;
use std::collections::BTreeMap;

use anyhow::Result;

use super::App;
use crate::backend::labels;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Show all stopped projects too.
    #[arg(short = 'a', long)]
    pub(super) all: bool,
    /// Only display project names.
    #[arg(short = 'q', long)]
    pub(super) quiet: bool,
    /// table or json.
    #[arg(long, default_value = "table")]
    pub(super) format: String,
}

#[derive(clap::Args, Debug)]
pub struct VersionArgs {
    /// Shows only the version number.
    #[arg(long)]
    short: bool,
    /// pretty or json.
    #[arg(short = 'f', long, default_value = "pretty")]
    format: String,
}

pub async fn run(app: &App, a: Args) -> Result<i32> {
    let backend = app.backend().await?;
    // project → (running, total, config files)
    let mut projects: BTreeMap<String, (usize, usize, String)> = BTreeMap::new();
    for c in backend.list_all_projects().await? {
        let e = projects.entry(c.project.clone()).or_insert((0, 0, c.labels.get(labels::CONFIG_FILES).cloned().unwrap_or_default()));
        e.1 += 1;
        if c.state.is_running() {
            e.0 += 1;
        }
    }
    let shown: Vec<_> = projects.into_iter().filter(|(_, (running, _, _))| a.all || *running > 0).collect();
    if a.quiet {
        for (name, _) in &shown {
            writeln!(std::io::stdout(), "{name}")?;
        }
    } else if a.format == "json" {
        let rows: Vec<_> = shown
            .iter()
            .map(|(name, (running, total, files))| {
                let status = if running == total { format!("running({running})") } else { format!("running({running}), exited({})", total - running) };
                serde_json::json!({"Name": name, "Status": status, "ConfigFiles": files})
            })
            .collect();
        writeln!(std::io::stdout(), "{}", serde_json::Value::Array(rows))?;
    } else {
        let mut rows = vec![vec!["NAME".to_string(), "STATUS".into(), "CONFIG FILES".into()]];
        for (name, (running, total, files)) in &shown {
            let status = if running == total { format!("running({running})") } else { format!("running({running}), exited({})", total - running) };
            rows.push(vec![name.clone(), status, files.clone()]);
        }
        super::ps::print_table(&rows)?;
    }
    Ok(0)
}

/// `hoist version v0.1.0`, as Compose's `Docker Compose version v2.x`.
pub fn version_line() -> String {
    format!("hoist version v{}", env!("CARGO_PKG_VERSION"))
}

pub async fn version(_app: &App, a: VersionArgs) -> Result<i32> {
    // Compose's three forms with hoist's name and number: `hoist version v0.1.0`,
    // `{"version":"v0.1.0"}`, and `--short` the bare number (docs/compatibility.md says
    // what a script's "Compose >= 2" check sees).
    let v = env!("CARGO_PKG_VERSION");
    match (a.short, a.format.as_str()) {
        (true, _) => writeln!(std::io::stdout(), "{v}")?,
        (false, "json") => writeln!(std::io::stdout(), "{}", serde_json::json!({ "version": format!("v{v}") }))?,
        (false, "pretty" | "") => writeln!(std::io::stdout(), "{}", version_line())?,
        (false, other) => anyhow::bail!("invalid --format {other:?}: use pretty or json"),
    }
    Ok(0)
}
