//! The daily loop of a developer, end to end on real containers: `events`, `wait`,
//! `stats`, `logs -f` across restarts and scale-ups, the plain progress of `up`/`down`
//! (a snapshot), and a terminal session in tmux (live progress, colored log prefixes).
//! Needs root, and a running dockerd for the Docker cases (`.ci/run` starts one).

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

#[macro_use]
mod common;

use common::stack::Stack;
use common::HOIST;
use common::tmux::Tmux;

/// A spawned `hoist` whose stdout lines arrive on a channel; killed when dropped.
struct Follower {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Follower {
    fn spawn(s: &Stack, args: &[&str]) -> Follower {
        let mut child = s.command(args).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
        let (tx, lines) = channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Follower { child, lines, seen: Vec::new() }
    }

    /// Collects lines until `done` holds for what was seen (at most 30 s).
    fn until(&mut self, what: &str, done: impl Fn(&[String]) -> bool) -> &[String] {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !done(&self.seen) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(_) => panic!("no {what} in:\n{}", self.seen.join("\n")),
            }
        }
        &self.seen
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// The actions of one container's events, in order.
fn actions(events: &[serde_json::Value], name: &str) -> Vec<String> {
    events.iter().filter(|e| e["attributes"]["name"] == name).map(|e| e["action"].as_str().unwrap_or_default().to_string()).collect()
}

fn json_lines(lines: &[String]) -> Vec<serde_json::Value> {
    lines.iter().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect()
}

fn events_wait_stats(b: &'static str) {
    let s = Stack::new(
        b,
        "dayevents",
        "services:\n  job:\n    image: busybox:latest\n    command: sh -c 'sleep 1; exit 3'\n  web:\n    image: busybox:latest\n    init: true\n    command: sh -c 'while true; do echo tick; sleep 0.2; done'\n",
    );
    let (job, web) = (format!("{}-job-1", s.project), format!("{}-web-1", s.project));
    // From a time on: what happens before the follower is ready is not lost.
    let since = now();
    let mut events = Follower::spawn(&s, &["events", "--json", "--since", &since]);
    s.ok(&["up", "-d"]);

    let out = s.hoist(&["wait", "job"]);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("container \"{job}\" exited with status code 3")));

    let rows = json_lines(&s.ok(&["stats", "--no-stream", "--format", "json"]).lines().map(String::from).collect::<Vec<_>>());
    assert_eq!(rows.len(), 1, "only the running container: {rows:?}");
    let r = &rows[0];
    assert_eq!((r["Name"].as_str(), r["Service"].as_str()), (Some(web.as_str()), Some("web")));
    let num = |k: &str| r[k].as_f64().unwrap_or_else(|| panic!("{k} in {r}"));
    assert!(num("MemoryUsage") > 0.0 && num("MemoryUsage") <= num("MemoryLimit"), "{r}");
    assert!(num("Pids") >= 2.0, "init and the shell at least: {r}");
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    assert!((0.0..=100.0 * cpus).contains(&num("CPUPercent")), "{r}");
    assert!(r["CPUPerc"].as_str().is_some_and(|p| p.ends_with('%')) && r["MemUsage"].as_str().is_some_and(|m| m.contains(" / ")), "{r}");

    s.ok(&["down", "-t", "1"]);
    let until = now();
    let live = json_lines(events.until("destroy of both containers", |seen| seen.iter().filter(|l| l.contains("\"destroy\"")).count() == 2));
    for e in &live {
        assert_eq!(e["type"], "container");
        assert!(e["id"].as_str().is_some_and(|id| id.len() >= 12) && e["time"].is_string(), "{e}");
        assert!(e["attributes"].as_object().is_some_and(|a| !a.keys().any(|k| k.starts_with("com.docker.compose."))), "{e}");
    }
    assert_eq!(actions(&live, &job), ["create", "start", "die", "destroy"], "{live:?}");
    let die = live.iter().find(|e| e["attributes"]["name"] == job.as_str() && e["action"] == "die").unwrap();
    assert_eq!((die["service"].as_str(), die["attributes"]["exitCode"].as_str()), (Some("job"), Some("3")));
    let web_actions = actions(&live, &web);
    assert!(web_actions.starts_with(&["create".into(), "start".into()]) && web_actions.ends_with(&["die".into(), "stop".into(), "destroy".into()]), "{web_actions:?}");

    // The same events again, from the record, ending at --until.
    let replay = s.ok(&["events", "--json", "--since", &since, "--until", &until]);
    let replay = json_lines(&replay.lines().map(String::from).collect::<Vec<_>>());
    assert_eq!(actions(&replay, &job), actions(&live, &job));
    assert_eq!(actions(&replay, &web), web_actions);
}

