//! Which `develop.watch` rule a changed host path falls under, and what one batch of
//! changes asks of a service. Pure: paths in, plans out.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::backend::builtin::build::context::Ignore;
use crate::compose::model::{Project, VolumeType, WatchAction, WatchRule};

/// VCS folders and editors' temporary and backup files never count, as in Docker Compose.
const ALWAYS_IGNORED: &str = "**/.git\n**/*~\n**/.*.swp\n**/.*.swx\n**/4913\n**/.#*\n**/#*#\n**/*___jb_tmp___\n**/*___jb_old___\n**/.DS_Store\n";

/// One rule with its patterns parsed.
#[derive(Debug, Clone)]
pub struct Rule {
    pub rule: WatchRule,
    /// The defaults and the rule's `ignore`, relative to its path.
    ignore: Ignore,
    include: Option<Ignore>,
    /// The service's build context and its `.dockerignore`.
    context: Option<(PathBuf, Ignore)>,
    /// The path is bind-mounted into the container already: syncing it would copy files
    /// onto themselves (and wake the watcher again), so the rule does not sync.
    pub bind_mounted: bool,
}

/// `/`-separated path relative to a base, as the ignore patterns see it.
fn slash(rel: &Path) -> String {
    rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
}

impl Rule {
    pub fn new(rule: WatchRule, context: Option<(PathBuf, Ignore)>) -> Rule {
        let ignore = Ignore::parse(&format!("{ALWAYS_IGNORED}{}", rule.ignore.join("\n")));
        let include = (!rule.include.is_empty()).then(|| Ignore::parse(&rule.include.join("\n")));
        Rule { rule, ignore, include, context, bind_mounted: false }
    }

    /// Whether a change at `path` (a directory when `is_dir`) is this rule's business.
    pub fn covers(&self, path: &Path, is_dir: bool) -> bool {
        let Ok(rel) = path.strip_prefix(&self.rule.path) else { return false };
        let rel = slash(rel);
        if rel.is_empty() {
            return true;
        }
        if self.ignore.excluded(&rel) {
            return false;
        }
        if let Some(include) = &self.include
            && !is_dir
            && !include.excluded(&rel)
        {
            return false;
        }
        match &self.context {
            Some((context, ignore)) => match path.strip_prefix(context) {
                Ok(r) => r.as_os_str().is_empty() || !ignore.excluded(&slash(r)),
                Err(_) => true,
            },
            None => true,
        }
    }

    /// Where a host path under the rule lands in the container (sync rules only).
    pub fn container_path(&self, path: &Path) -> Option<String> {
        let base = self.rule.target.as_deref()?.trim_end_matches('/');
        let rel = slash(path.strip_prefix(&self.rule.path).ok()?);
        Some(match (base.is_empty(), rel.is_empty()) {
            (true, true) => "/".into(),
            (_, true) => base.to_string(),
            _ => format!("{base}/{rel}"),
        })
    }
}

/// The rules of one service.
#[derive(Debug, Clone)]
pub struct ServiceRules {
    pub service: String,
    pub rules: Vec<Rule>,
}

/// The watched services among `named` (all when empty): those with `develop.watch`.
/// `dockerignore` reads the `.dockerignore` of a build context.
pub fn service_rules(project: &Project, named: &[String], dockerignore: &dyn Fn(&Path) -> Ignore) -> Vec<ServiceRules> {
    project
        .services
        .iter()
        .filter(|(name, _)| named.is_empty() || named.contains(name))
        .filter_map(|(name, s)| {
            let watch = &s.develop.as_ref()?.watch;
            if watch.is_empty() {
                return None;
            }
            // Local contexts only: a URL context has no .dockerignore here.
            let context = s.build.as_ref().map(|b| PathBuf::from(&b.context)).filter(|c| c.is_absolute()).map(|c| {
                let ignore = dockerignore(&c);
                (c, ignore)
            });
            let binds: Vec<&str> = s.volumes.iter().filter(|v| v.kind == VolumeType::Bind).filter_map(|v| v.source.as_deref()).collect();
            let rules = watch
                .iter()
                .map(|r| {
                    let mut rule = Rule::new(r.clone(), context.clone());
                    rule.bind_mounted = r.action.syncs() && binds.iter().any(|b| r.path.starts_with(b));
                    rule
                })
                .collect();
            Some(ServiceRules { service: name.clone(), rules })
        })
        .collect()
}

/// What one batch of changes asks of a service. A rebuild makes everything else moot.
#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    pub rebuild: bool,
    /// (rule index, changed paths under it, none below another).
    pub sync: Vec<(usize, Vec<PathBuf>)>,
    pub restart: bool,
    /// The `sync+exec` rules whose files changed.
    pub exec: Vec<usize>,
}

