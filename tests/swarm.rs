//! The swarm backend against a real one-node swarm (root + dockerd; the swarm is
//! initialised when the engine has none, and left active).
//!
//! The stack is the seed ports scenario adapted to what this machine can do: the ingress
//! routing mesh needs IPVS, which it lacks, so ports are published in `mode: host`; a
//! host-mode port is bound by the task on its node, so a service with a fixed published
//! port runs one replica per node (`max_replicas_per_node: 1`), while a service
//! published on a random port runs 3 replicas, each on its own host port.

mod common;

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::HOIST;

fn ensure_swarm() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        if docker(&["info", "--format", "{{.Swarm.LocalNodeState}}"]) != "active" {
            // Another test process may be initialising it at the same moment.
            let _ = Command::new("docker").args(["swarm", "init", "--advertise-addr", "127.0.0.1"]).output();
            assert_eq!(docker(&["info", "--format", "{{.Swarm.LocalNodeState}}"]), "active", "docker swarm init failed");
        }
        common::ensure_busybox("docker");
    });
}

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().expect("running docker");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn hoist(dir: &Path, project: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(HOIST)
        .current_dir(dir)
        .args(["--backend", "swarm", "--progress", "plain", "-p", project])
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("running hoist")
}

fn ok(out: Output, what: &str) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{what} failed: {stderr}\n{}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8_lossy(&out.stdout).to_string() + &stderr
}

/// Names of the stack's objects of one kind (`service`, `network`, `config`, `secret`, `volume`).
fn stack_objects(kind: &str, project: &str) -> Vec<String> {
    let label = format!("label=com.docker.stack.namespace={project}");
    let mut names: Vec<String> =
        docker(&[kind, "ls", "--filter", &label, "--format", "{{.Name}}"]).lines().map(str::to_string).filter(|l| !l.is_empty()).collect();
    names.sort();
    names
}

/// `GET /` on 127.0.0.1:port, retried for a while (a task's port opens once it runs).
fn http_get(port: u16) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let attempt = (|| -> std::io::Result<String> {
            let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
            s.set_read_timeout(Some(Duration::from_secs(3)))?;
            s.write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
            let mut body = String::new();
            s.read_to_string(&mut body)?;
            Ok(body.split("\r\n\r\n").nth(1).unwrap_or_default().trim().to_string())
        })();
        match attempt {
            Ok(body) if !body.is_empty() => return body,
            _ if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(200)),
            other => panic!("GET http://127.0.0.1:{port}/: {other:?}"),
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("0.0.0.0:0").unwrap().local_addr().unwrap().port()
}

/// `hoist ps --format json` rows of running tasks of `service`.
fn running_tasks(dir: &Path, project: &str, service: &str) -> Vec<serde_json::Value> {
    let out = ok(hoist(dir, project, &["ps", "--format", "json", service], &[]), "ps");
    // One object per line, as Compose prints containers.
    let rows: Vec<serde_json::Value> = out.lines().filter(|l| l.starts_with('{')).map(|l| serde_json::from_str(l).unwrap()).collect();
    rows.into_iter().filter(|r| r["State"] == "running").collect()
}

/// The running containers of a stack service on this node.
fn containers_of(project: &str, service: &str) -> Vec<String> {
    let label = format!("label=com.docker.swarm.service.name={project}_{service}");
    docker(&["ps", "-q", "--filter", &label]).lines().map(str::to_string).collect()
}

/// Removes the stack even when an assertion failed.
struct Stack<'a> {
    dir: &'a Path,
    project: &'a str,
}

impl Drop for Stack<'_> {
    fn drop(&mut self) {
        let _ = hoist(self.dir, self.project, &["down", "-v"], &[]);
    }
}

