//! Files of a container directory (`runtime.json`, `state.json`, markers) and atomic
//! reads/writes of the supervisor's recorded state.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{ProcessState, Result, RuntimeError, RuntimeSpec};

pub const SPEC_FILE: &str = "runtime.json";
pub const STATE_FILE: &str = "state.json";
pub const LOG_FILE: &str = "log.jsonl";
/// Written by `stop`/`kill`: the restart policy must not bring the container back.
pub const STOPPED_MARKER: &str = "stopped-by-user";
/// Present while the container's cgroup is frozen.
pub const PAUSED_MARKER: &str = "paused";
/// Host pid of the container's first process while it runs (for `NamespaceMode::Container`).
pub const PID_FILE: &str = "init.pid";
/// The supervisor's own stderr (diagnostics of the runtime, not of the container).
pub const SUPERVISOR_LOG: &str = "supervisor.log";

pub fn err(context: impl Into<String>, message: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::Failed { context: context.into(), message: message.to_string() }
}

pub fn read_spec(dir: &Path) -> Result<RuntimeSpec> {
    let path = dir.join(SPEC_FILE);
    let text = fs::read_to_string(&path).map_err(|e| err(format!("reading {}", path.display()), e))?;
    serde_json::from_str(&text).map_err(|e| err(format!("parsing {}", path.display()), e))
}

/// Takes an open-file-description lock of `kind` (`F_RDLCK` or `F_WRLCK`) on the whole
/// file, released when the file is closed. `wait`: until a holder of a conflicting lock
/// lets go; otherwise an error (EAGAIN or EACCES) when one holds it.
pub(crate) fn ofd_lock(file: &fs::File, kind: libc::c_int, wait: bool) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: a zeroed flock is valid; the whole file (start 0, len 0).
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = kind as libc::c_short;
    lock.l_whence = libc::SEEK_SET as libc::c_short;
    let cmd = if wait { libc::F_OFD_SETLKW } else { libc::F_OFD_SETLK };
    loop {
        // SAFETY: fcntl on an fd we own with a valid flock struct.
        if unsafe { libc::fcntl(file.as_raw_fd(), cmd, &mut lock) } == 0 {
            return Ok(());
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// The state as recorded, or None when the container never started.
pub fn read_state(dir: &Path) -> Result<Option<ProcessState>> {
    use std::io::Read;
    let path = dir.join(STATE_FILE);
    let mut file = match fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(err(format!("reading {}", path.display()), e)),
    };
    let mut text = String::new();
    ofd_lock(&file, libc::F_RDLCK, true)
        .and_then(|_| file.read_to_string(&mut text))
        .map_err(|e| err(format!("reading {}", path.display()), e))?;
    if text.trim().is_empty() {
        // Created by a writer that has not written yet.
        return Ok(None);
    }
    serde_json::from_str(&text).map(Some).map_err(|e| err(format!("parsing {}", path.display()), e))
}

/// Rewrites the state in place under a write lock (readers take a read lock, so they never
/// see half a state). In place rather than temp + rename: every rename freed an inode, a
/// start wrote the state five times, and on an ext4 without journal each new inode is
/// found only after skipping, one inode-table read each, every inode freed in the last
/// seconds (`recently_deleted`): that cost grew with every container started or removed.
pub fn write_state(dir: &Path, state: &ProcessState) -> Result<()> {
    let path = dir.join(STATE_FILE);
    let json = serde_json::to_vec_pretty(state).map_err(|e| err("encoding state", e))?;
    let write = || -> std::io::Result<()> {
        let mut f = fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path)?;
        ofd_lock(&f, libc::F_WRLCK, true)?;
        f.set_len(0)?;
        f.write_all(&json)
    };
    write().map_err(|e| err(format!("writing {}", path.display()), e))
}

pub fn marker(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}

pub fn set_marker(dir: &Path, name: &str, on: bool) -> Result<()> {
    let path = marker(dir, name);
    let res = if on {
        fs::write(&path, b"")
    } else {
        match fs::remove_file(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    };
    res.map_err(|e| err(format!("updating {}", path.display()), e))
}

pub fn has_marker(dir: &Path, name: &str) -> bool {
    marker(dir, name).exists()
}

/// Whether `pid` is alive and still a hoist supervisor for this directory (pids get reused).
pub fn supervisor_alive(pid: i32, dir: &Path) -> bool {
    let Ok(cmdline) = fs::read(format!("/proc/{pid}/cmdline")) else { return false };
    let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    let dir = dir.as_os_str().as_encoded_bytes();
    args.contains(&&b"__supervise"[..]) && args.contains(&dir)
        && !fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| stat_state(&s) == Some('Z'))
}

/// The state letter of a /proc/<pid>/stat line (after the parenthesised command).
pub fn stat_state(stat: &str) -> Option<char> {
    stat.rsplit_once(')').and_then(|(_, rest)| rest.trim_start().chars().next())
}

/// Held by a container's supervisor for its whole life (and by `remove` while it deletes
/// the directory): at most one supervisor per container, even when a killed `hoist up`
/// left one starting and the next `up` starts the container again.
pub const CLAIM_FILE: &str = "supervisor.lock";

/// Takes the container's claim: Some(handle) to keep while it must hold, None when
/// another process holds it. An open file description lock: it ends when the handle is
/// dropped or the process dies, and is not inherited across exec (O_CLOEXEC).
pub fn claim(dir: &Path) -> Result<Option<fs::File>> {
    use std::os::unix::fs::MetadataExt;
    let path = dir.join(CLAIM_FILE);
    // Another process that held the claim (a concurrent command checking on the container)
    // removes the lock file as it lets go: the file opened before that is stale, and the
    // claim is taken again on the new one. Only a removed directory is an error.
    for _ in 0..64 {
        let file = match fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path) {
            Ok(f) => f,
            Err(_) if !dir.is_dir() => break,
            Err(e) => return Err(err(format!("opening {}", path.display()), e)),
        };
        match ofd_lock(&file, libc::F_WRLCK, false) {
            Ok(_) => {}
            Err(e) if matches!(e.raw_os_error(), Some(libc::EAGAIN) | Some(libc::EACCES)) => return Ok(None),
            Err(e) => return Err(err(format!("locking {}", path.display()), e)),
        }
        let same = match (file.metadata(), fs::metadata(&path)) {
            (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
            _ => false,
        };
        if same {
            return Ok(Some(file));
        }
        if !dir.is_dir() {
            break;
        }
    }
    Err(err("claiming the container", format!("{} was removed", dir.display())))
}
