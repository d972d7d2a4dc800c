//! The built-in image store: layers unpacked once by content digest (OCI whiteouts turned
//! into overlayfs whiteouts), image records and a tag index under `<root>/images`.
//! Compressed blobs received from a registry or an archive are kept under `blobs/` so a
//! push sends exactly what was pulled; layers made here are re-packed by `diff`.

mod archive;
pub mod diff;
mod oci;
mod registry;
pub(super) mod unpack;

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::backend::{ImageConfig, ImageSummary, ProgressFn};

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("no such image: {0}")]
    NotFound(String),
    #[error("invalid reference {0:?}: {1}")]
    BadReference(String, String),
    #[error("pull access denied or repository does not exist: {0} (a private repository needs `docker login`)")]
    PullDenied(String),
    #[error("push access denied: {0} (not logged in to its registry, or no right to push there)")]
    PushDenied(String),
    #[error("cannot reach registry {host}: {reason}")]
    Unreachable { host: String, reason: String },
    #[error("layer {layer}: {reason}")]
    BadLayer { layer: String, reason: String },
    #[error("layer sha256:{0} is not in the store")]
    MissingLayer(String),
    #[error("{0}")]
    Other(String),
}

pub type Result<T> = std::result::Result<T, ImageError>;

/// An I/O error with its context and causes (tar's errors keep the real one as a source).
fn io(context: impl std::fmt::Display) -> impl FnOnce(std::io::Error) -> ImageError {
    move |e| {
        let mut message = format!("{context}: {e}");
        let mut cause = std::error::Error::source(&e);
        while let Some(c) = cause {
            message.push_str(&format!(": {c}"));
            cause = c.source();
        }
        ImageError::Other(message)
    }
}

/// A resolved image, ready to be mounted.
#[derive(Debug, Clone)]
pub struct Image {
    /// `sha256:<hex>` of the image record.
    pub id: String,
    /// Normalized references that point at it (`docker.io/library/busybox:latest`).
    pub references: Vec<String>,
    pub config: ImageConfig,
    /// Unpacked layer directories, lowest layer first (overlayfs wants them reversed).
    pub layers: Vec<PathBuf>,
    /// Digests (hex) of the uncompressed layer tars, lowest first (the config's diff_ids).
    pub diff_ids: Vec<String>,
    /// The compressed blob each layer came from, when the store has it.
    pub blobs: Vec<Option<BlobInfo>>,
}

/// A compressed layer blob kept in the store (as pulled or loaded).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlobInfo {
    /// `sha256:<hex>` of the blob as stored.
    pub digest: String,
    pub media_type: String,
    pub size: u64,
}

/// What the store keeps per image.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ImageRecord {
    config: ImageConfig,
    /// Layer digests (hex of the uncompressed tar), lowest first.
    layers: Vec<String>,
    created: chrono::DateTime<chrono::Utc>,
    size: u64,
    /// Aligned with `layers`; empty for images made before blobs were kept.
    #[serde(default)]
    blobs: Vec<Option<BlobInfo>>,
}

#[derive(Clone)]
pub struct ImageStore {
    root: PathBuf,
}

const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

impl ImageStore {
    /// Opens (creating when missing) the store under `<state root>/images`.
    pub fn open(state_root: &Path) -> Result<Self> {
        let root = state_root.join("images");
        for d in ["layers", "images", "tmp", "blobs/sha256"] {
            fs::create_dir_all(root.join(d)).map_err(io(format!("creating {}", root.display())))?;
        }
        let store = ImageStore { root };
        store.reclaim_scratch();
        Ok(store)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn index_path(&self) -> PathBuf {
        self.root.join("repositories.json")
    }

    fn index(&self) -> BTreeMap<String, String> {
        fs::read(self.index_path()).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()
    }

    /// Runs `f` holding the store's lock (concurrent hoist processes). Index changes and
    /// the removal of unused layers happen under it, so a layer cannot go away while an
    /// image that uses it is being recorded. Not reentrant: `f` must not lock again.
    fn locked<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let lock = File::create(self.root.join(".lock")).map_err(io("locking the image store"))?;
        let _guard = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
            .map_err(|(_, e)| ImageError::Other(format!("locking the image store: {e}")))?;
        f()
    }

