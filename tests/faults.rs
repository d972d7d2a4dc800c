//! Faults: `hoist up` of a 20-service stack killed with SIGKILL at random moments; each
//! time the next `up` converges to the full stack, named-volume data survives, and
//! `down -v` at the end leaves nothing behind (containers, mounts, supervisors, cgroups,
//! state directories, volumes). On both backends; needs root and, for Docker, dockerd.
//! `HOIST_FAULT_ROUNDS` sets the number of kills (default 12 per backend).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::{ensure_busybox, HOIST};

const SERVICES: usize = 20;

fn compose() -> String {
    let mut s = String::from("services:\n");
    for i in 0..SERVICES {
        s.push_str(&format!("  s{i}:\n    image: busybox:latest\n    init: true\n    command: sleep 3600\n"));
        if i == 0 {
            s.push_str("    volumes: [\"keep:/keep\"]\n");
        } else if i % 5 == 0 {
            s.push_str(&format!("    depends_on: [s{}]\n", i - 5));
        }
    }
    s.push_str("volumes:\n  keep:\n");
    s
}

struct Project {
    dir: tempfile::TempDir,
    name: String,
    backend: &'static str,
}

impl Project {
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(HOIST);
        c.args(["--backend", self.backend, "-p", &self.name]).args(args).current_dir(self.dir.path()).env_remove("DOCKER_HOST");
        c
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd(args).output().unwrap();
        assert!(out.status.success(), "hoist {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn ids(&self) -> Vec<String> {
        self.ok(&["ps", "-a", "-q"]).lines().filter(|l| !l.is_empty()).map(String::from).collect()
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = self.cmd(&["down", "-v", "-t", "1"]).output();
    }
}

/// A small deterministic generator: the same kill moments on every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

fn kill_up_repeatedly(backend: &'static str) {
    ensure_busybox(backend);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("compose.yaml"), compose()).unwrap();
    let p = Project { dir, name: format!("itfaults{backend}"), backend };
    let _ = p.cmd(&["down", "-v", "-t", "1"]).output();

    // Data written before the faults.
    p.ok(&["up", "-d", "s0"]);
    p.ok(&["exec", "-T", "s0", "sh", "-c", "echo precious > /keep/data"]);

    let rounds: u64 = std::env::var("HOIST_FAULT_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(12);
    let mut rng = Lcg(0x5eed ^ backend.len() as u64);
    let mut seen_ids = Vec::new();
    for round in 0..rounds {
        // Every third round starts from an empty project (containers removed, volume kept).
        if round % 3 == 2 {
            p.ok(&["down", "-t", "1"]);
        }
        let mut child = p.cmd(&["up", "-d"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(rng.next(1500)));
        let _ = child.kill();
        let _ = child.wait();
        let start = Instant::now();
        p.ok(&["up", "-d"]);
        let running = p.ok(&["ps", "-q"]).lines().filter(|l| !l.is_empty()).count();
        assert_eq!(running, SERVICES, "round {round}: up after a kill did not converge");
        assert!(start.elapsed() < Duration::from_secs(120));
        let all = p.ids();
        assert_eq!(all.len(), SERVICES, "round {round}: stray containers after a kill: {all:?}");
        seen_ids.extend(all);
    }
    assert_eq!(p.ok(&["exec", "-T", "s0", "cat", "/keep/data"]).trim(), "precious", "volume data lost");
    p.ok(&["down", "-v", "-t", "1"]);
    assert!(p.ids().is_empty());
    seen_ids.sort();
    seen_ids.dedup();
    if backend == "builtin" {
        assert_builtin_clean(&p.name, &seen_ids);
    } else {
        assert_docker_clean(&p.name);
    }
}

/// Nothing of the project's containers is left on the host.
fn assert_builtin_clean(project: &str, ids: &[String]) {
    let root = std::env::var("HOIST_ROOT").unwrap_or_else(|_| "/var/lib/hoist".into());
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let cmdlines: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .collect();
    for id in ids {
        let full = std::fs::read_dir(format!("{root}/containers")).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).find(|n| n.starts_with(id.as_str()));
        assert!(full.is_none(), "state directory of {id} left");
        assert!(!mounts.contains(id.as_str()), "a mount of {id} left");
        assert!(!cmdlines.iter().any(|c| c.contains("__supervise") && c.contains(id.as_str())), "supervisor of {id} left");
        for cg in ["/sys/fs/cgroup/hoist", "/sys/fs/cgroup/pids/hoist", "/sys/fs/cgroup/memory/hoist"] {
            if let Ok(entries) = std::fs::read_dir(cg) {
                assert!(!entries.flatten().any(|e| e.file_name().to_string_lossy().starts_with(id.as_str())), "cgroup {cg}/{id} left");
            }
        }
    }
    let volumes = std::fs::read_dir(format!("{root}/volumes")).map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect::<Vec<_>>()).unwrap_or_default();
    assert!(!volumes.iter().any(|v| v.starts_with(&format!("{project}_"))), "volumes left: {volumes:?}");
}

fn assert_docker_clean(project: &str) {
    let label = format!("label=com.docker.compose.project={project}");
    for what in [&["ps", "-aq", "--filter"][..], &["network", "ls", "-q", "--filter"], &["volume", "ls", "-q", "--filter"]] {
        let out = Command::new("docker").args(what).arg(&label).output().unwrap();
        assert!(String::from_utf8_lossy(&out.stdout).trim().is_empty(), "docker {what:?} left: {}", String::from_utf8_lossy(&out.stdout));
    }
}

#[test]
fn builtin_kill_during_up() {
    kill_up_repeatedly("builtin");
}

#[test]
fn docker_kill_during_up() {
    kill_up_repeatedly("docker");
}
