//! What `--backend swarm` does for the commands that make sense on a swarm: `up`, `down`,
//! `ps`, `logs`, `scale` and `ls` act on the project as a stack of services; the
//! container commands say why they do not apply.

use std::io::Write;

use anyhow::{bail, Result};
use futures::StreamExt;
use serde::Serialize;

use super::{common, down, logs, ls, ps, up, App};
use crate::backend::swarm::{self, DeployOptions, RemoveOptions, Swarm, SwarmError, TaskSummary};
use crate::backend::{LogOptions, LogStreamBox};
use crate::output::logs::LogPrinter;
use crate::output::template::{self, Format};

/// Why a container command does nothing on a swarm, and what to do instead.
pub fn not_on_swarm(command: &str) -> anyhow::Error {
    let instead = match command {
        "start" | "restart" | "create" => "`hoist up` deploys and `hoist up --force-recreate` restarts every task",
        "stop" | "kill" | "rm" | "pause" | "unpause" => "`hoist scale SERVICE=0` stops a service's tasks, `hoist down` removes the stack",
        "run" => "`docker run --network <stack>_<network>` joins the stack's (attachable) networks",
        "images" => "each node keeps the images of its own tasks; `hoist ps` shows which image each task runs",
        "wait" => "`hoist up --wait` waits until the stack's tasks run",
        "watch" | "cp" => "deploy a new image (`build`, `push`, `up`) to change what the tasks run",
        _ => "`hoist ps` shows the node each task runs on; use `docker` on that node",
    };
    anyhow::anyhow!(
        "`hoist {command}` acts on containers, and swarm manages its tasks' containers itself: with --backend swarm, use up, down, ps, logs, scale, config or ls ({instead})"
    )
}

/// Prints what swarm will ignore; fails, naming every service and key, on what it cannot do.
pub fn check(project: &crate::compose::Project, services: &[String], progress: &crate::output::progress::ProgressRef) -> Result<()> {
    match swarm::check(project, services) {
        Ok(warnings) => {
            for w in warnings {
                progress.warn(&w);
            }
            Ok(())
        }
        Err(refusals) => Err(SwarmError::Refused(refusals).into()),
    }
}

pub async fn up(app: &App, a: up::Args) -> Result<i32> {
    for (set, flag) in [
        (a.images.get.build, "--build: build and push the images first (`hoist --backend docker build`, `hoist push`)"),
        (a.images.pull_given(), "--pull: each node's engine pulls the image its tasks need"),
        (a.recreate.always_recreate_deps, "--always-recreate-deps: a swarm updates a service when its spec changes, not because another one did"),
        (a.recreate.renew_anon_volumes, "--renew-anon-volumes: a task's anonymous volumes are the node engine's"),
        (a.abort_on_container_failure, "--abort-on-container-failure: swarm restarts tasks by their restart policy"),
        (a.attach_dependencies, "--attach-dependencies: the stack's output is followed whole"),
        (a.no_start, "--no-start: a swarm service always runs; `deploy.replicas: 0` deploys it without tasks"),
        (a.watch, "--watch: swarm tasks are updated by deploying a new image or spec, not by syncing files into them"),
        (a.abort_on_container_exit || a.exit_code_from.is_some(), "--abort-on-container-exit / --exit-code-from: swarm restarts tasks by their restart policy"),
    ] {
        if set {
            bail!("`up {flag}` is not available with --backend swarm");
        }
    }
    let project = app.project_targeting(&a.services)?;
    let progress = app.progress();
    check(&project, &a.services, &progress)?;
    let swarm = Swarm::connect(progress).await?;
    let lock = common::lock_named("swarm", &project.name).await?;
    let opts = DeployOptions {
        services: a.services.clone(),
        scale: up::parse_scale(&a.scale)?.into_iter().collect(),
        force: a.recreate.force_recreate,
        no_recreate: a.recreate.no_recreate,
        remove_orphans: a.remove_orphans,
        wait: a.wait,
    };
    swarm.deploy(&project, &opts).await?;
    drop(lock);
    if a.detach || a.wait {
        return Ok(0);
    }
    eprintln!("Following the stack's output; Ctrl+C stops following, the stack keeps running (`hoist down` removes it)");
    let opts = LogOptions { follow: true, timestamps: a.timestamps, ..Default::default() };
    let stream = swarm.logs(&project.name, &a.services, None, &opts).await?;
    let order: Vec<String> = project.services.keys().cloned().collect();
    let mut printer = LogPrinter::new(&order, &[], app.color && !a.no_color, !a.no_log_prefix, a.timestamps);
    tokio::select! {
        r = print(stream, &mut printer) => r?,
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(0)
}

pub async fn down(app: &App, a: down::Args) -> Result<i32> {
    if a.rmi.is_some() {
        bail!("`down --rmi` is not available with --backend swarm: every node keeps its own images");
    }
    let stack = app.project_name()?;
    let swarm = Swarm::connect(app.progress()).await?;
    let _lock = common::lock_named("swarm", &stack).await?;
    swarm.remove(&stack, RemoveOptions { volumes: a.volumes }).await?;
    Ok(0)
}

pub async fn scale(app: &App, a: up::ScaleArgs) -> Result<i32> {
    let wanted: Vec<(String, u32)> = up::parse_scale(&a.scale)?.into_iter().collect();
    let project = app.project()?;
    let swarm = Swarm::connect(app.progress()).await?;
    let _lock = common::lock_named("swarm", &project.name).await?;
    swarm.scale(&project, &wanted).await?;
    Ok(0)
}

/// One row of `ps --format json` on a swarm: a task.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct TaskRow {
    #[serde(rename = "ID")]
    id: String,
    name: String,
    service: String,
    image: String,
    node: String,
    desired_state: String,
    state: String,
    since: String,
    error: String,
    publishers: Vec<ps::Publisher>,
}

