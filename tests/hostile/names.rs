//! Hostile inputs: names. Container, volume and network names that are paths (`../..`,
//! `/some/file`) or not names at all are refused where they enter, naming file, line and
//! key, before anything touches the host.

use std::path::Path;
use std::process::{Command, Output};

use crate::common::HOIST;

fn hoist(dir: &Path, args: &[&str]) -> Output {
    Command::new(HOIST).args(args).current_dir(dir).env("HOIST_ROOT", std::env::var("HOIST_ROOT").unwrap_or("/var/lib/hoist-names".into())).output().unwrap()
}

/// A temp dir with a canary file whose content must survive.
fn canary() -> (tempfile::TempDir, std::path::PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let c = t.path().join("canary");
    std::fs::write(&c, "canary").unwrap();
    (t, c)
}

fn assert_refused(out: &Output, fragments: &[&str]) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "accepted: {err}");
    for f in fragments {
        assert!(err.contains(f), "error lacks {f:?}: {err}");
    }
}

#[test]
fn container_names_that_are_paths_are_refused_at_load() {
    let (t, c) = canary();
    for (name, bad) in [(c.display().to_string(), "invalid container name"), ("../../canary".into(), "invalid container name"), ("a b".into(), "invalid"), ("-rf".into(), "invalid"), ("x\\ny".into(), "invalid"), ("a".into(), "two characters")] {
        std::fs::write(t.path().join("compose.yml"), format!("services:\n  web:\n    image: busybox\n    container_name: \"{name}\"\n")).unwrap();
        for backend in ["builtin", "docker"] {
            let out = hoist(t.path(), &["--backend", backend, "-p", "hostilenames", "config", "-q"]);
            assert_refused(&out, &[bad, "compose.yml:4:5", "services.web.container_name"]);
        }
        assert_eq!(std::fs::read_to_string(&c).unwrap(), "canary");
    }
}

#[test]
fn a_leading_slash_is_dropped_as_docker_does() {
    let t = tempfile::tempdir().unwrap();
    std::fs::write(t.path().join("compose.yml"), "services:\n  web:\n    image: busybox\n    container_name: /hostile-web\n").unwrap();
    let out = hoist(t.path(), &["-p", "hostilenames", "config"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("container_name: hostile-web"));
}

#[test]
fn volume_and_network_names_that_are_paths_are_refused_at_load() {
    let (t, c) = canary();
    let dir = t.path().display().to_string();
    for (top, name, key) in [("volumes", dir.clone(), "volumes.v.name"), ("volumes", "..".into(), "volumes.v.name"), ("networks", "../x".into(), "networks.v.name")] {
        std::fs::write(t.path().join("compose.yml"), format!("services:\n  web:\n    image: busybox\n{top}:\n  v:\n    name: \"{name}\"\n")).unwrap();
        let out = hoist(t.path(), &["-p", "hostilenames", "config", "-q"]);
        assert_refused(&out, &["compose.yml:6:11", key]);
    }
    // Keys that become names or paths.
    for top in ["volumes", "secrets", "services"] {
        let (text, place) = match top {
            "services" => ("services:\n  \"..\":\n    image: busybox\n".to_string(), "compose.yml:2:3"),
            "volumes" => (format!("services:\n  web:\n    image: busybox\n{top}:\n  \"..\":\n    driver: local\n"), "compose.yml:5:3"),
            _ => (format!("services:\n  web:\n    image: busybox\n{top}:\n  \"..\":\n    environment: HOME\n"), "compose.yml:5:3"),
        };
        std::fs::write(t.path().join("compose.yml"), text).unwrap();
        let out = hoist(t.path(), &["-p", "hostilenames", "config", "-q"]);
        assert_refused(&out, &[place, "invalid name \"..\""]);
    }
    assert_eq!(std::fs::read_to_string(&c).unwrap(), "canary");
}

#[test]
fn volume_rm_of_a_path_touches_nothing() {
    let (t, c) = canary();
    let root = std::env::var("HOIST_ROOT").unwrap_or("/var/lib/hoist-names".into());
    std::fs::create_dir_all(Path::new(&root).join("volumes")).unwrap();
    let planted = Path::new(&root).join("hostile-names-planted");
    std::fs::write(&planted, "keep").unwrap();
    for (backend, name) in [("builtin", ".."), ("builtin", t.path().to_str().unwrap()), ("builtin", "../hostile-names-planted"), ("docker", "..")] {
        let out = hoist(t.path(), &["--backend", backend, "volume", "rm", name]);
        assert_refused(&out, &["invalid volume name"]);
    }
    assert_eq!(std::fs::read_to_string(&c).unwrap(), "canary");
    assert_eq!(std::fs::read_to_string(&planted).unwrap(), "keep");
    std::fs::remove_file(planted).unwrap();
}

#[test]
fn project_names_are_checked_from_every_source() {
    let t = tempfile::tempdir().unwrap();
    std::fs::write(t.path().join("compose.yml"), "services:\n  web:\n    image: busybox\n").unwrap();
    assert_refused(&hoist(t.path(), &["-p", "../x", "config", "-q"]), &["invalid project name"]);
    let out = Command::new(HOIST).args(["config", "-q"]).current_dir(t.path()).env("COMPOSE_PROJECT_NAME", "a/b").output().unwrap();
    assert_refused(&out, &["invalid project name"]);
}
