//! The built-in runtime's records on disk: one directory per container (`config.json`,
//! the runtime's files), one per volume, and a name index that makes names unique across
//! concurrent hoist processes (created with O_EXCL).

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::backend::builtin::runtime::RuntimeMount;
use crate::backend::{BackendError, ContainerSpec, ImageConfig, NetworkAttachment, Result, VolumeSummary};

/// Our record of one container (`containers/<id>/config.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    pub name: String,
    pub created: chrono::DateTime<chrono::Utc>,
    pub image_id: String,
    pub image_config: ImageConfig,
    pub layers: Vec<PathBuf>,
    pub spec: ContainerSpec,
    /// Every mount, resolved to host paths (volumes_from reads these).
    pub mounts: Vec<RuntimeMount>,
    /// Anonymous volumes this container owns: (target, volume name).
    pub anonymous: Vec<(String, String)>,
    /// The network namespace it runs in (None: the host's).
    pub netns: Option<PathBuf>,
    /// True when the namespace is this container's own (made, wired and removed with it).
    pub own_netns: bool,
    pub networks: Vec<NetworkAttachment>,
    pub hostname: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VolumeRecord {
    pub name: String,
    pub labels: IndexMap<String, String>,
    #[serde(default)]
    pub anonymous: bool,
    pub created: chrono::DateTime<chrono::Utc>,
}

pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> BackendError {
    move |e| BackendError::io(context, e)
}

pub struct Store {
    pub root: PathBuf,
    records: RecordCache,
}

/// Parsed container records by path, kept while the file is the same (inode, size,
/// mtime; records are only ever replaced by rename): /etc/hosts refreshes and listings
/// read every record, many times over an `up` or `down`.
#[derive(Default)]
struct RecordCache(Mutex<HashMap<PathBuf, (FileStamp, Arc<Record>)>>);

/// Inode, size and modification time of a file.
type FileStamp = (u64, u64, SystemTime);

