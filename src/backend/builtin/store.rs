//! The built-in runtime's records on disk: one directory per container (`config.json`,
//! the runtime's files), one per volume, and a name index that makes names unique across
//! concurrent hoist processes (complete claims linked into place, never overwritten).

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
use crate::compose::validate::{check_name, NameKind};
use crate::compose::model::LocalMount;

/// The state root: `$HOIST_ROOT`, else `/var/lib/hoist`.
pub fn state_root() -> PathBuf {
    std::env::var_os("HOIST_ROOT").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/var/lib/hoist"))
}

/// `name` if it is a valid `kind` name: names become paths here, and a caller that forgot
/// to check must not reach outside the store (`..`, `/etc/x`).
fn valid(kind: NameKind, name: &str) -> Result<&str> {
    check_name(kind, name).map_err(BackendError::Engine)?;
    Ok(name)
}

/// Our record of one container (`containers/<id>/config.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    pub name: String,
    pub created: chrono::DateTime<chrono::Utc>,
    pub image_id: String,
    pub image_config: ImageConfig,
    pub layers: Vec<PathBuf>,
    #[serde(deserialize_with = "spec_or_legacy")]
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

/// Reads a record's spec, also as hoist 0.1 wrote it (the resolved fields plus the whole
/// compose `service`): the service's settings are taken from it, so containers made by
/// an older hoist keep running, restarting and stopping as they were made.
fn spec_or_legacy<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<ContainerSpec, D::Error> {
    use serde::de::Error;
    let mut value = serde_json::Value::deserialize(d)?;
    let legacy = value.as_object_mut().and_then(|m| m.remove("service"));
    let spec: ContainerSpec = serde_json::from_value(value).map_err(D::Error::custom)?;
    let Some(service) = legacy else { return Ok(spec) };
    let service: crate::compose::model::Service = serde_json::from_value(service).map_err(D::Error::custom)?;
    Ok(ContainerSpec {
        name: spec.name,
        project: spec.project,
        service_name: spec.service_name,
        number: spec.number,
        oneoff: spec.oneoff,
        image: spec.image,
        env: spec.env,
        labels: spec.labels,
        hostname: spec.hostname,
        mounts: spec.mounts,
        volumes_from: spec.volumes_from,
        ports: spec.ports,
        expose: spec.expose,
        network: spec.network,
        links: spec.links,
        pid: spec.pid,
        ipc: spec.ipc,
        stop_grace_period: spec.stop_grace_period,
        config_hash: spec.config_hash,
        ..crate::plan::spec::service_settings(&service)
    })
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VolumeRecord {
    pub name: String,
    pub labels: IndexMap<String, String>,
    #[serde(default)]
    pub anonymous: bool,
    pub created: chrono::DateTime<chrono::Utc>,
    /// What a container mounts instead of `_data` (a bind device, a tmpfs): `driver_opts`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_mount: Option<LocalMount>,
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

    pub fn volume_dir(&self, name: &str) -> Result<PathBuf> {
        Ok(self.root.join("volumes").join(valid(NameKind::Volume, name)?))
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
        if check_name(NameKind::Container, key).is_err() {
            return Err(BackendError::ContainerNotFound(key.to_string()));
        }
        if let Ok(id) = fs::read_to_string(self.root.join("names").join(key))
            && check_name(NameKind::Container, id.trim()).is_ok()
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

    /// Claims a name for `id`; fails if another container has it. The claim is written
    /// whole to a file of its own and linked into place (a full disk leaves no empty
    /// claim), and a claim whose owner has no record (its creator failed or was killed
    /// before the record was written) is taken over. The returned file holds a lock on
    /// the claim while the caller creates the container: a claim being created is not
    /// stale.
    pub fn claim_name(&self, name: &str, id: &str) -> Result<fs::File> {
        let dir = self.root.join("names");
        let path = dir.join(valid(NameKind::Container, name)?);
        fs::create_dir_all(&dir).map_err(io("creating the name index"))?;
        let tmp = dir.join(format!(".claim-{id}"));
        let written = (|| {
            let mut f = fs::OpenOptions::new().read(true).write(true).create_new(true).open(&tmp)?;
            f.write_all(id.as_bytes())?;
            lock(&f, false)?;
            Ok(f)
        })();
        let file = written.map_err(|e| {
            let _ = fs::remove_file(&tmp);
            io("claiming a container name")(e)
        })?;
        let linked = loop {
            match fs::hard_link(&tmp, &path) {
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && self.remove_stale_claim(&path) => continue,
                other => break other,
            }
        };
        let _ = fs::remove_file(&tmp);
        match linked {
            Ok(()) => Ok(file),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Err(BackendError::Engine(format!("Conflict. The container name \"/{name}\" is already in use")))
            }
            Err(e) => Err(io("claiming a container name")(e)),
        }
    }

    /// Removes the claim at `path` if it is stale: not locked by its creator, and naming
    /// no container that has a record. Says whether it did (or the claim is gone).
    fn remove_stale_claim(&self, path: &Path) -> bool {
        use std::os::unix::fs::MetadataExt;
        let Ok(mut f) = fs::OpenOptions::new().read(true).write(true).open(path) else { return true };
        if lock(&f, false).is_err() {
            return false;
        }
        let mut owner = String::new();
        let _ = std::io::Read::read_to_string(&mut f, &mut owner);
        let owner = owner.trim();
        let live = check_name(NameKind::Container, owner).is_ok() && self.container_dir(owner).join("config.json").exists();
        // Still the claim we locked (another process may have replaced it meanwhile).
        let same = matches!((f.metadata(), fs::metadata(path)), (Ok(a), Ok(b)) if a.ino() == b.ino() && a.dev() == b.dev());
        !live && same && fs::remove_file(path).is_ok()
    }

    pub fn release_name(&self, name: &str, id: &str) {
        if check_name(NameKind::Container, name).is_err() {
            return;
        }
        let path = self.root.join("names").join(name);
        if fs::read_to_string(&path).is_ok_and(|owner| owner.trim() == id) {
            let _ = fs::remove_file(path);
        }
    }

    pub fn volume(&self, name: &str) -> Option<VolumeRecord> {
        fs::read(self.volume_dir(name).ok()?.join("volume.json")).ok().and_then(|b| serde_json::from_slice(&b).ok())
    }

    /// Creates the volume if missing (an existing one keeps its options); returns its data
    /// directory. A volume with a `local_mount` never mounts anything there: removing the
    /// volume removes only this empty directory, never the device's data.
    pub fn ensure_volume(&self, name: &str, labels: IndexMap<String, String>, anonymous: bool, local_mount: Option<LocalMount>) -> Result<PathBuf> {
        let dir = self.volume_dir(name)?;
        let data = dir.join("_data");
        if dir.join("volume.json").exists() {
            return Ok(data);
        }
        fs::create_dir_all(&data).map_err(io(format!("creating volume {name}")))?;
        let rec = VolumeRecord { name: name.to_string(), labels, anonymous, created: chrono::Utc::now(), local_mount };
        let written = write_atomic(&dir.join("volume.json"), &serde_json::to_vec_pretty(&rec).map_err(|e| BackendError::Engine(e.to_string()))?);
        if written.is_err() {
            // A directory without a record is no volume (nothing lists or removes it);
            // only empty directories go, so no data is ever lost here.
            let _ = fs::remove_dir(&data).and_then(|()| fs::remove_dir(&dir));
        }
        written.map(|()| data)
    }

    pub fn volumes(&self) -> Vec<VolumeSummary> {
        let Ok(entries) = fs::read_dir(self.root.join("volumes")) else { return vec![] };
        entries
            .flatten()
            .filter_map(|e| self.volume(&e.file_name().to_string_lossy()))
            .map(|v| VolumeSummary {
                mountpoint: self.root.join("volumes").join(&v.name).join("_data").display().to_string(),
                name: v.name,
                driver: "local".into(),
                labels: v.labels,
            })
            .collect()
    }
}

/// An open-file-description write lock on `f` (see `runtime::state::ofd_lock`).
fn lock(f: &fs::File, wait: bool) -> std::io::Result<()> {
    crate::backend::builtin::runtime::state::ofd_lock(f, libc::F_WRLCK, wait)
}

/// Replaces `path` whole; a failure (a full disk) leaves the old file and no temporary one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let written = fs::write(&tmp, bytes).and_then(|()| fs::rename(&tmp, path));
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written.map_err(io(format!("writing {}", path.display())))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A record as hoist 0.1 wrote it (the spec carried the compose service): its
    /// settings come back from the service, its resolved fields as they were.
    #[test]
    fn a_record_of_an_older_hoist_keeps_its_settings() {
        let old = serde_json::json!({
            "id": "b101", "name": "p-web-1", "created": "2026-12-06T02:05:18Z", "image_id": "sha256:5c85",
            "image_config": {"env": [], "cmd": ["httpd"], "entrypoint": null, "working_dir": null, "user": null,
                             "exposed_ports": [], "volumes": [], "labels": {}, "stop_signal": null},
            "layers": [], "mounts": [], "anonymous": [], "netns": null, "own_netns": true, "networks": [], "hostname": "p-web-1",
            "spec": {
                "name": "p-web-1", "project": "p", "service_name": "web", "number": 1, "oneoff": false, "image": "web:1",
                "service": {"init": true, "restart": "always", "command": ["sleep", "1"], "cap_add": ["NET_ADMIN"],
                            "expose": ["80"], "stop_signal": "SIGINT", "mem_limit": 1048576},
                "env": [["A", "1"]], "labels": {"com.docker.compose.service": "web"}, "hostname": null, "mounts": [],
                "volumes_from": [], "ports": [], "expose": ["80/tcp"],
                "network": {"Networks": [{"network": "p_default", "aliases": ["web"], "ipv4_address": null}]},
                "links": [], "pid": null, "ipc": null, "stop_grace_period": null, "config_hash": "abc"
            }
        });
        let r: Record = serde_json::from_value(old).unwrap();
        let s = &r.spec;
        assert_eq!((s.name.as_str(), s.image.as_str(), s.config_hash.as_str()), ("p-web-1", "web:1", "abc"));
        assert_eq!(s.init, Some(true));
        assert_eq!(s.restart.map(|p| p.to_string()), Some("always".into()));
        assert_eq!(s.command, Some(vec!["sleep".into(), "1".into()]));
        assert_eq!((s.cap_add.clone(), s.stop_signal.clone(), s.resources.memory), (vec!["NET_ADMIN".into()], Some("SIGINT".into()), Some(1048576)));
        assert_eq!(s.env, vec![("A".into(), "1".into())]);
        assert!(matches!(&s.network, crate::backend::NetworkMode::Networks(n) if n[0].network == "p_default"));
    }
}