    fn write_index(&self, index: &BTreeMap<String, String>) -> Result<()> {
        write_atomic(&self.index_path(), &serde_json::to_vec_pretty(index).unwrap_or_default())
    }

    /// Rewrites the tag index under the lock.
    fn update_index(&self, f: impl FnOnce(&mut BTreeMap<String, String>)) -> Result<()> {
        self.locked(|| {
            let mut index = self.index();
            f(&mut index);
            self.write_index(&index)
        })
    }

    fn record(&self, id: &str) -> Option<ImageRecord> {
        let hex = id.trim_start_matches("sha256:");
        fs::read(self.root.join("images").join(format!("{hex}.json"))).ok().and_then(|b| serde_json::from_slice(&b).ok())
    }

    /// `docker import`: a root filesystem tarball (plain, gzip or zstd) becomes a one-layer
    /// image; `changes` are Dockerfile lines (`CMD ["sh"]`, `ENV A=b`, `EXPOSE 80`, ...).
    pub fn import_rootfs(&self, tarball: &Path, reference: &str, changes: &[String]) -> Result<String> {
        let reference = normalize_reference(reference)?;
        let (digest, size) = self.add_layer(tarball)?;
        let mut config = ImageConfig { env: vec![DEFAULT_PATH.to_string()], ..Default::default() };
        for change in changes {
            apply_change(&mut config, change)?;
        }
        self.add_image(config, vec![digest], vec![None], size, &[reference])
    }

    /// A directory in overlayfs form (whiteouts as 0/0 character devices, as a RUN step's
    /// or a container's upper directory) becomes a layer of the store: (diff id hex, size).
    /// Its tar goes through a scratch file, so the layer is hashed and unpacked as a pulled one.
    pub fn add_layer_from_dir(&self, dir: &Path) -> Result<(String, u64)> {
        let tmp = self.temp_path("layer.tar");
        let write = || -> std::io::Result<()> {
            let out = diff::write_layer_tar(dir, std::io::BufWriter::new(fs::File::create_new(&tmp)?))?;
            out.into_inner().map_err(|e| e.into_error())?.sync_all()
        };
        let layer = write()
            .map_err(io(format!("packing {}", dir.display())))
            .and_then(|()| fs::File::open(&tmp).map_err(io(format!("reading {}", tmp.display()))))
            .and_then(|f| self.add_layer_from_reader(f));
        let _ = fs::remove_file(&tmp);
        layer
    }

    /// `docker commit`: `upper` (a stopped or paused container's changes, in overlayfs
    /// form; none for a container never started) becomes a layer on top of `base` (diff
    /// ids, lowest first); `config` is the container's, `changes` Dockerfile lines applied
    /// to it. Returns `sha256:<hex>` of the new image.
    pub fn commit(&self, base: &[String], upper: &Path, mut config: ImageConfig, changes: &[String], references: &[String]) -> Result<String> {
        for change in changes {
            apply_change(&mut config, change)?;
        }
        let empty = self.temp_path("commit-empty");
        let source = if upper.is_dir() {
            upper.to_path_buf()
        } else {
            fs::create_dir_all(&empty).map_err(io("creating an empty layer"))?;
            empty.clone()
        };
        let layer = self.add_layer_from_dir(&source);
        let _ = fs::remove_dir(&empty);
        let (diff_id, size) = layer?;
        let base_size: u64 = base.iter().map(|l| self.layer_size(l)).sum();
        let mut layers = base.to_vec();
        layers.push(diff_id);
        let blobs = vec![None; layers.len()];
        self.add_image(config, layers, blobs, base_size + size, references)
    }

