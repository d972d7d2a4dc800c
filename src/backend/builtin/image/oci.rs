//! What registries and archives share: image configs between the OCI / Docker JSON form
//! and hoist's `ImageConfig`, layer media types, and digest checks.

use std::io::Read;

use oci_spec::image::{Arch, Config, ImageConfiguration, Os, RootFs};
use sha2::{Digest, Sha256};

use super::{DEFAULT_PATH, ImageError, Result};
use crate::backend::ImageConfig;

pub const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// Parses an OCI or Docker image config (Docker's extra fields are ignored).
pub fn parse_config(bytes: &[u8]) -> Result<ImageConfiguration> {
    serde_json::from_slice(bytes).map_err(|e| ImageError::Other(format!("invalid image config: {e}")))
}

/// The `config.Healthcheck` of a Docker image config (OCI configs have no such field, so
/// `oci-spec` drops it): Docker keeps durations in nanoseconds; hoist in compose syntax.
pub fn docker_healthcheck(bytes: &[u8]) -> Option<crate::compose::model::Healthcheck> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Hc {
        #[serde(default)]
        test: Vec<String>,
        interval: Option<u64>,
        timeout: Option<u64>,
        start_period: Option<u64>,
        start_interval: Option<u64>,
        retries: Option<u32>,
    }
    #[derive(serde::Deserialize)]
    struct Cfg {
        #[serde(rename = "Healthcheck")]
        healthcheck: Option<Hc>,
    }
    #[derive(serde::Deserialize)]
    struct Image {
        config: Option<Cfg>,
    }
    let hc = serde_json::from_slice::<Image>(bytes).ok()?.config?.healthcheck?;
    if hc.test.is_empty() {
        return None;
    }
    let dur = |ns: Option<u64>| ns.filter(|n| *n > 0).map(|n| crate::compose::model::Duration(std::time::Duration::from_nanos(n)));
    Some(crate::compose::model::Healthcheck {
        test: hc.test,
        interval: dur(hc.interval),
        timeout: dur(hc.timeout),
        start_period: dur(hc.start_period),
        start_interval: dur(hc.start_interval),
        retries: hc.retries.filter(|r| *r > 0),
        ..Default::default()
    })
}

/// `config` with the raw config's Docker healthcheck, if any.
pub fn with_healthcheck(mut config: ImageConfig, raw: &[u8]) -> ImageConfig {
    config.healthcheck = docker_healthcheck(raw);
    config
}

/// The runtime part of an image config as hoist keeps it. An image without `PATH` gets
/// the usual default, as Docker gives it at run time.
pub fn from_oci(config: &ImageConfiguration) -> ImageConfig {
    let Some(c) = config.config() else {
        return ImageConfig { env: vec![DEFAULT_PATH.to_string()], ..Default::default() };
    };
    let mut env = c.env().clone().unwrap_or_default();
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.insert(0, DEFAULT_PATH.to_string());
    }
    let mut exposed_ports: Vec<String> =
        c.exposed_ports().iter().flatten().map(|p| if p.contains('/') { p.clone() } else { format!("{p}/tcp") }).collect();
    exposed_ports.sort();
    let mut volumes = c.volumes().clone().unwrap_or_default();
    volumes.sort();
    let mut labels: Vec<(String, String)> = c.labels().iter().flatten().map(|(k, v)| (k.clone(), v.clone())).collect();
    labels.sort();
    ImageConfig {
        env,
        cmd: c.cmd().clone(),
        entrypoint: c.entrypoint().clone(),
        working_dir: c.working_dir().clone().filter(|w| !w.is_empty()),
        user: c.user().clone().filter(|u| !u.is_empty()),
        exposed_ports,
        volumes,
        labels: labels.into_iter().collect(),
        stop_signal: c.stop_signal().clone().filter(|s| !s.is_empty()),
        healthcheck: None,
        ..Default::default()
    }
}