/// The plan for one service from a batch of changed host paths; None when no rule cares.
pub fn plan(service: &ServiceRules, changed: &BTreeSet<PathBuf>, is_dir: &dyn Fn(&Path) -> bool) -> Option<Plan> {
    let mut p = Plan::default();
    for (i, r) in service.rules.iter().enumerate() {
        let hits = collapse(changed.iter().filter(|c| r.covers(c, is_dir(c))));
        if hits.is_empty() {
            continue;
        }
        if r.rule.action.syncs() && !r.bind_mounted {
            p.sync.push((i, hits));
        }
        match r.rule.action {
            WatchAction::Rebuild => return Some(Plan { rebuild: true, ..Plan::default() }),
            WatchAction::Restart | WatchAction::SyncRestart => p.restart = true,
            WatchAction::SyncExec => p.exec.push(i),
            WatchAction::Sync => {}
        }
    }
    (p != Plan::default()).then_some(p)
}

/// Sorted paths without those below another one (syncing a directory covers its content).
fn collapse<'a>(paths: impl Iterator<Item = &'a PathBuf>) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    for p in paths {
        if !out.iter().any(|q| p.starts_with(q)) {
            out.push(p.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(action: WatchAction, ignore: &[&str]) -> WatchRule {
        WatchRule {
            path: "/p/src".into(),
            action,
            target: action.syncs().then(|| "/app/".into()),
            ignore: ignore.iter().map(|s| s.to_string()).collect(),
            include: vec![],
            initial_sync: false,
            exec: None,
        }
    }

    fn service(rules: Vec<WatchRule>, dockerignore: &str) -> ServiceRules {
        let context = Some((PathBuf::from("/p"), Ignore::parse(dockerignore)));
        ServiceRules { service: "web".into(), rules: rules.into_iter().map(|r| Rule::new(r, context.clone())).collect() }
    }

    fn set(paths: &[&str]) -> BTreeSet<PathBuf> {
        paths.iter().map(PathBuf::from).collect()
    }

    #[test]
    fn ignores_rule_patterns_dockerignore_and_editor_files() {
        let s = service(vec![rule(WatchAction::Sync, &["*.log", "tmp/"])], "src/secret\n");
        let r = &s.rules[0];
        assert!(r.covers(Path::new("/p/src/a.js"), false));
        assert!(r.covers(Path::new("/p/src"), true));
        assert!(!r.covers(Path::new("/p/src/x.log"), false));
        assert!(!r.covers(Path::new("/p/src/tmp/deep/f"), false));
        assert!(!r.covers(Path::new("/p/src/secret"), false), ".dockerignore is relative to the context");
        assert!(!r.covers(Path::new("/p/src/lib/.a.js.swp"), false));
        assert!(!r.covers(Path::new("/p/src/.git/index"), false));
        assert!(!r.covers(Path::new("/p/other/a.js"), false));
        assert_eq!(r.container_path(Path::new("/p/src/lib/a.js")).as_deref(), Some("/app/lib/a.js"));
        assert_eq!(r.container_path(Path::new("/p/src")).as_deref(), Some("/app"));
    }

    #[test]
    fn a_batch_becomes_one_plan_per_service() {
        let s = service(vec![rule(WatchAction::Sync, &[]), rule(WatchAction::Restart, &[])], "");
        let p = plan(&s, &set(&["/p/src/new", "/p/src/new/a", "/p/src/b", "/p/src/b.swp~"]), &|_| false).unwrap();
        assert_eq!(p.sync, vec![(0, vec![PathBuf::from("/p/src/b"), PathBuf::from("/p/src/new")])]);
        assert!(p.restart && !p.rebuild);
        assert_eq!(plan(&s, &set(&["/p/elsewhere"]), &|_| false), None);
        let s = service(vec![rule(WatchAction::Sync, &[]), rule(WatchAction::Rebuild, &[])], "");
        assert_eq!(plan(&s, &set(&["/p/src/b"]), &|_| false), Some(Plan { rebuild: true, ..Plan::default() }));
    }

    #[test]
    fn a_bind_mounted_path_is_not_synced() {
        let mut s = service(vec![rule(WatchAction::Sync, &[]), rule(WatchAction::SyncExec, &[])], "");
        s.rules.iter_mut().for_each(|r| r.bind_mounted = true);
        let p = plan(&s, &set(&["/p/src/a"]), &|_| false).unwrap();
        assert!(p.sync.is_empty() && p.exec == [1]);
    }

    #[test]
    fn include_keeps_only_matching_files() {
        let mut r = rule(WatchAction::Sync, &[]);
        r.include = vec!["**/*.txt".into()];
        let r = Rule::new(r, None);
        assert!(r.covers(Path::new("/p/src/a/b.txt"), false));
        assert!(r.covers(Path::new("/p/src/a"), true));
        assert!(!r.covers(Path::new("/p/src/a/b.js"), false));
    }
}