const STACK: &str = r#"
services:
  fixed:
    image: busybox:latest
    command: sh -c 'mkdir -p /www && echo fixed-ok > /www/index.html && httpd -f -p 80 -h /www'
    stop_grace_period: 1s
    ports:
      - {target: 80, published: FIXED_PORT, mode: host}
    deploy:
      replicas: 1
      placement: {max_replicas_per_node: 1}
  random:
    image: busybox:latest
    command: sh -c 'mkdir -p /www && echo random-ok > /www/index.html && httpd -f -p 80 -h /www'
    stop_grace_period: 1s
    ports:
      - {target: 80, mode: host}
    deploy:
      replicas: 3
      resources: {limits: {cpus: '0.5', memory: 32M}}
      restart_policy: {condition: any, delay: 1s}
  web:
    image: busybox:latest
    command: sh -c 'mkdir -p /www && cp /etc/app.conf /www/index.html && echo "greeting=$$GREETING token=$$(cat /run/secrets/token)" && httpd -f -p 80 -h /www'
    environment:
      GREETING: ${GREETING}
    stop_grace_period: 1s
    configs:
      - source: app
        target: /etc/app.conf
    secrets: [token]
    volumes: [data:/data]
    networks: [front, default]
    depends_on: [random]
    healthcheck:
      test: ["CMD", "wget", "-qO-", "http://127.0.0.1/"]
      interval: 1s
      timeout: 2s
      retries: 5
    deploy:
      replicas: 3
      update_config: {parallelism: 3, delay: 0s, monitor: 1s, order: stop-first}
  agent:
    image: busybox:latest
    command: sleep 3600
    stop_grace_period: 1s
    deploy:
      mode: global
networks:
  front: {}
volumes:
  data: {}
configs:
  app:
    content: "level=${LEVEL}"
secrets:
  token:
    file: ./token.txt
"#;

