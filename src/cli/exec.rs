//! `hoist exec`: a command in a running container of a service.

use anyhow::{bail, Result};

use super::{common, App};
use crate::backend::ExecSpec;

#[derive(clap::Args, Debug)]
#[command(trailing_var_arg = true)]
pub struct Args {
    /// Detached mode: run command in the background.
    #[arg(short = 'd', long)]
    detach: bool,
    /// Set environment variables (repeatable).
    #[arg(short = 'e', long = "env")]
    env: Vec<String>,
    /// Run the command as this user.
    #[arg(short = 'u', long)]
    user: Option<String>,
    /// Path to workdir directory for this command.
    #[arg(short = 'w', long)]
    workdir: Option<String>,
    /// Disable pseudo-TTY allocation (default: auto-detected).
    #[arg(short = 'T', long = "no-TTY", visible_alias = "no-tty")]
    no_tty: bool,
    /// Allocate a pseudo-TTY (the default when the terminal is one; `--tty=false` = `-T`).
    #[arg(short = 't', long, default_value_t = true, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set)]
    tty: bool,
    /// Keep STDIN open (the default; `--interactive=false` runs without input, for scripts).
    #[arg(short = 'i', long, default_value_t = true, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set)]
    interactive: bool,
    /// Index of the container if the service has multiple replicas.
    #[arg(long)]
    index: Option<u32>,
    /// Give extended privileges to the process.
    #[arg(long)]
    privileged: bool,
    service: String,
    command: Vec<String>,
}

pub async fn run(app: &App, a: Args) -> Result<i32> {
    if a.command.is_empty() {
        bail!("exec needs a command");
    }
    let ctx = app.ctx_targeting(std::slice::from_ref(&a.service)).await?;
    let c = common::service_container(&ctx, &a.service, a.index).await?;
    if !c.state.is_running() {
        bail!("container {} is not running", c.name);
    }
    let tty = a.tty && !a.no_tty && !a.detach && console::Term::stdout().is_term();
    let spec = ExecSpec {
        command: a.command,
        env: common::env_pairs(&a.env),
        user: a.user,
        working_dir: a.workdir,
        tty,
        interactive: a.interactive && !a.detach,
        detach: a.detach,
        privileged: a.privileged,
    };
    Ok(ctx.backend.exec(&c.id, &spec).await?)
}

#[derive(clap::Args, Debug)]
pub struct AttachArgs {
    /// Override the key sequence for detaching from a container.
    #[arg(long)]
    detach_keys: Option<String>,
    /// Index of the container if service has multiple replicas.
    #[arg(long)]
    index: Option<u32>,
    /// Do not attach STDIN.
    #[arg(long)]
    no_stdin: bool,
    /// Proxy all received signals to the process (`--sig-proxy=false` does not).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    sig_proxy: bool,
    service: String,
}

/// `hoist attach`: a running service container's output (and input) on this terminal,
/// until it exits (with its exit code) or is detached from.
pub async fn attach(app: &App, a: AttachArgs) -> Result<i32> {
    let ctx = app.ctx().await?;
    let c = common::service_container(&ctx, &a.service, a.index).await?;
    // As the docker CLI refuses: a stopped container has nothing to attach to.
    match c.state {
        crate::backend::ContainerState::Running | crate::backend::ContainerState::Restarting => {}
        crate::backend::ContainerState::Paused => bail!("you cannot attach to a paused container ({}): unpause it first", c.name),
        _ => bail!("you cannot attach to a stopped container ({}): start it first", c.name),
    }
    let opts = crate::backend::AttachOptions { stdin: !a.no_stdin, detach_keys: a.detach_keys };
    let attached = ctx.backend.attach(&c.id, &opts);
    tokio::pin!(attached);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    loop {
        // Signals this command gets go to the container's process, as `docker attach` does.
        let signal = tokio::select! {
            r = &mut attached => return Ok(r?),
            _ = tokio::signal::ctrl_c() => "SIGINT",
            _ = term.recv() => "SIGTERM",
        };
        if !a.sig_proxy {
            return Ok(130);
        }
        let _ = ctx.backend.kill_container(&c.id, signal).await;
    }
}
