//! `cp` and watch's sync on the built-in runtime, from the host side: a container path
//! maps to the overlay's merged directory or to the source of the mount it lies under.
//! Symlinks and `..` are resolved as inside the container, and every open, create,
//! readlink and remove goes through a pathrs `Root` on that directory (openat2
//! RESOLVE_IN_ROOT), so a path the container swaps under us still resolves inside it.

use std::ffi::OsString;
use std::fs;
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

use pathrs::flags::OpenFlags;
use pathrs::{Handle, InodeType, Root};

use super::runtime::{self, MountKind, RuntimeMount};
use crate::backend::archive::{self, os};

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

/// One filesystem the container sees, opened on the host.
enum Tree {
    Dir(Root),
    /// A file bind mount (e.g. /etc/hosts): the host path the runtime mounted.
    File(PathBuf),
    Tmpfs,
    /// A mount whose source cannot be opened now, and why.
    Broken(String),
}

struct Mount {
    target: Parts,
    tree: Tree,
    read_only: bool,
}

/// Where a container path lives: a tree and the path inside it (absolute, in-root).
struct Location<'a> {
    tree: &'a Tree,
    rel: PathBuf,
    read_only: bool,
    /// The path is a mount point: not a symlink, and never removed or replaced itself.
    mount_point: bool,
}

impl Location<'_> {
    /// A handle on what is there, the last component not followed; `None` if nothing.
    fn handle(&self) -> io::Result<Option<Handle>> {
        match self.tree {
            Tree::Dir(root) => match root.resolve_nofollow(&self.rel) {
                Ok(h) => Ok(Some(h)),
                Err(e) if matches!(e.kind(), pathrs::error::ErrorKind::OsError(Some(libc::ENOENT | libc::ENOTDIR))) => Ok(None),
                Err(e) => Err(os(e)),
            },
            Tree::File(path) => {
                let f = fs::OpenOptions::new().read(true).custom_flags(libc::O_PATH).open(path)?;
                Ok(Some(Handle::from_fd(OwnedFd::from(f))))
            }
            Tree::Tmpfs | Tree::Broken(_) => Ok(None),
        }
    }

    fn metadata(&self) -> io::Result<Option<fs::Metadata>> {
        self.handle()?.map(|h| archive::metadata(&h)).transpose()
    }

    /// The target of a symlink there (read in-root), `None` for anything else.
    fn readlink(&self) -> Option<PathBuf> {
        match self.tree {
            Tree::Dir(root) if !self.mount_point => root.readlink(&self.rel).ok(),
            _ => None,
        }
    }

    fn root(&self, shown: &[OsString]) -> Result<&Root> {
        match self.tree {
            Tree::Dir(root) => Ok(root),
            _ => Err(FsError::Refused(display(shown), "not a directory".into())),
        }
    }

    /// The names in the directory there, sorted.
    fn children(&self, shown: &[OsString]) -> Result<Vec<OsString>> {
        let root = self.root(shown)?;
        let dir = root.resolve_nofollow(&self.rel).and_then(|h| h.reopen(OpenFlags::O_RDONLY | OpenFlags::O_DIRECTORY)).map_err(|e| FsError::Io(display(shown), os(e)))?;
        let dir = nix::dir::Dir::from_fd(OwnedFd::from(dir)).map_err(|e| FsError::Io(display(shown), e.into()))?;
        let mut names: Vec<OsString> = Vec::new();
        for entry in dir {
            let entry = entry.map_err(|e| FsError::Io(display(shown), e.into()))?;
            let name = entry.file_name().to_bytes().to_vec();
            if name != b"." && name != b".." {
                names.push(std::os::unix::ffi::OsStringExt::from_vec(name));
            }
        }
        names.sort();
        Ok(names)
    }
}

/// A container's files seen from the host; its rootfs stays mounted while this lives
/// (a stopped container's is mounted for that time).
pub struct ContainerFiles {
    pub fs: ContainerFs,
    dir: PathBuf,
    mounted_here: bool,
}

