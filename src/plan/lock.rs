//! One changing command at a time per project: concurrent hoist processes (an `up` and a
//! watch's rebuild, say) take turns instead of racing on names and numbers.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use nix::fcntl::{Flock, FlockArg};

use super::execute::Ctx;

/// Held while a command changes a project (up, create, scale, down, rm): concurrent hoist
/// processes on one project take turns instead of racing on names and numbers. An
/// advisory `flock`, released when dropped or when the process dies; the lock file is
/// removed when dropped, so lock files do not pile up.
pub struct ProjectLock {
    lock: Option<Flock<std::fs::File>>,
    path: PathBuf,
}

impl Drop for ProjectLock {
    fn drop(&mut self) {
        // Unlinked while still held: a waiter that then gets the lock on this (unlinked)
        // file sees that it is no longer at `path` and locks the new one instead.
        let _ = std::fs::remove_file(&self.path);
        drop(self.lock.take());
    }
}

pub async fn lock_project(ctx: &Ctx) -> Result<ProjectLock> {
    lock_named(ctx.backend.name(), &ctx.project.name).await
}

/// The lock of project `project` on engine `engine` (`builtin`, `docker`, `swarm`): the
/// built-in runtime's under its state root (each root is its own engine), the others'
/// under /run/hoist/locks (or the temporary directory when not root).
pub async fn lock_named(engine: &str, project: &str) -> Result<ProjectLock> {
    if crate::compose::normalize_project_name(project).ok().as_deref() != Some(project) {
        bail!("invalid project name {project:?}");
    }
    let dir = if engine == "builtin" {
        crate::backend::builtin::state_root().join("locks")
    } else if nix::unistd::geteuid().is_root() {
        PathBuf::from("/run/hoist/locks")
    } else {
        std::env::temp_dir().join(format!("hoist-{}/locks", nix::unistd::geteuid()))
    };
    std::fs::create_dir_all(&dir).map_err(|e| anyhow::anyhow!("creating {}: {e}", dir.display()))?;
    let path = dir.join(format!("{engine}-{project}.lock"));
    let project = project.to_string();
    tokio::task::spawn_blocking(move || lock_file(path, &project)).await?
}

fn lock_file(path: PathBuf, project: &str) -> Result<ProjectLock> {
    let mut told = false;
    loop {
        let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path);
        let file = file.map_err(|e| anyhow::anyhow!("opening {}: {e}", path.display()))?;
        let lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => lock,
            Err((file, nix::errno::Errno::EWOULDBLOCK)) => {
                if !told {
                    eprintln!("waiting for another hoist command on project {project:?} to finish");
                    told = true;
                }
                Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, e)| anyhow::anyhow!("locking {}: {e}", path.display()))?
            }
            Err((_, e)) => bail!("locking {}: {e}", path.display()),
        };
        if is_at(&lock, &path) {
            return Ok(ProjectLock { lock: Some(lock), path });
        }
    }
}

/// Whether the open file is (still) the one at `path`.
fn is_at(file: &std::fs::File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    matches!((file.metadata(), std::fs::metadata(path)), (Ok(a), Ok(b)) if a.ino() == b.ino() && a.dev() == b.dev())
}