    /// Records an image made of layers already in the store (lowest first, by diff id
    /// hex) and points `references` (normalized) at it. Returns `sha256:<hex>` of the record.
    pub fn add_image(&self, config: ImageConfig, layers: Vec<String>, blobs: Vec<Option<BlobInfo>>, size: u64, references: &[String]) -> Result<String> {
        let refs = references.iter().map(|r| normalize_reference(r)).collect::<Result<Vec<_>>>()?;
        self.locked(|| {
            if let Some(missing) = layers.iter().find(|l| !self.has_layer(l)) {
                return Err(ImageError::MissingLayer(missing.clone()));
            }
            // The ID names the content, not the moment: the same build again gives the
            // same image (as Docker's build cache does), so its containers are kept.
            let content = serde_json::to_vec(&(&config, &layers, &blobs, size)).map_err(|e| ImageError::Other(e.to_string()))?;
            let hex = hex::encode(Sha256::digest(&content));
            let path = self.root.join("images").join(format!("{hex}.json"));
            if !path.exists() {
                let record = ImageRecord { config, layers, created: chrono::Utc::now(), size, blobs };
                let bytes = serde_json::to_vec_pretty(&record).map_err(|e| ImageError::Other(e.to_string()))?;
                write_atomic(&path, &bytes)?;
            }
            let id = format!("sha256:{hex}");
            let mut index = self.index();
            for r in refs {
                index.insert(r, id.clone());
            }
            self.write_index(&index)?;
            Ok(id)
        })
    }

    /// Whether the layer with this diff id (hex, or `sha256:<hex>`) is unpacked here.
    pub fn has_layer(&self, diff_id: &str) -> bool {
        self.layer_path(diff_id).is_dir()
    }

    /// Where the layer with this diff id is (or would be) unpacked.
    pub fn layer_path(&self, diff_id: &str) -> PathBuf {
        self.root.join("layers").join(diff_id.trim_start_matches("sha256:"))
    }

