//! Watch mode (`develop.watch`): file events from `notify`, debounced into batches; each
//! batch becomes one plan per service (`rules`), run on the service's containers.
//! One line per action on stdout; a failed action prints a line and the watch goes on.

pub mod rules;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc::UnboundedReceiver;

use crate::backend::archive;
use crate::backend::builtin::build::context::Ignore;
use crate::backend::{ContainerSummary, ExecSpec};
use crate::compose::model::Project;
use crate::plan::converge::Recreate;
use crate::plan::execute::{self, Ctx, UpOptions};
use rules::{Plan, ServiceRules};

/// Quiet time that ends a batch: an editor's save is several events in a few ms.
const QUIET: Duration = Duration::from_millis(200);
/// A batch ends after this long even while events keep coming.
const MAX_BATCH: Duration = Duration::from_secs(2);

/// The watched services of a project, checked before anything runs.
pub struct Watch {
    services: Vec<ServiceRules>,
    /// `watch --quiet`: rebuilds show no build output.
    pub quiet: bool,
    /// `watch --prune` (the default): the image a rebuild replaced is removed when
    /// nothing uses it any more.
    pub prune: bool,
}

impl Watch {
    /// The rules of `named` services (all when empty); an error when none has any, or a
    /// watched path does not exist.
    pub fn new(project: &Project, named: &[String]) -> Result<Watch> {
        for n in named {
            if !project.services.contains_key(n) {
                bail!("no such service: {n}");
            }
        }
        let services = rules::service_rules(project, named, &|ctx| Ignore::load(ctx).unwrap_or_default());
        if services.is_empty() {
            bail!("none of the selected services has a develop.watch section: nothing to watch");
        }
        for s in &services {
            for r in &s.rules {
                if !r.rule.path.exists() {
                    bail!("service {:?}: develop.watch path {} does not exist", s.service, r.rule.path.display());
                }
                if r.bind_mounted {
                    eprintln!("WARN[0000] service {:?}: {} is bind-mounted into the container already: its {} rule does not copy files", s.service, r.rule.path.display(), r.rule.action.as_str());
                }
            }
        }
        Ok(Watch { services, quiet: false, prune: true })
    }

    pub fn service_names(&self) -> Vec<String> {
        self.services.iter().map(|s| s.service.clone()).collect()
    }

    /// Watches until dropped (the caller selects on Ctrl-C) or the watcher itself fails.
    pub async fn run(&self, ctx: &Ctx) -> Result<()> {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut watcher = notify::recommended_watcher(move |ev| {
            let _ = tx.send(ev);
        })
        .context("starting the file watcher")?;
        let mut watched: BTreeSet<(PathBuf, bool)> = BTreeSet::new();
        for r in self.services.iter().flat_map(|s| &s.rules) {
            // A file is watched through its folder: editors replace files on save.
            let (path, recursive) = match r.rule.path.is_dir() {
                true => (r.rule.path.clone(), true),
                false => (r.rule.path.parent().unwrap_or(Path::new("/")).to_path_buf(), false),
            };
            if watched.insert((path.clone(), recursive)) {
                let mode = if recursive { RecursiveMode::Recursive } else { RecursiveMode::NonRecursive };
                watcher.watch(&path, mode).with_context(|| format!("watching {}", path.display()))?;
            }
        }
        for s in &self.services {
            self.initial_sync(ctx, s).await;
        }
        println!("Watch enabled for {} (Ctrl-C to stop)", self.service_names().join(", "));
        loop {
            let batch = next_batch(&mut rx).await?;
            for s in &self.services {
                if let Some(plan) = rules::plan(s, &batch, &|p| p.is_dir()) {
                    let start = Instant::now();
                    report(&s.service, start, apply(ctx, s, &plan, self).await);
                }
            }
        }
    }

    async fn initial_sync(&self, ctx: &Ctx, s: &ServiceRules) {
        let hits: Vec<(usize, Vec<PathBuf>)> = s
            .rules
            .iter()
            .enumerate()
            .filter(|(_, r)| r.rule.initial_sync && r.rule.action.syncs() && !r.bind_mounted)
            .map(|(i, r)| (i, vec![r.rule.path.clone()]))
            .collect();
        if hits.is_empty() {
            return;
        }
        let start = Instant::now();
        let plan = Plan { sync: hits, ..Plan::default() };
        report(&s.service, start, sync(ctx, s, &plan, &running(ctx, &s.service).await.unwrap_or_default()).await.map(|t| format!("{t} (initial sync)")));
    }
}

fn report(service: &str, start: Instant, result: Result<String>) {
    let ms = start.elapsed().as_millis();
    let took = if ms < 1000 { format!("{ms} ms") } else { format!("{:.1} s", ms as f64 / 1000.0) };
    match result {
        Ok(what) => println!("{service}: {what} ({took})"),
        Err(e) => eprintln!("{service}: error: {e:#}"),
    }
}

