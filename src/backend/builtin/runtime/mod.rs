//! The container process side of the built-in runtime: the per-container supervisor
//! (`hoist __supervise DIR`), hoist's own init as PID 1, namespaces, rootfs mounts,
//! capabilities, cgroups, exec into a running container.
//! STUB: the API the backend glue codes against; filled in on branch `runtime`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::backend::builtin::network::PortForward;

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
    pub devices: Vec<String>,
    pub resources: Resources,
    pub stop_signal: String,
    pub stop_timeout: Duration,
    pub restart: RestartPolicy,
    pub healthcheck: Option<HealthSpec>,
    /// Host ports the supervisor proxies into the container.
    pub ports: Vec<PortForward>,
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
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Resources {
    pub memory: Option<u64>,
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
}

/// Starts the supervisor for the container in `dir` (which holds `runtime.json`), detached
/// from the caller, and returns once the container's process runs (or failed to start).
pub fn start(_dir: &Path) -> Result<ProcessState> {
    Err(RuntimeError::Failed { context: "start".into(), message: "not implemented".into() })
}
/// Stops with the stop signal, then SIGKILL after `timeout`; marks it stopped by the user.
pub fn stop(_dir: &Path, _timeout: Duration) -> Result<()> {
    Ok(())
}
pub fn kill(_dir: &Path, _signal: &str) -> Result<()> {
    Ok(())
}
/// The recorded state, corrected if the supervisor died (then status `exited`/`dead`).
pub fn state(_dir: &Path) -> Result<ProcessState> {
    Ok(ProcessState { status: "created".into(), ..Default::default() })
}
/// Blocks until the container exits; returns its exit code.
pub fn wait(_dir: &Path) -> Result<i32> {
    Ok(0)
}
/// Runs a command in the running container with the caller's stdio (via a
/// single-threaded helper process), returning its exit code.
pub fn exec(_dir: &Path, _spec: &crate::backend::ExecSpec) -> Result<i32> {
    Err(RuntimeError::Failed { context: "exec".into(), message: "not implemented".into() })
}
/// Unmounts the rootfs and anything else left mounted (after the container stopped).
pub fn cleanup(_dir: &Path) -> Result<()> {
    Ok(())
}
/// Processes of the container (`ps`-like rows).
pub fn top(_dir: &Path) -> Result<crate::backend::ProcessList> {
    Ok(Default::default())
}
pub fn pause(_dir: &Path) -> Result<()> {
    Ok(())
}
pub fn unpause(_dir: &Path) -> Result<()> {
    Ok(())
}

/// Entry point of hoist's hidden helper commands (`__supervise DIR`, `__exec ...`, `__init`),
/// called by main before anything else (no tokio, single-threaded). Returns the exit code.
pub fn hidden_main(_args: &[String]) -> i32 {
    eprintln!("hoist: unknown internal command");
    2
}