fn logs_follow_restart_and_scale(b: &'static str) {
    let s = Stack::new(b, "dayfollow", "services:\n  web:\n    image: busybox:latest\n    init: true\n    command: sh -c 'echo hello-$$HOSTNAME; sleep 3600'\n");
    s.ok(&["up", "-d"]);
    let mut logs = Follower::spawn(&s, &["logs", "-f", "--timestamps", "--no-color"]);
    let count = |seen: &[String], prefix: &str| seen.iter().filter(|l| l.starts_with(prefix) && l.contains(" hello-")).count();
    logs.until("the first line", |seen| count(seen, "web-1  | ") == 1);
    // Stopped, then started again: the same container, a new stream.
    s.ok(&["stop", "web"]);
    s.ok(&["start", "web"]);
    logs.until("web-1 after its restart", |seen| count(seen, "web-1  | ") == 2);
    s.ok(&["scale", "web=2"]);
    let seen = logs.until("web-2, started later", |seen| count(seen, "web-2  | ") == 1).to_vec();
    for line in &seen {
        let (_, rest) = line.split_once("| ").unwrap_or_else(|| panic!("no prefix: {line}"));
        let stamp = rest.split(' ').next().unwrap_or_default();
        assert!(chrono::DateTime::parse_from_rfc3339(stamp).is_ok(), "no timestamp: {line}");
    }
    assert_eq!(count(&seen, "web-1  | "), 2, "a line repeated or lost: {seen:?}");
}

/// `--progress plain` prints one stable line per step: a snapshot, the project's name
/// being the only thing that changes between runs.
fn up_down_plain_progress(b: &'static str) {
    let s = Stack::new(
        b,
        "daysnap",
        "services:\n  db:\n    image: busybox:latest\n    init: true\n    command: sleep 3600\n  web:\n    image: busybox:latest\n    init: true\n    command: sleep 3600\n    depends_on: [db]\n",
    );
    let mut got = String::new();
    for args in [&["up", "-d"][..], &["up", "-d"], &["down", "-t", "1"]] {
        let out = s.hoist(&[&["--progress", "plain"][..], args].concat());
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        got.push_str(&format!("$ hoist {}\n{}", args.join(" "), String::from_utf8_lossy(&out.stderr)));
    }
    let got = got.replace(&s.project, "PROJECT");
    let want = "\
$ hoist up -d
 Network PROJECT_default  Created
 Container PROJECT-db-1  Creating
 Container PROJECT-db-1  Created
 Container PROJECT-db-1  Starting
 Container PROJECT-db-1  Started
 Container PROJECT-web-1  Creating
 Container PROJECT-web-1  Created
 Container PROJECT-web-1  Starting
 Container PROJECT-web-1  Started
$ hoist up -d
 Container PROJECT-db-1  Running
 Container PROJECT-web-1  Running
$ hoist down -t 1
 Container PROJECT-web-1  Stopping
 Container PROJECT-web-1  Stopped
 Container PROJECT-web-1  Removing
 Container PROJECT-web-1  Removed
 Container PROJECT-db-1  Stopping
 Container PROJECT-db-1  Stopped
 Container PROJECT-db-1  Removing
 Container PROJECT-db-1  Removed
 Network PROJECT_default  Removing
 Network PROJECT_default  Removed
";
    assert_eq!(got, want);
}

/// The escape sequence tmux shows before `text` (its color), if any.
fn color_before(screen: &str, text: &str) -> String {
    let line = screen.lines().find(|l| l.contains(text)).unwrap_or_else(|| panic!("no {text:?} in:\n{screen}"));
    line[..line.find(text).unwrap_or(0)].to_string()
}

