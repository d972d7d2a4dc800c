//! hoist's own Dockerfile builder on the built-in runtime, end to end through the real
//! binary: multi-stage builds, every common instruction, .dockerignore, the step cache,
//! build args, failures, and `up --build`. Needs root (RUN steps are containers; CI runs
//! as root) and /usr/bin/busybox (busybox-static) for the base image.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::HOIST;

/// A busybox base image under a name no other test uses.
fn base() -> &'static str {
    static BASE: OnceLock<String> = OnceLock::new();
    BASE.get_or_init(|| {
        let name = format!("bt-busybox-{}:latest", std::process::id());
        let out = Command::new(HOIST).args(["--backend", "builtin", "image", "import"]).arg(common::busybox_tar()).arg(&name).output().unwrap();
        assert!(out.status.success(), "image import failed: {}", String::from_utf8_lossy(&out.stderr));
        name
    })
}

/// A project directory with files; removed (with its image) when dropped.
struct Project {
    dir: tempfile::TempDir,
    name: String,
    image: String,
}

impl Project {
    fn new(tag: &str, files: &[(&str, &str)]) -> Project {
        let dir = tempfile::tempdir().unwrap();
        let name = format!("bt{tag}{}", std::process::id());
        let image = format!("bt-{tag}-{}:latest", std::process::id());
        let p = Project { dir, name, image };
        for (path, content) in files {
            p.write(path, &content.replace("@BASE@", base()).replace("@IMAGE@", &p.image));
        }
        p
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn write(&self, path: &str, content: &str) {
        let p = self.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }

    fn hoist(&self, args: &[&str]) -> Output {
        let compose = self.path().join("compose.yml");
        Command::new(HOIST)
            .args(["--backend", "builtin", "--progress", "plain", "-f"])
            .arg(&compose)
            .args(["-p", &self.name])
            .args(args)
            .current_dir(self.path())
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn inspect(&self) -> Option<serde_json::Value> {
        let out = Command::new(HOIST).args(["--backend", "builtin", "image", "inspect", &self.image]).output().unwrap();
        out.status.success().then(|| serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()[0]["Config"].clone())
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = self.hoist(&["down", "--volumes"]);
        let _ = Command::new(HOIST).args(["--backend", "builtin", "image", "rm", "-f", &self.image]).output();
    }
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn ok(out: Output) -> String {
    let t = text(&out);
    assert!(out.status.success(), "hoist failed:\n{t}");
    t
}

/// Steps of a build's output: (instruction, whether it was CACHED).
fn steps(output: &str) -> Vec<(String, bool)> {
    let mut steps: Vec<(String, String, bool)> = Vec::new();
    for line in output.lines() {
        let Some(at) = line.find('#') else { continue };
        let rest = &line[at + 1..];
        let Some((n, tail)) = rest.split_once(' ') else { continue };
        if n.is_empty() || !n.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        if tail.starts_with('[') {
            let instr = tail.split_once("] ").map(|(_, i)| i.to_string()).unwrap_or_default();
            steps.push((n.to_string(), instr, false));
        } else if tail == "CACHED"
            && let Some(s) = steps.iter_mut().rev().find(|s| s.0 == n)
        {
            s.2 = true;
        }
    }
    steps.into_iter().map(|(_, i, c)| (i, c)).collect()
}

/// Whether a RUN printed `line` (a `#N line` output line, not a step header).
fn printed(output: &str, line: &str) -> bool {
    output.lines().any(|l| l.trim_end().ends_with(&format!(" {line}")) && !l.contains("] "))
}

fn cached(steps: &[(String, bool)], prefix: &str) -> bool {
    let s = steps.iter().find(|(i, _)| i.starts_with(prefix)).unwrap_or_else(|| panic!("no step {prefix} in {steps:?}"));
    s.1
}

const MULTI_STAGE: &str = r#"# syntax=docker/dockerfile:1
ARG BASE
FROM ${BASE} AS builder
ARG VERSION=1.0
ENV BUILD_DIR=/build
WORKDIR $BUILD_DIR
COPY src/ ./src/
RUN echo "version ${VERSION}" > version.txt \
 && cat src/a.txt >> version.txt
RUN ["/bin/sh", "-c", "echo exec-form > exec.txt"]

# the final stage
FROM ${BASE}
ARG VERSION
LABEL org.example.version=$VERSION "org.example.name"="demo app"
ENV GREETING="hello world" APP_HOME=/app
WORKDIR ${APP_HOME}
COPY --from=builder /build/version.txt /build/exec.txt ./
COPY files/one.txt single.txt
COPY files/*.md docs/
COPY files/ ./files/
COPY --chown=nobody:nogroup files/one.txt owned.txt
ADD bundle.tar.gz /opt/bundle/
RUN echo build-says-hi && echo "${VERSION:-none}" > /arg.txt
EXPOSE 8080 9090/udp
VOLUME /data
USER nobody
STOPSIGNAL SIGINT
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["echo \"$GREETING from $(id -u) in $(pwd)\""]
"#;

fn multi_stage_project() -> Project {
    let p = Project::new(
        "multi",
        &[
            ("Dockerfile", MULTI_STAGE),
            // `run` does not create the project network: the service needs none.
            ("compose.yml", "services:\n  app:\n    image: @IMAGE@\n    network_mode: none\n    build:\n      context: .\n      args:\n        BASE: @BASE@\n"),
            (".dockerignore", "files/secret.txt\n**/*.log\n"),
            ("src/a.txt", "from-src\n"),
            ("files/one.txt", "one\n"),
            ("files/a.md", "A\n"),
            ("files/b.md", "B\n"),
            ("files/secret.txt", "do not copy\n"),
            ("files/debug.log", "noise\n"),
            ("bundle/inner/hello.txt", "bundled\n"),
        ],
    );
    let st = Command::new("tar").arg("-C").arg(p.path().join("bundle")).arg("-czf").arg(p.path().join("bundle.tar.gz")).arg("inner").status().unwrap();
    assert!(st.success());
    p
}

