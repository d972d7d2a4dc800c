//! Commands run with the caller's stdio: `exec` in a running container, and `run`'s
//! attach-then-start. A TTY session puts the local terminal in raw mode while it lasts.

use std::io::{IsTerminal, Write};
use std::pin::Pin;

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::query_parameters::AttachContainerOptions;
use futures::{Stream, StreamExt};
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::containers::wait_exit;
use super::{container_err, engine_err};
use crate::backend::{BackendError, ExecSpec, Result};

pub async fn exec(docker: &Docker, id: &str, spec: &ExecSpec) -> Result<i32> {
    let attach = !spec.detach;
    let opts = CreateExecOptions {
        attach_stdin: Some(attach && spec.interactive),
        attach_stdout: Some(attach),
        attach_stderr: Some(attach),
        tty: Some(spec.tty),
        env: (!spec.env.is_empty()).then(|| spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        cmd: Some(spec.command.clone()),
        privileged: Some(spec.privileged),
        user: spec.user.clone(),
        working_dir: spec.working_dir.clone(),
        ..Default::default()
    };
    let created = docker.create_exec(id, opts).await.map_err(|e| container_err(id, "exec in", e))?;
    let start = StartExecOptions { detach: spec.detach, tty: spec.tty, output_capacity: None };
    match docker.start_exec(&created.id, Some(start)).await.map_err(|e| container_err(id, "exec in", e))? {
        StartExecResults::Detached => return Ok(0),
        StartExecResults::Attached { output, input } => {
            if spec.tty
                && let Some((rows, cols)) = terminal_size()
            {
                let size = bollard::exec::ResizeExecOptions { height: rows, width: cols };
                // Best effort: a wrong size only garbles the layout.
                let _ = docker.resize_exec(&created.id, size).await;
            }
            pump(output, input, spec.tty, spec.interactive).await?;
        }
    }
    let inspect = docker.inspect_exec(&created.id).await.map_err(|e| engine_err("inspecting exec", e))?;
    Ok(inspect.exit_code.unwrap_or(0) as i32)
}

pub async fn attach_and_start(docker: &Docker, id: &str, tty: bool, interactive: bool) -> Result<i32> {
    if !tty && !interactive && logs_are_kept(docker, id).await {
        return start_and_follow_logs(docker, id).await;
    }
    let opts = AttachContainerOptions {
        stream: true,
        stdin: interactive,
        stdout: true,
        stderr: true,
        ..Default::default()
    };
    let attached = docker.attach_container(id, Some(opts)).await.map_err(|e| container_err(id, "attaching to", e))?;
    docker.start_container(id, None).await.map_err(|e| container_err(id, "starting", e))?;
    pump(attached.output, attached.input, tty, interactive).await?;
    wait_exit(docker, id).await
}

/// `attach` to a running container: its output (and our stdin when it keeps stdin open
/// and `opts.stdin`) until it exits (its exit code) or is detached from (0).
pub async fn attach(docker: &Docker, id: &str, opts: &crate::backend::AttachOptions) -> Result<i32> {
    let info = docker.inspect_container(id, None).await.map_err(|e| container_err(id, "inspecting", e))?;
    let config = info.config.unwrap_or_default();
    let tty = config.tty.unwrap_or(false);
    let stdin = opts.stdin && config.open_stdin.unwrap_or(false);
    let attach = AttachContainerOptions { stream: true, stdin, stdout: true, stderr: true, detach_keys: opts.detach_keys.clone(), ..Default::default() };
    let attached = docker.attach_container(id, Some(attach)).await.map_err(|e| container_err(id, "attaching to", e))?;
    pump(attached.output, attached.input, tty, stdin).await?;
    // The stream ends when the container exits, or when the detach keys were typed.
    let running = docker.inspect_container(id, None).await.ok().and_then(|i| i.state).and_then(|s| s.running).unwrap_or(false);
    if running {
        return Ok(0);
    }
    wait_exit(docker, id).await
}

/// Whether the container's log driver keeps what it prints (so following its log from the
/// start sees everything).
async fn logs_are_kept(docker: &Docker, id: &str) -> bool {
    let Ok(info) = docker.inspect_container(id, None).await else { return false };
    let driver = info.host_config.and_then(|h| h.log_config).and_then(|l| l.typ).unwrap_or_default();
    matches!(driver.as_str(), "json-file" | "local" | "journald")
}

/// Output-only sessions read the container's log from its beginning instead of attaching:
/// an attach can miss what a short-lived container prints around its start and exit; the
/// log has all of it, in order.
async fn start_and_follow_logs(docker: &Docker, id: &str) -> Result<i32> {
    docker.start_container(id, None).await.map_err(|e| container_err(id, "starting", e))?;
    let opts = bollard::query_parameters::LogsOptions { follow: true, stdout: true, stderr: true, ..Default::default() };
    let output: Output = Box::pin(docker.logs(id, Some(opts)));
    pump(output, Box::pin(tokio::io::sink()), false, false).await?;
    wait_exit(docker, id).await
}

type Output = Pin<Box<dyn Stream<Item = std::result::Result<LogOutput, bollard::errors::Error>> + Send>>;

/// Copies the session's output to our stdout/stderr (and our stdin to it) until it ends.
async fn pump(mut output: Output, input: Pin<Box<dyn AsyncWrite + Send>>, tty: bool, interactive: bool) -> Result<()> {
    let _raw = (tty && interactive && std::io::stdin().is_terminal()).then(RawMode::enter).flatten();
    if interactive {
        forward_stdin(input);
    }
    while let Some(item) = output.next().await {
        let item = item.map_err(|e| engine_err("reading output", e))?;
        let res = match item {
            LogOutput::StdErr { message } => {
                let mut err = std::io::stderr();
                err.write_all(&message).and_then(|_| err.flush())
            }
            LogOutput::StdOut { message } | LogOutput::Console { message } => {
                let mut out = std::io::stdout();
                out.write_all(&message).and_then(|_| out.flush())
            }
            LogOutput::StdIn { .. } => Ok(()),
        };
        res.map_err(|e| BackendError::io("writing output", e))?;
    }
    Ok(())
}

/// Reads our stdin on a plain thread (a blocked tokio stdin read would hold up runtime
/// shutdown) and writes it to the session; EOF closes the session's stdin.
fn forward_stdin(mut input: Pin<Box<dyn AsyncWrite + Send>>) {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(16);
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin();
        let mut buf = [0u8; 4096];
        loop {
            match std::io::Read::read(&mut stdin, &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.blocking_send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
            }
        }
    });
    tokio::spawn(async move {
        while let Some(chunk) = rx.recv().await {
            if input.write_all(&chunk).await.is_err() || input.flush().await.is_err() {
                return;
            }
        }
        let _ = input.shutdown().await;
    });
}

fn terminal_size() -> Option<(u16, u16)> {
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ only writes into the winsize we pass.
    let rc = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) };
    (rc == 0 && ws.ws_row > 0).then_some((ws.ws_row, ws.ws_col))
}

/// The terminal in raw mode; the original settings come back on drop.
struct RawMode(nix::sys::termios::Termios);

impl RawMode {
    fn enter() -> Option<Self> {
        use nix::sys::termios::{SetArg, cfmakeraw, tcgetattr, tcsetattr};
        let stdin = std::io::stdin();
        let orig = tcgetattr(&stdin).ok()?;
        let mut raw = orig.clone();
        cfmakeraw(&mut raw);
        tcsetattr(&stdin, SetArg::TCSANOW, &raw).ok()?;
        Some(RawMode(orig))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = nix::sys::termios::tcsetattr(std::io::stdin(), nix::sys::termios::SetArg::TCSANOW, &self.0);
    }
}
