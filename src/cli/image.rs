//! `pull`, `images` and `image import|ls|rm|inspect|pull`: images on the selected engine.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Subcommand;
use futures::future::join_all;

use super::{common, App};
use crate::backend::{labels, ImportOptions, ProgressFn};
use crate::plan::spec::service_image;

#[derive(clap::Args, Debug)]
pub struct PullArgs {
    /// Pull without printing progress information.
    #[arg(short = 'q', long)]
    quiet: bool,
    /// Pull what it can and ignores images with pull failures.
    #[arg(long)]
    ignore_pull_failures: bool,
    /// Ignore images that can be built.
    #[arg(long)]
    ignore_buildable: bool,
    /// Also pull services declared as dependencies.
    #[arg(long)]
    include_deps: bool,
    /// Apply pull policy: missing or always (default: each service's pull_policy).
    #[arg(long, value_parser = ["missing", "always"])]
    policy: Option<String>,
    services: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct ImagesArgs {
    /// Only display IDs.
    #[arg(short = 'q', long)]
    quiet: bool,
    /// table or json.
    #[arg(long, default_value = "table")]
    format: String,
    services: Vec<String>,
}

#[derive(Subcommand, Debug)]
pub enum ImageCommand {
    /// Import a root filesystem tarball as an image (like `docker import`).
    Import {
        /// Apply Dockerfile instructions to the image (repeatable: `--change 'CMD ["sh"]'`).
        #[arg(short = 'c', long = "change")]
        changes: Vec<String>,
        tarball: PathBuf,
        reference: String,
    },
    /// List images.
    #[command(alias = "list")]
    Ls {
        #[arg(short = 'q', long)]
        quiet: bool,
        #[arg(long, default_value = "table")]
        format: String,
    },
    /// Remove images.
    #[command(alias = "remove")]
    Rm {
        #[arg(short = 'f', long)]
        force: bool,
        #[arg(required = true)]
        references: Vec<String>,
    },
    /// Show an image's configuration as JSON.
    Inspect { references: Vec<String> },
    /// Pull an image from a registry.
    Pull { reference: String },
    /// Push an image to its registry.
    Push { reference: String },
    /// Give an image another name.
    Tag { source: String, target: String },
    /// Load images from a `docker save` or OCI archive.
    Load {
        #[arg(short = 'i', long = "input")]
        input: PathBuf,
    },
}

fn progress_fn(app: &App, quiet: bool) -> ProgressFn {
    let progress = app.progress();
    Arc::new(move |e| {
        if !quiet {
            progress.event("Image", &e.id, &e.status);
        }
    })
}

pub async fn pull(app: &App, a: PullArgs) -> Result<i32> {
    use crate::compose::model::PullPolicy;
    let ctx = app.ctx_targeting(&a.services).await?;
    common::check_services(&ctx, &a.services)?;
    let selected: Vec<String> = if a.include_deps && !a.services.is_empty() {
        let graph = crate::plan::graph::Graph::new(&ctx.project)?;
        crate::plan::execute::select_services(&ctx.project, &graph, &a.services, false)?
    } else {
        ctx.project.services.keys().filter(|n| a.services.is_empty() || a.services.contains(n)).cloned().collect()
    };
    // Compose's choices per service: no image named, `never`/`build` policies, an image
    // already there under `missing`, and (with --ignore-buildable) buildable ones are skipped.
    let mut images: Vec<(String, String)> = Vec::new();
    for name in &selected {
        let svc = &ctx.project.services[name];
        let policy = match a.policy.as_deref() {
            Some(p) => Some(p.parse().map_err(anyhow::Error::msg)?),
            None => svc.pull_policy.clone(),
        };
        let image = service_image(&ctx.project, name);
        let skipped = if svc.image.is_none() {
            Some("Skipped - No image to be pulled")
        } else if matches!(policy, Some(PullPolicy::Never | PullPolicy::Build)) {
            Some("Skipped")
        } else if matches!(policy, Some(PullPolicy::Missing { .. })) && ctx.backend.image_config(&image).await?.is_some() {
            Some("Skipped - Image is already present locally")
        } else if svc.build.is_some() && a.ignore_buildable {
            Some("Skipped - Image can be built")
        } else if images.iter().any(|(i, _)| *i == image) {
            Some("Skipped - Image is already being pulled")
        } else {
            None
        };
        match skipped {
            Some(why) => ctx.progress.event("Service", name, why),
            None => images.push((image, name.clone())),
        }
    }
    let results = join_all(images.iter().map(|(image, _)| {
        let backend = ctx.backend.clone();
        let cb = progress_fn(app, a.quiet);
        async move { backend.pull_image(image, cb).await.with_context(|| format!("pulling {image}")) }
    }))
    .await;
    let mut must_build = Vec::new();
    for ((image, service), r) in images.iter().zip(results) {
        match r {
            Ok(()) => ctx.progress.event("Image", image, "Pulled"),
            // A buildable service's image may not be in any registry yet.
            Err(e) if ctx.project.services[service].build.is_some() => {
                ctx.progress.warn(&format!("{e:#}"));
                must_build.push(service.as_str());
            }
            Err(e) if a.ignore_pull_failures => ctx.progress.warn(&format!("{e:#}")),
            Err(e) => return Err(e),
        }
    }
    if !must_build.is_empty() {
        ctx.progress.warn(&format!("Some service image(s) must be built from source by running:\n    hoist build {}", must_build.join(" ")));
    }
    Ok(0)
}

pub async fn images(app: &App, a: ImagesArgs) -> Result<i32> {
    if !matches!(a.format.as_str(), "table" | "json") {
        anyhow::bail!("format value {:?} could not be parsed: use table or json", a.format);
    }
    let ctx = app.ctx().await?;
    common::check_services(&ctx, &a.services)?;
    let mut containers = common::containers(&ctx, &a.services, true).await?;
    containers.sort_by(|x, y| x.name.cmp(&y.name));
    let all = ctx.backend.list_images().await?;
    let mut table = vec![["CONTAINER", "REPOSITORY", "TAG", "PLATFORM", "IMAGE ID", "SIZE", "CREATED"].map(String::from).to_vec()];
    let mut json = Vec::new();
    let mut ids: Vec<String> = Vec::new();
    for c in &containers {
        let (repo, tag) = split_ref(&c.image);
        // The image the container was created from (its recorded ID), not whatever the
        // tag points at now; containers made before the ID was recorded fall back to the tag.
        let recorded = c.labels.get(labels::IMAGE).filter(|id| id.starts_with("sha256:"));
        let image = match recorded {
            Some(id) => all.iter().find(|i| i.id == *id),
            None => all.iter().find(|i| i.tags.iter().any(|t| *t == c.image || *t == format!("{}:{}", repo, tag))),
        };
        let id = image.map(|i| i.id.clone()).or_else(|| recorded.cloned()).unwrap_or_default();
        let bare = id.trim_start_matches("sha256:").to_string();
        if a.quiet {
            // Each image once, without the digest's algorithm, as Compose prints them.
            if !bare.is_empty() && !ids.contains(&bare) {
                ids.push(bare);
            }
            continue;
        }
        let platform = match image {
            Some(i) => ctx.backend.image_config(&i.id).await?.map(|c| c.platform).unwrap_or_default(),
            None => String::new(),
        };
        let size = image.map_or(0, |i| i.size);
        let created = image.and_then(|i| i.created);
        let mut row = serde_json::json!({"ID": id, "ContainerName": c.name, "Repository": repo, "Tag": tag, "Platform": platform, "Size": size});
        // Left out when unknown, as Compose's omitempty does.
        if let Some(t) = created {
            row["Created"] = t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true).into();
        }
        json.push(row);
        table.push(vec![
            c.name.clone(),
            if repo.is_empty() { "<none>".into() } else { repo },
            if tag.is_empty() { "<none>".into() } else { tag },
            platform,
            bare.chars().take(12).collect(),
            human_size(size),
            created.map_or("N/A".into(), |t| format!("{} ago", common::human_duration((chrono::Utc::now() - t).to_std().unwrap_or_default()))),
        ]);
    }
    if a.quiet {
        for id in ids {
            writeln!(std::io::stdout(), "{id}")?;
        }
    } else if a.format == "json" {
        writeln!(std::io::stdout(), "{}", serde_json::Value::Array(json))?;
    } else {
        super::ps::print_table(&table)?;
    }
    Ok(0)
}

