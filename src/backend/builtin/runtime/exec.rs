//! `hoist __exec DIR JSON`: runs a command inside a running container. A single-threaded
//! helper joins the container's namespaces and cgroup, forks (so the pid namespace
//! applies), sets user/cwd/env/capabilities and the seccomp filter like the container's, and execs.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;

use nix::sched::CloneFlags;
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, fork};
use serde::{Deserialize, Serialize};

use super::{cgroups, container, pty, state};

/// What the helper runs (the JSON argument).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ExecRequest {
    pub command: Vec<String>,
    /// `KEY=value`, over the container's environment.
    pub env: Vec<String>,
    pub user: Option<String>,
    pub working_dir: Option<String>,
    pub tty: bool,
    pub interactive: bool,
    pub privileged: bool,
    /// The command dies with the helper (healthchecks that time out).
    #[serde(default)]
    pub kill_with_parent: bool,
}

impl From<&crate::backend::ExecSpec> for ExecRequest {
    fn from(s: &crate::backend::ExecSpec) -> Self {
        ExecRequest {
            command: s.command.clone(),
            env: s.env.iter().map(|(k, v)| format!("{k}={v}")).collect(),
            user: s.user.clone(),
            working_dir: s.working_dir.clone(),
            tty: s.tty,
            interactive: s.interactive,
            privileged: s.privileged,
            kill_with_parent: false,
        }
    }
}

/// The helper's main: returns the command's exit code (126/127 when it could not run,
/// with the reason on stderr).
pub fn helper_main(dir: &Path, json: &str) -> i32 {
    match run(dir, json) {
        Ok(code) => code,
        Err(msg) => {
            eprintln!("hoist: exec failed: {msg}");
            if msg.contains("not found") || msg.contains("no such file") { 127 } else { 126 }
        }
    }
}

