//! End-to-end tests: the real `hoist` binary against real containers, on each backend.
//! Needs root and, for the Docker backend, a running dockerd (`.ci/run` starts one).
//! Each test uses its own project name and removes what it made, also on failure.

use std::process::Command;
use std::time::{Duration, Instant};

#[macro_use]
mod common;

use common::stack::Stack;
use common::HOIST;

fn up_ps_logs_down(b: &'static str) {
    let s = Stack::new(b, "basic", "services:\n  app:\n    image: busybox:latest\n    init: true\n    command: sh -c 'echo hello-$$HOSTNAME; echo ENV=$$GREETING; sleep 3600'\n    environment:\n      GREETING: hi\n");
    s.ok(&["up", "-d"]);
    let out = s.wait_log("app", "ENV=hi");
    assert!(out.contains("app-1  | hello-"), "{out}");
    assert_eq!(s.ps_q(&[]).len(), 1);
    let ps = s.ok(&["ps"]);
    assert!(ps.contains(&format!("{}-app-1", s.project)) && ps.contains("Up"), "{ps}");
    let json = s.ok(&["ps", "--format", "json"]);
    // One object per line, as Compose prints them.
    let rows: Vec<serde_json::Value> = json.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 1, "{json}");
    assert_eq!(rows[0]["Service"], "app");
    assert_eq!(rows[0]["State"], "running");
    // A second up changes nothing.
    let out = s.hoist(&["up", "-d"]);
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("Recreate"));
    s.ok(&["down"]);
    assert!(s.ps_q(&["-a"]).is_empty());
}

fn exec_and_run(b: &'static str) {
    let s = Stack::new(b, "exec", "services:\n  app:\n    image: busybox:latest\n    init: true\n    command: sleep 3600\n    environment:\n      FOO: bar\n");
    s.ok(&["up", "-d"]);
    assert_eq!(s.ok(&["exec", "-T", "app", "sh", "-c", "echo $FOO"]).trim(), "bar");
    let out = s.hoist(&["exec", "-T", "app", "sh", "-c", "exit 3"]);
    assert_eq!(out.status.code(), Some(3));
    let out = s.hoist(&["run", "--rm", "-T", "app", "sh", "-c", "echo one-off; exit 5"]);
    assert_eq!(out.status.code(), Some(5), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("one-off"));
    assert_eq!(s.ps_q(&["-a"]).len(), 1, "run --rm left its container");
}

fn scale_numbers(b: &'static str) {
    let s = Stack::new(b, "scale", "services:\n  web:\n    image: busybox:latest\n    init: true\n    command: sleep 3600\n");
    s.ok(&["up", "-d", "--scale", "web=3"]);
    assert_eq!(s.ps_q(&["web"]).len(), 3);
    // `ps --format json`: one object per line, by name, as Compose.
    let names: Vec<String> = s.ok(&["ps", "--format", "json"]).lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["Name"].as_str().unwrap().to_string()).collect();
    assert_eq!(names, (1..=3).map(|n| format!("{}-web-{n}", s.project)).collect::<Vec<_>>());
    s.ok(&["scale", "web=1"]);
    let ps = s.ok(&["ps"]);
    assert!(ps.contains(&format!("{}-web-1", s.project)) && !ps.contains(&format!("{}-web-2", s.project)), "{ps}");
    s.ok(&["stop"]);
    assert_eq!(s.ok(&["ps", "--format", "json"]), "", "no running container: nothing printed");
}

fn recreate_keeps_anonymous_volume(b: &'static str) {
    let compose = |cmd: &str| format!("services:\n  db:\n    image: busybox:latest\n    init: true\n    command: sh -c '{cmd}'\n    volumes:\n      - /data\n");
    let s = Stack::new(b, "recreate", &compose("echo kept > /data/f; echo FIRST; sleep 3600"));
    s.ok(&["up", "-d"]);
    s.wait_log("db", "FIRST");
    std::fs::write(s.path().join("docker-compose.yml"), compose("echo GOT=$$(cat /data/f); sleep 3600")).unwrap();
    s.ok(&["up", "-d"]);
    s.wait_log("db", "GOT=kept");
}

fn depends_on_completed(b: &'static str) {
    let s = Stack::new(b, "completed", "services:\n  init:\n    image: busybox:latest\n    command: sh -c 'exit 7'\n  app:\n    image: busybox:latest\n    command: sleep 1\n    depends_on:\n      init:\n        condition: service_completed_successfully\n");
    let err = s.fails(&["up", "-d"]);
    assert!(err.contains("didn't complete successfully: exit 7"), "{err}");
}

