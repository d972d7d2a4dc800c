//! The one way hoist touches a tree it does not trust (image layers, an image's or a
//! container's files, volumes, build contexts, a build's stages): paths resolve inside an
//! open root they cannot leave (pathrs: openat2 RESOLVE_IN_ROOT, with a safe fallback), and
//! each entry is made, changed, opened or removed relative to its parent's descriptor, one
//! name at a time and never following it, so no symlink planted in the tree (or swapped in
//! by a running container) can lead an operation outside.
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

/// pathrs errors as io errors (the errno kept, so NotFound stays NotFound).
fn pathrs_err(e: pathrs::error::Error) -> io::Error {
    match e.kind() {
        pathrs::error::ErrorKind::OsError(Some(errno)) => {
            let os = io::Error::from_raw_os_error(errno);
            io::Error::new(os.kind(), format!("{e}: {os}"))
        }
        _ => io::Error::other(format!("{e}")),
    }
}

/// `name` inside a tree, relative and without `.` or `..`, cleaned as Docker cleans a path
/// joined to `/` (layer and ADD entry names, COPY paths): a leading `/` and `.` are dropped
/// and `..` goes up, stopping at the top (`../../x` and `/x` are both `x`).
pub fn clean(name: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in parts(name).into_iter().rev() {
        if part == ".." {
            out.pop();
        } else {
            out.push(part);
        }
    }
    out
}

/// The components of `path` to walk, last first (`.` and the root dropped, `..` kept).
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

/// A cleaned relative path split into its parent and its last name (None for the root).
pub fn split(rel: &Path) -> (&Path, Option<&OsStr>) {
    (rel.parent().unwrap_or(Path::new("")), rel.file_name())
}

/// pathrs names the tree's top `.`, not an empty path.
fn dot(rel: &Path) -> &Path {
    if rel.as_os_str().is_empty() { Path::new(".") } else { rel }
}

fn not_found(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound
}

/// Symlinks followed in one path before giving up (the kernel's limit).
const MAX_SYMLINKS: usize = 40;

impl Tree {
    pub fn open(path: &Path) -> io::Result<Tree> {
        pathrs::Root::open(path).map(|root| Tree { root }).map_err(pathrs_err)
    }

    /// The directory `rel` as a tree of its own (what is in it cannot climb out of it).
    pub fn subtree(&self, rel: &Path) -> io::Result<Tree> {
        let Dir(fd) = self.dir(rel)?;
        Ok(Tree { root: pathrs::Root::from_fd(fd) })
    }

    /// The existing directory at `rel` (symlinks followed inside the tree).
    pub fn dir(&self, rel: &Path) -> io::Result<Dir> {
        let handle = self.root.resolve(dot(rel)).map_err(pathrs_err)?;
        // An O_PATH handle: opening "." checks it is a directory and gives a full descriptor.
        Dir(handle.into()).open_dir(OsStr::new("."))
    }

    /// The directory at `rel`, made (0755, root's) with its missing parents; symlinks are
    /// followed inside the tree (one to a path the tree does not have is an error).
    pub fn mkdir_all(&self, rel: &Path) -> io::Result<Dir> {
        use std::os::unix::fs::PermissionsExt;
        let handle = self.root.mkdir_all(dot(rel), &std::fs::Permissions::from_mode(0o755)).map_err(pathrs_err)?;
        Dir(handle.into()).open_dir(OsStr::new("."))
    }

