//! Runs the stages of a plan: each instruction updates the stage's state (config,
//! layers, ARGs, SHELL) and a chain id that keys the cache of the next steps.

use std::collections::HashSet;
use std::time::Instant;

use super::cache::{self, Cache, CacheEntry};
use super::context::Ignore;
use super::dockerfile::{Dockerfile, Instruction, Kind};
use super::scratch::Scratch;
use super::steps::{self, RunError, RunRequest};
use super::vars::{self, Vars};
use super::{BuildError, Base, Plan, at, say};
use crate::backend::builtin::image::{BlobInfo, ImageStore};
use crate::backend::{BuildSpec, ImageConfig, ProgressFn};

/// Where a stage is after some of its steps.
#[derive(Debug, Clone)]
pub(super) struct StageState {
    pub config: ImageConfig,
    /// Diff ids (hex), lowest first, and the blobs of base layers.
    pub layers: Vec<String>,
    pub blobs: Vec<Option<BlobInfo>>,
    pub size: u64,
    /// Identifies this state for the cache: the base, then every step applied.
    pub chain: String,
    pub shell: Vec<String>,
    /// ARGs declared in this stage (with a value).
    pub args: Vars,
    /// Whether this stage set CMD (ENTRYPOINT resets an inherited one).
    pub cmd_set: bool,
}

impl StageState {
    fn new(config: ImageConfig, chain: String) -> Self {
        StageState { config, layers: vec![], blobs: vec![], size: 0, chain, shell: default_shell(), args: Vars::new(), cmd_set: false }
    }

    /// Variables for substitution: ENV over ARG.
    pub fn vars(&self) -> Vars {
        let mut v = self.args.clone();
        for e in &self.config.env {
            if let Some((k, val)) = e.split_once('=') {
                v.insert(k.to_string(), val.to_string());
            }
        }
        v
    }

    /// Environment of a RUN: the image's ENV plus the stage's ARGs it does not shadow.
    fn run_env(&self) -> Vec<String> {
        let mut env = self.config.env.clone();
        let mut args: Vec<(&String, &String)> = self.args.iter().collect();
        args.sort();
        for (k, v) in args {
            if !env.iter().any(|e| e.split_once('=').map(|(n, _)| n) == Some(k.as_str())) {
                env.push(format!("{k}={v}"));
            }
        }
        env
    }

    /// After a step that changed only metadata. ARG values are left out: they reach
    /// the cache keys of the steps that use them (RUN's environment, expanded text).
    fn advance(&mut self, what: &str) {
        let state = serde_json::json!([self.config, self.shell]).to_string();
        self.chain = cache::key(&[&self.chain, what, &state]);
    }

    pub fn add_layer(&mut self, layer: Option<(String, u64)>, key: String) {
        if let Some((diff, size)) = layer {
            self.layers.push(diff);
            self.blobs.push(None);
            self.size += size;
        }
        self.chain = key;
    }

    fn set_env(&mut self, key: &str, value: &str) {
        self.config.env.retain(|e| e.split_once('=').map_or(e.as_str(), |(n, _)| n) != key);
        self.config.env.push(format!("{key}={value}"));
    }
}

fn default_shell() -> Vec<String> {
    vec!["/bin/sh".into(), "-c".into()]
}

pub(super) struct Builder {
    pub images: ImageStore,
    pub cache: Cache,
    pub df: Dockerfile,
    plan: Plan,
    pub spec: BuildSpec,
    file: String,
    pub ignore: Ignore,
    progress: ProgressFn,
    /// Progress id (the image's first tag).
    id: String,
    /// Step counter for `#N` lines.
    pub step: usize,
    used_args: HashSet<String>,
    pub done: Vec<Option<StageState>>,
    /// Where RUN containers, overlays and layer tars live while the build runs.
    pub scratch: Scratch,
}