/// The config blob pushed for `config`: the OCI config plus Docker's `Healthcheck`, so
/// Docker (and hoist) pulling the image keep its HEALTHCHECK.
pub fn config_blob(config: &ImageConfig, diff_ids: &[String]) -> Result<Vec<u8>> {
    let mut json = serde_json::to_value(to_oci(config, diff_ids)).map_err(|e| ImageError::Other(e.to_string()))?;
    if let (Some(h), Some(c)) = (&config.healthcheck, json.get_mut("config").and_then(|c| c.as_object_mut())) {
        let ns = |d: &Option<crate::compose::model::Duration>| d.map(|d| d.0.as_nanos() as u64);
        let mut hc = serde_json::json!({ "Test": h.test });
        for (key, value) in [("Interval", ns(&h.interval)), ("Timeout", ns(&h.timeout)), ("StartPeriod", ns(&h.start_period)), ("StartInterval", ns(&h.start_interval))] {
            if let Some(v) = value {
                hc[key] = v.into();
            }
        }
        if let Some(r) = h.retries {
            hc["Retries"] = r.into();
        }
        c.insert("Healthcheck".into(), hc);
    }
    serde_json::to_vec(&json).map_err(|e| ImageError::Other(e.to_string()))
}

/// An OCI image config (linux/amd64) for `config` over layers with these diff ids (hex
/// or `sha256:<hex>`, lowest first).
pub fn to_oci(config: &ImageConfig, diff_ids: &[String]) -> ImageConfiguration {
    let some = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
    let mut c = Config::default();
    c.set_env(some(&config.env));
    c.set_cmd(config.cmd.clone());
    c.set_entrypoint(config.entrypoint.clone());
    c.set_working_dir(config.working_dir.clone());
    c.set_user(config.user.clone());
    c.set_exposed_ports(some(&config.exposed_ports));
    c.set_volumes(some(&config.volumes));
    c.set_labels((!config.labels.is_empty()).then(|| config.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect()));
    c.set_stop_signal(config.stop_signal.clone());
    let mut rootfs = RootFs::default();
    rootfs.set_diff_ids(diff_ids.iter().map(|d| format!("sha256:{}", d.trim_start_matches("sha256:"))).collect());
    let mut image = ImageConfiguration::default();
    image.set_architecture(Arch::Amd64);
    image.set_os(Os::Linux);
    image.set_created(Some(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)));
    image.set_config(Some(c));
    image.set_rootfs(rootfs);
    image
}

/// The OCI media type for a layer blob of any (OCI or Docker) layer media type.
pub fn oci_layer_media_type(media_type: &str) -> &'static str {
    if media_type.contains("zstd") {
        OCI_LAYER_ZSTD
    } else if media_type.contains("gzip") {
        OCI_LAYER_GZIP
    } else {
        OCI_LAYER_TAR
    }
}

/// The media type of a layer blob judged by its first bytes.
pub fn sniff_layer_media_type(magic: &[u8]) -> &'static str {
    match magic {
        [0x1f, 0x8b, ..] => OCI_LAYER_GZIP,
        [0x28, 0xb5, 0x2f, 0xfd, ..] => OCI_LAYER_ZSTD,
        _ => OCI_LAYER_TAR,
    }
}

/// The hex part of a `sha256:<64 hex>` digest; anything else (other algorithms, path
/// tricks like `sha256:../x`) is refused.
pub fn sha256_hex(digest: &str) -> Result<&str> {
    match digest.strip_prefix("sha256:") {
        Some(hex) if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) => Ok(hex),
        _ => Err(ImageError::Other(format!("unsupported digest {digest:?} (only sha256 is supported)"))),
    }
}