    /// Bytes used by the files of an unpacked layer.
    pub fn layer_size(&self, diff_id: &str) -> u64 {
        let mut total = 0;
        let mut stack = vec![self.layer_path(diff_id)];
        while let Some(dir) = stack.pop() {
            for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
                match entry.metadata() {
                    Ok(m) if m.is_dir() => stack.push(entry.path()),
                    Ok(m) => total += m.len(),
                    Err(_) => {}
                }
            }
        }
        total
    }

    /// Where the blob with this digest (`sha256:<hex>`) is (or would be) kept.
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        self.root.join("blobs/sha256").join(digest.trim_start_matches("sha256:"))
    }

    /// A fresh scratch path under the store (same filesystem: renames into place work),
    /// named after this process (`<name>-<pid>-<start time>-<n>`) so that what a killed
    /// process leaves is recognised and reclaimed (`reclaim_scratch`).
    pub fn temp_path(&self, name: &str) -> PathBuf {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let pid = std::process::id();
        self.root.join("tmp").join(format!("{name}-{pid}-{}-{n}", process_start(pid).unwrap_or(0)))
    }

    /// Removes the scratch files and directories of processes that are gone (killed
    /// pulls, loads and builds), unmounting what is still mounted below them first.
    fn reclaim_scratch(&self) {
        let Ok(entries) = fs::read_dir(self.root.join("tmp")) else { return };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let mut fields = name.rsplitn(4, '-').skip(1);
            let (Some(start), Some(pid)) = (fields.next().and_then(|s| s.parse::<u64>().ok()), fields.next().and_then(|p| p.parse::<u32>().ok())) else {
                continue;
            };
            // The same pid with another start time is another process: the owner is gone.
            if process_start(pid) == Some(start) {
                continue;
            }
            let path = e.path();
            crate::backend::builtin::runtime::unmount_all(&path);
            if crate::backend::builtin::runtime::mounts_under(&path).is_empty() {
                let _ = if path.is_dir() { fs::remove_dir_all(&path) } else { fs::remove_file(&path) };
            }
        }
    }

    /// Unpacks a layer from a tar stream (plain, gzip or zstd, detected) while hashing
    /// it; returns (diff id hex, uncompressed size). A layer already present is kept.
    pub fn add_layer_from_reader(&self, reader: impl Read) -> Result<(String, u64)> {
        let mut reader = BufReader::new(reader);
        let magic = std::io::BufRead::fill_buf(&mut reader).map_err(io("reading the layer"))?.get(..4).map(|m| m.to_vec()).unwrap_or_default();
        let decoded: Box<dyn Read> = match magic.as_slice() {
            [0x1f, 0x8b, ..] => Box::new(flate2::read::GzDecoder::new(reader)),
            [0x28, 0xb5, 0x2f, 0xfd] => Box::new(zstd::stream::read::Decoder::with_buffer(reader).map_err(io("zstd"))?),
            _ => Box::new(reader),
        };
        let mut hashing = HashingReader { inner: decoded, hasher: Sha256::new(), size: 0 };
        let tmp = self.temp_path("layer");
        fs::create_dir_all(&tmp).map_err(io("creating a layer directory"))?;
        let unpacked = unpack_layer(&mut hashing, &tmp).and_then(|()| {
            // The tar ends before the stream does (padding): hash all of it.
            std::io::copy(&mut hashing, &mut std::io::sink()).map(|_| ()).map_err(io("reading the layer"))
        });
        if let Err(e) = unpacked {
            let _ = fs::remove_dir_all(&tmp);
            return Err(e);
        }
        let digest = hex::encode(hashing.hasher.finalize());
        let dir = self.layer_path(&digest);
        if dir.exists() || fs::rename(&tmp, &dir).is_err() && dir.exists() {
            let _ = fs::remove_dir_all(&tmp);
        } else if !dir.exists() {
            let _ = fs::remove_dir_all(&tmp);
            return Err(ImageError::Other(format!("storing layer sha256:{digest}")));
        }
        Ok((digest, hashing.size))
    }

    /// Unpacks a layer tarball once; returns (digest of the uncompressed tar, size).
    fn add_layer(&self, tarball: &Path) -> Result<(String, u64)> {
        let open = || -> Result<Box<dyn Read>> {
            let mut f = File::open(tarball).map_err(io(format!("opening {}", tarball.display())))?;
            let mut magic = [0u8; 4];
            let n = f.read(&mut magic).map_err(io("reading the tarball"))?;
            f.seek(SeekFrom::Start(0)).map_err(io("reading the tarball"))?;
            let r = BufReader::new(f);
            Ok(match &magic[..n.min(4)] {
                [0x1f, 0x8b, ..] => Box::new(flate2::read::GzDecoder::new(r)),
                [0x28, 0xb5, 0x2f, 0xfd] => Box::new(zstd::stream::read::Decoder::new(r).map_err(io("zstd"))?),
                _ => Box::new(r),
            })
        };
        let mut hasher = Sha256::new();
        let mut reader = open()?;
        let mut buf = vec![0u8; 1 << 16];
        let mut size = 0u64;
        loop {
            let n = reader.read(&mut buf).map_err(io("reading the tarball"))?;
            if n == 0 {
                break;
            }
            size += n as u64;
            hasher.update(&buf[..n]);
        }
        let digest = hex::encode(hasher.finalize());
        if self.has_layer(&digest) {
            return Ok((digest, size));
        }
        self.add_layer_from_reader(File::open(tarball).map_err(io(format!("opening {}", tarball.display())))?)
    }

    /// `docker load`: a `docker save` or OCI archive; returns the references loaded.
    pub fn load(&self, archive: &Path) -> Result<Vec<String>> {
        match archive::load(self, archive) {
            // A layer found present was removed meanwhile by a concurrent `rm`: once more.
            Err(ImageError::MissingLayer(_)) => archive::load(self, archive),
            loaded => loaded,
        }
    }

    /// Pulls from the registry the reference names; returns the image id.
    pub async fn pull(&self, reference: &str, progress: ProgressFn) -> Result<String> {
        match registry::pull(self, reference, progress.clone()).await {
            // A layer found present was removed meanwhile by a concurrent `rm`: once more.
            Err(ImageError::MissingLayer(_)) => registry::pull(self, reference, progress).await,
            pulled => pulled,
        }
    }

    /// Pushes an image to the registry its reference names.
    pub async fn push(&self, reference: &str, progress: ProgressFn) -> Result<()> {
        registry::push(self, reference, progress).await
    }

    /// The image a reference (or id, or id prefix of 12+ hex digits) names, if present.
    pub fn resolve(&self, reference: &str) -> Result<Option<Image>> {
        let index = self.index();
        let id = if let Ok(norm) = normalize_reference(reference)
            && let Some(id) = index.get(&norm)
        {
            id.clone()
        } else {
            let hex = reference.trim_start_matches("sha256:");
            if hex.len() < 12 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                return Ok(None);
            }
            match index.values().find(|id| id.trim_start_matches("sha256:").starts_with(hex)) {
                Some(id) => id.clone(),
                None => return Ok(None),
            }
        };
        let Some(record) = self.record(&id) else { return Ok(None) };
        let mut blobs = record.blobs;
        blobs.resize(record.layers.len(), None);
        Ok(Some(Image {
            references: index.iter().filter(|(_, v)| **v == id).map(|(k, _)| k.clone()).collect(),
            id,
            config: record.config,
            layers: record.layers.iter().map(|l| self.layer_path(l)).collect(),
            diff_ids: record.layers,
            blobs,
        }))
    }

    pub fn list(&self) -> Result<Vec<ImageSummary>> {
        let mut by_id: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (r, id) in self.index() {
            by_id.entry(id).or_default().push(familiar_name(&r));
        }
        Ok(by_id
            .into_iter()
            .map(|(id, tags)| {
                let rec = self.record(&id);
                ImageSummary { size: rec.as_ref().map_or(0, |r| r.size), created: rec.map(|r| r.created), id, tags }
            })
            .collect())
    }

    pub fn tag(&self, source: &str, target: &str) -> Result<()> {
        let image = self.resolve(source)?.ok_or_else(|| ImageError::NotFound(source.into()))?;
        let target = normalize_reference(target)?;
        self.update_index(|i| {
            i.insert(target, image.id.clone());
        })
    }

    /// Removes a reference; the image's record and layers go when nothing refers to them.
    pub fn remove(&self, reference: &str) -> Result<()> {
        let image = self.resolve(reference)?.ok_or_else(|| ImageError::NotFound(reference.into()))?;
        let norm = normalize_reference(reference).ok();
        self.locked(|| {
            let mut index = self.index();
            match norm.as_ref().filter(|n| index.contains_key(*n)) {
                Some(n) => {
                    index.remove(n);
                }
                // Removal by id drops every reference.
                None => index.retain(|_, v| *v != image.id),
            }
            self.write_index(&index)?;
            if !index.values().any(|v| *v == image.id) {
                self.drop_unused(&image, &index);
            }
            Ok(())
        })
    }

    /// Deletes an image's record, and its layers and blobs no image of `index` uses.
    fn drop_unused(&self, image: &Image, index: &BTreeMap<String, String>) {
        let hex = image.id.trim_start_matches("sha256:");
        let _ = fs::remove_file(self.root.join("images").join(format!("{hex}.json")));
        let records: Vec<ImageRecord> = index.values().filter_map(|id| self.record(id)).collect();
        let used: Vec<PathBuf> = records.iter().flat_map(|r| &r.layers).map(|l| self.layer_path(l)).collect();
        for layer in image.layers.iter().filter(|l| !used.contains(l)) {
            let _ = fs::remove_dir_all(layer);
        }
        let used_blobs: Vec<&String> = records.iter().flat_map(|r| r.blobs.iter().flatten()).map(|b| &b.digest).collect();
        for blob in image.blobs.iter().flatten().filter(|b| !used_blobs.contains(&&b.digest)) {
            let _ = fs::remove_file(self.blob_path(&blob.digest));
        }
    }
}