/// `repo:tag` → (repo, tag), `latest` when untagged.
fn split_ref(r: &str) -> (String, String) {
    let last = r.rsplit('/').next().unwrap_or(r);
    match last.rsplit_once(':') {
        Some((_, tag)) => (r[..r.len() - tag.len() - 1].to_string(), tag.to_string()),
        None => (r.to_string(), "latest".to_string()),
    }
}

pub async fn image_command(app: &App, c: ImageCommand) -> Result<i32> {
    let backend = app.backend().await?;
    match c {
        ImageCommand::Import { changes, tarball, reference } => {
            let id = backend.import_image(&tarball, &reference, &ImportOptions { changes }).await?;
            writeln!(std::io::stdout(), "{id}")?;
        }
        ImageCommand::Ls { quiet, format } => {
            let list = backend.list_images().await?;
            if quiet {
                for i in &list {
                    writeln!(std::io::stdout(), "{}", i.id.trim_start_matches("sha256:").chars().take(12).collect::<String>())?;
                }
            } else if format == "json" {
                writeln!(std::io::stdout(), "{}", serde_json::to_string(&list)?)?;
            } else {
                let mut rows = vec![["REPOSITORY", "TAG", "IMAGE ID", "SIZE"].map(String::from).to_vec()];
                for i in &list {
                    let short: String = i.id.trim_start_matches("sha256:").chars().take(12).collect();
                    let tags = if i.tags.is_empty() { vec!["<none>:<none>".to_string()] } else { i.tags.clone() };
                    for t in tags {
                        let (repo, tag) = split_ref(&t);
                        rows.push(vec![repo, tag, short.clone(), human_size(i.size)]);
                    }
                }
                super::ps::print_table(&rows)?;
            }
        }
        ImageCommand::Rm { force, references } => {
            for r in references {
                backend.remove_image(&r, force).await.with_context(|| format!("removing {r}"))?;
                writeln!(std::io::stdout(), "Untagged: {r}")?;
            }
        }
        ImageCommand::Inspect { references } => {
            let mut out = Vec::new();
            for r in references {
                let cfg = backend.image_config(&r).await?.with_context(|| format!("no such image: {r}"))?;
                out.push(serde_json::json!({"Reference": r, "Config": cfg}));
            }
            writeln!(std::io::stdout(), "{}", serde_json::to_string_pretty(&out)?)?;
        }
        ImageCommand::Push { reference } => {
            backend.push_image(&reference, progress_fn(app, false)).await.with_context(|| format!("pushing {reference}"))?;
        }
        ImageCommand::Tag { source, target } => backend.tag_image(&source, &target).await?,
        ImageCommand::Load { input } => {
            for r in backend.load_images(&input).await? {
                writeln!(std::io::stdout(), "Loaded image: {r}")?;
            }
        }
        ImageCommand::Pull { reference } => {
            backend.pull_image(&reference, progress_fn(app, false)).await.with_context(|| format!("pulling {reference}"))?;
        }
    }
    Ok(0)
}