fn missing_image_creates_nothing(b: &'static str) {
    let s = Stack::new(b, "noimage", "services:\n  a:\n    image: busybox:latest\n    command: sleep 1\n  b:\n    image: hoist-test/does-not-exist:1\n    pull_policy: never\n");
    let err = s.fails(&["up", "-d"]);
    assert!(err.contains("hoist-test/does-not-exist:1"), "{err}");
    assert!(s.ps_q(&["-a"]).is_empty(), "containers were created");
}

fn port_in_use_creates_nothing(b: &'static str) {
    let listener = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let s = Stack::new(b, "portinuse", &format!("services:\n  web:\n    image: busybox:latest\n    command: sleep 3600\n    ports:\n      - \"{port}:80\"\n"));
    let err = s.fails(&["up", "-d"]);
    assert!(err.contains("already allocated") || err.contains("in use"), "{err}");
    assert!(s.ps_q(&["-a"]).is_empty(), "containers were created");
}

fn stop_start_kill(b: &'static str) {
    let s = Stack::new(b, "stopstart", "services:\n  app:\n    image: busybox:latest\n    init: true\n    command: sh -c 'echo started; sleep 3600'\n");
    s.ok(&["up", "-d"]);
    s.ok(&["stop", "-t", "2"]);
    assert!(s.ps_q(&[]).is_empty());
    assert_eq!(s.ps_q(&["-a"]).len(), 1);
    s.ok(&["start"]);
    assert_eq!(s.ps_q(&[]).len(), 1);
    s.ok(&["restart", "-t", "2"]);
    assert_eq!(s.ps_q(&[]).len(), 1);
    s.ok(&["kill"]);
    assert!(s.ps_q(&[]).is_empty());
    s.ok(&["rm", "-f"]);
    assert!(s.ps_q(&["-a"]).is_empty());
    // `kill --remove-orphans` also removes the containers of services the file dropped.
    let two = "services:\n  app:\n    image: busybox:latest\n    init: true\n    command: sleep 3600\n  gone:\n    image: busybox:latest\n    init: true\n    command: sleep 3600\n";
    s.write("docker-compose.yml", two);
    s.ok(&["up", "-d"]);
    s.write("docker-compose.yml", "services:\n  app:\n    image: busybox:latest\n    init: true\n    command: sleep 3600\n");
    s.ok(&["kill", "--remove-orphans"]);
    assert_eq!(s.ps_q(&["-a"]).len(), 1, "the orphan is still there");
}

fn other_commands(b: &'static str) {
    let s = Stack::new(b, "others", "services:\n  web:\n    image: busybox:latest\n    init: true\n    command: sh -c 'mkdir -p /www && echo ok > /www/index.html && httpd -f -p 80 -h /www'\n    ports:\n      - \"127.0.0.1::80\"\n");
    s.ok(&["create"]);
    assert_eq!(s.ps_q(&["-a"]).len(), 1);
    assert!(s.ps_q(&[]).is_empty(), "create started the container");
    s.ok(&["start"]);
    let addr = s.ok(&["port", "web", "80"]).trim().to_string();
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    let top = s.ok(&["top"]);
    assert!(top.contains("httpd"), "{top}");
    let images = s.ok(&["images"]);
    assert!(images.contains("busybox"), "{images}");
    let ls = s.ok(&["ls"]);
    assert!(ls.contains(&s.project), "{ls}");
    s.ok(&["pause"]);
    assert!(s.ok(&["ps", "--format", "json"]).contains("paused"));
    s.ok(&["unpause"]);
    assert!(s.ok(&["ps", "--format", "json"]).contains("running"));
    assert_eq!(s.ok(&["ps", "--format", "{{.Service}} {{.State}}"]).trim(), "web running");
    assert!(s.ok(&["completion", "bash"]).contains("_hoist"));
    assert!(s.ok(&["man"]).contains(".TH hoist 1"));
    // Compose's forms: `<name> version v<semver>`, {"version":"v<semver>"}, the bare number.
    let v = env!("CARGO_PKG_VERSION");
    assert_eq!(s.ok(&["version"]), format!("hoist version v{v}\n"));
    assert_eq!(s.ok(&["version", "--format", "json"]), format!("{{\"version\":\"v{v}\"}}\n"));
    assert_eq!(s.ok(&["version", "--short"]), format!("{v}\n"));
    assert!(s.fails(&["version", "--format", "yaml"]).contains("use pretty or json"));
    assert_eq!(s.ok(&["config", "--services"]).trim(), "web");
    let err = s.fails(&["pull", "--ignore-pull-failures", "nosuchservice"]);
    assert!(err.contains("nosuchservice"), "{err}");
}