/// `sha256:<hex>` of a reader's bytes, and how many there were.
pub fn sha256_of(mut reader: impl Read) -> std::io::Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            return Ok((format!("sha256:{}", hex::encode(hasher.finalize())), size));
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_healthcheck_is_read_from_the_raw_config() {
        let raw = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},
            "config":{"Healthcheck":{"Test":["CMD-SHELL","true"],"Interval":2000000000,"Retries":3}}}"#;
        let h = docker_healthcheck(raw).unwrap();
        assert_eq!(h.test, ["CMD-SHELL", "true"]);
        assert_eq!(h.interval.map(|d| d.to_string()).as_deref(), Some("2s"));
        assert_eq!(h.retries, Some(3));
        assert!(h.timeout.is_none());
        assert!(docker_healthcheck(br#"{"config":{}}"#).is_none());
        let config = ImageConfig { healthcheck: Some(h), ..Default::default() };
        let blob = config_blob(&config, &["bb".into()]).unwrap();
        let back = docker_healthcheck(&blob).unwrap();
        assert_eq!(back.test, ["CMD-SHELL", "true"]);
        assert_eq!(back.interval.map(|d| d.to_string()).as_deref(), Some("2s"));
    }

    #[test]
    fn docker_config_to_hoist_and_back() {
        let docker = br#"{"architecture":"amd64","os":"linux","config":{"Env":["A=1"],"Cmd":["redis-server"],
            "Entrypoint":null,"WorkingDir":"","User":"redis","ExposedPorts":{"6379/tcp":{},"53":{}},
            "Volumes":{"/data":{}},"Labels":{"b":"2","a":"1"},"StopSignal":"SIGINT","Healthcheck":{"Test":["NONE"]},
            "OnBuild":null},"rootfs":{"type":"layers","diff_ids":["sha256:aa"]},"history":[{"empty_layer":true}]}"#;
        let c = from_oci(&parse_config(docker).unwrap());
        assert_eq!(c.env, vec![DEFAULT_PATH.to_string(), "A=1".into()]);
        assert_eq!(c.cmd.as_deref().unwrap(), ["redis-server"]);
        assert!(c.entrypoint.is_none() && c.working_dir.is_none());
        assert_eq!(c.user.as_deref(), Some("redis"));
        assert_eq!(c.exposed_ports, vec!["53/tcp", "6379/tcp"]);
        assert_eq!(c.volumes, vec!["/data"]);
        assert_eq!(c.labels.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(c.stop_signal.as_deref(), Some("SIGINT"));

        let back = to_oci(&c, &["bb".into()]);
        let json = serde_json::to_value(&back).unwrap();
        assert_eq!(json["architecture"], "amd64");
        assert_eq!(json["os"], "linux");
        assert_eq!(json["rootfs"]["diff_ids"][0], "sha256:bb");
        assert!(json["config"]["ExposedPorts"]["6379/tcp"].is_object(), "{json}");
        let again = from_oci(&parse_config(&serde_json::to_vec(&back).unwrap()).unwrap());
        assert_eq!(again.cmd, c.cmd);
        assert_eq!(again.exposed_ports, c.exposed_ports);
        assert_eq!(again.labels, c.labels);
    }

    #[test]
    fn config_without_runtime_part_gets_a_path() {
        let c = from_oci(&parse_config(br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#).unwrap());
        assert_eq!(c.env, vec![DEFAULT_PATH.to_string()]);
        assert!(parse_config(b"{}").is_err());
    }

    #[test]
    fn digests_and_media_types() {
        let hex = "a".repeat(64);
        assert_eq!(sha256_hex(&format!("sha256:{hex}")).unwrap(), hex);
        assert!(sha256_hex("sha256:../../etc/passwd").is_err());
        assert!(sha256_hex(&format!("sha512:{hex}")).is_err());
        assert_eq!(oci_layer_media_type("application/vnd.docker.image.rootfs.diff.tar.gzip"), OCI_LAYER_GZIP);
        assert_eq!(sniff_layer_media_type(&[0x28, 0xb5, 0x2f, 0xfd]), OCI_LAYER_ZSTD);
        assert_eq!(sha256_of(&b""[..]).unwrap().0, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }
}
