//! `image load`: `docker save` archives (`manifest.json`, configs, layer tars, in the
//! legacy `<id>/layer.tar` form or under `blobs/sha256/`) and OCI image layouts
//! (`oci-layout`, `index.json`, `blobs/sha256/`), plain or compressed. The archive is
//! unpacked to a scratch directory under the store, then each image's layers go through
//! `add_layer_from_reader`; compressed layer blobs are kept for pushes.

use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use oci_client::client::linux_amd64_resolver;
use oci_client::manifest::{ImageIndexEntry, OciImageIndex, OciImageManifest};
use serde::Deserialize;

use super::oci::{self, from_oci, parse_config, sha256_hex, sha256_of};
use super::{BlobInfo, ImageError, ImageStore, Result, familiar_name, io, normalize_reference};

/// Loads every image of the archive; returns what was loaded (familiar references, or
/// the image id of an image without a name).
pub fn load(store: &ImageStore, archive: &Path) -> Result<Vec<String>> {
    let dir = store.temp_path("load");
    let loaded = unpack_archive(archive, &dir).and_then(|()| {
        if dir.join("manifest.json").is_file() {
            load_docker(store, &dir)
        } else if dir.join("index.json").is_file() {
            load_oci(store, &dir)
        } else {
            Err(ImageError::Other(format!("{}: not a docker save or OCI image archive (no manifest.json or index.json)", archive.display())))
        }
    });
    let _ = fs::remove_dir_all(&dir);
    loaded
}

fn unpack_archive(archive: &Path, dir: &Path) -> Result<()> {
    let file = File::open(archive).map_err(io(format!("opening {}", archive.display())))?;
    let mut reader = BufReader::new(file);
    let magic = reader.fill_buf().map_err(io(format!("reading {}", archive.display())))?.get(..4).map(<[u8]>::to_vec).unwrap_or_default();
    let decoded: Box<dyn Read> = match oci::sniff_layer_media_type(&magic) {
        oci::OCI_LAYER_GZIP => Box::new(flate2::read::GzDecoder::new(reader)),
        oci::OCI_LAYER_ZSTD => Box::new(zstd::stream::read::Decoder::with_buffer(reader).map_err(io("zstd"))?),
        _ => Box::new(reader),
    };
    fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
    let tree = crate::backend::builtin::tree::Tree::open(dir).map_err(io(format!("opening {}", dir.display())))?;
    super::unpack::unpack(decoded, &tree, super::unpack::As::Archive).map(drop).map_err(io(format!("unpacking {}", archive.display())))
}

/// `path` (relative, from the archive) inside `dir`, links followed; refuses what leads out.
fn inside(dir: &Path, path: &str) -> Result<PathBuf> {
    let bad = || ImageError::Other(format!("archive entry {path:?} is missing or outside the archive"));
    let root = dir.canonicalize().map_err(|_| bad())?;
    let full = root.join(path).canonicalize().map_err(|_| bad())?;
    if !full.starts_with(&root) || !full.is_file() {
        return Err(bad());
    }
    Ok(full)
}

/// `blobs/sha256/<hex>` of a `sha256:<hex>` digest, checked to be inside the archive.
fn blob_in(dir: &Path, digest: &str) -> Result<PathBuf> {
    inside(dir, &format!("blobs/sha256/{}", sha256_hex(digest)?))
}

/// Reads a small blob (manifest, config) and checks it against its digest.
fn read_verified(path: &Path, digest: &str) -> Result<Vec<u8>> {
    let bytes = fs::read(path).map_err(io(format!("reading {}", path.display())))?;
    let (got, _) = sha256_of(&bytes[..]).map_err(io("hashing"))?;
    if got != digest {
        return Err(ImageError::Other(format!("blob {digest} of the archive has digest {got}")));
    }
    Ok(bytes)
}

/// One entry of `docker save`'s manifest.json.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SavedImage {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

fn load_docker(store: &ImageStore, dir: &Path) -> Result<Vec<String>> {
    let bytes = fs::read(dir.join("manifest.json")).map_err(io("reading manifest.json"))?;
    let images: Vec<SavedImage> = serde_json::from_slice(&bytes).map_err(|e| ImageError::Other(format!("invalid manifest.json: {e}")))?;
    let mut loaded = Vec::new();
    for image in images {
        let config_bytes = fs::read(inside(dir, &image.config)?).map_err(io(format!("reading {}", image.config)))?;
        let layers = image.layers.iter().map(|l| Ok((inside(dir, l)?, None))).collect::<Result<Vec<_>>>()?;
        let refs = image.repo_tags.unwrap_or_default();
        loaded.extend(add_loaded_image(store, &config_bytes, &layers, &refs).map_err(|e| in_file("manifest.json: RepoTags", e))?);
    }
    Ok(loaded)
}