    /// The directory holding `rel` (symlinks followed inside the tree) and `rel`'s name in
    /// it: what the writes below act on, never following that name.
    fn parent<'a>(&self, rel: &'a Path) -> io::Result<(Dir, &'a OsStr)> {
        match split(rel) {
            (parent, Some(name)) => Ok((self.dir(parent)?, name)),
            (_, None) => Err(io::Error::new(io::ErrorKind::InvalidInput, "the top of the tree cannot be replaced")),
        }
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
                    if links > MAX_SYMLINKS {
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
    pub fn lstat(&self, rel: &Path) -> io::Result<std::fs::Metadata> {
        let handle = self.root.resolve_nofollow(dot(rel)).map_err(pathrs_err)?;
        File::from(OwnedFd::from(handle)).metadata()
    }

    pub fn readlink(&self, rel: &Path) -> io::Result<PathBuf> {
        self.root.readlink(rel).map_err(pathrs_err)
    }

    /// The names in directory `rel` (not a symlink to one), sorted.
    pub fn read_dir(&self, rel: &Path) -> io::Result<Vec<OsString>> {
        let handle = self.root.resolve_nofollow(dot(rel)).map_err(pathrs_err)?;
        Dir(handle.into()).open_dir(OsStr::new("."))?.names()
    }

    /// Opens the regular file `rel` (not through a final symlink) for reading.
    pub fn open_file(&self, rel: &Path) -> io::Result<File> {
        let handle = self.root.resolve_nofollow(dot(rel)).map_err(pathrs_err)?;
        reopen_regular(handle, rel.as_os_str())
    }

    /// Creates the missing directories of `rel` (a canonical path: no symlink is
    /// followed), new ones 0755 and owned by `owner`; a non-directory on the way is an error.
    pub fn make_dirs(&self, rel: &Path, owner: (u32, u32)) -> io::Result<()> {
        let mut dir = self.dir(Path::new(""))?;
        let mut cur = PathBuf::new();
        for name in rel.iter() {
            cur.push(name);
            match dir.stat(name)? {
                Some(st) if file_type(&st) == SFlag::S_IFDIR => {}
                Some(_) => return Err(io::Error::new(io::ErrorKind::NotADirectory, format!("/{} is not a directory", cur.display()))),
                None => {
                    dir.make(name, Kind::Dir)?;
                    set_meta(&dir.open_dir(name)?, owner, 0o755, None)?;
                }
            }
            dir = dir.open_dir(name)?;
        }
        Ok(())
    }

    /// A directory at `rel` (an existing one is kept, anything else replaced), open so its
    /// metadata can be set.
    pub fn make_dir(&self, rel: &Path) -> io::Result<Dir> {
        let (dir, name) = self.parent(rel)?;
        dir.make(name, Kind::Dir)?;
        dir.open_dir(name)
    }

    /// A new empty regular file at `rel`, replacing what was there.
    pub fn create_file(&self, rel: &Path) -> io::Result<File> {
        let (dir, name) = self.parent(rel)?;
        dir.create_file(name)
    }

    /// A symlink at `rel` to `target`, replacing what was there.
    pub fn symlink(&self, rel: &Path, target: &Path) -> io::Result<()> {
        let (dir, name) = self.parent(rel)?;
        dir.symlink(name, target)
    }

    /// Removes `rel` and everything below it (a symlink is removed, not followed).
    pub fn remove(&self, rel: &Path) -> io::Result<()> {
        let (dir, name) = self.parent(rel)?;
        dir.remove(name)
    }

    /// Sets the owner of `rel` itself (a symlink is not followed).
    pub fn lchown(&self, rel: &Path, owner: (u32, u32)) -> io::Result<()> {
        let (dir, name) = self.parent(rel)?;
        dir.chown(name, owner)
    }

    /// Hard-links `name` in `dir` to the entry at `target` (a cleaned relative path, its
    /// parents followed inside the tree, the entry itself not followed).
    pub fn hard_link(&self, target: &Path, dir: &Dir, name: &OsStr) -> io::Result<()> {
        let (parent, target_name) = self.parent(target)?;
        dir.remove(name)?;
        nix::unistd::linkat(parent.fd(), target_name, dir.fd(), name, AtFlags::empty()).map_err(io::Error::from)
    }
}

/// Opens what `handle` (an O_PATH descriptor) is, for reading, if it is a regular file. The
/// type is checked on the very inode then opened, so a FIFO or a device swapped in can
/// neither block nor act.
fn reopen_regular(handle: pathrs::Handle, shown: &OsStr) -> io::Result<File> {
    let st = nix::sys::stat::fstat(handle.as_fd())?;
    if file_type(&st) != SFlag::S_IFREG {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("{} is not a regular file", Path::new(shown).display())));
    }
    handle.reopen(pathrs::flags::OpenFlags::O_RDONLY).map_err(pathrs_err)
}

/// Owner, then mode (a chown clears set-id bits), then the modification time of an open
/// file or directory.
pub fn set_meta(file: &impl AsFd, owner: (u32, u32), mode: u32, mtime: Option<i64>) -> io::Result<()> {
    let fd = file.as_fd();
    nix::unistd::fchown(fd, Some(owner.0.into()), Some(owner.1.into()))?;
    nix::sys::stat::fchmod(fd, Mode::from_bits_truncate(mode & 0o7777))?;
    if let Some(secs) = mtime {
        let t = TimeSpec::new(secs, 0);
        nix::sys::stat::futimens(fd, &TimeSpec::UTIME_OMIT, &t)?;
    }
    Ok(())
}

