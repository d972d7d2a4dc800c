//! Hostile inputs: bounded work. Devices, FIFOs and oversized files named by a project
//! are refused with a clear error, bad env files are named with their line, and YAML
//! loading stays linear in the number of keys.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Instant;

use crate::common::{assert_refused, HOIST};

fn config(dir: &Path, args: &[&str]) -> Output {
    Command::new(HOIST).args(args).args(["-p", "hostilebounded", "config", "-q"]).current_dir(dir).output().unwrap()
}

#[test]
fn devices_fifos_and_big_files_are_not_read() {
    let t = tempfile::tempdir().unwrap();
    let fifo = t.path().join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let big = t.path().join("big.yml");
    std::fs::write(&big, "#".repeat(33 << 20)).unwrap();
    for (what, body) in [
        ("include", "include:\n  - /dev/zero\nservices: {}\n".to_string()),
        ("env_file", "services:\n  s:\n    image: busybox\n    env_file: /dev/zero\n".into()),
        ("extends", "services:\n  s:\n    extends:\n      file: /dev/zero\n      service: x\n".into()),
        ("fifo", format!("include:\n  - {}\nservices: {{}}\n", fifo.display())),
        ("label_file", "services:\n  s:\n    image: busybox\n    label_file: /dev/zero\n".into()),
        ("label_file fifo", format!("services:\n  s:\n    image: busybox\n    label_file: [{}]\n", fifo.display())),
        ("dir", format!("include:\n  - {}\nservices: {{}}\n", t.path().display())),
    ] {
        std::fs::write(t.path().join("compose.yml"), body).unwrap();
        let started = Instant::now();
        assert_refused(&config(t.path(), &[]), &["only regular files are read"]);
        assert!(started.elapsed().as_secs() < 30, "{what} took {:?}", started.elapsed());
    }
    assert_refused(&config(t.path(), &["-f", big.to_str().unwrap()]), &["larger than 32 MiB"]);
    assert_refused(&config(t.path(), &["--env-file", "/dev/zero"]), &["only regular files are read"]);
}

#[test]
fn bad_env_files_are_named_with_their_line() {
    let t = tempfile::tempdir().unwrap();
    std::fs::write(t.path().join("compose.yml"), "services:\n  s:\n    image: busybox\n").unwrap();
    std::fs::write(t.path().join(".env"), b"A=1\nB=\xff\n").unwrap();
    assert_refused(&config(t.path(), &[]), &[".env:2:3", "invalid UTF-8"]);
    std::fs::write(t.path().join(".env"), b"A=1\nB=x\0y\n").unwrap();
    assert_refused(&config(t.path(), &[]), &[".env:2", "NUL"]);
    std::fs::remove_file(t.path().join(".env")).unwrap();
    for env in ["      A: \"x\\0y\"", "      - \"=x\""] {
        std::fs::write(t.path().join("compose.yml"), format!("services:\n  s:\n    image: busybox\n    environment:\n{env}\n")).unwrap();
        assert_refused(&config(t.path(), &[]), &["compose.yml:4:5", "services.s.environment"]);
    }
}

/// Seconds to load a file of `n` label keys.
fn load_keys(dir: &Path, n: usize) -> f64 {
    let mut s = String::from("services:\n  s:\n    image: busybox\n    labels:\n");
    for i in 0..n {
        s.push_str(&format!("      k{i}: v{i}\n"));
    }
    let over: String = std::iter::once("services:\n  s:\n    labels:\n".to_string()).chain((0..n).map(|i| format!("      k{i}: w{i}\n"))).collect();
    std::fs::write(dir.join("a.yml"), s).unwrap();
    std::fs::write(dir.join("b.yml"), over).unwrap();
    let started = Instant::now();
    let out = config(dir, &["-f", "a.yml", "-f", "b.yml"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    started.elapsed().as_secs_f64()
}

#[test]
fn many_keys_load_in_linear_time() {
    let t = tempfile::tempdir().unwrap();
    // The quadratic loader needed more than 120 s for this file (0.4 s now): a deadline
    // far above the linear cost, so load on the machine cannot fail it. The speed itself
    // is measured in bench/, not here.
    let large = load_keys(t.path(), 120_000);
    assert!(large < 60.0, "120k keys took {large:.1}s");
}
