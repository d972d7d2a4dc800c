//! Services' `secrets:` and `configs:` on both backends: file, environment and content
//! sources, targets, read-only mounts, the written files' modes, recreation on change,
//! and the refusals (undefined, external). Needs root and, for Docker, a running dockerd.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

#[macro_use]
mod common;

use common::ensure_busybox;
use common::stack::Stack;

const COMPOSE: &str = r#"services:
  app:
    image: busybox:latest
    command: ["sh", "-c", "echo file=$(cat /run/secrets/x) env=$(cat /run/secrets/envsec) conf=$(cat /etc/app/conf.ini); (echo w > /run/secrets/x) 2>/dev/null && echo S-WRITABLE || echo S-READONLY; (echo w > /etc/app/conf.ini) 2>/dev/null && echo C-WRITABLE || echo C-READONLY; echo done; sleep 60"]
    init: true
    secrets:
      - x
      - source: envsec
    configs:
      - source: conf
        target: /etc/app/conf.ini
secrets:
  x:
    file: ./token.txt
  envsec:
    environment: HOIST_IT_SECRET
configs:
  conf:
    content: k=v
"#;

/// Waits until the app's output has `text` and "done"; returns it.
fn wait_done(s: &Stack, text: &str) -> String {
    let start = Instant::now();
    loop {
        let out = s.logs("app");
        if out.contains(text) && out.contains("done") {
            return out;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "no {text:?} in the output:\n{out}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).permissions().mode() & 0o7777
}

fn secrets_and_configs_reach_the_container(b: &'static str) {
    ensure_busybox(b);
    let s = Stack::new(b, "secmount", COMPOSE);
    std::fs::write(s.path().join("token.txt"), "from-file").unwrap();
    s.set_env("HOIST_IT_SECRET", "from-env");
    s.ok(&["up", "-d"]);
    let out = wait_done(&s, "file=from-file env=from-env conf=k=v");
    assert!(out.contains("S-READONLY") && out.contains("C-READONLY"), "a secret or config was writable:\n{out}");

    // The test's state root (HOIST_ROOT) picks the directory, as it does for hoist.
    let runtime = hoist::plan::spec::runtime_dir(&s.project);
    assert!(runtime.starts_with("/run/hoist"), "{}", runtime.display());
    let dir = runtime.join("secrets/app");
    assert_eq!(mode(&dir.join("envsec")), 0o400);
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&runtime.join("secrets")), 0o700);
    assert_eq!(mode(&runtime.join("configs/app/conf")), 0o444);

    // A changed value recreates the container; the same one does not.
    let id = s.ok(&["ps", "-q"]);
    s.set_env("HOIST_IT_SECRET", "from-env");
    s.ok(&["up", "-d"]);
    assert_eq!(s.ok(&["ps", "-q"]), id, "an unchanged secret recreated the container");
    s.set_env("HOIST_IT_SECRET", "changed");
    s.ok(&["up", "-d"]);
    assert_ne!(s.ok(&["ps", "-q"]), id, "a changed secret kept the container");
    wait_done(&s, "env=changed");

    s.ok(&["down", "-t", "1"]);
    assert!(!runtime.join("secrets").exists(), "down left the written secrets");
}

on_both_backends!(secrets_and_configs_reach_the_container);

#[test]
fn undefined_secret_is_a_validation_error_with_its_line() {
    let s = Stack::new("builtin", "secundef", "services:\n  app:\n    image: busybox:latest\n    secrets:\n      - nope\n");
    let err = s.fails(&["config"]);
    assert!(err.contains("undefined secret \"nope\""), "{err}");
    assert!(err.contains("docker-compose.yml:4"), "no file:line in {err}");
}

#[test]
fn external_secret_is_refused_before_anything_is_created() {
    ensure_busybox("builtin");
    let compose = "services:\n  app:\n    image: busybox:latest\n    secrets: [token]\nsecrets:\n  token:\n    external: true\n";
    let s = Stack::new("builtin", "secext", compose);
    let err = s.fails(&["up", "-d"]);
    // Refused when the file is loaded, at the key (src/compose/keys.rs).
    assert!(err.contains("docker-compose.yml:7:5: secrets.token.external: refused") && err.contains("swarm"), "{err}");
    assert_eq!(s.ok(&["ps", "-a", "-q"]), "", "a container was created");
}