#[test]
fn multi_stage_build_runs_with_its_config_and_caches_steps() {
    let p = multi_stage_project();
    let first = ok(p.hoist(&["build", "--build-arg", "VERSION=2.5"]));
    assert!(printed(&first, "build-says-hi"), "RUN output is streamed:\n{first}");
    assert!(!steps(&first).iter().any(|(_, c)| *c), "a first build has nothing cached:\n{first}");

    let cfg = p.inspect().expect("the image is tagged");
    assert_eq!(cfg["user"], "nobody");
    assert_eq!(cfg["working_dir"], "/app");
    assert_eq!(cfg["stop_signal"], "SIGINT");
    assert_eq!(cfg["entrypoint"], serde_json::json!(["/bin/sh", "-c"]));
    assert_eq!(cfg["exposed_ports"], serde_json::json!(["8080/tcp", "9090/udp"]));
    assert_eq!(cfg["volumes"], serde_json::json!(["/data"]));
    assert_eq!(cfg["labels"]["org.example.version"], "2.5");
    assert_eq!(cfg["labels"]["org.example.name"], "demo app");
    let env: Vec<String> = serde_json::from_value(cfg["env"].clone()).unwrap();
    assert!(env.contains(&"GREETING=hello world".to_string()), "{env:?}");
    assert!(!env.iter().any(|e| e.starts_with("VERSION=")), "ARGs are not kept in the image: {env:?}");

    // The default command: ENTRYPOINT + CMD, as USER nobody in WORKDIR.
    let out = ok(p.hoist(&["run", "--rm", "-T", "app"]));
    assert!(out.contains("hello world from 65534 in /app"), "{out}");

    let script = "cat version.txt exec.txt single.txt /arg.txt; ls docs files; stat -c owner=%u:%g owned.txt; cat /opt/bundle/inner/hello.txt; ls src 2>&1 || true";
    let out = ok(p.hoist(&["run", "--rm", "-T", "app", script]));
    for want in ["version 2.5\nfrom-src\n", "exec-form\n", "one\n", "2.5\n", "a.md\nb.md\n", "owner=65534:65534", "bundled\n"] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
    assert!(out.contains("one.txt") && !out.contains("secret.txt") && !out.contains("debug.log"), ".dockerignore is honoured:\n{out}");
    assert!(out.contains("No such file"), "the builder stage's sources stay out of the final image:\n{out}");

    // Nothing changed: every file step comes from the cache and no RUN runs.
    let second = ok(p.hoist(&["build", "--build-arg", "VERSION=2.5"]));
    let s = steps(&second);
    for (instr, was_cached) in s.iter().filter(|(i, _)| i.starts_with("RUN") || i.starts_with("COPY") || i.starts_with("ADD")) {
        assert!(was_cached, "{instr} should be CACHED:\n{second}");
    }
    assert!(!printed(&second, "build-says-hi"), "{second}");

    // A changed source file rebuilds from its COPY on.
    p.write("files/one.txt", "one, changed\n");
    let third = ok(p.hoist(&["build", "--build-arg", "VERSION=2.5"]));
    let s = steps(&third);
    assert!(cached(&s, "COPY --from=builder"), "{third}");
    assert!(!cached(&s, "COPY files/one.txt single.txt"), "{third}");
    assert!(!cached(&s, "RUN echo build-says-hi"), "{third}");
    assert!(printed(&third, "build-says-hi"), "{third}");
    let out = ok(p.hoist(&["run", "--rm", "-T", "app", "cat single.txt"]));
    assert!(out.contains("one, changed"), "{out}");

    // Another build arg value misses the cache of the steps that use it.
    let fourth = ok(p.hoist(&["build", "--build-arg", "VERSION=3.0"]));
    let s = steps(&fourth);
    assert!(cached(&s, "COPY src/"), "{fourth}");
    assert!(!cached(&s, "RUN echo \"version"), "{fourth}");
    let out = ok(p.hoist(&["run", "--rm", "-T", "app", "cat version.txt"]));
    assert!(out.contains("version 3.0"), "{out}");

    // --no-cache runs everything again.
    let fifth = ok(p.hoist(&["build", "--no-cache", "--build-arg", "VERSION=3.0"]));
    assert!(!steps(&fifth).iter().any(|(_, c)| *c), "{fifth}");
}

