//! The one unpacker of untrusted tars: image layers, image archives (`image load`) and
//! ADD's local archives, every entry made through `tree`. One policy, Docker's (checked
//! against dockerd for layers and for ADD), never reaching outside the directory:
//! - Names: a leading `/` is dropped and `..` stops at the top, so `../../x` and `/x` are
//!   both `x` inside the directory (`tree::clean`).
//! - An entry replaces what is at its name (an existing directory stays for a directory),
//!   never writing through a symlink there; missing parent directories are made (0755),
//!   symlinks among them followed inside the tree (one to a path the tree lacks fails).
//! - Symlinks are made as written: whatever follows one later does so inside the tree.
//! - Hard links: the target is a name of the tree, cleaned the same way, its directories
//!   followed inside the tree, the target itself not followed; one to a directory fails.
//! - Devices and FIFOs: made in a layer when this process may (reported as skipped when
//!   not); skipped and reported in an ADD archive; ignored in an image archive.
//! - Whiteouts (`.wh.x`, `.wh..wh..opq`) become overlayfs ones in a layer only; elsewhere
//!   they are plain names, as in Docker's ADD.

use std::ffi::OsStr;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use tar::EntryType;

use crate::backend::builtin::tree::{self, Dir, Kind, Meta, Tree};

/// What a tar is unpacked as.
#[derive(Clone, Copy, PartialEq)]
pub enum As {
    /// An image layer: owners, modes, times and xattrs kept, devices made, whiteouts
    /// turned into overlayfs ones.
    Layer,
    /// A local archive of an ADD: owners, modes and times kept.
    Add,
    /// An image archive: its files, directories and links, nothing else.
    Archive,
}

/// Unpacks the tar `reader` into `tree`; returns the device nodes and FIFOs skipped
/// (in a layer: those this process may not make).
pub fn unpack(reader: impl Read, tree: &Tree, what: As) -> io::Result<Vec<PathBuf>> {
    let mut archive = tar::Archive::new(reader);
    let mut parents = Parents::new(tree)?;
    let mut skipped = Vec::new();
    // Directory times are set last: the entries made inside change them.
    let mut dir_times = Vec::new();
    for entry in archive.entries()? {
        let mut entry = entry?;
        let raw = entry.path()?.into_owned();
        let bad = |e: io::Error| io::Error::new(e.kind(), format!("entry {}: {e}", raw.display()));
        let rel = tree::clean(&raw);
        let (parent, Some(name)) = tree::split(&rel) else { continue };
        let name = name.to_os_string();
        if what == As::Layer && let Some(hidden) = name.as_bytes().strip_prefix(b".wh.") {
            let dir = parents.get(tree, parent).map_err(bad)?;
            whiteout(dir, OsStr::from_bytes(hidden)).map_err(bad)?;
            parents.replaced(&parent.join(OsStr::from_bytes(hidden)));
            continue;
        }
        let meta = match what {
            As::Layer => meta(&mut entry, true).map_err(bad)?,
            As::Add => meta(&mut entry, false).map_err(bad)?,
            As::Archive => Meta::default(),
        };
        let kind = entry.header().entry_type();
        if kind != EntryType::Directory {
            parents.replaced(&rel);
        }
        let dir = parents.get(tree, parent).map_err(bad)?;
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
                let target = tree::clean(&target);
                if target != rel {
                    tree.hard_link(&target, dir, &name).map_err(bad)?;
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
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                skipped.push(rel);
                continue;
            }
            // pax headers and the like (read by the tar reader), and in an archive
            // whatever is neither a file nor a directory nor a link.
            _ => continue,
        }
        if what != As::Archive {
            dir.set_meta(&name, &meta).map_err(bad)?;
        }
    }
    if what != As::Archive {
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

/// The open directories along the path of the last entry's parent, from the top down,
/// so the next entries in the same directories are made without resolving their path
/// from the top again (resolving each entry from the top made unpacking 2.5x slower). The
/// descriptors are of directories inside the tree, reached one name at a time without
/// following any, so they cannot lead outside; the chain is cut wherever an entry
/// replaces a directory in it, so it never holds one that was replaced.
struct Parents {
    chain: Vec<(PathBuf, Dir)>,
    /// A parent reached through a symlink (resolved in-root from the top): used for its
    /// entry only, since what replaces the link's target would not cut it.
    linked: Option<Dir>,
}

/// Directories held open at most (deeper parents are resolved from the top).
const MAX_CHAIN: usize = 64;

impl Parents {
    fn new(tree: &Tree) -> io::Result<Parents> {
        Ok(Parents { chain: vec![(PathBuf::new(), tree.dir(Path::new(""))?)], linked: None })
    }

    /// The directory `rel`, made (0755, root's) with its missing parents.
    fn get(&mut self, tree: &Tree, rel: &Path) -> io::Result<&Dir> {
        while self.chain.len() > 1 && !rel.starts_with(&self.chain[self.chain.len() - 1].0) {
            self.chain.pop();
        }
        let held = self.chain.len() - 1;
        let rest: Vec<&OsStr> = rel.strip_prefix(&self.chain[held].0).map_err(io::Error::other)?.iter().collect();
        for name in rest {
            let (path, dir) = &self.chain[self.chain.len() - 1];
            let next = match dir.stat(name)? {
                Some(st) if st.st_mode & libc::S_IFMT == libc::S_IFDIR => Some(dir.open_dir(name)?),
                None => {
                    nix::sys::stat::mkdirat(dir, name, nix::sys::stat::Mode::from_bits_truncate(0o755))?;
                    Some(dir.open_dir(name)?)
                }
                // A symlink (or anything else): resolved in-root from the top.
                Some(_) => None,
            };
            match next {
                Some(next) if self.chain.len() < MAX_CHAIN => {
                    let path = path.join(name);
                    self.chain.push((path, next));
                }
                _ => {
                    let made = tree.mkdir_all(rel).map_err(|e| io::Error::new(e.kind(), format!("making its directory /{} inside the tree: {e}", rel.display())))?;
                    return Ok(self.linked.insert(made));
                }
            }
        }
        Ok(&self.chain[self.chain.len() - 1].1)
    }

    /// An entry is about to replace (or remove) what is at `rel`.
    fn replaced(&mut self, rel: &Path) {
        self.chain.retain(|(p, _)| p.as_os_str().is_empty() || !p.starts_with(rel));
    }
}

/// `.wh.<hidden>` in `dir`: `.wh..wh..opq` marks `dir` opaque, any other hides `hidden`
/// with a 0/0 character device, as overlayfs wants.
fn whiteout(dir: &Dir, hidden: &OsStr) -> io::Result<()> {
    if hidden == ".wh..opq" {
        return dir.set_opaque();
    }
    if hidden.is_empty() || hidden == "." || hidden == ".." {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "a whiteout of no file"));
    }
    dir.make(hidden, Kind::Char(0))
}

