//! hoist as a drop-in for `docker compose` (issue #19): the flags, output shapes and exit
//! codes scripts and habits rely on, on both backends, compared with what Compose gives.

use std::process::Stdio;

#[macro_use]
mod common;

use common::stack::Stack;

const SLEEPER: &str = "    image: busybox:latest\n    init: true\n    command: sleep 3600\n";

fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
}

/// `ps --format json` has Compose's fields in its order, one object per line; templates
/// with `table` and `.Label`; `--no-trunc`, `--filter`, `--orphans=false`.
fn ps_output(b: &'static str) {
    let s = Stack::new(
        b,
        "psout",
        &format!("services:\n  web:\n{SLEEPER}    volumes: [data:/d, ./src:/src]\n    labels: {{com.example.tier: front end}}\n  gone:\n{SLEEPER}volumes:\n  data: {{}}\n"),
    );
    std::fs::create_dir_all(s.path().join("src")).unwrap();
    s.ok(&["up", "-d"]);
    let p = &s.project;
    let rows = json_lines(&s.ok(&["ps", "--format", "json", "web"]));
    assert_eq!(rows.len(), 1);
    let row = rows[0].as_object().unwrap();
    let keys: Vec<&str> = row.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "Command", "CreatedAt", "ExitCode", "Health", "ID", "Image", "Labels", "LocalVolumes", "Mounts", "Name", "Names", "Networks", "Ports", "Project",
            "Publishers", "RunningFor", "Service", "Size", "State", "Status"
        ]
    );
    let id = row["ID"].as_str().unwrap();
    assert!(id.len() == 12 && id.bytes().all(|c| c.is_ascii_hexdigit()), "{id}");
    assert_eq!(row["Command"], "\"sleep 3600\"");
    assert_eq!(row["LocalVolumes"], "1");
    // Mount names are cut at 15 characters, as Compose cuts them.
    let mounts = row["Mounts"].as_str().unwrap();
    assert_eq!(mounts.split(',').count(), 2, "only the volume and the bind are listed: {mounts}");
    assert!(mounts.split(',').all(|m| m.chars().count() <= 15), "{mounts}");
    assert_eq!(row["Networks"], format!("{p}_default"));
    assert!(row["RunningFor"].as_str().unwrap().ends_with(" ago"));
    assert!(row["CreatedAt"].as_str().unwrap().ends_with(" +0000 UTC"), "{}", row["CreatedAt"]);
    assert_eq!(row["Size"], "0B");
    // --no-trunc: the whole ID and the mount paths.
    let full = json_lines(&s.ok(&["ps", "--no-trunc", "--format", "json", "web"]));
    assert_eq!(full[0]["ID"].as_str().unwrap().len(), 64);
    let mut mounts: Vec<String> = full[0]["Mounts"].as_str().unwrap().split(',').map(str::to_string).collect();
    mounts.sort();
    let src = std::fs::canonicalize(s.path().join("src")).unwrap().display().to_string();
    assert_eq!(mounts, [src, format!("{p}_data")]);
    // A table template: the header, aligned as the docker CLI aligns it, and a label.
    let table = s.ok(&["ps", "--format", "table {{.Name}}\\t{{.Label \"com.example.tier\"}}\\t{{.State}}", "web"]);
    assert_eq!(table, format!("NAME{}TIER        STATE\n{p}-web-1   front end   running\n", " ".repeat(p.len() + 5)));
    assert!(s.fails(&["ps", "--format", "{{range .Names}}x{{end}}"]).contains("\"range\" is not supported"));
    // --filter status=… is --status; other filters are refused, as by Compose.
    s.ok(&["stop", "-t", "1", "web"]);
    assert_eq!(s.ok(&["ps", "--filter", "status=exited", "--format", "{{.Service}}"]), "web\n");
    assert!(s.fails(&["ps", "--filter", "color=red"]).contains("unknown filter color"));
    // An orphan is listed, unless --orphans=false.
    s.write("docker-compose.yml", &format!("services:\n  web:\n{SLEEPER}volumes:\n  data: {{}}\n"));
    assert_eq!(s.ok(&["ps", "--format", "{{.Service}}"]), "gone\n");
    assert_eq!(s.ok(&["ps", "--orphans=false", "--format", "{{.Service}}"]), "");
}

