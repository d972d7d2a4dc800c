//! ADD's local tar archives: recognized by content (plain, gzip, zstd) and unpacked with
//! every entry resolved inside the destination directory, as Docker's chrooted extraction
//! does (`../x` and `/x` land inside it; no link, however planted, leads out).
//! (The image store unpacks layers with its own code: layers also carry whiteouts.)

use std::fs::File;
use std::io::{self, Read, Seek};

use tar::EntryType;

use super::tree::{self, Tree};

/// A reader of the tar archive in `file` (plain, gzip or zstd), or None when the file
/// is not one (ADD then copies it as is).
pub fn reader(mut file: File) -> Result<Option<Box<dyn Read>>, String> {
    let mut magic = [0u8; 6];
    let n = file.read(&mut magic).map_err(|e| e.to_string())?;
    let rewind = |mut f: File| f.rewind().map(|()| f).map_err(|e| e.to_string());
    let decoded: Box<dyn Read> = match &magic[..n] {
        [0x1f, 0x8b, ..] => Box::new(flate2::read::GzDecoder::new(rewind(file)?)),
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Box::new(zstd::stream::read::Decoder::new(rewind(file)?).map_err(|e| e.to_string())?),
        [b'B', b'Z', b'h', ..] | [0xfd, b'7', b'z', b'X', b'Z', 0] => {
            return Err("bzip2 and xz archives are not supported by the built-in builder; use a plain or gzip tar".into());
        }
        _ => Box::new(rewind(file)?),
    };
    // A tar has "ustar" at offset 257 of its first header.
    let mut head = [0u8; 512];
    let mut decoded = decoded;
    let is_tar = decoded.read_exact(&mut head).is_ok() && &head[257..262] == b"ustar";
    Ok(is_tar.then(|| Box::new(io::Cursor::new(head).chain(decoded)) as Box<dyn Read>))
}

/// Unpacks `archive` into `dest` (a tree rooted at the destination directory). Owners,
/// modes and times come from the archive. Returns warnings (device nodes are skipped).
pub fn unpack(archive: impl Read, dest: &Tree) -> io::Result<Vec<String>> {
    let mut warnings = Vec::new();
    for entry in tar::Archive::new(archive).entries()? {
        let mut entry = entry?;
        let path = tree::clean(&entry.path()?);
        if path.as_os_str().is_empty() {
            continue;
        }
        let shown = path.display().to_string();
        let h = entry.header();
        let kind = h.entry_type();
        let owner = (h.uid()? as u32, h.gid()? as u32);
        let (mode, mtime) = (h.mode()?, h.mtime()? as i64);
        let at = |e: io::Error| io::Error::new(e.kind(), format!("{shown}: {e}"));
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            dest.mkdir_all(parent).map_err(at)?;
        }
        match kind {
            EntryType::Directory => tree::set_meta(&dest.make_dir(&path).map_err(at)?, owner, mode, Some(mtime)).map_err(at)?,
            EntryType::Regular | EntryType::Continuous => {
                let mut out = dest.create_file(&path).map_err(at)?;
                io::copy(&mut entry, &mut out).map_err(at)?;
                tree::set_meta(&out, owner, mode, Some(mtime)).map_err(at)?;
            }
            EntryType::Symlink => {
                let target = entry.link_name()?.ok_or_else(|| at(io::Error::other("symlink without a target")))?;
                dest.symlink(&path, &target).map_err(at)?;
                dest.lchown(&path, owner).map_err(at)?;
            }
            EntryType::Link => {
                let target = entry.link_name()?.ok_or_else(|| at(io::Error::other("hard link without a target")))?;
                dest.hard_link(&path, &tree::clean(&target)).map_err(at)?;
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => warnings.push(format!("{shown}: device nodes and FIFOs in an ADD archive are skipped")),
            _ => {}
        }
    }
    Ok(warnings)
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
            match kind {
                EntryType::Regular => {
                    h.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name.as_bytes());
                    h.set_cksum();
                    b.append(&h, data.as_bytes()).unwrap();
                }
                _ => {
                    h.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name.as_bytes());
                    h.set_link_name(data).unwrap();
                    h.set_cksum();
                    b.append(&h, io::empty()).unwrap();
                }
            }
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn entries_stay_inside_the_destination() {
        let host = tempfile::tempdir().unwrap();
        let d = tempfile::tempdir().unwrap();
        let t = Tree::open(d.path()).unwrap();
        let ok = tar_of(&[("../../escape", EntryType::Regular, "e"), ("/abs/file", EntryType::Regular, "a"), ("in", EntryType::Regular, "i"), ("h", EntryType::Link, "../../../in")]);
        unpack(&ok[..], &t).unwrap();
        assert_eq!(std::fs::read_to_string(d.path().join("escape")).unwrap(), "e");
        assert_eq!(std::fs::read_to_string(d.path().join("abs/file")).unwrap(), "a");
        assert_eq!(std::fs::read_to_string(d.path().join("h")).unwrap(), "i", "a hard link's target is inside too");
        let host_dir = host.path().to_str().unwrap();
        let bad = tar_of(&[("l", EntryType::Symlink, host_dir), ("l/pwn", EntryType::Regular, "x")]);
        assert!(unpack(&bad[..], &t).is_err(), "a planted link leads nowhere outside");
        assert_eq!(std::fs::read_dir(host.path()).unwrap().count(), 0);
    }
}
