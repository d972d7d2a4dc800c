//! Unpacks layer tars (and the image archives of `image load`) through `tree`: no entry —
//! `..`, an absolute name, a path through a symlink an earlier entry planted, a hard link
//! to a host file — can reach outside the directory. OCI whiteouts become overlayfs ones.

use std::ffi::OsStr;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use tar::EntryType;

use crate::backend::builtin::tree::{self, Kind, Meta, Tree};

/// What a tar is unpacked as.
#[derive(Clone, Copy, PartialEq)]
pub enum As {
    /// An image layer: owners, modes, times and xattrs kept, devices made, whiteouts
    /// (`.wh.x`, `.wh..wh..opq`) turned into overlayfs ones.
    Layer,
    /// An image archive: its files, directories and links, nothing else.
    Archive,
}

/// Unpacks the tar `reader` into the directory `dir`; returns the device nodes that were
/// skipped because this process may not make them.
pub fn unpack(reader: impl Read, dir: &Path, what: As) -> io::Result<Vec<PathBuf>> {
    let tree = Tree::open(dir)?;
    let mut archive = tar::Archive::new(reader);
    let mut skipped = Vec::new();
    // Directory times are set last: the entries made inside change them.
    let mut dir_times = Vec::new();
    for entry in archive.entries()? {
        let mut entry = entry?;
        let raw = entry.path()?.into_owned();
        let bad = |e: io::Error| io::Error::new(e.kind(), format!("entry {}: {e}", raw.display()));
        let rel = tree::clean(&raw).map_err(bad)?;
        let (parent, Some(name)) = tree::split(&rel) else { continue };
        let name = name.to_os_string();
        if what == As::Layer && let Some(hidden) = name.as_bytes().strip_prefix(b".wh.") {
            whiteout(&tree, parent, OsStr::from_bytes(hidden)).map_err(bad)?;
            continue;
        }
        let meta = match what {
            As::Layer => meta(&mut entry).map_err(bad)?,
            As::Archive => Meta { mode: 0o755, ..Default::default() },
        };
        let dir = make_parent(&tree, parent).map_err(bad)?;
        let kind = entry.header().entry_type();
        match kind {
            EntryType::Directory => {
                dir.make(&name, Kind::Dir).map_err(bad)?;
                dir_times.push((rel.clone(), meta.mtime));
            }
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                let mut file = dir.create_file(&name).map_err(bad)?;
                io::copy(&mut entry, &mut file).map_err(bad)?;
            }
            EntryType::Symlink => {
                let target = entry.link_name()?.ok_or_else(|| bad(io::Error::other("a symlink without a target")))?.into_owned();
                dir.symlink(&name, &target).map_err(bad)?;
            }
            EntryType::Link => {
                let target = entry.link_name()?.ok_or_else(|| bad(io::Error::other("a hard link without a target")))?;
                let target = tree::clean(&target).map_err(bad)?;
                if target != rel {
                    tree.hard_link(&target, &dir, &name).map_err(bad)?;
                }
                continue;
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo if what == As::Layer => {
                let h = entry.header();
                let dev = || -> io::Result<u64> { Ok(libc::makedev(h.device_major()?.unwrap_or(0), h.device_minor()?.unwrap_or(0))) };
                let kind = match kind {
                    EntryType::Char => Kind::Char(dev().map_err(bad)?),
                    EntryType::Block => Kind::Block(dev().map_err(bad)?),
                    _ => Kind::Fifo,
                };
                match dir.make(&name, kind) {
                    Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
                        skipped.push(rel);
                        continue;
                    }
                    made => made.map_err(bad)?,
                }
            }
            // pax headers and the like (read by the tar reader), and in an archive
            // whatever is neither a file nor a directory nor a link.
            _ => continue,
        }
        if what == As::Layer {
            dir.set_meta(&name, &meta).map_err(bad)?;
        }
    }
    if what == As::Layer {
        for (rel, mtime) in dir_times.into_iter().rev() {
            let (parent, Some(name)) = tree::split(&rel) else { continue };
            // Best effort: a later entry may have replaced the directory.
            if let Ok(dir) = tree.dir(parent) {
                let _ = dir.set_mtime(name, mtime);
            }
        }
    }
    Ok(skipped)
}

/// The directory an entry goes in, made when missing (symlinks followed inside the tree:
/// one to a path the layer does not have fails here).
fn make_parent(tree: &Tree, parent: &Path) -> io::Result<tree::Dir> {
    tree.make_dir(parent).map_err(|e| io::Error::new(e.kind(), format!("making its directory /{} inside the layer: {e}", parent.display())))
}

/// `.wh.<hidden>` in `parent`: `.wh..wh..opq` marks `parent` opaque, any other hides
/// `hidden` with a 0/0 character device, as overlayfs wants.
fn whiteout(tree: &Tree, parent: &Path, hidden: &OsStr) -> io::Result<()> {
    let dir = make_parent(tree, parent)?;
    if hidden == ".wh..opq" {
        return dir.set_opaque();
    }
    if hidden.is_empty() || hidden == "." || hidden == ".." {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "a whiteout of no file"));
    }
    dir.make(hidden, Kind::Char(0))
}

/// Owner, mode, time and `SCHILY.xattr.*` attributes of a layer entry.
fn meta<R: Read>(entry: &mut tar::Entry<R>) -> io::Result<Meta> {
    let mut xattrs = Vec::new();
    if let Some(exts) = entry.pax_extensions()? {
        for ext in exts {
            let ext = ext?;
            if let Some(key) = ext.key_bytes().strip_prefix(b"SCHILY.xattr.") {
                xattrs.push((OsStr::from_bytes(key).to_os_string(), ext.value_bytes().to_vec()));
            }
        }
    }
    let h = entry.header();
    let id = |v: u64| u32::try_from(v).map_err(|_| io::Error::new(io::ErrorKind::InvalidData, format!("owner id {v} is out of range")));
    Ok(Meta { uid: id(h.uid()?)?, gid: id(h.gid()?)?, mode: h.mode()? & 0o7777, mtime: (h.mtime()? as i64, 0), xattrs })
}
