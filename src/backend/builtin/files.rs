//! `cp` and watch's sync on the built-in runtime, from the host side: a container path
//! maps to the overlay's merged directory or to the source of the mount it lies under,
//! and symlinks and `..` are resolved as inside the container, so nothing reaches out.

use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use super::runtime::{MountKind, RuntimeMount};

#[derive(Debug, thiserror::Error)]
pub enum FsError {
    #[error("{0}: no such file or directory in the container")]
    NotFound(String),
    #[error("{0}: too many levels of symbolic links")]
    Loop(String),
    #[error("{0} is on a tmpfs mount, which exists only inside the container: the built-in runtime cannot copy there")]
    Tmpfs(String),
    #[error("{0} is read-only in the container")]
    ReadOnly(String),
    #[error("{0}: {1}")]
    Refused(String, String),
    #[error("{0}: {1}")]
    Io(String, #[source] io::Error),
}

type Result<T> = std::result::Result<T, FsError>;

/// A container path, as its components below `/` (never `.` or `..`).
type Parts = Vec<OsString>;

fn display(parts: &[OsString]) -> String {
    format!("/{}", parts.iter().map(|p| p.to_string_lossy()).collect::<Vec<_>>().join("/"))
}

fn io_err(parts: &[OsString]) -> impl FnOnce(io::Error) -> FsError + '_ {
    move |e| FsError::Io(display(parts), e)
}

/// Components of a path, `..` kept (it is resolved against what it climbs out of).
fn split(path: &Path) -> Vec<OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect()
}

/// Where a container path lives on the host.
struct Location {
    path: PathBuf,
    read_only: bool,
    /// The path is a mount point: not a symlink, and never removed itself.
    mount_point: bool,
}

/// The view of one container's filesystem from the host.
pub struct ContainerFs {
    rootfs: PathBuf,
    read_only_root: bool,
    /// (target components, mount), in mount order.
    mounts: Vec<(Parts, RuntimeMount)>,
}

impl ContainerFs {
    /// `rootfs` must be mounted (the overlay's merged directory).
    pub fn new(rootfs: PathBuf, mounts: &[RuntimeMount], read_only_root: bool) -> Self {
        let mounts = mounts.iter().map(|m| (split(Path::new(&m.target)).into_iter().filter(|p| p != "..").collect(), m.clone())).collect();
        ContainerFs { rootfs, read_only_root, mounts }
    }

    /// The deepest mount holding `parts` (the last one mounted when two share a target).
    fn mount_of(&self, parts: &[OsString]) -> Option<&(Parts, RuntimeMount)> {
        self.mounts.iter().filter(|(t, _)| parts.starts_with(t)).max_by_key(|(t, _)| t.len())
    }

    fn locate(&self, parts: &[OsString]) -> Result<Location> {
        match self.mount_of(parts) {
            Some((_, m)) if m.kind == MountKind::Tmpfs => Err(FsError::Tmpfs(display(parts))),
            Some((t, m)) => {
                let path = parts[t.len()..].iter().fold(m.source.clone(), |p, c| p.join(c));
                Ok(Location { path, read_only: m.read_only, mount_point: t.len() == parts.len() })
            }
            None => Ok(Location { path: parts.iter().fold(self.rootfs.clone(), |p, c| p.join(c)), read_only: self.read_only_root, mount_point: false }),
        }
    }

    /// Resolves a container path as the container would: `..` stops at `/`, symlinks
    /// (relative or absolute) are followed inside the container; the last component is
    /// followed only with `follow_last`.
    pub fn resolve(&self, path: &str, follow_last: bool) -> Result<Parts> {
        self.walk(Vec::new(), split(Path::new(path)), follow_last).map_err(|e| match e {
            FsError::Loop(_) => FsError::Loop(path.to_string()),
            e => e,
        })
    }

    /// Resolves `rest` below the already resolved `resolved`.
    fn walk(&self, mut resolved: Parts, mut rest: Vec<OsString>, follow_last: bool) -> Result<Parts> {
        rest.reverse();
        let mut links = 0;
        while let Some(part) = rest.pop() {
            if part == ".." {
                resolved.pop();
                continue;
            }
            resolved.push(part);
            if rest.is_empty() && !follow_last {
                break;
            }
            let loc = self.locate(&resolved)?;
            if loc.mount_point {
                continue;
            }
            if let Ok(target) = fs::read_link(&loc.path) {
                links += 1;
                if links > 40 {
                    return Err(FsError::Loop(display(&resolved)));
                }
                resolved.pop();
                if target.is_absolute() {
                    resolved.clear();
                }
                rest.extend(split(&target).into_iter().rev());
            }
        }
        Ok(resolved)
    }