/// Attached `up` as Compose shows it: "Attaching to", each line prefixed (or not, with
/// --no-log-prefix), "X exited with code N"; --abort-on-container-failure ends on the first
/// failure with its code and stops the rest; --attach-dependencies shows dependencies.
fn attached_up(b: &'static str) {
    let s = Stack::new(
        b,
        "attached",
        "services:\n  job:\n    image: busybox:latest\n    command: sh -c 'echo job-ran; exit 0'\n  bad:\n    image: busybox:latest\n    command: sh -c 'echo bad-ran; sleep 1; exit 3'\n    depends_on: [db]\n  db:\n    image: busybox:latest\n    init: true\n    command: sh -c 'echo db-ready; sleep 3600'\n",
    );
    let out = s.hoist(&["up", "--abort-on-container-failure"]);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(3), "{stdout}{stderr}");
    assert!(stderr.contains("Attaching to "), "{stderr}");
    assert!(stdout.lines().any(|l| l.starts_with("job-1") && l.ends_with("| job-ran")), "{stdout}");
    assert!(stdout.contains("job-1 exited with code 0"), "{stdout}");
    assert!(stdout.contains("bad-1 exited with code 3"), "{stdout}");
    assert!(s.ps_q(&[]).is_empty(), "the session stopped every container");
    // --no-log-prefix: the lines alone. A named service attaches only to itself, unless
    // --attach-dependencies.
    let out = s.ok(&["up", "--no-log-prefix", "--abort-on-container-exit", "job"]);
    assert!(out.lines().any(|l| l == "job-ran"), "{out}");
    let out = s.hoist(&["up", "--attach-dependencies", "--abort-on-container-failure", "bad"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("| db-ready") && stdout.contains("| bad-ran"), "{stdout}");
    let out = s.hoist(&["up", "--abort-on-container-failure", "bad"]);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("db-ready"), "a dependency was attached without --attach-dependencies");
    // Incompatible flags are refused, as by Compose.
    assert!(!s.hoist(&["up", "-d", "--abort-on-container-failure"]).status.success());
}

/// `--pull` overrides the file's pull_policy; `--no-build` refuses to build a missing
/// image; `pull_policy: build` builds at every `up`; `--build --quiet-build`.
fn pull_and_build_policies(b: &'static str) {
    let s = Stack::new(
        b,
        "policies",
        &format!("services:\n  app:\n    build: ./app\n    image: hoist-policy-{b}:1\n    command: cat /stamp\n  base:\n    image: 127.0.0.1:1/busybox:9\n    pull_policy: never\n    command: true\n"),
    );
    s.write("app/Dockerfile", "FROM busybox:latest\nARG STAMP=one\nRUN echo built-$STAMP > /stamp\n");
    let err = s.fails(&["up", "-d", "--no-build", "app"]);
    assert!(err.contains("not found") && err.contains("--no-build"), "{err}");
    assert!(s.ps_q(&["-a"]).is_empty(), "a refused up created containers");
    // `never` in the file: not pulled, an error; --pull missing overrides it (and fails pulling).
    let never = s.fails(&["up", "-d", "base"]);
    assert!(never.contains("pulling is disabled"), "{never}");
    let pulled = s.fails(&["up", "-d", "--pull", "missing", "base"]);
    assert!(pulled.contains("pull access denied"), "{pulled}");
    assert!(s.fails(&["up", "--pull", "sometimes"]).contains("invalid --pull option"));
    // --build with --quiet-build: built, and the build's own lines are not shown.
    let out = s.hoist(&["--progress", "plain", "up", "-d", "--build", "--quiet-build", "app"]);
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && text.contains("Built") && !text.contains("RUN echo"), "{text}");
    // pull_policy: build rebuilds at each up: a changed Dockerfile is picked up.
    s.write("app/Dockerfile", "FROM busybox:latest\nRUN echo built-two > /stamp\n");
    s.ok(&["up", "-d", "app"]);
    assert!(s.logs("app").contains("built-one"), "no build without the policy");
    let file = std::fs::read_to_string(s.path().join("docker-compose.yml")).unwrap();
    s.write("docker-compose.yml", &file.replace("    command: cat /stamp\n", "    command: cat /stamp\n    pull_policy: build\n"));
    s.ok(&["up", "-d", "app"]);
    s.wait_log("app", "built-two");
    let _ = std::process::Command::new(common::HOIST).args(["--backend", b, "image", "rm", "-f", &format!("hoist-policy-{b}:1")]).output();
}

