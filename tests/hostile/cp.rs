//! `hoist cp` against a container that fights back: paths swapped under the copy
//! (renameat2 RENAME_EXCHANGE), symlinks to the host's paths, `..` chains, magic links,
//! mount boundaries, and a file bigger than cp may hold in memory.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

use crate::common::stack::Stack;

/// The static swapper (tests/hostile/cp/swap.c), built once per test process.
fn swapper_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| crate::common::static_c_program("hostile/cp/swap.c", "hostile-swap", "swap")).clone()
}

/// A host directory the container must never reach, holding `secret`.
struct Canary {
    dir: tempfile::TempDir,
}

const SECRET: &str = "HOST SECRET 7f3a";

impl Canary {
    fn new() -> Canary {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("secret"), SECRET).unwrap();
        Canary { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn assert_untouched(&self) {
        let names: Vec<String> = std::fs::read_dir(self.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        assert_eq!(names, ["secret"], "files appeared in the host's canary directory");
        assert_eq!(std::fs::read_to_string(self.path().join("secret")).unwrap(), SECRET, "the host's canary file changed");
    }
}

/// Every file below `dir`, read: none may hold the host's secret.
fn assert_no_secret_in(dir: &Path) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let ft = e.file_type().unwrap();
        if ft.is_dir() {
            assert_no_secret_in(&e.path());
        } else if ft.is_file() {
            assert!(!std::fs::read_to_string(e.path()).unwrap_or_default().contains(SECRET), "{} holds the host's secret", e.path().display());
        }
    }
}

/// The race of issue 16: inside the container, `/w/d` (a real directory) and `/w/l` (a
/// symlink to the host's canary directory) trade places all the time while `cp` copies
/// into and out of `/w/d`. Resolution in-root makes `/w/l` lead to the container's own
/// path of that name, so a copy may fail, but never lands in or reads from the host.
#[test]
fn cp_races_with_rename_exchange() {
    let canary = Canary::new();
    let swap = swapper_dir();
    let compose = format!(
        "services:\n  app:\n    image: busybox:latest\n    init: true\n    volumes: [\"{}:/probe:ro\"]\n    \
         command: [\"sh\", \"-c\", \"mkdir -p /w/d && echo container > /w/d/secret && ln -s {} /w/l && exec /probe/swap /w/d /w/l\"]\n",
        swap.display(),
        canary.path().display()
    );
    let s = Stack::new("builtin", "hcprace", &compose);
    s.ok(&["up", "-d"]);
    s.write("in.txt", "from the host\n");
    let out = s.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let (mut copied_in, mut copied_out) = (0, 0);
    for i in 0..200 {
        copied_in += s.hoist(&["cp", "in.txt", &format!("app:/w/d/in{i}.txt")]).status.success() as usize;
        copied_in += s.hoist(&["cp", "in.txt", "app:/w/d/"]).status.success() as usize;
        let dest = out.join(format!("out{i}"));
        if s.hoist(&["cp", "app:/w/d/secret", dest.to_str().unwrap()]).status.success() {
            copied_out += 1;
            assert_eq!(std::fs::read_to_string(&dest).unwrap(), "container\n");
        }
        if i % 20 == 0 {
            canary.assert_untouched();
        }
    }
    // The swapper ran all along (it keeps swapping whatever a copy did meanwhile).
    assert!(s.ok(&["ps", "--status", "running", "-q"]).trim().lines().count() == 1, "the swapper stopped");
    canary.assert_untouched();
    assert_no_secret_in(&out);
    assert!(copied_in > 0 && copied_out > 0, "no copy went through ({copied_in} in, {copied_out} out)");
}

