//! `hoist __supervise DIR`: the per-container supervisor. It mounts the rootfs, binds the
//! ports, creates the container process in new namespaces, logs its output, applies the
//! restart policy, runs the healthcheck, and records everything in `state.json`.

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sched::CloneFlags;
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork};

use super::logs::LogWriter;
use super::state::{self, LOG_FILE, STOPPED_MARKER};
use super::{NamespaceMode, ProcessState, RestartPolicy, RuntimeSpec, cgroups, container, devices, health, init, pty};

/// The state shared by the main loop and the healthcheck thread; every change is written.
pub struct Shared {
    pub dir: PathBuf,
    pub state: Mutex<ProcessState>,
    /// The write end of `start`'s pipe: closed once the first start is recorded (running,
    /// or failed), which wakes `start` up without polling.
    ready: Mutex<Option<File>>,
}

impl Shared {
    /// Tells `start` that the state it waits for is recorded.
    fn ready(&self) {
        drop(self.ready.lock().unwrap_or_else(|e| e.into_inner()).take());
    }

    pub fn update(&self, f: impl FnOnce(&mut ProcessState)) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut st);
        if let Err(e) = state::write_state(&self.dir, &st) {
            eprintln!("hoist supervisor: {e}");
        }
    }
    pub fn snapshot(&self) -> ProcessState {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// How a foreground (`run_attached`) supervisor shares the caller's stdio.
#[derive(Debug, Clone, Copy, Default)]
pub struct Attach {
    /// Output also goes to our stdout/stderr (the caller's).
    pub attached: bool,
    /// Our stdin feeds the container's.
    pub stdin: bool,
}

/// How the supervisor was launched, and where its claim on the container comes from.
#[derive(Debug, Clone, Copy)]
pub enum Launch {
    /// By `start`: stdin is the claim, stdout the ready pipe; the supervisor detaches
    /// itself (fork, setsid), so `start` can spawn it cheaply (posix_spawn, no pre_exec).
    Daemon,
    /// With the claim's fd inherited (`--claim-fd=N`, attached runs).
    Claim(RawFd),
    /// Takes the claim itself.
    Own,
}

/// Moves an inherited stdio fd to a fresh close-on-exec fd and puts /dev/null in its
/// place; None if the fd is not open.
fn take_stdio(fd: RawFd) -> Option<File> {
    // SAFETY: fcntl/open/dup2/close on fds of this single-threaded process.
    unsafe {
        let moved = libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3);
        if moved < 0 {
            return None;
        }
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC);
        if null >= 0 {
            libc::dup2(null, fd);
            libc::close(null);
        }
        Some(<File as std::os::fd::FromRawFd>::from_raw_fd(moved))
    }
}

pub fn main(dir: &Path, attach: Attach, launch: Launch) -> i32 {
    let (claim, ready) = match launch {
        Launch::Daemon => {
            // Detached from the caller: reparented to init, in a session of its own. No
            // thread exists yet, so forking here is safe.
            // SAFETY: single-threaded; the parent only exits.
            match unsafe { fork() } {
                Ok(ForkResult::Parent { .. }) => unsafe { libc::_exit(0) },
                Ok(ForkResult::Child) => {}
                Err(e) => {
                    eprintln!("hoist supervisor: fork: {e}");
                    return 1;
                }
            }
            let _ = nix::unistd::setsid();
            let claim = take_stdio(0);
            let ready = take_stdio(1);
            match claim {
                Some(c) => (Some(c.into()), ready),
                None => return 1,
            }
        }
        // SAFETY: `start` passed this fd to us for the claim; nothing else owns it.
        Launch::Claim(fd) => (Some(unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) }), None),
        Launch::Own => (None, None),
    };
    main_claimed(dir, attach, claim, ready)
}

/// `claim`: the container's claim, taken by `start` and inherited; without it the
/// supervisor takes the claim itself.
fn main_claimed(dir: &Path, attach: Attach, claim: Option<std::os::fd::OwnedFd>, ready: Option<File>) -> i32 {
    // Attached: signals for the caller's foreground group go to the container instead;
    // blocked before any thread exists so that only the forwarding thread takes them.
    if attach.attached {
        let _ = nix::sys::signal::pthread_sigmask(nix::sys::signal::SigmaskHow::SIG_BLOCK, Some(&forwarded_signals()), None);
    }
    QUIET.store(attach.attached, std::sync::atomic::Ordering::Relaxed);
    let code = supervise(dir, attach, claim, ready);
    // Leave the caller's terminal as we found it.
    drop(RAW_MODE.lock().map(|mut r| r.take()));
    code
}

