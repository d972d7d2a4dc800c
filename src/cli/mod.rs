//! The command line: global flags, one file per command, errors printed once here.

mod build;
mod common;
mod completion;
pub mod compat;
mod config;
mod convert;
mod cp;
mod down;
mod events;
mod exec;
mod graph;
mod image;
mod lifecycle;
mod logs;
mod ls;
mod port;
mod ps;
mod run;
mod stack;
mod stats;
mod up;
mod volume;
mod wait;
mod watch;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use clap::{Parser, Subcommand, ValueEnum};

use crate::backend::Backend;
use crate::compose::{LoadOptions, Project};
use crate::output::progress::{self, ProgressRef};
use crate::plan::execute::Ctx;

#[derive(Parser, Debug)]
#[command(name = "hoist", version, disable_version_flag = true, subcommand_required = false, about = "Define and run multi-container applications, with or without a Docker engine")]
pub struct Cli {
    /// Compose configuration files (repeatable; `-` reads stdin).
    #[arg(short = 'f', long = "file")]
    files: Vec<PathBuf>,
    /// Project name.
    #[arg(short = 'p', long = "project-name")]
    project_name: Option<String>,
    /// Alternate working directory (default: the directory of the first file).
    #[arg(long, global = true, alias = "workdir")]
    project_directory: Option<PathBuf>,
    /// Alternate environment files (repeatable; default: COMPOSE_ENV_FILES, comma-separated).
    #[arg(long = "env-file", global = true)]
    env_files: Vec<PathBuf>,
    /// Profiles to enable (repeatable).
    #[arg(long = "profile", id = "profile", global = true)]
    profiles: Vec<String>,
    /// Which engine runs the project (default: builtin; docker when DOCKER_HOST is set;
    /// swarm deploys it as a stack on a swarm manager).
    #[arg(long, global = true, env = "HOIST_BACKEND")]
    backend: Option<BackendKind>,
    /// Engine operations run at once (default and -1: unlimited).
    #[arg(long, global = true, env = "COMPOSE_PARALLEL_LIMIT", allow_negative_numbers = true, value_parser = parse_parallel)]
    parallel: Option<Parallel>,
    /// Progress output: auto, tty, plain, json, quiet.
    #[arg(long, global = true, env = "COMPOSE_PROGRESS", default_value = "auto")]
    progress: String,
    /// Control ANSI output: never, always, auto.
    #[arg(long, global = true, env = "COMPOSE_ANSI", default_value = "auto")]
    ansi: String,
    /// Docker Compose's old spelling of `--ansi never`.
    #[arg(long, global = true, hide = true)]
    no_ansi: bool,
    /// Run compose in backward compatibility mode: containers named `project_service_1`.
    #[arg(long, global = true)]
    compatibility: bool,
    /// Execute command in dry run mode: read as usual, change nothing, say what would be done.
    #[arg(long, global = true)]
    dry_run: bool,
    /// Include all resources, even those not used by services.
    #[arg(long, global = true)]
    all_resources: bool,
    /// Docker Compose's hidden `-v`: the version, as `hoist version` prints it.
    #[arg(short = 'v', long = "version", hide = true, action = clap::ArgAction::SetTrue)]
    show_version: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

/// `--parallel N`: at most N engine operations at once; -1 (Compose's spelling) none.
#[derive(Debug, Clone, Copy)]
struct Parallel(Option<usize>);

fn parse_parallel(s: &str) -> std::result::Result<Parallel, String> {
    match s.trim().parse::<i64>() {
        // Compose limits only for a positive number: 0 and below are no limit.
        Ok(n) if n > 0 => Ok(Parallel(usize::try_from(n).ok())),
        Ok(_) => Ok(Parallel(None)),
        Err(_) => Err(format!("{s:?} is not a number of operations (a positive number, or -1 for no limit)")),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendKind {
    Builtin,
    Docker,
    /// A Docker swarm: `up`, `down`, `ps`, `logs`, `scale`, `ls` act on a stack of services.
    Swarm,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create and start containers.
    Up(up::Args),
    /// Stop and remove containers, networks (and volumes with -v).
    Down(down::Args),
    /// List containers.
    Ps(ps::Args),
    /// View output from containers.
    Logs(logs::Args),
    /// Start existing containers.
    Start(lifecycle::StartArgs),
    /// Stop running containers without removing them.
    Stop(lifecycle::StopArgs),
    /// Restart containers.
    Restart(lifecycle::RestartArgs),
    /// Force stop containers.
    Kill(lifecycle::KillArgs),
    /// Remove stopped containers.
    Rm(lifecycle::RmArgs),
    /// Create containers without starting them.
    Create(up::CreateArgs),
    /// Set the number of containers for services.
    Scale(up::ScaleArgs),
    /// Pause services.
    Pause(lifecycle::ServicesArgs),
    /// Unpause services.
    Unpause(lifecycle::ServicesArgs),
    /// Run a one-off command on a service.
    Run(run::Args),
    /// Execute a command in a running container.
    Exec(exec::Args),
    /// Print the public port for a port binding.
    Port(port::Args),
    /// Display the running processes.
    Top(lifecycle::ServicesArgs),
    /// Receive real time events from containers.
    Events(events::Args),
    /// Block until the containers of the services stop; exit with the first one's code.
    Wait(wait::Args),
    /// Display a live stream of container resource usage statistics.
    Stats(stats::Args),
    /// Build or rebuild service images.
    Build(build::BuildArgs),
    /// Push service images to their registry.
    Push(build::PushArgs),
    /// Pull service images.
    Pull(image::PullArgs),
    /// List images used by the created containers.
    Images(image::ImagesArgs),
    /// List running compose projects.
    Ls(ls::Args),
    /// Parse, resolve and render the compose file in canonical format.
    Config(config::Args),
    /// Show the hoist version.
    Version(ls::VersionArgs),
    /// Print the service dependency graph (DOT or Mermaid), or render it to a picture.
    Graph(graph::Args),
    /// Convert the project to another platform's manifests (Kubernetes).
    Convert(convert::Args),
    /// Watch the services' source files and update their containers (`develop.watch`).
    Watch(watch::Args),
    /// Copy files or folders between a service container and the host.
    Cp(cp::Args),
    /// Export a service container's filesystem as a tar archive.
    Export(cp::ExportArgs),
    /// Create a new image from a service container's changes.
    Commit(image::CommitArgs),
    /// Attach to a service's running container (its output, and its input).
    Attach(exec::AttachArgs),
    /// Manage images in the engine's store.
    #[command(subcommand)]
    Image(image::ImageCommand),
    /// Manage volumes.
    #[command(subcommand)]
    Volume(volume::VolumeCommand),
    /// List the project's volumes.
    Volumes(volume::VolumesArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completion(completion::CompletionArgs),
    /// Print the man page (roff), e.g. `hoist man > /usr/local/share/man/man1/hoist.1`.
    Man,
}

/// What commands share: the parsed global flags, the project and the backend, loaded
/// on demand (some commands need neither).
pub struct App {
    cli_files: Vec<PathBuf>,
    project_name: Option<String>,
    project_directory: Option<PathBuf>,
    env_files: Vec<PathBuf>,
    profiles: Vec<String>,
    backend_kind: BackendKind,
    parallel: Option<usize>,
    /// `COMPOSE_STATUS_STDOUT`: progress and warnings on stdout instead of stderr.
    status_stdout: bool,
    pub progress_mode: progress::Mode,
    pub color: bool,
    /// The backend whose unapplied compose keys loading reports, and whether it refuses them.
    key_check: Option<(crate::compose::keys::Backend, bool)>,
    /// The command acts on existing containers: `-p NAME` without a file will do.
    by_labels: bool,
    /// `--compatibility` / `COMPOSE_COMPATIBILITY`.
    compatibility: bool,
    /// `--all-resources`: every network and volume of the file is created, used or not.
    all_resources: bool,
    /// `--dry-run`.
    pub dry_run: bool,
}

impl App {
    fn load_options(&self, interpolate: bool) -> LoadOptions {
        LoadOptions {
            targets: vec![],
            files: self.cli_files.clone(),
            project_name: self.project_name.clone(),
            project_directory: self.project_directory.clone(),
            env_files: self.env_files.clone(),
            profiles: self.profiles.clone(),
            interpolate,
            cwd: None,
            environment: None,
            backend: self.key_check.map(|(b, _)| b),
            warn_only: self.key_check.is_some_and(|(_, refuse)| !refuse),
        }
    }

    pub fn project(&self) -> Result<Project> {
        self.project_targeting(&[])
    }

    /// The project with `services` enabled whatever their profiles (see LoadOptions::targets).
    fn project_targeting(&self, services: &[String]) -> Result<Project> {
        let opts = LoadOptions { targets: services.to_vec(), ..self.load_options(true) };
        let out = match crate::compose::load_with_warnings(&opts) {
            // `-p NAME down` (ps, logs, stop ...) in a folder without a compose file acts on
            // the project its labels name, as Docker Compose does.
            Err(e) if e.message.starts_with(crate::compose::discover::NO_CONFIG_FILE) && self.by_labels && self.cli_files.is_empty() && self.project_name.is_some() => {
                let name = self.project_name()?;
                return Ok(Project { name, working_dir: std::env::current_dir().unwrap_or_default(), from_labels: true, compatibility: self.compatibility, ..Project::default() });
            }
            other => other?,
        };
        for w in &out.warnings {
            eprintln!("WARN[0000] {w}");
        }
        let mut project = out.project;
        project.compatibility = self.compatibility;
        project.all_resources = self.all_resources;
        Ok(project)
    }

    /// The project name alone: from -p when given, else from the files.
    pub fn project_name(&self) -> Result<String> {
        match &self.project_name {
            Some(p) => Ok(crate::compose::normalize_project_name(p)?),
            None => Ok(self.project()?.name),
        }
    }

    pub async fn backend(&self) -> Result<Arc<dyn Backend>> {
        let backend: Arc<dyn Backend> = match self.backend_kind {
            // On a swarm, engine-level commands (build, push, pull, image, volume) act on
            // the manager's Docker engine.
            BackendKind::Docker | BackendKind::Swarm => crate::backend::docker::DockerBackend::connect()?,
            BackendKind::Builtin => crate::backend::builtin::BuiltinBackend::open()?,
        };
        Ok(if self.dry_run { crate::backend::dryrun::DryRun::wrap(backend) } else { backend })
    }

    pub fn progress(&self) -> ProgressRef {
        let reporter = progress::reporter(self.progress_mode, self.color, self.status_stdout);
        if self.dry_run { Arc::new(crate::backend::dryrun::DryRunProgress(reporter)) } else { reporter }
    }

    /// Project + backend + progress, for commands that act on a project.
    pub async fn ctx(&self) -> Result<Ctx> {
        self.ctx_targeting(&[]).await
    }

    /// As `ctx`, with the services named on the command line enabled whatever their
    /// profiles (`run backup` runs a service of an inactive profile).
    pub async fn ctx_targeting(&self, services: &[String]) -> Result<Ctx> {
        let project = Arc::new(self.project_targeting(services)?);
        let backend = self.backend().await?;
        Ok(Ctx::new(backend, project, self.progress(), self.parallel))
    }
}

/// Runs the CLI; returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    let Some(command) = cli.command else {
        if cli.show_version {
            println!("{}", ls::version_line());
            return 0;
        }
        let _ = command().print_help();
        return 0;
    };
    let backend_kind = cli.backend.unwrap_or(if std::env::var_os("DOCKER_HOST").is_some() {
        BackendKind::Docker
    } else {
        BackendKind::Builtin
    });
    let color = match if cli.no_ansi { "never" } else { cli.ansi.as_str() } {
        "never" => false,
        "always" => true,
        _ => std::env::var_os("NO_COLOR").is_none() && console::Term::stdout().is_term(),
    };
    let Some(progress_mode) = progress::Mode::parse(&cli.progress) else {
        eprintln!("hoist: invalid --progress {:?}: use auto, tty, plain, json or quiet", cli.progress);
        return 2;
    };
    let app = App {
        key_check: key_check(backend_kind, &command),
        by_labels: acts_on_existing(&command),
        compatibility: cli.compatibility || env_true("COMPOSE_COMPATIBILITY"),
        dry_run: cli.dry_run,
        all_resources: cli.all_resources,
        cli_files: cli.files,
        project_name: cli.project_name,
        project_directory: cli.project_directory,
        // The variable is a comma-separated list; the flag is one path each time, commas kept.
        env_files: if cli.env_files.is_empty() {
            std::env::var("COMPOSE_ENV_FILES").unwrap_or_default().split(',').filter(|f| !f.is_empty()).map(PathBuf::from).collect()
        } else {
            cli.env_files
        },
        profiles: cli.profiles,
        backend_kind,
        parallel: cli.parallel.and_then(|p| p.0),
        status_stdout: env_true("COMPOSE_STATUS_STDOUT"),
        progress_mode,
        color,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("hoist: cannot start the async runtime: {e}");
            return 1;
        }
    };
    let result = runtime.block_on(dispatch(&app, command));
    // Background tasks (log followers) must not keep the process alive.
    runtime.shutdown_background();
    match result {
        Ok(code) => code,
        // A reader that stopped early (`hoist logs | grep -q x`) is not a failure.
        Err(e) if is_broken_pipe(&e) => 0,
        Err(e) => {
            print_error(&e);
            1
        }
    }
}

/// A `COMPOSE_*` switch set to a true value (`1`, `true`, `yes`, `on`), as Compose reads them.
pub(crate) fn env_true(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"))
}

/// A command line clap refuses: help and version as asked; a flag or command of Docker
/// Compose that hoist does not have gets the reason from compat.rs; exit 1 as Compose's.
fn usage_error(e: clap::Error) -> i32 {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand) {
        let _ = e.print();
        return 0;
    }
    let invalid = match e.get(ContextKind::InvalidArg).or_else(|| e.get(ContextKind::InvalidSubcommand)) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        _ => None,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = command();
    let sub = args.iter().find(|a| root.find_subcommand(a.as_str()).is_some());
    let refused = invalid.as_deref().and_then(|arg| {
        let (cmd, option) = match (e.kind(), arg.strip_prefix("--")) {
            (ErrorKind::InvalidSubcommand, _) => (arg, ""),
            (_, Some(long)) => (sub.map_or("-", String::as_str), long.split('=').next().unwrap_or(long)),
            _ => return None,
        };
        let (cmd, diff) = match compat::find(cmd, option) {
            Some(d) => (cmd, d),
            None => ("-", compat::find("-", option)?),
        };
        let what = match (cmd, option) {
            (_, "") => format!("hoist {cmd}"),
            ("-", _) => format!("hoist --{option}"),
            _ => format!("hoist {cmd} --{option}"),
        };
        match diff {
            compat::Diff::Refused(why) => Some(format!("`{what}` is Docker Compose's, and hoist does not take it: {why}")),
            compat::Diff::Differs(_) => None,
        }
    });
    match refused {
        Some(msg) => eprintln!("hoist: {msg}"),
        None => {
            let _ = e.print();
        }
    }
    1
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
}