/// `-V` gives recreated containers new anonymous volumes; `--always-recreate-deps`
/// recreates the dependencies of the named services; `--force-recreate` only the named.
fn recreate_flags(b: &'static str) {
    let s = Stack::new(b, "recreateflags", &format!("services:\n  web:\n{SLEEPER}    volumes: [/data]\n    depends_on: [db]\n  db:\n{SLEEPER}"));
    s.ok(&["up", "-d"]);
    s.ok(&["exec", "-T", "web", "sh", "-c", "echo kept > /data/f"]);
    let db = s.id("db");
    s.ok(&["up", "-d", "--force-recreate", "web"]);
    assert_eq!(s.cat("web", "/data/f").as_deref(), Some("kept\n"), "the anonymous volume was not carried over");
    assert_eq!(s.id("db"), db, "--force-recreate web recreated its dependency");
    s.ok(&["up", "-d", "--force-recreate", "--always-recreate-deps", "web"]);
    assert_ne!(s.id("db"), db, "--always-recreate-deps did not recreate the dependency");
    s.ok(&["up", "-d", "--force-recreate", "-V", "web"]);
    assert_eq!(s.cat("web", "/data/f"), None, "-V kept the old anonymous volume");
    assert!(!s.hoist(&["up", "-d", "--no-recreate", "--always-recreate-deps"]).status.success());
}

