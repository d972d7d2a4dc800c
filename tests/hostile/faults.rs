//! Hostile conditions: faults and neighbours. A full disk, repeated and concurrent
//! commands, two state roots with the same project, optional dependencies that fail:
//! nothing is left stuck or shared, and what Docker Compose warns about is a warning.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::stack::Stack;
use crate::common::{busybox_tar, HOIST};

/// A fresh state root of its own with busybox imported, for tests that look at a whole
/// root (or need two).
struct Root {
    dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
}

impl Root {
    fn new() -> Root {
        let tmp = tempfile::tempdir().unwrap();
        Root::at(tmp.path().to_path_buf(), Some(tmp))
    }

    fn at(dir: PathBuf, tmp: Option<tempfile::TempDir>) -> Root {
        let root = Root { dir, _tmp: tmp };
        let out = root.hoist(Path::new("/"), &["image", "import", busybox_tar().to_str().unwrap(), "busybox:latest"]);
        assert!(out.status.success(), "import: {}", String::from_utf8_lossy(&out.stderr));
        root
    }

    fn command(&self, dir: &Path, args: &[&str]) -> Command {
        let mut c = Command::new(HOIST);
        c.args(["--backend", "builtin"]).args(args).current_dir(dir).env("HOIST_ROOT", &self.dir);
        c
    }

    fn hoist(&self, dir: &Path, args: &[&str]) -> Output {
        self.command(dir, args).output().unwrap()
    }

