//! The compose file: discovery, loading (both file generations), interpolation, merging,
//! normalization and validation into one `model::Project`.
//!
//! Flow: `discover` (files, project dir, .env) → `yaml` (spanned tree per file) →
//! `interpolate` → `legacy` (v1 files reshaped) → `merge` (override files, `extends`) →
//! `normalize` (+ `ports`, `volumes`) into the model → `include` parts joined → profiles →
//! `validate`. Every error carries file:line:col and the source line (`error`).

pub mod discover;
pub mod env;
pub mod error;
pub mod interpolate;
pub mod keys;
pub mod legacy;
pub mod logging;
pub mod merge;
pub mod model;
pub mod normalize;
pub mod ports;
pub mod render;
pub mod validate;
pub mod values;
pub mod volumes;
pub mod yaml;

use std::path::{Path, PathBuf};

use indexmap::IndexMap;

pub use error::ComposeError;
pub use model::Project;

use discover::Environment;
use error::Result;
use interpolate::InterpError;
use normalize::{Ctx, Locs};
use yaml::{Node, Source, Sources, Val};

/// How to find and read the project's files (the global CLI flags).
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `-f` files in order; `-` is stdin. Empty: discovery (`COMPOSE_FILE`, then the defaults).
    pub files: Vec<PathBuf>,
    /// `-p`.
    pub project_name: Option<String>,
    /// `--project-directory`.
    pub project_directory: Option<PathBuf>,
    /// `--env-file` (repeatable).
    pub env_files: Vec<PathBuf>,
    /// `--profile` (repeatable); empty: `COMPOSE_PROFILES`.
    pub profiles: Vec<String>,
    /// Services named on the command line (`run SERVICE`, `up SERVICE`): enabled even
    /// when none of their profiles is active, as Docker Compose does.
    pub targets: Vec<String>,
    /// false for `config --no-interpolate`.
    pub interpolate: bool,
    /// The directory discovery starts from (the process's current dir when None).
    pub cwd: Option<PathBuf>,
    /// The process environment (std::env::vars when None); tests pass their own.
    pub environment: Option<Vec<(String, String)>>,
    /// The backend whose unapplied keys are warned about or refused (`keys`); None: no check.
    pub backend: Option<keys::Backend>,
    /// Refused keys are only warned about (`config` shows any file).
    pub warn_only: bool,
}

/// Loads, merges, interpolates, normalizes and validates the project.
pub fn load(opts: &LoadOptions) -> Result<Project> {
    load_with_warnings(opts).map(|o| o.project)
}

/// A loaded project and the warnings met on the way (unset variables, ...).
pub struct LoadOutput {
    pub project: Project,
    pub warnings: Vec<String>,
}

pub fn load_with_warnings(opts: &LoadOptions) -> Result<LoadOutput> {
    let d = discover::discover(opts)?;
    let mut srcs = Sources::default();
    let mut warnings = Vec::new();
    let env = opts.interpolate.then_some(&d.env);
    let mut key_uses = Vec::new();
    let (root, legacy) = read_part(&mut srcs, &d.files, env, &mut warnings, &mut key_uses)?;

    let name = match (&opts.project_name, d.env.get("COMPOSE_PROJECT_NAME").filter(|s| !s.is_empty()), root.get("name")) {
        (Some(p), _, _) => discover::normalize_explicit(p)?,
        (None, Some(p), _) => discover::normalize_explicit(&p)?,
        (None, None, Some(n)) => {
            let t = normalize::text(&srcs, n, "name")?;
            discover::normalize_explicit(&t).map_err(|e| srcs.err(n, e.message))?
        }
        _ => discover::name_from_dir(&d.project_dir)?,
    };
    let mut locs = Locs::new();
    let mut project = {
        let mut cx = Ctx { srcs: &srcs, project_dir: &d.project_dir, env: &d.env, legacy, locs: &mut locs };
        build_project(&mut cx, &root, &name)?
    };
    apply_includes(&mut project, &root, &mut srcs, &d.env, opts.interpolate, &name, &mut warnings, &mut key_uses, &mut locs, 0)?;
    let included = std::mem::take(&mut project.config_files);
    project.config_files = d.files.iter().map(|f| f.path.clone()).chain(included).collect();
    project.working_dir = d.project_dir.clone();
    project.legacy = legacy;

    let profiles: Vec<String> = if !opts.profiles.is_empty() {
        opts.profiles.clone()
    } else {
        d.env.get("COMPOSE_PROFILES").map(|p| p.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()).unwrap_or_default()
    };
    let targeted = with_needs(&project.services, &opts.targets);
    let (enabled, disabled): (IndexMap<_, _>, IndexMap<_, _>) = std::mem::take(&mut project.services)
        .into_iter()
        .partition(|(n, s)| {
            s.profiles.is_empty() || targeted.contains(n) || s.profiles.iter().any(|p| profiles.contains(p) || profiles.iter().any(|x| x == "*"))
        });
    project.services = enabled;
    project.disabled_services = disabled;
    add_default_network(&mut project);
    validate::validate(&project, &locs)?;
    if let Some(backend) = opts.backend {
        keys::judge(&key_uses, backend, !opts.warn_only, &|s| project.services.contains_key(s), &mut warnings)?;
        file_object_warnings(&project, &mut warnings);
    }
    Ok(LoadOutput { project, warnings })
}

