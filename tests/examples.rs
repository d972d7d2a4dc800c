//! The examples run as a newcomer runs them (`examples/*/run.sh`), on both backends, and
//! say what their READMEs promise. Needs root, curl, and dockerd for the Docker runs
//! (`.ci/run` provides them); node-redis also installs Debian's redis-server and nodejs.

use std::process::Command;

fn run_example(name: &str, backend: &str) -> String {
    let script = format!("{}/examples/{name}/run.sh", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("bash")
        .arg(&script)
        .env("HOIST", env!("CARGO_BIN_EXE_hoist"))
        .env("HOIST_BACKEND", backend)
        .env_remove("DOCKER_HOST")
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{name} on {backend} failed:\n{text}");
    text
}

fn links(backend: &str) {
    let out = run_example("links", backend);
    for want in ["DATABASE_NAME=/links-web-1/database", "DATABASE_ENV_DB_PASSWORD=secret", "DATABASE_PORT_80_TCP_PORT=80", "hello-from-db"] {
        assert!(out.contains(want), "links on {backend}: no {want:?} in\n{out}");
    }
    assert!(out.lines().any(|l| l.contains("database") && l.contains("links-db-1") && !l.contains('=')), "{out}");
}

fn data_volumes(backend: &str) {
    let out = run_example("data-volumes", backend);
    for want in ["row-from-db1", "Read-only file system", "dbdata/table", "data-volumes_notes"] {
        assert!(out.contains(want), "data-volumes on {backend}: no {want:?} in\n{out}");
    }
    // The named volume kept the first run's line across `down`: two start times.
    let starts = out.lines().filter(|l| l.contains(" UTC ")).count();
    assert!(starts >= 2, "{out}");
}

fn ports(backend: &str) {
    let out = run_example("ports", backend);
    for want in ["fixed: 0.0.0.0:18180", "local: 127.0.0.1:18181", "range 81: 0.0.0.0:18191", "range 53/udp: 0.0.0.0:18195", "\nfixed\n", "\nany\n", "\nlocal\n", "\nrange\n", "\ninternal\n"] {
        assert!(out.contains(want), "ports on {backend}: no {want:?} in\n{out}");
    }
}

fn scale(backend: &str) {
    let out = run_example("scale", backend);
    for want in ["scale-web-3", "Removed"] {
        assert!(out.contains(want), "scale on {backend}: no {want:?} in\n{out}");
    }
}

fn registry(backend: &str) {
    let out = run_example("registry", backend);
    for want in ["\"demo/hello\"", "hello from an image pulled from 127.0.0.1:5055"] {
        assert!(out.contains(want), "registry on {backend}: no {want:?} in\n{out}");
    }
}

// One test per example, both backends in turn: an example's fixed host ports and project
// name are the same on both.
#[test]
fn links_example() {
    links("builtin");
    links("docker");
}

#[test]
fn data_volumes_example() {
    data_volumes("builtin");
    data_volumes("docker");
}

#[test]
fn ports_example() {
    ports("builtin");
    ports("docker");
}

#[test]
fn scale_example() {
    scale("builtin");
    scale("docker");
}

#[test]
fn registry_example() {
    registry("builtin");
    registry("docker");
}

/// The demo of the README, as CI's acceptance: welcome text on :8080, /build answers,
/// `hoist down` cleans up. Docker run too, with the images the built-in run made
/// imported there by the script.
#[test]
fn node_redis_demo() {
    for backend in ["builtin", "docker"] {
        let out = run_example("node-redis", backend);
        assert!(out.contains("The demo runs"), "{out}");
        let build = Command::new("curl").args(["-fsS", "-m", "5", "http://127.0.0.1:8080/build"]).output().unwrap();
        let text = String::from_utf8_lossy(&build.stdout);
        let down = Command::new(env!("CARGO_BIN_EXE_hoist"))
            .args(["--backend", backend, "down"])
            .current_dir(format!("{}/examples/node-redis", env!("CARGO_MANIFEST_DIR")))
            .env_remove("DOCKER_HOST")
            .output()
            .unwrap();
        assert!(text.contains("Build or rebuild services"), "/build on {backend}: {text}");
        assert!(down.status.success(), "{}", String::from_utf8_lossy(&down.stderr));
    }
}