/// Several shells running `up` / `scale` on one project at once take turns (project
/// lock): no command fails on a name clash and the project ends at the last scale.
fn concurrent_commands(b: &'static str) {
    let s = Stack::new(b, "concurrent", "services:\n  app:\n    image: busybox:latest\n    init: true\n    command: sleep 3600\n  other:\n    image: busybox:latest\n    init: true\n    command: sleep 3600\n");
    let spawn = |args: &[&str]| {
        Command::new(HOIST)
            .args(["--backend", s.backend, "-p", &s.project])
            .args(args)
            .current_dir(s.path())
            .env_remove("DOCKER_HOST")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let children: Vec<_> = (0..4).map(|_| spawn(&["up", "-d", "--scale", "app=3"])).collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "concurrent up failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    assert_eq!(s.ps_q(&[]).len(), 4);
    let names = s.ok(&["ps", "--format", "json"]);
    for n in 1..=3 {
        assert!(names.contains(&format!("{}-app-{n}", s.project)), "{names}");
    }
    let a = spawn(&["scale", "app=1"]);
    let b2 = spawn(&["up", "-d", "--scale", "app=1"]);
    for child in [a, b2] {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    assert_eq!(s.ps_q(&[]).len(), 2);
}

/// The image-from-source path of a project: `build:` + `image:` in a private registry →
/// `build` → `push` → local image removed → `pull` → `up` runs what the Dockerfile put in
/// place; a second build reuses its cache. Needs the `docker-registry` package.
fn build_push_pull_up(b: &'static str) {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let cfg = dir.path().join("registry.yml");
    std::fs::write(&cfg, format!("version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n", dir.path().join("data").display())).unwrap();
    let mut registry = Command::new("docker-registry").arg("serve").arg(&cfg).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().expect("docker-registry is installed");
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(start.elapsed() < Duration::from_secs(10), "docker-registry did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let image = format!("127.0.0.1:{port}/demo/app{b}:1");
    let s = Stack::new(b, "buildpush", &format!("services:\n  app:\n    build: ./app\n    image: {image}\n"));
    std::fs::create_dir_all(s.path().join("app")).unwrap();
    std::fs::write(s.path().join("app/message"), "from-the-dockerfile\n").unwrap();
    std::fs::write(
        s.path().join("app/Dockerfile"),
        "FROM busybox:latest\nENV GREETING=hello\nWORKDIR /srv\nCOPY message .\nRUN echo \"$GREETING built\" > built\nEXPOSE 8080\nCMD [\"sh\", \"-c\", \"cat /srv/message /srv/built; pwd\"]\n",
    )
    .unwrap();
    s.ok(&["build"]);
    let again = s.hoist(&["--progress", "plain", "build"]);
    let text = format!("{}{}", String::from_utf8_lossy(&again.stdout), String::from_utf8_lossy(&again.stderr));
    assert!(again.status.success() && (text.contains("CACHED") || text.contains("Using cache")), "{text}");
    // -q: nothing said; --include-deps: the service has none, so the same push.
    let pushed = s.hoist(&["--progress", "plain", "push", "-q", "--include-deps"]);
    assert!(pushed.status.success() && !String::from_utf8_lossy(&pushed.stderr).contains("Push"), "{}", String::from_utf8_lossy(&pushed.stderr));
    let rm = Command::new(HOIST).args(["--backend", b, "image", "rm", &image]).output().unwrap();
    assert!(rm.status.success(), "{}", String::from_utf8_lossy(&rm.stderr));
    s.ok(&["pull"]);
    s.ok(&["up", "-d"]);
    let out = s.wait_log("app", "hello built");
    assert!(out.contains("from-the-dockerfile") && out.contains("/srv"), "{out}");
    drop(s);
    let _ = Command::new(HOIST).args(["--backend", b, "image", "rm", &image]).output();
    let _ = registry.kill();
    let _ = registry.wait();
}

/// The spellings people bring from Docker Compose: `exec -it`, `--interactive=false`,
/// `run -P --cap-add --cap-drop -l`, `run -d` printing the ID; a Compose flag hoist lacks
/// is refused with its reason and exit 1, as Compose exits on a bad flag.
fn compose_spellings(b: &'static str) {
    let s = Stack::new(b, "spell", "services:\n  app:\n    image: busybox:latest\n    init: true\n    command: sleep 3600\n    environment:\n      FOO: bar\n    ports: ['127.0.0.1::80']\n");
    s.ok(&["up", "-d"]);
    assert_eq!(s.ok(&["exec", "-it", "app", "sh", "-c", "echo $FOO"]).trim(), "bar");
    assert_eq!(s.ok(&["exec", "--no-tty", "-i", "app", "cat"]).trim(), "");
    let out = s.command(&["exec", "--interactive=false", "app", "sh", "-c", "cat; echo done"]).stdin(std::process::Stdio::piped()).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "done", "stdin was not closed");
    // Docker's default set, with NET_ADMIN (bit 12) added and CHOWN (bit 0) dropped.
    let caps = s.ok(&["run", "--rm", "-T", "--cap-add", "NET_ADMIN", "--cap-drop", "CHOWN", "-l", "x.spell=1", "app", "grep", "CapEff", "/proc/self/status"]);
    assert_eq!(caps.split_whitespace().last(), Some("00000000a80435fa"), "{caps}");
    let ports = s.ok(&["run", "--rm", "-T", "-P", "app", "true"]);
    assert!(ports.is_empty(), "{ports}");
    let id = s.ok(&["run", "-d", "-l", "x.spell=1", "app", "sleep", "60"]);
    let id = id.trim();
    assert!(id.len() >= 12 && id.bytes().all(|c| c.is_ascii_hexdigit()), "run -d printed {id:?}, not an ID");
    let out = s.hoist(&["up", "--menu"]);
    assert_eq!(out.status.code(), Some(1));
    common::assert_refused(&out, &["`hoist up --menu` is Docker Compose's", "no interactive navigation menu"]);
    let out = s.hoist(&["up", "--no-such-flag"]);
    assert_eq!(out.status.code(), Some(1), "a bad flag exits 1, as with Compose");
    let out = s.hoist(&["publish", "repo/app:1"]);
    assert_eq!(out.status.code(), Some(1));
    common::assert_refused(&out, &["`hoist publish` is Docker Compose's", "OCI artifact"]);
    s.ok(&["down"]);
}

/// The `COMPOSE_*` variables scripts set, and `down` leaving what an orphan still uses.
fn compose_environment(b: &'static str) {
    let both = "services:\n  a:\n    image: busybox:latest\n    init: true\n    command: sleep 3600\n  b:\n    image: busybox:latest\n    init: true\n    command: sleep 3600\n";
    let s = Stack::new(b, "envvars", both);
    s.set_env("COMPOSE_PARALLEL_LIMIT", "-1");
    s.set_env("COMPOSE_PROGRESS", "json");
    s.set_env("COMPOSE_STATUS_STDOUT", "1");
    let out = s.hoist(&["up", "-d"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.lines().any(|l| l.starts_with('{') && l.contains("\"status\":\"Started\"")), "progress not as JSON on stdout: {stdout}");
    // b becomes an orphan: reported, not when COMPOSE_IGNORE_ORPHANS is set.
    s.write("docker-compose.yml", "services:\n  a:\n    image: busybox:latest\n    init: true\n    command: sleep 3600\n");
    s.set_env("COMPOSE_PROGRESS", "plain");
    s.set_env("COMPOSE_IGNORE_ORPHANS", "true");
    assert!(!s.ok(&["up", "-d"]).contains("orphan"));
    s.set_env("COMPOSE_IGNORE_ORPHANS", "false");
    assert!(s.ok(&["up", "-d"]).contains("Found orphan containers"));
    // `down` removes a; b keeps the network: a warning, and success.
    let out = s.hoist(&["down"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "down failed while an orphan holds the network: {}{text}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains(&format!("Network {}_default  Resource is still in use", s.project)), "{text}");
    assert_eq!(s.ps_q(&["-a"]).len(), 1, "a was not removed, or the orphan b was");
    // COMPOSE_REMOVE_ORPHANS: the orphan goes with the next `down`, and the network too.
    s.set_env("COMPOSE_REMOVE_ORPHANS", "1");
    let text = s.ok(&["down"]);
    assert!(text.contains(&format!("Network {}_default  Removed", s.project)), "{text}");
}

/// `down -v` removes the file's own volumes, as Compose: not one that left the file or
/// became `external`, even with the project's label (its data is kept).
fn down_v_removes_only_the_files_volumes(b: &'static str) {
    let s = Stack::new(
        b,
        "downvols",
        "services:\n  a:\n    image: busybox:latest\n    init: true\n    command: sleep 3600\n    volumes: [keep:/k, gone:/g, ext:/e]\nvolumes:\n  keep: {}\n  gone: {}\n  ext: {}\n",
    );
    s.ok(&["up", "-d"]);
    let volumes = || {
        let mut v: Vec<String> = s.ok(&["volume", "ls", "-q"]).lines().map(str::to_string).filter(|n| n.starts_with(&s.project)).collect();
        v.sort();
        v
    };
    let p = &s.project;
    assert_eq!(volumes(), [format!("{p}_ext"), format!("{p}_gone"), format!("{p}_keep")]);
    s.write(
        "docker-compose.yml",
        &format!("services:\n  a:\n    image: busybox:latest\n    init: true\n    command: sleep 3600\n    volumes: [gone:/g]\nvolumes:\n  gone: {{}}\n  ext:\n    external: true\n    name: {p}_ext\n"),
    );
    s.ok(&["down", "-v", "-t", "1"]);
    assert_eq!(volumes(), [format!("{p}_ext"), format!("{p}_keep")], "down -v removed a volume that is not the file's own");
    s.ok(&["volume", "rm", &format!("{p}_ext"), &format!("{p}_keep")]);
}

/// `-p NAME` in a folder without a compose file acts on the project its labels name, as
/// Docker Compose does (CI clean-up steps rely on it); commands that need the file say so.
fn project_by_name_without_a_file(b: &'static str) {
    let s = Stack::new(b, "nofile", "services:\n  web:\n    image: busybox:latest\n    init: true\n    command: sh -c 'echo hi-from-web; sleep 3600'\n    volumes: [data:/d]\nvolumes:\n  data: {}\n");
    s.ok(&["up", "-d"]);
    s.wait_log("web", "hi-from-web");
    let elsewhere = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| Command::new(HOIST).args(["--backend", b, "-p", &s.project]).args(args).current_dir(elsewhere.path()).env_remove("DOCKER_HOST").output().unwrap();
    let text = |o: &std::process::Output| format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    let ok = |args: &[&str]| {
        let out = run(args);
        assert!(out.status.success(), "{args:?}: {}", text(&out));
        text(&out)
    };
    assert_eq!(ok(&["ps", "--format", "{{.Name}} {{.State}}"]).trim(), format!("{}-web-1 running", s.project));
    assert!(ok(&["logs", "--no-color"]).contains("hi-from-web"));
    assert_eq!(ok(&["exec", "-T", "web", "echo", "exec-ok"]).trim(), "exec-ok");
    ok(&["stop", "-t", "1"]);
    // Creating needs the file: refused with Compose's reason, nothing done.
    let out = run(&["up", "-d"]);
    assert!(!out.status.success() && text(&out).contains("no configuration file provided"), "{}", text(&out));
    let down = ok(&["down", "-v"]);
    assert!(down.contains("Removed") && down.contains(&format!("Volume {}_data", s.project)), "{down}");
    assert!(s.ps_q(&["-a"]).is_empty());
    assert!(!s.ok(&["volume", "ls", "-q"]).contains(&format!("{}_data", s.project)));
}

/// `config > resolved.yml` then `-f resolved.yml up`: the printed model is a compose file
/// that gives the same stack, as Compose's output does.
fn config_output_loads_again(b: &'static str) {
    let port = if b == "docker" { 18081 } else { 18080 };
    let s = Stack::new(
        b,
        "cfground",
        &format!("services:\n  web:\n    image: busybox:latest\n    init: true\n    command: sleep 3600\n    ports: ['{port}:80']\n    volumes: [data:/d, './src:/src:z', {{type: volume, source: data, target: /e, volume: {{nocopy: true}}}}, {{type: tmpfs, target: /t, tmpfs: {{size: 1m, mode: 0o1770}}}}]\n    environment: {{A: \"1\"}}\nvolumes:\n  data: {{}}\n"),
    );
    std::fs::create_dir_all(s.path().join("src")).unwrap();
    let resolved = s.ok(&["config"]);
    s.write("resolved.yml", &resolved);
    assert_eq!(s.ok(&["-f", "resolved.yml", "config"]), resolved, "config of the printed file is the same");
    s.ok(&["-f", "resolved.yml", "up", "-d"]);
    assert_eq!(s.ok(&["ps", "--format", "{{.Service}} {{.State}}"]).trim(), "web running");
    // The original file sees the same containers: nothing to recreate.
    let again = s.hoist(&["up", "-d"]);
    assert!(again.status.success() && !String::from_utf8_lossy(&again.stderr).contains("Recreate"), "{}", String::from_utf8_lossy(&again.stderr));
}

on_both_backends!(
    config_output_loads_again,
    project_by_name_without_a_file,
    compose_spellings,
    compose_environment,
    down_v_removes_only_the_files_volumes,
    up_ps_logs_down,
    exec_and_run,
    scale_numbers,
    recreate_keeps_anonymous_volume,
    depends_on_completed,
    missing_image_creates_nothing,
    port_in_use_creates_nothing,
    stop_start_kill,
    other_commands,
    concurrent_commands,
    build_push_pull_up,
);
