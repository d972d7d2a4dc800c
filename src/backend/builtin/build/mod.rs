//! hoist's own Dockerfile builder for the built-in runtime: the Dockerfile is parsed,
//! the stages the target needs run step by step into image-store layers (RUN in a
//! built-in container, COPY/ADD staged from the context), each step cached. See docs/builder.md.

mod archive;
mod cache;
pub(crate) mod context;
mod copy;
mod dockerfile;
mod ignore;
mod scratch;
mod stage;
mod steps;
mod vars;

use std::collections::HashSet;
use std::path::PathBuf;

use super::BuiltinBackend;
use super::tree;
use super::image::ImageStore;
use crate::backend::{Backend, BuildSpec, ProgressEvent, ProgressFn};
use dockerfile::{Dockerfile, Kind};
use vars::Vars;

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// Something wrong at a line of the Dockerfile (syntax, a failed step).
    #[error("{file}:{line}: {message}")]
    At { file: String, line: usize, message: String },
    #[error("{0}")]
    Other(String),
}

fn at(file: &str, line: usize, message: impl Into<String>) -> BuildError {
    BuildError::At { file: file.to_string(), line, message: message.into() }
}

/// Where a stage starts from.
#[derive(Debug, Clone, PartialEq)]
enum Base {
    Scratch,
    /// An earlier stage, by index.
    Stage(usize),
    /// An image reference (present in the store before the steps run).
    Image(String),
}

/// What is decided before any step runs: global ARGs, the stages to build, their bases.
#[derive(Debug)]
struct Plan {
    /// ARGs before the first FROM, resolved (defaults or --build-arg values).
    meta: Vars,
    target: usize,
    needed: Vec<bool>,
    bases: Vec<Base>,
    /// Images that must be in the store: (reference, Dockerfile line).
    images: Vec<(String, usize)>,
    /// Build args the global ARGs consumed.
    used_args: HashSet<String>,
}

/// Reports a line of build output (`#3 [2/5] RUN ...`, `#3 CACHED`).
fn say(progress: &ProgressFn, id: &str, text: String) {
    progress(ProgressEvent { id: id.to_string(), status: text, current: None, total: None });
}

/// Builds the image `spec` describes; returns its id. Nothing is tagged unless every
/// step succeeded.
pub async fn build(backend: &BuiltinBackend, spec: &BuildSpec, progress: ProgressFn) -> Result<String, BuildError> {
    let (file, text) = read_dockerfile(spec)?;
    let df = dockerfile::parse(&text).map_err(|e| at(&file, e.line, e.message))?;
    let plan = plan(&df, spec, &file)?;
    let id = spec.tags.first().cloned().unwrap_or_else(|| spec.context.display().to_string());
    for (reference, line) in &plan.images {
        ensure_image(backend, reference, spec.pull, &progress, &id).await.map_err(|m| at(&file, *line, m))?;
    }
    let state_root = backend.store.root.clone();
    let spec = spec.clone();
    tokio::task::spawn_blocking(move || {
        let images = ImageStore::open(&state_root).map_err(|e| BuildError::Other(e.to_string()))?;
        stage::Builder::new(images, df, plan, spec, file, progress)?.run()
    })
    .await
    .map_err(|e| BuildError::Other(format!("the build task failed: {e}")))?
}

/// (name for errors, content) of the Dockerfile: inline, or read from the context.
fn read_dockerfile(spec: &BuildSpec) -> Result<(String, String), BuildError> {
    if let Some(text) = &spec.dockerfile_inline {
        return Ok(("Dockerfile".into(), text.clone()));
    }
    let name = spec.dockerfile.clone().unwrap_or_else(|| "Dockerfile".into());
    let path = spec.context.join(&name);
    // In the context, it is read inside it (a symlink there cannot name a host file);
    // a Dockerfile named outside the context is the user's own choice.
    let read = match context::relative_source(&name) {
        Ok(rel) if !name.starts_with('/') => tree::Tree::open(&spec.context).and_then(|t| t.canonical(&rel, &|_, _| true).and_then(|(p, _)| t.open_file(&p))).and_then(std::io::read_to_string),
        _ => std::fs::read_to_string(&path),
    };
    let text = read.map_err(|e| BuildError::Other(format!("reading the Dockerfile {}: {e}", path.display())))?;
    let shown = PathBuf::from(&name).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or(name);
    Ok((shown, text))
}

fn plan(df: &Dockerfile, spec: &BuildSpec, file: &str) -> Result<Plan, BuildError> {
    let mut used_args = HashSet::new();
    let mut meta = Vars::new();
    for inst in &df.meta_args {
        for (name, default) in stage::arg_decls(inst, &meta, df.escape).map_err(|m| at(file, inst.line, m))? {
            let value = match spec.args.iter().rev().find(|(k, _)| *k == name) {
                Some((_, v)) => {
                    used_args.insert(name.clone());
                    Some(v.clone())
                }
                None => default,
            };
            if let Some(v) = value {
                meta.insert(name, v);
            }
        }
    }
    let target = match &spec.target {
        Some(t) => df.stage_index(t).ok_or_else(|| BuildError::Other(format!("target stage {t:?} could not be found in {file}")))?,
        None => df.stages.len() - 1,
    };
    let mut bases = Vec::new();
    let mut images = Vec::new();
    for (i, s) in df.stages.iter().enumerate() {
        let name = vars::expand_word(&s.base, &meta, df.escape).map_err(|m| at(file, s.from.line, m))?;
        let base = match df.stage_index(&name).filter(|j| *j < i && name.parse::<usize>().is_err()) {
            Some(j) => Base::Stage(j),
            None if name.eq_ignore_ascii_case("scratch") => Base::Scratch,
            None if name.is_empty() => return Err(at(file, s.from.line, "FROM: the base image name is empty")),
            None => Base::Image(name),
        };
        bases.push(base);
    }
    let mut needed = vec![false; df.stages.len()];
    needed[target] = true;
    for i in (0..=target).rev() {
        if !needed[i] {
            continue;
        }
        if let Base::Stage(j) = bases[i] {
            needed[j] = true;
        }
        if let Base::Image(r) = &bases[i] {
            images.push((r.clone(), df.stages[i].from.line));
        }
        for inst in df.stages[i].steps.iter().filter(|s| s.kind == Kind::Copy) {
            let Some(from) = inst.flag("from") else { continue };
            let from = vars::expand_word(from, &meta, df.escape).unwrap_or_else(|_| from.to_string());
            match df.stage_index(&from) {
                Some(j) if j < i => needed[j] = true,
                Some(_) => return Err(at(file, inst.line, format!("COPY --from={from}: a stage can only copy from an earlier stage"))),
                None => images.push((from, inst.line)),
            }
        }
    }
    images.reverse();
    images.dedup();
    Ok(Plan { meta, target, needed, bases, images, used_args })
}

/// Makes sure `reference` is in the store: pulled when missing (or always with `pull`).
async fn ensure_image(backend: &BuiltinBackend, reference: &str, pull: bool, progress: &ProgressFn, id: &str) -> Result<(), String> {
    let present = backend.images.resolve(reference).map_err(|e| e.to_string())?.is_some();
    if present && !pull {
        return Ok(());
    }
    say(progress, id, format!("pulling {reference}"));
    match backend.pull_image(reference, progress.clone()).await {
        Ok(()) => Ok(()),
        Err(e) if present => {
            say(progress, id, format!("[warning] could not pull {reference} ({e}); using the local image"));
            Ok(())
        }
        Err(e) => Err(format!("base image {reference} is not in the image store and could not be pulled: {e}")),
    }
}