fn run(dir: &Path, json: &str) -> Result<i32, String> {
    let req: ExecRequest = serde_json::from_str(json).map_err(|e| format!("bad exec request: {e}"))?;
    let spec = state::read_spec(dir).map_err(|e| e.to_string())?;
    let st = state::read_state(dir).map_err(|e| e.to_string())?.unwrap_or_default();
    let pid = match (st.status.as_str(), st.pid) {
        ("running", Some(pid)) => pid,
        _ => return Err(format!("container {} is not running", spec.name)),
    };
    if req.command.is_empty() {
        return Err("no command given".into());
    }
    // Open every namespace before entering any: /proc changes meaning after the mount ns.
    let mut namespaces = Vec::new();
    for (name, flag) in [("ipc", CloneFlags::CLONE_NEWIPC), ("uts", CloneFlags::CLONE_NEWUTS), ("net", CloneFlags::CLONE_NEWNET), ("pid", CloneFlags::CLONE_NEWPID), ("mnt", CloneFlags::CLONE_NEWNS)] {
        let path = format!("/proc/{pid}/ns/{name}");
        namespaces.push((File::open(&path).map_err(|e| format!("opening {path}: {e}"))?, flag, name));
    }
    // Ours, to come back to after the fork: see the parent's branch below.
    let own_pid_ns = File::open("/proc/self/ns/pid").map_err(|e| format!("opening /proc/self/ns/pid: {e}"))?;
    // So `top` lists it and the limits and the device allow-list apply: outside the
    // container's groups the command could open any device node it makes.
    cgroups::add_pid(&st.cgroups, std::process::id() as i32).map_err(|e| format!("joining the container's cgroups: {e}"))?;
    // As runc: a process exec'd into the container gets the container's score.
    super::set_oom_score_adj(spec.oom_score_adj)?;
    for (file, flag, name) in &namespaces {
        nix::sched::setns(file, *flag).map_err(|e| format!("joining the {name} namespace: {e}"))?;
    }
    std::env::set_current_dir("/").map_err(|e| format!("chdir /: {e}"))?;

    let use_tty = req.tty;
    let size = pty::window_size(0).or_else(|| pty::window_size(1));
    let pty = if use_tty { Some(pty::open(size).map_err(|e| format!("allocating a pty: {e}"))?) } else { None };
    let parent_pid = std::process::id();

    // SAFETY: this helper is single-threaded; the child execs or _exits.
    match unsafe { fork() }.map_err(|e| format!("fork: {e}"))? {
        ForkResult::Child => {
            let msg = (|| -> Result<(), String> {
                if req.kill_with_parent {
                    // SAFETY: integer-only prctl; then check the parent did not die already
                    // (outside our pid namespace it reads as 0; reparented, as another pid).
                    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0) };
                    let ppid = nix::unistd::getppid().as_raw();
                    if ppid != 0 && ppid as u32 != parent_pid {
                        return Err("parent died".into());
                    }
                }
                let user = req.user.as_deref().or(spec.user.as_deref());
                let mut id = container::identity(Path::new("/"), user, &spec.group_add, spec.privileged || req.privileged, &spec.cap_add, &spec.cap_drop, &spec.security_opt)?;
                id.seccomp = container::container_seccomp(&spec)?;
                let mut env = spec.env.clone();
                for e in &req.env {
                    let key = e.split_once('=').map(|(k, _)| k).unwrap_or(e);
                    env.retain(|x| x.split_once('=').map(|(k, _)| k).unwrap_or(x) != key);
                    env.push(e.clone());
                }
                let env = container::full_env(&env, &spec.hostname, &id.user.home);
                let cwd = req.working_dir.clone().filter(|w| !w.is_empty()).unwrap_or_else(|| if spec.cwd.is_empty() { "/".into() } else { spec.cwd.clone() });
                std::env::set_current_dir(&cwd).map_err(|e| format!("chdir to {cwd}: {e}"))?;
                container::apply_identity(&id)?;
                if let Some(p) = &pty {
                    pty::attach_slave(p.slave.as_raw_fd()).map_err(|e| format!("setting up the tty: {e}"))?;
                } else if !req.interactive
                    && let Ok(null) = File::open("/dev/null")
                {
                    // Without -i the command gets no input, as with Docker.
                    // SAFETY: dup2 onto our stdin.
                    unsafe { libc::dup2(null.as_raw_fd(), 0) };
                }
                let program = container::find_program(&req.command[0], &env)?;
                Err(container::exec(&program, &req.command, &env))
            })()
            .err()
            .unwrap_or_default();
            eprintln!("hoist: exec failed: {msg}");
            // SAFETY: leaving the forked child.
            unsafe { libc::_exit(if msg.contains("not found") || msg.contains("no such file") { 127 } else { 126 }) };
        }
        ForkResult::Parent { child } => {
            // Joining a pid namespace changes only where children go; the kernel then
            // refuses new threads (clone with CLONE_THREAD gives EINVAL while
            // pid_ns_for_children differs from the caller's own pid namespace), and the
            // pty relay below starts two. Going back to our own namespace is always allowed.
            nix::sched::setns(&own_pid_ns, CloneFlags::CLONE_NEWPID).map_err(|e| format!("leaving the pid namespace: {e}"))?;
            if let Some(p) = pty {
                drop(p.slave);
                follow_window_size(&p.master);
                let _raw = if req.interactive && pty::is_tty(0) { pty::RawMode::enter(0) } else { None };
                pty::proxy(&p.master, req.interactive);
            }
            loop {
                match waitpid(child, None) {
                    Ok(WaitStatus::Exited(_, code)) => return Ok(code),
                    Ok(WaitStatus::Signaled(_, sig, _)) => return Ok(128 + sig as i32),
                    Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
                    Err(e) => return Err(format!("waiting for the command: {e}")),
                }
            }
        }
    }
}

/// Copies the caller's terminal size to the pty on every SIGWINCH (background thread;
/// the signal is blocked here so only that thread takes it).
fn follow_window_size(master: &std::os::fd::OwnedFd) {
    use nix::sys::signal::{SigSet, SigmaskHow, Signal, pthread_sigmask};
    if !pty::is_tty(0) {
        return;
    }
    let Ok(master) = master.try_clone() else { return };
    let mut set = SigSet::empty();
    set.add(Signal::SIGWINCH);
    let _ = pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), None);
    std::thread::spawn(move || {
        while set.wait().is_ok() {
            if let Some(ws) = pty::window_size(0) {
                // SAFETY: TIOCSWINSZ with a valid winsize on our master.
                unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
            }
        }
    });
}
