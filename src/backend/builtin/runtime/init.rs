//! hoist's init, PID 1 of a container when `init: true`: the forked hoist process itself
//! (nothing needed in the image). It forwards signals to the command's process group,
//! reaps every zombie, and exits with the command's status (128+signal if killed).

use nix::sys::signal::{SigSet, SigmaskHow, Signal, kill, sigprocmask};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

/// Blocks every signal so none is lost between fork and `forward_and_reap`; the command
/// unblocks them before exec (`container::reset_signals`).
pub fn block_all_signals() {
    let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::all()), None);
}

/// The init loop: waits for signals; SIGCHLD reaps, anything else goes to the command.
/// Returns the command's exit status.
pub fn forward_and_reap(command: Pid) -> i32 {
    let all = SigSet::all();
    loop {
        let Ok(sig) = all.wait() else { continue };
        if sig == Signal::SIGCHLD {
            if let Some(code) = reap(command) {
                return code;
            }
            continue;
        }
        // To the whole group (shells' children too); the command may not lead it yet.
        if kill(Pid::from_raw(-command.as_raw()), sig).is_err() {
            let _ = kill(command, sig);
        }
    }
}

/// Reaps all exited children; Some(status) once the command itself is gone.
fn reap(command: Pid) -> Option<i32> {
    let mut result = None;
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) if pid == command => result = Some(code),
            Ok(WaitStatus::Signaled(pid, sig, _)) if pid == command => result = Some(128 + sig as i32),
            Ok(WaitStatus::StillAlive) | Err(_) => return result,
            Ok(_) => {}
        }
    }
}