/// A `file:` config or secret is bind-mounted as it is, as Docker Compose mounts it: the
/// `uid`, `gid` and `mode` of a service's reference to one are not applied, and said so
/// in Compose's words.
fn file_object_warnings(project: &model::Project, warnings: &mut Vec<String>) {
    for (name, svc) in &project.services {
        for (kind, refs, defs) in [("configs", &svc.configs, &project.configs), ("secrets", &svc.secrets, &project.secrets)] {
            for r in refs {
                let file = defs.get(&r.source).is_some_and(|d| d.file.is_some());
                if file && (r.uid.is_some() || r.gid.is_some() || r.mode.is_some()) {
                    warnings.push(format!(
                        "services.{name}.{kind}: {} is a file, bind-mounted as it is: `uid`, `gid` and `mode` are not supported, they will be ignored",
                        r.source
                    ));
                }
            }
        }
    }
}

/// The services named on the command line and, transitively, every service they need:
/// Docker Compose enables them all whatever their profiles.
fn with_needs(services: &IndexMap<String, model::Service>, targets: &[String]) -> std::collections::HashSet<String> {
    let mut seen = std::collections::HashSet::new();
    let mut todo: Vec<String> = targets.to_vec();
    while let Some(name) = todo.pop() {
        let Some(s) = services.get(&name) else { continue };
        if !seen.insert(name) {
            continue;
        }
        let by_mode = [&s.ipc, &s.pid]
            .into_iter()
            .filter_map(|m| m.as_ref()?.service())
            .chain(s.network_mode.as_ref().and_then(model::NetworkMode::service))
            .map(String::from);
        todo.extend(s.depends_on.keys().cloned());
        todo.extend(s.links.iter().map(|l| l.target.clone()));
        todo.extend(s.volumes_from.iter().filter_map(|v| match &v.source {
            model::VolumesFromSource::Service(x) => Some(x.clone()),
            model::VolumesFromSource::Container(_) => None,
        }));
        todo.extend(by_mode);
    }
    seen
}

/// Reads the files of one project part and merges them, `extends` resolved.
/// Says whether the first file is legacy v1.
fn read_part(
    srcs: &mut Sources,
    files: &[discover::InputFile],
    env: Option<&Environment>,
    warnings: &mut Vec<String>,
    key_uses: &mut Vec<keys::KeyUse>,
) -> Result<(Node, bool)> {
    let mut merged: Option<Node> = None;
    let mut legacy = false;
    for (i, f) in files.iter().enumerate() {
        let root = read_tree(srcs, &f.path, f.text.clone(), env, warnings)?;
        let (root, is_v1) = shape(root);
        legacy |= i == 0 && is_v1;
        merged = Some(match merged {
            None => root,
            Some(base) => merge::merge_files(base, root),
        });
    }
    let mut root = merged.ok_or_else(|| ComposeError::msg("no compose file given"))?;
    merge::resolve_extends(&mut root, srcs, &mut |srcs, path, text| Ok(shape(read_tree(srcs, path, text, env, warnings)?).0))?;
    keys::collect(srcs, &root, legacy, key_uses);
    Ok((root, legacy))
}

