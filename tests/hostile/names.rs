//! Hostile inputs: names. Container, volume and network names that are paths (`../..`,
//! `/some/file`) or not names at all are refused where they enter, naming file, line and
//! key, before anything touches the host.

use std::path::Path;
use std::process::{Command, Output};

use crate::common::{assert_refused, HOIST};

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

/// Every file under `dir` with its content (symlinks as their target): what "untouched"
/// is compared against.
fn snapshot(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().map(Result::unwrap) {
            let (path, kind) = (e.path(), e.file_type().unwrap());
            let content = if kind.is_dir() {
                todo.push(path.clone());
                b"<dir>".to_vec()
            } else if kind.is_symlink() {
                std::fs::read_link(&path).unwrap().into_os_string().into_encoded_bytes()
            } else {
                std::fs::read(&path).unwrap()
            };
            out.push((path, content));
        }
    }
    out.sort();
    out
}

/// Names that are paths or not names at all, given to every command that takes one, on
/// both backends: each is refused naming the bad name, and neither the canary files nor
/// the (fresh) state root change, nor does Docker gain anything of the project.
#[test]
fn path_like_names_are_refused_by_every_command_on_both_backends() {
    let (t, canary) = canary();
    let victim = t.path().join("victim");
    std::fs::create_dir(&victim).unwrap();
    std::fs::write(victim.join("file"), "keep").unwrap();
    let root = tempfile::tempdir().unwrap();
    // Where `..`-names would land from the store's directories.
    for planted in ["x", "x.json", "b", "b.json"] {
        std::fs::write(root.path().join(planted), "keep").unwrap();
    }
    let project = "hostilenamescmds";
    let run = |backend: &str, args: &[&str]| {
        Command::new(HOIST).args(["--backend", backend]).args(args).current_dir(t.path()).env("HOIST_ROOT", root.path()).output().unwrap()
    };
    // A valid project first: the backend makes its directories; from here on nothing changes.
    let valid = "services:\n  web:\n    image: busybox\n    depends_on: [dep]\n  dep:\n    image: busybox\n";
    std::fs::write(t.path().join("compose.yml"), valid).unwrap();
    assert!(run("builtin", &["-p", project, "ps"]).status.success());
    let before = (snapshot(t.path()), snapshot(root.path()));

    let absolute = victim.display().to_string();
    for bad in ["../x", absolute.as_str(), "a/b", "..", "x\ny", "-rf"] {
        let quoted = format!("{bad:?}");
        let files = [
            ("container", format!("services:\n  web:\n    image: busybox\n    container_name: {quoted}\n")),
            ("volume", format!("services:\n  web:\n    image: busybox\n    volumes: [v:/v]\nvolumes:\n  v:\n    name: {quoted}\n")),
            ("network", format!("services:\n  web:\n    image: busybox\n    networks: [n]\nnetworks:\n  n:\n    name: {quoted}\n")),
        ];
        for backend in ["builtin", "docker"] {
            for (kind, file) in &files {
                std::fs::write(t.path().join("compose.yml"), file).unwrap();
                // Docker drops a container name's leading slash before checking the rest.
                let shown = if *kind == "container" { format!("{:?}", bad.strip_prefix('/').unwrap_or(bad)) } else { quoted.clone() };
                for cmd in [&["up", "-d"][..], &["down", "-v"], &["run", "--rm", "web", "true"]] {
                    let out = run(backend, &[&["-p", project][..], cmd].concat());
                    assert_refused(&out, &[&format!("invalid {kind} name"), &shown]);
                }
            }
            std::fs::write(t.path().join("compose.yml"), valid).unwrap();
            assert_refused(&run(backend, &[&format!("--project-name={bad}"), "up", "-d"]), &["invalid project name", &quoted]);
            assert_refused(&run(backend, &[&format!("--project-name={bad}"), "down"]), &["invalid project name", &quoted]);
            assert_refused(&run(backend, &["volume", "rm", "--", bad]), &["invalid volume name", &quoted]);
            // `web` depends on `dep`: a refused name must not leave `dep` running.
            assert_refused(&run(backend, &["-p", project, "run", "-d", &format!("--name={bad}"), "web", "true"]), &["--name", "invalid container name", &quoted]);
            // `-v` with a source starting with `/` or `.` is a bind mount, as with Docker.
            if !bad.starts_with(['/', '.']) {
                assert_refused(&run(backend, &["-p", project, "run", "-d", &format!("-v={bad}:/v"), "web", "true"]), &["invalid volume name", &quoted]);
            }
        }
    }
    assert_eq!(std::fs::read_to_string(&canary).unwrap(), "canary");
    assert!(before == (snapshot(t.path()), snapshot(root.path())), "a refused name changed the canary tree or the state root");
    for what in [&["container", "ls", "-a"][..], &["volume", "ls"], &["network", "ls"]] {
        let out = Command::new("docker").args(what).args(["-q", "--filter", &format!("label=com.docker.compose.project={project}")]).output().unwrap();
        assert!(out.status.success(), "docker {what:?}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(out.stdout.trim_ascii().is_empty(), "docker has {}s of the refused project: {}", what[0], String::from_utf8_lossy(&out.stdout));
    }
}
