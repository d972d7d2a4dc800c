//! Registry pulls and pushes for the built-in image store, over the OCI distribution API
//! (`oci-client`: token auth, manifest lists, blob transfer).
//!
//! Pull: manifest (linux/amd64 out of a list or index), config, then each layer not yet
//! in the store is downloaded to a scratch file while hashed, checked against its digest,
//! kept under `blobs/` and unpacked; its uncompressed digest must be the config's diff id.
//! Push: kept blobs go as they are, other layers are re-packed (`diff::write_layer_tar`)
//! and gzipped into a scratch file; then an OCI config and manifest.
//!
//! Plain HTTP is used for loopback registries and those in `HOIST_INSECURE_REGISTRIES`
//! (comma-separated `host[:port]`); credentials come from `~/.docker/config.json`.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use futures::StreamExt;
use oci_client::client::{ClientConfig, ClientProtocol, linux_amd64_resolver};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::manifest::{OciDescriptor, OciImageManifest, OciManifest};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::oci::{self, from_oci, parse_config, sha256_hex};
use super::{BlobInfo, Image, ImageError, ImageStore, Result, diff, normalize_reference};
use crate::backend::{ProgressEvent, ProgressFn};

/// Registries spoken to over plain HTTP besides loopback ones.
const INSECURE_ENV: &str = "HOIST_INSECURE_REGISTRIES";

/// One repository on one registry: the client, its credentials and names for messages.
struct Remote {
    client: Client,
    reference: Reference,
    auth: RegistryAuth,
    /// The normalized reference (`docker.io/library/busybox:latest`).
    normalized: String,
    /// The reference as the user wrote it.
    name: String,
}

#[derive(Clone, Copy)]
enum Op {
    Pull,
    Push,
}

impl Remote {
    async fn new(reference: &str) -> Result<Remote> {
        let normalized = normalize_reference(reference)?;
        let parsed: Reference = normalized.parse().map_err(|e| ImageError::BadReference(reference.into(), format!("{e}")))?;
        let host = parsed.resolve_registry().to_string();
        let protocol = if is_insecure(parsed.registry(), &insecure_registries()) {
            ClientProtocol::HttpsExcept(vec![host.clone()])
        } else {
            ClientProtocol::Https
        };
        let config = ClientConfig {
            protocol,
            platform_resolver: Some(Box::new(linux_amd64_resolver)),
            // Layers are streamed from files: one PUT with a known length.
            use_monolithic_push: true,
            connect_timeout: Some(Duration::from_secs(15)),
            ..Default::default()
        };
        let client = Client::try_from(config).map_err(|e| ImageError::Other(format!("registry client for {host}: {e}")))?;
        let auth = credentials(&read_docker_config(), parsed.registry());
        client.store_auth_if_needed(&host, &auth).await;
        Ok(Remote { client, reference: parsed, auth, normalized, name: reference.to_string() })
    }

    fn host(&self) -> &str {
        self.reference.registry()
    }

    /// A registry error as the user should read it.
    fn error(&self, op: Op, e: OciDistributionError) -> ImageError {
        if let OciDistributionError::RequestError(re) = &e
            && (re.is_connect() || re.is_timeout())
        {
            return ImageError::Unreachable { host: self.host().to_string(), reason: error_chain(re) };
        }
        match (op, access_problem(&e)) {
            (Op::Pull, Access::Denied | Access::Missing) => ImageError::PullDenied(self.name.clone()),
            (Op::Push, Access::Denied) => ImageError::PushDenied(self.name.clone()),
            _ => ImageError::Other(format!("{}: {}", self.host(), error_chain(&e))),
        }
    }
}

enum Access {
    Denied,
    Missing,
    Other,
}

fn access_problem(e: &OciDistributionError) -> Access {
    use OciErrorCode::*;
    match e {
        OciDistributionError::RegistryError { envelope, .. } => {
            if envelope.errors.iter().any(|x| matches!(x.code, Unauthorized | Denied)) {
                Access::Denied
            } else if envelope.errors.iter().any(|x| matches!(x.code, ManifestUnknown | NameUnknown | NotFound | NameInvalid)) {
                Access::Missing
            } else {
                Access::Other
            }
        }
        OciDistributionError::UnauthorizedError { .. } | OciDistributionError::AuthenticationFailure(_) => Access::Denied,
        OciDistributionError::ServerError { code: 401 | 403, .. } => Access::Denied,
        OciDistributionError::ServerError { code: 404, .. } | OciDistributionError::ImageManifestNotFoundError(_) => Access::Missing,
        _ => Access::Other,
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let part = c.to_string();
        if !s.contains(&part) {
            s.push_str(": ");
            s.push_str(&part);
        }
        cur = c.source();
    }
    s
}

