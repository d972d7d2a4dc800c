//! `hoist graph`: the service dependency graph as DOT or Mermaid, or rendered to a
//! picture with Graphviz's `dot` when it is installed.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

use super::App;
use crate::compose::model::Project;
use crate::plan::graph::{EdgeKind, Graph};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// dot or mermaid.
    #[arg(long, default_value = "dot")]
    format: String,
    /// Write a picture (.svg or .png, rendered with Graphviz) or text to this file.
    #[arg(short = 'o', long)]
    output: Option<PathBuf>,
}

fn label(kind: EdgeKind) -> &'static str {
    use crate::compose::model::DependsCondition::*;
    match kind {
        EdgeKind::DependsOn(ServiceStarted) => "depends_on",
        EdgeKind::DependsOn(ServiceHealthy) => "healthy",
        EdgeKind::DependsOn(ServiceCompletedSuccessfully) => "completed",
        EdgeKind::Link => "link",
        EdgeKind::VolumesFrom => "volumes_from",
        EdgeKind::Namespace => "namespace",
    }
}

/// DOT text: one node per service (with its image), one edge per dependency.
pub fn dot(project: &Project, graph: &Graph) -> String {
    let mut out = format!("digraph \"{}\" {{\n  rankdir=LR;\n  node [shape=box, style=rounded];\n", project.name);
    for name in graph.start_order() {
        let image = crate::plan::spec::service_image(project, &name);
        out.push_str(&format!("  \"{name}\" [label=\"{name}\\n{image}\"];\n"));
    }
    for name in graph.start_order() {
        for (dep, kind) in graph.dependencies(&name) {
            out.push_str(&format!("  \"{name}\" -> \"{dep}\" [label=\"{}\"];\n", label(kind)));
        }
    }
    out.push_str("}\n");
    out
}

pub fn mermaid(project: &Project, graph: &Graph) -> String {
    let mut out = String::from("graph LR\n");
    for name in graph.start_order() {
        let image = crate::plan::spec::service_image(project, &name);
        out.push_str(&format!("  {name}[\"{name}<br/>{image}\"]\n"));
    }
    for name in graph.start_order() {
        for (dep, kind) in graph.dependencies(&name) {
            out.push_str(&format!("  {name} -->|{}| {dep}\n", label(kind)));
        }
    }
    out
}

pub async fn run(app: &App, a: Args) -> Result<i32> {
    let project = app.project()?;
    let graph = Graph::new(&project)?;
    let text = match a.format.as_str() {
        "dot" => dot(&project, &graph),
        "mermaid" => mermaid(&project, &graph),
        other => bail!("invalid --format {other:?}: use dot or mermaid"),
    };
    let Some(path) = a.output else {
        write!(std::io::stdout(), "{text}")?;
        return Ok(0);
    };
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    if matches!(ext, "svg" | "png") {
        render("dot", ext, &path, &dot(&project, &graph))?;
    } else {
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(0)
}

/// Draws DOT text to a picture with Graphviz (`program` is `dot`).
fn render(program: &str, ext: &str, path: &Path, dot_text: &str) -> Result<()> {
    let spawned = Command::new(program).arg(format!("-T{ext}")).arg("-o").arg(path).stdin(Stdio::piped()).spawn();
    let mut child = match spawned {
        Ok(child) => child,
        // "Not installed" says it all: the OS error would only add "(os error 2)".
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "drawing {} needs Graphviz's `{program}`, which is not installed (apt-get install graphviz); \
             without .svg/.png, hoist writes DOT or Mermaid text",
            path.display()
        ),
        Err(e) => return Err(e).with_context(|| format!("starting Graphviz's `{program}`")),
    };
    child.stdin.take().context("dot stdin")?.write_all(dot_text.as_bytes())?;
    if !child.wait()?.success() {
        bail!("{program} failed to draw {}", path.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::model::{Link, Service};

    #[test]
    fn dot_and_mermaid() {
        let mut p = Project { name: "demo".into(), ..Default::default() };
        let mut web = Service { image: Some("node".into()), ..Default::default() };
        web.links.push(Link { target: "redis".into(), alias: "redis".into() });
        p.services.insert("web".into(), web);
        p.services.insert("redis".into(), Service { image: Some("redis".into()), ..Default::default() });
        let g = Graph::new(&p).unwrap();
        let d = dot(&p, &g);
        assert!(d.contains("\"web\" -> \"redis\" [label=\"link\"]"), "{d}");
        assert!(mermaid(&p, &g).contains("web -->|link| redis"));
    }

    #[test]
    fn missing_graphviz_is_named_without_an_os_error() {
        let err = render("hoist-no-such-dot", "svg", Path::new("x.svg"), "digraph {}").unwrap_err();
        let text = format!("{err:#}");
        assert!(text.contains("apt-get install graphviz") && text.contains("x.svg"), "{text}");
        assert!(!text.contains("os error"), "{text}");
    }
}
