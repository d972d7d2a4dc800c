//! Host-side tar archives, the form files cross the `Backend` trait in (`cp`, watch's
//! sync), streamed in bounded chunks: packed as files are read, unpacked as they arrive,
//! and every write resolved inside an open root directory (pathrs), so none lands outside.

use std::ffi::OsString;
use std::fs;
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::pin::Pin;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use pathrs::flags::OpenFlags;
use pathrs::{InodeType, Root};

/// A tar archive on its way, in chunks; an error item ends it.
pub type TarStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// How much of an archive is in flight at most: `IN_FLIGHT` chunks of `CHUNK` bytes.
const CHUNK: usize = 256 * 1024;
const IN_FLIGHT: usize = 4;

/// The archive `write` makes, run on a blocking thread as the stream is read (it waits
/// while the reader is behind). Call it inside the tokio runtime.
pub fn produce(write: impl FnOnce(&mut dyn Write) -> io::Result<()> + Send + 'static) -> TarStream {
    let (tx, rx) = tokio::sync::mpsc::channel(IN_FLIGHT);
    tokio::task::spawn_blocking(move || {
        let mut w = ChunkWriter { tx, buf: Vec::with_capacity(CHUNK) };
        if let Err(e) = write(&mut w).and_then(|()| w.flush()) {
            let _ = w.tx.blocking_send(Err(e));
        }
    });
    Box::pin(futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) }))
}

/// An archive already in memory (watch's sync, sent to each container).
pub fn once(tar: Vec<u8>) -> TarStream {
    Box::pin(futures::stream::once(async move { Ok(Bytes::from(tar)) }))
}

struct ChunkWriter {
    tx: tokio::sync::mpsc::Sender<io::Result<Bytes>>,
    buf: Vec<u8>,
}

impl Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx.blocking_send(Ok(chunk)).map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the archive's reader stopped"))
    }
}

/// Reads a `TarStream` from a blocking thread; the runtime goes on driving its source.
pub struct StreamReader {
    stream: TarStream,
    chunk: Bytes,
    rt: tokio::runtime::Handle,
}

/// Call it inside the tokio runtime; read from a blocking thread (`spawn_blocking`).
pub fn reader(stream: TarStream) -> StreamReader {
    StreamReader { stream, chunk: Bytes::new(), rt: tokio::runtime::Handle::current() }
}

impl Read for StreamReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.chunk.is_empty() {
            match self.rt.block_on(self.stream.next()) {
                None => return Ok(0),
                Some(chunk) => self.chunk = chunk?,
            }
        }
        let n = out.len().min(self.chunk.len());
        out[..n].copy_from_slice(&self.chunk.split_to(n));
        Ok(n)
    }
}

/// Packs each `(host path, name in the archive)` into `out`: a directory with everything
/// below it but what `skip` refuses (given the host path). Symlinks are archived as links,
/// except an item's own with `follow`. Returns how many non-directories it holds.
pub fn pack(out: impl Write, items: &[(PathBuf, String)], skip: &dyn Fn(&Path) -> bool, follow: bool) -> io::Result<usize> {
    let mut b = tar::Builder::new(out);
    let mut files = 0;
    for (path, name) in items {
        add(&mut b, path, Path::new(name), skip, follow, &mut files)?;
    }
    b.into_inner()?.flush()?;
    Ok(files)
}

fn add<W: Write>(b: &mut tar::Builder<W>, path: &Path, name: &Path, skip: &dyn Fn(&Path) -> bool, follow: bool, files: &mut usize) -> io::Result<()> {
    let meta = if follow { fs::metadata(path) } else { fs::symlink_metadata(path) }.map_err(|e| with_path(path, e))?;
    b.follow_symlinks(follow);
    b.append_path_with_name(path, name).map_err(|e| with_path(path, e))?;
    if !meta.is_dir() {
        *files += 1;
        return Ok(());
    }
    let mut children: Vec<_> = fs::read_dir(path).map_err(|e| with_path(path, e))?.flatten().map(|e| e.file_name()).collect();
    children.sort();
    for child in children {
        let p = path.join(&child);
        if !skip(&p) {
            add(b, &p, &name.join(&child), skip, false, files)?;
        }
    }
    Ok(())
}

