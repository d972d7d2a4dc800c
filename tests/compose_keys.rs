//! No compose key is accepted and dropped: keys a backend does not apply are refused at
//! load with file:line:col by the commands that build, create or start containers (the
//! others warn), or warned about with file:line on every command, by the
//! table in src/compose/keys.rs. Engine tests need root and dockerd.

#[macro_use]
mod common;

use common::stack::Stack;
use hoist::compose::keys::{self, Backend};
use hoist::compose::{self, LoadOptions};

/// Loads `text` as docker-compose.yml for `backend`; returns the result and the warnings.
fn load(text: &str, backend: Backend, warn_only: bool) -> (Result<(), String>, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("docker-compose.yml"), text).unwrap();
    let opts = LoadOptions {
        cwd: Some(dir.path().to_path_buf()),
        interpolate: true,
        environment: Some(vec![]),
        backend: Some(backend),
        warn_only,
        ..Default::default()
    };
    match compose::load_with_warnings(&opts) {
        Ok(out) => (Ok(()), out.warnings),
        Err(e) => (Err(e.to_string()), vec![]),
    }
}

const BOTH: [Backend; 2] = [Backend::Builtin, Backend::Docker];

#[test]
fn every_row_has_its_parent_and_every_refusal_a_reason() {
    for k in keys::KEYS {
        // `a.b[].c` needs a row for `a.b`, so a key is judged at every level.
        if let Some((parent, _)) = k.path.rsplit_once('.') {
            let parent = parent.trim_end_matches("[]").trim_end_matches(".*");
            assert!(parent == "services" || keys::find(parent).is_some(), "{}: no row for its parent {parent}", k.path);
        }
        for b in BOTH {
            assert!(k.status(b).reason().is_none_or(|r| !r.is_empty()), "{} on {}: empty reason", k.path, b.label());
        }
    }
}

#[test]
fn a_refused_key_names_its_place_and_reason() {
    let text = "services:\n  web:\n    image: busybox\n    gpus: all\n";
    for b in [Backend::Builtin] {
        let (res, _) = load(text, b, false);
        let err = res.expect_err("gpus must be refused");
        assert!(err.contains("docker-compose.yml:4:5: services.web.gpus: refused by"), "{b:?}: {err}");
        assert!(err.contains("GPUs"), "{b:?}: {err}");
        // `config` shows the file anyway, with a warning.
        let (res, warnings) = load(text, b, true);
        assert!(res.is_ok(), "{b:?}: {res:?}");
        assert!(warnings.iter().any(|w| w.contains("docker-compose.yml:4: services.web.gpus")), "{b:?}: {warnings:?}");
    }
}

#[test]
fn refusals_and_warnings_follow_the_backend() {
    // Built-in volumes mount a bind device or a tmpfs, not NFS: the data would not be where the file says.
    let text = "services:\n  web:\n    image: busybox\n    volumes: [data:/d]\nvolumes:\n  data:\n    driver_opts: {type: nfs, o: addr=10.0.0.1, device: \":/srv\"}\n";
    let (res, _) = load(text, Backend::Builtin, false);
    assert!(res.unwrap_err().contains("docker-compose.yml:7:5: volumes.data.driver_opts: refused by the built-in runtime"));
    let (res, warnings) = load(text, Backend::Docker, false);
    assert!(res.is_ok() && warnings.is_empty(), "{res:?} {warnings:?}");
    // cpu_quota: the Docker backend passes it, the built-in runtime does not.
    let text = "services:\n  web:\n    image: busybox\n    cpu_quota: 50000\n";
    let (_, warnings) = load(text, Backend::Builtin, false);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("docker-compose.yml:4: services.web.cpu_quota: not applied by the built-in runtime"), "{warnings:?}");
    assert!(load(text, Backend::Docker, false).1.is_empty());
}

#[test]
fn values_decide_for_keys_that_depend_on_them() {
    let quiet = "services:\n  web:\n    image: busybox\n    attach: true\n    pull_policy: missing\n    oom_kill_disable: false\n    volumes: ['./a:/a:ro', {type: bind, source: ./b, target: /b}]\n    security_opt: [no-new-privileges:true]\n    deploy: {replicas: 2}\n";
    for b in BOTH {
        let (res, warnings) = load(quiet, b, false);
        assert!(res.is_ok() && warnings.is_empty(), "{b:?}: {res:?} {warnings:?}");
    }
    let loud = "services:\n  web:\n    image: busybox\n    pull_policy: daily\n    volumes: ['./a:/a:z']\n";
    for b in BOTH {
        let (_, warnings) = load(loud, b, false);
        let keys: Vec<&str> = ["pull_policy", "volumes"].into_iter().filter(|k| warnings.iter().any(|w| w.contains(&format!("services.web.{k}:")))).collect();
        assert_eq!(keys, ["pull_policy", "volumes"], "{b:?}: {warnings:?}");
    }
    let (res, _) = load("services:\n  web:\n    image: busybox\n    volumes: [{type: image, source: alpine, target: /i}]\n", Backend::Docker, false);
    assert!(res.unwrap_err().contains("services.web.volumes[0].type: refused"));
}