impl AsFd for Dir {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
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
        let fd = nix::fcntl::openat(self.fd(), name, OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, Mode::empty())?;
        reopen_regular(pathrs::Handle::from_fd(fd), name)
    }

    /// The names in the directory (without `.` and `..`), sorted.
    pub fn names(&self) -> io::Result<Vec<OsString>> {
        let fd = nix::fcntl::openat(self.fd(), ".", OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())?;
        let mut names = Vec::new();
        for entry in nix::dir::Dir::from_fd(fd)? {
            let name = OsStr::from_bytes(entry?.file_name().to_bytes()).to_os_string();
            if name != "." && name != ".." {
                names.push(name);
            }
        }
        names.sort();
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

    /// Sets the owner of `name` itself (a symlink is not followed).
    pub fn chown(&self, name: &OsStr, (uid, gid): (u32, u32)) -> io::Result<()> {
        nix::unistd::fchownat(self.fd(), name, Some(uid.into()), Some(gid.into()), AtFlags::AT_SYMLINK_NOFOLLOW).map_err(io::Error::from)
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
    for name in src.names()? {
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

    fn all(_: &Path, _: bool) -> bool {
        true
    }

    #[test]
    fn clean_names() {
        assert_eq!(clean(Path::new("/a/./b/")), Path::new("a/b"));
        assert_eq!(clean(Path::new("a/../b")), Path::new("b"));
        assert_eq!(clean(Path::new("../x")), Path::new("x"));
        assert_eq!(clean(Path::new("/a/./b/../../../c")), Path::new("c"));
        assert_eq!(clean(Path::new("./")), Path::new(""));
    }

    #[test]
    fn writes_stay_inside() {
        let d = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), d.path().join("ev")).unwrap();
        let tree = Tree::open(d.path()).unwrap();
        // "ev" points outside: inside the tree it means <tree>/<that path>, which does not
        // exist; pathrs refuses to create through such a dangling link, and either way
        // nothing appears outside.
        if let Ok(dir) = tree.mkdir_all(Path::new("ev/sub")) {
            dir.create_file(OsStr::new("f")).unwrap();
            assert!(d.path().join(outside.path().strip_prefix("/").unwrap()).join("sub/f").exists());
        }
        assert!(std::fs::read_dir(outside.path()).unwrap().next().is_none(), "wrote outside");
        // A symlink at the final name is replaced, never written through.
        std::os::unix::fs::symlink(outside.path().join("g"), d.path().join("g")).unwrap();
        drop(tree.create_file(Path::new("g")).unwrap());
        assert!(!outside.path().join("g").exists());
        assert!(tree.lstat(Path::new("g")).unwrap().is_file(), "the link itself was replaced");
        assert!(tree.make_dirs(Path::new("g/x"), (0, 0)).is_err(), "a file on the way");
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
        nix::unistd::mkfifo(&p.join("fifo"), Mode::from_bits_truncate(0o600)).unwrap();
        let t = Tree::open(p).unwrap();
        let host_rel = host.path().strip_prefix("/").unwrap().join("secret");
        assert_eq!(t.canonical(Path::new("abs/secret"), &all).unwrap(), (host_rel, false), "an absolute link starts at the tree's top");
        assert_eq!(t.canonical(Path::new("real/up/real/f"), &all).unwrap(), (PathBuf::from("real/f"), true));
        assert_eq!(t.canonical(Path::new("real/sub/top/f"), &all).unwrap(), (PathBuf::from("real/f"), true));
        assert_eq!(t.canonical(Path::new("../../real/./f"), &all).unwrap(), (PathBuf::from("real/f"), true));
        assert!(t.canonical(Path::new("loop"), &all).is_err());
        assert!(t.open_file(Path::new("abs/secret")).is_err(), "never the host's file");
        assert!(t.open_file(Path::new("fifo")).is_err(), "a FIFO is not opened (it would block)");
        assert!(t.dir(Path::new("")).unwrap().open_file(OsStr::new("fifo")).is_err());
        assert_eq!(std::io::read_to_string(t.open_file(Path::new("real/up/real/f")).unwrap()).unwrap(), "in");
        assert_eq!(t.read_dir(Path::new("real")).unwrap(), vec![OsString::from("f"), "sub".into(), "up".into()]);
        assert_eq!(std::fs::read_to_string(host.path().join("secret")).unwrap(), "host");
    }
}