fn say(progress: &ProgressFn, id: &str, status: &str, current: Option<u64>, total: Option<u64>) {
    progress(ProgressEvent { id: id.to_string(), status: status.to_string(), current, total });
}

/// `sha256:<hex>` → the 12 hex digits Docker shows for a layer.
fn short(digest: &str) -> &str {
    let hex = digest.trim_start_matches("sha256:");
    &hex[..hex.len().min(12)]
}

/// Pulls `reference` into the store; returns the image id.
pub async fn pull(store: &ImageStore, reference: &str, progress: ProgressFn) -> Result<String> {
    let remote = Remote::new(reference).await?;
    say(&progress, reference, "Pulling", None, None);
    let (manifest, _) = remote.client.pull_image_manifest(&remote.reference, &remote.auth).await.map_err(|e| remote.error(Op::Pull, e))?;
    let config_bytes = fetch_config(&remote, &manifest.config).await?;
    let config = parse_config(&config_bytes)?;
    let diff_ids = config.rootfs().diff_ids();
    if diff_ids.len() != manifest.layers.len() {
        return Err(ImageError::Other(format!(
            "{reference}: the manifest has {} layers but the config lists {} diff ids",
            manifest.layers.len(),
            diff_ids.len()
        )));
    }
    let (mut layers, mut blobs, mut size) = (Vec::new(), Vec::new(), 0u64);
    for (desc, diff_id) in manifest.layers.iter().zip(diff_ids) {
        let (layer, blob, layer_size) = pull_layer(store, &remote, desc, diff_id, &progress).await?;
        layers.push(layer);
        blobs.push(blob);
        size += layer_size;
    }
    let id = store.add_image(oci::with_healthcheck(from_oci(&config), &config_bytes), layers, blobs, size, std::slice::from_ref(&remote.normalized))?;
    say(&progress, reference, &format!("Downloaded newer image for {reference}"), None, None);
    Ok(id)
}

async fn fetch_config(remote: &Remote, desc: &OciDescriptor) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    remote.client.pull_blob(&remote.reference, desc, &mut bytes).await.map_err(|e| remote.error(Op::Pull, e))?;
    if format!("sha256:{}", hex::encode(Sha256::digest(&bytes))) != desc.digest {
        return Err(ImageError::Other(format!("{}: image config {} does not match its digest", remote.name, desc.digest)));
    }
    Ok(bytes)
}

/// One layer of a pull: (diff id hex, the kept blob, uncompressed size).
async fn pull_layer(store: &ImageStore, remote: &Remote, desc: &OciDescriptor, diff_id: &str, progress: &ProgressFn) -> Result<(String, Option<BlobInfo>, u64)> {
    let diff_hex = sha256_hex(diff_id)?.to_string();
    sha256_hex(&desc.digest)?;
    let id = short(&desc.digest);
    let blob_path = store.blob_path(&desc.digest);
    let blob = BlobInfo { digest: desc.digest.clone(), media_type: desc.media_type.clone(), size: desc.size.max(0) as u64 };
    if store.has_layer(&diff_hex) {
        say(progress, id, "Already exists", None, None);
        let size = store.layer_size(&diff_hex);
        return Ok((diff_hex, blob_path.is_file().then_some(blob), size));
    }
    if !blob_path.is_file() {
        download(store, remote, desc, progress).await?;
    }
    say(progress, id, "Extracting", None, None);
    let (unpacking_store, path) = (store.clone(), blob_path.clone());
    let (got, size) = tokio::task::spawn_blocking(move || unpacking_store.add_layer_from_reader(File::open(&path).map_err(super::io("opening a layer blob"))?))
        .await
        .map_err(|e| ImageError::Other(e.to_string()))??;
    if got != diff_hex {
        let _ = std::fs::remove_file(&blob_path);
        return Err(ImageError::BadLayer {
            layer: desc.digest.clone(),
            reason: format!("its content is sha256:{got}, but the image config says {diff_id}"),
        });
    }
    say(progress, id, "Pull complete", None, None);
    Ok((diff_hex, Some(blob), size))
}

