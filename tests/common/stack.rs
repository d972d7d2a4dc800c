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
    /// Extra environment for every `hoist` run (`set_env`).
    env: std::cell::RefCell<Vec<(String, String)>>,
}

impl Stack {
    pub fn new(backend: &'static str, name: &str, compose: &str) -> Stack {
        ensure_busybox(backend);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("docker-compose.yml"), compose).unwrap();
        let s = Stack { dir, project: format!("it{}{}", name.replace(['-', '_'], ""), backend), backend, env: Default::default() };
        s.hoist(&["down", "-v", "-t", "1"]);
        s
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file of the project folder (its folders made as needed).
    pub fn write(&self, rel: &str, content: &str) {
        let p = self.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }

    /// Sets a variable in the environment of the next `hoist` runs.
    pub fn set_env(&self, key: &str, value: &str) {
        let mut env = self.env.borrow_mut();
        env.retain(|(k, _)| k != key);
        env.push((key.to_string(), value.to_string()));
    }

    /// The command line of `hoist ARGS` on this project, to run or spawn.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(HOIST);
        c.args(["--backend", self.backend, "-p", &self.project]).args(args).current_dir(self.path()).env_remove("DOCKER_HOST");
        c.envs(self.env.borrow().iter().map(|(k, v)| (k, v)));
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

    /// `cat` of a file in the service's first container (None when it is not there).
    pub fn cat(&self, service: &str, path: &str) -> Option<String> {
        let out = self.hoist(&["exec", "-T", service, "cat", path]);
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The id of the service's first container.
    pub fn id(&self, service: &str) -> String {
        self.ok(&["ps", "-q", service]).lines().next().unwrap_or_default().trim().to_string()
    }

    pub fn ps_q(&self, args: &[&str]) -> Vec<String> {
        let mut a = vec!["ps", "-q"];
        a.extend_from_slice(args);
        self.ok(&a).lines().map(String::from).filter(|l| !l.is_empty()).collect()
    }

    /// docker-compose 1.29, the reference, on the same folder under `<project>ref`
    /// (asserted to succeed): its stdout, trimmed.
    #[allow(dead_code)]
    pub fn reference(&self, args: &[&str]) -> String {
        let out = Command::new("docker-compose")
            .args(["-p", &format!("{}ref", self.project)])
            .args(args)
            .current_dir(self.path())
            .output()
            .expect("docker-compose 1.29 is needed for this test (tests/setup.sh installs it)");
        assert!(out.status.success(), "docker-compose {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = self.hoist(&["down", "-v", "-t", "1"]);
    }
}
