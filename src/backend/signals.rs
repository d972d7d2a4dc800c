//! Signals of containers: names, and whether one can reach a container's first process
//! (read from /proc). Shared by the built-in runtime and, when the engine runs on this
//! host, the Docker backend.

/// Parses `SIGTERM`, `TERM`, `term` or `15`.
pub fn parse(name: &str) -> Option<nix::sys::signal::Signal> {
    use std::str::FromStr;
    let name = name.trim();
    if let Ok(n) = name.parse::<i32>() {
        return nix::sys::signal::Signal::try_from(n).ok();
    }
    let upper = name.to_ascii_uppercase();
    let full = if upper.starts_with("SIG") { upper } else { format!("SIG{upper}") };
    nix::sys::signal::Signal::from_str(&full).ok()
}

/// Whether `signo` sent to `pid` is (or would be) discarded by the kernel: `pid` is the
/// init of its PID namespace (`sh` or `sleep` as PID 1, without `init: true`) with no
/// handler for it and not blocking it, and such an init only receives the signals it
/// handles or blocks (pid_namespaces(7)). Docker waits out the whole grace period then;
/// nothing can happen in it that SIGKILL now would prevent (same exit code, 137).
pub fn discarded_by_namespace_init(pid: i32, signo: i32) -> bool {
    if !(1..=64).contains(&signo) {
        return false;
    }
    // An init that waits for signals with sigwait (hoist's init, tini, dumb-init) blocks
    // them, but while it waits /proc shows them unblocked (the kernel keeps the real mask
    // aside), and it gets them. So decide only for a process that sits in one blocking
    // system call other than rt_sigtimedwait, the same one before and after reading its
    // masks (a shell in wait4, `sleep` in a nanosleep); a running one is not judged.
    let syscall = || std::fs::read_to_string(format!("/proc/{pid}/syscall")).ok();
    let before = syscall();
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else { return false };
    let settled = before.as_deref().and_then(|b| b.split_whitespace().next()).and_then(|n| n.parse::<i64>().ok()).is_some_and(|n| n != libc::SYS_rt_sigtimedwait);
    if !settled || syscall() != before {
        return false;
    }
    let field = |name: &str| status.lines().find_map(|l| l.strip_prefix(name)).map(str::trim);
    let pids: Vec<&str> = field("NSpid:").map(|v| v.split_whitespace().collect()).unwrap_or_default();
    let namespace_init = pids.len() > 1 && pids.last() == Some(&"1");
    // A blocked signal stays pending (hoist's init and tini take them from a sigwait).
    let unheard = |name: &str| field(name).and_then(|v| u64::from_str_radix(v, 16).ok()).is_some_and(|m| m & (1u64 << (signo - 1)) == 0);
    namespace_init && unheard("SigCgt:") && unheard("SigBlk:")
}

/// Whether host process `pid` belongs to the Docker container `id` (its cgroup path
/// names the container): true only when the engine runs on this host, in our PID
/// namespace, so a pid from a remote engine never points at a local process.
pub fn is_process_of_container(pid: i64, id: &str) -> bool {
    pid > 0 && id.len() >= 12 && std::fs::read_to_string(format!("/proc/{pid}/cgroup")).is_ok_and(|c| c.contains(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_own_process_is_not_a_namespace_init() {
        assert!(!discarded_by_namespace_init(std::process::id() as i32, 15));
        assert!(!discarded_by_namespace_init(i32::MAX, 15), "no such process");
        assert!(!discarded_by_namespace_init(1, 0), "not a signal");
        assert!(!is_process_of_container(std::process::id() as i64, "0123456789abcdef"));
    }
}