/// `up` attached on a terminal: live progress lines (a spinner while it waits for the
/// healthy database, a green check when done), then each service's output with its own
/// colored prefix; Ctrl-C stops the stack below the logs; `logs` uses the same colors.
#[test]
fn terminal_session_in_tmux() {
    let s = Stack::new(
        "builtin",
        "daytmux",
        "services:\n  db:\n    image: busybox:latest\n    init: true\n    command: sh -c 'echo db-ready; sleep 3600'\n    healthcheck:\n      test: [\"CMD\", \"true\"]\n      interval: 1s\n  web:\n    image: busybox:latest\n    init: true\n    command: sh -c 'echo web-hello; sleep 3600'\n    depends_on:\n      db:\n        condition: service_healthy\n",
    );
    let tmux = Tmux::start(s.path(), "daily-up", true);
    let hoist = format!("{HOIST} --backend builtin -p {}", s.project);
    tmux.send(&[&format!("clear; {hoist} up"), "Enter"]);

    // Live: the wait for the healthy database shows a spinner line, not yet a check.
    let waiting = tmux.until("the live wait for db", |sc| sc.lines().any(|l| l.contains(&format!("Container {}-db ", s.project)) && l.contains("Waiting")));
    let line = waiting.lines().find(|l| l.contains("Waiting")).unwrap_or_default();
    assert!(!line.contains('✔'), "{line}");
    let up = tmux.until("web's output", |sc| sc.contains("web-hello"));
    let started = up.lines().find(|l| l.contains(&format!("Container {}-web-1", s.project)) && l.contains("Started")).unwrap_or_else(|| panic!("{up}"));
    assert!(started.contains("\x1b[32m✔") && started.contains('s'), "a green check and the time: {started:?}");
    assert!(up.lines().any(|l| l.contains("✔") && l.contains(&format!("Container {}-db ", s.project)) && l.contains("Healthy")), "{up}");
    let (db_color, web_color) = (color_before(&up, "db-1   | "), color_before(&up, "web-1  | "));
    assert!(db_color.contains("\x1b[3") && web_color.contains("\x1b[3"), "colored prefixes: {db_color:?} {web_color:?}");
    assert_ne!(db_color, web_color, "neighbours share a color");

    tmux.send(&["C-c"]);
    let stopped = tmux.until("the stack stopped", |sc| sc.matches("Stopped").count() == 2);
    // The stop's lines come after the logs, which stay on the screen.
    let pos = |text: &str| stopped.find(text).unwrap_or_else(|| panic!("no {text:?} in:\n{stopped}"));
    assert!(pos("web-hello") < pos("Gracefully stopping") && pos("Gracefully stopping") < pos("Stopped"), "{stopped}");

    tmux.send(&[&format!("clear; {hoist} logs"), "Enter"]);
    let logs = tmux.until("the logs", |sc| sc.contains("db-ready") && sc.contains("web-hello") && !sc.contains("clear;"));
    assert_eq!((color_before(&logs, "db-1   | "), color_before(&logs, "web-1  | ")), (db_color, web_color), "colors differ between up and logs");
}