#[test]
fn one_warning_per_key_and_none_for_services_left_out() {
    let text = "services:\n  web:\n    image: busybox\n    logging:\n      driver: json-file\n      options: {max-size: 1m, tag: web}\n  tool:\n    image: busybox\n    profiles: [tools]\n    storage_opt: {size: 1G}\n";
    let (res, warnings) = load(text, Backend::Builtin, false);
    assert!(res.is_ok(), "{res:?}");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("docker-compose.yml:6: services.web.logging.options: not applied"), "{warnings:?}");
    // A refused sub-key under a warned key is still refused.
    let text = "services:\n  web:\n    image: busybox\n    deploy:\n      resources:\n        limits: {memory: 1g}\n        reservations:\n          devices: [{capabilities: [gpu]}]\n";
    let (res, _) = load(text, Backend::Builtin, false);
    assert!(res.unwrap_err().contains("docker-compose.yml:8:11: services.web.deploy.resources.reservations.devices: refused"));
}

#[test]
fn legacy_keys_are_judged_too() {
    let text = "web:\n  image: busybox\n  log_driver: syslog\n  log_opt: {max-size: 1m, tag: web}\n";
    let (res, warnings) = load(text, Backend::Docker, false);
    assert!(res.is_ok() && warnings.is_empty(), "{res:?} {warnings:?}");
    let (res, _) = load(text, Backend::Builtin, false);
    let err = res.unwrap_err();
    assert!(err.contains("docker-compose.yml:3") && err.contains("services.web.log_driver: refused"), "{err}");
    let (res, warnings) = load("web:\n  image: busybox\n  log_opt: {max-size: 1m, tag: web}\n", Backend::Builtin, false);
    assert!(res.is_ok(), "{res:?}");
    assert!(warnings.iter().any(|w| w.contains("docker-compose.yml:3: services.web.log_opt: not applied")), "{warnings:?}");
}

// ---- through the binary, on both engines -----------------------------------------------

fn refused_key_fails_before_anything_is_created(backend: &'static str) {
    let s = Stack::new(backend, "keysrefused", "services:\n  web:\n    image: busybox\n    command: sleep 300\n    use_api_socket: true\n");
    let err = s.fails(&["up", "-d"]);
    assert!(err.contains("docker-compose.yml:5:5: services.web.use_api_socket: refused by"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(s.ps_q(&["-a"]).is_empty(), "a container was created");
    for cmd in [&["run", "--rm", "web", "true"][..], &["create"], &["start"]] {
        assert!(s.fails(cmd).contains("docker-compose.yml:5:5: services.web.use_api_socket"), "{cmd:?}");
    }
    // Commands that only show or remove warn instead: a stack stays removable.
    for cmd in [&["config"][..], &["ps"], &["down"]] {
        let out = s.hoist(cmd);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{cmd:?}: {err}");
        assert!(err.contains("WARN[0000] docker-compose.yml:5: services.web.use_api_socket: not applied by"), "{cmd:?}: {err}");
    }
    assert!(s.ps_q(&["-a"]).is_empty(), "a container was created");
}

fn warned_key_warns_and_the_stack_comes_up(backend: &'static str) {
    let s = Stack::new(
        backend,
        "keyswarned",
        "services:\n  web:\n    image: busybox\n    command: sh -c 'echo up; sleep 300'\n    storage_opt: {size: 1G}\n",
    );
    let out = s.hoist(&["up", "-d"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let label = if backend == "docker" { "the Docker backend" } else { "the built-in runtime" };
    assert!(err.contains(&format!("WARN[0000] docker-compose.yml:5: services.web.storage_opt: not applied by {label}")), "{err}");
    s.wait_log("web", "up");
    // Other commands that load the file warn as well.
    let ps = s.hoist(&["ps"]);
    assert!(String::from_utf8_lossy(&ps.stderr).contains("services.web.storage_opt"));
    assert_eq!(s.ps_q(&[]).len(), 1);
}

fn applied_keys_give_no_warning(backend: &'static str) {
    let s = Stack::new(
        backend,
        "keysapplied",
        "services:\n  web:\n    image: busybox\n    command: sh -c 'echo up; sleep 300'\n    environment: {A: b}\n    labels: {x: y}\n    init: true\n    stop_grace_period: 1s\n    healthcheck: {test: ['CMD', 'true'], interval: 1s}\n    restart: unless-stopped\n    cap_drop: [NET_RAW]\n    tmpfs: []\n    deploy: {replicas: 1}\n",
    );
    let out = s.hoist(&["up", "-d"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("not applied"), "{err}");
    s.wait_log("web", "up");
}

on_both_backends!(refused_key_fails_before_anything_is_created, warned_key_warns_and_the_stack_comes_up, applied_keys_give_no_warning);
