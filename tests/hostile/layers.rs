//! Hostile inputs: image layers and archives (`image import`, `image load`, registry pulls)
//! that try to write, delete or link host files, names that try to become paths, and
//! volume copy-up through an image's symlinks. Each plants canary files in a temp dir and
//! checks they are untouched. Also how volumes are seeded from the image and images with
//! a repeated layer, compared with Docker. Needs root, dockerd and docker-registry.

use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::common::stack::Stack;
use crate::common::tar::{E, save_archive, tar_of};
use crate::common::{HOIST, busybox_tar, ensure_busybox};

fn hoist(backend: &str, args: &[&str]) -> Output {
    Command::new(HOIST).args(["--backend", backend, "--progress", "plain"]).args(args).env_remove("DOCKER_HOST").output().unwrap()
}

fn ok(backend: &str, args: &[&str]) -> String {
    let out = hoist(backend, args);
    assert!(out.status.success(), "hoist {args:?} failed on {backend}:\n{}\n{}", String::from_utf8_lossy(&out.stderr), String::from_utf8_lossy(&out.stdout));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn fails(backend: &str, args: &[&str]) -> String {
    let out = hoist(backend, args);
    assert!(!out.status.success(), "hoist {args:?} should have failed on {backend}: {}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// An image name unique to this process.
fn unique(name: &str) -> String {
    format!("hoist-hostile-{}-{name}", std::process::id())
}

fn state_root() -> PathBuf {
    std::env::var_os("HOIST_ROOT").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/var/lib/hoist"))
}

/// Removes images from a backend when the test ends, also on failure.
struct Images(&'static str, Vec<String>);

impl Drop for Images {
    fn drop(&mut self) {
        for r in &self.1 {
            let _ = hoist(self.0, &["image", "rm", "-f", r]);
        }
    }
}

/// Host files an attack aims at: `file`, `secret` and an empty `sub/` in a temp dir.
struct Canary(tempfile::TempDir);

impl Canary {
    fn new() -> Canary {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("file"), "keep").unwrap();
        std::fs::write(dir.path().join("secret"), "host secret").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        Canary(dir)
    }

    fn path(&self) -> &Path {
        self.0.path()
    }

    /// The canary path as a layer entry name (relative).
    fn rel(&self) -> String {
        self.path().to_string_lossy().trim_start_matches('/').to_string()
    }

    fn assert_untouched(&self) {
        let mut names: Vec<String> = std::fs::read_dir(self.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        assert_eq!(names, ["file", "secret", "sub"], "files appeared or went in {}", self.path().display());
        assert_eq!(std::fs::read_to_string(self.path().join("file")).unwrap(), "keep");
        assert_eq!(std::fs::read_to_string(self.path().join("secret")).unwrap(), "host secret");
        let secret = std::fs::symlink_metadata(self.path().join("secret")).unwrap();
        assert!(secret.is_file() && secret.nlink() == 1, "the secret was replaced or linked to");
        assert_eq!(std::fs::read_dir(self.path().join("sub")).unwrap().count(), 0);
        for p in [self.path().to_path_buf(), self.path().join("sub")] {
            assert!(xattr_names(&p).is_empty(), "{} got xattrs {:?}", p.display(), xattr_names(&p));
        }
    }
}

fn xattr_names(path: &Path) -> Vec<String> {
    use std::os::unix::ffi::OsStrExt;
    let p = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    let mut buf = vec![0u8; 4096];
    // SAFETY: a NUL-terminated path and a buffer of the given length.
    let n = unsafe { libc::llistxattr(p.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if n <= 0 {
        return vec![];
    }
    buf[..n as usize].split(|b| *b == 0).filter(|k| !k.is_empty() && !k.starts_with(b"security.")).map(|k| String::from_utf8_lossy(k).into_owned()).collect()
}

/// Writes `bytes` to a file of `dir`; returns its path as a string.
fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p.to_string_lossy().into_owned()
}

/// The attack of issue 16.1: a symlink to a host directory, then a whiteout, an opaque
/// marker, a new directory and a file written through it.
fn whiteout_layer(canary: &Canary) -> Vec<u8> {
    let target = canary.path().to_string_lossy().into_owned();
    tar_of(&[
        E::Symlink("ev", &target),
        E::File("ev/.wh.file", ""),
        E::Dir("ev/newdir/"),
        E::File("ev/newdir/.wh..wh..opq", ""),
        E::File("ev/sub/.wh..wh..opq", ""),
        E::File("ev/written", "pwned"),
    ])
}

/// Imports `tar` on `backend`: refused (with the entry named) or done inside the image;
/// either way the canary is untouched.
fn import_leaves_host_alone(backend: &'static str, canary: &Canary, tar: &[u8], name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let reference = unique(name);
    let _clean = Images(backend, vec![reference.clone()]);
    let out = hoist(backend, &["image", "import", &write(dir.path(), "layer.tar", tar), &reference]);
    canary.assert_untouched();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() || backend == "docker" || err.contains("entry "), "unclear error: {err}");
}

#[test]
fn import_symlink_whiteout_and_opaque_stay_inside() {
    let canary = Canary::new();
    for backend in ["builtin", "docker"] {
        import_leaves_host_alone(backend, &canary, &whiteout_layer(&canary), "whiteout");
    }
}

#[test]
fn load_symlink_whiteout_and_opaque_stay_inside() {
    let canary = Canary::new();
    let dir = tempfile::tempdir().unwrap();
    let reference = format!("{}:1", unique("load-whiteout"));
    let archive = save_archive(dir.path(), &[&whiteout_layer(&canary)], &[&reference], false);
    for backend in ["builtin", "docker"] {
        let _clean = Images(backend, vec![reference.clone()]);
        let out = hoist(backend, &["image", "load", "-i", &archive.to_string_lossy()]);
        canary.assert_untouched();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() || backend == "docker" || err.contains("entry "), "unclear error: {err}");
    }
}

/// A relative symlink climbing out, a file through it, a symlink replaced by a file (not
/// written through), a hard link through a symlinked directory.
#[test]
fn symlink_then_file_write_through_it() {
    let canary = Canary::new();
    let up = format!("../../../../../../..{}", canary.path().display());
    let abs = canary.path().to_string_lossy().into_owned();
    let secret = format!("{abs}/secret");
    for (name, tar) in [
        ("through-abs", tar_of(&[E::Symlink("d", &abs), E::File("d/x", "pwned")])),
        ("through-rel", tar_of(&[E::Symlink("d", &up), E::File("d/secret", "pwned")])),
        ("replace-link", tar_of(&[E::Symlink("f", &secret), E::File("f", "pwned")])),
        ("deep", tar_of(&[E::Dir("a/"), E::Symlink("a/b", &abs), E::Dir("a/b/c/"), E::File("a/b/c/x", "pwned"), E::Fifo("a/b/p")])),
    ] {
        import_leaves_host_alone("builtin", &canary, &tar, name);
    }
}

#[test]
fn hard_link_to_outside() {
    let canary = Canary::new();
    let abs = format!("{}/secret", canary.path().display());
    let up = format!("../../../../../..{abs}");
    let dir_link = canary.path().to_string_lossy().into_owned();
    for (name, tar) in [
        ("link-abs", tar_of(&[E::Link("h", &abs)])),
        ("link-rel", tar_of(&[E::Link("h", &up)])),
        ("link-through-symlink", tar_of(&[E::Symlink("s", &dir_link), E::Link("h", "s/secret")])),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let err = fails("builtin", &["image", "import", &write(dir.path(), "layer.tar", &tar), &unique(name)]);
        assert!(err.contains("entry h"), "{name}: {err}");
        canary.assert_untouched();
    }
    // A hard link inside the layer still works.
    let tar = tar_of(&[E::File("a", "same"), E::Link("b", "a")]);
    import_leaves_host_alone("builtin", &canary, &tar, "link-inside");
}

/// `..` stops at the layer's top and a leading `/` is dropped, as Docker cleans layer
/// names (the same policy as ADD's archives): both land inside the layer, never outside.
fn dotdot_and_absolute_names_land_inside(backend: &'static str, canary: &Canary) -> String {
    let base = std::fs::read(busybox_tar()).unwrap();
    let climbing = format!("../../../../../../../..{}/x", canary.path().display());
    let absolute = format!("/{}/y", canary.rel());
    let names = tar_of(&[E::File(&climbing, "up "), E::File(&absolute, "abs "), E::File("a/../../../z", "z")]);
    let dir = tempfile::tempdir().unwrap();
    let reference = format!("{}:1", unique("dotdot"));
    let archive = save_archive(dir.path(), &[&base, &names], &[&reference], false);
    let _clean = Images(backend, vec![reference.clone()]);
    ok(backend, &["image", "load", "-i", &archive.to_string_lossy()]);
    canary.assert_untouched();
    run(backend, &reference, &format!("cat /{0}/x /{0}/y /z", canary.rel()))
}

#[test]
fn dotdot_and_absolute_names() {
    let canary = Canary::new();
    let builtin = dotdot_and_absolute_names_land_inside("builtin", &canary);
    assert_eq!(builtin, "up abs z");
    assert_eq!(builtin, dotdot_and_absolute_names_land_inside("docker", &canary));
}

/// Device nodes and fifos in a layer are made (hoist runs as root), as Docker makes them.
#[test]
fn device_nodes_are_made_as_docker_makes_them() {
    let base = std::fs::read(busybox_tar()).unwrap();
    let devices = tar_of(&[E::Dir("x/"), E::Char("x/mynull", 1, 3), E::Fifo("x/pipe")]);
    let dir = tempfile::tempdir().unwrap();
    let reference = format!("{}:1", unique("devices"));
    let archive = save_archive(dir.path(), &[&base, &devices], &[&reference], false);
    let mut seen = Vec::new();
    for backend in ["builtin", "docker"] {
        let _clean = Images(backend, vec![reference.clone()]);
        ok(backend, &["image", "load", "-i", &archive.to_string_lossy()]);
        seen.push(run(backend, &reference, "stat -c '%n %F %t:%T %a' /x/mynull /x/pipe"));
    }
    assert!(seen[0].contains("/x/mynull character special file 1:3 666"), "{}", seen[0]);
    assert_eq!(seen[0], seen[1], "built-in and Docker differ");
}

/// Runs `script` in `image` once (`run --rm`, no network) on `backend`; returns stdout.
fn run(backend: &'static str, image: &str, script: &str) -> String {
    let s = Stack::new(backend, &format!("run{}", image.bytes().map(u32::from).sum::<u32>()), &format!(
        "services:\n  app:\n    image: {image}\n    pull_policy: never\n    network_mode: none\n    entrypoint: [\"sh\", \"-c\"]\n"
    ));
    s.ok(&["run", "--rm", "-T", "app", script])
}

#[test]
fn repo_tags_that_are_paths_are_refused() {
    ensure_busybox("builtin");
    let canary = Canary::new();
    let base = tar_of(&[E::File("f", "x")]);
    for tag in ["../../etc:x", &format!("../../../../..{}:x", canary.path().display()), "/abs:x", "UPPER:x"] {
        let dir = tempfile::tempdir().unwrap();
        let archive = save_archive(dir.path(), &[&base], &[tag], false);
        for backend in ["builtin", "docker"] {
            let err = fails(backend, &["image", "load", "-i", &archive.to_string_lossy()]);
            assert!(err.contains("invalid reference"), "{backend}: {tag}: {err}");
        }
        let err = fails("builtin", &["image", "tag", "busybox:latest", tag]);
        assert!(err.contains("invalid reference"), "{err}");
    }
    canary.assert_untouched();
    assert!(!state_root().join("etc").exists() && !state_root().join("images/etc").exists());
}

/// A throwaway `docker-registry` on a free loopback port.
/// (The temp dir holds its storage until it stops.)
struct Registry(std::process::Child, u16, #[allow(dead_code)] tempfile::TempDir);

impl Registry {
    fn start() -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let cfg = dir.path().join("registry.yml");
        let data = dir.path().join("data");
        std::fs::write(&cfg, format!("version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n", data.display())).unwrap();
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
        Registry(child, port, dir)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The same hostile layer through a registry: loaded gzipped (so the blob is kept as it
/// is), pushed, removed and pulled back.
#[test]
fn pull_symlink_whiteout_and_opaque_stay_inside() {
    let canary = Canary::new();
    let reg = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let local = format!("{}:1", unique("pull-whiteout"));
    let remote = format!("127.0.0.1:{}/hoist/{}:1", reg.1, unique("pull-whiteout"));
    let _clean = Images("builtin", vec![local.clone(), remote.clone()]);
    // The whiteouts need a directory to exist first: the canary path without the symlink.
    let tar = tar_of(&[E::Dir(&format!("{}/", canary.rel())), E::Symlink("ev", &canary.path().to_string_lossy()), E::File("ev/.wh.file", ""), E::File("ev/sub/.wh..wh..opq", ""), E::File("ev/written", "pwned")]);
    let archive = save_archive(dir.path(), &[&tar], &[&local], true);
    ok("builtin", &["image", "load", "-i", &archive.to_string_lossy()]);
    canary.assert_untouched();
    ok("builtin", &["image", "tag", &local, &remote]);
    ok("builtin", &["image", "push", &remote]);
    ok("builtin", &["image", "rm", &local]);
    ok("builtin", &["image", "rm", &remote]);
    let out = hoist("builtin", &["image", "pull", &remote]);
    let progress = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && progress.contains("Pull complete"), "the layer was not pulled again: {progress}");
    canary.assert_untouched();
}

/// Issue 16.5: an image whose VOLUME is a symlink to /etc gets its own /etc copied into
/// the volume, never the host's; one to a host path it does not have gets nothing.
#[test]
fn copy_up_through_a_symlink_stays_in_the_image() {
    let canary = Canary::new();
    let base = std::fs::read(busybox_tar()).unwrap();
    let evil = tar_of(&[E::Symlink("data", "/etc"), E::File("etc/from-image", "image's own"), E::Symlink("data2", &canary.path().to_string_lossy())]);
    let dir = tempfile::tempdir().unwrap();
    let reference = format!("{}:1", unique("copyup"));
    let archive = save_archive(dir.path(), &[&base, &evil], &[&reference], false);
    let _clean = Images("builtin", vec![reference.clone()]);
    ok("builtin", &["image", "load", "-i", &archive.to_string_lossy()]);
    let s = Stack::new("builtin", "copyupsymlink", &format!(
        "services:\n  app:\n    image: {reference}\n    network_mode: none\n    volumes: [\"etc:/data\", \"other:/data2\"]\n    command: sleep 60\nvolumes:\n  etc: {{}}\n  other: {{}}\n"
    ));
    s.ok(&["create"]);
    let volume = |name: &str| state_root().join("volumes").join(format!("{}_{name}", s.project)).join("_data");
    let mut copied: Vec<String> = std::fs::read_dir(volume("etc")).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    copied.sort();
    assert_eq!(copied, ["from-image", "group", "passwd"], "not the image's /etc");
    assert_eq!(std::fs::read_to_string(volume("etc").join("from-image")).unwrap(), "image's own");
    assert_eq!(std::fs::read_dir(volume("other")).unwrap().count(), 0, "a host directory was copied");
    canary.assert_untouched();
}

/// The image of the seeding tests: busybox plus `/var/lib/db` (owned 999, mode 0700)
/// holding `PG_VERSION` (999, 0600) and a symlink, declared a VOLUME.
fn db_image(backend: &'static str) -> String {
    let reference = format!("{}-db:1", unique("seed"));
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir_all(&root).unwrap();
    assert!(Command::new("tar").arg("-C").arg(&root).arg("-xf").arg(busybox_tar()).status().unwrap().success());
    let db = root.join("var/lib/db");
    std::fs::create_dir_all(&db).unwrap();
    std::fs::write(db.join("PG_VERSION"), "15\n").unwrap();
    std::os::unix::fs::symlink("PG_VERSION", db.join("version")).unwrap();
    let sh = |script: &str| assert!(Command::new("sh").arg("-c").arg(script).current_dir(&root).status().unwrap().success());
    sh("chown -h 999:999 var/lib/db var/lib/db/PG_VERSION var/lib/db/version && chmod 700 var/lib/db && chmod 600 var/lib/db/PG_VERSION");
    let tar = dir.path().join("db.tar");
    assert!(Command::new("tar").arg("-C").arg(&root).arg("-cf").arg(&tar).arg(".").status().unwrap().success());
    ok(backend, &["image", "import", "--change", "VOLUME /var/lib/db", "--change", "USER 999", &tar.to_string_lossy(), &reference]);
    reference
}

/// Issue 17.1: an empty named volume is seeded from the image at its first mount
/// (contents, owner, mode), as Docker does; a volume with data is left alone, `nocopy`
/// leaves it empty, a bind mount is never written.
fn named_volume_is_seeded(backend: &'static str) -> String {
    let image = db_image(backend);
    let _clean = Images(backend, vec![image.clone()]);
    let bind = tempfile::tempdir().unwrap();
    std::fs::set_permissions(bind.path(), std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let s = Stack::new(backend, "seednamed", &format!(
        "services:\n  db:\n    image: {image}\n    network_mode: none\n    volumes: [\"dbdata:/var/lib/db\"]\n    command: [\"sleep\", \"60\"]\n  nocopy:\n    image: {image}\n    network_mode: none\n    volumes: [{{type: volume, source: empty, target: /var/lib/db, volume: {{nocopy: true}}}}]\n    command: [\"sleep\", \"60\"]\n  bind:\n    image: {image}\n    network_mode: none\n    volumes: [\"{}:/var/lib/db\"]\n    command: [\"sleep\", \"60\"]\nvolumes:\n  dbdata: {{}}\n  empty: {{}}\n",
        bind.path().display()
    ));
    s.ok(&["up", "-d"]);
    let look = "stat -c '%n %u %a' /var/lib/db /var/lib/db/*; readlink /var/lib/db/version; cat /var/lib/db/PG_VERSION; touch /var/lib/db/new && echo writable";
    let mut seen = String::new();
    for service in ["db", "nocopy", "bind"] {
        let out = s.hoist(&["exec", "-T", service, "sh", "-c", look]);
        seen.push_str(&format!("{service}:\n{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr).lines().filter(|l| !l.contains("No such file")).map(|l| format!("{l}\n")).collect::<String>()));
    }
    // Data already in the volume stays as it is when a new container mounts it.
    s.ok(&["exec", "-T", "db", "sh", "-c", "echo changed > /var/lib/db/PG_VERSION"]);
    s.ok(&["up", "-d", "--force-recreate", "db"]);
    seen.push_str(&s.ok(&["exec", "-T", "db", "cat", "/var/lib/db/PG_VERSION"]));
    s.ok(&["down", "-v", "-t", "0"]);
    assert_eq!(std::fs::read_dir(bind.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect::<Vec<_>>(), ["new"]);
    seen
}

#[test]
fn named_volumes_are_seeded_as_docker_seeds_them() {
    let builtin = named_volume_is_seeded("builtin");
    assert!(builtin.contains("db:\n/var/lib/db 999 700\n/var/lib/db/PG_VERSION 999 600\n"), "{builtin}");
    assert!(builtin.contains("PG_VERSION\n15\nwritable\n"), "{builtin}");
    assert!(builtin.ends_with("changed\n"), "{builtin}");
    let docker = named_volume_is_seeded("docker");
    assert_eq!(builtin, docker, "built-in and Docker differ");
}

/// Issue 17.3: the same layer twice in an image (a step that changed nothing) runs, as on
/// Docker; the repeated layer's files are there once.
fn repeated_layer_runs(backend: &'static str) -> String {
    let base = std::fs::read(busybox_tar()).unwrap();
    // A layer neither store has seen (Docker keeps layers it has loaded before, which
    // would hide what a first load of the repeated layer does).
    let reference = format!("{}:1", unique("repeated"));
    let script = format!("echo repeated-ok # {reference}");
    let app = tar_of(&[E::Dir("app/"), E::File("app/entrypoint.sh", &script)]);
    let dir = tempfile::tempdir().unwrap();
    let archive = save_archive(dir.path(), &[&base, &app, &app], &[&reference], false);
    let _clean = Images(backend, vec![reference.clone()]);
    ok(backend, &["image", "load", "-i", &archive.to_string_lossy()]);
    run(backend, &reference, "sh /app/entrypoint.sh; ls /app")
}

#[test]
fn an_image_with_a_repeated_layer_runs() {
    let builtin = repeated_layer_runs("builtin");
    assert_eq!(builtin, "repeated-ok\nentrypoint.sh\n");
    assert_eq!(builtin, repeated_layer_runs("docker"));
}

/// A load killed half-way leaves its scratch directory; the next command removes it.
#[test]
fn a_killed_load_leaves_no_scratch() {
    ensure_busybox("builtin");
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("archive.tar");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let mut load = Command::new(HOIST).args(["--backend", "builtin", "image", "load", "-i"]).arg(&fifo).spawn().unwrap();
    let pid = load.id();
    let mut writer = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    // Half an archive: the start of a big layer file, then nothing more.
    let mut header = tar::Header::new_gnu();
    header.set_path("big/layer.tar").unwrap();
    header.set_size(64 << 20);
    header.set_cksum();
    writer.write_all(header.as_bytes()).unwrap();
    writer.write_all(&vec![0u8; 1 << 20]).unwrap();
    let tmp = state_root().join("images/tmp");
    let mine = || -> Vec<PathBuf> {
        std::fs::read_dir(&tmp).unwrap().map(|e| e.unwrap().path()).filter(|p| p.file_name().unwrap().to_string_lossy().contains(&format!("-{pid}-"))).collect()
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while !mine().iter().any(|p| p.join("big/layer.tar").exists()) {
        assert!(Instant::now() < deadline, "the load made no scratch directory");
        std::thread::sleep(Duration::from_millis(50));
    }
    load.kill().unwrap();
    load.wait().unwrap();
    drop(writer);
    assert!(!mine().is_empty());
    ok("builtin", &["image", "ls"]);
    assert!(mine().is_empty(), "left behind: {:?}", mine());
}
