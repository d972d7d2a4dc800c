//! In-root access to an untrusted directory tree (the build context, a stage's files, the
//! layer a step writes): every path resolves inside the tree as under chroot, symlinks and
//! `..` included (pathrs: openat2 RESOLVE_IN_ROOT), so no name in it can reach the host.

use std::ffi::{OsStr, OsString};
use std::fs::{File, Metadata, Permissions};
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use pathrs::flags::OpenFlags;
use pathrs::{InodeType, Root};

/// Symlinks followed in one path before giving up (the kernel's limit).
const MAX_LINKS: usize = 40;

pub struct Tree {
    root: Root,
}

/// pathrs errors as io errors (the errno kept, so NotFound stays NotFound).
fn io_err(e: pathrs::error::Error) -> io::Error {
    match e.kind() {
        pathrs::error::ErrorKind::OsError(Some(n)) => io::Error::from_raw_os_error(n),
        _ => io::Error::other(e.to_string()),
    }
}

/// pathrs names the tree's top `.`, not an empty path.
fn at(rel: &Path) -> &Path {
    if rel.as_os_str().is_empty() { Path::new(".") } else { rel }
}

fn not_found(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound
}

impl Tree {
    pub fn open(dir: &Path) -> io::Result<Tree> {
        Root::open(dir).map(|root| Tree { root }).map_err(io_err)
    }

    /// The directory `rel` as a tree of its own (what is in it cannot climb out of it).
    pub fn subtree(&self, rel: &Path) -> io::Result<Tree> {
        let dir = self.root.open_subpath(at(rel), OpenFlags::O_RDONLY | OpenFlags::O_DIRECTORY | OpenFlags::O_NOFOLLOW).map_err(io_err)?;
        Ok(Tree { root: Root::from_fd(OwnedFd::from(dir)) })
    }

    /// `path` with every symlink in it followed inside the tree (an absolute target from
    /// the tree's top, `..` stopping there), as Docker resolves COPY sources and
    /// destinations. A missing tail (or a dangling link's target) is kept as written; the
    /// flag says whether the path exists. `visible` hides entries (.dockerignore).
    pub fn canonical(&self, path: &Path, visible: &dyn Fn(&Path, bool) -> bool) -> io::Result<(PathBuf, bool)> {
        let mut done = PathBuf::new();
        let mut todo = parts(path);
        let (mut links, mut exists) = (0, true);
        while let Some(part) = todo.pop() {
            if part == ".." {
                done.pop();
                continue;
            }
            let next = done.join(&part);
            if !exists {
                done = next;
                continue;
            }
            match self.lstat(&next) {
                Ok(m) if !visible(&next, m.is_dir()) => {
                    exists = false;
                    done = next;
                }
                Ok(m) if m.file_type().is_symlink() => {
                    links += 1;
                    if links > MAX_LINKS {
                        return Err(io::Error::from_raw_os_error(libc::ELOOP));
                    }
                    let target = self.readlink(&next)?;
                    if target.is_absolute() {
                        done = PathBuf::new();
                    }
                    todo.extend(parts(&target));
                }
                Ok(_) => done = next,
                Err(e) if not_found(&e) => {
                    exists = false;
                    done = next;
                }
                Err(e) => return Err(e),
            }
        }
        Ok((done, exists))
    }

    /// Metadata of `rel` itself (a final symlink is not followed).
    pub fn lstat(&self, rel: &Path) -> io::Result<Metadata> {
        let handle = self.root.resolve_nofollow(at(rel)).map_err(io_err)?;
        File::from(OwnedFd::from(handle)).metadata()
    }

    pub fn readlink(&self, rel: &Path) -> io::Result<PathBuf> {
        self.root.readlink(rel).map_err(io_err)
    }

