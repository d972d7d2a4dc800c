//! `logging:` does what Docker Compose does: json-file rotation by max-size/max-file (the
//! engine's files on Docker, the built-in runtime's own `log.jsonl` files), driver `none`
//! (no file, `logs` warns as Compose does), unknown drivers and bad options refused.
//! Needs root, dockerd, the docker CLI and docker-compose 1.29 (the reference).

#[macro_use]
mod common;

use std::path::PathBuf;
use std::process::Command;

use common::stack::Stack;

const LINES: usize = 3000;

/// A service that prints LINES numbered lines of ~100 bytes (~300 KB) and exits.
fn printer(logging: &str) -> String {
    format!(
        r#"services:
  job:
    image: busybox
    command: ["sh", "-c", "i=0; while [ $$i -lt {LINES} ]; do printf 'line %05d 0123456789012345678901234567890123456789012345678901234567890123456789012345678901234\n' $$i; i=$$((i+1)); done"]
{logging}"#
    )
}

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().expect("the docker CLI is needed for this test");
    assert!(out.status.success(), "docker {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The files holding the container's log: the built-in runtime's `log.jsonl*` in its
/// container directory, the engine's `<LogPath>*` on Docker.
fn log_files(s: &Stack, id: &str) -> Vec<PathBuf> {
    let (dir, prefix) = if s.backend == "docker" {
        let path = PathBuf::from(docker(&["inspect", "-f", "{{.LogPath}}", id]));
        if path.as_os_str().is_empty() {
            return vec![];
        }
        (path.parent().unwrap().to_path_buf(), path.file_name().unwrap().to_string_lossy().into_owned())
    } else {
        let root = PathBuf::from(std::env::var("HOIST_ROOT").unwrap_or_else(|_| "/var/lib/hoist".into())).join("containers");
        let dir = std::fs::read_dir(&root).unwrap().flatten().map(|e| e.path()).find(|p| p.file_name().unwrap().to_string_lossy().starts_with(id)).expect("the container's directory");
        (dir, "log.jsonl".to_string())
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.path()).filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(&prefix)).collect();
    files.sort();
    files
}

/// `up -d`, then waits for the one-shot `job` to exit: its id and log files.
fn run_job(s: &Stack) -> (String, Vec<PathBuf>) {
    s.ok(&["up", "-d"]);
    let out = s.hoist(&["wait", "job"]);
    assert!(out.status.success(), "wait: {}", String::from_utf8_lossy(&out.stderr));
    let id = s.ps_q(&["-a", "job"]).remove(0);
    let files = log_files(s, &id);
    (id, files)
}

fn rotation_keeps_the_newest_lines_in_order(backend: &'static str) {
    let s = Stack::new(backend, "logrotate", &printer("    logging:\n      driver: json-file\n      options:\n        max-size: 100k\n        max-file: \"2\"\n"));
    let (_, files) = run_job(&s);
    assert_eq!(files.len(), 2, "rotated to 2 files: {files:?}");
    for f in &files {
        let size = std::fs::metadata(f).unwrap().len();
        // A file rotates once it reaches max-size: it may pass it by one entry.
        assert!(size <= 100_000 + 512, "{} has {size} bytes", f.display());
    }
    let logs = s.ok(&["logs", "--no-color", "--no-log-prefix", "job"]);
    let numbers: Vec<usize> = logs.lines().map(|l| l.split(' ').nth(1).and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("odd line {l:?}"))).collect();
    assert_eq!(numbers.last(), Some(&(LINES - 1)), "the newest line is kept");
    assert!(numbers.len() < LINES / 2, "older lines were dropped with their file: {} kept", numbers.len());
    let first = numbers[0];
    assert_eq!(numbers, (first..LINES).collect::<Vec<_>>(), "in order, without gaps or duplicates");
    let tail = s.ok(&["logs", "--no-color", "--no-log-prefix", "--tail", "3", "job"]);
    assert_eq!(tail.lines().count(), 3);
    assert!(tail.lines().last().unwrap().starts_with(&format!("line {:05}", LINES - 1)), "{tail}");
}

fn driver_none_keeps_nothing_and_logs_warns(backend: &'static str) {
    let s = Stack::new(backend, "lognone", "services:\n  job:\n    image: busybox\n    command: [\"echo\", \"hello-none\"]\n    logging:\n      driver: none\n");
    let (id, files) = run_job(&s);
    assert_eq!(files, Vec::<PathBuf>::new(), "no log file is kept");
    if backend == "docker" {
        assert_eq!(docker(&["inspect", "-f", "{{.HostConfig.LogConfig.Type}}", &id]), "none");
    }
    // As Docker Compose v2: a warning naming the container, exit status 0.
    let out = s.hoist(&["logs", "--no-color", "job"]);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "logs failed: {stderr}");
    assert!(!stdout.contains("hello-none"), "{stdout}");
    assert!(stderr.contains(&format!("Can't retrieve logs for \"{}-job-1\"", s.project)) && stderr.contains("configured logging driver does not support reading"), "{stderr}");
    // `logs -f` gives the same warning and goes on following (the container may start
    // again): it is stopped here once the warning is seen.
    let mut child = s.command(&["logs", "-f", "--no-color", "job"]).stderr(std::process::Stdio::piped()).stdout(std::process::Stdio::null()).spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)).map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let warned = rx.recv_timeout(std::time::Duration::from_secs(30));
    let running = child.try_wait().unwrap().is_none();
    let _ = child.kill();
    let _ = child.wait();
    assert!(warned.as_deref().is_ok_and(|l| l.contains("does not support reading")), "{warned:?}");
    assert!(running, "logs -f exited after the warning");
}

