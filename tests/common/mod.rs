//! Helpers the end-to-end tests share: the binary under test and a busybox image.
#![allow(dead_code)]

pub mod stack;

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
        // One copy for every test binary and run, built aside and renamed into place.
        let shared = std::env::temp_dir().join("hoist-it-rootfs");
        if shared.join("busybox.tar").exists() {
            return shared.join("busybox.tar");
        }
        let dir = std::env::temp_dir().join(format!("hoist-it-rootfs.{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
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
        match std::fs::rename(&dir, &shared) {
            Ok(()) => shared.join("busybox.tar"),
            // Another test binary got there first.
            Err(_) if shared.join("busybox.tar").exists() => {
                let _ = std::fs::remove_dir_all(&dir);
                shared.join("busybox.tar")
            }
            Err(_) => tar,
        }
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