/// Top-level `include:`: each entry is loaded as its own part (paths relative to the
/// including file, its own project directory and optional env files) and merged in; a
/// service, network, volume, config or secret defined twice is an error.
#[allow(clippy::too_many_arguments)]
fn apply_includes(
    project: &mut Project,
    root: &Node,
    srcs: &mut Sources,
    env: &Environment,
    interpolate: bool,
    name: &str,
    warnings: &mut Vec<String>,
    key_uses: &mut Vec<keys::KeyUse>,
    locs: &mut Locs,
    depth: usize,
) -> Result<()> {
    let Some(inc) = root.get("include") else { return Ok(()) };
    if depth > 8 {
        return Err(srcs.err(inc, "include nesting is too deep (a file including itself?)"));
    }
    let Val::Seq(entries) = &inc.v else { return Err(normalize::type_err(srcs, inc, "include", "a list")) };
    for e in entries.clone() {
        let base = srcs.path(&e).parent().map(Path::to_path_buf).unwrap_or_default();
        let (paths, dir, env_files) = match &e.v {
            Val::Map(m) => {
                normalize::check_keys(srcs, m, &["path", "project_directory", "env_file"], "include")?;
                let p = e.get("path").ok_or_else(|| srcs.err(&e, "include: `path` is required"))?;
                let dir = e.get("project_directory").map(|d| normalize::text(srcs, d, "include.project_directory")).transpose()?;
                let envf = e.get("env_file").map(|f| normalize::str_list(srcs, f, "include.env_file")).transpose()?.unwrap_or_default();
                (normalize::str_list(srcs, p, "include.path")?, dir, envf)
            }
            _ => (vec![normalize::text(srcs, &e, "include")?], None, vec![]),
        };
        let paths: Vec<PathBuf> = paths.iter().map(|p| discover::absolute(&base, Path::new(p))).collect();
        let mut files = Vec::new();
        for p in &paths {
            let text = discover::read_text(p, discover::MAX_COMPOSE_FILE, |err| srcs.err(&e, format!("include: cannot read {}: {err}", p.display())))?;
            files.push(discover::InputFile { path: p.clone(), text });
        }
        let dir = match dir {
            Some(d) => discover::absolute(&base, Path::new(&d)),
            None => paths.first().and_then(|p| p.parent()).map(Path::to_path_buf).unwrap_or(base.clone()),
        };
        // The included part sees its env files under the project's environment.
        let mut part_env = env.clone();
        for f in env_files {
            let path = discover::absolute(&dir, Path::new(&f));
            let vars = env::read_dotenv(&path, &|k| env.get(k))?;
            for (k, v) in vars.ok_or_else(|| srcs.err(&e, format!("include: env file {} does not exist", path.display())))? {
                part_env.vars.entry(k).or_insert(v);
            }
        }
        let (iroot, ilegacy) = read_part(srcs, &files, interpolate.then_some(&part_env), warnings, key_uses)?;
        let mut part = {
            let mut cx = Ctx { srcs, project_dir: &dir, env: &part_env, legacy: ilegacy, locs };
            build_project(&mut cx, &iroot, name)?
        };
        apply_includes(&mut part, &iroot, srcs, &part_env, interpolate, name, warnings, key_uses, locs, depth + 1)?;
        let conflict = |kind: &str, key: &str| srcs.err(&e, format!("{kind} {key:?} is defined both in the project and in included {}", paths[0].display()));
        fn join<T>(into: &mut IndexMap<String, T>, from: IndexMap<String, T>, kind: &str, conflict: &dyn Fn(&str, &str) -> ComposeError) -> Result<()> {
            for (k, v) in from {
                if into.contains_key(&k) {
                    return Err(conflict(kind, &k));
                }
                into.insert(k, v);
            }
            Ok(())
        }
        join(&mut project.services, part.services, "service", &conflict)?;
        join(&mut project.networks, part.networks, "network", &conflict)?;
        join(&mut project.volumes, part.volumes, "volume", &conflict)?;
        join(&mut project.configs, part.configs, "config", &conflict)?;
        join(&mut project.secrets, part.secrets, "secret", &conflict)?;
        project.config_files.extend(paths);
    }
    Ok(())
}

/// Reads, parses and (when `env` is given) interpolates one file.
fn read_tree(srcs: &mut Sources, path: &Path, text: String, env: Option<&Environment>, warnings: &mut Vec<String>) -> Result<Node> {
    let idx = srcs.add(Source::new(path, text));
    // Several `---` documents in one file merge like several files.
    let mut root: Option<Node> = None;
    for doc in yaml::parse_all(&srcs.0[idx], idx)? {
        if doc.as_map().is_none() {
            return Err(srcs.err(&doc, format!("the top level must be a mapping, not a {}", doc.type_name())));
        }
        root = Some(match root {
            None => doc,
            Some(base) => merge::merge_files(base, doc),
        });
    }
    let Some(mut root) = root else { return Err(ComposeError::in_file(path, "empty compose file")) };
    if root.get("version").is_some() {
        warnings.push(format!(
            "{}: the attribute `version` is obsolete, it will be ignored, please remove it to avoid potential confusion",
            path.display()
        ));
    }
    if let Some(env) = env {
        interpolate_tree(&mut root, srcs, env, warnings)?;
    }
    Ok(root)
}