static QUIET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The caller's terminal while a tty container is attached (restored at exit).
static RAW_MODE: Mutex<Option<pty::RawMode>> = Mutex::new(None);

fn forwarded_signals() -> nix::sys::signal::SigSet {
    use nix::sys::signal::Signal::*;
    let mut set = nix::sys::signal::SigSet::empty();
    for sig in [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH] {
        set.add(sig);
    }
    set
}

/// Takes the container's claim. None: another supervisor runs this container (`start`
/// spawns one only when the claim is free, so two meet only when a killed `hoist` left one
/// starting), or its directory is gone; this one then leaves without touching anything.
fn claim(dir: &Path) -> Option<File> {
    match state::claim(dir) {
        Ok(claim) => claim,
        Err(e) => {
            eprintln!("hoist supervisor: {e}");
            None
        }
    }
}

fn supervise(dir: &Path, attach: Attach, claim: Option<std::os::fd::OwnedFd>, ready: Option<File>) -> i32 {
    // Held until the process is gone: the kernel releases it as the process exits (after
    // its memory, so a `remove` waiting for it never sees this supervisor alive).
    let claim: std::os::fd::OwnedFd = match claim {
        Some(fd) => {
            // Not inherited by the helpers we exec (healthchecks).
            // SAFETY: fcntl on the fd we own.
            unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) };
            fd
        }
        None => match self::claim(dir) {
            Some(file) => file.into(),
            None => return 0,
        },
    };
    std::mem::forget(claim);
    let spec = match state::read_spec(dir) {
        Ok(s) => s,
        Err(e) => {
            let st = ProcessState { status: "exited".into(), exit_code: Some(-1), error: Some(e.to_string()), ..Default::default() };
            let _ = state::write_state(dir, &st);
            return 1;
        }
    };
    let shared = Arc::new(Shared {
        dir: dir.to_path_buf(),
        state: Mutex::new(ProcessState { status: "created".into(), supervisor_pid: Some(std::process::id() as i32), ..Default::default() }),
        ready: Mutex::new(ready),
    });
    shared.update(|_| {});
    // Never keep the caller's directory busy (it may be unmounted later).
    let _ = std::env::set_current_dir("/");

    // Orphans of the container's first process (its pid once its forker exits) come to us.
    // SAFETY: integer-only prctl.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1 as libc::c_ulong, 0, 0, 0) };

    if let Err(msg) = prepare(&spec, &shared) {
        return fail(&spec, &shared, msg);
    }
    let log = match LogWriter::open(&dir.join(LOG_FILE), spec.log) {
        Ok(l) => l,
        Err(e) => return fail(&spec, &shared, format!("opening the log: {e}")),
    };
    if let Some(h) = spec.healthcheck.clone() {
        health::spawn(shared.clone(), h, spec.events.clone());
    }
    if attach.attached {
        forward_signals(shared.clone());
    }
    run_loop(&spec, &shared, &log, attach)
}

/// cgroups, rootfs and ports: everything before the first process.
fn prepare(spec: &RuntimeSpec, shared: &Shared) -> Result<(), String> {
    let device_rules = devices::rules(spec.privileged, &spec.devices)?;
    let groups = cgroups::create(&spec.id, spec.cgroup_parent.as_deref(), &spec.resources, &device_rules).map_err(|e| format!("cgroup: {e}"))?;
    shared.update(|s| s.cgroups = groups);
    container::mount_rootfs(spec)?;
    let bound = crate::backend::builtin::network::proxy::bind(&spec.ports).map_err(|e| e.to_string())?;
    shared.update(|s| s.ports = bound.forwards.clone());
    crate::backend::builtin::network::proxy::serve(bound);
    Ok(())
}

fn fail(spec: &RuntimeSpec, shared: &Shared, msg: String) -> i32 {
    // Attached, the caller reports the error (from the state) itself.
    if !QUIET.load(std::sync::atomic::Ordering::Relaxed) {
        eprintln!("hoist supervisor: {msg}");
    }
    teardown(spec, shared);
    shared.update(|s| {
        s.status = "exited".into();
        s.pid = None;
        s.exit_code = Some(if msg.contains("not found") || msg.contains("no such file") { 127 } else { 126 });
        s.finished_at = Some(chrono::Utc::now());
        s.error = Some(msg);
    });
    shared.ready();
    1
}