/// The lowerdirs of an overlay mount of `layers` (lowest first): topmost first, and a
/// layer that occurs twice (two steps that made the same diff) only at its topmost place.
/// overlayfs refuses a directory twice (ELOOP), and the lower copy changes nothing: every
/// path it has, whiteouts and opaque markers included, the upper copy has too, above it.
pub fn overlay_lowers(layers: &[PathBuf]) -> Vec<PathBuf> {
    let mut lowers: Vec<PathBuf> = Vec::new();
    for layer in layers.iter().rev() {
        if !lowers.contains(layer) {
            lowers.push(layer.clone());
        }
    }
    lowers
}

/// When process `pid` started (clock ticks after boot, /proc/<pid>/stat field 22); None
/// when there is no such process.
fn process_start(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?.1.split_whitespace().nth(19)?.parse().ok()
}

struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    size: u64,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    fs::write(&tmp, bytes).map_err(io(format!("writing {}", tmp.display())))?;
    fs::rename(&tmp, path).map_err(io(format!("writing {}", path.display())))
}

/// Unpacks a layer tar into `dir` (see `unpack`); device nodes this process may not make
/// are skipped with a warning.
fn unpack_layer(reader: impl Read, dir: &Path) -> Result<()> {
    let tree = super::tree::Tree::open(dir).map_err(io(format!("opening {}", dir.display())))?;
    let skipped = unpack::unpack(reader, &tree, unpack::As::Layer).map_err(io("unpacking the layer"))?;
    if !skipped.is_empty() {
        let names: Vec<String> = skipped.iter().map(|p| format!("/{}", p.display())).collect();
        eprintln!("warning: a layer's device nodes were skipped (no right to make them here): {}", names.join(", "));
    }
    Ok(())
}