fn with_path(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// Unpacks an archive whose entries all lie below one top entry (as a container's
/// archive of one path does), that top entry becoming `dest`. Every write is resolved
/// inside `dest`'s parent directory, and none goes through a symlink the archive made.
pub fn unpack_as(archive: impl Read, dest: &Path) -> io::Result<()> {
    let name = dest.file_name().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, format!("{}: not a file name", dest.display())))?;
    let parent = dest.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let root = Root::open(parent).map_err(|e| with_path(parent, os(e)))?;
    let mut ar = tar::Archive::new(archive);
    let mut top: Option<OsString> = None;
    for entry in ar.entries()? {
        let mut entry = entry?;
        let entry_name = entry.path()?.into_owned();
        let parts = normal_parts(&entry_name)?;
        let Some((first, rest)) = parts.split_first() else { continue };
        match &top {
            None => top = Some(first.clone()),
            Some(t) if t != first => return Err(refused(&entry_name, "lies outside the archive's top entry")),
            Some(_) => {}
        }
        let mut rel = Path::new("/").join(name);
        for part in rest {
            // Every directory between `dest` and the entry must be a real one.
            if lstat_in(&root, &rel)?.is_some_and(|m| m.file_type().is_symlink()) {
                return Err(refused(&entry_name, "would be written through a symlink"));
            }
            rel.push(part);
        }
        let link = match entry.header().entry_type().is_hard_link() {
            true => {
                let target = entry.link_name()?.unwrap_or_default().into_owned();
                let rest = normal_parts(&target)?;
                Some(rest.iter().skip(1).fold(Path::new("/").join(name), |p, c| p.join(c)))
            }
            false => None,
        };
        write_entry(&root, &rel, &mut entry, link.as_deref(), false).map_err(|e| with_path(&parent.join(rel.strip_prefix("/").unwrap_or(&rel)), e))?;
    }
    if top.is_none() {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "the archive is empty"));
    }
    Ok(())
}

/// An archive name's components; `..` is refused.
fn normal_parts(name: &Path) -> io::Result<Vec<OsString>> {
    let mut parts = Vec::new();
    for c in name.components() {
        match c {
            Component::Normal(n) => parts.push(n.to_os_string()),
            Component::CurDir | Component::RootDir => {}
            _ => return Err(refused(name, "climbs out with ..")),
        }
    }
    Ok(parts)
}

fn refused(name: &Path, why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("archive entry {}: {why}", name.display()))
}

/// A pathrs error as an `io::Error` of the same kind (not found stays not found).
pub fn os(e: pathrs::error::Error) -> io::Error {
    match e.kind() {
        pathrs::error::ErrorKind::OsError(Some(errno)) => io::Error::new(io::Error::from_raw_os_error(errno).kind(), e.to_string()),
        _ => io::Error::other(e.to_string()),
    }
}

/// What is at `rel` in `root`, the last component not followed; `None` if nothing.
pub fn lstat_in(root: &Root, rel: &Path) -> io::Result<Option<fs::Metadata>> {
    match root.resolve_nofollow(rel) {
        Ok(h) => metadata(&h).map(Some),
        Err(e) if matches!(e.kind(), pathrs::error::ErrorKind::OsError(Some(libc::ENOENT | libc::ENOTDIR))) => Ok(None),
        Err(e) => Err(os(e)),
    }
}

pub fn metadata(h: &pathrs::Handle) -> io::Result<fs::Metadata> {
    fs::File::from(h.as_fd().try_clone_to_owned()?).metadata()
}

