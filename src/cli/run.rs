//! `hoist run`: a one-off container of a service, with its command or another.

use std::io::Write;
use anyhow::{bail, Context, Result};

use super::{common, App};
use crate::backend::{labels, Mount};
use crate::compose::model::Port;
use crate::compose::validate::{check_name, NameKind};
use crate::plan::execute::{self, UpOptions};
use crate::plan::graph::Graph;
use crate::plan::spec::{container_spec, volume_name};

#[derive(clap::Args, Debug)]
#[command(trailing_var_arg = true)]
pub struct Args {
    /// Run container in background and print container ID.
    #[arg(short = 'd', long)]
    detach: bool,
    /// Automatically remove the container when it exits.
    #[arg(long)]
    rm: bool,
    /// Set environment variables (repeatable).
    #[arg(short = 'e', long = "env")]
    env: Vec<String>,
    /// Bind mount a volume (repeatable).
    #[arg(short = 'v', long = "volume")]
    volumes: Vec<String>,
    /// Publish a container's port(s) to the host (repeatable).
    #[arg(short = 'p', long = "publish")]
    publish: Vec<String>,
    /// Run command with the service's ports enabled and mapped to the host.
    #[arg(short = 'P', long)]
    service_ports: bool,
    /// Add Linux capabilities (repeatable).
    #[arg(long)]
    cap_add: Vec<String>,
    /// Drop Linux capabilities (repeatable).
    #[arg(long)]
    cap_drop: Vec<String>,
    /// Add or override a label (repeatable).
    #[arg(short = 'l', long = "label")]
    labels: Vec<String>,
    /// Don't start linked services.
    #[arg(long)]
    no_deps: bool,
    /// Override the entrypoint of the image.
    #[arg(long)]
    entrypoint: Option<String>,
    /// Run as specified username or uid.
    #[arg(short = 'u', long)]
    user: Option<String>,
    /// Working directory inside the container.
    #[arg(short = 'w', long)]
    workdir: Option<String>,
    /// Assign a name to the container.
    #[arg(long)]
    name: Option<String>,
    /// Disable pseudo-TTY allocation (default: auto-detected).
    #[arg(short = 'T', long = "no-TTY", visible_alias = "no-tty")]
    no_tty: bool,
    /// Use the service's network aliases in the networks the container connects to.
    #[arg(long)]
    use_aliases: bool,
    /// Read in a file of environment variables (repeatable).
    #[arg(long, value_name = "FILE")]
    env_from_file: Vec<std::path::PathBuf>,
    /// Remove containers for services not defined in the compose file.
    #[arg(long, env = "COMPOSE_REMOVE_ORPHANS", value_parser = clap::builder::BoolishValueParser::new())]
    remove_orphans: bool,
    /// Don't print anything to STDOUT (no progress; the container's own output is shown).
    #[arg(short = 'q', long)]
    quiet: bool,
    #[command(flatten)]
    images: super::up::RunImageArgs,
    /// Allocate a pseudo-TTY (the default when the terminal is one; `--tty=false` = `-T`).
    #[arg(short = 't', long, default_value_t = true, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set)]
    tty: bool,
    /// Keep STDIN open even if not attached (`--interactive=false` closes it).
    #[arg(short = 'i', long, default_value_t = true, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set)]
    interactive: bool,
    service: String,
    command: Vec<String>,
}

/// `-v` in short syntax: `src:dst[:ro|rw]` (a path source is a bind, otherwise a volume).
fn parse_volume(ctx: &execute::Ctx, v: &str) -> Result<Mount> {
    let parts: Vec<&str> = v.split(':').collect();
    let (src, dst, mode) = match parts.as_slice() {
        [dst] => return Ok(Mount::Volume { name: None, target: dst.to_string(), read_only: false, nocopy: false }),
        [s, d] => (*s, *d, ""),
        [s, d, m] => (*s, *d, *m),
        _ => bail!("invalid volume specification {v:?}"),
    };
    if !dst.starts_with('/') {
        bail!("invalid volume specification {v:?}: the container path must be absolute");
    }
    let read_only = mode.split(',').any(|m| m == "ro");
    if src.starts_with('/') || src.starts_with('.') || src.starts_with('~') {
        let path = if let Some(rest) = src.strip_prefix("~") {
            std::path::PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(rest.trim_start_matches('/'))
        } else {
            std::env::current_dir()?.join(src)
        };
        Ok(Mount::Bind { source: path, target: dst.into(), read_only, create_host_path: true })
    } else {
        let name = if ctx.project.volumes.contains_key(src) { volume_name(&ctx.project, src) } else { src.to_string() };
        check_name(NameKind::Volume, &name).map_err(|e| anyhow::anyhow!("-v {v:?}: {e}"))?;
        Ok(Mount::Volume { name: Some(name), target: dst.into(), read_only, nocopy: false })
    }
}

/// `-p` in short syntax: `c`, `h:c`, `ip:h:c`, `ip::c`, with `/udp`.
fn parse_publish(p: &str) -> Result<Port> {
    let (spec, protocol) = p.split_once('/').unwrap_or((p, "tcp"));
    let parts: Vec<&str> = spec.rsplitn(3, ':').collect();
    let num = |s: &str| s.parse::<u16>().with_context(|| format!("invalid port {p:?}"));
    let (host_ip, published, target) = match parts.as_slice() {
        [c] => (None, None, num(c)?),
        [c, h] => (None, Some(num(h)?), num(c)?),
        [c, h, ip] => (Some(ip.to_string()), if h.is_empty() { None } else { Some(num(h)?) }, num(c)?),
        _ => bail!("invalid port {p:?}"),
    };
    Ok(Port { target, published, host_ip, protocol: protocol.into(), mode: None, name: None, app_protocol: None })
}