impl Store {
    pub fn new(root: PathBuf) -> Self {
        Store { root, records: RecordCache::default() }
    }

    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.root.join("containers").join(id)
    }

    pub fn volume_dir(&self, name: &str) -> PathBuf {
        self.root.join("volumes").join(name)
    }

    pub fn save(&self, r: &Record) -> Result<()> {
        let dir = self.container_dir(&r.id);
        fs::create_dir_all(&dir).map_err(io(format!("creating {}", dir.display())))?;
        write_atomic(&dir.join("config.json"), &serde_json::to_vec_pretty(r).map_err(|e| BackendError::Engine(e.to_string()))?)
    }

    /// Every container's record (parsed again only when its file changed).
    pub fn records(&self) -> Vec<Arc<Record>> {
        use std::os::unix::fs::MetadataExt;
        let Ok(entries) = fs::read_dir(self.root.join("containers")) else { return vec![] };
        let mut cache = self.records.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        for e in entries.flatten().filter(|e| !e.file_name().to_string_lossy().starts_with('.')) {
            let path = e.path().join("config.json");
            let Ok(meta) = fs::metadata(&path) else { continue };
            let key = (meta.ino(), meta.len(), meta.modified().unwrap_or(std::time::UNIX_EPOCH));
            let record = match cache.get(&path) {
                Some((k, r)) if *k == key => r.clone(),
                _ => {
                    let Some(r) = fs::read(&path).ok().and_then(|b| serde_json::from_slice::<Record>(&b).ok()) else { continue };
                    let r = Arc::new(r);
                    cache.insert(path.clone(), (key, r.clone()));
                    r
                }
            };
            seen.insert(path);
            out.push(record);
        }
        cache.retain(|p, _| seen.contains(p));
        out
    }

    /// A container by id, id prefix or name.
    pub fn find(&self, key: &str) -> Result<Record> {
        if let Ok(id) = fs::read_to_string(self.root.join("names").join(key))
            && let Ok(b) = fs::read(self.container_dir(id.trim()).join("config.json"))
            && let Ok(r) = serde_json::from_slice(&b)
        {
            return Ok(r);
        }
        if let Ok(b) = fs::read(self.container_dir(key).join("config.json"))
            && let Ok(r) = serde_json::from_slice(&b)
        {
            return Ok(r);
        }
        let matches: Vec<Record> = self.records().into_iter().filter(|r| key.len() >= 4 && r.id.starts_with(key)).map(Arc::unwrap_or_clone).collect();
        match matches.len() {
            1 => Ok(matches.into_iter().next().expect("one match")),
            _ => Err(BackendError::ContainerNotFound(key.to_string())),
        }
    }

    /// Claims a name for `id`; fails if another container has it.
    pub fn claim_name(&self, name: &str, id: &str) -> Result<()> {
        let dir = self.root.join("names");
        fs::create_dir_all(&dir).map_err(io("creating the name index"))?;
        match fs::OpenOptions::new().write(true).create_new(true).open(dir.join(name)) {
            Ok(mut f) => f.write_all(id.as_bytes()).map_err(io("writing the name index")),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                // A name left by a container that no longer exists is free again.
                let owner = fs::read_to_string(dir.join(name)).unwrap_or_default();
                if !owner.is_empty() && !self.container_dir(owner.trim()).join("config.json").exists() {
                    let _ = fs::remove_file(dir.join(name));
                    return self.claim_name(name, id);
                }
                Err(BackendError::Engine(format!("Conflict. The container name \"/{name}\" is already in use")))
            }
            Err(e) => Err(io("claiming a container name")(e)),
        }
    }

    pub fn release_name(&self, name: &str, id: &str) {
        let path = self.root.join("names").join(name);
        if fs::read_to_string(&path).is_ok_and(|owner| owner.trim() == id) {
            let _ = fs::remove_file(path);
        }
    }

    pub fn volume(&self, name: &str) -> Option<VolumeRecord> {
        fs::read(self.volume_dir(name).join("volume.json")).ok().and_then(|b| serde_json::from_slice(&b).ok())
    }

    /// Creates the volume if missing; returns its data directory.
    pub fn ensure_volume(&self, name: &str, labels: IndexMap<String, String>, anonymous: bool) -> Result<PathBuf> {
        let dir = self.volume_dir(name);
        let data = dir.join("_data");
        if dir.join("volume.json").exists() {
            return Ok(data);
        }
        fs::create_dir_all(&data).map_err(io(format!("creating volume {name}")))?;
        let rec = VolumeRecord { name: name.to_string(), labels, anonymous, created: chrono::Utc::now() };
        write_atomic(&dir.join("volume.json"), &serde_json::to_vec_pretty(&rec).map_err(|e| BackendError::Engine(e.to_string()))?)?;
        Ok(data)
    }

    pub fn volumes(&self) -> Vec<VolumeSummary> {
        let Ok(entries) = fs::read_dir(self.root.join("volumes")) else { return vec![] };
        entries
            .flatten()
            .filter_map(|e| self.volume(&e.file_name().to_string_lossy()))
            .map(|v| VolumeSummary {
                mountpoint: self.volume_dir(&v.name).join("_data").display().to_string(),
                name: v.name,
                driver: "local".into(),
                labels: v.labels,
            })
            .collect()
    }
}

pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    fs::write(&tmp, bytes).map_err(io(format!("writing {}", tmp.display())))?;
    fs::rename(&tmp, path).map_err(io(format!("writing {}", path.display())))
}

/// Rewrites a file in place (same inode): it is bind-mounted into a running container.
/// Rewrites an existing file in place (bind-mounted files must keep their inode); a file
/// that is gone (its container being removed) is left gone.
pub fn rewrite_in_place(path: &Path, content: &str) -> Result<()> {
    let mut f = fs::OpenOptions::new().write(true).truncate(true).open(path).map_err(io(format!("writing {}", path.display())))?;
    f.write_all(content.as_bytes()).map_err(io(format!("writing {}", path.display())))
}

/// 64 random hex digits (container and anonymous volume ids).
pub fn random_id() -> String {
    let mut bytes = [0u8; 32];
    if let Ok(mut f) = fs::File::open("/dev/urandom") {
        let _ = std::io::Read::read_exact(&mut f, &mut bytes);
    }
    hex::encode(bytes)
}