/// `CMD ["a"]` / `CMD a b` style instruction applied to an image config.
fn apply_change(config: &mut ImageConfig, change: &str) -> Result<()> {
    let (instr, rest) = change.trim().split_once(char::is_whitespace).unwrap_or((change.trim(), ""));
    let rest = rest.trim();
    let argv = |s: &str| -> Vec<String> {
        if s.starts_with('[') {
            serde_json::from_str(s).unwrap_or_else(|_| vec![s.to_string()])
        } else {
            vec!["/bin/sh".into(), "-c".into(), s.into()]
        }
    };
    let bad = |why: &str| ImageError::Other(format!("invalid --change {change:?}: {why}"));
    match instr.to_ascii_uppercase().as_str() {
        "CMD" => config.cmd = Some(argv(rest)),
        "ENTRYPOINT" => config.entrypoint = Some(argv(rest)),
        "ENV" => {
            let pairs: Vec<(String, String)> = if rest.contains('=') {
                shell_words::split(rest).map_err(|_| bad("bad quoting"))?.into_iter().filter_map(|kv| kv.split_once('=').map(|(k, v)| (k.into(), v.into()))).collect()
            } else {
                let (k, v) = rest.split_once(char::is_whitespace).ok_or_else(|| bad("ENV needs a value"))?;
                vec![(k.into(), v.trim().into())]
            };
            for (k, v) in pairs {
                config.env.retain(|e| e.split('=').next() != Some(k.as_str()));
                config.env.push(format!("{k}={v}"));
            }
        }
        "EXPOSE" => {
            for p in rest.split_whitespace() {
                let p = if p.contains('/') { p.to_string() } else { format!("{p}/tcp") };
                if !config.exposed_ports.contains(&p) {
                    config.exposed_ports.push(p);
                }
            }
        }
        "WORKDIR" => config.working_dir = Some(rest.into()),
        "USER" => config.user = Some(rest.into()),
        "VOLUME" => config.volumes.extend(argv_or_words(rest)),
        "LABEL" => {
            for kv in shell_words::split(rest).map_err(|_| bad("bad quoting"))? {
                let (k, v) = kv.split_once('=').ok_or_else(|| bad("LABEL needs key=value"))?;
                config.labels.insert(k.into(), v.into());
            }
        }
        "STOPSIGNAL" => config.stop_signal = Some(rest.into()),
        other => return Err(bad(&format!("{other} is not supported"))),
    }
    Ok(())
}