fn teardown(spec: &RuntimeSpec, shared: &Shared) {
    container::unmount_all(&spec.rootfs);
    cgroups::remove(&shared.snapshot().cgroups);
}

/// Takes the blocked signals and passes them to the container's first process (window
/// size changes to its tty).
fn forward_signals(shared: Arc<Shared>) {
    std::thread::spawn(move || {
        let set = forwarded_signals();
        loop {
            let Ok(sig) = set.wait() else { continue };
            if sig == nix::sys::signal::Signal::SIGWINCH {
                if let (Some(ws), Ok(guard)) = (pty::window_size(0), TTY_MASTER.lock())
                    && let Some(fd) = *guard
                {
                    // SAFETY: TIOCSWINSZ with a valid winsize on the live master.
                    unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &ws) };
                }
                continue;
            }
            if let Some(pid) = shared.snapshot().pid {
                let _ = nix::sys::signal::kill(Pid::from_raw(pid), sig);
            }
        }
    });
}

/// The current tty master (for window size changes of an attached caller).
static TTY_MASTER: Mutex<Option<RawFd>> = Mutex::new(None);

fn run_loop(spec: &RuntimeSpec, shared: &Shared, log: &LogWriter, attach: Attach) -> i32 {
    let mut delay = Duration::ZERO;
    loop {
        let groups = shared.snapshot().cgroups;
        let running = match spawn(spec, &groups, log, attach) {
            Ok(r) => r,
            // The first start reports to `start()`; later ones fail like an exit.
            Err(msg) if shared.snapshot().restart_count == 0 => return fail(spec, shared, msg),
            Err(msg) => {
                log.write_line("stderr", msg.as_bytes());
                return fail(spec, shared, msg);
            }
        };
        let started = Instant::now();
        // Other containers join this one's pid/ipc namespaces through this file.
        let _ = std::fs::write(shared.dir.join(state::PID_FILE), running.pid.as_raw().to_string());
        shared.update(|s| {
            s.status = "running".into();
            s.pid = Some(running.pid.as_raw());
            s.started_at = Some(chrono::Utc::now());
            s.exit_code = None;
            s.error = None;
            s.health = spec.healthcheck.as_ref().map(|_| "starting".to_string());
        });
        shared.ready();
        emit(spec, "start", &[]);

        let code = wait_exit(running.pid);
        if let Ok(mut m) = TTY_MASTER.lock() {
            *m = None;
        }
        let _ = std::fs::remove_file(shared.dir.join(state::PID_FILE));
        running.finish_logs();
        let stopped = state::has_marker(&shared.dir, STOPPED_MARKER);
        shared.update(|s| {
            s.exit_code = Some(code);
            s.finished_at = Some(chrono::Utc::now());
            s.pid = None;
            s.stopped_by_user = stopped;
        });
        emit(spec, "die", &[("exitCode", code.to_string())]);

        if stopped || !should_restart(&spec.restart, code, shared.snapshot().restart_count) {
            break;
        }
        delay = next_delay(delay, started.elapsed());
        shared.update(|s| s.status = "restarting".into());
        let until = Instant::now() + delay;
        while Instant::now() < until && !state::has_marker(&shared.dir, STOPPED_MARKER) {
            std::thread::sleep(Duration::from_millis(20));
        }
        if state::has_marker(&shared.dir, STOPPED_MARKER) {
            shared.update(|s| s.stopped_by_user = true);
            break;
        }
        shared.update(|s| s.restart_count += 1);
    }
    teardown(spec, shared);
    shared.update(|s| s.status = "exited".into());
    0
}

/// Records a container event, when the backend asked for events.
pub fn emit(spec: &RuntimeSpec, action: &str, extra: &[(&str, String)]) {
    if let Some(sink) = &spec.events {
        sink.emit(action, extra);
    }
}

/// Whether the policy restarts a process that exited with `code` after `count` restarts.
fn should_restart(policy: &RestartPolicy, code: i32, count: u32) -> bool {
    match policy {
        RestartPolicy::No => false,
        RestartPolicy::Always | RestartPolicy::UnlessStopped => true,
        RestartPolicy::OnFailure(max) => code != 0 && max.is_none_or(|m| count < m),
    }
}

