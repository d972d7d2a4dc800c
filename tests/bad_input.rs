//! The bad-input corpus (tests/bad-input/NNN-name/): each case is a compose file and an
//! `expect` file (`cmd:` the hoist arguments, `error:` fragments the message must hold,
//! `at:` the file:line[:col] it must name, `backends:` for cases that reach an engine).
//! Every case must exit non-zero with those fragments, never panic, and — where it
//! reaches an engine — leave no container behind. Engine cases need root and dockerd.

mod common;

use std::path::Path;
use std::process::Command;

use common::{ensure_busybox, HOIST};

struct Expect {
    cmd: Vec<String>,
    errors: Vec<String>,
    at: Option<String>,
    backends: Vec<String>,
}

fn parse_expect(path: &Path) -> Expect {
    let text = std::fs::read_to_string(path).unwrap();
    let mut e = Expect { cmd: vec![], errors: vec![], at: None, backends: vec![] };
    for line in text.lines() {
        let (k, v) = line.split_once(": ").unwrap_or((line, ""));
        match k {
            "cmd" => e.cmd = shell_words::split(v).unwrap(),
            "error" => e.errors.push(v.to_string()),
            "at" => e.at = Some(v.to_string()),
            "backends" => e.backends = v.split_whitespace().map(String::from).collect(),
            _ => panic!("{}: unknown line {line:?}", path.display()),
        }
    }
    e
}

/// Runs one case; returns a description of what went wrong, if anything.
fn check(dir: &Path, backend: Option<&str>, taken_port: u16) -> Option<String> {
    let e = parse_expect(&dir.join("expect"));
    let name = dir.file_name().unwrap().to_string_lossy().to_string();
    let mut cmd = Command::new(HOIST);
    let project = format!("bad{}{}", &name[..3], backend.unwrap_or(""));
    if let Some(b) = backend {
        cmd.args(["--backend", b, "-p", &project]);
    }
    let out = cmd
        .args(&e.cmd)
        .current_dir(dir)
        .env_remove("DOCKER_HOST")
        .env_remove("COMPOSE_FILE")
        .env_remove("COMPOSE_PROJECT_NAME")
        .env("TAKEN_PORT", taken_port.to_string())
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stderr), String::from_utf8_lossy(&out.stdout));
    let mut problems = Vec::new();
    if out.status.success() {
        problems.push("exited 0".to_string());
    }
    if text.contains("panicked") {
        problems.push("panicked".to_string());
    }
    for frag in e.errors.iter().chain(e.at.iter()) {
        if !text.contains(frag.as_str()) {
            problems.push(format!("no {frag:?}"));
        }
    }
    if let Some(b) = backend {
        let ps = Command::new(HOIST).args(["--backend", b, "-p", &project, "ps", "-a", "-q"]).current_dir(dir).output().unwrap();
        if !String::from_utf8_lossy(&ps.stdout).trim().is_empty() {
            problems.push("containers were left behind".to_string());
        }
        let _ = Command::new(HOIST).args(["--backend", b, "-p", &project, "down", "-v", "-t", "0"]).current_dir(dir).output();
    }
    (!problems.is_empty()).then(|| format!("{name}{}: {} — output:\n{text}", backend.map(|b| format!(" [{b}]")).unwrap_or_default(), problems.join(", ")))
}

fn cases() -> Vec<std::path::PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad-input");
    let mut dirs: Vec<_> = std::fs::read_dir(root).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    dirs
}

#[test]
fn corpus_is_large_enough() {
    assert!(cases().len() >= 100, "only {} cases", cases().len());
}

#[test]
fn every_file_case_fails_cleanly() {
    let failures: Vec<String> = cases()
        .iter()
        .filter(|d| parse_expect(&d.join("expect")).backends.is_empty())
        .filter_map(|d| check(d, None, 0))
        .collect();
    assert!(failures.is_empty(), "{} case(s) failed:\n{}", failures.len(), failures.join("\n"));
}

fn engine_cases(backend: &'static str) {
    ensure_busybox(backend);
    let held = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = held.local_addr().unwrap().port();
    let failures: Vec<String> = cases()
        .iter()
        .filter(|d| parse_expect(&d.join("expect")).backends.iter().any(|b| b == backend))
        .filter_map(|d| check(d, Some(backend), port))
        .collect();
    assert!(failures.is_empty(), "{} case(s) failed:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn engine_cases_docker() {
    engine_cases("docker");
}

#[test]
fn engine_cases_builtin() {
    engine_cases("builtin");
}