fn print_error(e: &anyhow::Error) {
    if let Some(ce) = e.downcast_ref::<crate::compose::ComposeError>() {
        eprintln!("{ce}");
        return;
    }
    eprintln!("Error: {e:#}");
}

/// What loading the file does with keys the backend does not apply (compose/keys.rs):
/// commands that build, create or start containers refuse them; the others only warn, so
/// a stack stays inspectable and removable. A swarm and `convert` have their own tables.
/// Commands that act on existing containers: `-p NAME` without a compose file will do
/// for them, as for Docker Compose's (the project known by its labels).
fn acts_on_existing(command: &Command) -> bool {
    matches!(
        command,
        Command::Down(_)
            | Command::Start(_)
            | Command::Restart(_)
            | Command::Ps(_)
            | Command::Logs(_)
            | Command::Stop(_)
            | Command::Kill(_)
            | Command::Rm(_)
            | Command::Pause(_)
            | Command::Unpause(_)
            | Command::Exec(_)
            | Command::Port(_)
            | Command::Top(_)
            | Command::Events(_)
            | Command::Wait(_)
            | Command::Stats(_)
            | Command::Images(_)
            | Command::Cp(_)
            | Command::Volumes(_)
            | Command::Export(_)
            | Command::Commit(_)
            | Command::Attach(_)
    )
}

