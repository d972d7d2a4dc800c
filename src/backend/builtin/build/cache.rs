//! The build cache: a step's key (parent state, instruction after substitution, what
//! its sources hold) → the layer it made, as `<image store>/build-cache/<key>.json`.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::super::image::ImageStore;

/// What a cached step produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CacheEntry {
    /// Diff id (hex) of the layer made, None when the step changed no file.
    pub layer: Option<String>,
    pub size: u64,
}

pub struct Cache {
    dir: PathBuf,
}

/// sha256 over the parts, each terminated so `ab`+`c` differs from `a`+`bc`.
pub fn key(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    hex::encode(h.finalize())
}

impl Cache {
    pub fn open(store_root: &Path) -> std::io::Result<Cache> {
        let dir = store_root.join("build-cache");
        fs::create_dir_all(&dir)?;
        Ok(Cache { dir })
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.json"))
    }

    /// The entry for `key`, if its layer is still in the store.
    pub fn get(&self, key: &str, images: &ImageStore) -> Option<CacheEntry> {
        let entry: CacheEntry = serde_json::from_slice(&fs::read(self.path(key)).ok()?).ok()?;
        match &entry.layer {
            Some(l) if !images.has_layer(l) => None,
            _ => Some(entry),
        }
    }

    /// Records an entry (temp file + rename: concurrent builds never read half of one).
    pub fn put(&self, key: &str, entry: &CacheEntry) -> std::io::Result<()> {
        let tmp = self.dir.join(format!(".{key}.{}", std::process::id()));
        fs::write(&tmp, serde_json::to_vec(entry).map_err(std::io::Error::other)?)?;
        fs::rename(&tmp, self.path(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_round_trip() {
        assert_ne!(key(&["ab", "c"]), key(&["a", "bc"]));
        let d = tempfile::tempdir().unwrap();
        let images = ImageStore::open(d.path()).unwrap();
        let cache = Cache::open(images.root()).unwrap();
        let k = key(&["x"]);
        assert_eq!(cache.get(&k, &images), None);
        let empty = CacheEntry { layer: None, size: 0 };
        cache.put(&k, &empty).unwrap();
        assert_eq!(cache.get(&k, &images), Some(empty));
        // A layer removed from the store is a miss.
        cache.put(&k, &CacheEntry { layer: Some("00".repeat(32)), size: 1 }).unwrap();
        assert_eq!(cache.get(&k, &images), None);
    }
}
