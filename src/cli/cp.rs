//! `hoist cp`: copy files and directories between a service's containers and the host,
//! as `docker compose cp` does (to every container of the service unless `--index`).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::{common, App};
use crate::backend::{archive, ContainerSummary};
use crate::plan::execute::Ctx;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Index of the container if the service has multiple replicas (default: all of them
    /// when copying to a service, the first when copying from one).
    #[arg(long)]
    index: Option<u32>,
    /// Include containers created by the run command.
    #[arg(long)]
    all: bool,
    /// Archive mode: files copied into a container keep their owner (uid/gid).
    #[arg(short = 'a', long)]
    archive: bool,
    /// Follow a symlink at the end of SRC (copy what it points to, under SRC's name).
    #[arg(short = 'L', long)]
    follow_link: bool,
    /// SERVICE:SRC_PATH or a host path.
    #[arg(value_name = "SRC")]
    src: String,
    /// SERVICE:DEST_PATH or a host path.
    #[arg(value_name = "DEST")]
    dest: String,
}

enum Side {
    Host(String),
    /// A service and an absolute path in its containers.
    Service(String, String),
}

fn side(arg: &str) -> Side {
    // `./a:b` and `/a:b` are host paths, as with `docker compose cp`.
    match arg.split_once(':') {
        Some((service, path)) if !arg.starts_with(['/', '.']) && !service.is_empty() => {
            let path = if path.starts_with('/') { path.to_string() } else { format!("/{path}") };
            Side::Service(service.to_string(), path)
        }
        _ => Side::Host(arg.to_string()),
    }
}

/// `dir/.` means "what is in dir": (the path without it, whether it was there).
fn contents_of(path: &str) -> (&str, bool) {
    match path.strip_suffix("/.") {
        Some(p) => (if p.is_empty() { "/" } else { p }, true),
        None => (path, false),
    }
}

fn base_name(path: &str) -> String {
    Path::new(path).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| ".".into())
}

pub async fn run(app: &App, a: Args) -> Result<i32> {
    match (side(&a.src), side(&a.dest)) {
        (Side::Service(service, path), Side::Host(dest)) => {
            let ctx = app.ctx().await?;
            let c = targets(&ctx, &service, a.index, a.all).await?.remove(0);
            // A dry run writes nothing on the host either.
            if app.dry_run {
                ctx.progress.event("Container", &c.name, &format!("Copy {service}:{path} to {dest}"));
                return Ok(0);
            }
            from_container(&ctx, &c, &path, &dest, a.follow_link).await?;
        }
        (Side::Host(src), Side::Service(service, path)) => {
            let ctx = app.ctx().await?;
            for c in targets(&ctx, &service, a.index, a.all).await? {
                to_container(&ctx, &c, &src, &path, &a).await.with_context(|| format!("copying {src} to {}:{path}", c.name))?;
            }
        }
        (Side::Service(..), Side::Service(..)) => bail!("copying between containers is not supported: copy to the host first"),
        (Side::Host(_), Side::Host(_)) => bail!("one of SRC and DEST must be SERVICE:PATH"),
    }
    Ok(0)
}

/// The containers a copy involves, by number (one-off ones only with `--all`).
async fn targets(ctx: &Ctx, service: &str, index: Option<u32>, all: bool) -> Result<Vec<ContainerSummary>> {
    common::check_services(ctx, &[service.to_string()])?;
    let list: Vec<ContainerSummary> = common::containers(ctx, &[service.to_string()], true).await?.into_iter().filter(|c| all || !c.oneoff).collect();
    let list: Vec<ContainerSummary> = match index {
        Some(i) => list.into_iter().filter(|c| !c.oneoff && c.number == i).collect(),
        None => list,
    };
    if list.is_empty() {
        match index {
            Some(i) => bail!("service {service:?} has no container with index {i}"),
            None => bail!("service {service:?} has no container"),
        }
    }
    Ok(list)
}

/// The container's archive is unpacked as it arrives: memory stays bounded whatever its size.
async fn from_container(ctx: &Ctx, c: &ContainerSummary, path: &str, dest: &str, follow_link: bool) -> Result<()> {
    let (path, contents) = contents_of(path);
    let host = PathBuf::from(dest);
    if dest.ends_with('/') && !host.is_dir() {
        bail!("destination directory {dest} does not exist");
    }
    let tar = archive::reader(ctx.backend.copy_from_container(&c.id, path, follow_link).await?);
    let target = if host.is_dir() && !contents { host.join(base_name(path)) } else { host };
    tokio::task::spawn_blocking(move || archive::unpack_as(tar, &target).with_context(|| format!("writing {}", target.display()))).await??;
    ctx.progress.event("Container", &format!("{} copy {}:{path} to {dest}", c.name, c.service), "Copied");
    Ok(())
}

