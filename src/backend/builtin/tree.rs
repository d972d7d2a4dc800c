//! Safe operations on trees hoist does not trust (image layers, volumes, an image's files):
//! paths resolve inside an open root they cannot leave (pathrs: openat2 RESOLVE_IN_ROOT,
//! with a safe fallback), and each entry is made, changed or removed relative to its
//! parent's descriptor, one name at a time and never following it, so no symlink planted
//! in the tree (or swapped in by a running container) can lead an operation outside.

use std::collections::HashMap;
use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{FileStat, Mode, SFlag};
use nix::sys::time::TimeSpec;

/// A directory tree opened at its root: every path given is resolved inside it.
pub struct Tree {
    root: pathrs::Root,
}

/// An open directory of a tree; entries are named by one path component.
pub struct Dir(OwnedFd);

/// Ownership, permission bits, modification time and extended attributes of an entry.
#[derive(Debug, Clone, Default)]
pub struct Meta {
    pub uid: u32,
    pub gid: u32,
    /// Permission bits, setuid/setgid/sticky included.
    pub mode: u32,
    /// Seconds and nanoseconds since the epoch.
    pub mtime: (i64, i64),
    pub xattrs: Vec<(OsString, Vec<u8>)>,
}

/// What to make at a name.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Dir,
    Fifo,
    Char(u64),
    Block(u64),
}

fn pathrs_err(e: pathrs::error::Error) -> io::Error {
    match e.kind() {
        pathrs::error::ErrorKind::OsError(Some(errno)) => io::Error::new(io::Error::from_raw_os_error(errno).kind(), format!("{e}")),
        _ => io::Error::other(format!("{e}")),
    }
}

/// `name` inside a tree, relative and without `.` or `..`: leading `/` and `.` are dropped
/// and `..` goes up, as Docker cleans layer entry names; a name that would climb above the
/// root is refused.
pub fn clean(name: &Path) -> io::Result<PathBuf> {
    let mut out = PathBuf::new();
    for c in name.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir if out.pop() => {}
            Component::ParentDir => {
                return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("{} leads outside the tree", name.display())));
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    Ok(out)
}

/// A cleaned relative path split into its parent and its last name (None for the root).
pub fn split(rel: &Path) -> (&Path, Option<&OsStr>) {
    (rel.parent().unwrap_or(Path::new("")), rel.file_name())
}

fn dot(rel: &Path) -> &Path {
    if rel.as_os_str().is_empty() { Path::new(".") } else { rel }
}

impl Tree {
    pub fn open(path: &Path) -> io::Result<Tree> {
        let root = pathrs::Root::open(path).map_err(|e| io::Error::other(format!("opening {}: {}", path.display(), pathrs_err(e))))?;
        Ok(Tree { root })
    }

    /// The directory at `rel`, made (0755, root's) with its missing parents.
    pub fn make_dir(&self, rel: &Path) -> io::Result<Dir> {
        use std::os::unix::fs::PermissionsExt;
        let handle = self.root.mkdir_all(dot(rel), &std::fs::Permissions::from_mode(0o755)).map_err(pathrs_err)?;
        Ok(Dir(handle.into()))
    }

    /// The existing directory at `rel` (symlinks followed inside the tree).
    pub fn dir(&self, rel: &Path) -> io::Result<Dir> {
        let handle = self.root.resolve(dot(rel)).map_err(pathrs_err)?;
        let dir = Dir(handle.into());
        // An O_PATH handle: opening "." checks it is a directory and gives a full descriptor.
        dir.open_dir(OsStr::new("."))
    }

    /// Hard-links `name` in `dir` to the entry at `target` (a cleaned relative path, its
    /// parents followed inside the tree, the entry itself not followed).
    pub fn hard_link(&self, target: &Path, dir: &Dir, name: &OsStr) -> io::Result<()> {
        let (parent, Some(target_name)) = split(target) else {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "a hard link to the root"));
        };
        let parent = self.root.resolve(dot(parent)).map_err(pathrs_err)?;
        dir.remove(name)?;
        nix::unistd::linkat(parent.as_fd(), target_name, dir.0.as_fd(), name, AtFlags::empty()).map_err(io::Error::from)
    }
}