    /// The names in directory `rel`, sorted.
    pub fn read_dir(&self, rel: &Path) -> io::Result<Vec<OsString>> {
        let dir = self.root.open_subpath(at(rel), OpenFlags::O_RDONLY | OpenFlags::O_DIRECTORY | OpenFlags::O_NOFOLLOW).map_err(io_err)?;
        let mut dir = nix::dir::Dir::from_fd(OwnedFd::from(dir)).map_err(io::Error::from)?;
        let mut names = Vec::new();
        for entry in dir.iter() {
            let name = entry.map_err(io::Error::from)?.file_name().to_bytes().to_vec();
            if name != b"." && name != b".." {
                names.push(OsStr::from_bytes(&name).to_os_string());
            }
        }
        names.sort();
        Ok(names)
    }

    /// Opens the regular file `rel` for reading. The type is checked before opening, on
    /// the inode that is then opened, so a FIFO or device swapped in cannot block or act.
    pub fn open_file(&self, rel: &Path) -> io::Result<File> {
        let handle = self.root.resolve_nofollow(at(rel)).map_err(io_err)?;
        if !File::from(OwnedFd::from(handle.try_clone().map_err(io_err)?)).metadata()?.is_file() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("{} is not a regular file", rel.display())));
        }
        handle.reopen(OpenFlags::O_RDONLY).map_err(io_err)
    }

    /// Makes room for a new `rel`: removes what is there, unless it is a directory and
    /// `keep_dir` (then true). The parent resolves inside the tree; `rel` itself is never
    /// followed.
    fn clear(&self, rel: &Path, keep_dir: bool) -> io::Result<bool> {
        match self.lstat(rel) {
            Err(e) if not_found(&e) => Ok(false),
            Err(e) => Err(e),
            Ok(m) if m.is_dir() && keep_dir => Ok(true),
            Ok(m) if m.is_dir() => self.root.remove_all(rel).map(|()| false).map_err(io_err),
            Ok(_) => self.root.remove_file(rel).map(|()| false).map_err(io_err),
        }
    }

    /// Removes `rel` (a file, a link or an empty directory; a link is not followed).
    pub fn remove(&self, rel: &Path) -> io::Result<()> {
        self.clear(rel, false).map(drop)
    }

    /// A directory at `rel` (an existing one is kept, anything else replaced), open so its
    /// metadata can be set.
    pub fn make_dir(&self, rel: &Path) -> io::Result<File> {
        if !self.clear(rel, true)? {
            self.root.create(rel, &InodeType::Directory(Permissions::from_mode(0o700))).map_err(io_err)?;
        }
        self.root.open_subpath(at(rel), OpenFlags::O_RDONLY | OpenFlags::O_DIRECTORY | OpenFlags::O_NOFOLLOW).map_err(io_err)
    }

    /// Creates the missing directories of `rel` (a canonical path), new ones 0755 and
    /// owned by `owner`; a non-directory on the way is an error.
    pub fn make_dirs(&self, rel: &Path, owner: (u32, u32)) -> io::Result<()> {
        let mut cur = PathBuf::new();
        for c in rel.components() {
            cur.push(c);
            match self.lstat(&cur) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => return Err(io::Error::new(io::ErrorKind::NotADirectory, format!("/{} is not a directory", cur.display()))),
                Err(e) if not_found(&e) => set_meta(&self.make_dir(&cur)?, owner, 0o755, None)?,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// `mkdir -p` following symlinks inside the tree (a dangling one is an error).
    pub fn mkdir_all(&self, rel: &Path) -> io::Result<()> {
        self.root.mkdir_all(at(rel), &Permissions::from_mode(0o755)).map(drop).map_err(io_err)
    }

    /// A new empty regular file at `rel`, replacing what was there.
    pub fn create_file(&self, rel: &Path) -> io::Result<File> {
        self.clear(rel, false)?;
        // O_EXCL|O_NOFOLLOW: pathrs opens the last component with a plain openat.
        let flags = OpenFlags::O_WRONLY | OpenFlags::O_EXCL | OpenFlags::O_NOFOLLOW | OpenFlags::O_CLOEXEC;
        self.root.create_file(rel, flags, &Permissions::from_mode(0o600)).map_err(io_err)
    }

    pub fn symlink(&self, rel: &Path, target: &Path) -> io::Result<()> {
        self.clear(rel, false)?;
        self.root.create(rel, &InodeType::Symlink(target.to_path_buf())).map_err(io_err)
    }

    /// A hard link at `rel` to `target` (both in the tree).
    pub fn hard_link(&self, rel: &Path, target: &Path) -> io::Result<()> {
        self.clear(rel, false)?;
        self.root.create(rel, &InodeType::Hardlink(target.to_path_buf())).map_err(io_err)
    }

    /// Sets the owner of `rel` itself (a symlink is not followed).
    pub fn lchown(&self, rel: &Path, owner: (u32, u32)) -> io::Result<()> {
        let handle = self.root.resolve_nofollow(at(rel)).map_err(io_err)?;
        let flags = nix::fcntl::AtFlags::AT_EMPTY_PATH | nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW;
        nix::unistd::fchownat(&handle, "", Some(owner.0.into()), Some(owner.1.into()), flags).map_err(io::Error::from)
    }
}

/// Owner, then mode (a chown clears set-id bits), then the modification time.
pub fn set_meta(file: &File, owner: (u32, u32), mode: u32, mtime: Option<i64>) -> io::Result<()> {
    std::os::unix::fs::fchown(file, Some(owner.0), Some(owner.1))?;
    file.set_permissions(Permissions::from_mode(mode & 0o7777))?;
    if let Some(secs) = mtime {
        let t = nix::sys::time::TimeSpec::new(secs, 0);
        nix::sys::stat::futimens(file, &nix::sys::time::TimeSpec::UTIME_OMIT, &t).map_err(io::Error::from)?;
    }
    Ok(())
}

/// The components of `path` to walk, last first (`.` and the root dropped).
fn parts(path: &Path) -> Vec<OsString> {
    let mut out: Vec<OsString> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect();
    out.reverse();
    out
}

/// `a/./b/../../../c` → `c`: lexically, `..` stopping at the top (as Go's Clean of `/`+p).
pub fn clean(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in parts(path).into_iter().rev() {
        if part == ".." {
            out.pop();
        } else {
            out.push(part);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(_: &Path, _: bool) -> bool {
        true
    }

    #[test]
    fn symlinks_resolve_inside_the_tree() {
        let host = tempfile::tempdir().unwrap();
        std::fs::write(host.path().join("secret"), "host").unwrap();
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        std::fs::create_dir_all(p.join("real/sub")).unwrap();
        std::fs::write(p.join("real/f"), "in").unwrap();
        std::os::unix::fs::symlink(host.path(), p.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../../../..", p.join("real/up")).unwrap();
        std::os::unix::fs::symlink("/real", p.join("real/sub/top")).unwrap();
        std::os::unix::fs::symlink("loop", p.join("loop")).unwrap();
        let t = Tree::open(p).unwrap();
        let host_rel = host.path().strip_prefix("/").unwrap().join("secret");
        assert_eq!(t.canonical(Path::new("abs/secret"), &all).unwrap(), (host_rel, false), "an absolute link starts at the tree's top");
        assert_eq!(t.canonical(Path::new("real/up/real/f"), &all).unwrap(), (PathBuf::from("real/f"), true));
        assert_eq!(t.canonical(Path::new("real/sub/top/f"), &all).unwrap(), (PathBuf::from("real/f"), true));
        assert_eq!(t.canonical(Path::new("../../real/./f"), &all).unwrap(), (PathBuf::from("real/f"), true));
        assert!(t.canonical(Path::new("loop"), &all).is_err());
        assert!(t.open_file(Path::new("abs/secret")).is_err(), "never the host's file");
        assert_eq!(std::io::read_to_string(t.open_file(Path::new("real/up/real/f")).unwrap()).unwrap(), "in");
        assert_eq!(t.read_dir(Path::new("real")).unwrap(), vec![OsString::from("f"), "sub".into(), "up".into()]);
        // Writing through a planted link stays inside.
        drop(t.create_file(Path::new("abs")).unwrap());
        assert!(t.lstat(Path::new("abs")).unwrap().is_file(), "the link itself was replaced");
        assert_eq!(std::fs::read_to_string(host.path().join("secret")).unwrap(), "host");
        assert_eq!(clean(Path::new("/a/./b/../../../c")), PathBuf::from("c"));
    }
}
