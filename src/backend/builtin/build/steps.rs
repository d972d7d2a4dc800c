//! RUN steps: a built-in container (an overlay of the parent layers plus an empty upper
//! dir, host network, Docker's default capabilities) whose upper dir becomes the layer;
//! and the packing of such a directory into a layer of the store.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::super::image::ImageStore;
use super::super::runtime::{self, MountKind, RestartPolicy, RuntimeMount, RuntimeSpec, logs, state};
use super::super::store::random_id;
use super::scratch::Scratch;
use super::tree::Tree;

/// One RUN step.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// Parent layer directories, lowest first.
    pub layers: Vec<PathBuf>,
    pub argv: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub user: Option<String>,
}

/// How a RUN step ended badly.
#[derive(Debug)]
pub enum RunError {
    /// The command ran and exited non-zero; the last lines of its output.
    Exit { code: i32, output: Vec<String> },
    Other(String),
}

impl From<String> for RunError {
    fn from(s: String) -> Self {
        RunError::Other(s)
    }
}

/// Lines of output kept for the error of a failed RUN.
const TAIL: usize = 30;

/// A scratch directory removed (mounts first) when dropped, also on errors.
struct ScratchDir(PathBuf);

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if self.0.join(state::SPEC_FILE).exists() {
            let _ = runtime::cleanup(&self.0);
        }
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Runs the command; returns the layer it made (diff id hex, size), None if it changed
/// nothing. Output lines go to `on_line` as they come.
pub fn run(images: &ImageStore, scratch: &Scratch, req: &RunRequest, on_line: &dyn Fn(&str)) -> Result<Option<(String, u64)>, RunError> {
    let container = ScratchDir(scratch.path("run"));
    let dir = &container.0;
    fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let mut mounts = Vec::new();
    for (name, content) in [("hosts", "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n".to_string()), ("resolv.conf", host_resolv_conf())] {
        fs::write(dir.join(name), content).map_err(|e| format!("writing {name}: {e}"))?;
        mounts.push(RuntimeMount { source: dir.join(name), target: format!("/etc/{name}"), kind: MountKind::Bind, read_only: false });
    }
    let id = format!("build-{}", &random_id()[..12]);
    let spec = RuntimeSpec {
        id: id.clone(),
        name: id.clone(),
        layers: req.layers.clone(),
        upper_dir: dir.join("upper"),
        work_dir: dir.join("work"),
        rootfs: dir.join("rootfs"),
        mounts,
        args: req.argv.clone(),
        env: req.env.clone(),
        cwd: req.cwd.clone(),
        user: req.user.clone(),
        hostname: id[6..].to_string(),
        netns: None,
        init: true,
        stop_signal: "SIGTERM".into(),
        stop_timeout: Duration::from_secs(10),
        restart: RestartPolicy::No,
        ..Default::default()
    };
    let json = serde_json::to_vec_pretty(&spec).map_err(|e| e.to_string())?;
    fs::write(dir.join(state::SPEC_FILE), json).map_err(|e| format!("writing the RUN container's spec: {e}"))?;
    runtime::start(dir).map_err(|e| format!("starting the RUN container: {e}"))?;
    let (code, output) = follow(dir, on_line)?;
    runtime::cleanup(dir).map_err(|e| format!("cleaning up the RUN container: {e}"))?;
    if code != 0 {
        return Err(RunError::Exit { code, output });
    }
    let upper = dir.join("upper");
    prune_runtime_artifacts(&req.layers, &upper).map_err(|e| format!("reading the RUN container's changes: {e}"))?;
    if is_empty_dir(&upper) {
        return Ok(None);
    }
    Ok(Some(commit_dir(images, &upper)?))
}

/// Streams the log until the container exits; returns its exit code and last lines.
fn follow(dir: &Path, on_line: &dyn Fn(&str)) -> Result<(i32, Vec<String>), String> {
    let log = dir.join(state::LOG_FILE);
    let mut offset = 0;
    let mut tail: Vec<String> = Vec::new();
    loop {
        let st = runtime::state(dir).map_err(|e| format!("watching the RUN container: {e}"))?;
        let done = !matches!(st.status.as_str(), "running" | "restarting" | "paused" | "created");
        // Read after the state: an exited container's output is complete.
        let (lines, next) = logs::read_log_from(&log, offset).unwrap_or((Vec::new(), offset));
        offset = next;
        for l in lines {
            on_line(&l.text);
            tail.push(l.text);
        }
        if tail.len() > TAIL {
            tail.drain(..tail.len() - TAIL);
        }
        if done {
            return Ok((st.exit_code.unwrap_or(-1), tail));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The host's resolv.conf without loopback nameservers (RUN shares the host network,
/// but a local resolver like systemd-resolved's may still answer only on the host).
fn host_resolv_conf() -> String {
    let host = fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let kept: Vec<&str> = host.lines().filter(|l| !(l.starts_with("nameserver") && (l.contains(" 127.") || l.contains(" ::1")))).collect();
    if kept.iter().any(|l| l.starts_with("nameserver")) {
        kept.join("\n") + "\n"
    } else {
        host
    }
}

/// Mount points the runtime made (`/proc`, `/etc/hosts`, ...) are not the command's
/// work: drop them from the upper dir when they are empty and the image lacked them.
/// The upper dir is what the command wrote (it may have made `etc` a link to a host
/// path): it is only read and changed through a tree rooted at it.
fn prune_runtime_artifacts(layers: &[PathBuf], upper: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let upper = Tree::open(upper)?;
    let layers: Vec<Tree> = layers.iter().map(|l| Tree::open(l)).collect::<Result<_, _>>()?;
    for rel in ["proc", "sys", "dev", "etc/hosts", "etc/resolv.conf", "etc/hostname", "etc"] {
        let rel = Path::new(rel);
        let Ok(meta) = upper.lstat(rel) else { continue };
        let empty = if meta.is_dir() { upper.read_dir(rel)?.is_empty() } else { meta.is_file() && meta.len() == 0 };
        if !empty {
            continue;
        }
        let in_image = lookup(&layers, rel);
        let unchanged_dir = in_image.as_ref().is_some_and(|m| m.is_dir() && meta.is_dir() && (m.mode(), m.uid(), m.gid()) == (meta.mode(), meta.uid(), meta.gid()));
        if in_image.is_none() || unchanged_dir {
            upper.remove(rel)?;
        }
    }
    Ok(())
}

/// Whether `rel` is in the image and its metadata there: the topmost layer that has it
/// decides (a whiteout hides it). Each layer is looked at on its own, inside it: a link
/// in one layer is not followed into another (conservative, never outside).
fn lookup(layers: &[Tree], rel: &Path) -> Option<fs::Metadata> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let m = layers.iter().rev().find_map(|l| l.lstat(rel).ok())?;
    (!(m.file_type().is_char_device() && m.rdev() == 0)).then_some(m)
}

pub fn is_empty_dir(dir: &Path) -> bool {
    fs::read_dir(dir).map(|mut d| d.next().is_none()).unwrap_or(true)
}

/// Turns a directory in overlay format into a layer of the store: (diff id hex, size).
pub fn commit_dir(images: &ImageStore, dir: &Path) -> Result<(String, u64), String> {
    images.add_layer_from_dir(dir).map_err(|e| e.to_string())
}