/// `run`: a one-off container is known on the network by its own name only, unless
/// --use-aliases; --env-from-file; -q prints nothing but the container's output.
fn run_flags(b: &'static str) {
    let s = Stack::new(b, "runflags", &format!("services:\n  web:\n{SLEEPER}    networks: {{default: {{aliases: [www]}}}}\n"));
    s.ok(&["up", "-d"]);
    s.write("extra.env", "FROM_FILE=yes\nOVERRIDDEN=file\n");
    let out = s.hoist(&["run", "--rm", "-T", "-q", "--env-from-file", "extra.env", "-e", "OVERRIDDEN=flag", "web", "sh", "-c", "echo $FROM_FILE $OVERRIDDEN"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "yes flag\n");
    assert!(s.fails(&["run", "--rm", "--env-from-file", "nosuch.env", "web", "true"]).contains("nosuch.env"));
    let aliases = |name: &str| -> Vec<String> {
        if b == "docker" {
            let out = std::process::Command::new("docker").args(["inspect", "-f", "{{range .NetworkSettings.Networks}}{{json .Aliases}}{{end}}", name]).output().unwrap();
            serde_json::from_slice(&out.stdout).unwrap_or_default()
        } else {
            // The built-in runtime writes every container's names into the others' /etc/hosts.
            let hosts = s.cat("web", "/etc/hosts").unwrap();
            hosts.lines().find(|l| l.split_whitespace().any(|w| w == name)).map(|l| l.split_whitespace().skip(1).map(str::to_string).collect()).unwrap_or_default()
        }
    };
    let (plain_name, aliased_name) = (format!("{}-plain", s.project), format!("{}-aliased", s.project));
    s.ok(&["run", "-d", "--name", &plain_name, "web", "sleep", "60"]);
    let plain = aliases(&plain_name);
    assert!(!plain.iter().any(|a| a == "web" || a == "www" || *a == format!("{}-web-1", s.project)), "a one-off took the service's names: {plain:?}");
    s.ok(&["run", "-d", "--use-aliases", "--name", &aliased_name, "web", "sleep", "60"]);
    let aliased = aliases(&aliased_name);
    assert!(aliased.iter().any(|a| a == "web") && aliased.iter().any(|a| a == "www"), "{aliased:?}");
    s.ok(&["down", "-t", "1", "--remove-orphans"]);
}

/// `stats -a` lists stopped containers with zeros, templates and --no-trunc work.
fn stats_flags(b: &'static str) {
    let s = Stack::new(b, "statsflags", &format!("services:\n  busy:\n{SLEEPER}  idle:\n{SLEEPER}"));
    s.ok(&["up", "-d"]);
    s.ok(&["stop", "-t", "1", "idle"]);
    let out = s.ok(&["stats", "--no-stream", "-a", "--no-trunc", "--format", "{{.Name}} {{.CPUPerc}} {{.ID}}"]);
    assert_eq!(out.lines().count(), 2, "{out}");
    let idle = out.lines().find(|l| l.contains("-idle-1")).unwrap_or_else(|| panic!("{out}"));
    assert!(idle.starts_with(&format!("{}-idle-1 0.00% ", s.project)), "{out}");
    assert_eq!(idle.rsplit(' ').next().unwrap().len(), 64, "{out}");
    let running = s.ok(&["stats", "--no-stream", "--format", "table {{.Name}}\\t{{.MemUsage}}"]);
    assert!(running.starts_with("NAME") && running.contains("MEM USAGE / LIMIT") && running.contains("-busy-1") && !running.contains("-idle-1"), "{running}");
}

/// `restart` takes the dependents with `restart: true` along (not with --no-deps);
/// `start --wait`; `down SERVICE`; `rm` asks without -f; `top` is one table; `ls`
/// statuses and --filter; `volumes`.
fn lifecycle_flags(b: &'static str) {
    let s = Stack::new(
        b,
        "lifecycle",
        &format!("services:\n  db:\n{SLEEPER}    volumes: [data:/d]\n  web:\n{SLEEPER}    depends_on: {{db: {{condition: service_started, restart: true}}}}\n    healthcheck: {{test: 'true', interval: 1s}}\nvolumes:\n  data: {{}}\n"),
    );
    let p = &s.project;
    s.ok(&["up", "-d", "--wait"]);
    let started = |svc: &str| s.ok(&["ps", "--format", "{{.Status}}", svc]);
    let web = s.id("web");
    let web_status = started("web");
    s.ok(&["restart", "--no-deps", "-t", "1", "db"]);
    assert_eq!(s.id("web"), web);
    assert_eq!(started("web"), web_status, "--no-deps restarted a dependent");
    s.ok(&["restart", "-t", "1", "db"]);
    assert!(started("web").starts_with("Up") && started("web").contains("health: starting") || started("web") != web_status, "web was not restarted with db");
    // start --wait returns once healthy.
    s.ok(&["stop", "-t", "1"]);
    s.ok(&["start", "--wait", "--wait-timeout", "60"]);
    assert!(started("web").contains("(healthy)"), "{}", started("web"));
    // top: one table, SERVICE and number first.
    let top = s.ok(&["top"]);
    assert!(top.starts_with("SERVICE") && top.lines().nth(0).unwrap().contains("#"), "{top}");
    assert!(top.lines().any(|l| l.starts_with("db ")) && top.lines().any(|l| l.starts_with("web ")), "{top}");
    // volumes: the project's, DRIVER and VOLUME NAME.
    assert_eq!(s.ok(&["volumes", "-q"]), format!("{p}_data\n"));
    assert!(s.ok(&["volumes"]).starts_with("DRIVER    VOLUME NAME\nlocal     "));
    assert_eq!(s.ok(&["volumes", "-q", "web"]), "");
    // ls: states in alphabetical order, --filter name=.
    s.ok(&["stop", "-t", "1", "web"]);
    let ls = s.ok(&["ls", "-a", "--filter", &format!("name={p}")]);
    assert!(ls.lines().any(|l| l.starts_with(p.as_str()) && l.contains("exited(1), running(1)")), "{ls}");
    assert!(!s.ok(&["ls", "-a", "--filter", "name=no-such-project-x"]).contains(p.as_str()));
    // rm without -f asks; no answer removes nothing, yes does.
    let mut no = s.command(&["rm"]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    drop(no.stdin.take());
    let out = no.wait_with_output().unwrap();
    assert!(out.status.success() && String::from_utf8_lossy(&out.stderr).contains("Are you sure?"), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(s.ps_q(&["-a", "web"]).len(), 1, "rm removed without a yes");
    let mut yes = s.command(&["rm"]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    std::io::Write::write_all(yes.stdin.as_mut().unwrap(), b"y\n").unwrap();
    assert!(yes.wait_with_output().unwrap().status.success());
    assert!(s.ps_q(&["-a", "web"]).is_empty());
    // down SERVICE: that service's containers; the network and volumes stay.
    s.ok(&["up", "-d"]);
    s.ok(&["down", "-t", "1", "web"]);
    assert!(s.ps_q(&["-a", "web"]).is_empty());
    assert_eq!(s.ps_q(&["db"]).len(), 1, "down web touched db");
    assert_eq!(s.ok(&["volumes", "-q"]), format!("{p}_data\n"));
}

/// `config` prints hashes, networks, the interpolation environment and the variables,
/// to a file with -o, for the named services only.
fn config_flags(b: &'static str) {
    let s = Stack::new(b, "configflags", "services:\n  web:\n    image: busybox:${TAG:-latest}\n    command: ${CMD:?set CMD}\n    depends_on: [db]\n    environment: {X: \"${XV:+on}\"}\n  db:\n    image: busybox:latest\n  other:\n    image: busybox:latest\nnetworks:\n  back: {}\n");
    s.set_env("CMD", "true");
    s.write(".env", "FROM_DOTENV=1\n");
    let hashes = s.ok(&["config", "--hash", "*"]);
    let names: Vec<&str> = hashes.lines().map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(names, ["web", "db", "other"]);
    assert!(hashes.lines().all(|l| l.split(' ').nth(1).is_some_and(|h| h.len() == 64)), "{hashes}");
    assert_eq!(s.ok(&["config", "--hash", "db"]).lines().count(), 1);
    assert!(s.fails(&["config", "--hash", "nope"]).contains("no such service: nope"));
    assert_eq!(s.ok(&["config", "--networks"]), "back\ndefault\n");
    let env = s.ok(&["config", "--environment"]);
    assert!(env.lines().any(|l| l == "FROM_DOTENV=1") && env.lines().any(|l| l == "CMD=true"), "{env}");
    let vars = s.ok(&["config", "--variables"]);
    let lines: Vec<Vec<&str>> = vars.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(lines[0], ["NAME", "REQUIRED", "DEFAULT", "VALUE", "ALTERNATE", "VALUE"]);
    assert!(lines.contains(&vec!["CMD", "true"]) && lines.contains(&vec!["TAG", "false", "latest"]) && lines.contains(&vec!["XV", "false", "on"]), "{vars}");
    s.ok(&["config", "-o", "out.yml", "web"]);
    let out = std::fs::read_to_string(s.path().join("out.yml")).unwrap();
    assert!(out.contains("  web:") && out.contains("  db:") && !out.contains("  other:"), "{out}");
}

/// `pull` skips what Compose skips (--ignore-buildable, --policy missing with the image
/// there) and pulls dependencies with --include-deps; `build --with-dependencies -q`.
fn pull_build_flags(b: &'static str) {
    let s = Stack::new(
        b,
        "pullflags",
        &format!("services:\n  app:\n    build: ./app\n    image: hoist-pullflags-{b}:1\n    depends_on: [base]\n  base:\n    build: ./app\n    image: hoist-pullflags-base-{b}:1\n  bb:\n    image: busybox:latest\n"),
    );
    s.write("app/Dockerfile", "FROM busybox:latest\nRUN echo built\n");
    // (No registry here: busybox is only there locally, and --policy missing leaves it.)
    let out = s.hoist(&["--progress", "plain", "pull", "--ignore-buildable", "--policy", "missing"]);
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && text.contains("app  Skipped - Image can be built"), "{text}");
    let out = s.hoist(&["--progress", "plain", "pull", "--policy", "missing", "bb"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("bb  Skipped - Image is already present locally"), "{}", String::from_utf8_lossy(&out.stderr));
    // A buildable service's failed pull is a warning naming the build to run.
    let out = s.hoist(&["--progress", "plain", "pull", "app"]);
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && text.contains("hoist build app") && !text.contains("hoist build app base"), "{text}");
    let out = s.hoist(&["--progress", "plain", "pull", "--include-deps", "app"]);
    let text = String::from_utf8_lossy(&out.stderr);
    let line = text.lines().find(|l| l.contains("hoist build ")).unwrap_or_else(|| panic!("{text}"));
    assert!(line.split_whitespace().any(|w| w == "app") && line.split_whitespace().any(|w| w == "base"), "{text}");
    // build --with-dependencies builds base too; -q shows no build steps.
    let out = s.hoist(&["--progress", "plain", "build", "-q", "--with-dependencies", "app"]);
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && text.matches("Built").count() == 2 && !text.contains("RUN echo"), "{text}");
    for i in [format!("hoist-pullflags-{b}:1"), format!("hoist-pullflags-base-{b}:1")] {
        let _ = std::process::Command::new(common::HOIST).args(["--backend", b, "image", "rm", "-f", &i]).output();
    }
}

/// `export` (the rootfs, no volumes), `commit` (a new image of the container's changes,
/// with --change), `attach` (the running container's output until it exits).
fn export_commit_attach(b: &'static str) {
    let image = format!("hoist-commit-{b}:1");
    let s = Stack::new(
        b,
        "exportcommit",
        &format!("services:\n  app:\n    image: busybox:latest\n    command: sh -c 'echo data > /made; echo vol > /vol/inside; echo ready; exec sleep 3600'\n    volumes: [/vol]\n  copy:\n    image: {image}\n    profiles: [later]\n"),
    );
    s.ok(&["up", "-d", "app"]);
    s.wait_log("app", "ready");
    s.ok(&["export", "app", "-o", "out.tar"]);
    let mut names: Vec<String> = tar::Archive::new(std::fs::File::open(s.path().join("out.tar")).unwrap())
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    names.sort();
    assert!(names.iter().any(|n| n == "made") && names.iter().any(|n| n == "bin/busybox"), "{names:?}");
    assert!(!names.iter().any(|n| n.starts_with("vol/inside")), "a volume's files were exported: {names:?}");
    let piped = s.command(&["export", "app"]).stdout(Stdio::piped()).output().unwrap();
    assert!(piped.status.success() && piped.stdout.len() > 10_000, "{}", String::from_utf8_lossy(&piped.stderr));
    // commit: the container's changes and the --change on top, pausing it meanwhile.
    let out = s.hoist(&["--progress", "plain", "commit", "-c", "CMD [\"cat\", \"/made\"]", "app", &image]);
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && text.contains("Committed as sha256:"), "{text}");
    assert_eq!(s.ok(&["ps", "--format", "{{.State}}", "app"]), "running\n", "commit left the container paused");
    assert_eq!(s.ok(&["run", "--rm", "-T", "copy"]), "data\n");
    if b == "builtin" {
        assert!(s.fails(&["commit", "-m", "why", "app"]).contains("no author or commit message"));
    } else {
        s.ok(&["commit", "-m", "why", "-a", "me", "app"]);
    }
    // attach: what the container prints from now on, until it exits (with its code).
    let mut attach = s.command(&["attach", "--no-stdin", "app"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut stdout = attach.stdout.take().unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let reader = {
        let seen = seen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = std::io::Read::read(&mut stdout, &mut buf) {
                if n == 0 {
                    break;
                }
                seen.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        })
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !seen.lock().unwrap().contains("to-attached") {
        assert!(std::time::Instant::now() < deadline, "attach showed nothing: {}", seen.lock().unwrap());
        s.ok(&["exec", "-T", "app", "sh", "-c", "echo to-attached > /proc/1/fd/1"]);
    }
    assert!(!seen.lock().unwrap().contains("ready"), "attach replayed earlier output");
    s.ok(&["kill", "app"]);
    let status = attach.wait().unwrap();
    reader.join().unwrap();
    assert_eq!(status.code(), Some(137), "attach did not end with the container's exit code");
    // Nothing to attach to once stopped: refused at once, as by the docker CLI.
    assert!(s.fails(&["attach", "--no-stdin", "app"]).contains("stopped container"));
    // export -o a directory is refused, leaving nothing behind.
    std::fs::create_dir_all(s.path().join("outdir")).unwrap();
    assert!(s.fails(&["export", "app", "-o", "outdir"]).contains("not a file name"));
    assert!(std::fs::read_dir(s.path()).unwrap().all(|e| !e.unwrap().file_name().to_string_lossy().ends_with(".partial")));
    // A container never started has no changes: its commit is its image, and works.
    s.ok(&["rm", "-f", "app"]);
    s.ok(&["create", "app"]);
    s.ok(&["commit", "app", &format!("{image}-created")]);
    let _ = std::process::Command::new(common::HOIST).args(["--backend", b, "image", "rm", "-f", &format!("{image}-created")]).output();
    let _ = std::process::Command::new(common::HOIST).args(["--backend", b, "image", "rm", "-f", &image]).output();
}

/// `--dry-run` changes nothing and says what it would do; `--compatibility` names
/// containers `project_service_1`; `--all-resources` creates unused volumes; `-p NAME
/// start/restart` act without a file; `images` has Compose's columns and JSON fields.
fn global_modes(b: &'static str) {
    let s = Stack::new(b, "modes", &format!("services:\n  web:\n{SLEEPER}    volumes: [data:/d]\nvolumes:\n  data: {{}}\n  spare: {{}}\n"));
    let p = s.project.clone();
    // Attached or not: a dry run starts nothing, so there is nothing to attach to or wait for.
    let out = s.hoist(&["--dry-run", "--progress", "plain", "up", "--wait"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = s.hoist(&["--dry-run", "--progress", "plain", "up"]);
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && text.contains(&format!("DRY-RUN MODE -  Container {p}-web-1  Started")), "{text}");
    assert!(s.ps_q(&["-a"]).is_empty(), "a dry run created containers");
    assert_eq!(s.ok(&["volumes", "-q"]), "", "a dry run created volumes");
    s.ok(&["up", "-d"]);
    let web = s.id("web");
    let out = s.hoist(&["--dry-run", "--progress", "plain", "down", "-v"]);
    assert!(out.status.success() && String::from_utf8_lossy(&out.stderr).contains(&format!("DRY-RUN MODE -  Volume {p}_data  Removed")), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(s.id("web"), web, "a dry run removed the container");
    assert_eq!(s.ok(&["volumes", "-q"]), format!("{p}_data\n"));
    assert!(s.fails(&["ls", "--format", "xyz"]).contains("could not be parsed"));
    assert!(s.ok(&["ls", "--filter", &format!("name=^{p}$")]).contains(&p));
    assert!(!s.ok(&["ls", "--filter", &format!("name=^{}$", &p[1..])]).contains(&p));
    // images: Compose's columns and fields.
    let table = s.ok(&["images"]);
    assert!(table.starts_with("CONTAINER") && table.lines().next().unwrap().contains("PLATFORM") && table.lines().next().unwrap().ends_with("CREATED"), "{table}");
    let json: serde_json::Value = serde_json::from_str(&s.ok(&["images", "--format", "json"])).unwrap();
    let row = &json[0];
    assert_eq!(row["ContainerName"], format!("{p}-web-1"));
    assert_eq!(row["Platform"], "linux/amd64", "{row}");
    assert!(row["Size"].as_u64().unwrap() > 0 && row["Created"].is_string() && row["ID"].as_str().unwrap().starts_with("sha256:"), "{row}");
    let ids = s.ok(&["images", "-q"]);
    assert!(ids.lines().count() == 1 && ids.trim().len() == 64, "{ids}");
    // -p NAME start / restart without a file.
    let elsewhere = tempfile::tempdir().unwrap();
    let bare = |args: &[&str]| {
        let out = std::process::Command::new(common::HOIST).args(["--backend", b, "-p", &p]).args(args).current_dir(elsewhere.path()).env_remove("DOCKER_HOST").output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    bare(&["stop", "-t", "1"]);
    assert!(s.ps_q(&[]).is_empty());
    bare(&["start"]);
    assert_eq!(s.ps_q(&[]).len(), 1, "-p NAME start did not start the container");
    bare(&["restart", "-t", "1"]);
    assert_eq!(s.ps_q(&[]).len(), 1);
    s.ok(&["down", "-v", "-t", "1"]);
    // --compatibility: docker-compose 1.x names; --all-resources: the unused volume too.
    s.ok(&["--compatibility", "--all-resources", "up", "-d"]);
    assert_eq!(s.ok(&["ps", "--format", "{{.Name}}"]), format!("{p}_web_1\n"));
    let mut vols: Vec<String> = s.ok(&["volumes", "-q"]).lines().map(str::to_string).collect();
    vols.sort();
    assert_eq!(vols, [format!("{p}_data"), format!("{p}_spare")]);
    let logs = s.ok(&["logs", "--no-color"]);
    assert!(logs.is_empty() || logs.lines().all(|l| l.starts_with("web-1 ")), "{logs}");
    s.ok(&["--compatibility", "down", "-v", "-t", "1"]);
}

on_both_backends!(global_modes, export_commit_attach, ps_output, attached_up, pull_and_build_policies, recreate_flags, run_flags, stats_flags, lifecycle_flags, config_flags, pull_build_flags);

/// The file's pull_policy values and `--pull` parse; a bad one names file and line.
#[test]
fn pull_policy_values() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("compose.yml"), "services:\n  a:\n    image: busybox\n    pull_policy: sometimes\n").unwrap();
    let out = std::process::Command::new(common::HOIST).args(["config"]).current_dir(dir.path()).stderr(Stdio::piped()).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("compose.yml:4") && err.contains("invalid pull policy"), "{err}");
    for ok in ["always", "never", "missing", "if_not_present", "build", "daily", "weekly", "every_12h"] {
        std::fs::write(dir.path().join("compose.yml"), format!("services:\n  a:\n    image: busybox\n    pull_policy: {ok}\n")).unwrap();
        let out = std::process::Command::new(common::HOIST).args(["config"]).current_dir(dir.path()).output().unwrap();
        assert!(out.status.success(), "{ok}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("pull_policy: {ok}")), "{ok} was not kept as written");
    }
}