fn load_oci(store: &ImageStore, dir: &Path) -> Result<Vec<String>> {
    let bytes = fs::read(dir.join("index.json")).map_err(io("reading index.json"))?;
    let index: OciImageIndex = serde_json::from_slice(&bytes).map_err(|e| ImageError::Other(format!("invalid index.json: {e}")))?;
    let mut loaded = Vec::new();
    for entry in &index.manifests {
        let manifest = image_manifest(dir, entry)?;
        let config_bytes = read_verified(&blob_in(dir, &manifest.config.digest)?, &manifest.config.digest)?;
        let layers = manifest.layers.iter().map(|l| Ok((blob_in(dir, &l.digest)?, Some(l.digest.clone())))).collect::<Result<Vec<_>>>()?;
        let refs: Vec<String> = entry_name(entry).into_iter().collect();
        loaded.extend(add_loaded_image(store, &config_bytes, &layers, &refs).map_err(|e| in_file("index.json: the image name", e))?);
    }
    Ok(loaded)
}

/// The image manifest an index entry leads to (linux/amd64 out of a nested index).
fn image_manifest(dir: &Path, entry: &ImageIndexEntry) -> Result<OciImageManifest> {
    let bytes = read_verified(&blob_in(dir, &entry.digest)?, &entry.digest)?;
    if entry.media_type == oci::OCI_INDEX || entry.media_type == oci::DOCKER_MANIFEST_LIST {
        let nested: OciImageIndex = serde_json::from_slice(&bytes).map_err(|e| ImageError::Other(format!("invalid index {}: {e}", entry.digest)))?;
        let digest = linux_amd64_resolver(&nested.manifests)
            .or_else(|| nested.manifests.iter().find(|m| m.platform.is_none()).map(|m| m.digest.clone()))
            .ok_or_else(|| ImageError::Other(format!("index {} has no linux/amd64 image", entry.digest)))?;
        let chosen = nested.manifests.iter().find(|m| m.digest == digest).cloned().ok_or_else(|| ImageError::Other(format!("index {} is inconsistent", entry.digest)))?;
        return image_manifest(dir, &chosen);
    }
    serde_json::from_slice(&bytes).map_err(|e| ImageError::Other(format!("invalid manifest {}: {e}", entry.digest)))
}

/// The name an OCI index entry gives its image: containerd's full name, else the OCI
/// `ref.name` when it is a full reference rather than a bare tag.
fn entry_name(entry: &ImageIndexEntry) -> Option<String> {
    let annotations = entry.annotations.as_ref()?;
    if let Some(name) = annotations.get("io.containerd.image.name") {
        return Some(name.clone());
    }
    annotations.get("org.opencontainers.image.ref.name").filter(|n| n.contains(':') || n.contains('/')).cloned()
}

/// A bad reference said with where the archive gives it; other errors as they are.
fn in_file(place: &str, e: ImageError) -> ImageError {
    match e {
        ImageError::BadReference(r, why) => ImageError::Other(format!("{place}: invalid reference {r:?}: {why}")),
        other => other,
    }
}

/// Unpacks the layers (path, blob digest when the archive names it) and records the image
/// under `refs`; returns the familiar references, or the id when there are none.
fn add_loaded_image(store: &ImageStore, config_bytes: &[u8], layers: &[(PathBuf, Option<String>)], refs: &[String]) -> Result<Vec<String>> {
    // Names first: a refused one must not leave layers behind.
    let refs = refs.iter().map(|r| normalize_reference(r)).collect::<Result<Vec<_>>>()?;
    let config = parse_config(config_bytes)?;
    let diff_ids = config.rootfs().diff_ids();
    if diff_ids.len() != layers.len() {
        return Err(ImageError::Other(format!("an image of the archive has {} layers but its config lists {} diff ids", layers.len(), diff_ids.len())));
    }
    let (mut hexes, mut blobs, mut size) = (Vec::new(), Vec::new(), 0u64);
    for ((path, digest), diff_id) in layers.iter().zip(diff_ids) {
        let (hex, blob, layer_size) = load_layer(store, path, digest.as_deref(), diff_id)?;
        hexes.push(hex);
        blobs.push(blob);
        size += layer_size;
    }
    let id = store.add_image(oci::with_healthcheck(from_oci(&config), config_bytes), hexes, blobs, size, &refs)?;
    Ok(if refs.is_empty() { vec![id] } else { refs.iter().map(|r| familiar_name(r)).collect() })
}