    fn ok(&self, dir: &Path, args: &[&str]) -> String {
        let out = self.hoist(dir, args);
        assert!(out.status.success(), "hoist {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Entries of `<root>/<sub>` (none when it does not exist).
    fn entries(&self, sub: &str) -> Vec<String> {
        let mut v: Vec<String> =
            std::fs::read_dir(self.dir.join(sub)).into_iter().flatten().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        v.sort();
        v
    }
}

/// A project folder holding `compose`.
fn project(compose: &str) -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    std::fs::write(t.path().join("compose.yml"), compose).unwrap();
    t
}

/// Every lock file under `dir`: `*.lock` and `.lock`.
fn lock_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let (path, kind) = (e.path(), e.file_type().unwrap());
            if kind.is_dir() && !kind.is_symlink() {
                // Image layers and container file systems hold the image's files, not ours.
                if !matches!(e.file_name().to_str(), Some("layers" | "rootfs" | "upper" | "merged" | "work" | "_data")) {
                    todo.push(path);
                }
            } else if path.extension().is_some_and(|x| x == "lock") || e.file_name() == ".lock" {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Secrets written by `up` live per state root: the same project in two roots gets two
/// directories, and `down` in one leaves the other's files (which its running container
/// still has mounted) alone.
#[test]
fn two_state_roots_keep_their_secrets_apart() {
    let compose = "services:\n  app:\n    image: busybox\n    network_mode: none\n    command: sh -c 'cat /run/secrets/tok; echo; sleep 300'\n    secrets: [tok]\nsecrets:\n  tok:\n    environment: FAULTS_TOKEN\n";
    let (a, b) = (Root::new(), Root::new());
    let dir = project(compose);
    let up = |root: &Root, value: &str| {
        let out = root.command(dir.path(), &["-p", "faultsrundir", "up", "-d"]).env("FAULTS_TOKEN", value).output().unwrap();
        assert!(out.status.success(), "up: {}", String::from_utf8_lossy(&out.stderr));
    };
    up(&a, "from-a");
    up(&b, "from-b");
    let secret_of = |root: &Root| {
        let out = root.hoist(dir.path(), &["-p", "faultsrundir", "exec", "-T", "app", "cat", "/run/secrets/tok"]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(secret_of(&a), "from-a");
    assert_eq!(secret_of(&b), "from-b");
    a.ok(dir.path(), &["-p", "faultsrundir", "down", "-t", "1"]);
    assert_eq!(secret_of(&b), "from-b", "down in one root took the other root's secret");
    // A restart bind-mounts the file again: it must still be there.
    let out = b.command(dir.path(), &["-p", "faultsrundir", "restart", "-t", "1"]).env("FAULTS_TOKEN", "from-b").output().unwrap();
    assert!(out.status.success(), "restart: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(secret_of(&b), "from-b");
    b.ok(dir.path(), &["-p", "faultsrundir", "down", "-t", "1"]);
}

/// Repeated `up`/`down` of new projects leaves no more lock files than one did, in the
/// state root or in /run/hoist/locks (the Docker backend's), and a project's lock in one
/// state root does not hold up the same project in another.
#[test]
fn lock_files_do_not_pile_up_and_are_per_state_root() {
    let root = Root::new();
    let dir = project("services:\n  app:\n    image: busybox\n    network_mode: none\n    command: sleep 300\n");
    let cycle = |i: usize| {
        let p = format!("faultslock{i}");
        root.ok(dir.path(), &["-p", &p, "up", "-d"]);
        root.ok(dir.path(), &["-p", &p, "down", "-t", "1"]);
    };
    cycle(0);
    let after_one = lock_files(&root.dir);
    for i in 1..6 {
        cycle(i);
    }
    assert_eq!(lock_files(&root.dir), after_one, "lock files piled up");
    assert!(root.entries("locks").is_empty(), "project locks left: {:?}", root.entries("locks"));

    let docker_locks = || lock_files(Path::new("/run/hoist/locks")).into_iter().filter(|p| p.to_string_lossy().contains("faultslock")).collect::<Vec<_>>();
    for i in 0..3 {
        let p = format!("faultslock{i}");
        let out = Command::new(HOIST).args(["--backend", "docker", "-p", &p, "down"]).current_dir(dir.path()).output().unwrap();
        assert!(out.status.success(), "docker down: {}", String::from_utf8_lossy(&out.stderr));
    }
    assert!(docker_locks().is_empty(), "docker project locks left: {:?}", docker_locks());

    // Hold the project's lock in `root` as a running command would.
    let other = Root::new();
    std::fs::create_dir_all(root.dir.join("locks")).unwrap();
    let held = std::fs::File::create(root.dir.join("locks/builtin-faultslockheld.lock")).unwrap();
    let held = nix::fcntl::Flock::lock(held, nix::fcntl::FlockArg::LockExclusive).unwrap();
    let started = Instant::now();
    let out = other.hoist(dir.path(), &["-p", "faultslockheld", "down"]);
    assert!(out.status.success() && !String::from_utf8_lossy(&out.stderr).contains("waiting"), "another root's lock held it up: {out:?}");
    assert!(started.elapsed() < Duration::from_secs(30));
    let err = tempfile::NamedTempFile::new().unwrap();
    let mut waiter = root.command(dir.path(), &["-p", "faultslockheld", "down"]).stderr(Stdio::from(err.reopen().unwrap())).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(err.path()).unwrap().contains("waiting for another hoist command") {
        assert!(waiter.try_wait().unwrap().is_none(), "down did not wait for the held lock");
        assert!(Instant::now() < deadline, "down never said it waits");
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(held);
    assert!(waiter.wait().unwrap().success());
    assert!(root.entries("locks").is_empty(), "project locks left: {:?}", root.entries("locks"));
}

/// A tmpfs mounted for the test, unmounted when dropped.
struct Tmpfs {
    dir: PathBuf,
    _parent: tempfile::TempDir,
}

impl Tmpfs {
    fn new(size: &str) -> Tmpfs {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("root");
        std::fs::create_dir(&dir).unwrap();
        nix::mount::mount(Some("tmpfs"), &dir, Some("tmpfs"), nix::mount::MsFlags::empty(), Some(format!("size={size}").as_str()))
            .expect("mounting a tmpfs (the test runs as root)");
        Tmpfs { dir, _parent: t }
    }

    fn free(&self) -> u64 {
        let s = nix::sys::statvfs::statvfs(&self.dir).unwrap();
        s.blocks_available() * s.fragment_size()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.dir, nix::mount::MntFlags::MNT_DETACH);
    }
}

/// `up` on a state root that is (almost) full fails with a clear error at whatever step
/// the space runs out, and leaves no claim, record or half-written file behind: once
/// there is room again the same names come up, and `down -v` leaves the root as empty as
/// it was.
#[test]
fn a_full_disk_during_up_leaves_nothing_stuck() {
    let fs = Tmpfs::new("64m");
    let root = Root::at(fs.dir.clone(), None);
    let dir = project(
        "services:\n  app:\n    image: busybox\n    container_name: faultsdisk-app\n    command: sleep 300\n    volumes: [data:/data]\n    configs: [conf]\nvolumes:\n  data: {}\nconfigs:\n  conf:\n    content: hello\n",
    );
    // The network store's one lock file is made on first use and reused.
    let records = || ["containers", "names", "volumes", "networks", "netns"].map(|d| root.entries(d).into_iter().filter(|n| n != ".lock").collect::<Vec<_>>());
    let empty = records();
    let filler = fs.dir.join("filler");
    for left in [0u64, 4 << 10, 8 << 10, 12 << 10, 16 << 10, 24 << 10, 32 << 10, 64 << 10, 256 << 10, 1 << 20] {
        let size = fs.free().saturating_sub(left);
        nix::fcntl::fallocate(std::fs::File::create(&filler).unwrap(), nix::fcntl::FallocateFlags::empty(), 0, size as i64).unwrap();
        let out = root.hoist(dir.path(), &["-p", "faultsdisk", "up", "-d"]);
        let err = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            assert!(err.contains("No space left on device"), "{left} bytes left: unclear error: {err}");
        }
        eprintln!("{left} bytes left: {}", err.lines().last().unwrap_or_default());
        std::fs::remove_file(&filler).unwrap();
        let out = root.hoist(dir.path(), &["-p", "faultsdisk", "up", "-d"]);
        assert!(out.status.success(), "{left} bytes left, then room again: up failed: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(root.ok(dir.path(), &["-p", "faultsdisk", "exec", "-T", "app", "cat", "/conf"]), "hello");
        root.ok(dir.path(), &["-p", "faultsdisk", "down", "-v", "-t", "1"]);
        assert_eq!(records(), empty, "{left} bytes left: down -v left files (containers, names, volumes, networks, netns)");
    }
}

const OPTIONAL: &str = "services:
  web:
    image: busybox
    command: sleep 300
    depends_on:
      broken:
        condition: service_healthy
        required: false
      job:
        condition: service_completed_successfully
        required: false
      off:
        condition: service_healthy
        required: false
  broken:
    image: busybox
    command: sh -c 'exit 3'
  job:
    image: busybox
    command: sh -c 'exit 4'
  off:
    image: busybox
    profiles: [never]
";

/// `depends_on` with `required: false`: a dependency that fails its condition, or is not
/// in the project, is warned about in Docker Compose's words and the dependent starts;
/// the same dependency required fails `up`.
fn optional_dependencies_warn_and_go_on(backend: &'static str) {
    let s = Stack::new(backend, "faultsoptional", OPTIONAL);
    let out = s.hoist(&["up", "-d"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "up failed: {err}");
    assert!(err.contains("optional dependency \"broken\" failed to start"), "{err}");
    assert!(err.contains("optional dependency \"job\" didn't complete successfully: exit 4"), "{err}");
    assert_eq!(s.ps_q(&["web"]).len(), 1, "web is not running");

    // `start` waits as `up` does; a dependency without a container is a warning too.
    s.ok(&["stop", "-t", "1", "web"]);
    s.ok(&["rm", "-f", "broken"]);
    let out = s.hoist(&["start"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "start failed: {err}");
    assert!(err.contains("web is missing dependency broken"), "{err}");
    assert_eq!(s.ps_q(&["web"]).len(), 1, "web is not running");

    s.ok(&["down", "-t", "1"]);
    s.write("docker-compose.yml", &OPTIONAL.replace("required: false", "required: true").replace("      off:\n        condition: service_healthy\n        required: true\n", ""));
    let err = s.fails(&["up", "-d"]);
    assert!(err.contains("dependency failed to start") || err.contains("didn't complete successfully"), "{err}");
}

on_both_backends!(optional_dependencies_warn_and_go_on);
