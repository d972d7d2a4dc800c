//! The built-in image store against real registries and archives: push, pull, `image
//! load`, cross-checked with the Docker engine. Needs root (the built-in runtime), the
//! `docker-registry` package (a throwaway registry per test on a free loopback port) and,
//! for the cross-checks, a running dockerd; CI (`.ci/run`, as root) provides all three.
//! The built-in store at /var/lib/hoist is shared with concurrent tests: every image
//! name here is unique to this process and test.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

mod common;

use common::tar::{E, gzip, sha256, tar_of};
use common::{HOIST, busybox_tar};

fn hoist(args: &[&str]) -> Output {
    Command::new(HOIST).args(["--backend", "builtin", "--progress", "plain"]).args(args).env_remove("DOCKER_HOST").output().unwrap()
}

/// Runs hoist, asserts success, returns stdout.
fn ok(args: &[&str]) -> String {
    let out = hoist(args);
    assert!(out.status.success(), "hoist {args:?} failed:\n{}\n{}", String::from_utf8_lossy(&out.stderr), String::from_utf8_lossy(&out.stdout));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs hoist, asserts failure, returns stderr.
fn fails(args: &[&str]) -> String {
    let out = hoist(args);
    assert!(!out.status.success(), "hoist {args:?} should have failed: {}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn docker(args: &[&str]) -> Output {
    Command::new("docker").args(args).env_remove("DOCKER_HOST").output().unwrap()
}

fn docker_ok(args: &[&str]) -> String {
    let out = docker(args);
    assert!(out.status.success(), "docker {args:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// An image name unique to this test process.
fn unique(name: &str) -> String {
    format!("hoist-it-img-{}-{name}", std::process::id())
}

/// A throwaway `docker-registry` (no auth, filesystem storage) on a free loopback port.
struct Registry {
    child: std::process::Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Registry {
    fn start() -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let cfg = dir.path().join("registry.yml");
        let conf = format!(
            "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("data").display()
        );
        std::fs::write(&cfg, conf).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&cfg)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("docker-registry is installed (Debian package docker-registry)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "docker-registry did not listen on {port}");
            std::thread::sleep(Duration::from_millis(100));
        }
        Registry { child, port, dir }
    }

    fn name(&self, repo: &str) -> String {
        format!("127.0.0.1:{}/hoist/{repo}", self.port)
    }

    /// The registry's stored blobs (`.../blobs/sha256/xx/<hex>/data`).
    fn blob_files(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let mut stack = vec![self.dir.path().join("data/docker/registry/v2/blobs")];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                if e.path().is_dir() {
                    stack.push(e.path());
                } else if e.file_name() == "data" {
                    out.push(e.path());
                }
            }
        }
        out
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Removes images (hoist's store and Docker's) when the test ends, also on failure.
struct Cleanup {
    hoist: Vec<String>,
    docker: Vec<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for r in &self.hoist {
            let _ = hoist(&["image", "rm", "-f", r]);
        }
        for r in &self.docker {
            let _ = docker(&["rmi", "-f", r]);
        }
    }
}

/// Runs `image` once as a compose service (`run --rm`), with `command` or the image's
/// own; returns its output. No network: `run` alone does not create the project's.
fn run_image(image: &str, command: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("docker-compose.yml"), format!("services:\n  app:\n    image: {image}\n    pull_policy: never\n    network_mode: none\n")).unwrap();
    let project = format!("itimg{}{}", std::process::id(), image.bytes().map(u32::from).sum::<u32>());
    let out = Command::new(HOIST)
        .args(["--backend", "builtin", "-p", &project, "run", "--rm", "-T", "app"])
        .args(command)
        .current_dir(dir.path())
        .output()
        .unwrap();
    let _ = Command::new(HOIST).args(["--backend", "builtin", "-p", &project, "down", "-v", "-t", "1"]).current_dir(dir.path()).output();
    assert!(out.status.success(), "running {image} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn import_busybox(reference: &str, changes: &[&str]) {
    let tar = busybox_tar();
    let mut args = vec!["image", "import"];
    for c in changes {
        args.extend(["--change", c]);
    }
    let tar = tar.to_string_lossy().into_owned();
    args.extend([tar.as_str(), reference]);
    ok(&args);
}

// Needs docker-registry and dockerd.
#[test]
fn push_remove_pull_and_run_and_docker_runs_it() {
    let reg = Registry::start();
    let local = format!("{}:v1", unique("pushed"));
    let remote = format!("{}:v1", reg.name(&unique("pushed")));
    let copy = format!("{}:v1", reg.name(&unique("copy")));
    let _clean = Cleanup { hoist: vec![local.clone(), remote.clone(), copy.clone()], docker: vec![remote.clone(), copy.clone()] };

    import_busybox(&local, &[r#"CMD ["echo", "default-cmd"]"#]);
    ok(&["image", "tag", &local, &remote]);
    let out = hoist(&["image", "push", &remote]);
    assert!(out.status.success(), "push failed: {}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Pushed"), "{}", String::from_utf8_lossy(&out.stderr));

    ok(&["image", "rm", &remote]);
    ok(&["image", "rm", &local]);
    assert!(!hoist(&["image", "inspect", &remote]).status.success(), "still present after rm");

    let out = hoist(&["image", "pull", &remote]);
    assert!(out.status.success(), "pull failed: {}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Pull complete"), "{}", String::from_utf8_lossy(&out.stderr));
    let inspect = ok(&["image", "inspect", &remote]);
    assert!(inspect.contains("default-cmd") && inspect.contains("PATH="), "{inspect}");
    assert_eq!(run_image(&remote, &["echo", "pulled"]).trim(), "pulled");
    assert_eq!(run_image(&remote, &[]).trim(), "default-cmd");

    // A pulled image keeps its blobs: pushed again under another name, as is.
    ok(&["image", "tag", &remote, &copy]);
    ok(&["image", "push", &copy]);

    // Docker pulls and runs what hoist pushed (re-packed layer and kept blob alike).
    for image in [&remote, &copy] {
        docker_ok(&["pull", "-q", image]);
        assert_eq!(docker_ok(&["run", "--rm", image, "echo", "ok"]).trim(), "ok");
        assert_eq!(docker_ok(&["run", "--rm", image]).trim(), "default-cmd");
    }
}

// Needs docker-registry and dockerd: Docker pushes gzip layers with a schema2 manifest.
#[test]
fn pulls_and_runs_what_docker_pushed() {
    let reg = Registry::start();
    let remote = format!("{}:v2", reg.name(&unique("from-docker")));
    let _clean = Cleanup { hoist: vec![remote.clone()], docker: vec![remote.clone()] };
    let tar = busybox_tar();
    let change = ["--change", r#"CMD ["echo", "docker-cmd"]"#, "--change", "HEALTHCHECK --interval=2s --retries=4 CMD true"];
    docker_ok(&[&["import"][..], &change, &[&tar.to_string_lossy(), &remote]].concat());
    docker_ok(&["push", "-q", &remote]);
    docker_ok(&["rmi", &remote]);

    ok(&["image", "pull", &remote]);
    assert_eq!(run_image(&remote, &["echo", "from-docker"]).trim(), "from-docker");
    assert_eq!(run_image(&remote, &[]).trim(), "docker-cmd");
    // Docker's HEALTHCHECK (not part of the OCI config) survives the pull.
    let inspect: serde_json::Value = serde_json::from_str(&ok(&["image", "inspect", &remote])).unwrap();
    let hc = &inspect[0]["Config"]["healthcheck"];
    assert_eq!(hc["test"], serde_json::json!(["CMD-SHELL", "true"]), "{inspect}");
    assert_eq!((hc["interval"].as_str(), hc["retries"].as_u64()), (Some("2s"), Some(4)), "{inspect}");
    // Pulling again finds every layer present.
    let out = hoist(&["image", "pull", &remote]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("Already exists"), "{}", String::from_utf8_lossy(&out.stderr));
}

// Needs docker-registry.
#[test]
fn unknown_images_and_unreachable_registries_fail_clearly() {
    let reg = Registry::start();
    let missing = format!("{}:nope", reg.name(&unique("missing")));
    let err = fails(&["image", "pull", &missing]);
    assert!(err.contains("pull access denied or repository does not exist") && err.contains(&missing), "{err}");
    let err = fails(&["image", "pull", "127.0.0.1:1/hoist/nothing:here"]);
    assert!(err.contains("cannot reach registry 127.0.0.1:1"), "{err}");
    let err = fails(&["image", "push", &format!("{}:v1", unique("never-made"))]);
    assert!(err.contains("no such image"), "{err}");
}

// Needs docker-registry.
#[test]
fn corrupt_layers_are_refused_by_name() {
    let reg = Registry::start();
    let remote = format!("{}:v5", reg.name(&unique("corrupt")));
    let _clean = Cleanup { hoist: vec![remote.clone()], docker: vec![] };
    // A layer of its own, so the store cannot already have it.
    let dir = tempfile::tempdir().unwrap();
    let tar = dir.path().join("unique.tar");
    let content = format!("{} {:?}", unique("corrupt"), Instant::now());
    std::fs::write(&tar, tar_of(&[E::File("hello", &content)])).unwrap();
    ok(&["image", "import", &tar.to_string_lossy(), &remote]);
    ok(&["image", "push", &remote]);
    ok(&["image", "rm", &remote]);

    // Flip one byte of the gzip layer blob in the registry's storage.
    let layer = reg.blob_files().into_iter().find(|p| std::fs::read(p).unwrap().starts_with(&[0x1f, 0x8b])).expect("the pushed layer blob");
    let mut bytes = std::fs::read(&layer).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&layer, bytes).unwrap();
    let err = fails(&["image", "pull", &remote]);
    assert!(err.contains("layer sha256:"), "{err}");
    assert!(!hoist(&["image", "inspect", &remote]).status.success(), "a corrupt pull left an image");
}

// Needs dockerd (docker save).
#[test]
fn loads_docker_save_archives_plain_and_gzipped() {
    let name = format!("{}:v3", unique("saved"));
    let _clean = Cleanup { hoist: vec![name.clone()], docker: vec![name.clone()] };
    let dir = tempfile::tempdir().unwrap();
    let tar = busybox_tar();
    docker_ok(&["import", "--change", r#"CMD ["echo", "saved-cmd"]"#, &tar.to_string_lossy(), &name]);
    let archive = dir.path().join("saved.tar");
    docker_ok(&["save", "-o", &archive.to_string_lossy(), &name]);

    let out = ok(&["image", "load", "-i", &archive.to_string_lossy()]);
    assert!(out.contains(&format!("Loaded image: {name}")), "{out}");
    assert_eq!(run_image(&name, &[]).trim(), "saved-cmd");

    ok(&["image", "rm", &name]);
    let gz = dir.path().join("saved.tar.gz");
    std::fs::write(&gz, gzip(&std::fs::read(&archive).unwrap())).unwrap();
    let out = ok(&["image", "load", "-i", &gz.to_string_lossy()]);
    assert!(out.contains(&format!("Loaded image: {name}")), "{out}");
    assert_eq!(run_image(&name, &["echo", "from-gzip"]).trim(), "from-gzip");
}

#[test]
fn loads_oci_layout_archives() {
    let name = format!("{}:v4", unique("oci"));
    let _clean = Cleanup { hoist: vec![name.clone()], docker: vec![] };
    let dir = tempfile::tempdir().unwrap();
    let archive = oci_archive(dir.path(), &name, &["echo", "oci-cmd"]);
    let out = ok(&["image", "load", "-i", &archive.to_string_lossy()]);
    assert!(out.contains(&format!("Loaded image: {name}")), "{out}");
    assert_eq!(run_image(&name, &[]).trim(), "oci-cmd");

    let bad = dir.path().join("not-an-image.tar");
    let st = Command::new("tar").arg("-C").arg(dir.path()).arg("-cf").arg(&bad).arg("layout/oci-layout").status().unwrap();
    assert!(st.success());
    let err = fails(&["image", "load", "-i", &bad.to_string_lossy()]);
    assert!(err.contains("not a docker save or OCI image archive"), "{err}");
}

/// Writes `bytes` as a blob of the layout; returns its descriptor fields.
fn put_blob(layout: &Path, bytes: &[u8]) -> (String, usize) {
    let digest = sha256(bytes);
    std::fs::write(layout.join("blobs/sha256").join(digest.trim_start_matches("sha256:")), bytes).unwrap();
    (digest, bytes.len())
}

/// An OCI image layout archive made by hand: the busybox rootfs as one gzip layer, a
/// config with `cmd`, and `name` in the index's `ref.name` annotation.
fn oci_archive(dir: &Path, name: &str, cmd: &[&str]) -> PathBuf {
    let layout = dir.join("layout");
    std::fs::create_dir_all(layout.join("blobs/sha256")).unwrap();
    std::fs::write(layout.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let tar = std::fs::read(busybox_tar()).unwrap();
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(&tar).unwrap();
    let (layer, layer_size) = put_blob(&layout, &enc.finish().unwrap());
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Cmd": cmd, "Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [sha256(&tar)]},
    });
    let (config, config_size) = put_blob(&layout, config.to_string().as_bytes());
    let manifest = serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": config_size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer, "size": layer_size}],
    });
    let (manifest, manifest_size) = put_blob(&layout, manifest.to_string().as_bytes());
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest, "size": manifest_size,
            "annotations": {"org.opencontainers.image.ref.name": name}}],
    });
    std::fs::write(layout.join("index.json"), index.to_string()).unwrap();
    let archive = dir.join("oci.tar");
    let st = Command::new("tar").arg("-C").arg(&layout).arg("-cf").arg(&archive).arg(".").status().unwrap();
    assert!(st.success());
    archive
}

/// As Docker: `image rm` of one of several tags untags even when a container uses the
/// image; removing its last reference is refused while a container uses it.
#[test]
fn removing_a_tag_of_an_image_in_use() {
    let (first, second) = (format!("{}:a", unique("inuse")), format!("{}:b", unique("inuse")));
    let tar = busybox_tar();
    // An image of its own (the config differs), so no other test's tag points at it.
    ok(&["image", "import", "--change", &format!("ENV UNIQUE={first}"), &tar.to_string_lossy(), &first]);
    ok(&["image", "tag", &first, &second]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("compose.yaml"), format!("services:\n  app:\n    image: {second}\n    command: sleep 60\n")).unwrap();
    let project = unique("inuse");
    let compose = |args: &[&str]| {
        let out = Command::new(HOIST).args(["--backend", "builtin", "-p", &project]).args(args).current_dir(dir.path()).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    compose(&["up", "-d"]);
    ok(&["image", "rm", &first]);
    let err = fails(&["image", "rm", &second]);
    compose(&["down", "-t", "0"]);
    assert!(err.contains("in use by container"), "{err}");
    ok(&["image", "rm", &second]);
}