/// Downloads a blob to a scratch file while hashing it, checks digest and size, and moves
/// it to its place under `blobs/`.
async fn download(store: &ImageStore, remote: &Remote, desc: &OciDescriptor, progress: &ProgressFn) -> Result<()> {
    let id = short(&desc.digest);
    let bad = |reason: String| ImageError::BadLayer { layer: desc.digest.clone(), reason };
    let mut stream = remote.client.pull_blob_stream(&remote.reference, desc).await.map_err(|e| remote.error(Op::Pull, e))?;
    let total = u64::try_from(desc.size).ok().filter(|s| *s > 0).or(stream.content_length);
    say(progress, id, "Downloading", Some(0), total);
    let tmp = store.temp_path("blob");
    let received = async {
        let mut file = tokio::fs::File::create(&tmp).await.map_err(|e| bad(format!("writing {}: {e}", tmp.display())))?;
        let (mut hasher, mut size) = (Sha256::new(), 0u64);
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| bad(format!("download failed: {e}")))?;
            hasher.update(&chunk);
            size += chunk.len() as u64;
            file.write_all(&chunk).await.map_err(|e| bad(format!("writing {}: {e}", tmp.display())))?;
        }
        file.flush().await.map_err(|e| bad(format!("writing {}: {e}", tmp.display())))?;
        Ok::<_, ImageError>((format!("sha256:{}", hex::encode(hasher.finalize())), size))
    }
    .await;
    let checked = received.and_then(|(digest, size)| {
        if digest != desc.digest {
            return Err(bad(format!("received content with digest {digest}")));
        }
        if desc.size > 0 && size != desc.size as u64 {
            return Err(bad(format!("received {size} bytes, expected {}", desc.size)));
        }
        std::fs::rename(&tmp, store.blob_path(&desc.digest)).map_err(|e| bad(format!("keeping the blob: {e}")))
    });
    if checked.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    checked?;
    say(progress, id, "Download complete", total, total);
    Ok(())
}

/// A layer blob ready to send.
struct Outgoing {
    path: PathBuf,
    /// Made for this push (removed afterwards), not a kept blob.
    scratch: bool,
    digest: String,
    size: u64,
    media_type: String,
    /// `sha256:<hex>` of the uncompressed tar.
    diff_id: String,
}

/// Pushes a stored image to the registry its reference names.
pub async fn push(store: &ImageStore, reference: &str, progress: ProgressFn) -> Result<()> {
    let image = store.resolve(reference)?.ok_or_else(|| ImageError::NotFound(reference.into()))?;
    let remote = Remote::new(reference).await?;
    if remote.reference.digest().is_some() {
        return Err(ImageError::BadReference(reference.into(), "push needs a tag, not a digest".into()));
    }
    let (mut descriptors, mut diff_ids) = (Vec::new(), Vec::new());
    for i in 0..image.layers.len() {
        let layer = outgoing_layer(store, &image, i, &progress).await?;
        let sent = push_blob_file(&remote, &layer, &progress).await;
        if layer.scratch {
            let _ = std::fs::remove_file(&layer.path);
        }
        sent?;
        descriptors.push(OciDescriptor {
            media_type: oci::oci_layer_media_type(&layer.media_type).to_string(),
            digest: layer.digest,
            size: layer.size as i64,
            ..Default::default()
        });
        diff_ids.push(layer.diff_id);
    }
    let config = oci::config_blob(&image.config, &diff_ids)?;
    let config_digest = format!("sha256:{}", hex::encode(Sha256::digest(&config)));
    let config_size = config.len() as i64;
    if !remote.client.blob_exists(&remote.reference, &config_digest).await.map_err(|e| remote.error(Op::Push, e))? {
        remote.client.push_blob(&remote.reference, config, &config_digest).await.map_err(|e| remote.error(Op::Push, e))?;
    }
    let manifest = OciImageManifest {
        media_type: Some(oci::OCI_MANIFEST.to_string()),
        config: OciDescriptor { media_type: oci::OCI_CONFIG.to_string(), digest: config_digest, size: config_size, ..Default::default() },
        layers: descriptors,
        ..Default::default()
    };
    remote.client.push_manifest(&remote.reference, &OciManifest::Image(manifest)).await.map_err(|e| remote.error(Op::Push, e))?;
    Ok(())
}