#[test]
fn failing_run_reports_exit_code_and_leaves_no_tag() {
    let p = Project::new(
        "fail",
        &[
            ("Dockerfile", "FROM @BASE@\nRUN echo about-to-fail && exit 3\nCMD [\"true\"]\n"),
            ("compose.yml", "services:\n  app:\n    image: @IMAGE@\n    build: .\n"),
        ],
    );
    let out = p.hoist(&["build"]);
    let t = text(&out);
    assert!(!out.status.success(), "{t}");
    assert!(t.contains("Dockerfile:2: RUN echo about-to-fail && exit 3 failed with exit code 3"), "{t}");
    assert!(t.contains("about-to-fail"), "the output is in the message:\n{t}");
    assert!(p.inspect().is_none(), "no image is tagged after a failed build");
}

#[test]
fn bad_instruction_names_its_line() {
    let p = Project::new(
        "bad",
        &[("Dockerfile", "FROM @BASE@\n\nFORM nothing\n"), ("compose.yml", "services:\n  app:\n    image: @IMAGE@\n    build: .\n")],
    );
    let out = p.hoist(&["build"]);
    let t = text(&out);
    assert!(!out.status.success(), "{t}");
    assert!(t.contains("Dockerfile:3: unknown instruction FORM"), "{t}");
}

