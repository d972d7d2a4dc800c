//! A build's scratch space and the overlay mounts in it: one directory per build under
//! `<image store>/tmp/build/`, locked while the build runs, so the next build reclaims
//! what a killed one left (RUN containers stopped, mounts undone, files removed).

use std::fs::{self, File};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use nix::fcntl::{Flock, FlockArg};
use nix::mount::{MntFlags, MsFlags};

use super::super::image::{ImageStore, overlay_lowers};
use super::super::runtime::{self, state};
use super::tree::Tree;

pub struct Scratch {
    dir: PathBuf,
    /// Held for the build's life; a build killed by a signal releases it with its fds.
    _lock: Flock<File>,
    n: AtomicU32,
}

impl Scratch {
    /// Makes this build's directory, first reclaiming those of builds that are gone.
    pub fn create(images: &ImageStore) -> Result<Scratch, String> {
        let parent = images.root().join("tmp/build");
        fs::create_dir_all(&parent).map_err(|e| format!("creating {}: {e}", parent.display()))?;
        reclaim(&parent);
        let dir = parent.join(format!("{}-{}", std::process::id(), &super::super::store::random_id()[..8]));
        fs::create_dir(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let lock = File::open(&dir).and_then(|f| Flock::lock(f, FlockArg::LockExclusiveNonblock).map_err(|(_, e)| e.into()));
        let lock = lock.map_err(|e| format!("locking {}: {e}", dir.display()))?;
        Ok(Scratch { dir, _lock: lock, n: AtomicU32::new(0) })
    }

    /// A fresh path in the scratch directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}-{}", self.n.fetch_add(1, Ordering::Relaxed)))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        remove(&self.dir);
    }
}

/// Removes the directories of builds that are gone: their lock is free and the process
/// in their name has ended (a lock is free for a moment while a build starts).
fn reclaim(parent: &Path) {
    for entry in fs::read_dir(parent).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.split('-').next().and_then(|p| p.parse::<u32>().ok()) else { continue };
        if Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let Ok(dir) = File::open(entry.path()) else { continue };
        if let Ok(_held) = Flock::lock(dir, FlockArg::LockExclusiveNonblock) {
            remove(&entry.path());
        }
    }
}

/// Removes a scratch directory: RUN containers in it are stopped and cleaned up, overlay
/// mounts undone. Nothing is removed while a mount remains (never delete through one).
fn remove(dir: &Path) {
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.join(state::SPEC_FILE).exists() {
            let _ = runtime::stop(&path, Duration::ZERO);
            if runtime::cleanup(&path).is_err() {
                return;
            }
        }
        for m in [path.join("merged"), path.clone()] {
            let _ = nix::mount::umount2(&m, MntFlags::MNT_DETACH | MntFlags::UMOUNT_NOFOLLOW);
            if is_mount_point(&m) {
                return;
            }
        }
    }
    let _ = fs::remove_dir_all(dir);
}

fn is_mount_point(path: &Path) -> bool {
    let (Ok(m), Some(Ok(p))) = (fs::symlink_metadata(path), path.parent().map(fs::symlink_metadata)) else { return false };
    m.dev() != p.dev()
}

/// Mounts an overlay of `layers` (lowest first; a repeated one only at its topmost place,
/// see `overlay_lowers`) at `target`; `upper` (with `work`) makes it writable.
fn mount_overlay(target: &Path, layers: &[PathBuf], upper: Option<(&Path, &Path)>) -> Result<(), String> {
    let lower = overlay_lowers(layers).iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(":");
    let mut data = format!("lowerdir={lower}");
    if let Some((upper, work)) = upper {
        data += &format!(",upperdir={},workdir={}", upper.display(), work.display());
    }
    if data.len() >= 4000 {
        return Err(format!("too many image layers for one overlay mount ({} layers)", layers.len()));
    }
    let flags = if upper.is_some() { MsFlags::empty() } else { MsFlags::MS_RDONLY };
    nix::mount::mount(Some("overlay"), target, Some("overlay"), flags, Some(data.as_str())).map_err(|e| format!("mounting the image's layers: {e}"))
}

/// A read-only view of a stage's or image's files (for `COPY --from`): an overlay mount
/// when there are several layers, the layer itself when one. Unmounted when dropped.
pub struct View {
    pub tree: Tree,
    mounted: Option<PathBuf>,
}

impl View {
    pub fn open(scratch: &Scratch, layers: &[PathBuf]) -> Result<View, String> {
        let open = |dir: &Path| Tree::open(dir).map_err(|e| format!("opening {}: {e}", dir.display()));
        if let [only] = &overlay_lowers(layers)[..] {
            return Ok(View { tree: open(only)?, mounted: None });
        }
        let target = scratch.path("view");
        fs::create_dir_all(&target).map_err(|e| format!("creating {}: {e}", target.display()))?;
        if !layers.is_empty() {
            mount_overlay(&target, layers, None)?;
        }
        // Should opening fail, the scratch directory's removal undoes the mount.
        Ok(View { tree: open(&target)?, mounted: Some(target) })
    }
}

impl Drop for View {
    fn drop(&mut self) {
        if let Some(m) = &self.mounted {
            let _ = nix::mount::umount2(m, MntFlags::MNT_DETACH);
            let _ = fs::remove_dir(m);
        }
    }
}

/// The stage's files, writable, for COPY/ADD/WORKDIR: an overlay of its layers whose
/// upper directory becomes the step's layer, as RUN's does. Writing through the mount
/// makes symlinks resolve as in the image and parents keep the image's owner and mode.
pub struct Draft {
    dir: PathBuf,
    mounted: bool,
    tree: Option<Tree>,
}

impl Draft {
    pub fn open(scratch: &Scratch, layers: &[PathBuf]) -> Result<Draft, String> {
        let dir = scratch.path("draft");
        for d in ["upper", "work", "merged"] {
            fs::create_dir_all(dir.join(d)).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        }
        let mut draft = Draft { dir: dir.clone(), mounted: false, tree: None };
        let top = if layers.is_empty() {
            dir.join("upper")
        } else {
            mount_overlay(&dir.join("merged"), layers, Some((&dir.join("upper"), &dir.join("work"))))?;
            draft.mounted = true;
            dir.join("merged")
        };
        draft.tree = Some(Tree::open(&top).map_err(|e| format!("opening {}: {e}", top.display()))?);
        Ok(draft)
    }

    pub fn tree(&self) -> &Tree {
        self.tree.as_ref().expect("a draft has a tree until it is committed")
    }

    /// Turns what was written into a layer: (diff id hex, size), None if nothing was.
    pub fn commit(mut self, images: &ImageStore) -> Result<Option<(String, u64)>, String> {
        self.tree = None;
        self.unmount();
        let upper = self.dir.join("upper");
        if super::steps::is_empty_dir(&upper) {
            return Ok(None);
        }
        super::steps::commit_dir(images, &upper).map(Some)
    }

    fn unmount(&mut self) {
        if std::mem::take(&mut self.mounted) {
            let _ = nix::mount::umount2(&self.dir.join("merged"), MntFlags::MNT_DETACH);
        }
    }
}

impl Drop for Draft {
    fn drop(&mut self) {
        self.tree = None;
        self.unmount();
        if !is_mount_point(&self.dir.join("merged")) {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}