impl Builder {
    pub fn new(images: ImageStore, df: Dockerfile, plan: Plan, spec: BuildSpec, file: String, progress: ProgressFn) -> Result<Self, BuildError> {
        let cache = Cache::open(images.root()).map_err(|e| BuildError::Other(format!("opening the build cache: {e}")))?;
        let ignore = Ignore::load(&spec.context).map_err(|e| match e.kind() {
            std::io::ErrorKind::InvalidData => BuildError::Other(e.to_string()),
            _ => BuildError::Other(format!("reading .dockerignore: {e}")),
        })?;
        let scratch = Scratch::create(&images).map_err(BuildError::Other)?;
        let id = spec.tags.first().cloned().unwrap_or_else(|| spec.context.display().to_string());
        let used_args = plan.used_args.clone();
        let done = vec![None; df.stages.len()];
        Ok(Builder { images, cache, df, plan, spec, file, ignore, progress, id, step: 0, used_args, done, scratch })
    }

    pub fn say(&self, text: String) {
        say(&self.progress, &self.id, text);
    }

    pub fn run(mut self) -> Result<String, BuildError> {
        for i in 0..=self.plan.target {
            if self.plan.needed[i] {
                let st = self.stage(i)?;
                self.done[i] = Some(st);
            }
        }
        let mut st = self.done[self.plan.target].take().ok_or_else(|| BuildError::Other("the target stage was not built".into()))?;
        for (k, v) in &self.spec.labels {
            st.config.labels.insert(k.clone(), v.clone());
        }
        let unused: Vec<&str> = self.spec.args.iter().map(|(k, _)| k.as_str()).filter(|k| !self.used_args.contains(*k)).collect();
        if !unused.is_empty() {
            self.say(format!("[warning] one or more build-args [{}] were not consumed", unused.join(" ")));
        }
        self.step += 1;
        let refs: Vec<String> = self.spec.tags.clone();
        let image = self.images.add_image(st.config, st.layers, st.blobs, st.size, &refs).map_err(|e| BuildError::Other(format!("recording the image: {e}")))?;
        self.say(format!("#{} writing image {image}", self.step));
        for r in &refs {
            self.say(format!("#{} naming to {r}", self.step));
        }
        Ok(image)
    }

    fn stage(&mut self, i: usize) -> Result<StageState, BuildError> {
        let stage = self.df.stages[i].clone();
        let total = stage.steps.len() + 1;
        let label = match (&stage.name, self.df.stages.len()) {
            (_, 1) => String::new(),
            (Some(n), _) => format!("{n} "),
            (None, _) => format!("stage-{i} "),
        };
        self.step += 1;
        self.say(format!("#{} [{label}1/{total}] {}", self.step, stage.from));
        let mut st = self.base(i).map_err(|m| at(&self.file, stage.from.line, m))?;
        for (n, inst) in stage.steps.iter().enumerate() {
            self.step += 1;
            self.say(format!("#{} [{label}{}/{total}] {inst}", self.step, n + 2));
            let started = Instant::now();
            let fs_step = matches!(inst.kind, Kind::Run | Kind::Copy | Kind::Add | Kind::Workdir);
            self.instruction(&mut st, inst).map_err(|m| at(&self.file, inst.line, m))?;
            if fs_step {
                self.say(format!("#{} DONE {:.1}s", self.step, started.elapsed().as_secs_f64()));
            }
        }
        Ok(st)
    }

    fn base(&self, i: usize) -> Result<StageState, String> {
        match &self.plan.bases[i] {
            Base::Scratch => Ok(StageState::new(ImageConfig::default(), cache::key(&["scratch"]))),
            Base::Stage(j) => {
                let prev = self.done[*j].clone().ok_or_else(|| format!("stage {j} was not built"))?;
                Ok(StageState { args: Vars::new(), cmd_set: false, ..prev })
            }
            Base::Image(r) => {
                let image = self.images.resolve(r).map_err(|e| e.to_string())?.ok_or_else(|| format!("no such image: {r}"))?;
                let size = self.images.list().ok().and_then(|l| l.into_iter().find(|s| s.id == image.id)).map_or(0, |s| s.size);
                let mut st = StageState::new(image.config, cache::key(&["image", &image.id]));
                st.layers = image.diff_ids;
                st.blobs = image.blobs;
                st.size = size;
                Ok(st)
            }
        }
    }