/// Wraps legacy v1 files into the `services:` shape; says whether it did.
fn shape(root: Node) -> (Node, bool) {
    if legacy::is_legacy(&root) { (legacy::to_services_shape(root), true) } else { (root, false) }
}

/// Substitutes variables in every string value (keys are left alone).
fn interpolate_tree(n: &mut Node, srcs: &Sources, env: &Environment, warnings: &mut Vec<String>) -> Result<()> {
    match &mut n.v {
        Val::Str(s) => {
            let lookup = |k: &str| env.get(k);
            match interpolate::interpolate(s, &lookup, warnings) {
                Ok(v) => *s = v,
                Err(InterpError::Required { var, message }) => {
                    let at = Node { v: Val::Null, ..n.clone() };
                    return Err(srcs.err(&at, format!("required variable {var} is missing a value: {message}")));
                }
                Err(InterpError::Syntax(m)) => {
                    let at = Node { v: Val::Null, ..n.clone() };
                    return Err(srcs.err(&at, m));
                }
            }
        }
        Val::Seq(items) => {
            for i in items {
                interpolate_tree(i, srcs, env, warnings)?;
            }
        }
        Val::Map(m) => {
            for (_, v) in m {
                interpolate_tree(v, srcs, env, warnings)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Normalizes the merged tree into a project named `name`.
fn build_project(cx: &mut Ctx, root: &Node, name: &str) -> Result<Project> {
    let srcs = cx.srcs;
    let top = normalize::map(srcs, root, "the compose file")?;
    normalize::check_keys(srcs, top, normalize::TOP_KEYS, "the top level")?;
    let mut p = Project { name: name.to_string(), ..Project::default() };
    for (k, v) in top {
        let key = k.key();
        if key.starts_with("x-") {
            p.extensions.insert(key.to_string(), v.to_json());
            continue;
        }
        match key {
            "services" => {
                if v.v == Val::Null {
                    continue;
                }
                for (sk, sv) in normalize::map(srcs, v, "services")? {
                    valid_key_name(srcs, sk, "service")?;
                    let s = normalize::service(cx, sk.key(), sv)?;
                    cx.locs.insert(sk.key().to_string(), srcs.loc(sk));
                    p.services.insert(sk.key().to_string(), s);
                }
            }
            "networks" | "volumes" | "configs" | "secrets" => {
                if v.v == Val::Null {
                    continue;
                }
                for (ok, ov) in normalize::map(srcs, v, key)? {
                    let okey = ok.key();
                    cx.locs.insert(format!("{key}/{okey}"), srcs.loc(ok));
                    if let Some(n) = ov.get("name") {
                        cx.locs.insert(format!("{key}/{okey}/name"), srcs.loc(n));
                    }
                    match key {
                        "networks" => {
                            p.networks.insert(okey.to_string(), normalize::network(srcs, name, okey, ov)?);
                        }
                        "volumes" => {
                            p.volumes.insert(okey.to_string(), normalize::volume(srcs, name, okey, ov)?);
                        }
                        "configs" => {
                            p.configs.insert(okey.to_string(), normalize::file_object(cx, "config", name, okey, ov)?);
                        }
                        _ => {
                            p.secrets.insert(okey.to_string(), normalize::file_object(cx, "secret", name, okey, ov)?);
                        }
                    }
                }
            }
            // Loaded as separate parts by `apply_includes`.
            "include" => {}
            _ => {}
        }
    }
    Ok(p)
}

fn valid_key_name(srcs: &Sources, k: &Node, what: &str) -> Result<()> {
    let n = k.key();
    if n.is_empty() || !n.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')) {
        return Err(srcs.err(k, format!("invalid {what} name {n:?}: use letters, digits, '.', '_' and '-'")));
    }
    Ok(())
}

/// Non-legacy projects get a `default` network when a service uses it (no
/// network_mode and no networks, or `default` named explicitly).
fn add_default_network(p: &mut Project) {
    if p.legacy || p.networks.contains_key("default") {
        return;
    }
    let uses_default = p.services.values().any(|s| (s.network_mode.is_none() && s.networks.is_empty()) || s.networks.contains_key("default"));
    if uses_default {
        p.networks.insert("default".into(), model::Network { name: format!("{}_default", p.name), ..Default::default() });
    }
}

/// A `-p` name: lowercased; an error when it still has characters outside `[a-z0-9_-]`
/// or does not start with a letter or digit.
pub fn normalize_project_name(name: &str) -> Result<String> {
    discover::normalize_explicit(name)
}

pub fn to_yaml(project: &Project) -> String {
    render::yaml(&printable(project))
}

pub fn to_json(project: &Project) -> String {
    serde_json::to_string_pretty(&printable(project)).unwrap_or_default()
}

/// The project as `config` prints it: a compose file that loads again, as Compose's does
/// (where it was read from is left out).
fn printable(project: &Project) -> serde_json::Value {
    let mut v = serde_json::to_value(project).unwrap_or_default();
    if let Some(top) = v.as_object_mut() {
        top.remove("working_dir");
        top.remove("config_files");
    }
    for svc in v.get_mut("services").and_then(|s| s.as_object_mut()).into_iter().flat_map(|s| s.values_mut()) {
        for vol in svc.get_mut("volumes").and_then(|p| p.as_array_mut()).into_iter().flatten().filter_map(|v| v.as_object_mut()) {
            long_volume_syntax(vol);
        }
    }
    v
}

/// A service volume of the model in the Compose Specification's long syntax: the bind,
/// volume and tmpfs options in their own mappings (a mode as octal digits).
fn long_volume_syntax(vol: &mut serde_json::Map<String, serde_json::Value>) {
    use serde_json::{json, Value};
    let mut bind = serde_json::Map::new();
    if vol.remove("create_host_path").is_some() {
        bind.insert("create_host_path".into(), json!(true));
    }
    if let Some(Value::Array(options)) = vol.remove("options") {
        for o in options.iter().filter_map(Value::as_str) {
            let key = if matches!(o, "z" | "Z") { "selinux" } else { "propagation" };
            bind.insert(key.into(), json!(o));
        }
    }
    if !bind.is_empty() {
        vol.insert("bind".into(), Value::Object(bind));
    }
    if vol.remove("nocopy").is_some() {
        vol.insert("volume".into(), json!({ "nocopy": true }));
    }
    let mut tmpfs = serde_json::Map::new();
    if let Some(size) = vol.remove("tmpfs_size") {
        tmpfs.insert("size".into(), size);
    }
    if let Some(mode) = vol.remove("tmpfs_mode").and_then(|m| m.as_u64()) {
        tmpfs.insert("mode".into(), json!(format!("{mode:o}")));
    }
    if !tmpfs.is_empty() {
        vol.insert("tmpfs".into(), Value::Object(tmpfs));
    }
}


/// The variables the files are interpolated with (`.env` and `--env-file` values under
/// the process environment), sorted by name: `config --environment`.
pub fn environment(opts: &LoadOptions) -> Result<Vec<(String, String)>> {
    let mut vars: Vec<(String, String)> = discover::discover(opts)?.env.vars.into_iter().collect();
    vars.sort();
    Ok(vars)
}

/// The variables the files refer to in their values, with the defaults they give:
/// `config --variables`.
pub fn variables(opts: &LoadOptions) -> Result<IndexMap<String, interpolate::Variable>> {
    fn walk(v: &serde_json::Value, out: &mut IndexMap<String, interpolate::Variable>) {
        match v {
            serde_json::Value::String(s) => interpolate::variables(s, out),
            serde_json::Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
            serde_json::Value::Object(map) => map.values().for_each(|i| walk(i, out)),
            _ => {}
        }
    }
    let mut out = IndexMap::new();
    for f in discover::discover(opts)?.files {
        walk(&yaml::parse(&Source::new(&f.path, f.text), 0)?.to_json(), &mut out);
    }
    out.sort_keys();
    Ok(out)
}

/// A compose file parsed as-is (no interpolation or normalization) as JSON, for checking
/// files against the Compose Spec schema. None when it cannot be read or parsed.
pub fn file_as_json(path: &Path) -> Option<serde_json::Value> {
    let text = discover::read_text(path, discover::MAX_COMPOSE_FILE, |e| ComposeError::msg(e.to_string())).ok()?;
    yaml::parse(&Source::new(path, text), 0).ok().map(|n| n.to_json())
}
