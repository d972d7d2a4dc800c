//! The built-in runtime's process side against a real kernel: namespaces, mounts, cgroups,
//! init, restart policy, healthcheck, exec. Needs root (we are root here; CI runs as root)
//! and /usr/bin/busybox (busybox-static) for the test root filesystem.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use hoist::backend::ExecSpec;
use hoist::backend::builtin::runtime::{
    self, HealthSpec, MountKind, RestartPolicy, RuntimeMount, RuntimeSpec, logs,
};

/// A busybox root filesystem used as the single image layer of every test container
/// (read-only as a lower layer, so it is shared and kept across runs).
fn layer() -> &'static Path {
    static LAYER: OnceLock<PathBuf> = OnceLock::new();
    LAYER.get_or_init(|| {
        runtime::set_helper_exe(PathBuf::from(env!("CARGO_BIN_EXE_hoist")));
        let dir = std::env::temp_dir().join("hoist-rt-test-layer");
        if dir.join("bin/sh").exists() {
            return dir;
        }
        // Built aside and renamed: concurrent test binaries never see half a layer.
        let tmp = std::env::temp_dir().join(format!("hoist-rt-test-layer.{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        for d in ["bin", "etc", "tmp", "root", "proc", "sys", "dev"] {
            std::fs::create_dir_all(tmp.join(d)).unwrap();
        }
        std::fs::copy("/usr/bin/busybox", tmp.join("bin/busybox")).unwrap();
        let list = std::process::Command::new("/usr/bin/busybox").arg("--list").output().unwrap();
        for applet in String::from_utf8_lossy(&list.stdout).lines() {
            if applet != "busybox" {
                let _ = std::os::unix::fs::symlink("busybox", tmp.join("bin").join(applet));
            }
        }
        std::fs::write(tmp.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n").unwrap();
        std::fs::write(tmp.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n").unwrap();
        if std::fs::rename(&tmp, &dir).is_err() {
            let _ = std::fs::remove_dir_all(&tmp);
        }
        dir
    })
}

struct Container {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = runtime::kill(&self.dir, "KILL");
        let _ = runtime::wait(&self.dir);
        let _ = runtime::cleanup(&self.dir);
    }
}

fn container(args: &[&str], customize: impl FnOnce(&mut RuntimeSpec)) -> Container {
    let layer = layer().to_path_buf();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let id = dir.file_name().unwrap().to_string_lossy().trim_start_matches('.').to_string();
    let mut spec = RuntimeSpec {
        id: format!("test-{id}"),
        name: format!("test-{id}"),
        layers: vec![layer],
        upper_dir: dir.join("upper"),
        work_dir: dir.join("work"),
        rootfs: dir.join("rootfs"),
        args: args.iter().map(|s| s.to_string()).collect(),
        env: vec!["PATH=/bin".into()],
        cwd: "/".into(),
        hostname: "testhost".into(),
        stop_signal: "SIGTERM".into(),
        stop_timeout: Duration::from_secs(10),
        ..Default::default()
    };
    customize(&mut spec);
    std::fs::write(dir.join("runtime.json"), serde_json::to_vec_pretty(&spec).unwrap()).unwrap();
    Container { _tmp: tmp, dir }
}

/// Starts, waits for the exit, returns (exit code, stdout lines, stderr lines).
fn run(c: &Container) -> (i32, Vec<String>, Vec<String>) {
    runtime::start(&c.dir).unwrap();
    let code = runtime::wait(&c.dir).unwrap();
    let (out, err) = output(c);
    (code, out, err)
}

fn output(c: &Container) -> (Vec<String>, Vec<String>) {
    let entries = logs::LogReader::read_all(&c.dir.join("log.jsonl")).map(|(e, _)| e).unwrap_or_default();
    let pick = |s: &str| entries.iter().filter(|e| e.stream == s).map(|e| e.text.clone()).collect();
    (pick("stdout"), pick("stderr"))
}

fn sh(script: &str) -> Vec<&str> {
    vec!["sh", "-c", script]
}

fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn echo_goes_to_the_log_and_exit_codes_are_kept() {
    let c = container(&sh("echo hello; echo oops >&2; printf partial; exit 3"), |_| {});
    let (code, out, err) = run(&c);
    assert_eq!(code, 3);
    assert_eq!(out, vec!["hello", "partial"]);
    assert_eq!(err, vec!["oops"]);
    let st = runtime::state(&c.dir).unwrap();
    assert_eq!((st.status.as_str(), st.exit_code), ("exited", Some(3)));
    assert!(st.started_at.is_some() && st.finished_at.is_some());
    let raw = std::fs::read_to_string(c.dir.join("log.jsonl")).unwrap();
    assert!(raw.lines().next().unwrap().starts_with("{\"time\":\"20"), "{raw}");
}

#[test]
fn missing_command_is_a_clear_start_error() {
    let c = container(&["nosuchcmd"], |_| {});
    let e = runtime::start(&c.dir).unwrap_err().to_string();
    assert!(e.contains("exec: \"nosuchcmd\": executable file not found in $PATH"), "{e}");
    let st = runtime::state(&c.dir).unwrap();
    assert_eq!((st.status.as_str(), st.exit_code), ("exited", Some(127)));
    // The same through hoist's init.
    let c = container(&["nosuchcmd"], |s| s.init = true);
    let e = runtime::start(&c.dir).unwrap_err().to_string();
    assert!(e.contains("executable file not found in $PATH"), "{e}");
}

#[test]
fn init_stops_a_shell_at_once() {
    let c = container(&sh("sleep 3600; echo never"), |s| s.init = true);
    let st = runtime::start(&c.dir).unwrap();
    assert_eq!(st.status, "running");
    let t = Instant::now();
    runtime::stop(&c.dir, Duration::from_secs(10)).unwrap();
    assert!(t.elapsed() < Duration::from_secs(3), "took {:?}", t.elapsed());
    let st = runtime::state(&c.dir).unwrap();
    assert_eq!(st.exit_code, Some(128 + 15));
    assert!(st.stopped_by_user);
}

#[test]
fn shell_as_pid1_that_cannot_get_sigterm_is_killed_at_once() {
    // The kernel discards SIGTERM for a namespace init without a handler: Docker waits the
    // grace period out for nothing; the result (SIGKILL, 137) is the same, only sooner.
    let c = container(&sh("sleep 3600; echo never"), |_| {});
    runtime::start(&c.dir).unwrap();
    let t = Instant::now();
    runtime::stop(&c.dir, Duration::from_secs(10)).unwrap();
    let took = t.elapsed();
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert_eq!(runtime::state(&c.dir).unwrap().exit_code, Some(137));
}

#[test]
fn init_waiting_for_signals_is_not_taken_for_deaf() {
    // hoist's init sits in sigwait, where /proc shows its signals unblocked: it still gets
    // SIGTERM, so the command's slow shutdown must have its grace period.
    let c = container(&sh("trap 'sleep 1; exit 3' TERM; while :; do sleep 1; done"), |s| s.init = true);
    runtime::start(&c.dir).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    runtime::stop(&c.dir, Duration::from_secs(10)).unwrap();
    assert_eq!(runtime::state(&c.dir).unwrap().exit_code, Some(3));
}

#[test]
fn shell_as_pid1_with_a_trap_gets_sigterm() {
    let c = container(&sh("trap 'exit 3' TERM; while :; do sleep 1; done"), |_| {});
    runtime::start(&c.dir).unwrap();
    // The trap is in place once the shell runs its loop.
    std::thread::sleep(Duration::from_millis(300));
    runtime::stop(&c.dir, Duration::from_secs(10)).unwrap();
    assert_eq!(runtime::state(&c.dir).unwrap().exit_code, Some(3));
}

#[test]
fn mounts_bind_readonly_and_tmpfs() {
    let host = tempfile::tempdir().unwrap();
    let ro = tempfile::tempdir().unwrap();
    std::fs::write(ro.path().join("f"), "x").unwrap();
    let (h, r) = (host.path().to_path_buf(), ro.path().to_path_buf());
    let c = container(
        &sh("echo written > /data/out && (echo no > /ro/f) 2>/dev/null; echo ro=$?; mount | grep ' /scratch ' | cut -d' ' -f5; cat /ro/f; echo"),
        |s| {
            s.mounts = vec![
                RuntimeMount { source: h, target: "/data".into(), kind: MountKind::Bind, read_only: false },
                RuntimeMount { source: r, target: "/ro".into(), kind: MountKind::Bind, read_only: true },
                RuntimeMount { source: PathBuf::new(), target: "/scratch".into(), kind: MountKind::Tmpfs, read_only: false },
            ]
        },
    );
    let (code, out, _) = run(&c);
    assert_eq!(code, 0);
    assert_eq!(std::fs::read_to_string(host.path().join("out")).unwrap(), "written\n");
    assert_eq!(out, vec!["ro=1", "tmpfs", "x"]);
}

#[test]
fn proc_hostname_env_and_user() {
    let c = container(&sh("ps -o pid,comm | tail -n +2 | wc -l; hostname; echo $FOO; id -u; id -g"), |s| {
        s.env.push("FOO=bar baz".into());
        s.user = Some("65534".into());
    });
    let (code, out, err) = run(&c);
    assert_eq!(code, 0, "{err:?}");
    // sh and ps (plus the pipeline's tail/wc): nothing from the host.
    let procs: usize = out[0].trim().parse().unwrap();
    assert!(procs <= 4, "{out:?}");
    assert_eq!(&out[1..], ["testhost", "bar baz", "65534", "65534"]);
}

#[test]
fn pid_one_is_the_command_or_init() {
    let c = container(&sh("cat /proc/1/cmdline | tr '\\0' ' '; echo"), |_| {});
    let (_, out, _) = run(&c);
    assert_eq!(out, vec!["sh -c cat /proc/1/cmdline | tr '\\0' ' '; echo "]);
}

#[test]
fn restart_on_failure_twice() {
    let c = container(&sh("echo run; exit 1"), |s| s.restart = RestartPolicy::OnFailure(Some(2)));
    runtime::start(&c.dir).unwrap();
    let code = runtime::wait(&c.dir).unwrap();
    assert_eq!(code, 1);
    let st = runtime::state(&c.dir).unwrap();
    assert_eq!(st.restart_count, 2);
    assert_eq!(output(&c).0, vec!["run", "run", "run"]);
}

#[test]
fn healthcheck_becomes_healthy() {
    let c = container(&sh("touch /tmp/ready; sleep 3600"), |s| {
        s.init = true;
        s.healthcheck = Some(HealthSpec {
            test: vec!["CMD-SHELL".into(), "test -f /tmp/ready".into()],
            interval: Duration::from_millis(200),
            timeout: Duration::from_secs(5),
            retries: 3,
            start_period: Duration::ZERO,
        });
    });
    let st = runtime::start(&c.dir).unwrap();
    assert_eq!(st.health.as_deref(), Some("starting"));
    wait_for("healthy", Duration::from_secs(10), || runtime::state(&c.dir).unwrap().health.as_deref() == Some("healthy"));
}

#[test]
fn exec_sees_the_container_and_returns_the_exit_code() {
    let c = container(&sh("echo inside > /tmp/marker; sleep 3600"), |s| s.init = true);
    runtime::start(&c.dir).unwrap();
    wait_for("marker", Duration::from_secs(5), || c.dir.join("upper/tmp/marker").exists());
    let spec = |cmd: &str| ExecSpec { command: sh(cmd).iter().map(|s| s.to_string()).collect(), ..Default::default() };
    assert_eq!(runtime::exec(&c.dir, &spec("grep -q inside /tmp/marker && test $(hostname) = testhost && exit 7")).unwrap(), 7);
    assert_eq!(runtime::exec(&c.dir, &ExecSpec { command: vec!["nosuchcmd".into()], ..Default::default() }).unwrap(), 127);
    let top = runtime::top(&c.dir).unwrap();
    assert_eq!(top.titles[0], "UID");
    assert!(top.processes.iter().any(|r| r[7].contains("sleep 3600")), "{:?}", top.processes);
}

#[test]
fn memory_limit_is_applied_to_the_cgroup() {
    let c = container(&sh("sleep 3600"), |s| {
        s.init = true;
        s.resources.memory = Some(64 * 1024 * 1024);
    });
    let st = runtime::start(&c.dir).unwrap();
    let pid = st.pid.unwrap();
    let group = st.cgroups.iter().find(|g| g.to_string_lossy().contains("memory") || g.join("memory.max").exists()).expect("memory cgroup");
    let limit_file = if group.join("memory.max").exists() { "memory.max" } else { "memory.limit_in_bytes" };
    assert_eq!(std::fs::read_to_string(group.join(limit_file)).unwrap().trim(), (64 * 1024 * 1024).to_string());
    let procs = std::fs::read_to_string(group.join("cgroup.procs")).unwrap();
    assert!(procs.lines().any(|l| l.trim() == pid.to_string()), "{procs}");
    runtime::stop(&c.dir, Duration::from_secs(5)).unwrap();
    assert!(!group.exists(), "cgroup removed on exit");
}

#[test]
fn capabilities_match_dockers_defaults() {
    let c = container(&sh("grep -E '^Cap(Eff|Bnd)' /proc/self/status"), |_| {});
    let (_, out, _) = run(&c);
    assert_eq!(out, vec!["CapEff:\t00000000a80425fb", "CapBnd:\t00000000a80425fb"]);
    let c = container(&sh("grep -E '^CapEff' /proc/self/status"), |s| s.user = Some("nobody".into()));
    assert_eq!(run(&c).1, vec!["CapEff:\t0000000000000000"]);
}

#[test]
fn read_only_rootfs_and_masked_paths() {
    let c = container(&sh("touch /x 2>/dev/null; echo $?; wc -c < /proc/timer_list; touch /tmp/y 2>/dev/null; echo $?"), |s| s.read_only = true);
    let (_, out, _) = run(&c);
    assert_eq!(out, vec!["1", "0", "1"]);
}

#[test]
fn cleanup_leaves_no_mounts() {
    let c = container(&sh("sleep 3600"), |_| {});
    runtime::start(&c.dir).unwrap();
    let mounted = || std::fs::read_to_string("/proc/mounts").unwrap().contains(c.dir.to_str().unwrap());
    assert!(mounted());
    runtime::kill(&c.dir, "KILL").unwrap();
    runtime::wait(&c.dir).unwrap();
    runtime::cleanup(&c.dir).unwrap();
    assert!(!mounted());
}

#[test]
fn tty_output_is_logged_as_stdout() {
    let c = container(&sh("test -t 0 && test -t 1 && echo is-a-tty; tty; echo err >&2"), |s| s.tty = true);
    let (code, out, err) = run(&c);
    assert_eq!(code, 0);
    // The pty comes from the container's own devpts instance.
    assert_eq!(out, vec!["is-a-tty", "/dev/pts/0", "err"]);
    assert!(err.is_empty());
}

#[test]
fn pause_and_unpause() {
    let c = container(&sh("while true; do date +%s%N > /tmp/tick; usleep 20000; done"), |s| s.init = true);
    runtime::start(&c.dir).unwrap();
    let tick = c.dir.join("upper/tmp/tick");
    wait_for("ticks", Duration::from_secs(5), || tick.exists());
    runtime::pause(&c.dir).unwrap();
    assert_eq!(runtime::state(&c.dir).unwrap().status, "paused");
    std::thread::sleep(Duration::from_millis(100));
    let frozen = std::fs::read_to_string(&tick).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(std::fs::read_to_string(&tick).unwrap(), frozen);
    runtime::unpause(&c.dir).unwrap();
    assert_eq!(runtime::state(&c.dir).unwrap().status, "running");
    wait_for("ticks again", Duration::from_secs(5), || std::fs::read_to_string(&tick).unwrap() != frozen);
    // Stopping a paused container thaws it first.
    runtime::pause(&c.dir).unwrap();
    runtime::stop(&c.dir, Duration::from_secs(5)).unwrap();
    assert_eq!(runtime::state(&c.dir).unwrap().status, "exited");
}

#[test]
fn joins_a_network_namespace_and_another_containers_pid_namespace() {
    let name = format!("hoist-rt-test-{}", std::process::id());
    assert!(std::process::Command::new("ip").args(["netns", "add", &name]).status().unwrap().success());
    let netns = PathBuf::from("/var/run/netns").join(&name);
    let ns = netns.clone();
    let a = container(&sh("sleep 3600"), |s| {
        s.init = true;
        s.netns = Some(ns);
    });
    runtime::start(&a.dir).unwrap();
    let pidfile = runtime::pid_file(&a.dir);
    let b = container(&sh("ip -o link | cut -d: -f2; ps -o comm | grep -c sleep"), |s| {
        s.netns = Some(netns.clone());
        s.pid_ns = runtime::NamespaceMode::Container(pidfile);
    });
    let (code, out, err) = run(&b);
    let _ = std::process::Command::new("ip").args(["netns", "del", &name]).status();
    assert_eq!(code, 0, "{err:?}");
    assert_eq!(out, vec![" lo", "1"]);
}

#[test]
fn stop_ends_a_restart_loop() {
    let c = container(&sh("exit 1"), |s| s.restart = RestartPolicy::Always);
    runtime::start(&c.dir).unwrap();
    wait_for("a few restarts", Duration::from_secs(10), || runtime::state(&c.dir).unwrap().restart_count >= 2);
    runtime::stop(&c.dir, Duration::from_secs(5)).unwrap();
    let st = runtime::state(&c.dir).unwrap();
    assert_eq!(st.status, "exited");
    assert!(st.stopped_by_user);
    let count = st.restart_count;
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(runtime::state(&c.dir).unwrap().restart_count, count);
}

#[test]
fn a_dead_supervisor_is_detected() {
    let c = container(&sh("sleep 3600"), |_| {});
    let st = runtime::start(&c.dir).unwrap();
    let sup = nix::unistd::Pid::from_raw(st.supervisor_pid.unwrap());
    nix::sys::signal::kill(sup, nix::sys::signal::Signal::SIGKILL).unwrap();
    let _ = nix::sys::wait::waitpid(sup, Some(nix::sys::wait::WaitPidFlag::WNOHANG));
    wait_for("crash detection", Duration::from_secs(5), || runtime::state(&c.dir).unwrap().status == "exited");
    assert_eq!(runtime::state(&c.dir).unwrap().exit_code, Some(-1));
    assert!(!std::fs::read_to_string("/proc/mounts").unwrap().contains(c.dir.to_str().unwrap()));
}

#[test]
fn exec_with_a_tty() {
    let c = container(&sh("sleep 3600"), |s| s.init = true);
    runtime::start(&c.dir).unwrap();
    let req = serde_json::json!({"command": ["sh", "-c", "test -t 0 && echo tty-ok; exit 4"], "env": ["X=1"], "user": null,
        "working_dir": "/tmp", "tty": true, "interactive": false, "privileged": false});
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hoist")).arg("__exec").arg(&c.dir).arg(req.to_string()).output().unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "tty-ok");
}

#[test]
fn attached_run_feeds_stdin_and_tees_output() {
    use std::io::Write;
    let c = container(&sh("cat; echo done >&2; exit 5"), |_| {});
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_hoist"))
        .arg("__supervise")
        .arg(&c.dir)
        .arg("--attach-stdin")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"hello\nworld\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello\nworld\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "done\n");
    assert_eq!(runtime::state(&c.dir).unwrap().exit_code, Some(5));
    assert_eq!(output(&c).0, vec!["hello", "world"]);
    // The API: exit code back, start errors as errors.
    let c = container(&sh("exit 6"), |_| {});
    assert_eq!(runtime::run_attached(&c.dir, false).unwrap(), 6);
    let c = container(&["nosuchcmd"], |_| {});
    assert!(runtime::run_attached(&c.dir, false).unwrap_err().to_string().contains("executable file not found"));
}

#[test]
fn privileged_gets_every_capability_and_the_host_devices() {
    // Everything hoist itself may use (the host may withhold some from us).
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let ours = status.lines().find_map(|l| l.strip_prefix("CapPrm:")).unwrap().trim().to_string();
    let c = container(&sh("grep ^CapEff /proc/self/status | cut -f2; ls /dev | wc -l; head -c 100 /proc/timer_list | grep -q . && echo unmasked"), |s| s.privileged = true);
    let (code, out, err) = run(&c);
    assert_eq!(code, 0, "{err:?}");
    assert_eq!(out[0], ours);
    let host_devices = std::fs::read_dir("/dev").unwrap().count();
    assert!(out[1].trim().parse::<usize>().unwrap() >= host_devices / 2, "{out:?}");
    assert_eq!(out[2], "unmasked");
}

#[test]
fn exec_passes_stdin_only_when_interactive() {
    use std::io::Write;
    let c = container(&sh("sleep 3600"), |s| {
        s.init = true;
        s.user = Some("nobody".into());
        s.cwd = "/tmp".into();
    });
    runtime::start(&c.dir).unwrap();
    let exec = |interactive: bool, user: Option<&str>| {
        let req = serde_json::json!({"command": ["sh", "-c", "cat; id -u; pwd; echo $E"], "env": ["E=exec-env"], "user": user,
            "working_dir": null, "tty": false, "interactive": interactive, "privileged": false});
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_hoist"))
            .arg("__exec")
            .arg(&c.dir)
            .arg(req.to_string())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(b"typed\n").unwrap();
        String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap()
    };
    assert_eq!(exec(true, None), "typed\n65534\n/tmp\nexec-env\n");
    assert_eq!(exec(false, Some("0")), "0\n/tmp\nexec-env\n");
}

#[test]
fn nothing_of_the_supervisor_leaks_into_the_container() {
    // The command's open fds: its stdio (plus ls's directory handle).
    let c = container(&["ls", "/proc/self/fd"], |_| {});
    assert_eq!(run(&c).1, vec!["0", "1", "2", "3"]);
    // hoist's init cannot be inspected from inside (its fds, memory, environment).
    let c = container(&sh("readlink /proc/1/fd/1 >/dev/null 2>&1 && echo readable || echo hidden"), |s| s.init = true);
    assert_eq!(run(&c).1, vec!["hidden"]);
}

/// The supervisors (`hoist __supervise DIR`) alive for this container directory.
fn supervisors(dir: &Path) -> usize {
    let dir = dir.as_os_str().as_encoded_bytes().to_vec();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .filter(|c| c.split(|b| *b == 0).any(|a| a == b"__supervise") && c.split(|b| *b == 0).any(|a| a == dir.as_slice()))
        .count()
}

#[test]
fn one_supervisor_when_starts_race() {
    // A supervisor left starting by a `hoist up` killed after spawning it, while the next
    // `up` starts the container again, and several starts at once: one container runs.
    let c = container(&sh("echo once; exec sleep 60"), |_| {});
    let left = std::process::Command::new(env!("CARGO_BIN_EXE_hoist")).arg("__supervise").arg(&c.dir).spawn().unwrap();
    let starts: Vec<_> = (0..4).map(|_| {
        let dir = c.dir.clone();
        std::thread::spawn(move || runtime::start(&dir).map(|st| st.pid))
    }).collect();
    let pids: Vec<_> = starts.into_iter().map(|t| t.join().unwrap().unwrap()).collect();
    assert!(pids.iter().all(|p| p.is_some() && *p == pids[0]), "starts saw different processes: {pids:?}");
    wait_for("the other supervisors to leave", Duration::from_secs(5), || supervisors(&c.dir) == 1);
    wait_for("the output", Duration::from_secs(5), || !output(&c).0.is_empty());
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(output(&c).0, vec!["once"]);
    let st = runtime::state(&c.dir).unwrap();
    assert_eq!(st.pid, pids[0], "{st:?} {}", std::fs::read_to_string(c.dir.join("supervisor.log")).unwrap_or_default());
    runtime::stop(&c.dir, Duration::from_secs(10)).unwrap();
    // The left one may be the one that won (it is our child: collect it).
    let mut left = left;
    let _ = left.wait();
    wait_for("the supervisor to end", Duration::from_secs(10), || supervisors(&c.dir) == 0);
}