    /// The stage's layer directories, lowest first.
    pub fn layer_dirs(&self, st: &StageState) -> Vec<std::path::PathBuf> {
        st.layers.iter().map(|l| self.images.layer_path(l)).collect()
    }

    /// A cache hit for `key` (unless --no-cache), reported as CACHED.
    pub fn cached(&self, key: &str) -> Option<CacheEntry> {
        if self.spec.no_cache {
            return None;
        }
        let hit = self.cache.get(key, &self.images)?;
        self.say(format!("#{} CACHED", self.step));
        Some(hit)
    }

    /// Records a step's result in the cache (a failure to write only costs a rebuild).
    pub fn remember(&self, key: &str, layer: &Option<(String, u64)>) {
        let entry = CacheEntry { layer: layer.as_ref().map(|(d, _)| d.clone()), size: layer.as_ref().map_or(0, |(_, s)| *s) };
        if let Err(e) = self.cache.put(key, &entry) {
            self.say(format!("[warning] writing the build cache: {e}"));
        }
    }

    fn instruction(&mut self, st: &mut StageState, inst: &Instruction) -> Result<(), String> {
        let vars = st.vars();
        let esc = self.df.escape;
        match inst.kind {
            Kind::From => return Err("FROM inside a stage".into()),
            Kind::Run => return self.run_step(st, inst),
            Kind::Copy | Kind::Add => return self.copy_step(st, inst),
            Kind::Workdir => return self.workdir_step(st, inst),
            Kind::Arg => {
                for (name, default) in arg_decls(inst, &vars, esc)? {
                    let value = match self.spec.args.iter().rev().find(|(k, _)| *k == name) {
                        Some((_, v)) => {
                            self.used_args.insert(name.clone());
                            Some(v.clone())
                        }
                        None => default.or_else(|| self.plan.meta.get(&name).cloned()),
                    };
                    match value {
                        Some(v) => st.args.insert(name, v),
                        None => st.args.remove(&name),
                    };
                }
            }
            Kind::Env => {
                for (k, v) in pairs(inst, &vars, esc)? {
                    st.set_env(&k, &v);
                }
            }
            Kind::Label => {
                for (k, v) in pairs(inst, &vars, esc)? {
                    st.config.labels.insert(k, v);
                }
            }
            Kind::Maintainer => {}
            Kind::Expose => {
                for p in vars::expand_words(&inst.args, &vars, esc)? {
                    let p = if p.contains('/') { p.to_ascii_lowercase() } else { format!("{p}/tcp") };
                    if !st.config.exposed_ports.contains(&p) {
                        st.config.exposed_ports.push(p);
                    }
                }
            }
            Kind::Volume => {
                let vols = match inst.json_args() {
                    Some(v) => v.iter().map(|w| vars::expand_word(w, &vars, esc)).collect::<Result<Vec<_>, _>>()?,
                    None => vars::expand_words(&inst.args, &vars, esc)?,
                };
                for v in vols.into_iter().filter(|v| !v.is_empty()) {
                    if !st.config.volumes.contains(&v) {
                        st.config.volumes.push(v);
                    }
                }
            }
            Kind::User => st.config.user = Some(vars::expand_word(&inst.args, &vars, esc)?).filter(|u| !u.is_empty()),
            Kind::Cmd => {
                st.config.cmd = Some(command(inst, &st.shell));
                st.cmd_set = true;
            }
            Kind::Entrypoint => {
                st.config.entrypoint = Some(command(inst, &st.shell)).filter(|c| !c.is_empty());
                if !st.cmd_set {
                    st.config.cmd = None;
                }
            }
            Kind::Shell => {
                st.shell = inst.json_args().filter(|s| !s.is_empty()).ok_or("SHELL requires the arguments to be in JSON form, e.g. SHELL [\"/bin/bash\", \"-c\"]")?;
            }
            Kind::Stopsignal => st.config.stop_signal = Some(vars::expand_word(&inst.args, &vars, esc)?),
            Kind::Healthcheck => {
                let kind = inst.args.split_whitespace().next().unwrap_or_default().to_ascii_uppercase();
                if kind != "NONE" && kind != "CMD" {
                    return Err(format!("HEALTHCHECK: unknown type {kind:?}, must be CMD or NONE"));
                }
                st.config.healthcheck = Some(healthcheck(inst, &kind)?);
            }
            Kind::Onbuild => self.say(format!("[warning] line {}: ONBUILD is ignored by the built-in builder", inst.line)),
        }
        st.advance(inst.kind.name());
        Ok(())
    }

