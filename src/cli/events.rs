//! `hoist events`: the lifecycle events of the project's containers as they happen, one
//! line each (or JSON lines with the fields `docker compose events --json` prints).

use std::io::Write;

use anyhow::Result;
use futures::StreamExt;
use indexmap::IndexMap;

use super::{common, App};
use crate::backend::{ContainerEvent, EventOptions, labels};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Output events as a stream of json objects.
    #[arg(long)]
    json: bool,
    /// Show the events since a timestamp (RFC 3339) or relative (e.g. 42m).
    #[arg(long)]
    since: Option<String>,
    /// Stream events until a timestamp (RFC 3339) or relative (e.g. 42m).
    #[arg(long)]
    until: Option<String>,
    services: Vec<String>,
}

pub async fn run(app: &App, a: Args) -> Result<i32> {
    let ctx = app.ctx().await?;
    common::check_services(&ctx, &a.services)?;
    let opts = EventOptions {
        since: a.since.as_deref().map(super::logs::parse_time).transpose()?,
        until: a.until.as_deref().map(super::logs::parse_time).transpose()?,
    };
    let mut stream = ctx.backend.events(&ctx.project.name, &opts).await?;
    let print = async {
        while let Some(event) = stream.next().await {
            let event = event?;
            let attrs = |k: &str| event.attributes.get(k).map(String::as_str).unwrap_or_default();
            // As Docker Compose: one-off containers are not the project's services.
            if attrs(labels::ONEOFF) == "True" || (!a.services.is_empty() && !a.services.iter().any(|s| s == attrs(labels::SERVICE))) {
                continue;
            }
            let mut out = std::io::stdout().lock();
            writeln!(out, "{}", if a.json { json_line(&event) } else { text_line(&event) })?;
            out.flush()?;
        }
        Ok::<(), anyhow::Error>(())
    };
    tokio::select! {
        r = print => r?,
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(0)
}

/// The attributes users read: without the `com.docker.compose.*` labels, sorted.
fn shown_attributes(e: &ContainerEvent) -> IndexMap<&str, &str> {
    let mut attrs: Vec<(&str, &str)> =
        e.attributes.iter().filter(|(k, _)| !k.starts_with("com.docker.compose.")).map(|(k, v)| (k.as_str(), v.as_str())).collect();
    attrs.sort();
    attrs.into_iter().collect()
}

fn json_line(e: &ContainerEvent) -> String {
    serde_json::json!({
        "time": e.time.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        "type": "container",
        "action": e.action,
        "id": e.id,
        "service": e.attributes.get(labels::SERVICE).cloned().unwrap_or_default(),
        "attributes": shown_attributes(e),
    })
    .to_string()
}

/// `2024-05-01 10:00:00.000000 container start 4f2a… (image=busybox, name=demo-web-1)`.
fn text_line(e: &ContainerEvent) -> String {
    let attrs: Vec<String> = shown_attributes(e).iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{} container {} {} ({})", e.time.format("%Y-%m-%d %H:%M:%S%.6f"), e.action, e.id, attrs.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_leave_out_compose_labels() {
        let mut attributes = IndexMap::new();
        attributes.insert(labels::SERVICE.to_string(), "web".to_string());
        attributes.insert("name".to_string(), "demo-web-1".to_string());
        attributes.insert("exitCode".to_string(), "3".to_string());
        let time = chrono::DateTime::parse_from_rfc3339("2024-05-01T10:00:00.5Z").unwrap().with_timezone(&chrono::Utc);
        let e = ContainerEvent { time, id: "abc".into(), action: "die".into(), attributes };
        let v: serde_json::Value = serde_json::from_str(&json_line(&e)).unwrap();
        assert_eq!(v["service"], "web");
        assert_eq!(v["type"], "container");
        assert_eq!(v["attributes"], serde_json::json!({"exitCode": "3", "name": "demo-web-1"}));
        assert_eq!(text_line(&e), "2024-05-01 10:00:00.500000 container die abc (exitCode=3, name=demo-web-1)");
    }
}