/// Back-off before a restart: 100ms doubling up to a minute, back to 100ms once the
/// process had run for 10s.
fn next_delay(previous: Duration, ran: Duration) -> Duration {
    if previous.is_zero() || ran >= Duration::from_secs(10) {
        Duration::from_millis(100)
    } else {
        (previous * 2).min(Duration::from_secs(60))
    }
}

/// Waits for the container's first process, reaping on the way the orphans that come
/// to us from the container's pid namespace: an `exec`'d command whose `hoist __exec`
/// died (a timed-out health check, a killed `hoist exec`) is reparented to us, its nearest
/// subreaper. Left a zombie, it would keep the dying first process waiting for its
/// namespace to empty, and the container could never stop. Our own helpers live in the
/// host's namespace; their owners reap them.
fn wait_exit(pid: Pid) -> i32 {
    use nix::sys::wait::{waitid, Id, WaitPidFlag};
    loop {
        match waitid(Id::All, WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT) {
            Ok(status) => match status.pid() {
                Some(p) if p == pid => break,
                Some(p) if in_nested_pid_namespace(p) => {
                    let _ = waitpid(p, None);
                }
                // A helper's owner reaps it in a moment.
                _ => std::thread::sleep(Duration::from_millis(10)),
            },
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => break,
        }
    }
    loop {
        match waitpid(pid, None) {
            Ok(WaitStatus::Exited(_, code)) => return code,
            Ok(WaitStatus::Signaled(_, sig, _)) => return 128 + sig as i32,
            Ok(_) => continue,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return -1,
        }
    }
}

/// Whether `pid` (a zombie still has its status file) lives in a pid namespace below ours.
fn in_nested_pid_namespace(pid: Pid) -> bool {
    let depth = |status: &str| std::fs::read_to_string(status).ok()?.lines().find_map(|l| l.strip_prefix("NSpid:")).map(|ids| ids.split_whitespace().count());
    depth(&format!("/proc/{pid}/status")).zip(depth("/proc/self/status")).is_some_and(|(theirs, ours)| theirs > ours)
}

/// A started container process and the threads copying its output.
struct Running {
    pid: Pid,
    copiers: Vec<std::thread::JoinHandle<()>>,
    /// Write end of a kept-open stdin (`stdin_open`), closed when the process is gone.
    _stdin: Option<OwnedFd>,
}

impl Running {
    /// Lets the copiers drain what the process wrote; daemons that escaped the pid
    /// namespace could hold the pipes forever, hence the time limit.
    fn finish_logs(self) {
        let deadline = Instant::now() + Duration::from_secs(2);
        for h in self.copiers {
            while !h.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            if h.is_finished() {
                let _ = h.join();
            }
        }
    }
}

/// Feeds our stdin (the attached caller's) to the container until EOF, then closes `to`
/// so the container sees EOF too.
fn copy_stdin_to(to: OwnedFd) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        loop {
            // SAFETY: reading into a live buffer from our stdin.
            let n = unsafe { libc::read(0, buf.as_mut_ptr().cast(), buf.len()) };
            if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            if n <= 0 {
                break;
            }
            super::logs::write_fd(to.as_raw_fd(), &buf[..n as usize]);
        }
        drop(to);
    });
}

fn pipe() -> Result<(OwnedFd, OwnedFd), String> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"))
}

/// The fds the container's first process gets as stdio.
enum Stdio {
    Pipes { stdin: OwnedFd, stdout: OwnedFd, stderr: OwnedFd },
    /// The pty is made inside the container; its master goes back over `socket`.
    Tty { socket: OwnedFd, size: libc::winsize },
}

fn open_ns(pidfile: &Path, ns: &str) -> Result<File, String> {
    let text = std::fs::read_to_string(pidfile).map_err(|e| format!("reading {}: {e}", pidfile.display()))?;
    let pid: i32 = text.trim().parse().map_err(|_| format!("{}: not a pid", pidfile.display()))?;
    let path = format!("/proc/{pid}/ns/{ns}");
    File::open(&path).map_err(|e| format!("opening {path} (is the other container running?): {e}"))
}

