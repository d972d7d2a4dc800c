//! A project folder with a compose file on one backend, driven through the real binary.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use super::{ensure_busybox, HOIST};

/// A project folder with a compose file, torn down (`down -v`) when dropped.
pub struct Stack {
    pub dir: tempfile::TempDir,
    pub project: String,
    pub backend: &'static str,
}

impl Stack {
    pub fn new(backend: &'static str, name: &str, compose: &str) -> Stack {
        ensure_busybox(backend);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("docker-compose.yml"), compose).unwrap();
        let s = Stack { dir, project: format!("it{}{}", name.replace(['-', '_'], ""), backend), backend };
        s.hoist(&["down", "-v", "-t", "1"]);
        s
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The command line of `hoist ARGS` on this project, to run or spawn.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(HOIST);
        c.args(["--backend", self.backend, "-p", &self.project]).args(args).current_dir(self.path()).env_remove("DOCKER_HOST");
        c
    }

    pub fn hoist(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// Runs and asserts success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.hoist(args);
        assert!(out.status.success(), "hoist {args:?} failed: {}\n{}", String::from_utf8_lossy(&out.stderr), String::from_utf8_lossy(&out.stdout));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs and asserts failure; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.hoist(args);
        assert!(!out.status.success(), "hoist {args:?} should have failed: {}", String::from_utf8_lossy(&out.stdout));
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    pub fn logs(&self, service: &str) -> String {
        self.ok(&["logs", "--no-color", service])
    }

    /// Waits until the service's output contains `text`.
    pub fn wait_log(&self, service: &str, text: &str) -> String {
        let start = Instant::now();
        loop {
            let out = self.logs(service);
            if out.contains(text) {
                return out;
            }
            assert!(start.elapsed() < Duration::from_secs(30), "no {text:?} in the output of {service}:\n{out}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn ps_q(&self, args: &[&str]) -> Vec<String> {
        let mut a = vec!["ps", "-q"];
        a.extend_from_slice(args);
        self.ok(&a).lines().map(String::from).filter(|l| !l.is_empty()).collect()
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = self.hoist(&["down", "-v", "-t", "1"]);
    }
}