fn row(t: &TaskSummary) -> TaskRow {
    TaskRow {
        id: t.id.clone(),
        name: t.name.clone(),
        service: t.service.clone(),
        image: t.image.clone(),
        node: t.node.clone(),
        desired_state: t.desired_state.clone(),
        state: t.state.clone(),
        since: t.since.map(|s| s.to_rfc3339()).unwrap_or_default(),
        error: t.error.clone(),
        publishers: t
            .ports
            .iter()
            .map(|p| ps::Publisher { url: "0.0.0.0".into(), target_port: p.container_port, published_port: p.host_port, protocol: p.protocol.clone() })
            .collect(),
    }
}

pub async fn ps(app: &App, a: ps::Args) -> Result<i32> {
    let format = Format::parse(&a.format)?;
    let stack = app.project_name()?;
    let swarm = Swarm::connect(app.progress()).await?;
    let status = a.statuses()?;
    // A status filter looks at every task, as for containers.
    let mut tasks = swarm.tasks(&stack, &a.service_names, a.all || !status.is_empty()).await?;
    if !status.is_empty() {
        tasks.retain(|t| status.contains(&t.state));
    }
    if !a.orphans && let Ok(project) = app.project() {
        tasks.retain(|t| project.services.contains_key(&t.service));
    }
    if !a.no_trunc {
        for t in &mut tasks {
            t.id.truncate(12);
        }
    }
    let mut out = std::io::stdout();
    if a.services {
        let mut seen: Vec<&String> = Vec::new();
        for t in &tasks {
            if !seen.contains(&&t.service) {
                writeln!(out, "{}", t.service)?;
                seen.push(&t.service);
            }
        }
        return Ok(0);
    }
    if a.quiet {
        for t in &tasks {
            writeln!(out, "{}", t.id)?;
        }
        return Ok(0);
    }
    // One JSON object per line, or a template, as for containers.
    let rows: Vec<_> = tasks.iter().map(|t| template::Row { fields: row(t), labels: None }).collect();
    format.print(&rows, template::default_header, || {
        let mut rows = vec![["NAME", "IMAGE", "NODE", "DESIRED STATE", "CURRENT STATE", "ERROR", "PORTS"].map(String::from).to_vec()];
        for t in &tasks {
            let since = t.since.map(|s| common::human_duration((chrono::Utc::now() - s).to_std().unwrap_or_default()));
            let mut state = t.state.clone();
            if let Some(s) = state.get_mut(0..1) {
                s.make_ascii_uppercase();
            }
            let ports: Vec<String> = t.ports.iter().map(|p| format!("*:{}->{}/{}", p.host_port, p.container_port, p.protocol)).collect();
            rows.push(vec![
                t.name.clone(),
                t.image.clone(),
                t.node.clone(),
                t.desired_state.clone(),
                since.map_or(state.clone(), |s| format!("{state} {s} ago")),
                t.error.clone(),
                ports.join(", "),
            ]);
        }
        rows
    })?;
    Ok(0)
}

pub async fn logs(app: &App, a: logs::Args) -> Result<i32> {
    let opts = a.log_options()?;
    // The file gives the services' colors; `-p` alone is enough to read a stack's logs.
    let (stack, order) = match app.project() {
        Ok(p) => (p.name.clone(), p.services.keys().cloned().collect()),
        Err(e) if app.project_name.is_none() => return Err(e),
        Err(_) => (app.project_name()?, Vec::new()),
    };
    let swarm = Swarm::connect(app.progress()).await?;
    let stream = swarm.logs(&stack, &a.services, a.index, &opts).await?;
    let mut printer = LogPrinter::new(&order, &[], app.color && !a.no_color, !a.no_log_prefix, a.timestamps);
    tokio::select! {
        r = print(stream, &mut printer) => r?,
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(0)
}

/// Prints task lines as they come, each task prefixed `web.1  | ` in its service's color.
async fn print(mut stream: LogStreamBox, printer: &mut LogPrinter) -> Result<()> {
    let mut out = std::io::stdout();
    while let Some(line) = stream.next().await {
        let line = line?;
        if !printer.knows(&line.container) {
            let service = line.container.rsplit_once('.').map_or(line.container.as_str(), |(s, _)| s).to_string();
            printer.add_source(&line.container, line.container.clone(), &service);
        }
        writeln!(out, "{}", printer.format(&line))?;
    }
    Ok(())
}

pub async fn ls(app: &App, a: ls::Args) -> Result<i32> {
    let swarm = Swarm::connect(app.progress()).await?;
    let stacks = swarm.stacks().await?;
    let mut out = std::io::stdout();
    let status = |s: &swarm::StackSummary| format!("running({}/{})", s.running, s.desired);
    if a.quiet {
        for s in &stacks {
            writeln!(out, "{}", s.name)?;
        }
    } else if a.format == "json" {
        let rows: Vec<_> = stacks.iter().map(|s| serde_json::json!({"Name": s.name, "Services": s.services, "Status": status(s)})).collect();
        writeln!(out, "{}", serde_json::Value::Array(rows))?;
    } else {
        let mut rows = vec![vec!["NAME".to_string(), "SERVICES".into(), "STATUS".into()]];
        rows.extend(stacks.iter().map(|s| vec![s.name.clone(), s.services.to_string(), status(s)]));
        ps::print_table(&rows)?;
    }
    Ok(0)
}
