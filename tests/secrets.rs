//! Services' `secrets:` and `configs:` on both backends: file, environment and content
//! sources, targets, read-only mounts, the written files' modes, recreation on change,
//! and the refusals (undefined, external). Needs root and, for Docker, a running dockerd.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

#[macro_use]
mod common;

use common::{ensure_busybox, HOIST};

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

struct Stack {
    dir: tempfile::TempDir,
    project: String,
    backend: &'static str,
}

impl Stack {
    fn new(backend: &'static str, name: &str, compose: &str) -> Stack {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("docker-compose.yml"), compose).unwrap();
        let s = Stack { dir, project: format!("itsec{name}{backend}"), backend };
        s.hoist(&["down", "-t", "1"], "");
        s
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn hoist(&self, args: &[&str], secret: &str) -> Output {
        Command::new(HOIST)
            .args(["--backend", self.backend, "-p", &self.project])
            .args(args)
            .current_dir(self.path())
            .env_remove("DOCKER_HOST")
            .env("HOIST_IT_SECRET", secret)
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str], secret: &str) -> String {
        let out = self.hoist(args, secret);
        assert!(out.status.success(), "hoist {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn fails(&self, args: &[&str]) -> String {
        let out = self.hoist(args, "");
        assert!(!out.status.success(), "hoist {args:?} should have failed: {}", String::from_utf8_lossy(&out.stdout));
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// Waits until the service's output has `text` and "done"; returns it.
    fn wait_log(&self, text: &str) -> String {
        let start = Instant::now();
        loop {
            let out = self.ok(&["logs", "--no-color", "app"], "");
            if out.contains(text) && out.contains("done") {
                return out;
            }
            assert!(start.elapsed() < Duration::from_secs(20), "no {text:?} in the output:\n{out}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = self.hoist(&["down", "-t", "1"], "");
    }
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).permissions().mode() & 0o7777
}

fn secrets_and_configs_reach_the_container(b: &'static str) {
    ensure_busybox(b);
    let s = Stack::new(b, "mount", COMPOSE);
    std::fs::write(s.path().join("token.txt"), "from-file").unwrap();
    s.ok(&["up", "-d"], "from-env");
    let out = s.wait_log("file=from-file env=from-env conf=k=v");
    assert!(out.contains("S-READONLY") && out.contains("C-READONLY"), "a secret or config was writable:\n{out}");

    let runtime = Path::new("/run/hoist").join(&s.project);
    let dir = runtime.join("secrets/app");
    assert_eq!(mode(&dir.join("envsec")), 0o400);
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&runtime.join("secrets")), 0o700);
    assert_eq!(mode(&runtime.join("configs/app/conf")), 0o444);

    // A changed value recreates the container; the same one does not.
    let id = s.ok(&["ps", "-q"], "");
    s.ok(&["up", "-d"], "from-env");
    assert_eq!(s.ok(&["ps", "-q"], ""), id, "an unchanged secret recreated the container");
    s.ok(&["up", "-d"], "changed");
    assert_ne!(s.ok(&["ps", "-q"], ""), id, "a changed secret kept the container");
    s.wait_log("env=changed");

    s.ok(&["down", "-t", "1"], "");
    assert!(!runtime.join("secrets").exists(), "down left the written secrets");
}

on_both_backends!(secrets_and_configs_reach_the_container);

#[test]
fn undefined_secret_is_a_validation_error_with_its_line() {
    let s = Stack::new("builtin", "undef", "services:\n  app:\n    image: busybox:latest\n    secrets:\n      - nope\n");
    let err = s.fails(&["config"]);
    assert!(err.contains("undefined secret \"nope\""), "{err}");
    assert!(err.contains("docker-compose.yml:4"), "no file:line in {err}");
}

#[test]
fn external_secret_is_refused_before_anything_is_created() {
    ensure_busybox("builtin");
    let compose = "services:\n  app:\n    image: busybox:latest\n    secrets: [token]\nsecrets:\n  token:\n    external: true\n";
    let s = Stack::new("builtin", "ext", compose);
    let err = s.fails(&["up", "-d"]);
    assert!(err.contains("service \"app\"") && err.contains("secret \"token\"") && err.contains("external"), "{err}");
    assert_eq!(s.ok(&["ps", "-a", "-q"], ""), "", "a container was created");
}