#[test]
fn stack_deploys_scales_rolls_and_goes() {
    ensure_swarm();
    let dir = tempfile::tempdir().unwrap();
    let project = format!("swarmt{}", std::process::id());
    let fixed = free_port();
    std::fs::write(dir.path().join("compose.yaml"), STACK.replace("FIXED_PORT", &fixed.to_string())).unwrap();
    std::fs::write(dir.path().join("token.txt"), "s3cret").unwrap();
    let p = project.as_str();
    let _cleanup = Stack { dir: dir.path(), project: p };

    // Deploy, waiting until every task runs (web's once healthy).
    let out = ok(hoist(dir.path(), p, &["up", "--wait"], &[("GREETING", "hello"), ("LEVEL", "1")]), "up --wait");
    assert!(out.contains("depends_on is ignored"), "no depends_on warning:\n{out}");
    let services = |names: &[&str]| names.iter().map(|n| format!("{p}_{n}")).collect::<Vec<_>>();
    assert_eq!(stack_objects("service", p), services(&["agent", "fixed", "random", "web"]));
    assert_eq!(running_tasks(dir.path(), p, "agent").len(), 1, "a global service runs one task per node");
    assert_eq!(stack_objects("network", p), [format!("{p}_default"), format!("{p}_front")]);
    for net in stack_objects("network", p) {
        assert_eq!(docker(&["network", "inspect", "--format", "{{.Driver}} {{.Attachable}} {{.Scope}}", &net]), "overlay true swarm");
    }
    let configs = stack_objects("config", p);
    assert_eq!(configs.len(), 1);
    assert!(configs[0].starts_with(&format!("{p}_app-")), "{configs:?}");
    assert_eq!(stack_objects("secret", p).len(), 1);
    let spec_limit = docker(&["service", "inspect", "--format", "{{.Spec.TaskTemplate.Resources.Limits.MemoryBytes}}", &format!("{p}_random")]);
    assert_eq!(spec_limit, (32u64 << 20).to_string());

    // The published services answer: the fixed port, and each random replica on its own port.
    assert_eq!(http_get(fixed), "fixed-ok");
    let random = running_tasks(dir.path(), p, "random");
    assert_eq!(random.len(), 3, "{random:?}");
    let mut ports: Vec<u16> = random.iter().map(|t| t["Publishers"][0]["PublishedPort"].as_u64().unwrap() as u16).collect();
    ports.sort();
    ports.dedup();
    assert_eq!(ports.len(), 3, "each replica has its own host port: {random:?}");
    for port in ports {
        assert_eq!(http_get(port), "random-ok");
    }
    assert_eq!(running_tasks(dir.path(), p, "web").len(), 3);

    // Configs and secrets are files in the tasks; logs come per task.
    let web = containers_of(p, "web");
    assert_eq!(web.len(), 3);
    assert_eq!(docker(&["exec", &web[0], "cat", "/etc/app.conf"]), "level=1");
    assert_eq!(docker(&["exec", &web[0], "cat", "/run/secrets/token"]), "s3cret");
    let logs = ok(hoist(dir.path(), p, &["logs", "--no-color", "web"], &[]), "logs");
    assert_eq!(logs.lines().filter(|l| l.starts_with("web.") && l.ends_with("| greeting=hello token=s3cret")).count(), 3, "{logs}");

    // scale is a service update of the replica count.
    // (The file must still say what was deployed: same variables.)
    ok(hoist(dir.path(), p, &["scale", "web=2"], &[("GREETING", "hello"), ("LEVEL", "1")]), "scale");
    assert_eq!(running_tasks(dir.path(), p, "web").len(), 2);
    assert_eq!(docker(&["service", "inspect", "--format", "{{.Spec.Mode.Replicated.Replicas}}", &format!("{p}_web")]), "2");
    let out = hoist(dir.path(), p, &["scale", "agent=2"], &[("GREETING", "hello"), ("LEVEL", "1")]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("is global"));

    // `logs -f` follows the tasks a rolling update starts.
    let follow_out = dir.path().join("follow.log");
    let mut follow = Command::new(HOIST)
        .current_dir(dir.path())
        .args(["--backend", "swarm", "-p", p, "logs", "-f", "--no-color", "web"])
        .stdout(std::fs::File::create(&follow_out).unwrap())
        .spawn()
        .unwrap();

    // A changed env var and config content roll web; the other services stay untouched.
    let version = |s: &str| docker(&["service", "inspect", "--format", "{{.Version.Index}}", &format!("{p}_{s}")]);
    let (fixed_v, random_v) = (version("fixed"), version("random"));
    let before: Vec<String> = running_tasks(dir.path(), p, "web").iter().map(|t| t["ID"].as_str().unwrap().to_string()).collect();
    let out = ok(hoist(dir.path(), p, &["up", "--wait"], &[("GREETING", "changed"), ("LEVEL", "2")]), "second up");
    assert!(out.contains(&format!("Service {p}_fixed  Unchanged")), "{out}");
    assert!(out.contains(&format!("Service {p}_web  Updated")), "{out}");
    assert_eq!((version("fixed"), version("random")), (fixed_v, random_v), "unchanged services were updated");
    assert_eq!(docker(&["service", "inspect", "--format", "{{.UpdateStatus.State}}", &format!("{p}_web")]), "completed");
    let after = running_tasks(dir.path(), p, "web");
    assert_eq!(after.len(), 3, "back to the file's replicas");
    assert!(after.iter().all(|t| !before.contains(&t["ID"].as_str().unwrap().to_string())), "web's tasks were not replaced");
    let configs_after = stack_objects("config", p);
    assert_eq!(configs_after.len(), 1, "the old config version is pruned: {configs_after:?}");
    assert_ne!(configs_after, configs);
    assert_eq!(docker(&["exec", &containers_of(p, "web")[0], "cat", "/etc/app.conf"]), "level=2");
    let logs = ok(hoist(dir.path(), p, &["logs", "--no-color", "web"], &[]), "logs");
    assert!(logs.contains("| greeting=changed token=s3cret"), "{logs}");
    let deadline = Instant::now() + Duration::from_secs(15);
    while !std::fs::read_to_string(&follow_out).unwrap().contains("| greeting=changed") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = follow.kill();
    let _ = follow.wait();
    let followed = std::fs::read_to_string(&follow_out).unwrap();
    assert!(followed.contains("| greeting=hello") && followed.contains("| greeting=changed"), "logs -f did not follow the new tasks:\n{followed}");
    let out = ok(hoist(dir.path(), p, &["ps", "-a", "--format", "{{.Name}} {{.DesiredState}}", "web"], &[]), "ps -a");
    assert!(out.lines().any(|l| l.starts_with("web.") && l.ends_with(" shutdown")), "ps -a shows the replaced tasks:\n{out}");

    // --force-recreate replaces the tasks of an unchanged service.
    let env = [("GREETING", "changed"), ("LEVEL", "2")];
    let task_of = |s: &str| running_tasks(dir.path(), p, s)[0]["ID"].as_str().unwrap().to_string();
    let fixed_task = task_of("fixed");
    ok(hoist(dir.path(), p, &["up", "--wait", "--force-recreate", "fixed"], &env), "up --force-recreate");
    assert_ne!(task_of("fixed"), fixed_task);
    assert_eq!(http_get(fixed), "fixed-ok");

    // A service gone from the file is an orphan, removed with --remove-orphans.
    let without_agent = std::fs::read_to_string(dir.path().join("compose.yaml")).unwrap();
    let (head, tail) = without_agent.split_once("  agent:").unwrap();
    std::fs::write(dir.path().join("compose.yaml"), format!("{head}{}", &tail[tail.find("networks:").unwrap()..])).unwrap();
    let out = ok(hoist(dir.path(), p, &["up", "-d", "--remove-orphans"], &env), "up --remove-orphans");
    assert!(out.contains(&format!("Service {p}_agent  Removed")) && out.contains(&format!("Service {p}_web  Unchanged")), "{out}");
    assert_eq!(stack_objects("service", p), services(&["fixed", "random", "web"]));

    let ls = ok(hoist(dir.path(), p, &["ls"], &[]), "ls");
    assert!(ls.lines().any(|l| l.starts_with(&format!("{p} ")) && l.contains("running(7/7)")), "{ls}");

    // down leaves nothing of the stack (volumes too, with -v).
    ok(hoist(dir.path(), p, &["down", "-v"], &[]), "down");
    for kind in ["service", "network", "config", "secret", "volume"] {
        assert_eq!(stack_objects(kind, p), Vec::<String>::new(), "{kind}s left after down");
    }
    assert_eq!(docker(&["volume", "ls", "-q", "--filter", &format!("name={p}_data")]), "");
}