impl Dir {
    fn fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }

    /// The entry's status, not following it; None when there is none.
    pub fn stat(&self, name: &OsStr) -> io::Result<Option<FileStat>> {
        match nix::sys::stat::fstatat(self.fd(), name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(st)),
            Err(Errno::ENOENT) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// This directory's own status.
    pub fn stat_self(&self) -> io::Result<FileStat> {
        nix::sys::stat::fstat(self.fd()).map_err(io::Error::from)
    }

    /// The subdirectory `name` (not a symlink to one).
    pub fn open_dir(&self, name: &OsStr) -> io::Result<Dir> {
        let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        Ok(Dir(nix::fcntl::openat(self.fd(), name, flags, Mode::empty())?))
    }

    /// The regular file `name`, for reading (not through a symlink).
    pub fn open_file(&self, name: &OsStr) -> io::Result<File> {
        let flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK;
        let fd = nix::fcntl::openat(self.fd(), name, flags, Mode::empty())?;
        Ok(File::from(fd))
    }

    /// The names in the directory (without `.` and `..`).
    pub fn names(&self) -> io::Result<Vec<OsString>> {
        let fd = nix::fcntl::openat(self.fd(), ".", OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())?;
        let mut names = Vec::new();
        for entry in nix::dir::Dir::from_fd(fd)? {
            let name = OsStr::from_bytes(entry?.file_name().to_bytes()).to_os_string();
            if name != "." && name != ".." {
                names.push(name);
            }
        }
        Ok(names)
    }

    /// Removes whatever is at `name` (a directory with everything in it); nothing is fine.
    pub fn remove(&self, name: &OsStr) -> io::Result<()> {
        let Some(st) = self.stat(name)? else { return Ok(()) };
        if SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) == SFlag::S_IFDIR {
            let sub = self.open_dir(name)?;
            for n in sub.names()? {
                sub.remove(&n)?;
            }
            nix::unistd::unlinkat(self.fd(), name, nix::unistd::UnlinkatFlags::RemoveDir)?;
        } else {
            nix::unistd::unlinkat(self.fd(), name, nix::unistd::UnlinkatFlags::NoRemoveDir)?;
        }
        Ok(())
    }

    /// Makes `kind` at `name`, replacing what is there (an existing directory stays when a
    /// directory is wanted). Device nodes need the right to make them (EPERM otherwise).
    pub fn make(&self, name: &OsStr, kind: Kind) -> io::Result<()> {
        let existing = self.stat(name)?;
        let is_dir = |st: &FileStat| st.st_mode & SFlag::S_IFMT.bits() == SFlag::S_IFDIR.bits();
        if kind == Kind::Dir && existing.as_ref().is_some_and(is_dir) {
            return Ok(());
        }
        if existing.is_some() {
            self.remove(name)?;
        }
        let perm = Mode::from_bits_truncate(0o600);
        let made = match kind {
            Kind::Dir => nix::sys::stat::mkdirat(self.fd(), name, Mode::from_bits_truncate(0o700)),
            Kind::Fifo => nix::sys::stat::mknodat(self.fd(), name, SFlag::S_IFIFO, perm, 0),
            Kind::Char(dev) => nix::sys::stat::mknodat(self.fd(), name, SFlag::S_IFCHR, if dev == 0 { Mode::empty() } else { perm }, dev),
            Kind::Block(dev) => nix::sys::stat::mknodat(self.fd(), name, SFlag::S_IFBLK, perm, dev),
        };
        made.map_err(io::Error::from)
    }

    /// Makes a symlink `name` -> `target`, replacing what is there.
    pub fn symlink(&self, name: &OsStr, target: &Path) -> io::Result<()> {
        self.remove(name)?;
        nix::unistd::symlinkat(target, self.fd(), name).map_err(io::Error::from)
    }

    /// Creates the regular file `name` for writing, replacing what is there.
    pub fn create_file(&self, name: &OsStr) -> io::Result<File> {
        self.remove(name)?;
        let flags = OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        Ok(File::from(nix::fcntl::openat(self.fd(), name, flags, Mode::from_bits_truncate(0o600))?))
    }

    /// Links `name` to the open file `file` (the very inode, no path involved).
    pub fn link_to(&self, name: &OsStr, file: &impl AsFd) -> io::Result<()> {
        self.remove(name)?;
        nix::unistd::linkat(file.as_fd(), "", self.fd(), name, AtFlags::AT_EMPTY_PATH).map_err(io::Error::from)
    }

    /// `/proc/self/fd/<dir>/<name>`: the entry's path for the xattr calls that take one
    /// (used with their `l` forms, so `name` itself is never followed).
    fn proc_path(&self, name: &OsStr) -> io::Result<CString> {
        let mut p = format!("/proc/self/fd/{}/", self.0.as_raw_fd()).into_bytes();
        p.extend_from_slice(name.as_bytes());
        CString::new(p).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a name with a NUL byte"))
    }

    /// Gives `name` its owner, mode (not for symlinks: Linux has none), extended
    /// attributes and time, in that order (a chown clears setuid bits and capabilities).
    pub fn set_meta(&self, name: &OsStr, meta: &Meta) -> io::Result<()> {
        let (uid, gid) = (Some(nix::unistd::Uid::from_raw(meta.uid)), Some(nix::unistd::Gid::from_raw(meta.gid)));
        nix::unistd::fchownat(self.fd(), name, uid, gid, AtFlags::AT_SYMLINK_NOFOLLOW)?;
        let st = self.stat(name)?.ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
        let symlink = st.st_mode & SFlag::S_IFMT.bits() == SFlag::S_IFLNK.bits();
        if !symlink {
            // glibc does this without following (fchmodat2, or an O_PATH descriptor).
            nix::sys::stat::fchmodat(self.fd(), name, Mode::from_bits_truncate(meta.mode & 0o7777), nix::sys::stat::FchmodatFlags::NoFollowSymlink)?;
        }
        if !meta.xattrs.is_empty() {
            let path = self.proc_path(name)?;
            for (key, value) in &meta.xattrs {
                let key_c = CString::new(key.as_bytes()).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "an xattr name with a NUL byte"))?;
                // SAFETY: NUL-terminated strings and a buffer of the given length.
                let rc = unsafe { libc::lsetxattr(path.as_ptr(), key_c.as_ptr(), value.as_ptr().cast(), value.len(), 0) };
                if rc != 0 {
                    let e = io::Error::last_os_error();
                    return Err(io::Error::new(e.kind(), format!("setting xattr {}: {e}", key.to_string_lossy())));
                }
            }
        }
        self.set_mtime(name, meta.mtime)
    }

    /// Sets the modification (and access) time of `name`, not following it.
    pub fn set_mtime(&self, name: &OsStr, (secs, nanos): (i64, i64)) -> io::Result<()> {
        let t = TimeSpec::new(secs, nanos);
        nix::sys::stat::utimensat(self.fd(), name, &t, &t, nix::sys::stat::UtimensatFlags::NoFollowSymlink).map_err(io::Error::from)
    }

    /// Owner and mode of this directory itself.
    pub fn set_owner_mode(&self, uid: u32, gid: u32, mode: u32) -> io::Result<()> {
        nix::unistd::fchown(self.fd(), Some(nix::unistd::Uid::from_raw(uid)), Some(nix::unistd::Gid::from_raw(gid)))?;
        nix::sys::stat::fchmod(self.fd(), Mode::from_bits_truncate(mode & 0o7777)).map_err(io::Error::from)
    }

    /// Marks this directory opaque for overlayfs (`trusted.overlay.opaque=y`).
    pub fn set_opaque(&self) -> io::Result<()> {
        // SAFETY: a valid descriptor, NUL-terminated name, a buffer of the given length.
        let rc = unsafe { libc::fsetxattr(self.0.as_raw_fd(), c"trusted.overlay.opaque".as_ptr(), b"y".as_ptr().cast(), 1, 0) };
        if rc != 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
    }

    /// The metadata of entry `name` whose status is `st`, extended attributes included.
    pub fn meta(&self, name: &OsStr, st: &FileStat) -> io::Result<Meta> {
        Ok(Meta {
            uid: st.st_uid,
            gid: st.st_gid,
            mode: st.st_mode & 0o7777,
            mtime: (st.st_mtime, st.st_mtime_nsec),
            xattrs: self.xattrs(name)?,
        })
    }

    fn xattrs(&self, name: &OsStr) -> io::Result<Vec<(OsString, Vec<u8>)>> {
        let path = self.proc_path(name)?;
        // SAFETY (all three calls): NUL-terminated strings and buffers of the given lengths.
        let size = unsafe { libc::llistxattr(path.as_ptr(), std::ptr::null_mut(), 0) };
        if size <= 0 {
            let e = io::Error::last_os_error();
            return if size == 0 || e.raw_os_error() == Some(libc::ENOTSUP) { Ok(vec![]) } else { Err(e) };
        }
        let mut list = vec![0u8; size as usize];
        let size = unsafe { libc::llistxattr(path.as_ptr(), list.as_mut_ptr().cast(), list.len()) };
        if size < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut out = Vec::new();
        for key in list[..size as usize].split(|b| *b == 0).filter(|k| !k.is_empty()) {
            let key_c = CString::new(key).map_err(|_| io::Error::other("xattr list"))?;
            let len = unsafe { libc::lgetxattr(path.as_ptr(), key_c.as_ptr(), std::ptr::null_mut(), 0) };
            if len < 0 {
                continue;
            }
            let mut value = vec![0u8; len as usize];
            let len = unsafe { libc::lgetxattr(path.as_ptr(), key_c.as_ptr(), value.as_mut_ptr().cast(), value.len()) };
            if len >= 0 {
                value.truncate(len as usize);
                out.push((OsStr::from_bytes(key).to_os_string(), value));
            }
        }
        Ok(out)
    }
}