    /// A tar archive of `path` (see `Backend::copy_from_container`).
    pub fn archive(&self, path: &str) -> Result<Vec<u8>> {
        let parts = self.resolve(path, false)?;
        let name = parts.last().cloned().unwrap_or_else(|| ".".into());
        let mut b = tar::Builder::new(Vec::new());
        b.follow_symlinks(false);
        let mut parts = parts;
        if fs::symlink_metadata(self.locate(&parts)?.path).is_err() {
            return Err(FsError::NotFound(path.to_string()));
        }
        self.append(&mut b, &mut parts, Path::new(&name))?;
        b.into_inner().map_err(|e| FsError::Io(path.to_string(), e))
    }

    fn append(&self, b: &mut tar::Builder<Vec<u8>>, parts: &mut Parts, name: &Path) -> Result<()> {
        let loc = match self.locate(parts) {
            // Below the path asked for, a tmpfs mount point stays an empty directory.
            Err(FsError::Tmpfs(_)) => {
                let dir = parts.iter().fold(self.rootfs.clone(), |p, c| p.join(c));
                return b.append_path_with_name(dir, name).map_err(io_err(parts));
            }
            other => other?,
        };
        b.append_path_with_name(&loc.path, name).map_err(io_err(parts))?;
        let meta = fs::symlink_metadata(&loc.path).map_err(io_err(parts))?;
        if meta.is_dir() {
            let mut children: Vec<OsString> = fs::read_dir(&loc.path).map_err(io_err(parts))?.flatten().map(|e| e.file_name()).collect();
            children.sort();
            for child in children {
                parts.push(child.clone());
                let r = self.append(b, parts, &name.join(&child));
                parts.pop();
                r?;
            }
        }
        Ok(())
    }