fn key_check(kind: BackendKind, command: &Command) -> Option<(crate::compose::keys::Backend, bool)> {
    let backend = match kind {
        BackendKind::Builtin => crate::compose::keys::Backend::Builtin,
        BackendKind::Docker => crate::compose::keys::Backend::Docker,
        BackendKind::Swarm => return None,
    };
    let refuse = match command {
        Command::Convert(_) => return None,
        Command::Up(_) | Command::Create(_) | Command::Run(_) | Command::Start(_) | Command::Restart(_) | Command::Scale(_) => true,
        Command::Build(_) | Command::Watch(_) => true,
        _ => false,
    };
    Some((backend, refuse))
}

/// The commands that act on containers, which a swarm manages itself.
fn container_command(command: &Command) -> Option<&'static str> {
    Some(match command {
        Command::Start(_) => "start",
        Command::Stop(_) => "stop",
        Command::Restart(_) => "restart",
        Command::Kill(_) => "kill",
        Command::Rm(_) => "rm",
        Command::Create(_) => "create",
        Command::Pause(_) => "pause",
        Command::Unpause(_) => "unpause",
        Command::Run(_) => "run",
        Command::Exec(_) => "exec",
        Command::Port(_) => "port",
        Command::Top(_) => "top",
        Command::Images(_) => "images",
        Command::Events(_) => "events",
        Command::Wait(_) => "wait",
        Command::Stats(_) => "stats",
        Command::Watch(_) => "watch",
        Command::Cp(_) => "cp",
        Command::Volumes(_) => "volumes",
        Command::Export(_) => "export",
        Command::Commit(_) => "commit",
        Command::Attach(_) => "attach",
        _ => return None,
    })
}

