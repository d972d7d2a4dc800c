//! `hoist convert --to kubernetes [-o DIR]`: the project as Kubernetes manifests, one YAML
//! stream on stdout or one file per object; what does not map is warned about on stderr.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::ValueEnum;

use super::App;
use crate::export::kubernetes::{self, HostContent};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The format to convert to.
    #[arg(long, value_enum)]
    to: Format,
    /// Write one file per object (`<name>-<kind>.yaml`) into this directory instead of
    /// one YAML stream on stdout.
    #[arg(short = 'o', long, value_name = "DIR")]
    output: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    #[value(alias = "k8s")]
    Kubernetes,
}

pub async fn run(app: &App, a: Args) -> Result<i32> {
    let Format::Kubernetes = a.to;
    let project = app.project()?;
    // `configs`/`secrets` with `environment:` read the variables the loader saw (.env too).
    let env = crate::compose::discover::discover(&app.load_options(true))?.env.vars;
    let manifests = kubernetes::convert(&project, &HostContent { env })?;
    for w in &manifests.warnings {
        eprintln!("WARN[0000] {w}");
    }
    let Some(dir) = a.output else {
        write!(std::io::stdout(), "{}", manifests.to_yaml()?)?;
        return Ok(0);
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    for (file, yaml) in manifests.files()? {
        let path = dir.join(file);
        std::fs::write(&path, yaml).with_context(|| format!("writing {}", path.display()))?;
        writeln!(std::io::stdout(), "{}", path.display())?;
    }
    Ok(0)
}
