//! Faults: `hoist up` of a 20-service stack killed with SIGKILL at random moments; each
//! time the next `up` converges to the full stack, named-volume data survives, and
//! `down -v` at the end leaves nothing behind (containers, mounts, supervisors, cgroups,
//! state directories, volumes). On both backends; needs root and, for Docker, dockerd.
//! `HOIST_FAULT_ROUNDS` sets the number of kills (default 8 per backend in CI).
//! Also: a container flooding its log, a container's main process killed from the host,
//! and (Docker) dockerd restarted in the middle of `up` — each with named-volume data
//! written before the fault checked afterwards.

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

/// Docker tests of this file take it: one of them restarts dockerd.
static DOCKERD: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn docker_guard(backend: &str) -> Option<std::sync::MutexGuard<'static, ()>> {
    (backend == "docker").then(|| DOCKERD.lock().unwrap_or_else(|e| e.into_inner()))
}

fn project(backend: &'static str, name: &str, compose: &str) -> Project {
    ensure_busybox(backend);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("compose.yaml"), compose).unwrap();
    let p = Project { dir, name: format!("{name}{backend}"), backend };
    let _ = p.cmd(&["down", "-v", "-t", "1"]).output();
    p
}

fn kill_up_repeatedly(backend: &'static str) {
    let _guard = docker_guard(backend);
    let p = project(backend, "itfaults", &compose());

    // Data written before the faults.
    p.ok(&["up", "-d", "s0"]);
    p.ok(&["exec", "-T", "s0", "sh", "-c", "echo precious > /keep/data"]);

    let rounds: u64 = std::env::var("HOIST_FAULT_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(8);
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
    // Creates cut short by the kills: no directory without a record whose creator is gone,
    // and no network namespace without its container.
    for e in std::fs::read_dir(format!("{root}/containers")).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || e.path().join("config.json").exists() {
            continue;
        }
        // Allowed: empty, from a kill between its mkdir and its claim (collected once a
        // minute old). Anything else is collected by `down`.
        let empty = std::fs::read_dir(e.path()).map(|mut d| d.next().is_none()).unwrap_or(true);
        assert!(empty, "half-created container {name} left");
    }
    for e in std::fs::read_dir(format!("{root}/netns")).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        assert!(std::path::Path::new(&format!("{root}/containers/{name}")).exists(), "network namespace {name} left");
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

const FLOOD_LINES: usize = 200_000;

/// A container printing 200,000 lines as fast as it can exits on its own (the log writer
/// never blocks it), and `logs` returns every line, in order.
fn log_flood(backend: &'static str) {
    let _guard = docker_guard(backend);
    let yaml = format!(
        "services:\n  flood:\n    image: busybox:latest\n    volumes: [\"keep:/keep\"]\n    command: [\"sh\", \"-c\", \"echo precious > /keep/data; seq 1 {FLOOD_LINES}\"]\nvolumes:\n  keep:\n"
    );
    let p = project(backend, "itflood", &yaml);
    p.ok(&["up", "-d"]);
    let deadline = Instant::now() + Duration::from_secs(120);
    while !p.ok(&["ps", "-a", "--format", "{{.State}}"]).contains("exited") {
        assert!(Instant::now() < deadline, "the flooding container did not finish");
        std::thread::sleep(Duration::from_millis(200));
    }
    let logs = p.ok(&["logs", "--no-color", "--no-log-prefix", "flood"]);
    let lines: Vec<&str> = logs.lines().collect();
    assert_eq!(lines.len(), FLOOD_LINES, "lines lost or added");
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(line.trim_end_matches('\r'), (i + 1).to_string(), "line {} out of order", i + 1);
    }
    let tail = p.ok(&["logs", "--no-color", "--no-log-prefix", "--tail", "2", "flood"]);
    assert_eq!(tail.lines().collect::<Vec<_>>(), [format!("{}", FLOOD_LINES - 1), FLOOD_LINES.to_string()]);
    let data = p.ok(&["run", "--rm", "-T", "flood", "cat", "/keep/data"]);
    assert_eq!(data.trim(), "precious", "volume data lost");
}

