//! Helpers the end-to-end tests share: the binary under test and a busybox image.
#![allow(dead_code)]

pub mod stack;
pub mod tar;
pub mod tmux;

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

pub const HOIST: &str = env!("CARGO_BIN_EXE_hoist");

/// Imports `busybox:latest` (from the busybox-static package) into the backend, once.
pub fn ensure_busybox(backend: &'static str) {
    static DOCKER: OnceLock<()> = OnceLock::new();
    static BUILTIN: OnceLock<()> = OnceLock::new();
    let cell = if backend == "docker" { &DOCKER } else { &BUILTIN };
    cell.get_or_init(|| {
        let tar = busybox_tar();
        let out = Command::new(HOIST).args(["--backend", backend, "image", "import"]).arg(&tar).arg("busybox:latest").output().unwrap();
        assert!(out.status.success(), "image import failed: {}", String::from_utf8_lossy(&out.stderr));
    });
}

pub fn busybox_tar() -> PathBuf {
    static TAR: OnceLock<PathBuf> = OnceLock::new();
    TAR.get_or_init(|| {
        // One copy per test binary: the image tests need a layer no other binary has
        // (a pull must really download it). Copies left by binaries that have ended are
        // removed here, so runs do not pile them up in /tmp.
        let tmp = std::env::temp_dir();
        for e in std::fs::read_dir(&tmp).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(pid) = name.strip_prefix("hoist-it-rootfs-").and_then(|p| p.parse::<u32>().ok())
                && !std::path::Path::new(&format!("/proc/{pid}")).exists()
            {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
        let dir = tmp.join(format!("hoist-it-rootfs-{}", std::process::id()));
        let root = dir.join("rootfs");
        for d in ["bin", "etc", "tmp", "root"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        std::fs::copy("/usr/bin/busybox", root.join("bin/busybox")).expect("busybox-static is installed");
        let list = Command::new("/usr/bin/busybox").arg("--list").output().unwrap();
        for applet in String::from_utf8_lossy(&list.stdout).lines() {
            if applet != "busybox" {
                let _ = std::os::unix::fs::symlink("busybox", root.join("bin").join(applet));
            }
        }
        std::fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n").unwrap();
        std::fs::write(root.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n").unwrap();
        let tar = dir.join("busybox.tar");
        let st = Command::new("tar").arg("-C").arg(&root).arg("-cf").arg(&tar).arg(".").status().unwrap();
        assert!(st.success());
        tar
    })
    .clone()
}


/// `on_both_backends!(a, b)`: tests `docker::a`, `builtin::a`, … calling `a("docker")`
/// and `a("builtin")` (the test file says `#[macro_use] mod common;`).
#[allow(unused_macros)]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod docker {
            $(#[test] fn $name() { super::$name("docker") })*
        }
        mod builtin {
            $(#[test] fn $name() { super::$name("builtin") })*
        }
    };
}

/// Asserts that a command failed and that its stderr holds every fragment.
pub fn assert_refused(out: &std::process::Output, fragments: &[&str]) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "accepted: {err}");
    for f in fragments {
        assert!(err.contains(f), "error lacks {f:?}: {err}");
    }
}

/// Builds the C program `tests/<src>` statically with gcc into a fresh folder of this
/// process (`<tmp>/hoist-<tag>-<pid>/<name>`) and returns the folder.
pub fn static_c_program(src: &str, tag: &str, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hoist-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join(src);
    let out = Command::new("gcc").args(["-static", "-O1", "-o"]).arg(dir.join(name)).arg(&src).output().expect("gcc is installed");
    assert!(out.status.success(), "building {}: {}", src.display(), String::from_utf8_lossy(&out.stderr));
    dir
}