/// One layer file: unpacked unless present, checked against its diff id; a compressed
/// one is kept as a blob. Returns (diff id hex, kept blob, uncompressed size).
fn load_layer(store: &ImageStore, path: &Path, digest: Option<&str>, diff_id: &str) -> Result<(String, Option<BlobInfo>, u64)> {
    let hex = sha256_hex(diff_id)?.to_string();
    let mut magic = [0u8; 4];
    let n = File::open(path).and_then(|mut f| f.read(&mut magic)).map_err(io(format!("reading {}", path.display())))?;
    let media_type = oci::sniff_layer_media_type(&magic[..n]);
    let blob = if media_type == oci::OCI_LAYER_TAR { None } else { Some(keep_blob(store, path, digest, media_type)?) };
    if store.has_layer(&hex) {
        return Ok((hex.clone(), blob, store.layer_size(&hex)));
    }
    let source = blob.as_ref().map_or_else(|| path.to_path_buf(), |b| store.blob_path(&b.digest));
    let (got, size) = store.add_layer_from_reader(File::open(&source).map_err(io(format!("opening {}", source.display())))?)?;
    if got != hex {
        return Err(ImageError::BadLayer { layer: digest.unwrap_or(diff_id).to_string(), reason: format!("its content is sha256:{got}, but the image config says {diff_id}") });
    }
    Ok((hex, blob, size))
}

/// Moves a compressed layer file into `blobs/` after checking it against `digest` (when
/// the archive names one).
fn keep_blob(store: &ImageStore, path: &Path, digest: Option<&str>, media_type: &str) -> Result<BlobInfo> {
    // Kept blobs were checked when they came in (and the archive may name one twice).
    if let Some(kept) = digest.map(|d| store.blob_path(d))
        && let Ok(meta) = fs::metadata(&kept)
    {
        return Ok(BlobInfo { digest: digest.unwrap_or_default().to_string(), media_type: media_type.to_string(), size: meta.len() });
    }
    let (got, size) = sha256_of(File::open(path).map_err(io(format!("reading {}", path.display())))?).map_err(io(format!("reading {}", path.display())))?;
    if let Some(want) = digest
        && want != got
    {
        return Err(ImageError::BadLayer { layer: want.to_string(), reason: format!("the archive's blob has digest {got}") });
    }
    let target = store.blob_path(&got);
    if !target.is_file() {
        fs::rename(path, &target).or_else(|_| fs::copy(path, &target).map(|_| ())).map_err(io(format!("keeping blob {got}")))?;
    }
    Ok(BlobInfo { digest: got, media_type: media_type.to_string(), size })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn entry(annotations: &[(&str, &str)]) -> ImageIndexEntry {
        ImageIndexEntry {
            media_type: oci::OCI_MANIFEST.into(),
            digest: String::new(),
            size: 0,
            platform: None,
            annotations: Some(annotations.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>()),
            artifact_type: None,
        }
    }

    #[test]
    fn names_from_index_annotations() {
        assert_eq!(entry_name(&entry(&[("io.containerd.image.name", "docker.io/library/busybox:1"), ("org.opencontainers.image.ref.name", "1")])).as_deref(), Some("docker.io/library/busybox:1"));
        assert_eq!(entry_name(&entry(&[("org.opencontainers.image.ref.name", "demo/app:2")])).as_deref(), Some("demo/app:2"));
        assert_eq!(entry_name(&entry(&[("org.opencontainers.image.ref.name", "latest")])), None);
    }

    #[test]
    fn archive_paths_stay_inside() {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir_all(d.path().join("a")).unwrap();
        fs::write(d.path().join("a/layer.tar"), "x").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", d.path().join("a/evil.tar")).unwrap();
        assert!(inside(d.path(), "a/layer.tar").is_ok());
        assert!(inside(d.path(), "../etc/passwd").is_err());
        assert!(inside(d.path(), "a/evil.tar").is_err());
        assert!(blob_in(d.path(), "sha256:../../a/layer.tar").is_err());
    }
}
