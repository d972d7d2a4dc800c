//! Hostile inputs: build contexts (and the Dockerfiles and archives in them) that try to
//! write host files through symlinks, read host files into the image, or stall the build.
//! Each plants a canary directory in a temp dir, builds on both backends and compares:
//! the host is untouched, and the build fails (or succeeds) as Docker's does.

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, symlink};
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use crate::common::stack::Stack;
use crate::common::tar::{E, tar_of};

/// A canary directory outside the context: a secret file whose content, mode and owner
/// must never change, and that must never reach an image.
struct Canary {
    dir: tempfile::TempDir,
    before: BTreeMap<String, (String, u32, u32)>,
}

impl Canary {
    fn new() -> Canary {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("secret"), format!("canary-secret-{}", std::process::id())).unwrap();
        let mut c = Canary { dir, before: BTreeMap::new() };
        c.before = c.snapshot();
        c
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn secret(&self) -> String {
        format!("canary-secret-{}", std::process::id())
    }

    fn snapshot(&self) -> BTreeMap<String, (String, u32, u32)> {
        let mut out = BTreeMap::new();
        for e in std::fs::read_dir(self.path()).unwrap().flatten() {
            let m = e.metadata().unwrap();
            let content = std::fs::read_to_string(e.path()).unwrap_or_default();
            out.insert(e.file_name().to_string_lossy().into_owned(), (content, m.mode(), m.uid()));
        }
        out
    }

    fn assert_untouched(&self) {
        assert_eq!(self.snapshot(), self.before, "the host's canary directory changed");
    }
}

/// A build context with a compose file naming one service `app` built from it.
struct Project {
    stack: Stack,
    image: String,
}

impl Project {
    fn new(backend: &'static str, name: &str) -> Project {
        let image = format!("hostile-build-{name}-{backend}-{}", std::process::id());
        let compose = format!("services:\n  app:\n    image: {image}\n    network_mode: none\n    build: .\n");
        let p = Project { stack: Stack::new(backend, &format!("hb{name}"), &compose), image };
        p.stack.hoist(&["image", "rm", "-f", &p.image]);
        p
    }

    fn path(&self) -> &Path {
        self.stack.path()
    }

    fn write(&self, rel: &str, content: &str) {
        self.stack.write(rel, content);
    }

    fn link(&self, rel: &str, target: impl AsRef<Path>) {
        let p = self.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        symlink(target, p).unwrap();
    }

    fn build(&self, dockerfile: &str) -> Output {
        self.write("Dockerfile", dockerfile);
        self.stack.hoist(&["--progress", "plain", "build", "app"])
    }