pub async fn run(app: &App, a: Args) -> Result<i32> {
    // Names are checked before the dependencies start: a refused run leaves nothing up.
    if let Some(name) = &a.name {
        check_name(NameKind::Container, name).map_err(|e| anyhow::anyhow!("--name: {e}"))?;
    }
    let mut ctx = app.ctx_targeting(std::slice::from_ref(&a.service)).await?;
    if a.quiet {
        ctx.progress = crate::output::progress::reporter(crate::output::progress::Mode::Quiet, false, false);
    }
    common::check_services(&ctx, std::slice::from_ref(&a.service))?;
    let mut file_env = Vec::new();
    for f in &a.env_from_file {
        let lookup = |k: &str| std::env::var(k).ok();
        match crate::compose::env::read_dotenv(f, &lookup)? {
            Some(pairs) => file_env.extend(pairs),
            None => bail!("--env-from-file {}: no such file", f.display()),
        }
    }
    let images = a.images.options();
    let volumes = a.volumes.iter().map(|v| parse_volume(&ctx, v)).collect::<Result<Vec<_>>>()?;
    if !a.no_deps {
        let graph = Graph::new(&ctx.project)?;
        let deps: Vec<String> = graph.with_dependencies(std::slice::from_ref(&a.service)).into_iter().filter(|s| *s != a.service).collect();
        if !deps.is_empty() {
            let opts = UpOptions {
                services: deps,
                recreate: crate::plan::converge::Recreate::Never,
                recreate_deps: crate::plan::converge::Recreate::Never,
                images: images.clone(),
                remove_orphans: a.remove_orphans,
                ignore_orphans: super::env_true("COMPOSE_IGNORE_ORPHANS"),
                ..Default::default()
            };
            execute::up(&ctx, &opts).await?;
        }
    } else if a.remove_orphans {
        execute::remove_orphans(&ctx, None).await?;
    }
    let observed = ctx.observe().await?;
    let mut spec = container_spec(&ctx.project, &a.service, 1, true, &observed);
    let suffix: String = format!("{:012x}", rand_suffix());
    let sep = ctx.project.separator();
    spec.name = a.name.clone().unwrap_or_else(|| format!("{}{sep}{}{sep}run{sep}{suffix}", ctx.project.name, a.service));
    spec.labels.insert(labels::ONEOFF.into(), "True".into());
    spec.labels.insert("com.docker.compose.slug".into(), suffix);
    spec.restart = None;
    if !a.command.is_empty() {
        spec.command = Some(a.command.clone());
    }
    if let Some(ep) = &a.entrypoint {
        spec.entrypoint = Some(shell_words::split(ep).with_context(|| format!("invalid --entrypoint {ep:?}"))?);
    }
    // The files first, then -e, each overriding the service's environment.
    spec.env.extend(file_env);
    spec.env.extend(common::env_pairs(&a.env));
    // One-off containers are known on their networks by their own name; the service's
    // name and aliases only with --use-aliases, as Docker Compose's.
    if let crate::backend::NetworkMode::Networks(nets) = &mut spec.network {
        let service = &ctx.project.services[&a.service];
        for n in nets {
            n.aliases = vec![spec.name.clone()];
            n.ipv4_address = None;
            if a.use_aliases {
                n.aliases.push(a.service.clone());
                let key = service.networks.iter().find(|(k, _)| crate::plan::spec::network_name(&ctx.project, k) == n.network);
                n.aliases.extend(key.iter().flat_map(|(_, sn)| sn.aliases.iter().cloned()));
            }
        }
    }
    if a.user.is_some() {
        spec.user = a.user.clone();
    }
    if a.workdir.is_some() {
        spec.working_dir = a.workdir.clone();
    }
    for m in volumes {
        spec.mounts.retain(|x| x.target() != m.target());
        spec.mounts.push(m);
    }
    if !a.service_ports {
        spec.ports.clear();
    }
    for p in &a.publish {
        spec.ports.push(parse_publish(p)?);
    }
    spec.cap_add.extend(a.cap_add.iter().cloned());
    spec.cap_drop.extend(a.cap_drop.iter().cloned());
    for l in &a.labels {
        let (k, v) = l.split_once('=').unwrap_or((l, ""));
        spec.labels.insert(k.into(), v.into());
    }
    let tty = a.tty && !a.no_tty && !a.detach && console::Term::stdout().is_term() && console::Term::stderr().is_term();
    spec.tty = tty;
    spec.stdin_open = a.interactive && !a.detach;

    execute::prepare_one_off(&ctx, &a.service, &images).await?;
    let id = ctx.backend.create_container(&spec, None).await.with_context(|| format!("container {}", spec.name))?;
    if a.detach {
        ctx.backend.start_container(&id).await?;
        // Compose prints the container's ID, as `docker run -d` does.
        writeln!(std::io::stdout(), "{id}")?;
        return Ok(0);
    }
    let result = ctx.backend.attach_and_start(&id, tty, spec.stdin_open).await;
    if a.rm {
        ctx.backend.remove_container(&id, true, true).await.with_context(|| format!("removing {}", spec.name))?;
    }
    Ok(result?)
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos());
    h.finish() & 0xffff_ffff_ffff
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_forms() {
        assert_eq!(parse_publish("80").unwrap().published, None);
        let p = parse_publish("127.0.0.1::80/udp").unwrap();
        assert_eq!((p.host_ip.as_deref(), p.published, p.target, p.protocol.as_str()), (Some("127.0.0.1"), None, 80, "udp"));
        assert_eq!(parse_publish("8080:80").unwrap().published, Some(8080));
        assert!(parse_publish("x:80").is_err());
    }
}