async fn dispatch(app: &App, command: Command) -> Result<i32> {
    // Swarm runs services: the stack commands act on the stack, the container commands
    // are refused, the rest (build, push, pull, image, volume, config) run as usual.
    let swarm = app.backend_kind == BackendKind::Swarm;
    if swarm && let Some(name) = container_command(&command) {
        return Err(stack::not_on_swarm(name));
    }
    if swarm && app.dry_run && matches!(command, Command::Up(_) | Command::Down(_) | Command::Scale(_)) {
        anyhow::bail!("--dry-run is not available with --backend swarm: a stack deploy cannot be simulated (use `hoist --backend swarm config` to check the file)");
    }
    let command = match command {
        Command::Up(a) if swarm => return stack::up(app, a).await,
        Command::Down(a) if swarm => return stack::down(app, a).await,
        Command::Ps(a) if swarm => return stack::ps(app, a).await,
        Command::Logs(a) if swarm => return stack::logs(app, a).await,
        Command::Scale(a) if swarm => return stack::scale(app, a).await,
        Command::Ls(a) if swarm => return stack::ls(app, a).await,
        other => other,
    };
    match command {
        Command::Up(a) => up::run(app, a).await,
        Command::Create(a) => up::create(app, a).await,
        Command::Scale(a) => up::scale(app, a).await,
        Command::Down(a) => down::run(app, a).await,
        Command::Ps(a) => ps::run(app, a).await,
        Command::Logs(a) => logs::run(app, a).await,
        Command::Start(a) => lifecycle::start(app, a).await,
        Command::Stop(a) => lifecycle::stop(app, a).await,
        Command::Restart(a) => lifecycle::restart(app, a).await,
        Command::Kill(a) => lifecycle::kill(app, a).await,
        Command::Rm(a) => lifecycle::rm(app, a).await,
        Command::Pause(a) => lifecycle::pause(app, a, true).await,
        Command::Unpause(a) => lifecycle::pause(app, a, false).await,
        Command::Top(a) => lifecycle::top(app, a).await,
        Command::Events(a) => events::run(app, a).await,
        Command::Wait(a) => wait::run(app, a).await,
        Command::Stats(a) => stats::run(app, a).await,
        Command::Run(a) => run::run(app, a).await,
        Command::Exec(a) => exec::run(app, a).await,
        Command::Port(a) => port::run(app, a).await,
        Command::Pull(a) => image::pull(app, a).await,
        Command::Build(a) => build::build(app, a).await,
        Command::Push(a) => build::push(app, a).await,
        Command::Images(a) => image::images(app, a).await,
        Command::Ls(a) => ls::run(app, a).await,
        Command::Version(a) => ls::version(app, a).await,
        Command::Config(a) => config::run(app, a).await,
        Command::Graph(a) => graph::run(app, a).await,
        Command::Convert(a) => convert::run(app, a).await,
        Command::Watch(a) => watch::run(app, a).await,
        Command::Cp(a) => cp::run(app, a).await,
        Command::Image(c) => image::image_command(app, c).await,
        Command::Volume(c) => volume::run(app, c).await,
        Command::Volumes(a) => volume::volumes(app, a).await,
        Command::Export(a) => cp::export(app, a).await,
        Command::Commit(a) => image::commit(app, a).await,
        Command::Attach(a) => exec::attach(app, a).await,
        Command::Completion(a) => completion::completion(a),
        Command::Man => completion::man(),
    }
}

/// hoist's whole command line, as clap knows it (for completions, the man page and the
/// check against Docker Compose's reference).
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}
