//! Host-side tar archives, the form files cross the `Backend` trait in (`cp`, watch's
//! sync): host files packed under the names they get in the container, and a
//! container's archive unpacked on the host without writing outside its destination.

use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

/// An archive of host files and how many non-directories it holds.
pub struct Packed {
    pub tar: Vec<u8>,
    pub files: usize,
}

/// Packs each `(host path, name in the archive)`: a directory with everything below it
/// but what `skip` refuses (given the host path). Symlinks are archived as links.
pub fn pack(items: &[(PathBuf, String)], skip: &dyn Fn(&Path) -> bool) -> io::Result<Packed> {
    let mut b = tar::Builder::new(Vec::new());
    b.follow_symlinks(false);
    let mut files = 0;
    for (path, name) in items {
        add(&mut b, path, Path::new(name), skip, &mut files)?;
    }
    Ok(Packed { tar: b.into_inner()?, files })
}

fn add(b: &mut tar::Builder<Vec<u8>>, path: &Path, name: &Path, skip: &dyn Fn(&Path) -> bool, files: &mut usize) -> io::Result<()> {
    let meta = fs::symlink_metadata(path).map_err(|e| with_path(path, e))?;
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
            add(b, &p, &name.join(&child), skip, files)?;
        }
    }
    Ok(())
}

fn with_path(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// Unpacks an archive whose entries all lie below one top entry (as a container's
/// archive of one path does), that top entry becoming `dest`. Nothing is written
/// outside `dest`, nor through a symlink the archive made.
pub fn unpack_as(archive: &[u8], dest: &Path) -> io::Result<()> {
    let mut ar = tar::Archive::new(archive);
    ar.set_preserve_permissions(true);
    ar.set_preserve_mtime(true);
    ar.set_overwrite(true);
    let mut top: Option<std::ffi::OsString> = None;
    for entry in ar.entries()? {
        let mut entry = entry?;
        let name = entry.path()?.into_owned();
        let mut parts = Vec::new();
        for c in name.components() {
            match c {
                Component::Normal(n) => parts.push(n.to_os_string()),
                Component::CurDir | Component::RootDir => {}
                _ => return Err(refused(&name, "climbs out with ..")),
            }
        }
        let Some((first, rest)) = parts.split_first() else { continue };
        match &top {
            None => top = Some(first.clone()),
            Some(t) if t != first => return Err(refused(&name, "lies outside the archive's top entry")),
            Some(_) => {}
        }
        let mut target = dest.to_path_buf();
        for part in rest {
            // Every directory between `dest` and the entry must be a real one.
            if target != dest && fs::symlink_metadata(&target).is_ok_and(|m| m.file_type().is_symlink()) {
                return Err(refused(&name, "would be written through a symlink"));
            }
            target.push(part);
        }
        if entry.header().entry_type().is_hard_link() {
            let link = entry.link_name()?.unwrap_or_default().into_owned();
            let rel: PathBuf = link.components().skip(1).collect();
            if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
                return Err(refused(&name, "links outside the archive"));
            }
            let _ = fs::remove_file(&target);
            fs::hard_link(dest.join(rel), &target).map_err(|e| with_path(&target, e))?;
            continue;
        }
        entry.unpack(&target).map_err(|e| with_path(&target, e))?;
    }
    if top.is_none() {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "the archive is empty"));
    }
    Ok(())
}

fn refused(name: &Path, why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("archive entry {}: {why}", name.display()))
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
        let packed = pack(&[(src.clone(), "app".into())], &|p| p.ends_with("skip.me")).unwrap();
        assert_eq!(packed.files, 2);
        let out = dir.path().join("out");
        unpack_as(&packed.tar, &out).unwrap();
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
        let err = unpack_as(&b.into_inner().unwrap(), &dir.path().join("dest")).unwrap_err();
        assert!(err.to_string().contains("symlink"), "{err}");
        assert!(!dir.path().join("elsewhere/x").exists());
    }
}
