//! The realistic stack of examples/real-stack (PostgreSQL with a named volume and a
//! healthcheck, Redis, a Flask app, all built FROM debian:bookworm) on both backends,
//! held to what Docker Compose does. Needs root, mmdebstrap and Debian's mirror (the
//! first run makes the base image: about a minute, then cached), curl, tmux and dockerd.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

#[macro_use]
mod common;

use common::stack::Stack;
use common::HOIST;
use common::tmux::Tmux;

fn example_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/real-stack")
}

/// Makes debian:bookworm in the backend (examples/real-stack/make-images.sh) and builds
/// the stack's images once, so that the tests, running side by side, do not each fetch
/// the packages: their own builds are then cache hits.
fn ensure_images(backend: &'static str) {
    static DOCKER: OnceLock<()> = OnceLock::new();
    static BUILTIN: OnceLock<()> = OnceLock::new();
    let cell = if backend == "docker" { &DOCKER } else { &BUILTIN };
    cell.get_or_init(|| {
        let out = Command::new(example_dir().join("make-images.sh")).arg(backend).env("HOIST", HOIST).output().unwrap();
        assert!(out.status.success(), "make-images.sh {backend} failed:\n{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        real_stack(backend, "warm", 0).ok(&["build"]);
    });
}

/// A copy of examples/real-stack as project `itrealstack<name><backend>`, its web app on
/// a port of its own (the same test runs on both backends at once).
fn real_stack(backend: &'static str, name: &str, port_slot: u16) -> Stack {
    let compose = std::fs::read_to_string(example_dir().join("docker-compose.yml")).unwrap();
    let s = Stack::new(backend, &format!("realstack{name}"), &compose);
    let copied = Command::new("cp").arg("-a").arg(example_dir().join(".")).arg(s.path()).status().unwrap();
    assert!(copied.success());
    let port = 18410 + 2 * port_slot + u16::from(backend == "docker");
    s.set_env("WEB_PORT", &port.to_string());
    s
}

fn up_ready(backend: &'static str, name: &str, port_slot: u16) -> Stack {
    ensure_images(backend);
    let s = real_stack(backend, name, port_slot);
    let out = within(&s, &["up", "-d", "--build", "--wait"], Duration::from_secs(180));
    assert!(out.status.success(), "up failed: {}", String::from_utf8_lossy(&out.stderr));
    s
}

/// Runs `hoist ARGS`, failing the test (not hanging it) when it takes longer than `limit`.
fn within(s: &Stack, args: &[&str], limit: Duration) -> std::process::Output {
    let start = Instant::now();
    let mut child = s.command(args).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("hoist {args:?} still running after {limit:?}:\n{}", String::from_utf8_lossy(&out.stderr));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.wait_with_output().unwrap()
}

fn web_port(s: &Stack) -> String {
    s.ok(&["port", "web", "8000"]).trim().rsplit(':').next().unwrap().to_string()
}

/// The web page, asked until it answers (at most 60 s).
fn page(s: &Stack) -> String {
    let url = format!("http://127.0.0.1:{}/", web_port(s));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = Command::new("curl").args(["-fsS", "-m", "5", &url]).output().expect("curl is installed");
        if out.status.success() {
            return String::from_utf8_lossy(&out.stdout).into_owned();
        }
        assert!(Instant::now() < deadline, "{url} did not answer: {}\n{}", String::from_utf8_lossy(&out.stderr), String::from_utf8_lossy(&s.hoist(&["logs", "--no-color", "--tail", "20"]).stdout));
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn psql(s: &Stack, sql: &str) -> String {
    s.ok(&["exec", "-T", "db", "psql", "-U", "app", "-d", "app", "-v", "ON_ERROR_STOP=1", "-tAc", sql]).trim().to_string()
}

fn sh(s: &Stack, service: &str, script: &str) -> String {
    s.ok(&["exec", "-T", service, "sh", "-c", script]).trim().to_string()
}

/// First start: the named volumes are seeded from the images (owner and mode of the
/// image's directory, as Docker does for an empty named volume), initdb runs once and
/// the init script's row is served; data (a row, the hit counter) survives `down` and
/// `up`; `down -v` then leaves nothing behind.
fn first_start_data_kept_and_down_v(b: &'static str) {
    let s = up_ready(b, "life", 0);
    assert_eq!(sh(&s, "db", "stat -c '%u:%g %a' /var/lib/postgresql/data"), "999:999 700", "the volume owned by postgres");
    assert_eq!(sh(&s, "redis", "stat -c '%u:%g %a' /data"), "999:999 755", "the volume owned by redis");
    assert!(s.logs("db").contains("PostgreSQL init process complete"), "{}", s.logs("db"));
    assert_eq!(psql(&s, "SELECT text FROM greeting"), "Hello from PostgreSQL!");
    assert!(page(&s).contains("Hello from PostgreSQL! This page has been seen 1 times."));
    assert!(page(&s).contains("seen 2 times"));
    psql(&s, "INSERT INTO greeting (text) VALUES ('kept across down')");
    s.ok(&["down", "-t", "10"]);
    assert!(s.ps_q(&["-a"]).is_empty());
    s.ok(&["up", "-d", "--wait"]);
    assert!(!s.logs("db").contains("init process complete"), "initdb ran again on a kept volume: {}", s.logs("db"));
    assert_eq!(psql(&s, "SELECT text FROM greeting ORDER BY id"), "Hello from PostgreSQL!\nkept across down");
    assert!(page(&s).contains("seen 3 times"), "the counter is kept in redis's volume (append-only file)");

    s.ok(&["down", "-v", "-t", "10"]);
    assert_nothing_left(&s);
}

/// No container, volume or network of the project is left, in the engine or the state root.
fn assert_nothing_left(s: &Stack) {
    assert!(s.ps_q(&["-a"]).is_empty());
    let p = &s.project;
    if s.backend == "docker" {
        let label = format!("label=com.docker.compose.project={p}");
        for kind in ["container", "volume", "network"] {
            let mut args = vec![kind, "ls", "-q", "--filter", label.as_str()];
            if kind == "container" {
                args.push("-a");
            }
            let out = Command::new("docker").args(&args).output().unwrap();
            assert!(out.status.success() && out.stdout.is_empty(), "docker {kind}s of {p} left: {}", String::from_utf8_lossy(&out.stdout));
        }
    } else {
        let root = PathBuf::from(std::env::var("HOIST_ROOT").unwrap_or_else(|_| "/var/lib/hoist".into()));
        for (dir, prefix) in [("names", format!("{p}-")), ("volumes", format!("{p}_")), ("networks", format!("{p}_"))] {
            let left: Vec<String> = std::fs::read_dir(root.join(dir))
                .unwrap()
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(&prefix))
                .collect();
            assert!(left.is_empty(), "{dir} of {p} left in {}: {left:?}", root.display());
        }
        for e in std::fs::read_dir(root.join("containers")).unwrap().flatten() {
            let config = std::fs::read_to_string(e.path().join("config.json")).unwrap_or_default();
            assert!(!config.contains(&format!("\"{p}-")), "a container of {p} left: {}", e.path().display());
        }
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(!mounts.contains(&format!("/volumes/{p}_")), "a volume of {p} still mounted");
    }
}

/// A code change and `up -d --build`: the web image is rebuilt and only web's container
/// is recreated (its image changed), serving the new code; db and redis keep running.
fn rebuild_recreates_only_web(b: &'static str) {
    let s = up_ready(b, "rebuild", 1);
    let ids = |s: &Stack| ["db", "redis", "web"].map(|svc| s.id(svc));
    let before = ids(&s);
    assert!(page(&s).contains("This page has been seen 1 times."));
    let app = s.path().join("web/app.py");
    let code = std::fs::read_to_string(&app).unwrap();
    std::fs::write(&app, code.replace("This page has been seen", "Seen after a rebuild:")).unwrap();

    s.ok(&["up", "-d", "--build", "--wait"]);
    let after = ids(&s);
    assert_eq!((&after[0], &after[1]), (&before[0], &before[1]), "db and redis recreated, though their images did not change");
    assert_ne!(after[2], before[2], "web not recreated on its new image");
    assert!(page(&s).contains("Hello from PostgreSQL! Seen after a rebuild: 2 times."), "the old code still serves");
}

/// db crash-loops (`restart: unless-stopped`): `up` ends quickly, with the reason,
/// instead of waiting for a healthy db forever (Docker Compose: "dependency failed to
/// start: container ... exited (1)" or "... is unhealthy"; Docker Compose keeps the
/// containers, hoist takes back what the failed `up` created).
fn crash_looping_dependency_fails_up(b: &'static str) {
    ensure_images(b);
    let s = real_stack(b, "crash", 2);
    s.write("docker-compose.override.yml", "services:\n  db:\n    entrypoint: [\"sh\", \"-c\", \"echo broken on purpose >&2; exit 1\"]\n    restart: unless-stopped\n");
    s.ok(&["build"]);
    let out = within(&s, &["up", "-d"], Duration::from_secs(60));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "up succeeded with a crashing db:\n{err}");
    let reason = err.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default();
    assert!(reason.contains("db") && ["exited", "unhealthy", "restarting"].iter().any(|w| reason.contains(w)), "no reason naming db: {err}");
    // hoist then removes what this `up` created (docs/compatibility.md): the reason has to
    // be in the error, not in db's logs.
    assert!(s.ps_q(&["web"]).is_empty(), "web started anyway");
}