/// Waits for a change, then gathers what follows until things are quiet.
async fn next_batch(rx: &mut UnboundedReceiver<notify::Result<notify::Event>>) -> Result<BTreeSet<PathBuf>> {
    let mut batch = BTreeSet::new();
    let mut first: Option<Instant> = None;
    loop {
        let next = match first {
            None => Ok(rx.recv().await),
            Some(t) if t.elapsed() >= MAX_BATCH => return Ok(batch),
            Some(_) => tokio::time::timeout(QUIET, rx.recv()).await,
        };
        let ev = match next {
            Ok(Some(ev)) => ev,
            Ok(None) => bail!("the file watcher stopped"),
            Err(_) => return Ok(batch),
        };
        match ev {
            // Reads (ours too, when we pack the files) change nothing.
            Ok(ev) if matches!(ev.kind, notify::EventKind::Access(_)) => {}
            Ok(ev) => {
                batch.extend(ev.paths);
                first.get_or_insert_with(Instant::now);
            }
            Err(e) => eprintln!("watch: {e}"),
        }
    }
}

/// The running containers of a service.
async fn running(ctx: &Ctx, service: &str) -> Result<Vec<ContainerSummary>> {
    let mut list: Vec<ContainerSummary> = ctx.observe().await?.into_iter().filter(|c| c.service == service && !c.oneoff && c.state.is_running()).collect();
    list.sort_by_key(|c| c.number);
    Ok(list)
}

async fn apply(ctx: &Ctx, s: &ServiceRules, plan: &Plan, w: &Watch) -> Result<String> {
    if plan.rebuild {
        rebuild(ctx, &s.service, w.quiet, w.prune).await?;
        return Ok("rebuilt and recreated".into());
    }
    let containers = running(ctx, &s.service).await?;
    if containers.is_empty() {
        bail!("no running container to update");
    }
    let mut done = Vec::new();
    if !plan.sync.is_empty() {
        done.push(sync(ctx, s, plan, &containers).await?);
    }
    if plan.restart {
        execute::stop(ctx, std::slice::from_ref(&s.service), None).await?;
        execute::start_existing(ctx, std::slice::from_ref(&s.service)).await?;
        done.push("restarted".into());
    }
    for &i in &plan.exec {
        let Some(exec) = &s.rules[i].rule.exec else { continue };
        let spec = ExecSpec {
            command: exec.command.clone(),
            env: exec.environment.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            user: exec.user.clone(),
            working_dir: exec.working_dir.clone(),
            privileged: exec.privileged,
            ..ExecSpec::default()
        };
        for c in &containers {
            let code = ctx.backend.exec(&c.id, &spec).await.with_context(|| format!("container {}", c.name))?;
            if code != 0 {
                bail!("{} exited with {code} in {}", shell_words::join(&exec.command), c.name);
            }
        }
        done.push(format!("ran {}", shell_words::join(&exec.command)));
    }
    Ok(done.join(", "))
}

/// Copies what changed into every container and removes what is gone; says how much.
async fn sync(ctx: &Ctx, s: &ServiceRules, plan: &Plan, containers: &[ContainerSummary]) -> Result<String> {
    let mut items: Vec<(PathBuf, String)> = Vec::new();
    let mut removed: Vec<String> = Vec::new();
    for (i, paths) in &plan.sync {
        let rule = &s.rules[*i];
        for p in paths {
            let Some(target) = rule.container_path(p) else { continue };
            if std::fs::symlink_metadata(p).is_ok() {
                let name = target.trim_start_matches('/');
                items.push((p.clone(), if name.is_empty() { ".".into() } else { name.to_string() }));
            } else {
                removed.push(target);
            }
        }
    }
    let rules: Vec<&rules::Rule> = plan.sync.iter().map(|(i, _)| &s.rules[*i]).collect();
    let skip = |p: &Path| !rules.iter().any(|r| r.covers(p, p.is_dir()));
    let mut tar = Vec::new();
    let files = tokio::task::block_in_place(|| archive::pack(&mut tar, &items, &skip, false))?;
    if containers.is_empty() {
        bail!("no running container to sync to");
    }
    for c in containers {
        if !items.is_empty() {
            ctx.backend.copy_to_container(&c.id, "/", archive::once(tar.clone()), false).await.with_context(|| format!("copying into {}", c.name))?;
        }
        if !removed.is_empty() {
            ctx.backend.remove_from_container(&c.id, &removed).await.with_context(|| format!("removing from {}", c.name))?;
        }
    }
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    let mut text = format!("synced {files} file{}", plural(files));
    if !removed.is_empty() {
        text.push_str(&format!(", removed {}", removed.len()));
    }
    Ok(text)
}

/// Builds the service's image and recreates its containers, and only those; with
/// `prune`, the image it replaced goes when no container uses it, as Compose prunes.
async fn rebuild(ctx: &Ctx, service: &str, quiet: bool, prune: bool) -> Result<()> {
    let _lock = crate::plan::lock::lock_project(ctx).await?;
    let image = crate::plan::spec::service_image(&ctx.project, service);
    let before = ctx.backend.image_config(&image).await?.map(|c| c.id);
    execute::build_service(ctx, service, quiet).await?;
    let opts = UpOptions { services: vec![service.to_string()], no_deps: true, recreate: Recreate::Force, ..UpOptions::default() };
    execute::up(ctx, &opts).await.map_err(|e| anyhow!("{e:#}"))?;
    let after = ctx.backend.image_config(&image).await?.map(|c| c.id);
    if let Some(old) = before.filter(|_| prune).filter(|old| Some(old) != after.as_ref()) {
        // Refused (not forced) while a container still uses it or it has another name.
        if ctx.backend.remove_image(&old, false).await.is_ok() {
            ctx.progress.event("Image", &old, "Removed");
        }
    }
    Ok(())
}