fn argv_or_words(s: &str) -> Vec<String> {
    if s.starts_with('[') {
        serde_json::from_str(s).unwrap_or_default()
    } else {
        s.split_whitespace().map(String::from).collect()
    }
}

/// `redis` → `docker.io/library/redis:latest`; `localhost:5000/a/b:1` stays. References
/// that Docker's grammar refuses are refused here too, so none can become a path.
pub fn normalize_reference(reference: &str) -> Result<String> {
    let r = reference.trim();
    check_reference(r).map_err(|why| ImageError::BadReference(reference.into(), why))?;
    let (name, digest) = match r.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (r, None),
    };
    let (repo, tag) = split_tag(name);
    let first = repo.split('/').next().unwrap_or(repo);
    let full = if repo.contains('/') && is_domain(first) {
        repo.to_string()
    } else if repo.contains('/') {
        format!("docker.io/{repo}")
    } else {
        format!("docker.io/library/{repo}")
    };
    Ok(match digest {
        Some(d) => format!("{full}@{d}"),
        None => format!("{full}:{}", tag.unwrap_or("latest")),
    })
}

/// `name[:tag]` → (name, tag); a `:` before the last `/` is a registry's port.
fn split_tag(name: &str) -> (&str, Option<&str>) {
    match name.rfind(':') {
        Some(i) if !name[i..].contains('/') => (&name[..i], Some(&name[i + 1..])),
        _ => (name, None),
    }
}

/// Whether the first component of a name is a registry (as Docker decides it).
fn is_domain(first: &str) -> bool {
    first.contains(['.', ':']) || first == "localhost" || first.chars().any(|c| c.is_ascii_uppercase())
}

/// Docker's reference grammar (distribution/reference): `[domain[:port]/]path[:tag][@digest]`,
/// path components `[a-z0-9]+` joined by `.`, `_`, `__` or dashes, a tag `[\w][\w.-]{0,127}`,
/// a digest `algorithm:hex` (32+ hex digits), at most 255 characters of name.
fn check_reference(r: &str) -> std::result::Result<(), String> {
    let alnum_lower = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    let (rest, digest) = match r.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (r, None),
    };
    if let Some(d) = digest {
        let (algorithm, hex) = d.split_once(':').ok_or("a digest is algorithm:hex")?;
        let algorithm_ok = !algorithm.is_empty()
            && algorithm.split(['+', '.', '-', '_']).all(|c| c.chars().next().is_some_and(|f| f.is_ascii_alphabetic()) && c.chars().all(|x| x.is_ascii_alphanumeric()));
        if !algorithm_ok || hex.len() < 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("invalid digest {d:?}"));
        }
    }
    let (name, tag) = split_tag(rest);
    if let Some(t) = tag {
        let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
        if t.is_empty() || t.len() > 128 || !t.starts_with(word) || !t.chars().all(|c| word(c) || c == '.' || c == '-') {
            return Err(format!("invalid tag {t:?} (letters, digits, `_`, `.` and `-`, at most 128)"));
        }
    }
    if name.is_empty() {
        return Err("no image name".into());
    }
    if name.len() > 255 {
        return Err("the name is longer than 255 characters".into());
    }
    let mut components: Vec<&str> = name.split('/').collect();
    if components.len() > 1 && is_domain(components[0]) {
        let domain = components.remove(0);
        let (host, port) = match domain.rfind(':') {
            Some(i) if !domain[i..].contains(']') => (&domain[..i], Some(&domain[i + 1..])),
            _ => (domain, None),
        };
        let label = |l: &str| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-') && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        let host_ok = if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            v6.parse::<std::net::Ipv6Addr>().is_ok()
        } else {
            host.split('.').all(label)
        };
        if !host_ok || port.is_some_and(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit())) {
            return Err(format!("invalid registry {domain:?}"));
        }
    }
    for c in components {
        // [a-z0-9]+ joined by `.`, `_`, `__` or one or more `-`.
        let parts_ok = c.split(['.', '_', '-']).all(|p| p.is_empty() || alnum_lower(p));
        let seps_ok = !c.contains("..") && !c.contains("___") && !c.contains("._") && !c.contains("_.") && !c.contains(".-") && !c.contains("-.") && !c.contains("_-") && !c.contains("-_");
        let ends_ok = c.starts_with(|ch: char| ch.is_ascii_alphanumeric()) && c.ends_with(|ch: char| ch.is_ascii_alphanumeric());
        if !(parts_ok && seps_ok && ends_ok) {
            return Err(if c.chars().any(|ch| ch.is_ascii_uppercase()) {
                "repository name must be lowercase".into()
            } else {
                format!("invalid name component {c:?} (lowercase letters and digits, joined by `.`, `_`, `__` or `-`)")
            });
        }
    }
    Ok(())
}