/// `exec db psql` in a real terminal (tmux): the prompt, a query, `\q`, exit status 0.
fn exec_psql_in_a_terminal(b: &'static str) {
    let s = up_ready(b, "pty", 3);
    let tmux = Tmux::start(s.path(), &format!("psql-{b}"), false);
    tmux.line(&format!("clear; {HOIST} --backend {b} -p {} exec db psql -U app -d app", s.project));
    tmux.until("psql's prompt", |sc| sc.contains("app=#"));
    // `\g` ends the query: tmux would take a final `;` as its own command separator.
    tmux.line("SELECT text FROM greeting \\g");
    tmux.until("the row", |sc| sc.lines().any(|l| l.trim() == "Hello from PostgreSQL!"));
    tmux.line("\\q");
    // As a person would, type the next command once the host's prompt is back (keys
    // typed ahead would go to the exec, as with `docker exec -it`).
    tmux.until("the host's prompt", |sc| sc.lines().skip_while(|l| !l.contains("app=# \\q")).skip(1).any(|l| !l.trim().is_empty()));
    tmux.line("echo exec-status=$?");
    let screen = tmux.until("the exit status", |sc| sc.lines().any(|l| l.starts_with("exec-status=")));
    assert!(screen.contains("exec-status=0") && !screen.contains("panicked"), "{screen}");
}

on_both_backends!(first_start_data_kept_and_down_v, rebuild_recreates_only_web, crash_looping_dependency_fails_up, exec_psql_in_a_terminal);
