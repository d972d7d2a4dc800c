//! The container process side of the built-in runtime: the per-container supervisor
//! (`hoist __supervise DIR`), hoist's own init as PID 1, namespaces, rootfs mounts,
//! capabilities, cgroups, exec into a running container. See docs/runtime.md.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::backend::builtin::events::EventSink;
use crate::backend::builtin::network::PortForward;

mod bpf;
mod caps;
pub mod cgroups;
mod container;
mod devices;
pub mod exec;
mod health;
mod init;
pub mod logs;
mod pty;
mod seccomp;
pub mod state;
mod supervisor;
mod user;

use state::{PAUSED_MARKER, STOPPED_MARKER, err};
pub use container::{mounts_under, unmount_all};

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("{context}: {message}")]
    Failed { context: String, message: String },
}

pub type Result<T> = std::result::Result<T, RuntimeError>;

/// Everything needed to run one container; written as `runtime.json` in the container
/// directory by the backend, read by the supervisor.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RuntimeSpec {
    pub id: String,
    pub name: String,
    /// Image layer directories, lowest first.
    pub layers: Vec<PathBuf>,
    /// A read-only layer under the image's holding the mount points every container
    /// needs (`/proc`, `/sys`, `/dev`, `/etc/hosts`...; see `base_layer`), so they are not
    /// made again in each container's upper directory (Docker's "init layer", shared).
    #[serde(default)]
    pub base_layer: Option<PathBuf>,
    /// Per-container overlay upper and work dirs (kept across restarts), and the mount point.
    pub upper_dir: PathBuf,
    pub work_dir: PathBuf,
    pub rootfs: PathBuf,
    pub mounts: Vec<RuntimeMount>,
    /// argv (entrypoint + command, already resolved against the image).
    pub args: Vec<String>,
    /// `KEY=value`.
    pub env: Vec<String>,
    pub cwd: String,
    /// `uid[:gid]` or names resolved against the image's /etc/passwd and /etc/group.
    pub user: Option<String>,
    pub group_add: Vec<String>,
    pub hostname: String,
    pub domainname: Option<String>,
    /// Network namespace to join: None = share the host's.
    pub netns: Option<PathBuf>,
    /// Join another container's pid / ipc namespace (its init pid file), or the host's (None + flag).
    pub pid_ns: NamespaceMode,
    pub ipc_ns: NamespaceMode,
    pub tty: bool,
    pub stdin_open: bool,
    /// hoist's init as PID 1 (forwards signals, reaps zombies).
    pub init: bool,
    pub privileged: bool,
    pub read_only: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub security_opt: Vec<String>,
    pub sysctls: Vec<(String, String)>,
    pub ulimits: Vec<(String, i64, i64)>,
    /// `devices:` entries, `host[:container][:permissions]` (see `devices::parse`).
    pub devices: Vec<crate::compose::model::Device>,
    pub resources: Resources,
    /// Where the container's cgroups go (`None`: `hoist`); see `cgroups::create`.
    #[serde(default)]
    pub cgroup_parent: Option<String>,
    /// `/proc/<pid>/oom_score_adj` of the container's processes.
    #[serde(default)]
    pub oom_score_adj: Option<i64>,
    pub stop_signal: String,
    pub stop_timeout: Duration,
    pub restart: RestartPolicy,
    pub healthcheck: Option<HealthSpec>,
    /// Host ports the supervisor proxies into the container.
    pub ports: Vec<PortForward>,
    /// Where the supervisor records starts, exits and health changes.
    #[serde(default)]
    pub events: Option<EventSink>,
    /// What becomes of the container's output (`logging:`).
    #[serde(default)]
    pub log: crate::compose::logging::LogPolicy,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub enum NamespaceMode {
    #[default]
    Private,
    Host,
    /// Join the namespace of the process whose pid is in this file (another container's init).
    Container(PathBuf),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuntimeMount {
    pub source: PathBuf,
    pub target: String,
    pub kind: MountKind,
    pub read_only: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MountKind {
    Bind,
    Tmpfs,
    /// A local volume of `type: tmpfs`: a fresh tmpfs with the volume's options (`source`)
    /// and none of the nosuid/nodev/noexec defaults, as the local driver mounts it.
    TmpfsVolume,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Resources {
    pub memory: Option<u64>,
    /// A soft limit (Docker's MemoryReservation).
    pub memory_reservation: Option<u64>,
    pub memory_swap: Option<i64>,
    pub cpu_shares: Option<u64>,
    pub cpus: Option<f64>,
    pub pids_limit: Option<i64>,
    pub shm_size: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub enum RestartPolicy {
    #[default]
    No,
    Always,
    OnFailure(Option<u32>),
    UnlessStopped,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HealthSpec {
    /// `["CMD", ...]` or `["CMD-SHELL", "..."]`.
    pub test: Vec<String>,
    pub interval: Duration,
    pub timeout: Duration,
    pub retries: u32,
    pub start_period: Duration,
}

/// What the supervisor records in `state.json`, readable by any later CLI call.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ProcessState {
    /// `created`, `running`, `restarting`, `exited`, `paused`.
    pub status: String,
    pub supervisor_pid: Option<i32>,
    /// Host pid of the container's PID 1.
    pub pid: Option<i32>,
    pub exit_code: Option<i32>,
    pub started_at: Option<chrono::DateTime<chrono::Utc>>,
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
    /// `starting`, `healthy`, `unhealthy`.
    pub health: Option<String>,
    pub restart_count: u32,
    /// Set by `stop`: the restart policy must not bring it back.
    pub stopped_by_user: bool,
    /// Host ports actually bound (random ones resolved).
    pub ports: Vec<PortForward>,
    pub error: Option<String>,
    /// The container's cgroup directories (for `top`, pause and cleanup).
    #[serde(default)]
    pub cgroups: Vec<PathBuf>,
}

/// Sets the calling process's OOM score adjustment (inherited by its children).
fn set_oom_score_adj(value: Option<i64>) -> std::result::Result<(), String> {
    let Some(v) = value else { return Ok(()) };
    std::fs::write("/proc/self/oom_score_adj", v.to_string()).map_err(|e| format!("setting oom_score_adj to {v}: {e}"))
}

/// The file holding the host pid of the container's first process while it runs: what
/// `NamespaceMode::Container` of another container points at.
pub fn pid_file(dir: &Path) -> PathBuf {
    dir.join(state::PID_FILE)
}

/// Statuses in which a supervisor should be alive.
fn is_active(status: &str) -> bool {
    matches!(status, "running" | "restarting" | "paused")
}

/// The executable for helper processes: the running hoist binary, unless set (tests run
/// from a test binary and point this at the real `hoist`).
static HELPER_EXE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// Sets the hoist binary used for `__supervise`/`__exec` (default: /proc/self/exe, or
/// `$HOIST_EXE`). Only the first call counts.
pub fn set_helper_exe(path: PathBuf) {
    let _ = HELPER_EXE.set(path);
}

fn helper_exe() -> PathBuf {
    HELPER_EXE
        .get()
        .cloned()
        .or_else(|| std::env::var_os("HOIST_EXE").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("/proc/self/exe"))
}

/// The directory as the supervisor's command line names it. An absolute path is taken as
/// given (the store's root is canonical): resolving it on every call cost five readlinks,
/// and `state` runs for every container of a project on each /etc/hosts refresh.
fn absolute(dir: &Path) -> Result<PathBuf> {
    if dir.is_absolute() {
        return Ok(dir.to_path_buf());
    }
    dir.canonicalize().map_err(|e| err(format!("container directory {}", dir.display()), e))
}

/// The status as the supervisor last recorded it, without checking that it still lives
/// (cheap: for listings that tolerate a stale answer, such as /etc/hosts refreshes).
pub fn recorded_status(dir: &Path) -> Option<String> {
    let st = state::read_state(dir).ok()??;
    Some(if st.status == "running" && state::has_marker(dir, PAUSED_MARKER) { "paused".into() } else { st.status })
}

/// The helper inherits `file` (its fd number is the same as ours): no O_CLOEXEC in the child.
fn keep_across_exec(cmd: &mut std::process::Command, file: &std::fs::File) {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let fd = file.as_raw_fd();
    // SAFETY: fcntl is async-signal-safe; it changes the flags of the child's copy only.
    unsafe {
        cmd.pre_exec(move || match libc::fcntl(fd, libc::F_SETFD, 0) {
            -1 => Err(std::io::Error::last_os_error()),
            _ => Ok(()),
        });
    }
}

/// Takes the container's claim for a new supervisor: waits while one holds it (starting
/// or ending). `Err(state)`: the container runs already.
fn claim_for_start(dir: &Path) -> Result<std::result::Result<std::fs::File, ProcessState>> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(claim) = state::claim(dir)? {
            return Ok(Ok(claim));
        }
        let st = state(dir)?;
        if is_active(&st.status) {
            return Ok(Err(st));
        }
        if Instant::now() > deadline {
            return Err(err("starting the container", "another supervisor holds it and does not start it"));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs a helper fully detached: its own session, reparented to init (double fork) so
/// the caller neither waits for it nor collects a zombie.
fn spawn_detached(args: &[&std::ffi::OsStr], stderr: std::process::Stdio) -> Result<()> {
    use std::os::unix::process::CommandExt;
    let mut cmd = std::process::Command::new(helper_exe());
    cmd.args(args).stdin(std::process::Stdio::null()).stdout(std::process::Stdio::null()).stderr(stderr);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(|| match libc::fork() {
            -1 => Err(std::io::Error::last_os_error()),
            0 => {
                libc::setsid();
                Ok(())
            }
            _ => libc::_exit(0),
        });
    }
    let mut child = cmd.spawn().map_err(|e| err(format!("starting {}", helper_exe().display()), e))?;
    let _ = child.wait();
    Ok(())
}

/// Starts the supervisor for the container in `dir` (which holds `runtime.json`), detached
/// from the caller, and returns once the container's process runs (or failed to start).
pub fn start(dir: &Path) -> Result<ProcessState> {
    let dir = absolute(dir)?;
    let spec = state::read_spec(&dir)?;
    let current = state(&dir)?;
    if is_active(&current.status) {
        return Ok(current);
    }
    // At most one supervisor per container, even when a killed `hoist up` left one
    // starting: the claim is taken here and handed over to the supervisor (inherited fd).
    let claim = match claim_for_start(&dir)? {
        Ok(claim) => claim,
        Err(running) => return Ok(running),
    };
    state::set_marker(&dir, STOPPED_MARKER, false)?;
    state::set_marker(&dir, PAUSED_MARKER, false)?;
    state::write_state(&dir, &ProcessState { status: "created".into(), ..Default::default() })?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(state::SUPERVISOR_LOG))
        .map_err(|e| err("opening the supervisor log", e))?;
    // The supervisor gets the claim as stdin and the write end of a pipe as stdout, and
    // detaches itself: no pre_exec, so this spawn is a posix_spawn (vfork), not a fork of
    // this whole process. It closes the pipe once the start is recorded.
    let (ready, ready_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| err("pipe", e))?;
    let mut cmd = std::process::Command::new(helper_exe());
    cmd.arg("__supervise").arg(&dir).arg("--daemon").stdin(claim).stdout(std::fs::File::from(ready_w)).stderr(log);
    let spawned = cmd.spawn();
    drop(cmd);
    let mut child = spawned.map_err(|e| err(format!("starting {}", helper_exe().display()), e))?;
    let _ = child.wait();
    let mut poll = [libc::pollfd { fd: std::os::fd::AsRawFd::as_raw_fd(&ready), events: libc::POLLIN, revents: 0 }];
    // SAFETY: poll on one valid fd; hang-up (all writers gone) or timeout ends it.
    unsafe { libc::poll(poll.as_mut_ptr(), 1, 120_000) };
    drop(ready);

    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let st = state::read_state(&dir)?.unwrap_or_default();
        match st.status.as_str() {
            "running" | "restarting" => return Ok(st),
            "exited" => {
                return match st.error {
                    Some(e) => Err(err(format!("starting container {}", spec.name), e)),
                    None => Ok(st),
                };
            }
            _ => {}
        }
        if let Some(pid) = st.supervisor_pid
            && !state::supervisor_alive(pid, &dir)
        {
            return Err(err("starting the container", format!("its supervisor died: see {}", dir.join(state::SUPERVISOR_LOG).display())));
        }
        if Instant::now() > deadline {
            return Err(err("starting the container", "timed out waiting for its supervisor"));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs the container in the foreground with the caller's stdio (`compose run`, attach):
/// the supervisor is a direct child sharing the caller's terminal; output is also logged;
/// with `interactive` the caller's stdin feeds the container (a tty one in raw mode).
/// SIGINT/SIGTERM/SIGHUP/SIGQUIT/SIGUSR1/SIGUSR2 reaching the supervisor (e.g. Ctrl-C on
/// the caller's terminal without tty) go to the container. Blocks; returns the exit code.
pub fn run_attached(dir: &Path, interactive: bool) -> Result<i32> {
    let dir = absolute(dir)?;
    let spec = state::read_spec(&dir)?;
    let claim = match claim_for_start(&dir)? {
        Ok(claim) => claim,
        Err(_) => return Err(err("run", "the container is already running")),
    };
    state::set_marker(&dir, STOPPED_MARKER, false)?;
    state::set_marker(&dir, PAUSED_MARKER, false)?;
    state::write_state(&dir, &ProcessState { status: "created".into(), ..Default::default() })?;
    let mode = if interactive { "--attach-stdin" } else { "--attach" };
    let mut cmd = std::process::Command::new(helper_exe());
    cmd.arg("__supervise")
        .arg(&dir)
        .arg(mode)
        .arg(format!("--claim-fd={}", std::os::fd::AsRawFd::as_raw_fd(&claim)))
        .stdin(if interactive { std::process::Stdio::inherit() } else { std::process::Stdio::null() });
    keep_across_exec(&mut cmd, &claim);
    let child = cmd.spawn().map_err(|e| err(format!("starting {}", helper_exe().display()), e));
    drop(claim);
    let status = child?.wait().map_err(|e| err(format!("waiting for {}", helper_exe().display()), e))?;
    let st = state(&dir)?;
    if let Some(e) = st.error {
        return Err(err(format!("starting container {}", spec.name), e));
    }
    match st.exit_code {
        Some(code) => Ok(code),
        None => Err(err("run", format!("the supervisor ended without an exit code ({status})"))),
    }
}

/// The number of a signal given as `SIGTERM`, `TERM`, `term` or `15` (for event attributes).
pub fn signal_number(name: &str) -> Option<i32> {
    parse_signal(name).ok().map(|s| s as i32)
}

fn parse_signal(name: &str) -> Result<nix::sys::signal::Signal> {
    crate::backend::signals::parse(name).ok_or_else(|| err("signal", format!("invalid signal: {}", name.trim())))
}

/// Wakes up when a file of a container directory is written or replaced (the supervisor
/// rewrites `state.json` at each change): inotify, so a stop returns the moment the exit
/// is recorded instead of at the next poll.
struct DirWatch(std::os::fd::OwnedFd);

impl DirWatch {
    /// None where inotify is unavailable (e.g. the per-user instance limit is reached).
    fn new(dir: &Path) -> Option<DirWatch> {
        use std::os::fd::FromRawFd;
        use std::os::unix::ffi::OsStrExt;
        let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
        // SAFETY: plain syscalls; the fd is owned from here on.
        unsafe {
            let fd = libc::inotify_init1(libc::IN_CLOEXEC | libc::IN_NONBLOCK);
            if fd < 0 {
                return None;
            }
            let watch = DirWatch(std::os::fd::OwnedFd::from_raw_fd(fd));
            (libc::inotify_add_watch(fd, path.as_ptr(), libc::IN_MOVED_TO | libc::IN_CLOSE_WRITE) >= 0).then_some(watch)
        }
    }

    /// Sleeps until an event or `timeout`, then drains the events.
    fn wait(&self, timeout: Duration) {
        use std::os::fd::AsRawFd;
        let fd = self.0.as_raw_fd();
        let mut p = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
        let mut buf = [0u8; 4096];
        // SAFETY: poll and read on our own fd into a local buffer.
        unsafe {
            libc::poll(&mut p, 1, timeout.as_millis().min(i32::MAX as u128) as i32);
            while libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) > 0 {}
        }
    }
}

fn wait_until_exited(dir: &Path, timeout: Duration) -> Result<Option<ProcessState>> {
    let deadline = Instant::now() + timeout;
    // Set up before the first look, so that no change falls between the two.
    let watch = DirWatch::new(dir);
    // Without inotify: look often at first (most processes end within milliseconds).
    let mut pause = Duration::from_millis(1);
    loop {
        let st = state(dir)?;
        if !is_active(&st.status) {
            return Ok(Some(st));
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        match &watch {
            Some(w) => w.wait((deadline - now).min(Duration::from_millis(50))),
            None => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(20));
            }
        }
    }
}

fn send(pid: Option<i32>, sig: nix::sys::signal::Signal) {
    if let Some(pid) = pid {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig);
    }
}

/// Stops with the stop signal, then SIGKILL after `timeout`; marks it stopped by the user.
pub fn stop(dir: &Path, timeout: Duration) -> Result<()> {
    let dir = absolute(dir)?;
    let spec = state::read_spec(&dir)?;
    state::set_marker(&dir, STOPPED_MARKER, true)?;
    let st = state(&dir)?;
    if !is_active(&st.status) {
        return Ok(());
    }
    if st.status == "paused" {
        unpause(&dir)?;
    }
    let signal = parse_signal(if spec.stop_signal.is_empty() { "SIGTERM" } else { &spec.stop_signal })?;
    send(st.pid, signal);
    // A signal the kernel discarded cannot end the container: no point waiting it out.
    // Checked after sending, so a handler installed in between makes us wait as usual;
    // and again every 10 ms for the first second, because the check can only be sure of
    // a process sitting in a blocking call, and one stopped right after it started may
    // not be there yet (a shell about to wait for its child).
    let discarded = || st.pid.is_some_and(|pid| crate::backend::signals::discarded_by_namespace_init(pid, signal as i32));
    let deadline = Instant::now() + timeout;
    let recheck_until = Instant::now() + Duration::from_secs(1);
    loop {
        if discarded() {
            break;
        }
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        let slice = if now < recheck_until { Duration::from_millis(10) } else { deadline - now };
        if wait_until_exited(&dir, slice.min(deadline - now))?.is_some() {
            return Ok(());
        }
    }
    let st = state(&dir)?;
    send(st.pid, nix::sys::signal::Signal::SIGKILL);
    if wait_until_exited(&dir, Duration::from_secs(30))?.is_some() {
        return Ok(());
    }
    Err(err("stopping the container", "it did not exit after SIGKILL"))
}

/// Sends a signal to the container's main process. The restart policy no longer applies
/// (as with Docker's kill).
pub fn kill(dir: &Path, signal: &str) -> Result<()> {
    let dir = absolute(dir)?;
    let sig = parse_signal(if signal.is_empty() { "SIGKILL" } else { signal })?;
    let st = state(&dir)?;
    if !is_active(&st.status) {
        return Err(err("kill", "container is not running"));
    }
    state::set_marker(&dir, STOPPED_MARKER, true)?;
    if st.status == "paused" && sig == nix::sys::signal::Signal::SIGKILL {
        unpause(&dir)?;
    }
    send(st.pid, sig);
    Ok(())
}

/// The recorded state, corrected if the supervisor died (then status `exited`).
pub fn state(dir: &Path) -> Result<ProcessState> {
    let dir = absolute(dir)?;
    let Some(mut st) = state::read_state(&dir)? else {
        return Ok(ProcessState { status: "created".into(), ..Default::default() });
    };
    let supervised = is_active(&st.status) || (st.status == "created" && st.supervisor_pid.is_some());
    if supervised && !st.supervisor_pid.is_some_and(|p| state::supervisor_alive(p, &dir)) {
        // The supervisor crashed (or was killed): nothing runs any more; tidy up after it.
        if let Some(pid) = st.pid {
            send(Some(pid), nix::sys::signal::Signal::SIGKILL);
        }
        st.status = "exited".into();
        st.exit_code = st.exit_code.or(Some(-1));
        st.pid = None;
        st.finished_at = st.finished_at.or_else(|| Some(chrono::Utc::now()));
        cleanup_mounts(&dir, &st);
        let _ = std::fs::remove_file(pid_file(&dir));
        state::write_state(&dir, &st)?;
    }
    if st.status == "running" && state::has_marker(&dir, PAUSED_MARKER) {
        st.status = "paused".into();
    }
    st.stopped_by_user |= state::has_marker(&dir, STOPPED_MARKER);
    Ok(st)
}

/// Blocks until the container exits; returns its exit code.
pub fn wait(dir: &Path) -> Result<i32> {
    let dir = absolute(dir)?;
    loop {
        let st = state(&dir)?;
        let starting = st.status == "created" && st.supervisor_pid.is_some();
        if !is_active(&st.status) && !starting {
            return Ok(st.exit_code.unwrap_or(0));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs a command in the running container with the caller's stdio (via a
/// single-threaded helper process), returning its exit code.
pub fn exec(dir: &Path, spec: &crate::backend::ExecSpec) -> Result<i32> {
    let dir = absolute(dir)?;
    let st = state(&dir)?;
    if st.status != "running" {
        return Err(err("exec", format!("container is not running (status {})", st.status)));
    }
    let req = exec::ExecRequest::from(spec);
    let json = serde_json::to_string(&req).map_err(|e| err("exec", e))?;
    if spec.detach {
        spawn_detached(&["__exec".as_ref(), dir.as_os_str(), json.as_ref()], std::process::Stdio::null())?;
        return Ok(0);
    }
    let status = std::process::Command::new(helper_exe())
        .arg("__exec")
        .arg(&dir)
        .arg(json)
        .status()
        .map_err(|e| err("exec", e))?;
    Ok(status.code().unwrap_or_else(|| 128 + std::os::unix::process::ExitStatusExt::signal(&status).unwrap_or(0)))
}

/// Mounts the rootfs of a container that does not run, so the host can read and write
/// its files (`cp`). True when this call mounted it: the caller then `release_rootfs`.
pub fn mount_rootfs_offline(dir: &Path, layers: &[PathBuf]) -> Result<bool> {
    let dir = absolute(dir)?;
    let spec = RuntimeSpec {
        layers: layers.to_vec(),
        upper_dir: dir.join("upper"),
        work_dir: dir.join("work"),
        rootfs: dir.join("rootfs"),
        ..Default::default()
    };
    if container::is_mounted(&spec.rootfs) {
        return Ok(false);
    }
    container::mount_rootfs(&spec).map_err(|e| err("mounting the container's filesystem", e))?;
    Ok(true)
}

/// Unmounts what `mount_rootfs_offline` mounted, unless the container started meanwhile
/// (its supervisor then uses that mount and unmounts it when the container stops).
pub fn release_rootfs(dir: &Path) {
    if let Ok(dir) = absolute(dir)
        && state(&dir).is_ok_and(|s| !is_active(&s.status))
    {
        container::unmount_all(&dir.join("rootfs"));
    }
}

/// Only the rootfs and what is below it: the glue may keep other mounts in the container
/// directory (a persistent network namespace) across stops.
fn cleanup_mounts(dir: &Path, st: &ProcessState) {
    if let Ok(spec) = state::read_spec(dir) {
        container::unmount_all(&spec.rootfs);
    }
    cgroups::remove(&st.cgroups);
}

/// The shared base layer under `root` (made once, never changed afterwards: overlay
/// mounts use it as a lower layer). Its name carries a version for that reason.
pub fn base_layer(root: &Path) -> Result<PathBuf> {
    let dir = root.join("base-layer-v1");
    if dir.exists() {
        return Ok(dir);
    }
    let tmp = root.join(format!(".base-layer-v1.{}", std::process::id()));
    let make = || -> std::io::Result<()> {
        let _ = std::fs::remove_dir_all(&tmp);
        for d in ["proc", "sys", "dev", "etc"] {
            std::fs::create_dir_all(tmp.join(d))?;
        }
        for f in ["etc/hosts", "etc/hostname", "etc/resolv.conf"] {
            std::fs::write(tmp.join(f), b"")?;
        }
        Ok(())
    };
    make().map_err(|e| err(format!("making {}", tmp.display()), e))?;
    if std::fs::rename(&tmp, &dir).is_err() {
        // Made meanwhile by another process.
        let _ = std::fs::remove_dir_all(&tmp);
    }
    Ok(dir)
}

/// Takes the container's claim (None: another process holds it): what `create` holds until
/// the container's record exists, and what no supervisor can start without.
pub fn claim(dir: &Path) -> Result<Option<std::fs::File>> {
    state::claim(dir)
}

/// Whether the directory has a claim file at all (a create has got that far).
pub fn has_claim_file(dir: &Path) -> bool {
    dir.join(state::CLAIM_FILE).exists()
}

/// Takes the container's claim so that no supervisor can start it while its directory is
/// removed: waits for a supervisor that is starting or ending; one that brought the
/// container up meanwhile is stopped when `force`. Keep the handle until the directory
/// is gone.
pub fn claim_for_removal(dir: &Path, force: bool) -> Result<std::fs::File> {
    let dir = absolute(dir)?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(claim) = state::claim(&dir)? {
            return Ok(claim);
        }
        if is_active(&state(&dir)?.status) {
            if !force {
                return Err(err("removing the container", "it is running (stop it first, or force)"));
            }
            stop(&dir, Duration::ZERO)?;
        }
        if Instant::now() > deadline {
            return Err(err("removing the container", "its supervisor does not end"));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Unmounts the rootfs and anything left mounted below it, and removes the cgroups
/// (after the container stopped; idempotent).
pub fn cleanup(dir: &Path) -> Result<()> {
    let dir = absolute(dir)?;
    let st = state::read_state(&dir)?.unwrap_or_default();
    if is_active(&st.status) && st.supervisor_pid.is_some_and(|p| state::supervisor_alive(p, &dir)) {
        return Err(err("cleanup", "the container is still running"));
    }
    cleanup_mounts(&dir, &st);
    Ok(())
}

/// Processes of the container (`docker top`-like rows: UID PID PPID C STIME TTY TIME CMD).
pub fn top(dir: &Path) -> Result<crate::backend::ProcessList> {
    let dir = absolute(dir)?;
    let st = state(&dir)?;
    if !is_active(&st.status) {
        return Err(err("top", "container is not running"));
    }
    let titles = ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"].iter().map(|s| s.to_string()).collect();
    let mut pids = cgroups::pids(&st.cgroups);
    if pids.is_empty() {
        pids.extend(st.pid);
    }
    let processes = pids.into_iter().filter_map(proc_row).collect();
    Ok(crate::backend::ProcessList { titles, processes })
}

/// One `ps -ef`-style row from /proc/<pid>.
fn proc_row(pid: i32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (head, rest) = stat.rsplit_once(')')?;
    let comm = head.split_once('(').map(|(_, c)| c).unwrap_or_default();
    let f: Vec<&str> = rest.split_whitespace().collect();
    // Fields after the command: state(0) ppid(1) ... tty_nr(4) ... utime(11) stime(12) ... starttime(19)
    let num = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let hz = (unsafe { libc::sysconf(libc::_SC_CLK_TCK) }).max(1) as u64;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let uid: u32 = status.lines().find_map(|l| l.strip_prefix("Uid:")).and_then(|v| v.split_whitespace().next()?.parse().ok()).unwrap_or(0);
    let user = std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|p| p.lines().find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() > 2 && f[2] == uid.to_string()).then(|| f[0].to_string())
        }))
        .unwrap_or_else(|| uid.to_string());
    let btime: i64 = std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("btime ")?.trim().parse().ok()))
        .unwrap_or(0);
    let started = chrono::DateTime::from_timestamp(btime + (num(19) / hz) as i64, 0).unwrap_or_default();
    let stime = started.with_timezone(&chrono::Local).format("%H:%M").to_string();
    let tty_nr = num(4);
    let tty = if tty_nr == 0 {
        "?".to_string()
    } else {
        let (major, minor) = ((tty_nr >> 8) & 0xfff, (tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00));
        if (136..=143).contains(&major) { format!("pts/{}", minor + (major - 136) * 256) } else { format!("tty{minor}") }
    };
    let cpu = (num(11) + num(12)) / hz;
    let time = format!("{:02}:{:02}:{:02}", cpu / 3600, cpu / 60 % 60, cpu % 60);
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let cmd = if cmdline.is_empty() {
        format!("[{comm}]")
    } else {
        cmdline.split(|b| *b == 0).filter(|a| !a.is_empty()).map(|a| String::from_utf8_lossy(a).into_owned()).collect::<Vec<_>>().join(" ")
    };
    Some(vec![user, pid.to_string(), num(1).to_string(), "0".into(), stime, tty, time, cmd])
}

/// What the container's cgroups counted so far (for `stats`).
pub fn usage(dir: &Path) -> Result<cgroups::Usage> {
    let st = state(&absolute(dir)?)?;
    if !is_active(&st.status) {
        return Err(err("stats", format!("container is not running (status {})", st.status)));
    }
    Ok(cgroups::usage(&st.cgroups))
}

pub fn pause(dir: &Path) -> Result<()> {
    let dir = absolute(dir)?;
    let st = state(&dir)?;
    if st.status != "running" {
        return Err(err("pause", format!("container is not running (status {})", st.status)));
    }
    cgroups::freeze(&st.cgroups, true).map_err(|e| err("pause", e))?;
    state::set_marker(&dir, PAUSED_MARKER, true)
}

pub fn unpause(dir: &Path) -> Result<()> {
    let dir = absolute(dir)?;
    let st = state::read_state(&dir)?.unwrap_or_default();
    cgroups::freeze(&st.cgroups, false).map_err(|e| err("unpause", e))?;
    state::set_marker(&dir, PAUSED_MARKER, false)
}

/// Entry point of hoist's hidden helper commands (`__supervise DIR`, `__exec DIR JSON`),
/// called by main before anything else (no tokio, single-threaded). Returns the exit code.
pub fn hidden_main(args: &[String]) -> i32 {
    match args {
        [cmd, dir, options @ ..] if cmd == "__supervise" => {
            let mut attach = supervisor::Attach::default();
            let mut launch = supervisor::Launch::Own;
            for option in options {
                match option.as_str() {
                    "--attach" => attach.attached = true,
                    "--attach-stdin" => attach = supervisor::Attach { attached: true, stdin: true },
                    "--daemon" => launch = supervisor::Launch::Daemon,
                    o => match o.strip_prefix("--claim-fd=").and_then(|n| n.parse().ok()) {
                        Some(fd) => launch = supervisor::Launch::Claim(fd),
                        None => {
                            eprintln!("hoist: unknown supervisor option {o}");
                            return 2;
                        }
                    },
                }
            }
            supervisor::main(Path::new(dir), attach, launch)
        }
        [cmd, dir, json] if cmd == "__exec" => exec::helper_main(Path::new(dir), json),
        _ => {
            eprintln!("hoist: unknown internal command");
            2
        }
    }
}
