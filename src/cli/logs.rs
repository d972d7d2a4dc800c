//! `hoist logs`: the output of the project's containers, multiplexed. With `-f` it also
//! follows containers that appear later (scale up, recreate), which Docker Compose misses.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use futures::StreamExt;

use super::{common, App};
use crate::backend::{BackendError, ContainerState, ContainerSummary, LogLine, LogOptions, LogStreamBox};
use crate::output::logs::LogPrinter;
use crate::plan::execute::Ctx;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Follow log output.
    #[arg(short = 'f', long)]
    pub(super) follow: bool,
    /// Number of lines to show from the end of the logs for each container (or `all`).
    #[arg(short = 'n', long, default_value = "all")]
    pub(super) tail: String,
    /// Show timestamps.
    #[arg(short = 't', long)]
    pub(super) timestamps: bool,
    /// Show logs since timestamp (RFC 3339) or relative (e.g. 42m).
    #[arg(long)]
    pub(super) since: Option<String>,
    /// Show logs before a timestamp (RFC 3339) or relative (e.g. 42m).
    #[arg(long)]
    pub(super) until: Option<String>,
    /// Produce monochrome output.
    #[arg(long)]
    pub(super) no_color: bool,
    /// Don't print prefix in logs.
    #[arg(long)]
    pub(super) no_log_prefix: bool,
    /// Index of the container if the service has multiple replicas.
    #[arg(long)]
    pub(super) index: Option<u32>,
    pub(super) services: Vec<String>,
}

pub(super) fn parse_time(s: &str) -> Result<DateTime<Utc>> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    let d: crate::compose::model::Duration = s.parse().ok().with_context(|| format!("invalid time {s:?}: use RFC 3339 or a duration like 42m"))?;
    // A duration longer than the calendar reaches back means "from the beginning".
    let back = chrono::Duration::from_std(d.0).ok();
    Ok(back.and_then(|b| Utc::now().checked_sub_signed(b)).unwrap_or(DateTime::<Utc>::MIN_UTC))
}

impl Args {
    /// What the backend is asked for: `--tail`, `--since`, `--until`, `-f`, `-t`.
    pub fn log_options(&self) -> Result<LogOptions> {
        let tail = match self.tail.as_str() {
            "all" | "-1" => None,
            n => Some(n.parse::<usize>().with_context(|| format!("invalid --tail {n:?}"))?),
        };
        Ok(LogOptions {
            follow: self.follow,
            tail,
            since: self.since.as_deref().map(parse_time).transpose()?,
            until: self.until.as_deref().map(parse_time).transpose()?,
            timestamps: self.timestamps,
        })
    }
}