/// Sizes as the docker CLI prints them: powers of 1000, three significant digits (`1.98MB`).
pub fn human_size(bytes: u64) -> String {
    super::stats::decimal_size(bytes)
}

#[cfg(test)]
mod tests {
    #[test]
    fn split_ref() {
        assert_eq!(super::split_ref("busybox:latest"), ("busybox".into(), "latest".into()));
        assert_eq!(super::split_ref("localhost:5000/a/b"), ("localhost:5000/a/b".into(), "latest".into()));
        assert_eq!(super::split_ref("localhost:5000/a/b:1"), ("localhost:5000/a/b".into(), "1".into()));
    }
}

#[derive(clap::Args, Debug)]
pub struct CommitArgs {
    /// Author (e.g., "John Hannibal Smith <hannibal@a-team.com>").
    #[arg(short = 'a', long)]
    author: Option<String>,
    /// Apply Dockerfile instruction to the created image (repeatable).
    #[arg(short = 'c', long = "change")]
    changes: Vec<String>,
    /// Index of the container if service has multiple replicas.
    #[arg(long)]
    index: Option<u32>,
    /// Commit message.
    #[arg(short = 'm', long)]
    message: Option<String>,
    /// Pause container during commit (`--pause=false` does not).
    #[arg(short = 'p', long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pause: bool,
    service: String,
    #[arg(value_name = "REPOSITORY[:TAG]")]
    reference: Option<String>,
}

/// `hoist commit`: a new image from a service container's changes, as `docker compose
/// commit` makes it.
pub async fn commit(app: &App, a: CommitArgs) -> Result<i32> {
    let ctx = app.ctx().await?;
    let c = common::service_container(&ctx, &a.service, a.index).await?;
    ctx.progress.event("Container", &c.name, "Committing");
    let opts = crate::backend::CommitOptions { reference: a.reference, author: a.author, message: a.message, changes: a.changes, pause: a.pause };
    let id = ctx.backend.commit_container(&c.id, &opts).await.with_context(|| format!("committing {}", c.name))?;
    ctx.progress.event("Container", &c.name, &format!("Committed as {id}"));
    Ok(0)
}
