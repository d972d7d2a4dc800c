//! Persistent network namespaces (a namespace bind-mounted on a file, like `ip netns add`)
//! and running code inside one on a throwaway thread, so the calling process never moves.

use std::fs::File;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sched::{CloneFlags, setns, unshare};

use super::{NetError, Result};

/// Creates a new network namespace and keeps it alive by bind-mounting it on `path`.
/// Runs on a fresh thread: unsharing the network namespace only moves that thread.
pub fn create(path: &Path) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| NetError::io(format!("creating {}", dir.display()), e))?;
    }
    // The mount point must exist as a file; an existing namespace mount there is an error.
    if is_mounted(path) {
        return Err(NetError::failed(format!("creating network namespace {}", path.display()), "already exists"));
    }
    File::create(path).map_err(|e| NetError::io(format!("creating {}", path.display()), e))?;
    let target = path.to_path_buf();
    let made = std::thread::spawn(move || -> Result<()> {
        unshare(CloneFlags::CLONE_NEWNET).map_err(|e| NetError::sys("unshare(CLONE_NEWNET)", e))?;
        let ns = PathBuf::from(format!("/proc/self/task/{}/ns/net", nix::unistd::gettid()));
        mount(Some(&ns), &target, None::<&str>, MsFlags::MS_BIND, None::<&str>)
            .map_err(|e| NetError::sys(format!("bind-mounting the new network namespace on {}", target.display()), e))
    })
    .join()
    .map_err(|_| NetError::failed("creating a network namespace", "worker thread panicked"))?;
    if made.is_err() {
        let _ = std::fs::remove_file(path);
    }
    made
}

/// Unmounts (lazily, so holders keep working) and deletes a namespace file. Gone is fine.
pub fn remove(path: &Path) -> Result<()> {
    // A namespace file may have been mounted more than once by a racing create; peel all
    // (EINVAL: not a mount point any more; no need to read the mount table for that).
    loop {
        match umount2(path, MntFlags::MNT_DETACH) {
            Ok(()) => {}
            Err(nix::errno::Errno::EINVAL | nix::errno::Errno::ENOENT) => break,
            Err(e) => return Err(NetError::sys(format!("unmounting {}", path.display()), e)),
        }
    }
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(NetError::io(format!("removing {}", path.display()), e)),
    }
}

/// Whether `path` is a mount point listed in /proc/self/mounts.
pub fn is_mounted(path: &Path) -> bool {
    let Ok(mounts) = std::fs::read_to_string("/proc/self/mounts") else { return false };
    let want = path.to_string_lossy();
    mounts.lines().any(|l| l.split_whitespace().nth(1).map(unescape_mount_path).as_deref() == Some(&*want))
}

/// /proc/mounts escapes space, tab, newline and backslash as octal.
fn unescape_mount_path(s: &str) -> String {
    s.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")
}

/// Runs `f` on a new thread that first joins the namespace at `path` (the host's own when
/// `None`). Nothing else in the process changes namespace.
pub fn run_in<T, F>(path: Option<&Path>, f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    let ns = match path {
        Some(p) => Some(File::open(p).map_err(|e| NetError::io(format!("opening network namespace {}", p.display()), e))?),
        None => None,
    };
    let label = path.map(|p| p.display().to_string());
    std::thread::spawn(move || {
        if let Some(ns) = ns {
            setns(ns.as_fd(), CloneFlags::CLONE_NEWNET)
                .map_err(|e| NetError::sys(format!("entering network namespace {}", label.unwrap_or_default()), e))?;
        }
        f()
    })
    .join()
    .map_err(|_| NetError::failed("network worker", "thread panicked"))?
}
