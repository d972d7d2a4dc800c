//! `post_start`/`pre_stop` hooks, `attach: false` and `label_file`, run through the real
//! binary on both backends and compared with what Docker Compose does (its source: hooks
//! in pkg/compose/hook.go, `attach` in cmd/compose/{up,logs}.go). Needs root and dockerd.

#[macro_use]
mod common;

use std::time::{Duration, Instant};

use common::stack::Stack;

/// What a one-off container of `service` prints for `cat path` (the project's volumes are
/// still there after `down` without `-v`).
fn cat_in_one_off(s: &Stack, service: &str, path: &str) -> String {
    s.ok(&["run", "--rm", "--no-deps", "-T", service, "cat", path])
}

/// Polls until `f` holds, for at most 30 seconds.
fn eventually(what: &str, f: impl Fn() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < Duration::from_secs(30), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Every capability a privileged process gets: the host's bounding set.
fn host_capbnd() -> String {
    std::fs::read_to_string("/proc/self/status").unwrap().lines().find_map(|l| l.strip_prefix("CapBnd:").map(|v| v.trim().to_string())).unwrap()
}

const POST_START: &str = r#"
services:
  web:
    image: busybox
    command: ["sleep", "300"]
    volumes: [data:/data]
    post_start:
      - command: ["sh", "-c", "echo \"$$GREETING $$(pwd)\" > /data/started; chmod 666 /data/started"]
        working_dir: /tmp
        environment:
          GREETING: hello
      - command: sh -c 'id -u >> /data/started'
        user: "65534"
  after:
    image: busybox
    depends_on: [web]
    volumes: [data:/data]
    command: ["sh", "-c", "cp /data/started /data/seen-by-dependant; sleep 300"]
volumes:
  data: {}
"#;

/// The hooks run in order, with their environment, working directory and user, and are
/// done before a dependant starts (Compose runs them in `startService` before the service
/// counts as started).
fn post_start_runs_before_dependants(backend: &'static str) {
    let s = Stack::new(backend, "hookpoststart", POST_START);
    s.ok(&["up", "-d"]);
    let want = "hello /tmp\n65534\n";
    assert_eq!(s.cat("web", "/data/started").as_deref(), Some(want));
    eventually("the dependant's copy", || s.cat("after", "/data/seen-by-dependant").is_some());
    assert_eq!(s.cat("after", "/data/seen-by-dependant").as_deref(), Some(want));
}

/// A hook that fails fails `up` with Docker Compose's message and exit status 1; the
/// dependant is not started. (Compose leaves the failed container running; hoist's `up`
/// removes what it created, as for any failed `up`.)
fn failing_post_start_fails_up(backend: &'static str) {
    let compose = r#"
services:
  web:
    image: busybox
    command: ["sleep", "300"]
    post_start:
      - command: ["sh", "-c", "echo broken >&2; exit 3"]
  after:
    image: busybox
    depends_on: [web]
    command: ["sleep", "300"]
"#;
    let s = Stack::new(backend, "hookfail", compose);
    let out = s.hoist(&["up", "-d"]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("web hook exited with status 3"), "{err}");
    assert!(s.ps_q(&["after"]).is_empty(), "the dependant started");
}

const PRE_STOP: &str = r#"
services:
  web:
    image: busybox
    command: ["sleep", "300"]
    stop_grace_period: 1s
    volumes: [marks:/marks]
    post_start:
      - command: ["sh", "-c", "chmod 777 /marks; echo start >> /marks/log; chmod 666 /marks/log"]
    pre_stop:
      - command: ["sh", "-c", "echo stop-$$WHICH >> /marks/log; echo $$(id -u) $$(pwd) > /marks/prestop-as"]
        environment: [WHICH=one]
        user: "65534"
        working_dir: /tmp
volumes:
  marks: {}
"#;

/// `stop`, `restart` and `down` run `pre_stop` in the running container before stopping
/// it; `start` and `restart` run `post_start` after (Compose: stopContainer in down.go,
/// restartContainer in restart.go). The marks are read from the volume after `down`.
fn pre_stop_runs_before_stop_and_down(backend: &'static str) {
    let s = Stack::new(backend, "hookprestop", PRE_STOP);
    s.ok(&["up", "-d"]);
    s.ok(&["stop"]);
    // A stopped container is not stopped again: no hook.
    s.ok(&["stop"]);
    s.ok(&["start"]);
    s.ok(&["restart"]);
    s.ok(&["down"]);
    assert_eq!(cat_in_one_off(&s, "web", "/marks/log"), "start\nstop-one\nstart\nstop-one\nstart\nstop-one\n");
    // Each hook with its own user, working directory and privileges.
    assert_eq!(cat_in_one_off(&s, "web", "/marks/prestop-as"), "65534 /tmp\n");
}

/// Scaling down stops the removed replica through `pre_stop`, as Compose's
/// stopAndRemoveContainer does; a recreate stops the old container without it.
fn pre_stop_runs_on_scale_down_not_recreate(backend: &'static str) {
    let s = Stack::new(backend, "hookscale", PRE_STOP);
    s.ok(&["up", "-d", "--scale", "web=2"]);
    s.ok(&["up", "-d", "--scale", "web=1"]);
    s.ok(&["up", "-d", "--force-recreate"]);
    s.ok(&["stop"]);
    let log = cat_in_one_off(&s, "web", "/marks/log");
    let count = |l: &str| log.lines().filter(|x| *x == l).count();
    // Two starts, one scale-down stop; the recreate starts a third time without a stop;
    // `stop` runs the hook once more.
    assert_eq!((count("start"), count("stop-one")), (3, 2), "{log}");
}

/// A failing `pre_stop` fails `stop` with Compose's message and leaves the container
/// running (Compose returns the hook's error before ContainerStop).
fn failing_pre_stop_keeps_the_container(backend: &'static str) {
    let compose = r#"
services:
  web:
    image: busybox
    command: ["sleep", "300"]
    pre_stop:
      - command: ["sh", "-c", "exit 4"]
"#;
    let s = Stack::new(backend, "hookfailstop", compose);
    s.ok(&["up", "-d"]);
    let out = s.hoist(&["stop"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("web hook exited with status 4"), "{err}");
    assert_eq!(s.ps_q(&["--status", "running"]).len(), 1, "the container was stopped");
    // Without the hook, the drop's `down` can remove it.
    s.write("docker-compose.yml", "services:\n  web:\n    image: busybox\n    command: [sleep, '300']\n");
}

const ATTACH: &str = r#"
services:
  loud:
    image: busybox
    command: ["sh", "-c", "echo from-loud; sleep 3"]
  quiet:
    image: busybox
    attach: false
    command: ["sh", "-c", "echo from-quiet; sleep 1"]
"#;

/// Attached `up` leaves out the output of `attach: false` services and ends when the
/// attached ones exit; `logs` leaves them out unless they are named; `--attach` names
/// what to print (cmd/compose/up.go and logs.go).
fn attach_false_is_left_out(backend: &'static str) {
    let s = Stack::new(backend, "attachfalse", ATTACH);
    let up = s.ok(&["up", "--no-color"]);
    assert!(up.contains("from-loud"), "{up}");
    assert!(!up.contains("from-quiet"), "{up}");
    // Both ran.
    eventually("quiet's output", || s.logs("quiet").contains("from-quiet"));
    let logs = s.ok(&["logs", "--no-color"]);
    assert!(logs.contains("from-loud") && !logs.contains("from-quiet"), "{logs}");
    let named = s.ok(&["logs", "--no-color", "quiet", "loud"]);
    assert!(named.contains("from-loud") && named.contains("from-quiet"), "{named}");
    // `--attach quiet` prints quiet only and ends when it exits.
    let up = s.ok(&["up", "--no-color", "--attach", "quiet"]);
    assert!(up.contains("from-quiet") && !up.contains("from-loud"), "{up}");
    let bad = s.fails(&["up", "--attach", "nosuch"]);
    assert!(bad.contains("cannot attach to services not included in up: nosuch"), "{bad}");
}

const LABEL_FILE: &str = r#"
services:
  web:
    image: busybox
    command: ["sleep", "300"]
    label_file: [./labels/base.labels, labels/more.labels]
    labels:
      com.example.over: from-yaml
"#;

/// Labels from the files (dotenv syntax: comments, blank lines, `export`, quotes), a later
/// file over an earlier one and `labels:` over both, as compose-go's
/// WithServicesLabelsResolved reads them; seen on the container itself.
fn label_file_labels_the_container(backend: &'static str) {
    let s = Stack::new(backend, "labelfile", LABEL_FILE);
    s.write("labels/base.labels", "# base labels\n\ncom.example.a=one\ncom.example.over=from-file\nexport com.example.b = two words # note\ncom.example.c=base\n");
    s.write("labels/more.labels", "com.example.c=\"more\"\n");
    s.ok(&["up", "-d"]);
    let want = ["com.example.a=one", "com.example.b=two words", "com.example.c=more", "com.example.over=from-yaml"];
    let ps = s.ok(&["ps", "--format", "{{.Labels}}"]);
    for l in want {
        assert!(ps.split(',').any(|x| x.trim() == l), "no {l} in {ps}");
    }
    if backend == "docker" {
        let out = std::process::Command::new("docker").args(["inspect", "-f", "{{json .Config.Labels}}", &s.id("web")]).output().unwrap();
        let labels: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(labels["com.example.b"], "two words");
        assert_eq!(labels["com.example.over"], "from-yaml");
    }
}

/// `privileged: true` runs the hook with every capability. Docker's engine here runs a
/// privileged exec only in a container that has them all; in one that lacks one (this
/// machine's bounding set lacks CAP_SYS_RESOURCE), it refuses with "unable to apply caps",
/// which shows the hook was asked for privileged too.
fn privileged_hooks(backend: &'static str) {
    let s = Stack::new(
        backend,
        "hookpriv",
        "services:\n  web:\n    image: busybox\n    command: [\"sleep\", \"300\"]\n    stop_grace_period: 1s\n    volumes: [marks:/marks]\n    post_start:\n      - command: [\"sh\", \"-c\", \"grep CapEff /proc/self/status | cut -f2 > /marks/post\"]\n        privileged: true\n    pre_stop:\n      - command: [\"sh\", \"-c\", \"grep CapEff /proc/self/status | cut -f2 > /marks/pre\"]\n        privileged: true\nvolumes:\n  marks: {}\n",
    );
    let out = s.hoist(&["up", "-d"]);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if backend == "docker" && !out.status.success() {
        assert!(text.contains("web hook exited with status 126") && text.contains("unable to apply caps"), "{text}");
        return;
    }
    assert!(out.status.success(), "{text}");
    s.ok(&["down"]);
    let all = format!("{}\n", host_capbnd());
    assert_eq!((cat_in_one_off(&s, "web", "/marks/post"), cat_in_one_off(&s, "web", "/marks/pre")), (all.clone(), all));
}

on_both_backends!(
    privileged_hooks,
    post_start_runs_before_dependants,
    failing_post_start_fails_up,
    pre_stop_runs_before_stop_and_down,
    pre_stop_runs_on_scale_down_not_recreate,
    failing_pre_stop_keeps_the_container,
    attach_false_is_left_out,
    label_file_labels_the_container,
);

/// Refused at load with file:line: a missing label file, a bad line in one, a hook
/// without a command or with an unknown key.
#[test]
fn bad_hooks_and_label_files_are_refused_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let config = |compose: &str| {
        std::fs::write(dir.path().join("compose.yaml"), compose).unwrap();
        std::process::Command::new(common::HOIST).args(["config"]).current_dir(dir.path()).output().unwrap()
    };
    let out = config("services:\n  web:\n    image: busybox\n    label_file: ./missing.labels\n");
    common::assert_refused(&out, &["compose.yaml:4", "label file", "missing.labels not found"]);
    std::fs::write(dir.path().join("bad.labels"), "ok=1\nBAD KEY=2\n").unwrap();
    let out = config("services:\n  web:\n    image: busybox\n    label_file: bad.labels\n");
    common::assert_refused(&out, &["bad.labels:2", "invalid variable name"]);
    let out = config("services:\n  web:\n    image: busybox\n    post_start:\n      - user: root\n");
    common::assert_refused(&out, &["compose.yaml:5", "post_start of service \"web\"[0]: `command` is required"]);
    let out = config("services:\n  web:\n    image: busybox\n    pre_stop:\n      - command: [true]\n        tty: true\n");
    common::assert_refused(&out, &["compose.yaml:6", "tty"]);
    let out = config("services:\n  web:\n    image: busybox\n    pre_stop: {command: true}\n");
    common::assert_refused(&out, &["compose.yaml:4", "must be a list"]);
    let out = config("services:\n  web:\n    image: busybox\n    attach: maybe\n");
    common::assert_refused(&out, &["compose.yaml:4", "attach"]);
}
