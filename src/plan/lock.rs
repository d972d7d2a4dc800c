//! One changing command at a time per project: concurrent hoist processes (an `up` and a
//! watch's rebuild, say) take turns instead of racing on names and numbers.

use anyhow::{bail, Result};

use super::execute::Ctx;

/// Held while a command changes a project (up, create, scale, down, rm): concurrent hoist
/// processes on one project take turns instead of racing on names and numbers. An
/// advisory `flock`, released when dropped or when the process dies.
pub struct ProjectLock(#[allow(dead_code)] nix::fcntl::Flock<std::fs::File>);

pub async fn lock_project(ctx: &Ctx) -> Result<ProjectLock> {
    lock_named(ctx.backend.name(), &ctx.project.name).await
}

/// The lock of project `project` on engine `engine` (`builtin`, `docker`, `swarm`).
pub async fn lock_named(engine: &str, project: &str) -> Result<ProjectLock> {
    use nix::fcntl::{Flock, FlockArg};
    let dir = if nix::unistd::geteuid().is_root() {
        std::path::PathBuf::from("/run/hoist/locks")
    } else {
        std::env::temp_dir().join(format!("hoist-{}/locks", nix::unistd::geteuid()))
    };
    std::fs::create_dir_all(&dir).map_err(|e| anyhow::anyhow!("creating {}: {e}", dir.display()))?;
    let path = dir.join(format!("{engine}-{project}.lock"));
    let open = || std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path);
    let file = open().map_err(|e| anyhow::anyhow!("opening {}: {e}", path.display()))?;
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => Ok(ProjectLock(lock)),
        Err((file, nix::errno::Errno::EWOULDBLOCK)) => {
            eprintln!("waiting for another hoist command on project {project:?} to finish");
            let lock = tokio::task::spawn_blocking(move || Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, e)| e))
                .await?
                .map_err(|e| anyhow::anyhow!("locking {}: {e}", path.display()))?;
            Ok(ProjectLock(lock))
        }
        Err((_, e)) => bail!("locking {}: {e}", path.display()),
    }
}
