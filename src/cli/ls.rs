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
    /// Filter output based on conditions provided (`name=X`: names containing X).
    #[arg(long, value_name = "FILTER")]
    pub(super) filter: Vec<String>,
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
    if !matches!(a.format.as_str(), "table" | "json") {
        anyhow::bail!("format value {:?} could not be parsed: use table or json", a.format);
    }
    let mut names: Vec<String> = Vec::new();
    for f in &a.filter {
        match f.split_once('=') {
            Some(("name", v)) => names.push(v.to_string()),
            Some((key, _)) => anyhow::bail!("invalid filter '{key}'"),
            None => anyhow::bail!("bad format of filter (expected name=value)"),
        }
    }
    let backend = app.backend().await?;
    // project → (the states of its containers, config files)
    let mut projects: BTreeMap<String, (Vec<&'static str>, String)> = BTreeMap::new();
    for c in backend.list_all_projects().await? {
        // Without -a, Compose counts the containers that run (paused ones too) only.
        if !a.all && !matches!(c.state, crate::backend::ContainerState::Running | crate::backend::ContainerState::Paused | crate::backend::ContainerState::Restarting) {
            continue;
        }
        let e = projects.entry(c.project.clone()).or_insert((Vec::new(), c.labels.get(labels::CONFIG_FILES).cloned().unwrap_or_default()));
        e.0.push(c.state.as_str());
    }
    let shown: Vec<(String, String, String)> = projects
        .into_iter()
        .filter(|(name, _)| names.is_empty() || names.iter().any(|n| name_matches(name, n)))
        .map(|(name, (states, files))| (name, combined_status(&states), files))
        .collect();
    if a.quiet {
        for (name, _, _) in &shown {
            writeln!(std::io::stdout(), "{name}")?;
        }
    } else if a.format == "json" {
        let rows: Vec<_> = shown.iter().map(|(name, status, files)| serde_json::json!({"Name": name, "Status": status, "ConfigFiles": files})).collect();
        writeln!(std::io::stdout(), "{}", serde_json::Value::Array(rows))?;
    } else {
        let mut rows = vec![vec!["NAME".to_string(), "STATUS".into(), "CONFIG FILES".into()]];
        rows.extend(shown.into_iter().map(|(n, s, f)| vec![n, s, f]));
        super::ps::print_table(&rows)?;
    }
    Ok(0)
}

/// `hoist version v0.1.0`, as Compose's `Docker Compose version v2.x`.
/// A `name=` filter as the engine reads one: the name contains the value, `^` and `$`
/// anchor it at the start and the end.
fn name_matches(name: &str, filter: &str) -> bool {
    let (start, rest) = match filter.strip_prefix('^') {
        Some(r) => (true, r),
        None => (false, filter),
    };
    let (end, text) = match rest.strip_suffix('$') {
        Some(t) => (true, t),
        None => (false, rest),
    };
    match (start, end) {
        (true, true) => name == text,
        (true, false) => name.starts_with(text),
        (false, true) => name.ends_with(text),
        (false, false) => name.contains(text),
    }
}

/// `exited(1), running(2)`: each state's count, states in alphabetical order, as Compose.
fn combined_status(states: &[&str]) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for s in states {
        *counts.entry(s).or_default() += 1;
    }
    counts.into_iter().map(|(s, n)| format!("{s}({n})")).collect::<Vec<_>>().join(", ")
}

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