/// `exec web sh` in a real terminal: an interactive shell on a pty of the container
/// (the helper that joined the container's namespaces relays it with threads), its exit
/// code passed on; `-T` and piped input still work without one.
fn exec_in_a_terminal(b: &'static str) {
    let s = Stack::new(b, "dayexec", "services:\n  web:\n    image: busybox:latest\n    init: true\n    command: sleep 3600\n");
    s.ok(&["up", "-d"]);
    let tmux = Tmux::start(s.path(), &format!("daily-exec-{b}"), true);
    tmux.send(&[&format!("clear; {HOIST} --backend {b} -p {} exec web sh", s.project), "Enter"]);
    tmux.until("the container's prompt", |sc| sc.lines().any(|l| l.trim_end().ends_with('#')));
    tmux.send(&["echo $((6*7)); tty", "Enter"]);
    // Both lines of output: `42`, then what `tty` printed.
    let screen = tmux.until("the command's output", |sc| sc.lines().skip_while(|l| l.trim() != "42").skip(1).any(|l| !l.trim().is_empty()));
    assert!(screen.lines().any(|l| l.trim().starts_with("/dev/pts/")), "no terminal in the container:\n{screen}");
    tmux.send(&["exit 5", "Enter"]);
    // As a person would, type the next command once the host's prompt is back (keys
    // typed ahead would go to the exec, as with `docker exec -it`).
    tmux.until("the host's prompt", |sc| sc.lines().skip_while(|l| !l.contains("# exit 5")).skip(1).any(|l| !l.trim().is_empty()));
    tmux.send(&["echo code=$?", "Enter"]);
    let screen = tmux.until("the exit code", |sc| sc.lines().any(|l| l.trim() == "code=5"));
    assert!(!screen.contains("panicked"), "{screen}");

    let out = s.hoist(&["exec", "-T", "web", "sh", "-c", "echo no-tty; exit 3"]);
    assert_eq!((out.status.code(), String::from_utf8_lossy(&out.stdout).trim()), (Some(3), "no-tty"));
    let mut piped = s.command(&["exec", "web", "tr", "a-z", "A-Z"]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    std::io::Write::write_all(&mut piped.stdin.take().unwrap(), b"piped in\n").unwrap();
    let out = piped.wait_with_output().unwrap();
    assert_eq!((out.status.code(), String::from_utf8_lossy(&out.stdout).trim()), (Some(0), "PIPED IN"));
}

/// `up -d --build` after a change of the web's files recreates the web container (the
/// image ID it was created from differs) and no other; it then serves the new content.
fn rebuild_recreates_the_changed_service(b: &'static str) {
    let s = Stack::new(
        b,
        "dayrebuild",
        "services:\n  web:\n    build: ./web\n    init: true\n  cache:\n    image: busybox:latest\n    init: true\n    command: sleep 3600\n",
    );
    s.write("web/Dockerfile", "FROM busybox:latest\nCOPY index.html /www/index.html\nCMD [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\n");
    let serves = |want: &str| {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let out = s.hoist(&["exec", "-T", "web", "wget", "-qO-", "http://127.0.0.1:8080/"]);
            let got = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if got == want {
                return;
            }
            assert!(Instant::now() < deadline, "web serves {got:?}, not {want:?}: {}", String::from_utf8_lossy(&out.stderr));
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    s.write("web/index.html", "version one\n");
    s.ok(&["up", "-d", "--build"]);
    serves("version one");
    let (web, cache) = (s.id("web"), s.id("cache"));

    // Nothing changed: nothing recreated, even though the image was built again.
    s.ok(&["up", "-d", "--build"]);
    assert_eq!((s.id("web"), s.id("cache")), (web.clone(), cache.clone()));

    s.write("web/index.html", "version two\n");
    let out = s.hoist(&["--progress", "plain", "up", "-d", "--build"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains(&format!("Container {}-web-1  Recreated", s.project)), "{err}");
    assert!(err.contains(&format!("Container {}-cache-1  Running", s.project)), "{err}");
    assert_ne!(s.id("web"), web, "web kept its container");
    assert_eq!(s.id("cache"), cache, "cache was recreated");
    serves("version two");
}

/// A dependency that crash-loops under a restart policy ends `up` within seconds, with
/// the reason (Docker Compose: "dependency failed to start: container ... exited (1)");
/// so does a one-shot dependency that fails, and nothing waits without bound.
fn failing_dependency_ends_up_with_its_reason(b: &'static str) {
    let s = Stack::new(
        b,
        "daycrash",
        "services:\n  db:\n    image: busybox:latest\n    command: sh -c 'echo starting; sleep 0.3; exit 1'\n    restart: unless-stopped\n    healthcheck:\n      test: [\"CMD\", \"true\"]\n      interval: 5s\n  web:\n    image: busybox:latest\n    command: sleep 3600\n    depends_on:\n      db:\n        condition: service_healthy\n",
    );
    let start = Instant::now();
    let err = s.fails(&["up", "-d"]);
    let took = start.elapsed();
    assert!(err.contains("dependency failed to start") && err.contains(&format!("container {}-db-1 exited (1)", s.project)), "{err}");
    assert!(took < Duration::from_secs(15), "up took {took:?}");
    s.ok(&["down", "-t", "1"]);

    s.write(
        "docker-compose.yml",
        "services:\n  migrate:\n    image: busybox:latest\n    command: sh -c 'exit 3'\n  web:\n    image: busybox:latest\n    command: sleep 3600\n    depends_on:\n      migrate:\n        condition: service_completed_successfully\n",
    );
    let err = s.fails(&["up", "-d"]);
    assert!(err.contains("service \"migrate\" didn't complete successfully: exit 3"), "{err}");
}

/// `up --wait` fails naming a container without healthcheck that exited while the
/// project was not yet all running|healthy, and
/// `--wait-timeout` bounds a wait for a health that never comes.
fn wait_and_wait_timeout(b: &'static str) {
    let s = Stack::new(
        b,
        "daywait",
        "services:\n  job:\n    image: busybox:latest\n    command: sh -c 'sleep 1; exit 4'\n  slow:\n    image: busybox:latest\n    init: true\n    command: sh -c 'sleep 4; touch /tmp/ready; sleep 3600'\n    healthcheck:\n      test: [\"CMD\", \"test\", \"-f\", \"/tmp/ready\"]\n      interval: 1s\n",
    );
    let out = s.hoist(&["up", "-d", "--wait"]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("container {}-job-1 exited (4)", s.project)), "{}", String::from_utf8_lossy(&out.stderr));
    s.ok(&["down", "-t", "1"]);

    s.write(
        "docker-compose.yml",
        "services:\n  slow:\n    image: busybox:latest\n    init: true\n    command: sleep 3600\n    healthcheck:\n      test: [\"CMD\", \"false\"]\n      interval: 1s\n      retries: 1000\n",
    );
    let start = Instant::now();
    let err = s.fails(&["up", "-d", "--wait", "--wait-timeout", "2"]);
    assert!(err.contains("timed out") && err.contains("slow"), "{err}");
    let took = start.elapsed();
    assert!(took >= Duration::from_secs(2) && took < Duration::from_secs(15), "took {took:?}");
}

/// Profiles as Docker Compose has them: a service named on the command line is enabled
/// with what it needs, whatever its profiles; `logs`/`exec` reach a service of an
/// inactive profile; `down` removes the containers of every service in the file.
fn profiles_on_the_command_line(b: &'static str) {
    let s = Stack::new(
        b,
        "dayprof",
        "services:\n  web:\n    image: busybox:latest\n    init: true\n    command: sleep 3600\n  debug:\n    image: busybox:latest\n    init: true\n    profiles: [debug]\n    command: sh -c 'echo debug-says-hi; sleep 3600'\n    depends_on: [helper]\n  helper:\n    image: busybox:latest\n    init: true\n    profiles: [tools]\n    command: sleep 3600\n",
    );
    s.ok(&["up", "-d", "debug"]);
    assert_eq!(s.ps_q(&["-a"]).len(), 2, "debug and the helper it needs");
    s.ok(&["--profile", "debug", "--profile", "tools", "up", "-d"]);
    assert_eq!(s.ps_q(&["-a"]).len(), 3);
    // No profile active: the named service is reachable all the same.
    s.wait_log("debug", "debug-says-hi");
    assert_eq!(s.ok(&["exec", "-T", "debug", "echo", "from-debug"]).trim(), "from-debug");
    let out = s.hoist(&["--progress", "plain", "up", "-d"]);
    assert!(out.status.success() && !String::from_utf8_lossy(&out.stderr).contains("orphan"), "{}", String::from_utf8_lossy(&out.stderr));
    s.ok(&["down", "-t", "1"]);
    assert_eq!(s.ps_q(&["-a"]), Vec::<String>::new(), "down left containers of inactive profiles");
}

/// `ps` lists exposed-only ports as `5432/tcp` (Compose's PORTS column) and `images`
/// names the image each container was created from, with its size.
fn ps_and_images_show_what_compose_shows(b: &'static str) {
    let port = if b == "docker" { 18431 } else { 18432 };
    let s = Stack::new(b, "dayports", &format!("services:\n  db:\n    image: busybox:latest\n    init: true\n    expose: [\"5432\"]\n    ports: [\"127.0.0.1:{port}:80\"]\n    command: sleep 3600\n"));
    s.ok(&["up", "-d"]);
    let ps = s.ok(&["ps"]);
    assert!(ps.contains("5432/tcp") && ps.contains(&format!("127.0.0.1:{port}->80/tcp")), "{ps}");
    let list = s.ok(&["image", "ls"]);
    let id = list.lines().find(|l| l.split_whitespace().take(2).eq(["busybox", "latest"])).unwrap_or_else(|| panic!("{list}")).to_string();
    let images = s.ok(&["images"]);
    let row = images.lines().find(|l| l.contains("-db-1")).unwrap_or_else(|| panic!("{images}"));
    let cols: Vec<&str> = row.split_whitespace().collect();
    // CONTAINER REPOSITORY TAG PLATFORM IMAGE-ID SIZE CREATED ("N units ago").
    assert!(cols.len() >= 7 && cols[3] == "linux/amd64" && id.contains(cols[4]) && cols[5].ends_with('B') && row.ends_with(" ago"), "{images}\n{id}");
}

/// `run --rm` from a script whose stdin is empty (`Command::output`, cron, CI): what the
/// container prints after our stdin has ended still arrives, and piped input still ends.
fn run_keeps_output_after_stdin_ends(b: &'static str) {
    let s = Stack::new(b, "dayrunin", "services:\n  app:\n    image: busybox:latest\n    network_mode: none\n");
    for _ in 0..3 {
        let out = s.ok(&["run", "--rm", "-T", "app", "sh", "-c", "sleep 0.3; echo late"]);
        assert_eq!(out.trim(), "late");
    }
    let mut piped = s.command(&["run", "--rm", "-T", "app", "sh", "-c", "sleep 0.3; cat; echo done"]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    std::io::Write::write_all(&mut piped.stdin.take().unwrap(), b"in\n").unwrap();
    let out = piped.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "in\ndone\n");
}

on_both_backends!(
    run_keeps_output_after_stdin_ends,
    ps_and_images_show_what_compose_shows,
    events_wait_stats,
    logs_follow_restart_and_scale,
    up_down_plain_progress,
    exec_in_a_terminal,
    rebuild_recreates_the_changed_service,
    failing_dependency_ends_up_with_its_reason,
    wait_and_wait_timeout,
    profiles_on_the_command_line,
);
