//! Watch mode (`develop.watch`) and `hoist cp`, end to end: the real binary against real
//! containers on each backend. Needs root and, for the Docker backend, a running dockerd.
//! Changes are awaited with a generous deadline; nothing asserts how fast they land.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[macro_use]
mod common;

use common::stack::Stack;
use common::HOIST;

const DEADLINE: Duration = Duration::from_secs(30);

/// Polls `f` until it holds, failing with `what` and the watch output after DEADLINE.
fn eventually(what: &str, w: &WatchProc, f: impl Fn() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < DEADLINE, "{what}: not within {DEADLINE:?}; watch said:\n{}", w.output());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A running `hoist watch`, its stdout and stderr gathered.
struct WatchProc {
    child: Child,
    out: Arc<Mutex<String>>,
}

impl WatchProc {
    fn start(s: &Stack, args: &[&str]) -> WatchProc {
        let mut child = s.command(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let out = Arc::new(Mutex::new(String::new()));
        let pipes: [Box<dyn std::io::Read + Send>; 2] = [Box::new(child.stdout.take().unwrap()), Box::new(child.stderr.take().unwrap())];
        for pipe in pipes {
            let out = out.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    let mut o = out.lock().unwrap();
                    o.push_str(&line);
                    o.push('\n');
                }
            });
        }
        let w = WatchProc { child, out };
        w.wait_for("Watch enabled");
        w
    }

    fn output(&self) -> String {
        self.out.lock().unwrap().clone()
    }

    fn wait_for(&self, text: &str) {
        let start = Instant::now();
        while !self.output().contains(text) {
            assert!(start.elapsed() < Duration::from_secs(120), "no {text:?} from watch:\n{}", self.output());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Ctrl-C: the watch must end cleanly.
    fn interrupt(mut self) {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let status = self.child.wait().unwrap();
        assert!(status.success(), "watch ended with {status} after SIGINT:\n{}", self.output());
    }
}

impl Drop for WatchProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// sync: changed and new files land in the running container, deleted ones go, ignored
/// ones stay out; initial_sync copies what was there before; Ctrl-C ends it with 0.
fn watch_sync(b: &'static str) {
    let s = Stack::new(
        b,
        "wsync",
        "services:\n  app:\n    image: busybox:latest\n    init: true\n    command: sleep 3600\n    develop:\n      watch:\n        - path: ./src\n          action: sync\n          target: /app\n          initial_sync: true\n          ignore: ['*.tmp']\n",
    );
    s.write("src/before.txt", "was there\n");
    let w = WatchProc::start(&s, &["watch"]);
    assert_eq!(s.cat("app", "/app/before.txt").as_deref(), Some("was there\n"), "{}", w.output());

    s.write("src/a.txt", "one\n");
    s.write("src/sub/deep.txt", "deep\n");
    eventually("a new file is synced", &w, || s.cat("app", "/app/a.txt").as_deref() == Some("one\n"));
    eventually("a new folder is synced", &w, || s.cat("app", "/app/sub/deep.txt").as_deref() == Some("deep\n"));
    s.write("src/a.txt", "two\n");
    eventually("a changed file is synced", &w, || s.cat("app", "/app/a.txt").as_deref() == Some("two\n"));

    // Written before the marker: once the marker is in, the ignored file would be too.
    s.write("src/skip.tmp", "no\n");
    s.write("src/marker.txt", "m\n");
    eventually("the marker is synced", &w, || s.cat("app", "/app/marker.txt").is_some());
    assert_eq!(s.cat("app", "/app/skip.tmp"), None, "an ignored file was synced");

    std::fs::remove_file(s.path().join("src/a.txt")).unwrap();
    eventually("a deleted file disappears", &w, || s.cat("app", "/app/a.txt").is_none());
    assert!(w.output().contains("app: synced"), "{}", w.output());
    w.interrupt();
}

/// rebuild recreates only its service; restart restarts its own; the others keep their
/// containers.
fn watch_rebuild_restart(b: &'static str) {
    let image = format!("hoist-itw-rebuild-{b}:latest");
    let s = Stack::new(
        b,
        "wrebuild",
        &format!(
            "services:\n  web:\n    build: ./web\n    image: {image}\n    init: true\n    develop:\n      watch:\n        - path: ./web/msg\n          action: rebuild\n  worker:\n    image: busybox:latest\n    init: true\n    command: sh -c 'echo start >> /starts; exec sleep 3600'\n    develop:\n      watch:\n        - path: ./conf\n          action: restart\n  bystander:\n    image: busybox:latest\n    init: true\n    command: sleep 3600\n"
        ),
    );
    s.write("web/Dockerfile", "FROM busybox:latest\nCOPY msg /msg\nCMD [\"sleep\", \"3600\"]\n");
    s.write("web/msg", "v1\n");
    s.write("conf/app.conf", "a=1\n");
    s.ok(&["up", "-d"]);
    let (web, worker, bystander) = (s.id("web"), s.id("worker"), s.id("bystander"));
    let old_image = s.ok(&["images", "-q", "web"]).trim().to_string();
    // --quiet: no build output; --prune (the default): the replaced image goes.
    let w = WatchProc::start(&s, &["--progress", "plain", "watch", "--no-up", "--quiet"]);

    s.write("web/msg", "v2\n");
    eventually("web is rebuilt and recreated", &w, || s.cat("web", "/msg").as_deref() == Some("v2\n"));
    assert_ne!(s.id("web"), web);
    w.wait_for("web: rebuilt");
    assert!(!w.output().contains("COPY msg"), "--quiet showed the build: {}", w.output());
    let inspect = Command::new(HOIST).args(["--backend", b, "image", "inspect", &format!("sha256:{old_image}")]).output().unwrap();
    assert!(!inspect.status.success(), "the replaced image was not pruned: {}", String::from_utf8_lossy(&inspect.stdout));
    assert_eq!((s.id("worker"), s.id("bystander")), (worker.clone(), bystander.clone()), "a rebuild touched another service");

    s.write("conf/app.conf", "a=2\n");
    eventually("worker is restarted", &w, || s.cat("worker", "/starts").is_some_and(|t| t.lines().count() == 2));
    assert_eq!((s.id("worker"), s.id("bystander")), (worker, bystander));
    w.wait_for("worker: restarted");
    assert!(w.output().contains("web: rebuilt"), "{}", w.output());
    w.interrupt();
    drop(s);
    let _ = Command::new(HOIST).args(["--backend", b, "image", "rm", &image]).output();
}

/// `hoist cp` both ways: files and folders, into every container or one (`--index`),
/// into a volume, out to a new or an existing host folder.
fn cp_both_directions(b: &'static str) {
    let s = Stack::new(b, "wcp", "services:\n  app:\n    image: busybox:latest\n    init: true\n    command: sleep 3600\n    scale: 2\n    volumes: [data:/vol]\nvolumes:\n  data: {}\n");
    s.ok(&["up", "-d"]);
    s.write("host/f.txt", "file\n");
    s.write("host/tree/a.txt", "a\n");
    s.write("host/tree/sub/b.txt", "b\n");

    s.ok(&["cp", "host/f.txt", "app:/tmp/"]);
    for i in ["1", "2"] {
        let out = s.ok(&["exec", "-T", "--index", i, "app", "cat", "/tmp/f.txt"]);
        assert_eq!(out, "file\n", "container {i}");
    }
    s.ok(&["cp", "--index", "2", "host/tree", "app:/copied"]);
    assert_eq!(s.ok(&["exec", "-T", "--index", "2", "app", "cat", "/copied/sub/b.txt"]), "b\n");
    assert!(!s.hoist(&["exec", "-T", "--index", "1", "app", "test", "-e", "/copied"]).status.success(), "--index 2 copied into container 1");
    s.ok(&["cp", "host/f.txt", "app:/vol/in-volume.txt"]);
    assert_eq!(s.cat("app", "/vol/in-volume.txt").as_deref(), Some("file\n"));

    s.ok(&["cp", "--index", "2", "app:/copied", "back"]);
    assert_eq!(std::fs::read_to_string(s.path().join("back/sub/b.txt")).unwrap(), "b\n");
    std::fs::create_dir(s.path().join("existing")).unwrap();
    s.ok(&["cp", "app:/vol/in-volume.txt", "existing"]);
    assert_eq!(std::fs::read_to_string(s.path().join("existing/in-volume.txt")).unwrap(), "file\n");
    s.ok(&["cp", "app:/etc/passwd", "passwd.copy"]);
    assert!(std::fs::read_to_string(s.path().join("passwd.copy")).unwrap().starts_with("root:"));

    let err = s.fails(&["cp", "app:/no/such/file", "x"]);
    assert!(err.to_lowercase().contains("no such file") || err.contains("Could not find"), "{err}");
    assert!(s.fails(&["cp", "a", "b"]).contains("SERVICE:PATH"));
}

/// The typed `develop` section: shown by `config`, its mistakes named by service and key.
#[test]
fn develop_watch_config_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let config = |compose: &str| {
        std::fs::write(dir.path().join("compose.yaml"), compose).unwrap();
        Command::new(HOIST).args(["config"]).current_dir(dir.path()).output().unwrap()
    };
    let out = config("services:\n  web:\n    image: x\n    develop:\n      watch:\n        - path: ./src\n          action: sync+exec\n          target: /app\n          exec:\n            command: kill -HUP 1\n");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("action: sync+exec") && text.contains("-HUP") && text.contains(&format!("path: {}/src", dir.path().display())), "{text}");
    for (compose, expected) in [
        ("services:\n  web:\n    image: x\n    develop:\n      watch:\n        - path: ./src\n          action: rebuild\n", "has no build section"),
        ("services:\n  web:\n    image: x\n    develop:\n      watch:\n        - path: ./src\n          action: sync\n", "needs a `target`"),
        ("services:\n  web:\n    image: x\n    develop:\n      watch:\n        - path: ./src\n          action: teleport\n", "unknown action \"teleport\""),
        ("services:\n  web:\n    image: x\n    develop:\n      watch:\n        - path: ./src\n          action: sync+exec\n          target: /app\n", "needs `exec.command`"),
    ] {
        let out = config(compose);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(expected) && err.contains("web"), "{compose}\n{err}");
    }
}


on_both_backends!(watch_sync, watch_rebuild_restart, cp_both_directions);