impl ContainerFiles {
    pub fn open(dir: &Path, layers: &[PathBuf], mounts: &[RuntimeMount], read_only_root: bool) -> std::result::Result<Self, String> {
        let mounted_here = runtime::mount_rootfs_offline(dir, layers).map_err(|e| e.to_string())?;
        let files = ContainerFiles { fs: ContainerFs::new(&dir.join("rootfs"), mounts, read_only_root).map_err(|e| e.to_string())?, dir: dir.to_path_buf(), mounted_here };
        Ok(files)
    }
}

impl Drop for ContainerFiles {
    fn drop(&mut self) {
        if self.mounted_here {
            runtime::release_rootfs(&self.dir);
        }
    }
}

/// The view of one container's filesystem from the host.
pub struct ContainerFs {
    root: Tree,
    read_only_root: bool,
    /// In mount order.
    mounts: Vec<Mount>,
}

impl ContainerFs {
    /// `rootfs` must be mounted (the overlay's merged directory).
    pub fn new(rootfs: &Path, mounts: &[RuntimeMount], read_only_root: bool) -> Result<Self> {
        let root = Root::open(rootfs).map_err(|e| FsError::Io(rootfs.display().to_string(), os(e)))?;
        let mounts = mounts
            .iter()
            .map(|m| {
                let target = split(Path::new(&m.target)).into_iter().filter(|p| p != "..").collect();
                // The sources are the host's (volumes, bind mounts the compose file names):
                // opened as they are; what is below them is the container's, resolved in-root.
                let tree = match m.kind {
                    MountKind::Tmpfs | MountKind::TmpfsVolume => Tree::Tmpfs,
                    MountKind::Bind if m.source.is_dir() => match Root::open(&m.source) {
                        Ok(r) => Tree::Dir(r),
                        Err(e) => Tree::Broken(format!("opening {}: {e}", m.source.display())),
                    },
                    MountKind::Bind if m.source.exists() => Tree::File(m.source.clone()),
                    MountKind::Bind => Tree::Broken(format!("{} does not exist on the host", m.source.display())),
                };
                Mount { target, tree, read_only: m.read_only }
            })
            .collect();
        Ok(ContainerFs { root: Tree::Dir(root), read_only_root, mounts })
    }

    /// The deepest mount holding `parts` (the last one mounted when two share a target).
    fn mount_of(&self, parts: &[OsString]) -> Option<&Mount> {
        self.mounts.iter().filter(|m| parts.starts_with(&m.target)).max_by_key(|m| m.target.len())
    }