/// Makes the archive entry at `rel` in `root`, replacing a non-directory there (never
/// writing through it); a hard link's target is `hard_link_to`, also in `root`. Mode and
/// mtime come from the entry, and the owner too with `chown` (else the caller's).
pub fn write_entry<R: Read>(root: &Root, rel: &Path, entry: &mut tar::Entry<R>, hard_link_to: Option<&Path>, chown: bool) -> io::Result<()> {
    let h = entry.header().clone();
    let kind = h.entry_type();
    // A link's mode means nothing and some archivers leave it empty.
    let perm = fs::Permissions::from_mode(h.mode().unwrap_or(0o644) & 0o7777);
    let existing = lstat_in(root, rel)?;
    match &existing {
        Some(m) if m.is_dir() && !kind.is_dir() => return Err(io::Error::other("cannot overwrite a directory with a non-directory")),
        Some(m) if !m.is_dir() && kind.is_dir() => return Err(io::Error::other("cannot overwrite a non-directory with a directory")),
        Some(m) if !m.is_dir() => root.remove_file(rel).map_err(os)?,
        _ => {}
    }
    let made = match kind {
        tar::EntryType::Directory => {
            if existing.is_none() {
                root.create(rel, &InodeType::Directory(perm.clone())).map_err(os)?;
            }
            Some(root.resolve(rel).map_err(os)?.reopen(OpenFlags::O_RDONLY | OpenFlags::O_DIRECTORY).map_err(os)?)
        }
        tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
            let flags = OpenFlags::O_WRONLY | OpenFlags::O_EXCL | OpenFlags::O_NOFOLLOW | OpenFlags::O_CLOEXEC;
            let mut f = root.create_file(rel, flags, &perm).map_err(os)?;
            io::copy(entry, &mut f)?;
            Some(f)
        }
        tar::EntryType::Symlink => {
            let target = entry.link_name()?.ok_or_else(|| io::Error::other("symlink without a target"))?.into_owned();
            root.create(rel, &InodeType::Symlink(target)).map_err(os)?;
            None
        }
        tar::EntryType::Link => {
            let target = hard_link_to.ok_or_else(|| io::Error::other("hard link without a target"))?;
            root.create(rel, &InodeType::Hardlink(target.to_path_buf())).map_err(os)?;
            return Ok(());
        }
        tar::EntryType::Fifo => {
            root.create(rel, &InodeType::Fifo(perm.clone())).map_err(os)?;
            None
        }
        tar::EntryType::Char | tar::EntryType::Block => return Err(io::Error::other("device nodes are not copied")),
        // Long names and pax headers are read by the tar crate; nothing else is made.
        _ => return Ok(()),
    };
    if chown {
        let (uid, gid) = (h.uid()? as libc::uid_t, h.gid()? as libc::gid_t);
        let handle = root.resolve_nofollow(rel).map_err(os)?;
        // AT_EMPTY_PATH: the inode the handle holds, a symlink itself included.
        let r = unsafe { libc::fchownat(std::os::fd::AsRawFd::as_raw_fd(&handle.as_fd()), c"".as_ptr(), uid, gid, libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW) };
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    if let Some(f) = made {
        // After the chown, which clears set-id bits; exact, whatever the umask.
        f.set_permissions(perm)?;
        if !kind.is_dir() {
            f.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(h.mtime()?))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_then_unpack_renames_the_top_entry() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        fs::create_dir_all(src.join("sub")).unwrap();
        fs::write(src.join("a.txt"), "a").unwrap();
        fs::write(src.join("sub/b.txt"), "b").unwrap();
        fs::write(src.join("skip.me"), "no").unwrap();
        let mut tar = Vec::new();
        let files = pack(&mut tar, &[(src.clone(), "app".into())], &|p| p.ends_with("skip.me"), false).unwrap();
        assert_eq!(files, 2);
        let out = dir.path().join("out");
        unpack_as(&tar[..], &out).unwrap();
        assert_eq!(fs::read_to_string(out.join("sub/b.txt")).unwrap(), "b");
        assert!(!out.join("skip.me").exists());
    }

    #[test]
    fn unpack_refuses_symlink_escapes() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = tar::Builder::new(Vec::new());
        let mut dir_h = tar::Header::new_gnu();
        dir_h.set_entry_type(tar::EntryType::Directory);
        dir_h.set_mode(0o755);
        dir_h.set_size(0);
        dir_h.set_cksum();
        b.append_data(&mut dir_h, "top", io::empty()).unwrap();
        let mut link = tar::Header::new_gnu();
        link.set_entry_type(tar::EntryType::Symlink);
        link.set_size(0);
        b.append_link(&mut link, "top/out", dir.path().join("elsewhere")).unwrap();
        let mut file = tar::Header::new_gnu();
        file.set_size(1);
        file.set_mode(0o644);
        file.set_cksum();
        b.append_data(&mut file, "top/out/x", &b"x"[..]).unwrap();
        fs::create_dir(dir.path().join("elsewhere")).unwrap();
        let err = unpack_as(&b.into_inner().unwrap()[..], &dir.path().join("dest")).unwrap_err();
        assert!(err.to_string().contains("symlink"), "{err}");
        assert!(!dir.path().join("elsewhere/x").exists());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn streams_carry_an_archive_in_bounded_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("big");
        fs::write(&src, vec![7u8; 3 * CHUNK + 5]).unwrap();
        let items = vec![(src.clone(), "big".to_string())];
        let stream = produce(move |w| pack(w, &items, &|_| false, false).map(|_| ()));
        let r = reader(stream);
        let out = dir.path().join("copy");
        let out2 = out.clone();
        tokio::task::spawn_blocking(move || unpack_as(r, &out2)).await.unwrap().unwrap();
        assert_eq!(fs::read(&out).unwrap(), fs::read(&src).unwrap());
    }
}