fn file_type(st: &FileStat) -> SFlag {
    SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits())
}

/// Copies everything in `src` into `dst` (both opened by a `Tree`, so neither side is
/// reached through a symlink): owners, modes, times and extended attributes kept,
/// symlinks copied as symlinks, hard links kept as links, sockets skipped.
pub fn copy_contents(src: &Dir, dst: &Dir) -> io::Result<()> {
    copy_dir(src, dst, &mut HashMap::new())
}

/// At most this many hard-linked files are remembered (one open descriptor each); past
/// it, further links become copies.
const MAX_LINKS: usize = 512;

fn copy_dir(src: &Dir, dst: &Dir, links: &mut HashMap<(u64, u64), File>) -> io::Result<()> {
    let mut names = src.names()?;
    names.sort();
    for name in names {
        let context = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", name.to_string_lossy()));
        let Some(st) = src.stat(&name)? else { continue };
        let meta = src.meta(&name, &st).map_err(context)?;
        match file_type(&st) {
            SFlag::S_IFDIR => {
                dst.make(&name, Kind::Dir).map_err(context)?;
                copy_dir(&src.open_dir(&name)?, &dst.open_dir(&name)?, links)?;
            }
            SFlag::S_IFREG => {
                let key = (st.st_dev, st.st_ino);
                if let Some(first) = links.get(&key) {
                    dst.link_to(&name, first).map_err(context)?;
                    continue;
                }
                let mut from = src.open_file(&name).map_err(context)?;
                let mut to = dst.create_file(&name).map_err(context)?;
                io::copy(&mut from, &mut to).map_err(context)?;
                if st.st_nlink > 1 && links.len() < MAX_LINKS {
                    links.insert(key, to);
                }
            }
            SFlag::S_IFLNK => {
                let target = nix::fcntl::readlinkat(src.fd(), name.as_os_str())?;
                dst.symlink(&name, Path::new(&target)).map_err(context)?;
            }
            SFlag::S_IFIFO => dst.make(&name, Kind::Fifo).map_err(context)?,
            SFlag::S_IFCHR => dst.make(&name, Kind::Char(st.st_rdev)).map_err(context)?,
            SFlag::S_IFBLK => dst.make(&name, Kind::Block(st.st_rdev)).map_err(context)?,
            _ => continue,
        }
        // After the contents: writing them changed the time (and needed the mode open).
        dst.set_meta(&name, &meta).map_err(context)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_names() {
        assert_eq!(clean(Path::new("/a/./b/")).unwrap(), Path::new("a/b"));
        assert_eq!(clean(Path::new("a/../b")).unwrap(), Path::new("b"));
        assert!(clean(Path::new("../x")).is_err());
        assert!(clean(Path::new("a/../../x")).is_err());
        assert_eq!(clean(Path::new("./")).unwrap(), Path::new(""));
    }

    #[test]
    fn symlinks_resolve_inside() {
        let d = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), d.path().join("ev")).unwrap();
        let tree = Tree::open(d.path()).unwrap();
        // "ev" points outside: inside the tree it means <tree>/<that path>, which does not
        // exist; pathrs refuses to create through such a dangling link, and either way
        // nothing appears outside.
        if let Ok(dir) = tree.make_dir(Path::new("ev/sub")) {
            dir.create_file(OsStr::new("f")).unwrap();
            assert!(d.path().join(outside.path().strip_prefix("/").unwrap()).join("sub/f").exists());
        }
        assert!(std::fs::read_dir(outside.path()).unwrap().next().is_none(), "wrote outside");
        // A symlink at the final name is replaced, never written through.
        std::os::unix::fs::symlink(outside.path().join("g"), d.path().join("g")).unwrap();
        let root = tree.dir(Path::new("")).unwrap();
        root.create_file(OsStr::new("g")).unwrap();
        assert!(!outside.path().join("g").exists());
        assert!(d.path().join("g").symlink_metadata().unwrap().is_file());
    }
}
