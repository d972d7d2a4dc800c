//! The built-in image store: content-addressed blobs, layers unpacked once (OCI whiteouts
//! turned into overlayfs whiteouts), image configs and a tag index under `<root>/images`.
//! STUB: the API the rest of the built-in runtime codes against; filled in on branch `images`.

use std::path::{Path, PathBuf};

use crate::backend::{ImageConfig, ImageSummary, ProgressFn};

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("no such image: {0}")]
    NotFound(String),
    #[error("invalid reference {0:?}: {1}")]
    BadReference(String, String),
    #[error("{0}")]
    Other(String),
}

pub type Result<T> = std::result::Result<T, ImageError>;

/// A resolved image, ready to be mounted.
#[derive(Debug, Clone)]
pub struct Image {
    /// `sha256:<hex>` of the image config.
    pub id: String,
    /// Normalized references that point at it (`docker.io/library/busybox:latest`).
    pub references: Vec<String>,
    pub config: ImageConfig,
    /// Unpacked layer directories, lowest layer first (overlayfs wants them reversed).
    pub layers: Vec<PathBuf>,
}

pub struct ImageStore {
    root: PathBuf,
}

impl ImageStore {
    /// Opens (creating when missing) the store under `<state root>/images`.
    pub fn open(state_root: &Path) -> Result<Self> {
        Ok(ImageStore { root: state_root.join("images") })
    }
    pub fn root(&self) -> &Path {
        &self.root
    }
    /// `docker import`: a root filesystem tarball (plain, gzip or zstd) becomes a one-layer
    /// image; `changes` are Dockerfile lines (`CMD ["sh"]`, `ENV A=b`, `EXPOSE 80`, ...).
    pub fn import_rootfs(&self, _tarball: &Path, _reference: &str, _changes: &[String]) -> Result<String> {
        Err(ImageError::Other("image import: not implemented".into()))
    }
    /// `docker load`: a `docker save` or OCI archive; returns the references loaded.
    pub fn load(&self, _archive: &Path) -> Result<Vec<String>> {
        Err(ImageError::Other("image load: not implemented".into()))
    }
    /// Pulls from a registry (OCI distribution), reporting progress per layer.
    pub async fn pull(&self, _reference: &str, _progress: ProgressFn) -> Result<String> {
        Err(ImageError::Other("image pull: not implemented".into()))
    }
    /// The image a reference (or id, or id prefix) names, if present.
    pub fn resolve(&self, _reference: &str) -> Result<Option<Image>> {
        Ok(None)
    }
    pub fn list(&self) -> Result<Vec<ImageSummary>> {
        Ok(vec![])
    }
    pub fn tag(&self, _source: &str, _target: &str) -> Result<()> {
        Err(ImageError::Other("image tag: not implemented".into()))
    }
    /// Removes a reference; the image's data goes when no reference is left (and, unless
    /// `force`, no container uses it — the caller checks that).
    pub fn remove(&self, _reference: &str) -> Result<()> {
        Err(ImageError::Other("image rm: not implemented".into()))
    }
}

/// `redis` → `docker.io/library/redis:latest`; `localhost:5000/a/b:1` stays.
pub fn normalize_reference(reference: &str) -> Result<String> {
    Ok(reference.to_string())
}