/// `docker.io/library/busybox:latest` → `busybox:latest`, as users write it.
pub fn familiar_name(reference: &str) -> String {
    reference.strip_prefix("docker.io/library/").or_else(|| reference.strip_prefix("docker.io/")).unwrap_or(reference).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        assert_eq!(normalize_reference("redis").unwrap(), "docker.io/library/redis:latest");
        assert_eq!(normalize_reference("user/app:1").unwrap(), "docker.io/user/app:1");
        assert_eq!(normalize_reference("localhost:5000/a/b").unwrap(), "localhost:5000/a/b:latest");
        assert_eq!(normalize_reference("127.0.0.1:5000/demo/app:1").unwrap(), "127.0.0.1:5000/demo/app:1");
        assert_eq!(normalize_reference("busybox:Latest_1.2-x").unwrap(), "docker.io/library/busybox:Latest_1.2-x");
        assert_eq!(normalize_reference("Registry.Example.com/a/b").unwrap(), "Registry.Example.com/a/b:latest");
        assert_eq!(normalize_reference("[::1]:5000/a__b/c-d--e:1").unwrap(), "[::1]:5000/a__b/c-d--e:1");
        let digest = format!("a@sha256:{}", "0".repeat(64));
        assert_eq!(normalize_reference(&digest).unwrap(), format!("docker.io/library/{digest}"));
        for bad in ["Bad Name", "../../etc:x", "..", "a/../b", "/abs", "a//b", "a:", ":x", "Upper", "a:-x", "a@sha256:zz", "a-", "a/.x", "x:y/z", "a..b", &"a".repeat(256)] {
            assert!(normalize_reference(bad).is_err(), "{bad:?} was accepted");
        }
        assert_eq!(familiar_name("docker.io/library/busybox:latest"), "busybox:latest");
    }

    #[test]
    fn repeated_layers_keep_their_topmost_place() {
        let p = |s: &str| PathBuf::from(s);
        let lowers = overlay_lowers(&[p("a"), p("b"), p("a"), p("c"), p("b")]);
        assert_eq!(lowers, [p("b"), p("c"), p("a")]);
    }

    #[test]
    fn changes() {
        let mut c = ImageConfig::default();
        apply_change(&mut c, r#"CMD ["redis-server", "--save", ""]"#).unwrap();
        apply_change(&mut c, "ENTRYPOINT echo hi").unwrap();
        apply_change(&mut c, "ENV A=1 B=\"two words\"").unwrap();
        apply_change(&mut c, "EXPOSE 6379 53/udp").unwrap();
        apply_change(&mut c, "VOLUME /data").unwrap();
        assert_eq!(c.cmd.as_deref().unwrap(), ["redis-server", "--save", ""]);
        assert_eq!(c.entrypoint.as_deref().unwrap(), ["/bin/sh", "-c", "echo hi"]);
        assert!(c.env.contains(&"B=two words".to_string()));
        assert_eq!(c.exposed_ports, vec!["6379/tcp", "53/udp"]);
        assert_eq!(c.volumes, vec!["/data"]);
        assert!(apply_change(&mut c, "RUN rm -rf /").is_err());
    }
}