    fn run_step(&mut self, st: &mut StageState, inst: &Instruction) -> Result<(), String> {
        let (argv, shown) = match inst.json_args() {
            Some(a) => (a, inst.args.clone()),
            None => (st.shell.iter().cloned().chain([inst.args.clone()]).collect(), inst.args.clone()),
        };
        if inst.args.trim().is_empty() || argv.is_empty() {
            return Err("RUN requires at least one argument".into());
        }
        let req = RunRequest {
            layers: self.layer_dirs(st),
            argv,
            env: st.run_env(),
            cwd: st.config.working_dir.clone().unwrap_or_else(|| "/".into()),
            user: st.config.user.clone(),
        };
        let key = cache::key(&["RUN", &st.chain, &serde_json::json!([req.argv, req.env, req.cwd, req.user]).to_string()]);
        if let Some(hit) = self.cached(&key) {
            st.add_layer(hit.layer.map(|l| (l, hit.size)), key);
            return Ok(());
        }
        let (progress, id, n) = (self.progress.clone(), self.id.clone(), self.step);
        let on_line = move |line: &str| say(&progress, &id, format!("#{n} {line}"));
        match steps::run(&self.images, &self.scratch, &req, &on_line) {
            Ok(layer) => {
                self.remember(&key, &layer);
                st.add_layer(layer, key);
                Ok(())
            }
            Err(RunError::Exit { code, output }) => {
                let output = if output.is_empty() { String::new() } else { format!(":\n{}", output.join("\n")) };
                Err(format!("RUN {shown} failed with exit code {code}{output}"))
            }
            Err(RunError::Other(m)) => Err(format!("RUN {shown}: {m}")),
        }
    }
}

/// `NAME[=default]` declarations of an ARG (defaults expanded).
pub(super) fn arg_decls(inst: &Instruction, vars: &Vars, esc: char) -> Result<Vec<(String, Option<String>)>, String> {
    let mut out = Vec::new();
    for word in vars::split_raw(&inst.args, esc) {
        let (name, default) = match word.split_once('=') {
            Some((n, d)) => (n.to_string(), Some(vars::expand_word(d, vars, esc)?)),
            None => (word.clone(), None),
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("ARG: invalid name {name:?}"));
        }
        out.push((name, default));
    }
    Ok(out)
}

/// `KEY=value ...` (or the legacy `KEY value with spaces`) of ENV and LABEL, expanded.
fn pairs(inst: &Instruction, vars: &Vars, esc: char) -> Result<Vec<(String, String)>, String> {
    let words = vars::split_raw(&inst.args, esc);
    let Some(first) = words.first() else { return Err(format!("{} requires at least one argument", inst.kind.name())) };
    if !first.contains('=') {
        let rest = inst.args.trim_start()[first.len()..].trim();
        if rest.is_empty() {
            return Err(format!("{} {first}: must be of the form: name=value", inst.kind.name()));
        }
        return Ok(vec![(vars::expand_word(first, vars, esc)?, vars::expand_word(rest, vars, esc)?)]);
    }
    let mut out = Vec::new();
    for w in words {
        let expanded = vars::expand_word(&w, vars, esc)?;
        match expanded.split_once('=') {
            Some((k, v)) if !k.is_empty() => out.push((k.to_string(), v.to_string())),
            _ => return Err(format!("{}: syntax error - can't find = in {w:?}. Must be of the form: name=value", inst.kind.name())),
        }
    }
    Ok(out)
}