    fn built(&self, dockerfile: &str) {
        let out = self.build(dockerfile);
        assert!(out.status.success(), "the build failed:\n{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    }

    /// Fails as Docker does; returns the whole output.
    fn refused(&self, dockerfile: &str, says: &str) -> String {
        let tagged = || self.stack.hoist(&["image", "inspect", &self.image]).stdout;
        let before = tagged();
        let out = self.build(dockerfile);
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(!out.status.success(), "the build should fail:\n{text}");
        assert!(text.contains(says), "the error should say {says:?}:\n{text}");
        // The tag stays where an earlier build of the test left it (or absent), as with Docker.
        assert!(tagged() == before, "a failed build moved the tag");
        text
    }

    /// Output of a shell script in a container of the image.
    fn run(&self, script: &str) -> String {
        let out = self.stack.hoist(&["run", "--rm", "-T", "app", "sh", "-c", script]);
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        self.stack.hoist(&["image", "rm", "-f", &self.image]);
    }
}

/// Issue 16.2: `a/sub` links to a host directory, `b/sub/file` is real; `COPY a b /dest/`
/// once wrote `file` into the host directory (and chmodded it). As Docker: the link is
/// replaced by b's directory, inside the image.
fn copy_writes_through_no_planted_symlink(backend: &'static str) {
    let canary = Canary::new();
    let p = Project::new(backend, "wlink");
    p.link("a/sub", canary.path());
    p.write("b/sub/file", "payload");
    p.built("FROM busybox\nCOPY a b /dest/\n");
    canary.assert_untouched();
    let out = p.run("cat /dest/sub/file; test -d /dest/sub && ! test -L /dest/sub && echo real-dir");
    assert!(out.contains("payload") && out.contains("real-dir"), "{out}");
}

/// Issue 16.3: `hostetc` links to a host directory; `COPY hostetc/secret /x` once put
/// the host's file in the image. Docker resolves it inside the context: not found.
fn copy_reads_no_host_file(backend: &'static str) {
    let canary = Canary::new();
    let p = Project::new(backend, "rlink");
    p.link("hostetc", canary.path());
    let cases = [
        ("FROM busybox\nCOPY hostetc/secret /x\n", "not found"),
        ("FROM busybox\nCOPY hostetc /x/\n", "not found"),
        ("FROM busybox\nCOPY host*/secret /x\n", "no source files were specified"),
    ];
    for (df, says) in cases {
        let out = p.refused(df, says);
        assert!(!out.contains(&canary.secret()), "{out}");
    }
}

/// Chains of links: inside the context they are followed (an absolute target from the
/// context's top); one that climbs out ends inside, where nothing is.
fn symlink_chains_stay_in_the_context(backend: &'static str) {
    let canary = Canary::new();
    let p = Project::new(backend, "chain");
    p.write("real/t.txt", "inside");
    p.link("l1", "l2");
    p.link("l2", "/real");
    p.link("esc1", "esc2");
    p.link("esc2", format!("../../../../../../../..{}", canary.path().display()));
    p.built("FROM busybox\nCOPY l1/t.txt /ok\n");
    assert!(p.run("cat /ok").contains("inside"));
    let out = p.refused("FROM busybox\nCOPY esc1/secret /x\n", "not found");
    assert!(!out.contains(&canary.secret()));
    canary.assert_untouched();
}

/// `..` in sources is refused (as Docker's classic builder does); in destinations and
/// WORKDIR it stops at the image's root.
fn dotdot_in_sources_and_destinations(backend: &'static str) {
    let p = Project::new(backend, "dotdot");
    p.write("f", "F");
    p.refused("FROM busybox\nCOPY ../f /x\n", "forbidden path outside the build context");
    p.refused("FROM busybox\nCOPY sub/../../f /x\n", "forbidden path outside the build context");
    p.built("FROM busybox\nCOPY f ../../../up/\nWORKDIR ../../../w\n");
    let out = p.run("cat /up/f; pwd");
    assert!(out.contains("F") && out.contains("/w"), "{out}");
}

/// A hard link in the context to a file outside it is that file (Docker copies it too),
/// but `--chown` changes the image's copy, never the host's inode.
fn hard_links_in_the_context(backend: &'static str) {
    let canary = Canary::new();
    let p = Project::new(backend, "hard");
    std::fs::hard_link(canary.path().join("secret"), p.path().join("h")).unwrap();
    p.built("FROM busybox\nCOPY --chown=1:1 h /h\n");
    canary.assert_untouched();
    let out = p.run("stat -c %u:%g /h; cat /h");
    assert!(out.contains("1:1") && out.contains(&canary.secret()), "{out}");
}

/// `COPY --from` a stage whose tree links to a host directory: resolved inside the
/// stage's files, where there is nothing.
fn copy_from_a_stage_with_an_escaping_symlink(backend: &'static str) {
    let canary = Canary::new();
    let p = Project::new(backend, "from");
    let df = format!("FROM busybox AS s\nRUN ln -s {} /esc\nFROM busybox\nCOPY --from=s /esc/secret /x\n", canary.path().display());
    // Docker's classic builder words it as a stat error of its own paths.
    let out = p.refused(&df, if backend == "builtin" { "not found in stage s" } else { "" });
    assert!(!out.contains(&canary.secret()));
    canary.assert_untouched();
}

/// A link in the image (a lower layer) to a host path: COPY and WORKDIR follow it
/// inside the image, as Docker does, and the host directory stays as it was.
fn destination_symlinks_resolve_inside_the_image(backend: &'static str) {
    let canary = Canary::new();
    let p = Project::new(backend, "dlink");
    p.write("f", "F");
    let c = canary.path().display();
    p.built(&format!("FROM busybox\nRUN ln -s {c} /link\nCOPY f /link/\nWORKDIR /link/w\n"));
    canary.assert_untouched();
    let out = p.run(&format!("cat {c}/f; test -d {c}/w && echo workdir-made"));
    assert!(out.contains('F') && out.contains("workdir-made"), "{out}");
}

/// ADD unpacks local archives: `../` and `/` entries land inside the destination (as
/// Docker's chrooted extraction does); a link planted to a host directory, or a hard link
/// to a host file, fails the build.
fn add_of_a_tar_with_escaping_entries(backend: &'static str) {
    let canary = Canary::new();
    let p = Project::new(backend, "addtar");
    let c = canary.path().display().to_string();
    let write = |name: &str, data: Vec<u8>| std::fs::write(p.path().join(name), data).unwrap();
    write("inside.tar", tar_of(&[E::File("../../escape", "e"), E::File("/abs/file", "a")]));
    write("link.tar", tar_of(&[E::Symlink("l", &c), E::File("l/pwn", "x")]));
    write("rel.tar", tar_of(&[E::Symlink("l", &format!("../../../../../../../..{c}")), E::File("l/pwn", "x")]));
    let hard_target = format!("../../../../../../../..{c}/secret");
    write("hard.tar", tar_of(&[E::Link("h", &hard_target)]));
    p.built("FROM busybox\nADD inside.tar /d/\n");
    let out = p.run("cat /d/escape /d/abs/file");
    assert!(out.contains("ea"), "{out}");
    for tar in ["link", "rel", "hard"] {
        p.refused(&format!("FROM busybox\nADD {tar}.tar /d/\n"), "");
    }
    canary.assert_untouched();
}

on_both_backends!(
    copy_writes_through_no_planted_symlink,
    copy_reads_no_host_file,
    symlink_chains_stay_in_the_context,
    dotdot_in_sources_and_destinations,
    hard_links_in_the_context,
    copy_from_a_stage_with_an_escaping_symlink,
    destination_symlinks_resolve_inside_the_image,
    add_of_a_tar_with_escaping_entries,
);

/// A `.dockerignore` pattern of ten `*a` and a `*b` took 12 s per 40-character name with
/// the backtracking matcher (a build of this context: minutes). Linear matching makes it
/// instant; the bound is generous. Built-in only: the Docker backend's daemon matches.
#[test]
fn dockerignore_pathological_pattern_is_fast() {
    let p = Project::new("builtin", "ignore");
    p.write(".dockerignore", &format!("{}*b\n", "*a".repeat(10)));
    let long = "a".repeat(40);
    for i in 0..4 {
        p.write(&format!("{long}{i}"), "kept");
    }
    p.write(&format!("{long}b"), "excluded");
    let started = Instant::now();
    p.built("FROM busybox\nCOPY . /ctx/\n");
    assert!(started.elapsed() < Duration::from_secs(30), "the build took {:?}", started.elapsed());
    let out = p.run("ls /ctx");
    assert!(out.contains(&format!("{long}0")) && !out.contains(&format!("{long}b")), "{out}");
}