/// The v1 spellings `log_driver` and `log_opt` are `logging`: rotation by size, as above.
fn legacy_log_driver_and_log_opt(backend: &'static str) {
    let s = Stack::new(
        backend,
        "loglegacy",
        "job:\n  image: busybox\n  command: [\"sh\", \"-c\", \"for i in $$(seq 1 3000); do echo line-$$i-padding-padding-padding; done\"]\n  log_driver: json-file\n  log_opt:\n    max-size: 20k\n    max-file: \"2\"\n",
    );
    let (_, files) = run_job(&s);
    assert_eq!(files.len(), 2, "rotated to 2 files: {files:?}");
    let logs = s.ok(&["logs", "--no-color", "--no-log-prefix", "job"]);
    assert!(logs.ends_with("line-3000-padding-padding-padding\n") && !logs.contains("line-1-padding"), "{}", &logs[logs.len().saturating_sub(200)..]);
}

fn unknown_driver_is_refused(backend: &'static str) {
    let s = Stack::new(backend, "logbogus", "services:\n  job:\n    image: busybox\n    command: [\"true\"]\n    logging:\n      driver: bogus-driver\n");
    let err = s.fails(&["up", "-d"]);
    if backend == "docker" {
        // The engine's own error.
        assert!(err.contains("bogus-driver") && err.contains("not found"), "{err}");
    } else {
        assert!(err.contains("docker-compose.yml:6") && err.contains("refused by the built-in runtime") && err.contains("json-file, local and none"), "{err}");
        assert_eq!(s.ps_q(&["-a"]), Vec::<String>::new(), "nothing created");
    }
}

fn bad_options_are_refused_with_their_line(backend: &'static str) {
    let cases = [
        ("max-size: 10x", "invalid size \"10x\""),
        ("max-size: \"0\"", "max-size must be a positive number"),
        ("max-file: 0", "max-file must be at least 1"),
        ("max-file: many", "\"many\" is not a number of files"),
        ("max-file: [2]", "must be a string or a number"),
        ("compress: maybe", "not a boolean"),
        ("frequency: 1h", "unknown option \"frequency\" for the json-file driver"),
    ];
    for (option, message) in cases {
        let s = Stack::new(backend, "logbadopt", &format!("services:\n  job:\n    image: busybox\n    logging:\n      options:\n        {option}\n"));
        let out = s.hoist(&["up", "-d"]);
        common::assert_refused(&out, &["docker-compose.yml:6", message]);
        // `ps` reads the file too (and refuses it, as Compose): ask with a good one.
        s.write("docker-compose.yml", "services:\n  job:\n    image: busybox\n");
        assert_eq!(s.ps_q(&["-a"]), Vec::<String>::new(), "nothing created for {option}");
    }
}

on_both_backends!(rotation_keeps_the_newest_lines_in_order, legacy_log_driver_and_log_opt, driver_none_keeps_nothing_and_logs_warns, unknown_driver_is_refused, bad_options_are_refused_with_their_line);

/// HostConfig.LogConfig as docker-compose 1.29 sets it for the same file (v1's
/// `log_driver`/`log_opt` included).
#[test]
fn docker_log_config_is_what_compose_sets() {
    let files = [
        // Quoted: docker-compose 1.29 sends a number as a number, which the engine refuses
        // (hoist, as Compose v2, takes `max-file: 3` too).
        "services:\n  job:\n    image: busybox\n    command: [\"true\"]\n    logging:\n      driver: local\n      options:\n        max-size: 1m\n        max-file: \"3\"\n",
        "services:\n  job:\n    image: busybox\n    command: [\"true\"]\n    logging:\n      options:\n        max-size: 10k\n",
        "services:\n  job:\n    image: busybox\n    command: [\"true\"]\n",
        "job:\n  image: busybox\n  command: [\"true\"]\n  log_driver: json-file\n  log_opt:\n    max-file: \"4\"\n    max-size: 20k\n",
    ];
    for (i, file) in files.iter().enumerate() {
        let s = Stack::new("docker", &format!("logcfg{i}"), file);
        s.ok(&["up", "-d"]);
        let ours = docker(&["inspect", "-f", "{{json .HostConfig.LogConfig}}", &s.ps_q(&["-a", "job"])[0]]);
        s.ok(&["down", "-t", "1"]);
        s.reference(&["up", "-d"]);
        let theirs = docker(&["inspect", "-f", "{{json .HostConfig.LogConfig}}", &s.reference(&["ps", "-q", "job"])]);
        s.reference(&["down", "-t", "1"]);
        assert_eq!(ours, theirs, "file {i}:\n{file}");
    }
}