/// Parents that are symlinks to `/`, `..` chains and host paths: each resolves inside the
/// container (where the host's canary path does not exist).
#[test]
fn cp_through_symlinked_parents_stays_inside() {
    let canary = Canary::new();
    let c = canary.path().display().to_string();
    let setup = format!("mkdir -p /w/a/b && ln -s / /w/root && ln -s ../../../../../../.. /w/a/b/up && ln -s {c} /w/host && ln -s {c}/secret /w/hostfile && ln -s /proc/self/root /w/magic");
    let compose = format!("services:\n  app:\n    image: busybox:latest\n    init: true\n    command: [\"sh\", \"-c\", \"{setup} && exec sleep 3600\"]\n");
    let s = Stack::new("builtin", "hcplinks", &compose);
    s.ok(&["up", "-d"]);
    s.write("f.txt", "payload\n");
    let out = s.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while s.cat("app", "/w/magic/etc/passwd").is_none() {
        assert!(std::time::Instant::now() < deadline, "the container never made its links");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }

    // Into: `/w/root/tmp` is the container's /tmp, the `..` chain stops at its `/`.
    s.ok(&["cp", "f.txt", "app:/w/root/tmp/via-root.txt"]);
    assert_eq!(s.cat("app", "/tmp/via-root.txt").as_deref(), Some("payload\n"));
    s.ok(&["cp", "f.txt", "app:/w/a/b/up/tmp/via-dotdot.txt"]);
    assert_eq!(s.cat("app", "/tmp/via-dotdot.txt").as_deref(), Some("payload\n"));
    // The host's canary path does not exist in the container: refused, or made there.
    let _ = s.hoist(&["cp", "f.txt", "app:/w/host/"]);
    let _ = s.hoist(&["cp", "f.txt", "app:/w/host/new.txt"]);
    let _ = s.hoist(&["cp", "f.txt", &format!("app:/w/a/b/up{c}/new.txt")]);
    let _ = s.hoist(&["cp", "f.txt", "app:/w/hostfile"]);
    canary.assert_untouched();

    // Out of: the host's secret never comes back, through links or magic links.
    for (i, src) in ["/w/hostfile", "/w/host/secret", &format!("/w/a/b/up{c}/secret"), &format!("/w/magic{c}/secret"), &format!("/proc/self/root{c}/secret"), &format!("/proc/1/root{c}/secret")].iter().enumerate() {
        let dest = out.join(format!("o{i}"));
        let _ = s.hoist(&["cp", &format!("app:{src}"), dest.to_str().unwrap()]);
        let _ = s.hoist(&["cp", "-L", &format!("app:{src}"), out.join(format!("l{i}")).to_str().unwrap()]);
    }
    assert_no_secret_in(&out);
    // `-L` follows the last link in-root: /w/magic/etc/passwd is the container's.
    s.ok(&["cp", "-L", "app:/w/root/etc/passwd", out.join("passwd").to_str().unwrap()]);
    assert!(std::fs::read_to_string(out.join("passwd")).unwrap().starts_with("root:x:0:0"));
    // Without -L a link comes out as the link; with it, as what it points to.
    s.ok(&["cp", "app:/w/root", out.join("link").to_str().unwrap()]);
    assert_eq!(std::fs::read_link(out.join("link")).unwrap(), Path::new("/"));
    canary.assert_untouched();
}