#[test]
fn what_swarm_cannot_do_is_refused_before_anything_is_deployed() {
    ensure_swarm();
    let dir = tempfile::tempdir().unwrap();
    let project = format!("swarmr{}", std::process::id());
    std::fs::create_dir(dir.path().join("app")).unwrap();
    std::fs::write(dir.path().join("app/Dockerfile"), "FROM busybox:latest\n").unwrap();
    std::fs::write(
        dir.path().join("compose.yaml"),
        r#"
services:
  db:
    image: busybox:latest
    command: sleep 600
  web:
    image: busybox:latest
    command: sleep 600
    links: [db]
  app:
    build: ./app
  sidecar:
    image: busybox:latest
    volumes_from: [db]
"#,
    )
    .unwrap();
    let out = hoist(dir.path(), &project, &["up", "-d"], &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    for needle in ["nothing was deployed", "service \"web\": links:", "service \"app\": build:", "service \"sidecar\": volumes_from:"] {
        assert!(err.contains(needle), "{needle:?} not in:\n{err}");
    }
    assert_eq!(stack_objects("service", &project), Vec::<String>::new());
    assert_eq!(stack_objects("network", &project), Vec::<String>::new());

    // `config` says the same without an engine; HOIST_BACKEND selects swarm too.
    let out = Command::new(HOIST).current_dir(dir.path()).args(["config", "-q"]).env("HOIST_BACKEND", "swarm").output().unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("service \"web\": links:"));
    // Container commands say why they do not apply.
    let out = hoist(dir.path(), &project, &["exec", "web", "sh"], &[]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("swarm manages its tasks' containers itself"));
}