pub async fn run(app: &App, a: Args) -> Result<i32> {
    let ctx = app.ctx_targeting(&a.services).await?;
    common::check_services(&ctx, &a.services)?;
    let opts = a.log_options()?;
    // Services with `attach: false` are left out unless named, as Docker Compose does.
    let services: Vec<String> = if a.services.is_empty() && !ctx.project.from_labels {
        ctx.project.services.iter().filter(|(_, s)| s.attached()).map(|(n, _)| n.clone()).collect()
    } else {
        a.services.clone()
    };
    if services.is_empty() && !ctx.project.from_labels {
        // Every service has `attach: false` (an empty list would mean all of them).
        return Ok(0);
    }
    let mut list = common::containers(&ctx, &services, true).await?;
    if let Some(i) = a.index {
        list.retain(|c| c.number == i);
    }
    let order: Vec<String> = ctx.project.services.keys().cloned().collect();
    let mut printer = LogPrinter::new(&order, &list, app.color && !a.no_color, !a.no_log_prefix, a.timestamps);
    if !a.follow {
        let stream = ctx.backend.logs(&list, &opts).await?;
        printer.print(readable(stream)).await?;
        return Ok(0);
    }
    tokio::select! {
        // Keeps following containers that start again or appear (docs/compatibility.md).
        r = follow(&ctx, &services, None, a.index, &opts, &mut printer, None) => { r?; }
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(0)
}

/// Streams the logs of the services' containers, picking up containers that appear later
/// (scale up, recreate) and containers that start again (restart, stop + start): their
/// stream ends when they stop and is opened again after the last line shown.
/// With a `session` (attached `up`), says `web-1 exited with code N` when a container
/// stops, after its last line, and returns once every monitored container has stopped
/// and its output is drained, or with the container whose exit aborts the session.
/// Only the containers of `printed` services (all when None) have their output printed.
pub async fn follow(
    ctx: &Ctx,
    services: &[String],
    printed: Option<&[String]>,
    index: Option<u32>,
    opts: &LogOptions,
    printer: &mut LogPrinter,
    session: Option<&Session<'_>>,
) -> Result<Option<(ContainerSummary, i32)>> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<LogLine>>(4096);
    // Container id → whether its stream is still open.
    let mut open: HashMap<String, Arc<AtomicBool>> = HashMap::new();
    // Container name → time of the last line shown, and the time before which a reopened
    // stream repeats what was shown.
    let mut shown: HashMap<String, DateTime<Utc>> = HashMap::new();
    let mut floor: HashMap<String, DateTime<Utc>> = HashMap::new();
    // Containers whose logging driver keeps nothing to read: warned about once, as Compose.
    let unreadable: Arc<Mutex<HashSet<String>>> = Arc::default();
    let mut first = true;
    // Container id → the end of the run whose exit was announced.
    let mut announced: HashMap<String, Option<DateTime<Utc>>> = HashMap::new();
    loop {
        let current: Vec<_> = common::containers(ctx, services, true)
            .await?
            .into_iter()
            .filter(|c| !c.oneoff && index.is_none_or(|i| c.number == i))
            .collect();
        for c in current.iter().filter(|c| printed.is_none_or(|s| s.contains(&c.service))) {
            if unreadable.lock().unwrap().contains(&c.id) {
                continue;
            }
            let mut o = opts.clone();
            match open.get(&c.id).map(|f| f.load(Ordering::SeqCst)) {
                // Containers that appear after the start are shown from their first line.
                None if !first => o.tail = None,
                None => {}
                // Running again: what it printed before was shown already.
                Some(false) if c.state.is_running() => {
                    o.tail = None;
                    o.since = shown.get(&c.name).copied().max(c.finished_at);
                    if let Some(t) = o.since {
                        floor.insert(c.name.clone(), t);
                    }
                }
                Some(_) => continue,
            }
            printer.add(c);
            let flag = Arc::new(AtomicBool::new(true));
            open.insert(c.id.clone(), flag.clone());
            let mut stream = ctx.backend.logs(std::slice::from_ref(c), &o).await?;
            let (tx, unreadable, id) = (tx.clone(), unreadable.clone(), c.id.clone());
            tokio::spawn(async move {
                while let Some(item) = stream.next().await {
                    if let Err(e @ BackendError::LogsNotReadable(_)) = &item {
                        warn_unreadable(e);
                        unreadable.lock().unwrap().insert(id.clone());
                        continue;
                    }
                    if tx.send(item.map_err(anyhow::Error::from)).await.is_err() {
                        break;
                    }
                }
                flag.store(false, Ordering::SeqCst);
            });
        }
        first = false;
        // Print what arrived, then look for new containers again.
        let deadline = tokio::time::sleep(Duration::from_millis(500));
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                Some(item) = rx.recv() => print_line(printer, &mut shown, &floor, item?)?,
                _ = &mut deadline => break,
            }
        }
        let Some(session) = session else { continue };
        // After its last line: a container whose stream ended and that has stopped.
        for c in current.iter().filter(|c| !c.state.is_running() && c.state != ContainerState::Created) {
            let drained = open.get(&c.id).is_none_or(|f| !f.load(Ordering::SeqCst));
            if !drained || announced.get(&c.id) == Some(&c.finished_at) {
                continue;
            }
            while let Ok(item) = rx.try_recv() {
                print_line(printer, &mut shown, &floor, item?)?;
            }
            let code = c.exit_code.unwrap_or(0);
            if printed.is_none_or(|s| s.contains(&c.service)) {
                writeln!(std::io::stdout(), "{}", printer.status(c, &format!("exited with code {code}")))?;
            }
            announced.insert(c.id.clone(), c.finished_at);
            let monitored = session.monitored.contains(&c.service);
            if monitored && session.abort.is_some_and(|only_failures| code != 0 || !only_failures) {
                return Ok(Some((c.clone(), code)));
            }
        }
        let monitored: Vec<_> = current.iter().filter(|c| session.monitored.contains(&c.service)).collect();
        let all_closed = monitored.iter().all(|c| open.get(&c.id).is_none_or(|f| !f.load(Ordering::SeqCst)));
        if monitored.iter().all(|c| !c.state.is_running()) && all_closed {
            while let Ok(item) = rx.try_recv() {
                print_line(printer, &mut shown, &floor, item?)?;
            }
            return Ok(None);
        }
    }
}

/// What an attached `up` session watches: the containers whose exits end it, and whether
/// the first exit (`Some(false)`), the first failure (`Some(true)`) or none aborts it.
pub struct Session<'a> {
    pub monitored: &'a [String],
    pub abort: Option<bool>,
}

/// As Docker Compose: a container whose logging driver cannot be read (`none`) is a
/// warning, not an error.
fn readable(stream: LogStreamBox) -> LogStreamBox {
    Box::pin(stream.filter(|item| {
        let unreadable = matches!(item, Err(BackendError::LogsNotReadable(_)));
        if let (true, Err(e)) = (unreadable, item) {
            warn_unreadable(e);
        }
        futures::future::ready(!unreadable)
    }))
}

fn warn_unreadable(e: &BackendError) {
    eprintln!("WARN[0000] {e}");
}

/// Prints a line unless a reopened stream repeats it (an engine's `since` may have whole
/// seconds), and notes its time.
fn print_line(printer: &LogPrinter, shown: &mut HashMap<String, DateTime<Utc>>, floor: &HashMap<String, DateTime<Utc>>, line: LogLine) -> Result<()> {
    if let Some(t) = line.time {
        if floor.get(&line.container).is_some_and(|f| t <= *f) {
            return Ok(());
        }
        shown.insert(line.container.clone(), t);
    }
    writeln!(std::io::stdout(), "{}", printer.format(&line))?;
    Ok(())
}
