//! Hand-made tars for the tests: entry names written raw (`..`, absolute paths, which the
//! tar crate's setters refuse), links, devices; and `docker save` archives of such layers.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

/// One entry of a hand-made tar.
pub enum E<'a> {
    Dir(&'a str),
    File(&'a str, &'a str),
    Symlink(&'a str, &'a str),
    Link(&'a str, &'a str),
    Char(&'a str, u32, u32),
    Fifo(&'a str),
}

/// A tar of `entries` (uid/gid 0, mode 0755 for directories, 0777 for symlinks, 0644
/// otherwise, all from 2023-11-14).
pub fn tar_of(entries: &[E]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        let (name, kind, link, data, mode): (&str, tar::EntryType, Option<&str>, &[u8], u32) = match e {
            E::Dir(n) => (n, tar::EntryType::Directory, None, b"", 0o755),
            E::File(n, d) => (n, tar::EntryType::Regular, None, d.as_bytes(), 0o644),
            E::Symlink(n, t) => (n, tar::EntryType::Symlink, Some(t), b"", 0o777),
            E::Link(n, t) => (n, tar::EntryType::Link, Some(t), b"", 0o644),
            E::Char(n, major, minor) => {
                h.set_device_major(*major).unwrap();
                h.set_device_minor(*minor).unwrap();
                (n, tar::EntryType::Char, None, b"", 0o666)
            }
            E::Fifo(n) => (n, tar::EntryType::Fifo, None, b"", 0o644),
        };
        let gnu = h.as_gnu_mut().unwrap();
        gnu.name[..name.len()].copy_from_slice(name.as_bytes());
        if let Some(l) = link {
            gnu.linkname[..l.len()].copy_from_slice(l.as_bytes());
        }
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_700_000_000);
        h.set_size(data.len() as u64);
        h.set_cksum();
        b.append(&h, data).unwrap();
    }
    b.into_inner().unwrap()
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// A `docker save` archive of one image in `dir`: `layers` (uncompressed tars, lowest
/// first; the same tar twice is stored once), gzipped when `gzipped`, tagged `repo_tags`.
pub fn save_archive(dir: &Path, layers: &[&[u8]], repo_tags: &[&str], gzipped: bool) -> PathBuf {
    let root = dir.join("archive");
    std::fs::create_dir_all(&root).unwrap();
    let mut files = Vec::new();
    for l in layers {
        let hex = sha256(l).trim_start_matches("sha256:").to_string();
        std::fs::create_dir_all(root.join(&hex)).unwrap();
        std::fs::write(root.join(&hex).join("layer.tar"), if gzipped { gzip(l) } else { l.to_vec() }).unwrap();
        files.push(format!("{hex}/layer.tar"));
    }
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Env": ["PATH=/bin"], "Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": layers.iter().map(|l| sha256(l)).collect::<Vec<_>>()},
    })
    .to_string();
    let config_name = format!("{}.json", sha256(config.as_bytes()).trim_start_matches("sha256:"));
    std::fs::write(root.join(&config_name), &config).unwrap();
    let manifest = serde_json::json!([{"Config": config_name, "RepoTags": repo_tags, "Layers": files}]);
    std::fs::write(root.join("manifest.json"), manifest.to_string()).unwrap();
    let archive = dir.join("image.tar");
    assert!(Command::new("tar").arg("-C").arg(&root).arg("-cf").arg(&archive).arg(".").status().unwrap().success());
    archive
}