/// The i-th layer as a blob: the kept one, or the layer directory re-packed and gzipped.
async fn outgoing_layer(store: &ImageStore, image: &Image, i: usize, progress: &ProgressFn) -> Result<Outgoing> {
    if let Some(Some(blob)) = image.blobs.get(i)
        && store.blob_path(&blob.digest).is_file()
    {
        return Ok(Outgoing {
            path: store.blob_path(&blob.digest),
            scratch: false,
            digest: blob.digest.clone(),
            size: blob.size,
            media_type: blob.media_type.clone(),
            diff_id: format!("sha256:{}", image.diff_ids[i]),
        });
    }
    say(progress, short(&image.diff_ids[i]), "Preparing", None, None);
    let (dir, out) = (image.layers[i].clone(), store.temp_path("push"));
    tokio::task::spawn_blocking(move || {
        let packed = repack_layer(&dir, &out);
        if packed.is_err() {
            let _ = std::fs::remove_file(&out);
        }
        packed
    })
    .await
    .map_err(|e| ImageError::Other(e.to_string()))?
}

/// Writes `dir` as a gzipped layer tar to `out`, hashing both the tar and the blob.
fn repack_layer(dir: &Path, out: &Path) -> Result<Outgoing> {
    let fail = |e: std::io::Error| ImageError::Other(format!("packing layer {}: {e}", dir.display()));
    let file = BufWriter::new(File::create(out).map_err(fail)?);
    let blob = HashingWriter::new(file);
    let gz = flate2::write::GzEncoder::new(blob, flate2::Compression::default());
    let tar = diff::write_layer_tar(dir, HashingWriter::new(gz)).map_err(fail)?;
    let (gz, diff_id, _) = tar.finish();
    let (file, digest, size) = gz.finish().map_err(fail)?.finish();
    file.into_inner().map_err(|e| fail(e.into_error()))?.sync_all().map_err(fail)?;
    Ok(Outgoing { path: out.to_path_buf(), scratch: true, digest, size, media_type: oci::OCI_LAYER_GZIP.to_string(), diff_id })
}

/// A writer that hashes (sha256) and counts what goes through it.
struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    size: u64,
}

impl<W: Write> HashingWriter<W> {
    fn new(inner: W) -> Self {
        HashingWriter { inner, hasher: Sha256::new(), size: 0 }
    }

    /// (inner writer, `sha256:<hex>`, bytes written).
    fn finish(self) -> (W, String, u64) {
        (self.inner, format!("sha256:{}", hex::encode(self.hasher.finalize())), self.size)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Sends a layer blob unless the registry has it already.
async fn push_blob_file(remote: &Remote, layer: &Outgoing, progress: &ProgressFn) -> Result<()> {
    let id = short(&layer.digest);
    if remote.client.blob_exists(&remote.reference, &layer.digest).await.map_err(|e| remote.error(Op::Push, e))? {
        say(progress, id, "Layer already exists", None, None);
        return Ok(());
    }
    say(progress, id, "Pushing", Some(0), Some(layer.size));
    let file = tokio::fs::File::open(&layer.path).await.map_err(super::io(format!("opening {}", layer.path.display())))?;
    remote.client.push_blob_stream(&remote.reference, file_chunks(file), &layer.digest, Some(layer.size)).await.map_err(|e| remote.error(Op::Push, e))?;
    say(progress, id, "Pushed", Some(layer.size), Some(layer.size));
    Ok(())
}

/// A file as a stream of chunks for an upload body.
fn file_chunks(file: tokio::fs::File) -> impl futures::Stream<Item = std::result::Result<bytes::Bytes, OciDistributionError>> + Send + 'static {
    futures::stream::unfold(Some(file), |f| async move {
        let mut f = f?;
        let mut buf = vec![0u8; 1 << 20];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(bytes::Bytes::from(buf)), Some(f)))
            }
            Err(e) => Some((Err(OciDistributionError::IoError(e)), None)),
        }
    })
}

/// Whether to speak plain HTTP to `registry` (`host[:port]`): loopback addresses,
/// `localhost`, and what `extra` lists (an entry without a port matches every port).
pub fn is_insecure(registry: &str, extra: &[String]) -> bool {
    let host = host_of(registry);
    host == "localhost"
        || host == "::1"
        || host.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
        || extra.iter().any(|e| e == registry || e == host)
}

/// `host:port` → `host`; `[::1]:5000` → `::1`.
fn host_of(registry: &str) -> &str {
    if let Some(rest) = registry.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match registry.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => registry,
    }
}

fn insecure_registries() -> Vec<String> {
    std::env::var(INSECURE_ENV).unwrap_or_default().split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect()
}

/// The part of Docker's client config we read: `auths.<registry>.auth` (base64
/// `user:password`) or `username` / `password`. Credential helpers are not consulted.
#[derive(Debug, Default, Deserialize)]
struct DockerConfig {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
}