async fn to_container(ctx: &Ctx, c: &ContainerSummary, src: &str, path: &str, a: &Args) -> Result<()> {
    let (src, contents) = contents_of(src);
    let meta = if a.follow_link { std::fs::metadata(src) } else { std::fs::symlink_metadata(src) };
    let meta = meta.with_context(|| format!("{src}: no such file or directory"))?;
    let (dir, name) = match ctx.backend.is_dir_in_container(&c.id, path).await? {
        Some(true) => (path.to_string(), if contents { ".".into() } else { base_name(src) }),
        Some(false) if meta.is_dir() => bail!("cannot copy a directory over the file {path}"),
        None if path.ends_with('/') => bail!("destination directory {path} does not exist in {}", c.name),
        _ => {
            let parent = Path::new(path).parent().map(|p| p.display().to_string()).unwrap_or_else(|| "/".into());
            (parent, base_name(path))
        }
    };
    let (items, follow) = (vec![(PathBuf::from(src), name)], a.follow_link);
    let tar = archive::produce(move |w| archive::pack(w, &items, &|_| false, follow).map(|_| ()));
    ctx.backend.copy_to_container(&c.id, &dir, tar, a.archive).await?;
    ctx.progress.event("Container", &format!("{} copy {src} to {}:{path}", c.name, c.service), "Copied");
    Ok(())
}

#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// Index of the container if the service has multiple replicas (default: the first).
    #[arg(long)]
    index: Option<u32>,
    /// Write to a file, instead of STDOUT.
    #[arg(short = 'o', long, value_name = "FILE")]
    output: Option<PathBuf>,
    service: String,
}

/// `hoist export`: a service container's filesystem as a tar archive, as `docker export`
/// writes it (no volumes); to a terminal only with `-o`.
pub async fn export(app: &App, a: ExportArgs) -> Result<i32> {
    use futures::StreamExt;
    use std::io::Write;
    if a.output.is_none() && !app.dry_run && console::Term::stdout().is_term() {
        bail!("refusing to export to terminal: use -o FILE, or redirect the output");
    }
    let ctx = app.ctx().await?;
    let c = common::service_container(&ctx, &a.service, a.index).await?;
    if app.dry_run {
        ctx.progress.event("Container", &c.name, "Exported");
        return Ok(0);
    }
    let mut stream = ctx.backend.export_container(&c.id).await.with_context(|| format!("exporting {}", c.name))?;
    let (mut out, tmp): (Box<dyn Write>, Option<PathBuf>) = match &a.output {
        // Written beside the target (a new file, never through a planted link) and renamed
        // at the end: a failed export leaves no half file.
        Some(path) => {
            let name = path.file_name().filter(|_| !path.is_dir()).with_context(|| format!("-o {}: not a file name", path.display()))?;
            let tmp = path.with_file_name(format!(".{}.{}.partial", name.to_string_lossy(), std::process::id()));
            let file = std::fs::File::create_new(&tmp).with_context(|| format!("-o {}: cannot write beside it", path.display()))?;
            (Box::new(file), Some(tmp))
        }
        None => (Box::new(std::io::stdout().lock()), None),
    };
    let written = async {
        while let Some(chunk) = stream.next().await {
            out.write_all(&chunk?)?;
        }
        out.flush()?;
        Ok::<(), anyhow::Error>(())
    }
    .await;
    drop(out);
    match (written, tmp, &a.output) {
        (Ok(()), Some(tmp), Some(path)) => {
            if let Err(e) = std::fs::rename(&tmp, path) {
                let _ = std::fs::remove_file(&tmp);
                return Err(anyhow::Error::from(e).context(format!("writing {}", path.display())));
            }
        }
        (Err(e), Some(tmp), _) => {
            let _ = std::fs::remove_file(tmp);
            return Err(e.context(format!("exporting {}", c.name)));
        }
        (r, _, _) => r.with_context(|| format!("exporting {}", c.name))?,
    }
    Ok(0)
}
