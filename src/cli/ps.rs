//! `hoist ps`: the project's containers as a table, ids, services or JSON.

use std::io::Write;
use anyhow::{bail, Result};
use serde::Serialize;

use super::{common, App};
use crate::output::logs::short_name;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Show all stopped containers (including those created by the run command).
    #[arg(short = 'a', long)]
    pub(super) all: bool,
    /// Only display IDs.
    #[arg(short = 'q', long)]
    pub(super) quiet: bool,
    /// Display services.
    #[arg(long)]
    pub(super) services: bool,
    /// Filter by status: created, restarting, running, removing, paused, exited, dead (repeatable).
    #[arg(long)]
    pub(super) status: Vec<String>,
    /// table, json, or a template of the JSON fields: `{{.Name}}\t{{.State}}`.
    #[arg(long, default_value = "table")]
    pub(super) format: String,
    #[arg(value_name = "SERVICE")]
    pub(super) service_names: Vec<String>,
}

/// One row of `ps --format json`, named as Docker Compose names them.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Row {
    #[serde(rename = "ID")]
    id: String,
    name: String,
    image: String,
    command: String,
    project: String,
    service: String,
    created: i64,
    state: String,
    status: String,
    health: String,
    exit_code: i32,
    publishers: Vec<Publisher>,
    /// `key=value` pairs joined by commas, as Docker Compose prints them (sorted here).
    labels: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct Publisher {
    #[serde(rename = "URL")]
    pub(super) url: String,
    pub(super) target_port: u16,
    pub(super) published_port: u16,
    pub(super) protocol: String,
}

pub async fn run(app: &App, a: Args) -> Result<i32> {
    let ctx = app.ctx().await?;
    common::check_services(&ctx, &a.service_names)?;
    let all = a.all || !a.status.is_empty();
    let mut list = common::containers(&ctx, &a.service_names, all).await?;
    if !a.all {
        list.retain(|c| !c.oneoff || c.state.is_running());
    }
    if !a.status.is_empty() {
        list.retain(|c| a.status.iter().any(|s| s == c.state.as_str()));
    }
    // By name, as Docker Compose lists them.
    list.sort_by(|x, y| x.name.cmp(&y.name));
    if a.services {
        let mut seen = Vec::new();
        for c in &list {
            if !seen.contains(&c.service) {
                writeln!(std::io::stdout(), "{}", c.service)?;
                seen.push(c.service.clone());
            }
        }
        return Ok(0);
    }
    if a.quiet {
        for c in &list {
            writeln!(std::io::stdout(), "{}", c.id)?;
        }
        return Ok(0);
    }
    match a.format.as_str() {
        f if f == "json" || f.contains("{{") => {
            let rows: Vec<Row> = list
                .iter()
                .map(|c| Row {
                    id: c.id.clone(),
                    name: c.name.clone(),
                    image: c.image.clone(),
                    command: c.command.clone(),
                    project: c.project.clone(),
                    service: c.service.clone(),
                    created: c.created.timestamp(),
                    state: c.state.as_str().into(),
                    status: common::status_text(c),
                    health: c.health.map(|h| format!("{h:?}").to_lowercase()).unwrap_or_default(),
                    exit_code: c.exit_code.unwrap_or(0),
                    labels: {
                        let mut pairs: Vec<String> = c.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                        pairs.sort();
                        pairs.join(",")
                    },
                    publishers: c
                        .ports
                        .iter()
                        .map(|p| Publisher {
                            url: if p.host_port == 0 { String::new() } else if p.host_ip.is_empty() { "0.0.0.0".into() } else { p.host_ip.clone() },
                            target_port: p.container_port,
                            published_port: p.host_port,
                            protocol: p.protocol.clone(),
                        })
                        .collect(),
                })
                .collect();
            if f == "json" {
                // One object per line, nothing when empty, as Compose (`jq -r .Name` works).
                for row in &rows {
                    writeln!(std::io::stdout(), "{}", serde_json::to_string(row)?)?;
                }
            } else {
                for row in &rows {
                    writeln!(std::io::stdout(), "{}", render_template(f, &serde_json::to_value(row)?)?)?;
                }
            }
        }
        "table" => {
            let mut rows = vec![["NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS"].map(String::from).to_vec()];
            for c in &list {
                let mut cmd = c.command.clone();
                if cmd.chars().count() > 20 {
                    cmd = cmd.chars().take(19).collect::<String>() + "…";
                }
                let created = common::human_duration((chrono::Utc::now() - c.created).to_std().unwrap_or_default());
                rows.push(vec![
                    c.name.clone(),
                    c.image.clone(),
                    format!("\"{cmd}\""),
                    c.service.clone(),
                    format!("{created} ago"),
                    common::status_text(c),
                    common::ports_text(c),
                ]);
            }
            print_table(&rows)?;
            let _ = short_name;
        }
        other => bail!("invalid --format {other:?}: use table, json or a template like '{{{{.Name}}}} {{{{.State}}}}'"),
    }
    Ok(0)
}

/// Left-aligned columns separated by three spaces, like the docker CLI.
pub fn print_table(rows: &[Vec<String>]) -> std::io::Result<()> {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols).map(|i| rows.iter().map(|r| r.get(i).map_or(0, |s| s.chars().count())).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (i, cell) in r.iter().enumerate() {
            if i + 1 == r.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<w$}   ", w = widths[i]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    write!(std::io::stdout(), "{out}")
}

/// `{{.Field}}` (a field of the JSON row) and `{{json .}}` / `{{json .Field}}`, the part of
/// Go templates people use with `ps --format`; `\t` and `\n` are escapes.
pub(super) fn render_template(template: &str, row: &serde_json::Value) -> Result<String> {
    let template = template.replace("\\t", "\t").replace("\\n", "\n");
    let mut out = String::new();
    let mut rest = template.as_str();
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let Some(len) = rest[start..].find("}}") else { bail!("invalid --format: unclosed {{{{") };
        let action = rest[start + 2..start + len].trim();
        let (json, path) = match action.strip_prefix("json ") {
            Some(p) => (true, p.trim()),
            None => (false, action),
        };
        let value = match path {
            "." => row,
            _ => {
                let field = path.strip_prefix('.').ok_or_else(|| anyhow::anyhow!("invalid --format: {action:?} is not a field like .Name"))?;
                row.get(field).ok_or_else(|| anyhow::anyhow!("invalid --format: no field {field:?} (fields: {})", field_names(row)))?
            }
        };
        match value {
            serde_json::Value::String(s) if !json => out.push_str(s),
            v => out.push_str(&v.to_string()),
        }
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

fn field_names(row: &serde_json::Value) -> String {
    row.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>().join(", ")).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::render_template;

    #[test]
    fn templates() {
        let row = serde_json::json!({"Name": "p-web-1", "State": "running", "ExitCode": 0, "Publishers": []});
        assert_eq!(render_template("{{.Name}} {{ .State }}", &row).unwrap(), "p-web-1 running");
        assert_eq!(render_template("{{.Name}}\\t{{.ExitCode}}", &row).unwrap(), "p-web-1\t0");
        assert_eq!(render_template("{{json .Publishers}}", &row).unwrap(), "[]");
        assert!(render_template("{{.Nope}}", &row).unwrap_err().to_string().contains("Name"));
        assert!(render_template("{{.Name", &row).is_err());
    }
}