/// Owner, mode, time and (with `xattrs`) the `SCHILY.xattr.*` attributes of an entry.
fn meta<R: Read>(entry: &mut tar::Entry<R>, with_xattrs: bool) -> io::Result<Meta> {
    let mut xattrs = Vec::new();
    if with_xattrs && let Some(exts) = entry.pax_extensions()? {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(entries: &[(&str, EntryType, &str)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, kind, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(*kind);
            h.set_mode(0o644);
            (h.set_uid(0), h.set_gid(0), h.set_mtime(0));
            h.set_size(if *kind == EntryType::Regular { data.len() as u64 } else { 0 });
            // Set directly: the tar crate's setters refuse `..` and absolute names.
            h.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name.as_bytes());
            if matches!(kind, EntryType::Symlink | EntryType::Link) {
                h.set_link_name(data).unwrap();
            }
            h.set_cksum();
            b.append(&h, if *kind == EntryType::Regular { data.as_bytes() } else { &[][..] }).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn read(dir: &Path, rel: &str) -> String {
        std::fs::read_to_string(dir.join(rel)).unwrap()
    }

    #[test]
    fn entries_stay_inside_the_directory() {
        use EntryType::{Directory, Link, Regular, Symlink};
        let host = tempfile::tempdir().unwrap();
        let host_dir = host.path().to_str().unwrap();
        for what in [As::Layer, As::Add] {
            let d = tempfile::tempdir().unwrap();
            let t = Tree::open(d.path()).unwrap();
            let ok = tar_of(&[("../../escape", Regular, "e"), ("/abs/file", Regular, "a"), ("in", Regular, "i"), ("h", Link, "../../../in"), ("a/../../inner", Regular, "n")]);
            unpack(&ok[..], &t, what).unwrap();
            assert_eq!(read(d.path(), "escape") + &read(d.path(), "abs/file") + &read(d.path(), "inner"), "ean", "`..` stops at the top, as in Docker");
            assert_eq!(read(d.path(), "h"), "i", "a hard link's target is inside too");
            for bad in [
                tar_of(&[("l", Symlink, host_dir), ("l/pwn", Regular, "x")]),
                tar_of(&[("l", Symlink, &format!("../../../../../..{host_dir}")), ("l/pwn", Regular, "x")]),
                tar_of(&[("h2", Link, &format!("{host_dir}/secret"))]),
            ] {
                assert!(unpack(&bad[..], &t, what).is_err(), "a planted link leads nowhere outside");
            }
            // A directory replaced by a link after entries went into it: later entries
            // follow the link inside the tree, not the directory held open before.
            let swap = tar_of(&[("x/", Directory, ""), ("x/1", Regular, "1"), ("y/", Directory, ""), ("x", Symlink, "y"), ("x/2", Regular, "2")]);
            unpack(&swap[..], &t, what).unwrap();
            assert_eq!(read(d.path(), "y/2"), "2");
            assert_eq!(std::fs::read_dir(host.path()).unwrap().count(), 0);
        }
    }

    #[test]
    fn whiteouts_only_in_layers() {
        let d = tempfile::tempdir().unwrap();
        let t = Tree::open(d.path()).unwrap();
        let tar = tar_of(&[("a/.wh.gone", EntryType::Regular, "")]);
        unpack(&tar[..], &t, As::Add).unwrap();
        assert!(d.path().join("a/.wh.gone").is_file(), "a plain name in an ADD archive");
        unpack(&tar[..], &t, As::Layer).unwrap();
        use std::os::unix::fs::FileTypeExt;
        assert!(std::fs::symlink_metadata(d.path().join("a/gone")).unwrap().file_type().is_char_device());
    }
}