    fn locate(&self, parts: &[OsString]) -> Result<Location<'_>> {
        let in_root = |rest: &[OsString]| rest.iter().fold(PathBuf::from("/"), |p, c| p.join(c));
        match self.mount_of(parts) {
            None => Ok(Location { tree: &self.root, rel: in_root(parts), read_only: self.read_only_root, mount_point: false }),
            Some(m) => match &m.tree {
                Tree::Tmpfs => Err(FsError::Tmpfs(display(parts))),
                Tree::Broken(why) => Err(FsError::Refused(display(parts), why.clone())),
                Tree::File(_) if parts.len() > m.target.len() => Err(FsError::NotFound(display(parts))),
                tree => Ok(Location { tree, rel: in_root(&parts[m.target.len()..]), read_only: m.read_only, mount_point: parts.len() == m.target.len() }),
            },
        }
    }

    /// Resolves a container path as the container would: `..` stops at `/`, symlinks
    /// (relative or absolute) are followed inside the container; the last component is
    /// followed only with `follow_last`. Each link is read in-root, so a race with the
    /// container can change where the path ends up, but never take it out of the
    /// container's trees.
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
            if let Some(target) = self.locate(&resolved)?.readlink() {
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

    /// What `archive` will pack for `path` (a symlink at its end followed with
    /// `follow_link`), checked to exist.
    pub fn source(&self, path: &str, follow_link: bool) -> Result<Parts> {
        let parts = self.resolve(path, follow_link)?;
        match self.locate(&parts)?.metadata() {
            Ok(Some(_)) => Ok(parts),
            Ok(None) => Err(FsError::NotFound(path.to_string())),
            Err(e) => Err(FsError::Io(path.to_string(), e)),
        }
    }

    /// Writes a tar archive of `parts` (see `Backend::copy_from_container`) to `out`,
    /// file contents read through descriptors opened in-root.
    pub fn archive(&self, parts: &Parts, out: &mut dyn Write) -> Result<()> {
        let name = parts.last().cloned().unwrap_or_else(|| ".".into());
        let mut b = tar::Builder::new(out);
        self.append(&mut b, &mut parts.clone(), Path::new(&name))?;
        b.into_inner().and_then(|w| w.flush()).map_err(io_err(parts))
    }

    fn append(&self, b: &mut tar::Builder<&mut dyn Write>, parts: &mut Parts, name: &Path) -> Result<()> {
        let (loc, tmpfs) = match self.locate(parts) {
            // Below the path asked for, a tmpfs mount point stays an empty directory.
            Err(FsError::Tmpfs(_)) => (Location { tree: &self.root, rel: parts.iter().fold(PathBuf::from("/"), |p, c| p.join(c)), read_only: true, mount_point: true }, true),
            other => (other?, false),
        };
        // Gone since its directory was listed: the container changes its files as it likes.
        let Some(handle) = loc.handle().map_err(io_err(parts))? else { return Ok(()) };
        let meta = archive::metadata(&handle).map_err(io_err(parts))?;
        let mut h = tar::Header::new_gnu();
        h.set_metadata_in_mode(&meta, tar::HeaderMode::Complete);
        let ft = meta.file_type();
        if ft.is_file() {
            let f = handle.reopen(OpenFlags::O_RDONLY).map_err(|e| FsError::Io(display(parts), os(e)))?;
            // Exactly the size in the header, even if the file changes meanwhile.
            let size = meta.len();
            let data = f.take(size).chain(io::repeat(0)).take(size);
            b.append_data(&mut h, name, data).map_err(io_err(parts))?;
        } else if ft.is_symlink() {
            let target = loc.root(parts)?.readlink(&loc.rel).map_err(|e| FsError::Io(display(parts), os(e)))?;
            b.append_link(&mut h, name, target).map_err(io_err(parts))?;
        } else {
            b.append_data(&mut h, name, io::empty()).map_err(io_err(parts))?;
            if ft.is_dir() && !tmpfs {
                for child in loc.children(parts)? {
                    parts.push(child.clone());
                    let r = self.append(b, parts, &name.join(&child));
                    parts.pop();
                    r?;
                }
            }
        }
        Ok(())
    }

    /// Writes a tar archive of the whole tree to `out`, entries named from the root
    /// (`bin/sh`, no `./`), as `docker export` names them.
    pub fn export(&self, out: &mut dyn Write) -> Result<()> {
        let mut b = tar::Builder::new(out);
        let mut parts: Parts = Vec::new();
        let root = self.locate(&parts)?;
        for child in root.children(&parts)? {
            parts.push(child.clone());
            let r = self.append(&mut b, &mut parts, Path::new(&child));
            parts.pop();
            r?;
        }
        b.into_inner().and_then(|w| w.flush()).map_err(io_err(&parts))
    }

    /// Unpacks a tar archive into the directory `dest` (see `Backend::copy_to_container`).
    /// Each entry's parent is resolved inside the container; the entry itself replaces
    /// what is there (a symlink is replaced, never followed).
    pub fn extract(&self, dest: &str, archive: impl Read, chown: bool) -> Result<()> {
        let base = self.resolve(dest, true)?;
        match self.locate(&base)?.metadata() {
            Ok(Some(m)) if m.is_dir() => {}
            Ok(Some(_)) => return Err(FsError::Refused(dest.to_string(), "not a directory in the container".into())),
            Ok(None) => return Err(FsError::NotFound(dest.to_string())),
            Err(e) => return Err(FsError::Io(dest.to_string(), e)),
        }
        let reading = |e| FsError::Io("reading the archive".into(), e);
        let mut ar = tar::Archive::new(archive);
        for entry in ar.entries().map_err(reading)? {
            let mut entry = entry.map_err(reading)?;
            let rel = entry.path().map_err(reading)?.into_owned();
            let mut rel_parts: Parts = Vec::new();
            for c in rel.components() {
                match c {
                    Component::Normal(n) => rel_parts.push(n.to_os_string()),
                    Component::ParentDir => return Err(FsError::Refused(rel.display().to_string(), "archive entry climbs out with ..".into())),
                    _ => {}
                }
            }
            let target = match rel_parts.pop() {
                Some(name) => {
                    let mut parent = self.make_dirs(&base, &rel_parts)?;
                    parent.push(name);
                    parent
                }
                // The archive's `.`: `dest` itself.
                None => base.clone(),
            };
            self.unpack(&mut entry, &base, &target, chown)?;
        }
        Ok(())
    }

    /// Creates `rel` below `base` (resolving symlinks on the way); returns the resolved path.
    fn make_dirs(&self, base: &[OsString], rel: &[OsString]) -> Result<Parts> {
        let mut at: Parts = base.to_vec();
        for part in rel {
            at = self.walk(at, vec![part.clone()], true)?;
            let loc = self.locate(&at)?;
            match loc.metadata().map_err(io_err(&at))? {
                Some(m) if m.is_dir() => {}
                Some(_) => return Err(FsError::Refused(display(&at), "not a directory".into())),
                None if loc.read_only => return Err(FsError::ReadOnly(display(&at))),
                None => match loc.root(&at)?.create(&loc.rel, &InodeType::Directory(fs::Permissions::from(std::os::unix::fs::PermissionsExt::from_mode(0o755)))) {
                    Ok(()) => {}
                    Err(e) if e.kind() == pathrs::error::ErrorKind::OsError(Some(libc::EEXIST)) => {}
                    Err(e) => return Err(FsError::Io(display(&at), os(e))),
                },
            }
        }
        Ok(at)
    }

    fn unpack<R: Read>(&self, entry: &mut tar::Entry<R>, base: &[OsString], target: &[OsString], chown: bool) -> Result<()> {
        let loc = self.locate(target)?;
        if loc.read_only {
            return Err(FsError::ReadOnly(display(target)));
        }
        let kind = entry.header().entry_type();
        if loc.mount_point {
            return match loc.tree {
                // Written in place: a file mount must keep its inode.
                Tree::File(path) if kind.is_file() => {
                    let mut f = fs::OpenOptions::new().write(true).truncate(true).custom_flags(libc::O_NOFOLLOW).open(path).map_err(io_err(target))?;
                    io::copy(entry, &mut f).map(|_| ()).map_err(io_err(target))
                }
                Tree::File(_) => Err(FsError::Refused(display(target), "a file mount point can only take a file".into())),
                // The mount's source is the host's or a volume's: its own mode stays.
                _ if kind.is_dir() => Ok(()),
                _ => Err(FsError::Refused(display(target), "a mount point cannot be replaced".into())),
            };
        }
        let root = loc.root(target)?;
        let link = match kind.is_hard_link() {
            true => {
                // The link's target is a path of the archive: below `base`, in the container.
                let name = entry.link_name().map_err(io_err(target))?.unwrap_or_default().into_owned();
                let src = self.walk(base.to_vec(), split(&name), false)?;
                let src_loc = self.locate(&src)?;
                if !std::ptr::eq(src_loc.tree, loc.tree) {
                    return Err(FsError::Refused(display(target), format!("a hard link to {} would cross a mount", display(&src))));
                }
                Some(src_loc.rel)
            }
            false => None,
        };
        archive::write_entry(root, &loc.rel, entry, link.as_deref(), chown).map_err(io_err(target))
    }

    /// See `Backend::is_dir_in_container`.
    pub fn is_dir(&self, path: &str) -> Result<Option<bool>> {
        let parts = match self.resolve(path, true) {
            Err(FsError::Tmpfs(_)) => return Err(FsError::Tmpfs(path.to_string())),
            other => other?,
        };
        Ok(self.locate(&parts)?.metadata().map_err(io_err(&parts))?.map(|m| m.is_dir()))
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
        let Some(meta) = loc.metadata().map_err(io_err(parts))? else { return Ok(()) };
        if loc.read_only {
            return Err(FsError::ReadOnly(display(parts)));
        }
        let holds_mount = self.mounts.iter().any(|m| m.target.len() > parts.len() && m.target.starts_with(parts));
        if !meta.is_dir() {
            if loc.mount_point {
                return Err(FsError::Refused(display(parts), "a mount point cannot be removed".into()));
            }
            return loc.root(parts)?.remove_file(&loc.rel).map_err(|e| FsError::Io(display(parts), os(e)));
        }
        if !loc.mount_point && !holds_mount {
            return loc.root(parts)?.remove_all(&loc.rel).map_err(|e| FsError::Io(display(parts), os(e)));
        }
        for child in loc.children(parts)? {
            let mut p = parts.to_vec();
            p.push(child);
            match self.remove_tree(&p) {
                // A tmpfs below is the container's own business.
                Err(FsError::Tmpfs(_)) => {}
                other => other?,
            }
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
        let cfs = ContainerFs::new(&root, &mounts, false).unwrap();
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
        fs::write(dir.path().join("vol/x"), "vol").unwrap();
        let mut tar = Vec::new();
        fs_.archive(&fs_.source("/data/x", true).unwrap(), &mut tar).unwrap();
        assert!(tar.windows(3).any(|w| w == b"vol"));
        assert!(matches!(fs_.resolve("/run/x", true), Err(FsError::Tmpfs(_))));
    }

    #[test]
    fn extract_lands_in_mounts_and_never_outside() {
        let (dir, fs_) = fixture();
        fs_.extract("/", &tar_of(&[("data/a.txt", "in the volume"), ("app/new/b.txt", "deep")])[..], false).unwrap();
        assert_eq!(fs::read_to_string(dir.path().join("vol/a.txt")).unwrap(), "in the volume");
        assert_eq!(fs::read_to_string(dir.path().join("rootfs/app/new/b.txt")).unwrap(), "deep");
        // Through the escaping link: written inside the container's /host, not the host's.
        fs_.extract("/app", &tar_of(&[("escape/secret", "mine")])[..], false).unwrap();
        assert_eq!(fs::read_to_string(dir.path().join("host/secret")).unwrap(), "host secret\n");
        assert_eq!(fs::read_to_string(dir.path().join("rootfs/host/secret")).unwrap(), "mine");
        assert!(matches!(fs_.extract("/ro", &tar_of(&[("x", "y")])[..], false), Err(FsError::ReadOnly(_))));
        assert!(matches!(fs_.extract("/", &tar_of(&[("run/x", "y")])[..], false), Err(FsError::Tmpfs(_))));
    }

    #[test]
    fn archive_and_remove() {
        let (dir, fs_) = fixture();
        fs::write(dir.path().join("vol/v.txt"), "v").unwrap();
        let mut tar = Vec::new();
        fs_.archive(&fs_.source("/data", false).unwrap(), &mut tar).unwrap();
        let names: Vec<String> = tar::Archive::new(&tar[..]).entries().unwrap().map(|e| e.unwrap().path().unwrap().display().to_string()).collect();
        assert_eq!(names, ["data", "data/v.txt"]);
        assert!(matches!(fs_.source("/nope", false), Err(FsError::NotFound(_))));
        // Removing a mount point empties it and keeps the host directory.
        fs_.remove("/data").unwrap();
        assert!(dir.path().join("vol").is_dir() && !dir.path().join("vol/v.txt").exists());
        fs_.remove("/etc/up").unwrap();
        assert!(fs::symlink_metadata(dir.path().join("rootfs/etc/up")).is_err() && dir.path().join("rootfs/etc/passwd").exists());
        fs_.remove("/missing").unwrap();
        assert!(matches!(fs_.remove("/"), Err(FsError::Refused(..))));
    }
}