/// CMD/ENTRYPOINT: exec form as is, shell form through the SHELL.
fn command(inst: &Instruction, shell: &[String]) -> Vec<String> {
    match inst.json_args() {
        Some(argv) => argv,
        None if inst.args.trim().is_empty() => vec![],
        None => shell.iter().cloned().chain([inst.args.clone()]).collect(),
    }
}

/// `HEALTHCHECK [--interval=..] CMD ...` / `HEALTHCHECK NONE` as the image's healthcheck
/// (shell form becomes CMD-SHELL, as Docker records it).
fn healthcheck(inst: &Instruction, kind: &str) -> Result<crate::compose::model::Healthcheck, String> {
    let flag = |name: &str| inst.flag(name).map(|d| d.parse().map_err(|e| format!("HEALTHCHECK: --{name}: {e}"))).transpose();
    let mut h = crate::compose::model::Healthcheck {
        interval: flag("interval")?,
        timeout: flag("timeout")?,
        start_period: flag("start-period")?,
        start_interval: flag("start-interval")?,
        ..Default::default()
    };
    if let Some(r) = inst.flag("retries") {
        h.retries = Some(r.parse().map_err(|_| format!("HEALTHCHECK: --retries={r:?} is not a number"))?);
    }
    if kind == "NONE" {
        h.test = vec!["NONE".into()];
        return Ok(h);
    }
    let rest = inst.args.trim_start()[3..].trim();
    h.test = match super::dockerfile::parse_json_array(rest) {
        Some(argv) => std::iter::once("CMD".to_string()).chain(argv).collect(),
        None if rest.is_empty() => return Err("HEALTHCHECK CMD needs a command".into()),
        None => vec!["CMD-SHELL".into(), rest.to_string()],
    };
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::builtin::build::dockerfile;

    fn step(line: &str) -> Instruction {
        dockerfile::parse(&format!("FROM scratch\n{line}\n")).unwrap().stages[0].steps[0].clone()
    }

    fn vars() -> Vars {
        [("NAME".to_string(), "web".to_string())].into()
    }

    #[test]
    fn env_and_label_pairs() {
        let p = pairs(&step("ENV A=1 B=\"two words\" C=$NAME-x"), &vars(), '\\').unwrap();
        assert_eq!(p, vec![("A".into(), "1".into()), ("B".into(), "two words".into()), ("C".into(), "web-x".into())]);
        let legacy = pairs(&step("ENV GREETING hello $NAME"), &vars(), '\\').unwrap();
        assert_eq!(legacy, vec![("GREETING".into(), "hello web".into())]);
        assert!(pairs(&step("LABEL a=1 b"), &vars(), '\\').is_err());
        assert!(pairs(&step("ENV ONLYKEY"), &vars(), '\\').is_err());
    }

    #[test]
    fn arg_declarations() {
        let d = arg_decls(&step("ARG A B=${NAME:-x} C=\"q r\""), &vars(), '\\').unwrap();
        assert_eq!(d, vec![("A".into(), None), ("B".into(), Some("web".into())), ("C".into(), Some("q r".into()))]);
        assert!(arg_decls(&step("ARG =x"), &vars(), '\\').is_err());
    }

    #[test]
    fn commands_and_run_env() {
        let shell = vec!["/bin/bash".to_string(), "-c".to_string()];
        assert_eq!(command(&step("CMD echo $HOME"), &shell), vec!["/bin/bash", "-c", "echo $HOME"]);
        assert_eq!(command(&step("CMD [\"a\", \"b\"]"), &shell), vec!["a", "b"]);
        let mut st = StageState::new(ImageConfig { env: vec!["A=env".into()], ..Default::default() }, String::new());
        st.args.insert("A".into(), "arg".into());
        st.args.insert("B".into(), "arg".into());
        assert_eq!(st.run_env(), vec!["A=env", "B=arg"], "ENV shadows ARG; other ARGs reach RUN");
        assert_eq!(st.vars()["A"], "env");
        let before = st.chain.clone();
        st.advance("ARG");
        let after_arg = st.chain.clone();
        st.args.insert("B".into(), "changed".into());
        st.chain = before;
        st.advance("ARG");
        assert_eq!(st.chain, after_arg, "ARG values stay out of the chain id");
    }
}
