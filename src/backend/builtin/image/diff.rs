//! A layer directory back to a layer tar: the reverse of `unpack_layer`. Overlayfs
//! whiteouts (0/0 character devices) become OCI `.wh.<name>` entries and opaque
//! directories (`trusted.overlay.opaque=y`) get a `.wh..wh..opq` entry. Used to push
//! imported or built layers and to turn a build step's upper directory into a layer.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use tar::{EntryType, Header, HeaderMode};

/// Writes `dir` as a tar stream to `out`, entries sorted by name, metadata kept
/// (owner, mode, mtime), hard links as link entries.
pub fn write_layer_tar<W: Write>(dir: &Path, out: W) -> std::io::Result<W> {
    let mut b = tar::Builder::new(out);
    let mut seen: HashMap<(u64, u64), String> = HashMap::new();
    walk(&mut b, dir, "", &mut seen)?;
    b.into_inner()
}

fn walk<W: Write>(b: &mut tar::Builder<W>, dir: &Path, prefix: &str, seen: &mut HashMap<(u64, u64), String>) -> std::io::Result<()> {
    let mut names: Vec<_> = fs::read_dir(dir)?.map(|e| e.map(|e| e.file_name())).collect::<Result<_, _>>()?;
    names.sort();
    for name in names {
        let path = dir.join(&name);
        let rel = format!("{prefix}{}", name.to_string_lossy());
        let meta = fs::symlink_metadata(&path)?;
        let ft = meta.file_type();
        if ft.is_char_device() && meta.rdev() == 0 {
            let wh = match rel.rsplit_once('/') {
                Some((parent, n)) => format!("{parent}/.wh.{n}"),
                None => format!(".wh.{rel}"),
            };
            empty_entry(b, &wh, &meta)?;
            continue;
        }
        let mut h = Header::new_gnu();
        h.set_metadata_in_mode(&meta, HeaderMode::Complete);
        if ft.is_dir() {
            h.set_entry_type(EntryType::Directory);
            h.set_size(0);
            b.append_data(&mut h, format!("{rel}/"), std::io::empty())?;
            if is_opaque(&path) {
                empty_entry(b, &format!("{rel}/.wh..wh..opq"), &meta)?;
            }
            walk(b, &path, &format!("{rel}/"), seen)?;
        } else if ft.is_symlink() {
            h.set_entry_type(EntryType::Symlink);
            h.set_size(0);
            b.append_link(&mut h, &rel, fs::read_link(&path)?)?;
        } else if ft.is_file() {
            if meta.nlink() > 1 {
                if let Some(first) = seen.get(&(meta.dev(), meta.ino())) {
                    h.set_entry_type(EntryType::Link);
                    h.set_size(0);
                    b.append_link(&mut h, &rel, first)?;
                    continue;
                }
                seen.insert((meta.dev(), meta.ino()), rel.clone());
            }
            b.append_data(&mut h, &rel, fs::File::open(&path)?)?;
        } else if ft.is_fifo() || ft.is_char_device() || ft.is_block_device() {
            h.set_entry_type(if ft.is_fifo() {
                EntryType::Fifo
            } else if ft.is_char_device() {
                EntryType::Char
            } else {
                EntryType::Block
            });
            h.set_size(0);
            let rdev = meta.rdev();
            h.set_device_major(libc::major(rdev))?;
            h.set_device_minor(libc::minor(rdev))?;
            b.append_data(&mut h, &rel, std::io::empty())?;
        }
        // Sockets cannot be archived; Docker skips them too.
    }
    Ok(())
}

fn empty_entry<W: Write>(b: &mut tar::Builder<W>, name: &str, meta: &fs::Metadata) -> std::io::Result<()> {
    let mut h = Header::new_gnu();
    h.set_entry_type(EntryType::Regular);
    h.set_size(0);
    h.set_mode(0o600);
    h.set_mtime(meta.mtime().max(0) as u64);
    b.append_data(&mut h, name, std::io::empty())
}

fn is_opaque(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(p) = std::ffi::CString::new(path.as_os_str().as_bytes()) else { return false };
    let mut v = [0u8; 4];
    // SAFETY: NUL-terminated strings and a buffer of the given length.
    let n = unsafe { libc::lgetxattr(p.as_ptr(), c"trusted.overlay.opaque".as_ptr(), v.as_mut_ptr().cast(), v.len()) };
    n == 1 && v[0] == b'y'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_files_links_and_whiteouts() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("src");
        fs::create_dir_all(src.join("etc/sub")).unwrap();
        fs::write(src.join("etc/a"), "A").unwrap();
        fs::hard_link(src.join("etc/a"), src.join("etc/b")).unwrap();
        std::os::unix::fs::symlink("a", src.join("etc/c")).unwrap();
        let wh = src.join("etc/gone");
        let whiteout_ok = nix::sys::stat::mknod(&wh, nix::sys::stat::SFlag::S_IFCHR, nix::sys::stat::Mode::empty(), 0).is_ok();
        let bytes = write_layer_tar(&src, Vec::new()).unwrap();
        let mut names = Vec::new();
        for e in tar::Archive::new(&bytes[..]).entries().unwrap() {
            let e = e.unwrap();
            names.push((e.path().unwrap().to_string_lossy().into_owned(), e.header().entry_type()));
        }
        let has = |n: &str, t: EntryType| names.iter().any(|(p, et)| p == n && *et == t);
        assert!(has("etc/a", EntryType::Regular), "{names:?}");
        assert!(has("etc/b", EntryType::Link), "{names:?}");
        assert!(has("etc/c", EntryType::Symlink), "{names:?}");
        if whiteout_ok {
            assert!(has("etc/.wh.gone", EntryType::Regular), "{names:?}");
        }
    }
}