    /// Unpacks a tar archive into the directory `dest` (see `Backend::copy_to_container`).
    /// Each entry's parent is resolved inside the container; the entry itself replaces
    /// what is there (a symlink is replaced, never followed).
    pub fn extract(&self, dest: &str, archive: &[u8]) -> Result<()> {
        let base = self.resolve(dest, true)?;
        let base_loc = self.locate(&base)?;
        match fs::metadata(&base_loc.path) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(FsError::Refused(dest.to_string(), "not a directory in the container".into())),
            Err(_) => return Err(FsError::NotFound(dest.to_string())),
        }
        let mut ar = tar::Archive::new(archive);
        ar.set_preserve_permissions(true);
        ar.set_preserve_mtime(true);
        // What an entry replaces is removed first (see `unpack`), never overwritten through.
        ar.set_overwrite(false);
        for entry in ar.entries().map_err(|e| FsError::Io("reading the archive".into(), e))? {
            let mut entry = entry.map_err(|e| FsError::Io("reading the archive".into(), e))?;
            let rel = entry.path().map_err(|e| FsError::Io("reading the archive".into(), e))?.into_owned();
            let mut rel_parts: Parts = Vec::new();
            for c in rel.components() {
                match c {
                    Component::Normal(n) => rel_parts.push(n.to_os_string()),
                    Component::ParentDir => return Err(FsError::Refused(rel.display().to_string(), "archive entry climbs out with ..".into())),
                    _ => {}
                }
            }
            let Some(name) = rel_parts.pop() else { continue };
            let parent = self.make_dirs(&base, &rel_parts)?;
            let mut target = parent;
            target.push(name);
            self.unpack(&mut entry, &base, &target)?;
        }
        Ok(())
    }

    /// Creates `rel` below `base` (resolving symlinks on the way); returns the resolved path.
    fn make_dirs(&self, base: &[OsString], rel: &[OsString]) -> Result<Parts> {
        let mut at: Parts = base.to_vec();
        for part in rel {
            at = self.walk(at, vec![part.clone()], true)?;
            let loc = self.locate(&at)?;
            match fs::metadata(&loc.path) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => return Err(FsError::Refused(display(&at), "not a directory".into())),
                Err(_) if loc.read_only => return Err(FsError::ReadOnly(display(&at))),
                Err(_) => fs::create_dir(&loc.path).map_err(io_err(&at))?,
            }
        }
        Ok(at)
    }

    fn unpack(&self, entry: &mut tar::Entry<&[u8]>, base: &[OsString], target: &[OsString]) -> Result<()> {
        let loc = self.locate(target)?;
        if loc.read_only {
            return Err(FsError::ReadOnly(display(target)));
        }
        let kind = entry.header().entry_type();
        let existing = fs::symlink_metadata(&loc.path).ok();
        if let Some(m) = &existing {
            if m.is_dir() && !kind.is_dir() {
                return Err(FsError::Refused(display(target), "cannot overwrite a directory with a non-directory".into()));
            }
            if !m.is_dir() && kind.is_dir() && loc.mount_point {
                return Err(FsError::Refused(display(target), "a file mount point cannot become a directory".into()));
            }
        }
        if kind.is_hard_link() {
            // The link's target is a path of the archive: below `base`, in the container.
            let link = entry.link_name().map_err(io_err(target))?.unwrap_or_default().into_owned();
            let src = self.walk(base.to_vec(), split(&link), false)?;
            if existing.is_some() {
                fs::remove_file(&loc.path).map_err(io_err(target))?;
            }
            return fs::hard_link(self.locate(&src)?.path, &loc.path).map_err(io_err(target));
        }
        if loc.mount_point && existing.as_ref().is_some_and(|m| !m.is_dir()) {
            // A file bind mount (e.g. /etc/hosts): written in place, it must keep its inode.
            if !kind.is_file() {
                return Err(FsError::Refused(display(target), "a file mount point can only take a file".into()));
            }
            let mut f = fs::OpenOptions::new().write(true).truncate(true).open(&loc.path).map_err(io_err(target))?;
            return io::copy(entry, &mut f).map(|_| ()).map_err(io_err(target));
        }
        if existing.as_ref().is_some_and(|m| !m.is_dir()) {
            fs::remove_file(&loc.path).map_err(io_err(target))?;
        }
        entry.unpack(&loc.path).map_err(io_err(target))?;
        Ok(())
    }

    /// See `Backend::is_dir_in_container`.
    pub fn is_dir(&self, path: &str) -> Result<Option<bool>> {
        let parts = match self.resolve(path, true) {
            Err(FsError::Tmpfs(_)) => return Err(FsError::Tmpfs(path.to_string())),
            other => other?,
        };
        Ok(fs::metadata(self.locate(&parts)?.path).ok().map(|m| m.is_dir()))
    }

    /// Removes `path` and what is below it (see `Backend::remove_from_container`). A mount
    /// point is emptied, never removed: its source is the host's or a volume's.
    pub fn remove(&self, path: &str) -> Result<()> {
        let parts = self.resolve(path, false)?;
        if parts.is_empty() {
            return Err(FsError::Refused("/".into(), "refusing to remove the container's root".into()));
        }
        self.remove_tree(&parts)
    }

    fn remove_tree(&self, parts: &[OsString]) -> Result<()> {
        let loc = self.locate(parts)?;
        let Ok(meta) = fs::symlink_metadata(&loc.path) else { return Ok(()) };
        if loc.read_only {
            return Err(FsError::ReadOnly(display(parts)));
        }
        let holds_mount = self.mounts.iter().any(|(t, _)| t.len() > parts.len() && t.starts_with(parts));
        if !meta.is_dir() {
            if loc.mount_point {
                return Err(FsError::Refused(display(parts), "a mount point cannot be removed".into()));
            }
            return fs::remove_file(&loc.path).map_err(io_err(parts));
        }
        if !loc.mount_point && !holds_mount {
            return fs::remove_dir_all(&loc.path).map_err(io_err(parts));
        }
        for child in fs::read_dir(&loc.path).map_err(io_err(parts))?.flatten() {
            let mut p = parts.to_vec();
            p.push(child.file_name());
            match self.remove_tree(&p) {
                // A tmpfs below is the container's own business.
                Err(FsError::Tmpfs(_)) => {}
                other => other?,
            }
        }
        if !loc.mount_point && !holds_mount {
            let _ = fs::remove_dir(&loc.path);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> (tempfile::TempDir, ContainerFs) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("rootfs");
        let vol = dir.path().join("vol");
        let host = dir.path().join("host");
        for d in [root.join("etc"), root.join("data"), root.join("app"), vol.clone(), host.clone()] {
            fs::create_dir_all(d).unwrap();
        }
        fs::write(root.join("etc/passwd"), "root\n").unwrap();
        fs::write(host.join("secret"), "host secret\n").unwrap();
        // Links an image could hold: absolute and relative escapes, and a loop.
        std::os::unix::fs::symlink("/", root.join("etc/up")).unwrap();
        std::os::unix::fs::symlink("../../../../host", root.join("app/escape")).unwrap();
        std::os::unix::fs::symlink("loop", root.join("loop")).unwrap();
        let mounts = vec![
            RuntimeMount { source: vol.clone(), target: "/data".into(), kind: MountKind::Bind, read_only: false },
            RuntimeMount { source: "size=1m".into(), target: "/run".into(), kind: MountKind::Tmpfs, read_only: false },
            RuntimeMount { source: host.clone(), target: "/ro".into(), kind: MountKind::Bind, read_only: true },
        ];
        let cfs = ContainerFs::new(root, &mounts, false);
        (dir, cfs)
    }

    fn tar_of(files: &[(&str, &str)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, content) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(content.len() as u64);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            h.set_cksum();
            b.append_data(&mut h, name, content.as_bytes()).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn paths_resolve_inside_the_container() {
        let (dir, fs_) = fixture();
        assert_eq!(display(&fs_.resolve("/etc/up/etc/passwd", true).unwrap()), "/etc/passwd");
        assert_eq!(display(&fs_.resolve("/../../etc/./passwd", true).unwrap()), "/etc/passwd");
        // The relative escape climbs to `/` and no further: /host does not exist inside.
        assert_eq!(display(&fs_.resolve("/app/escape/secret", true).unwrap()), "/host/secret");
        assert!(matches!(fs_.resolve("/loop/x", true), Err(FsError::Loop(_))));
        assert_eq!(fs_.locate(&fs_.resolve("/data/x", true).unwrap()).unwrap().path, dir.path().join("vol/x"));
        assert!(matches!(fs_.resolve("/run/x", true), Err(FsError::Tmpfs(_))));
    }

    #[test]
    fn extract_lands_in_mounts_and_never_outside() {
        let (dir, fs_) = fixture();
        fs_.extract("/", &tar_of(&[("data/a.txt", "in the volume"), ("app/new/b.txt", "deep")])).unwrap();
        assert_eq!(fs::read_to_string(dir.path().join("vol/a.txt")).unwrap(), "in the volume");
        assert_eq!(fs::read_to_string(dir.path().join("rootfs/app/new/b.txt")).unwrap(), "deep");
        // Through the escaping link: written inside the container's /host, not the host's.
        fs_.extract("/app", &tar_of(&[("escape/secret", "mine")])).unwrap();
        assert_eq!(fs::read_to_string(dir.path().join("host/secret")).unwrap(), "host secret\n");
        assert_eq!(fs::read_to_string(dir.path().join("rootfs/host/secret")).unwrap(), "mine");
        assert!(matches!(fs_.extract("/ro", &tar_of(&[("x", "y")])), Err(FsError::ReadOnly(_))));
        assert!(matches!(fs_.extract("/", &tar_of(&[("run/x", "y")])), Err(FsError::Tmpfs(_))));
    }

    #[test]
    fn archive_and_remove() {
        let (dir, fs_) = fixture();
        fs::write(dir.path().join("vol/v.txt"), "v").unwrap();
        let tar = fs_.archive("/data").unwrap();
        let names: Vec<String> = tar::Archive::new(&tar[..]).entries().unwrap().map(|e| e.unwrap().path().unwrap().display().to_string()).collect();
        assert_eq!(names, ["data", "data/v.txt"]);
        assert!(matches!(fs_.archive("/nope"), Err(FsError::NotFound(_))));
        // Removing a mount point empties it and keeps the host directory.
        fs_.remove("/data").unwrap();
        assert!(dir.path().join("vol").is_dir() && !dir.path().join("vol/v.txt").exists());
        fs_.remove("/etc/up").unwrap();
        assert!(fs::symlink_metadata(dir.path().join("rootfs/etc/up")).is_err() && dir.path().join("rootfs/etc/passwd").exists());
        fs_.remove("/missing").unwrap();
        assert!(matches!(fs_.remove("/"), Err(FsError::Refused(..))));
    }
}