/// The host PID of the service's main process, from `hoist top`; None while the engine
/// cannot list it (Docker refuses `top` on a container waiting to restart).
fn main_pid(p: &Project) -> Option<String> {
    let out = p.cmd(&["top"]).output().unwrap();
    if !out.status.success() {
        return None;
    }
    let top = String::from_utf8_lossy(&out.stdout);
    let mut header = None;
    for line in top.lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        match header {
            None => header = cols.iter().position(|c| *c == "PID"),
            Some(i) if line.contains("sleep") => return cols.get(i).map(|s| s.to_string()),
            _ => {}
        }
    }
    None
}

/// Killing a container's main process from the host: the restart policy brings it back
/// and the volume data is still there.
fn container_process_killed(backend: &'static str) {
    let _guard = docker_guard(backend);
    let yaml = "services:\n  app:\n    image: busybox:latest\n    restart: always\n    volumes: [\"keep:/keep\"]\n    command: [\"sleep\", \"3600\"]\nvolumes:\n  keep:\n";
    let p = project(backend, "itkilled", yaml);
    p.ok(&["up", "-d"]);
    p.ok(&["exec", "-T", "app", "sh", "-c", "echo precious > /keep/data"]);
    let first = main_pid(&p).expect("no sleep process in `hoist top`");
    assert!(Command::new("kill").args(["-9", &first]).status().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(pid) = main_pid(&p).filter(|pid| *pid != first) {
            assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
            break;
        }
        assert!(Instant::now() < deadline, "the killed container was not restarted");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(p.ok(&["exec", "-T", "app", "cat", "/keep/data"]).trim(), "precious", "volume data lost");
}

fn docker_running() -> bool {
    Command::new("docker").arg("info").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

/// Starts dockerd again if a test stopped it (also when the test fails).
struct Dockerd;

impl Dockerd {
    fn restart() {
        let _ = Command::new("pkill").args(["-TERM", "-x", "dockerd"]).status();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Command::new("pgrep").args(["-x", "dockerd"]).stdout(Stdio::null()).status().is_ok_and(|s| s.success()) {
            assert!(Instant::now() < deadline, "dockerd did not stop");
            std::thread::sleep(Duration::from_millis(100));
        }
        Self::start();
    }

    fn start() {
        if docker_running() {
            return;
        }
        let log = std::fs::OpenOptions::new().create(true).append(true).open("/tmp/hoist-ci-dockerd.log").unwrap();
        // dockerd outlives the test on purpose (the machine's engine): never waited for.
        #[allow(clippy::zombie_processes)]
        Command::new("dockerd").stdout(log.try_clone().unwrap()).stderr(log).stdin(Stdio::null()).spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while !docker_running() {
            assert!(Instant::now() < deadline, "dockerd did not come back");
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        Self::start();
    }
}

#[test]
fn builtin_log_flood() {
    log_flood("builtin");
}

#[test]
fn docker_log_flood() {
    log_flood("docker");
}

#[test]
fn builtin_container_process_killed() {
    container_process_killed("builtin");
}

#[test]
fn docker_container_process_killed() {
    container_process_killed("docker");
}

/// dockerd restarted while `up` runs: `up` fails with a clear error (or finishes), no
/// panic; once the engine is back, `up` converges, the volume data is intact and
/// `down -v` leaves nothing. Restarts the machine's dockerd, so it holds the file's lock.
#[test]
fn docker_restart_during_up() {
    let _guard = docker_guard("docker");
    let p = project("docker", "itdockerd", &compose());
    p.ok(&["up", "-d", "s0"]);
    p.ok(&["exec", "-T", "s0", "sh", "-c", "echo precious > /keep/data"]);
    let _restore = Dockerd;
    let child = p.cmd(&["up", "-d"]).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    Dockerd::restart();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    if !out.status.success() {
        assert!(err.to_lowercase().contains("docker"), "unclear error when dockerd went away: {err}");
    }
    p.ok(&["up", "-d"]);
    assert_eq!(p.ok(&["ps", "-q"]).lines().filter(|l| !l.is_empty()).count(), SERVICES);
    assert_eq!(p.ok(&["exec", "-T", "s0", "cat", "/keep/data"]).trim(), "precious", "volume data lost");
    p.ok(&["down", "-v", "-t", "1"]);
    assert_docker_clean(&p.name);
}