/// Paths that cross from the root filesystem into a volume and a bind mount, through
/// links of the rootfs and of the mounts.
#[test]
fn cp_across_mount_boundaries() {
    let canary = Canary::new();
    let bind = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("/", bind.path().join("esc")).unwrap();
    std::os::unix::fs::symlink("../../../..", bind.path().join("up")).unwrap();
    std::os::unix::fs::symlink(canary.path(), bind.path().join("host")).unwrap();
    let compose = format!(
        "services:\n  app:\n    image: busybox:latest\n    init: true\n    volumes: [\"data:/vol\", \"{}:/bind\"]\n    \
         command: [\"sh\", \"-c\", \"ln -s /vol /tovol && echo v > /vol/v.txt && exec sleep 3600\"]\nvolumes:\n  data: {{}}\n",
        bind.path().display()
    );
    let s = Stack::new("builtin", "hcpmounts", &compose);
    s.ok(&["up", "-d"]);
    s.write("f.txt", "payload\n");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while s.cat("app", "/vol/v.txt").is_none() {
        assert!(std::time::Instant::now() < deadline, "the container never started");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // A rootfs link into the volume lands in the volume.
    s.ok(&["cp", "f.txt", "app:/tovol/x.txt"]);
    assert_eq!(s.cat("app", "/vol/x.txt").as_deref(), Some("payload\n"));
    s.ok(&["cp", "app:/tovol/v.txt", s.path().join("v.txt").to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(s.path().join("v.txt")).unwrap(), "v\n");
    // The bind mount's own links resolve in the container: `/` and `..` are its root.
    s.ok(&["cp", "f.txt", "app:/bind/esc/tmp/e.txt"]);
    assert_eq!(s.cat("app", "/tmp/e.txt").as_deref(), Some("payload\n"));
    s.ok(&["cp", "f.txt", "app:/bind/up/tmp/u.txt"]);
    assert_eq!(s.cat("app", "/tmp/u.txt").as_deref(), Some("payload\n"));
    let _ = s.hoist(&["cp", "f.txt", "app:/bind/host/new.txt"]);
    let _ = s.hoist(&["cp", "app:/bind/host/secret", s.path().join("s.txt").to_str().unwrap()]);
    assert!(!std::fs::read_to_string(s.path().join("s.txt")).unwrap_or_default().contains(SECRET));
    canary.assert_untouched();
    // A plain file into the bind mount does reach its host directory, as with Docker.
    s.ok(&["cp", "f.txt", "app:/bind/b.txt"]);
    assert_eq!(std::fs::read_to_string(bind.path().join("b.txt")).unwrap(), "payload\n");
}

/// Runs `cmd` and returns whether it succeeded and its peak resident memory in KiB
/// (the kernel's own count for that child, from wait4).
fn peak_rss(cmd: &mut Command) -> (bool, String, i64) {
    let err = tempfile::NamedTempFile::new().unwrap();
    let child = cmd.stdout(Stdio::null()).stderr(err.reopen().unwrap()).spawn().unwrap();
    let (mut status, mut usage) = (0, unsafe { std::mem::zeroed::<libc::rusage>() });
    let r = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(r, child.id() as i32, "wait4: {}", std::io::Error::last_os_error());
    let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    (ok, std::fs::read_to_string(err.path()).unwrap(), usage.ru_maxrss)
}

fn sha256_of(path: &Path) -> String {
    let mut f = std::fs::File::open(path).unwrap();
    let (mut h, mut buf) = (Sha256::new(), vec![0u8; 1 << 20]);
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            return hex::encode(h.finalize());
        }
        h.update(&buf[..n]);
    }
}

/// A 1.5 GB file (sparse, with data at both ends) copied out of and back into a container
/// with cp's peak memory far below its size, the bytes the same.
#[test]
fn cp_streams_big_files_in_bounded_memory() {
    const LIMIT_KIB: i64 = 300 * 1024;
    let compose = "services:\n  app:\n    image: busybox:latest\n    init: true\n    volumes: [\"data:/vol\"]\n    command: sleep 3600\nvolumes:\n  data: {}\n";
    let s = Stack::new("builtin", "hcpbig", compose);
    s.ok(&["up", "-d"]);
    s.ok(&["exec", "-T", "app", "sh", "-c", "truncate -s 1500M /vol/big && echo start | dd of=/vol/big conv=notrunc 2>/dev/null && echo end | dd of=/vol/big bs=1M seek=1499 conv=notrunc 2>/dev/null"]);
    let inside = s.ok(&["exec", "-T", "app", "sha256sum", "/vol/big"]).split_whitespace().next().unwrap().to_string();

    let out = s.path().join("big.out");
    let (ok, err, rss) = peak_rss(&mut s.command(&["cp", "app:/vol/big", out.to_str().unwrap()]));
    assert!(ok, "cp out failed: {err}");
    assert!(rss < LIMIT_KIB, "cp out of the container peaked at {rss} KiB");
    assert_eq!(std::fs::metadata(&out).unwrap().len(), 1500 << 20);
    assert_eq!(sha256_of(&out), inside);

    let (ok, err, rss_in) = peak_rss(&mut s.command(&["cp", out.to_str().unwrap(), "app:/vol/big.back"]));
    std::fs::remove_file(&out).unwrap();
    assert!(ok, "cp in failed: {err}");
    assert!(rss_in < LIMIT_KIB, "cp into the container peaked at {rss_in} KiB");
    let back = s.ok(&["exec", "-T", "app", "sha256sum", "/vol/big.back"]);
    assert_eq!(back.split_whitespace().next().unwrap(), inside);
    eprintln!("peak RSS of cp of 1.5 GB: out {rss} KiB, in {rss_in} KiB");
}