#[derive(Debug, Default, Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

fn read_docker_config() -> DockerConfig {
    let dir = std::env::var_os("DOCKER_CONFIG")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker")));
    dir.and_then(|d| std::fs::read(d.join("config.json")).ok()).and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()
}

/// The credentials for `registry`, anonymous when there are none.
fn credentials(config: &DockerConfig, registry: &str) -> RegistryAuth {
    let want = auth_key(registry);
    config
        .auths
        .iter()
        .filter(|(k, _)| auth_key(k) == want)
        .find_map(|(_, entry)| user_password(entry))
        .map(|(user, password)| RegistryAuth::Basic(user, password))
        .unwrap_or(RegistryAuth::Anonymous)
}

fn user_password(entry: &AuthEntry) -> Option<(String, String)> {
    if let Some(auth) = entry.auth.as_deref().filter(|a| !a.is_empty()) {
        let decoded = base64::engine::general_purpose::STANDARD.decode(auth.trim()).ok()?;
        let (user, password) = String::from_utf8(decoded).ok()?.split_once(':').map(|(u, p)| (u.to_string(), p.to_string()))?;
        return Some((user, password));
    }
    Some((entry.username.clone()?, entry.password.clone()?))
}

/// A config key (`https://index.docker.io/v1/`, `localhost:5000`) or a registry name,
/// reduced to the host[:port] they are compared by; Docker Hub's names are one.
fn auth_key(s: &str) -> String {
    let s = s.trim_start_matches("https://").trim_start_matches("http://");
    match s.split('/').next().unwrap_or(s) {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => "docker.io".to_string(),
        host => host.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_and_listed_registries_are_plain_http() {
        let none: Vec<String> = vec![];
        assert!(is_insecure("localhost:5000", &none));
        assert!(is_insecure("127.0.0.1:5000", &none));
        assert!(is_insecure("127.1.2.3", &none));
        assert!(is_insecure("[::1]:5000", &none));
        assert!(!is_insecure("docker.io", &none));
        assert!(!is_insecure("registry.example.com:5000", &none));
        assert!(!is_insecure("localhost.example.com", &none));
        let listed = vec!["registry.lan:5000".to_string(), "10.0.0.2".to_string()];
        assert!(is_insecure("registry.lan:5000", &listed));
        assert!(!is_insecure("registry.lan:6000", &listed));
        assert!(is_insecure("10.0.0.2:443", &listed));
    }

    #[test]
    fn credentials_from_docker_config() {
        let config: DockerConfig = serde_json::from_str(
            r#"{"auths":{"https://index.docker.io/v1/":{"auth":"dXNlcjpwYTpzcw=="},
                "localhost:5000":{"username":"u","password":"p"},"broken.io":{"auth":"***"}}}"#,
        )
        .unwrap();
        assert_eq!(credentials(&config, "docker.io"), RegistryAuth::Basic("user".into(), "pa:ss".into()));
        assert_eq!(credentials(&config, "localhost:5000"), RegistryAuth::Basic("u".into(), "p".into()));
        assert_eq!(credentials(&config, "broken.io"), RegistryAuth::Anonymous);
        assert_eq!(credentials(&config, "ghcr.io"), RegistryAuth::Anonymous);
    }

    #[test]
    fn hub_names_resolve_to_the_hub() {
        let r: Reference = normalize_reference("busybox").unwrap().parse().unwrap();
        assert_eq!(r.registry(), "docker.io");
        assert_eq!(r.repository(), "library/busybox");
        let r: Reference = normalize_reference("127.0.0.1:5000/a/b:1").unwrap().parse().unwrap();
        assert_eq!((r.registry(), r.repository(), r.tag()), ("127.0.0.1:5000", "a/b", Some("1")));
    }

    #[test]
    fn repacked_layer_hashes_match_its_content() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("layer/etc")).unwrap();
        std::fs::write(d.path().join("layer/etc/x"), "x").unwrap();
        let out = d.path().join("blob");
        let layer = repack_layer(&d.path().join("layer"), &out).unwrap();
        let bytes = std::fs::read(&out).unwrap();
        assert_eq!(layer.digest, format!("sha256:{}", hex::encode(Sha256::digest(&bytes))));
        assert_eq!(layer.size, bytes.len() as u64);
        let mut tar = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut tar).unwrap();
        assert_eq!(layer.diff_id, format!("sha256:{}", hex::encode(Sha256::digest(&tar))));
    }
}