/// Forks the container process in its namespaces. An intermediate child enters/creates
/// the namespaces (new pid namespaces apply to children only) and forks the process,
/// which comes back to us as orphan (we are a subreaper). Returns once the command was
/// exec'd, or the error that prevented it.
fn spawn(spec: &RuntimeSpec, groups: &[PathBuf], log: &LogWriter, attach: Attach) -> Result<Running, String> {
    let netns = spec.netns.as_ref().map(|p| File::open(p).map_err(|e| format!("opening network namespace {}: {e}", p.display()))).transpose()?;
    let pidns = match &spec.pid_ns {
        NamespaceMode::Container(f) => Some(open_ns(f, "pid")?),
        _ => None,
    };
    let ipcns = match &spec.ipc_ns {
        NamespaceMode::Container(f) => Some(open_ns(f, "ipc")?),
        _ => None,
    };
    let mut unshare = CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWUTS;
    if spec.pid_ns == NamespaceMode::Private {
        unshare |= CloneFlags::CLONE_NEWPID;
    }
    if spec.ipc_ns == NamespaceMode::Private {
        unshare |= CloneFlags::CLONE_NEWIPC;
    }

    let (err_r, err_w) = pipe()?;
    let (pid_r, pid_w) = pipe()?;
    let mut copiers = Vec::new();
    let mut kept_stdin = None;
    let mut console = None;
    let stdio = if spec.tty {
        let default = libc::winsize { ws_row: 24, ws_col: 80, ws_xpixel: 0, ws_ypixel: 0 };
        let size = if attach.attached { pty::window_size(0).unwrap_or(default) } else { default };
        // The pty is opened inside the container (its own devpts, so `tty` names it); the
        // master comes back over this socket.
        let (ours, theirs) = nix::sys::socket::socketpair(
            nix::sys::socket::AddressFamily::Unix,
            nix::sys::socket::SockType::Stream,
            None,
            nix::sys::socket::SockFlag::SOCK_CLOEXEC,
        )
        .map_err(|e| format!("socketpair: {e}"))?;
        console = Some(ours);
        Stdio::Tty { socket: theirs, size }
    } else {
        let (out_r, out_w) = pipe()?;
        let (e_r, e_w) = pipe()?;
        copiers.push(log.spawn_copier("stdout", out_r, attach.attached.then_some(1)));
        copiers.push(log.spawn_copier("stderr", e_r, attach.attached.then_some(2)));
        let stdin = if attach.stdin {
            let (in_r, in_w) = pipe()?;
            copy_stdin_to(in_w);
            in_r
        } else if spec.stdin_open {
            let (in_r, in_w) = pipe()?;
            kept_stdin = Some(in_w);
            in_r
        } else {
            File::open("/dev/null").map_err(|e| format!("/dev/null: {e}"))?.into()
        };
        Stdio::Pipes { stdin, stdout: out_w, stderr: e_w }
    };

    // SAFETY: the child only runs its setup and then execs or _exits; glibc's fork keeps
    // malloc usable in it, and no lock of ours is held across this call.
    match unsafe { fork() }.map_err(|e| format!("fork: {e}"))? {
        ForkResult::Child => {
            drop(err_r);
            drop(pid_r);
            let res = (|| -> Result<(), String> {
                cgroups::add_pid(groups, std::process::id() as i32).map_err(|e| format!("cgroup: {e}"))?;
                // Before the forks below: init and the command inherit it.
                super::set_oom_score_adj(spec.oom_score_adj)?;
                if let Some(ns) = &netns {
                    nix::sched::setns(ns, CloneFlags::CLONE_NEWNET).map_err(|e| format!("joining the network namespace: {e}"))?;
                }
                if let Some(ns) = &pidns {
                    nix::sched::setns(ns, CloneFlags::CLONE_NEWPID).map_err(|e| format!("joining the pid namespace: {e}"))?;
                }
                if let Some(ns) = &ipcns {
                    nix::sched::setns(ns, CloneFlags::CLONE_NEWIPC).map_err(|e| format!("joining the ipc namespace: {e}"))?;
                }
                nix::sched::unshare(unshare).map_err(|e| format!("creating namespaces: {e}"))?;
                // SAFETY: as above; the grandchild is PID 1 of the new pid namespace.
                match unsafe { fork() }.map_err(|e| format!("fork: {e}"))? {
                    ForkResult::Child => {
                        container_main(spec, &stdio, err_w.as_raw_fd())
                    }
                    ForkResult::Parent { child } => {
                        let _ = nix::unistd::write(&pid_w, &child.as_raw().to_ne_bytes());
                        Ok(())
                    }
                }
            })();
            if let Err(msg) = res {
                let _ = nix::unistd::write(&err_w, msg.as_bytes());
                // SAFETY: leaving the forked child without running the parent's destructors.
                unsafe { libc::_exit(1) };
            }
            // SAFETY: as above.
            unsafe { libc::_exit(0) };
        }
        ForkResult::Parent { child } => {
            drop(err_w);
            drop(pid_w);
            drop(stdio);
            let _ = waitpid(child, None);
            let mut buf = [0u8; 4];
            let got_pid = File::from(pid_r).read_exact(&mut buf).is_ok();
            let mut msg = String::new();
            let _ = File::from(err_r).read_to_string(&mut msg);
            if !got_pid {
                return Err(if msg.is_empty() { "the container process could not be created".into() } else { msg });
            }
            let pid = Pid::from_raw(i32::from_ne_bytes(buf));
            if msg.is_empty()
                && let Some(sock) = console
            {
                match pty::recv_fd(&sock) {
                    Some(master) => {
                        if attach.stdin {
                            if pty::is_tty(0)
                                && let Ok(mut raw) = RAW_MODE.lock()
                                && raw.is_none()
                            {
                                *raw = pty::RawMode::enter(0);
                            }
                            copy_stdin_to(master.try_clone().map_err(|e| format!("dup: {e}"))?);
                        }
                        if let Ok(mut m) = TTY_MASTER.lock() {
                            *m = Some(master.as_raw_fd());
                        }
                        copiers.push(log.spawn_copier("stdout", master, attach.attached.then_some(1)));
                    }
                    None => msg = "the container did not hand over its terminal".into(),
                }
            }
            if !msg.is_empty() {
                let _ = waitpid(pid, None);
                return Err(msg);
            }
            Ok(Running { pid, copiers, _stdin: kept_stdin })
        }
    }
}