#[test]
fn up_build_builds_and_runs_the_service() {
    let p = Project::new(
        "up",
        &[
            ("Dockerfile", "FROM @BASE@\nCOPY hello.txt /hello.txt\nCMD [\"cat\", \"/hello.txt\"]\n"),
            ("hello.txt", "hello from up --build\n"),
            ("compose.yml", "services:\n  web:\n    image: @IMAGE@\n    build: .\n"),
        ],
    );
    ok(p.hoist(&["up", "-d", "--build"]));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let logs = text(&p.hoist(&["logs", "web"]));
        if logs.contains("hello from up --build") {
            break;
        }
        assert!(Instant::now() < deadline, "the service never printed its file:\n{logs}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn target_builds_only_the_stages_it_needs_and_scratch_works() {
    let p = Project::new(
        "tgt",
        &[
            (
                "Dockerfile",
                "FROM @BASE@ AS base\nSHELL [\"/bin/sh\", \"-ec\"]\nRUN echo shell-form > /s.txt\nCMD cat /s.txt\n\n\
                 FROM base AS broken\nRUN exit 7\n\n\
                 FROM scratch AS mini\nCOPY --from=base /bin/busybox /bin/busybox\nCMD [\"/bin/busybox\", \"echo\", \"from-scratch\"]\n",
            ),
            (
                "compose.yml",
                "services:\n  base:\n    image: @IMAGE@-base\n    network_mode: none\n    build:\n      context: .\n      target: base\n  \
                 mini:\n    image: @IMAGE@\n    network_mode: none\n    build:\n      context: .\n      target: mini\n",
            ),
        ],
    );
    let out = ok(p.hoist(&["build"]));
    assert!(!out.contains("exit 7"), "the broken stage is not needed by any target:\n{out}");
    let base = ok(p.hoist(&["run", "--rm", "-T", "base"]));
    assert!(base.contains("shell-form"), "CMD in shell form goes through SHELL:\n{base}");
    let mini = ok(p.hoist(&["run", "--rm", "-T", "mini"]));
    assert!(mini.contains("from-scratch"), "{mini}");
    let _ = Command::new(HOIST).args(["--backend", "builtin", "image", "rm", "-f", &format!("{}-base", p.image)]).output();
}

/// HEALTHCHECK is recorded in the image and runs for a service that sets none.
#[test]
fn image_healthcheck_applies_to_the_service() {
    let p = Project::new(
        "health",
        &[
            ("Dockerfile", "FROM @BASE@\nHEALTHCHECK --interval=1s --timeout=2s --retries=2 CMD test -f /tmp/ready\nCMD [\"sh\", \"-c\", \"touch /tmp/ready; sleep 3600\"]\n"),
            ("compose.yml", "services:\n  web:\n    image: @IMAGE@\n    network_mode: none\n    init: true\n    build: .\n"),
        ],
    );
    ok(p.hoist(&["up", "-d", "--build"]));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ps = text(&p.hoist(&["ps"]));
        if ps.contains("(healthy)") {
            break;
        }
        assert!(Instant::now() < deadline, "the image's healthcheck never made the service healthy:\n{ps}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// A build killed during a RUN step leaves its scratch directory (the RUN container and
/// its overlay, staged files); the next build stops that container and removes it all.
#[test]
fn scratch_of_a_killed_build_is_reclaimed() {
    let compose = "services:\n  app:\n    image: @IMAGE@\n    network_mode: none\n    build: .\n";
    let p = Project::new("kill", &[("Dockerfile", "FROM @BASE@\nRUN echo run-started && sleep 600\n"), ("compose.yml", compose)]);
    let scratch_root = Path::new(&std::env::var("HOIST_ROOT").unwrap_or_else(|_| "/var/lib/hoist".into())).join("images/tmp/build");
    let log = p.path().join("build.log");
    let mut child = Command::new(HOIST)
        .args(["--backend", "builtin", "--progress", "plain", "-f"])
        .arg(p.path().join("compose.yml"))
        .args(["-p", &p.name, "build"])
        .current_dir(p.path())
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::File::create(p.path().join("build.err")).unwrap())
        .spawn()
        .unwrap();
    // The step's output goes to stdout or stderr depending on the progress mode.
    let output = || std::fs::read_to_string(&log).unwrap_or_default() + &std::fs::read_to_string(p.path().join("build.err")).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !output().contains("run-started") {
        assert!(Instant::now() < deadline, "the RUN step never started:\n{}", output());
        std::thread::sleep(Duration::from_millis(100));
    }
    let mine = format!("{}-", child.id());
    let scratch = std::fs::read_dir(&scratch_root).unwrap().flatten().map(|e| e.path()).find(|d| d.file_name().unwrap().to_string_lossy().starts_with(&mine));
    let scratch = scratch.expect("the build's scratch directory is named after its pid");
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(scratch.exists(), "a killed build cannot clean up after itself");

    let next = Project::new("next", &[("Dockerfile", "FROM @BASE@\nCMD [\"true\"]\n"), ("compose.yml", compose)]);
    ok(next.hoist(&["build"]));
    assert!(!scratch.exists(), "the next build reclaims what the killed one left (its RUN container stopped, mounts undone)");
}

/// An image whose layers repeat (two steps that made the same diff) builds FROM it, and
/// COPY --from it: the stage's overlay and the read-only view list the layer once, as
/// overlayfs wants (issue 17.3).
#[test]
fn an_image_with_a_repeated_layer_builds_from_it() {
    use common::tar::{E, save_archive, tar_of};
    let dir = tempfile::tempdir().unwrap();
    let repeated = format!("bt-repeated-{}:1", std::process::id());
    // A layer no other test has: the store must unpack it here.
    let marker = format!("repeated {repeated} {:?}", Instant::now());
    let app = tar_of(&[E::Dir("app/"), E::File("app/f", &marker)]);
    let busybox = std::fs::read(common::busybox_tar()).unwrap();
    let archive = save_archive(dir.path(), &[&busybox, &app, &app], &[&repeated], false);
    let loaded = Command::new(HOIST).args(["--backend", "builtin", "image", "load", "-i"]).arg(&archive).output().unwrap();
    assert!(loaded.status.success(), "{}", String::from_utf8_lossy(&loaded.stderr));
    let p = Project::new(
        "rep",
        &[
            ("Dockerfile", &format!("FROM {repeated}\nCOPY x /x\nRUN cat /app/f /x > /both\nFROM @BASE@\nCOPY --from={repeated} /app/f /copied\nCOPY --from=0 /both /both\nCMD cat /copied /both\n")),
            ("x", "context-file\n"),
            ("compose.yml", "services:\n  app:\n    image: @IMAGE@\n    network_mode: none\n    build: .\n"),
        ],
    );
    ok(p.hoist(&["build"]));
    let out = ok(p.hoist(&["run", "--rm", "-T", "app"]));
    assert!(out.contains(&format!("{marker}{marker}context-file\n")), "{out}");
    let _ = Command::new(HOIST).args(["--backend", "builtin", "image", "rm", "-f", &repeated]).output();
}
