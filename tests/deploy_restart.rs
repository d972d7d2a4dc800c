//! `deploy.restart_policy` is the containers' restart policy outside a swarm, as Docker
//! Compose sets it (over `restart`): observed by counting a failing service's runs on both
//! backends and, on Docker, in `docker inspect`. Needs root and dockerd.

#[macro_use]
mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::stack::Stack;

/// The service's state (`running`, `exited`, ...) as `ps -a` shows it.
fn state(s: &Stack, service: &str) -> String {
    s.ok(&["ps", "-a", "--format", "{{.State}}", service]).trim().to_string()
}

fn runs(s: &Stack) -> usize {
    s.logs("a").matches("run\n").count()
}

fn on_failure_with_max_attempts_restarts_twice_then_stays_exited(backend: &'static str) {
    // `restart: always` loses to deploy.restart_policy, as in Docker Compose.
    let s = Stack::new(
        backend,
        "deployrestart",
        "services:\n  a:\n    image: busybox\n    command: sh -c 'echo run; exit 1'\n    restart: always\n    deploy:\n      restart_policy: {condition: on-failure, max_attempts: 2, delay: 1s}\n",
    );
    let up = s.hoist(&["up", "-d"]);
    assert!(up.status.success(), "{}", String::from_utf8_lossy(&up.stderr));
    assert!(String::from_utf8_lossy(&up.stderr).contains("deploy.restart_policy.delay"), "delay is warned about");
    if backend == "docker" {
        let out = Command::new("docker")
            .args(["inspect", "-f", "{{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}}", &s.id("a")])
            .output()
            .expect("the docker CLI is needed for this test");
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "on-failure 2");
    }
    // The first run and two restarts (the engine backs off 100ms, 200ms between them).
    let deadline = Instant::now() + Duration::from_secs(30);
    while !(runs(&s) == 3 && state(&s, "a") == "exited") {
        assert!(Instant::now() < deadline, "not three runs then exited: {} runs, state {:?}", runs(&s), state(&s, "a"));
        std::thread::sleep(Duration::from_millis(200));
    }
    // And no third restart: watch it for longer than the engine's next back-off.
    let watch = Instant::now() + Duration::from_secs(3);
    while Instant::now() < watch {
        assert_eq!((runs(&s), state(&s, "a")), (3, "exited".to_string()), "restarted beyond max_attempts");
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn condition_none_overrides_restart_always(backend: &'static str) {
    let s = Stack::new(
        backend,
        "deployrestartnone",
        "services:\n  a:\n    image: busybox\n    command: sh -c 'echo run; exit 1'\n    restart: always\n    deploy:\n      restart_policy: {condition: none}\n",
    );
    s.ok(&["up", "-d"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while state(&s, "a") != "exited" {
        assert!(Instant::now() < deadline, "never exited: {:?}", state(&s, "a"));
        std::thread::sleep(Duration::from_millis(200));
    }
    let watch = Instant::now() + Duration::from_secs(2);
    while Instant::now() < watch {
        assert_eq!((runs(&s), state(&s, "a")), (1, "exited".to_string()), "restarted despite condition: none");
        std::thread::sleep(Duration::from_millis(250));
    }
}

on_both_backends!(on_failure_with_max_attempts_restarts_twice_then_stays_exited, condition_none_overrides_restart_always);