/// Closes every fd above stderr except `keep`.
fn close_fds_except(keep: &[RawFd]) {
    let fds: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")
        .map(|d| d.flatten().filter_map(|e| e.file_name().to_str()?.parse().ok()).collect())
        .unwrap_or_default();
    for fd in fds {
        if fd > 2 && !keep.contains(&fd) {
            // SAFETY: closing fds of this forked child; Rust objects owning some of them are
            // never dropped (the process execs or _exits).
            unsafe { libc::close(fd) };
        }
    }
}

/// The container's first process, after the namespaces exist. Never returns on success
/// (exec, or init's exit); errors go to the error pipe.
fn container_main(spec: &RuntimeSpec, stdio: &Stdio, err_fd: RawFd) -> ! {
    let res = (|| -> Result<(), String> {
        // SAFETY: dup2 onto our own stdio slots; the /dev/null fd is closed right after.
        unsafe {
            match stdio {
                Stdio::Pipes { stdin, stdout, stderr } => {
                    libc::dup2(stdin.as_raw_fd(), 0);
                    libc::dup2(stdout.as_raw_fd(), 1);
                    libc::dup2(stderr.as_raw_fd(), 2);
                }
                // The tty goes to the command alone; init must not own it.
                Stdio::Tty { .. } => {
                    let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC);
                    if null < 0 {
                        return Err(format!("/dev/null: {}", std::io::Error::last_os_error()));
                    }
                    for fd in 0..3 {
                        libc::dup2(null, fd);
                    }
                    libc::close(null);
                }
            }
        }
        // Nothing of the supervisor's (log file, listening sockets, namespace handles) may
        // stay reachable from the container through /proc/1/fd.
        let keep = match stdio {
            Stdio::Tty { socket, .. } => vec![err_fd, socket.as_raw_fd()],
            Stdio::Pipes { .. } => vec![err_fd],
        };
        close_fds_except(&keep);
        container::setup_rootfs(spec)?;
        let tty_slave = match stdio {
            Stdio::Tty { socket, size } => {
                let p = pty::open(Some(*size)).map_err(|e| format!("allocating a pty: {e}"))?;
                pty::send_fd(socket, &p.master).map_err(|e| format!("handing over the pty: {e}"))?;
                Some(p.slave)
            }
            Stdio::Pipes { .. } => None,
        };
        let cwd = if spec.cwd.is_empty() { "/".to_string() } else { spec.cwd.clone() };
        let id = container::identity(Path::new("/"), spec.user.as_deref(), &spec.group_add, spec.privileged, &spec.cap_add, &spec.cap_drop, &spec.security_opt)?;
        container::finish_rootfs(spec, &cwd)?;
        container::apply_rlimits(&spec.ulimits)?;
        let env = container::full_env(&spec.env, &spec.hostname, &id.user.home);
        std::env::set_current_dir(&cwd).map_err(|e| format!("chdir to the working directory {cwd}: {e}"))?;
        container::apply_identity(&id)?;
        let program = container::find_program(spec.args.first().map(String::as_str).unwrap_or_default(), &env)?;
        let slave = tty_slave.as_ref().map(|s| s.as_raw_fd());
        if !spec.init {
            if let Some(fd) = slave {
                pty::attach_slave(fd).map_err(|e| format!("setting up the tty: {e}"))?;
            }
            return Err(container::exec(&program, &spec.args, &env));
        }
        init::block_all_signals();
        // SAFETY: single-threaded process; the child execs or _exits.
        match unsafe { fork() }.map_err(|e| format!("fork: {e}"))? {
            ForkResult::Child => {
                let msg = match slave {
                    Some(fd) => pty::attach_slave(fd).map_err(|e| format!("setting up the tty: {e}")).err(),
                    None => nix::unistd::setpgid(Pid::from_raw(0), Pid::from_raw(0)).err().map(|e| format!("setpgid: {e}")),
                };
                let msg = msg.unwrap_or_else(|| container::exec(&program, &spec.args, &env));
                // SAFETY: writing our message to the error pipe, then leaving.
                unsafe {
                    libc::write(err_fd, msg.as_ptr().cast(), msg.len());
                    libc::_exit(if msg.contains("not found") || msg.contains("no such file") { 127 } else { 126 });
                }
            }
            ForkResult::Parent { child } => {
                // Init is hoist code running as root: keep the container's processes out of
                // its /proc entries. Orphans outside a new pid namespace come to it too.
                // SAFETY: integer-only prctls.
                unsafe {
                    libc::prctl(libc::PR_SET_DUMPABLE, 0 as libc::c_ulong, 0, 0, 0);
                    libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1 as libc::c_ulong, 0, 0, 0);
                }
                if slave.is_none() {
                    let _ = nix::unistd::setpgid(child, child);
                }
                // SAFETY: our copy of the error pipe: the command's closes at exec.
                unsafe { libc::close(err_fd) };
                let code = init::forward_and_reap(child);
                // SAFETY: PID 1 leaves with the command's status.
                unsafe { libc::_exit(code) };
            }
        }
    })();
    let msg = res.err().unwrap_or_default();
    // SAFETY: reporting and leaving the forked child.
    unsafe {
        libc::write(err_fd, msg.as_ptr().cast(), msg.len());
        libc::_exit(if msg.contains("not found") || msg.contains("no such file") { 127 } else { 126 });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_policies() {
        assert!(!should_restart(&RestartPolicy::No, 1, 0));
        assert!(should_restart(&RestartPolicy::Always, 0, 99));
        assert!(should_restart(&RestartPolicy::UnlessStopped, 0, 0));
        assert!(!should_restart(&RestartPolicy::OnFailure(None), 0, 0));
        assert!(should_restart(&RestartPolicy::OnFailure(None), 2, 50));
        assert!(should_restart(&RestartPolicy::OnFailure(Some(2)), 1, 1));
        assert!(!should_restart(&RestartPolicy::OnFailure(Some(2)), 1, 2));
    }

    #[test]
    fn back_off_doubles_caps_and_resets() {
        let ms = Duration::from_millis;
        let quick = ms(50);
        let mut d = next_delay(Duration::ZERO, quick);
        assert_eq!(d, ms(100));
        d = next_delay(d, quick);
        assert_eq!(d, ms(200));
        for _ in 0..20 {
            d = next_delay(d, quick);
        }
        assert_eq!(d, Duration::from_secs(60));
        assert_eq!(next_delay(d, Duration::from_secs(10)), ms(100));
    }
}
