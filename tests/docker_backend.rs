//! The Docker backend against a real engine. NEEDS ROOT AND DOCKERD: each test starts
//! `dockerd` if its socket does not answer, imports a busybox-static image through
//! `import_image`, and uses its own project label, removing everything it made (also on
//! panic, through a drop guard).

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use hoist::backend::docker::DockerBackend;
use hoist::backend::{
    Backend, BackendError, ContainerSpec, ContainerState, Health, ImportOptions, LogOptions, Mount, NetworkAttachment,
    NetworkMode, NetworkSpec, VolumeSpec, labels,
};
use hoist::compose::model::{Healthcheck, Port};
use indexmap::IndexMap;

const IMAGE: &str = "hoist-test-busybox:latest";

/// Serializes the one-time image import between tests running in parallel.
static IMPORT: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn docker_up() -> bool {
    Command::new("docker").arg("info").output().is_ok_and(|o| o.status.success())
}

fn ensure_dockerd() {
    if docker_up() {
        return;
    }
    // NEEDS ROOT: start the engine ourselves, as `.ci/run` does.
    let _ = Command::new("sh").args(["-c", "pgrep -x dockerd || (dockerd >/tmp/hoist-test-dockerd.log 2>&1 &)"]).status();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !docker_up() {
        assert!(Instant::now() < deadline, "dockerd did not come up (see /tmp/hoist-test-dockerd.log)");
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// A rootfs of busybox-static (binary, applet symlinks, /etc/passwd) as a tarball.
fn busybox_tarball(dir: &Path) -> std::path::PathBuf {
    let root = dir.join("rootfs");
    for d in ["bin", "etc", "tmp", "proc", "sys", "dev"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::copy("/usr/bin/busybox", root.join("bin/busybox")).unwrap();
    let list = Command::new("/usr/bin/busybox").arg("--list").output().unwrap();
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if applet != "busybox" {
            std::os::unix::fs::symlink("busybox", root.join("bin").join(applet)).unwrap();
        }
    }
    std::fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n")
        .unwrap();
    std::fs::write(root.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n").unwrap();
    let tar = dir.join("rootfs.tar");
    let st = Command::new("tar").arg("-C").arg(&root).arg("-cf").arg(&tar).arg(".").status().unwrap();
    assert!(st.success());
    tar
}

async fn backend() -> Arc<dyn Backend> {
    ensure_dockerd();
    let b: Arc<dyn Backend> = Arc::new(DockerBackend::new().unwrap());
    let _guard = IMPORT.lock().await;
    if b.image_config(IMAGE).await.unwrap().is_none() {
        let dir = tempfile::tempdir().unwrap();
        let tar = busybox_tarball(dir.path());
        let opts = ImportOptions { changes: vec!["CMD [\"sh\"]".into(), "ENV PATH=/bin".into()] };
        let id = b.import_image(&tar, IMAGE, &opts).await.unwrap();
        assert!(id.starts_with("sha256:"), "{id}");
    }
    let cfg = b.image_config(IMAGE).await.unwrap().unwrap();
    assert_eq!(cfg.cmd, Some(vec!["sh".to_string()]));
    b
}

/// Everything of one test project; removed on drop, on a fresh runtime (drop is sync).
struct Project {
    name: String,
    b: Arc<dyn Backend>,
}

impl Project {
    async fn new(name: &str) -> Project {
        let p = Project { name: format!("hoisttest{name}"), b: backend().await };
        cleanup(p.b.clone(), p.name.clone()).await;
        p
    }

    /// A container spec for `service` running `sh -c script`, labelled like the plan does.
    fn spec(&self, service: &str, script: &str) -> ContainerSpec {
        let name = format!("{}-{service}-1", self.name);
        let mut l = IndexMap::new();
        l.insert(labels::PROJECT.to_string(), self.name.clone());
        l.insert(labels::SERVICE.to_string(), service.to_string());
        l.insert(labels::NUMBER.to_string(), "1".to_string());
        l.insert(labels::ONEOFF.to_string(), "False".to_string());
        l.insert(labels::CONFIG_HASH.to_string(), "hash-1".to_string());
        ContainerSpec {
            name,
            project: self.name.clone(),
            service_name: service.to_string(),
            number: 1,
            oneoff: false,
            image: IMAGE.to_string(),
            command: Some(vec!["sh".into(), "-c".into(), script.into()]),
            labels: l,
            network: NetworkMode::DefaultBridge,
            stop_grace_period: Some(Duration::from_secs(1)),
            config_hash: "hash-1".to_string(),
            ..Default::default()
        }
    }

    async fn run(&self, spec: &ContainerSpec) -> String {
        let id = self.b.create_container(spec, None).await.unwrap();
        self.b.start_container(&id).await.unwrap();
        id
    }

    fn network(&self, key: &str) -> NetworkSpec {
        NetworkSpec {
            name: format!("{}_{key}", self.name),
            project: self.name.clone(),
            key: key.to_string(),
            driver: None,
            internal: false,
            attachable: false,
            subnets: Vec::new(),
            labels: IndexMap::new(),
            external: false,
        }
    }

    /// All output of a container so far (stdout and stderr), one string.
    async fn output(&self, id: &str) -> String {
        let c = self.b.inspect_container(id).await.unwrap();
        let mut s = self.b.logs(&[c], &LogOptions::default()).await.unwrap();
        let mut out = String::new();
        while let Some(l) = s.next().await {
            out.push_str(&l.unwrap().text);
            out.push('\n');
        }
        out
    }

    /// Polls the logs until `want` shows up.
    async fn wait_output(&self, id: &str, want: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let out = self.output(id).await;
            if out.contains(want) {
                return out;
            }
            assert!(Instant::now() < deadline, "{want:?} never appeared in:\n{out}");
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
}

async fn cleanup(b: Arc<dyn Backend>, project: String) {
    for c in b.list_containers(&project, true).await.unwrap_or_default() {
        let _ = b.remove_container(&c.id, true, true).await;
    }
    for n in b.list_networks(&project).await.unwrap_or_default() {
        let _ = b.remove_network(&n.name).await;
    }
    for v in b.list_volumes(Some(&project)).await.unwrap_or_default() {
        let _ = b.remove_volume(&v.name).await;
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let (b, name) = (self.b.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(cleanup(b, name))
        })
        .join();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread")]
async fn legacy_links_set_env_and_hosts() {
    let p = Project::new("links").await;
    let mut ex = p.spec("example", "mkdir -p /www && echo hi > /www/index.html && httpd -f -p 80 -h /www");
    ex.expose = vec!["80/tcp".parse().unwrap(), "8080/tcp".parse().unwrap()];
    ex.env = vec![("BOOK".into(), "Learning Docker".into())];
    p.run(&ex).await;
    let mut rx = p.spec("receiver", "env | sort; cat /etc/hosts; wget -q -O - http://ex:80/ | sed s/^/FETCH:/; sleep 60");
    rx.links = vec![(ex.name.clone(), "ex".into())];
    let id = p.run(&rx).await;
    let out = p.wait_output(&id, "FETCH:hi").await;
    let ip = out
        .lines()
        .find_map(|l| l.strip_prefix("EX_PORT_80_TCP_ADDR="))
        .unwrap_or_else(|| panic!("no link variables in:\n{out}"))
        .to_string();
    assert!(out.contains(&format!("EX_PORT_8080_TCP=tcp://{ip}:8080")), "{out}");
    assert!(out.contains("EX_ENV_BOOK=Learning Docker"), "{out}");
    assert!(out.lines().any(|l| l.starts_with(&ip) && l.split_whitespace().any(|w| w == "ex")), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn network_modes() {
    let p = Project::new("netmodes").await;
    let front = p.network("front");
    let back = p.network("back");
    p.b.ensure_network(&front).await.unwrap();
    p.b.ensure_network(&back).await.unwrap();
    // Idempotent.
    p.b.ensure_network(&front).await.unwrap();
    let nets: Vec<String> = p.b.list_networks(&p.name).await.unwrap().into_iter().map(|n| n.name).collect();
    assert_eq!(nets, vec![back.name.clone(), front.name.clone()]);

    let mut missing = p.network("gone");
    missing.external = true;
    let err = p.b.ensure_network(&missing).await.unwrap_err().to_string();
    assert!(err.contains("declared as external, but could not be found"), "{err}");

    // Two user networks: the first at create, the second connected after.
    let mut web = p.spec("web", "mkdir -p /www && echo web-ok > /www/index.html && httpd -f -p 80 -h /www");
    let att = |n: &NetworkSpec, alias: &str| NetworkAttachment { network: n.name.clone(), aliases: vec![alias.into()], ipv4_address: None, mac_address: None };
    web.network = NetworkMode::Networks(vec![att(&front, "web"), att(&back, "web-back")]);
    let web_id = p.run(&web).await;

    let mut client = p.spec("client", "ls /sys/class/net | sort | tr '\\n' ' '; echo; wget -q -O - http://web-back/ | sed s/^/GOT:/; wget -q -O - http://weblink/ | sed s/^/LINK:/; sleep 60");
    client.network = NetworkMode::Networks(vec![att(&back, "client")]);
    // A link on a user network is an alias only the linking container resolves.
    client.links = vec![(web.name.clone(), "weblink".into())];
    let out = p.wait_output(&p.run(&client).await, "LINK:web-ok").await;
    assert!(out.contains("GOT:web-ok"), "{out}");
    assert!(out.contains("eth0 lo"), "{out}");
    let web_out = p.output(&web_id).await;
    assert!(web_out.is_empty(), "{web_out}");

    // Joining another container's namespace: its server is on our localhost.
    let mut side = p.spec("side", "wget -q -O - http://127.0.0.1:80/ | sed s/^/SIDE:/; sleep 60");
    side.network = NetworkMode::Container(web.name.clone());
    p.wait_output(&p.run(&side).await, "SIDE:web-ok").await;

    let mut none = p.spec("none", "ls /sys/class/net | tr '\\n' ' ' | sed s/^/IFS:/; echo; sleep 60");
    none.network = NetworkMode::None;
    let out = p.wait_output(&p.run(&none).await, "IFS:").await;
    assert!(out.contains("IFS:lo \n"), "{out}");

    let mut host = p.spec("host", "hostname | sed s/^/HOST:/; sleep 60");
    host.network = NetworkMode::Host;
    let me = String::from_utf8(Command::new("hostname").output().unwrap().stdout).unwrap();
    p.wait_output(&p.run(&host).await, &format!("HOST:{}", me.trim())).await;

    for c in p.b.list_containers(&p.name, true).await.unwrap() {
        p.b.remove_container(&c.id, true, false).await.unwrap();
    }
    p.b.remove_network(&front.name).await.unwrap();
    assert_eq!(p.b.list_networks(&p.name).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn volumes_bind_named_and_anonymous_across_replace() {
    let p = Project::new("vols").await;
    let dir = tempfile::tempdir().unwrap();
    let bind_src = dir.path().join("made/by/backend");
    let vol = VolumeSpec {
        name: format!("{}_data", p.name),
        project: p.name.clone(),
        key: "data".into(),
        driver: None,
        driver_opts: IndexMap::new(),
        labels: IndexMap::new(),
        external: false,
        local_mount: None,
    };
    p.b.ensure_volume(&vol).await.unwrap();
    p.b.ensure_volume(&vol).await.unwrap();
    let listed = p.b.list_volumes(Some(&p.name)).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].labels.get(labels::VOLUME).map(String::as_str), Some("data"));

    let mut spec = p.spec("app", "cat /anon/f 2>/dev/null | sed s/^/ANON:/; echo gen1 > /anon/f; echo named > /named/f; echo bound > /bound/f; echo DONE");
    spec.mounts = vec![
        Mount::Volume { name: None, target: "/anon".into(), read_only: false, nocopy: false },
        Mount::Volume { name: Some(vol.name.clone()), target: "/named".into(), read_only: false, nocopy: false },
        Mount::Bind { source: bind_src.clone(), target: "/bound".into(), read_only: false, create_host_path: true },
        Mount::Tmpfs { target: "/scratch".into(), size: Some(1 << 20), mode: None },
    ];
    let first = p.run(&spec).await;
    assert_eq!(p.b.wait_container(&first).await.unwrap(), 0);
    assert_eq!(std::fs::read_to_string(bind_src.join("f")).unwrap(), "bound\n");

    // Recreate as the plan does: rename the old one away, create with `replace`.
    let old = p.b.inspect_container(&first).await.unwrap();
    p.b.rename_container(&first, &format!("{}_old", spec.name)).await.unwrap();
    let second = p.b.create_container(&spec, Some(&old)).await.unwrap();
    p.b.remove_container(&first, true, false).await.unwrap();
    p.b.start_container(&second).await.unwrap();
    assert_eq!(p.b.wait_container(&second).await.unwrap(), 0);
    let out = p.output(&second).await;
    assert!(out.contains("ANON:gen1"), "anonymous volume not carried over:\n{out}");

    // A reader of the named volume sees the data.
    let mut reader = p.spec("reader", "cat /named/f");
    reader.mounts = vec![Mount::Volume { name: Some(vol.name.clone()), target: "/named".into(), read_only: true, nocopy: false }];
    let r = p.run(&reader).await;
    p.b.wait_container(&r).await.unwrap();
    assert_eq!(p.output(&r).await, "named\n");

    // Removing with volumes drops the anonymous volume, never the named one.
    let anon: Vec<String> = p.b.list_volumes(None).await.unwrap().into_iter().map(|v| v.name).collect();
    p.b.remove_container(&second, false, true).await.unwrap();
    let after: Vec<String> = p.b.list_volumes(None).await.unwrap().into_iter().map(|v| v.name).collect();
    assert!(after.len() < anon.len(), "anonymous volume left behind");
    assert!(after.contains(&vol.name));
    p.b.remove_container(&r, true, false).await.unwrap();
    p.b.remove_volume(&vol.name).await.unwrap();
    assert!(p.b.list_volumes(Some(&p.name)).await.unwrap().is_empty());
}

fn port(target: u16, published: Option<u16>) -> Port {
    Port {
        target,
        published,
        host_ip: Some("127.0.0.1".into()),
        protocol: "tcp".into(),
        mode: None,
        name: None,
        app_protocol: None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ports_fixed_random_and_in_use() {
    let p = Project::new("ports").await;
    let fixed = free_port();
    let mut web = p.spec("web", "mkdir -p /www && echo port-ok > /www/index.html && httpd -f -p 80 -h /www");
    web.ports = vec![port(80, Some(fixed)), port(80, None)];
    p.run(&web).await;
    let listed = p.b.list_containers(&p.name, false).await.unwrap();
    assert_eq!(listed.len(), 1);
    let ports = &listed[0].ports;
    assert_eq!(ports.len(), 2, "{ports:?}");
    assert!(ports.iter().all(|pp| pp.container_port == 80 && pp.host_ip == "127.0.0.1" && pp.protocol == "tcp"));
    assert!(ports.iter().any(|pp| pp.host_port == fixed));
    let random = ports.iter().find(|pp| pp.host_port != fixed).expect("a random port").host_port;
    assert!(random > 0);
    // The fixed port really serves.
    let body = Command::new("busybox").args(["wget", "-q", "-O", "-", &format!("http://127.0.0.1:{fixed}/")]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&body.stdout), "port-ok\n");

    let mut clash = p.spec("clash", "sleep 60");
    clash.ports = vec![port(81, Some(fixed))];
    let id = p.b.create_container(&clash, None).await.unwrap();
    match p.b.start_container(&id).await {
        Err(BackendError::PortInUse { what, addr }) => {
            assert_eq!(what, clash.name);
            assert!(addr.ends_with(&format!(":{fixed}")), "{addr}");
        }
        other => panic!("expected PortInUse, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn healthcheck_reaches_healthy_and_labels_map_back() {
    let p = Project::new("health").await;
    let mut spec = p.spec("db", "touch /tmp/ready; sleep 60");
    spec.healthcheck = Some(Healthcheck {
        test: vec!["CMD-SHELL".into(), "test -f /tmp/ready".into()],
        interval: Some("500ms".parse().unwrap()),
        timeout: Some("2s".parse().unwrap()),
        retries: Some(3),
        ..Default::default()
    });
    spec.labels.insert("app.tier".into(), "data".into());
    let id = p.run(&spec).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let c = loop {
        let c = p.b.inspect_container(&id).await.unwrap();
        if c.health == Some(Health::Healthy) {
            break c;
        }
        assert!(Instant::now() < deadline, "never healthy: {c:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(c.state, ContainerState::Running);
    assert_eq!((c.project.as_str(), c.service.as_str(), c.number), (p.name.as_str(), "db", 1));
    assert!(!c.oneoff);
    assert_eq!(c.config_hash, "hash-1");
    assert_eq!(c.name, spec.name);
    assert_eq!(c.labels.get("app.tier").map(String::as_str), Some("data"));
    assert!(c.started_at.is_some() && c.exit_code.is_none());
    let all = p.b.list_all_projects().await.unwrap();
    assert!(all.iter().any(|x| x.id == id));
}

#[tokio::test(flavor = "multi_thread")]
async fn logs_tail_and_follow() {
    let p = Project::new("logs").await;
    let spec = p.spec("talker", "for i in 1 2 3 4 5; do echo line$i; done; echo oops >&2; sleep 2; echo last");
    let id = p.run(&spec).await;
    let c = p.b.inspect_container(&id).await.unwrap();
    // Follow: ends by itself when the container exits, and misses nothing.
    let mut s = p.b.logs(std::slice::from_ref(&c), &LogOptions { follow: true, ..Default::default() }).await.unwrap();
    let mut lines = Vec::new();
    while let Some(l) = tokio::time::timeout(Duration::from_secs(30), s.next()).await.expect("follow never ended") {
        lines.push(l.unwrap());
    }
    let texts: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(texts.iter().filter(|t| t.starts_with("line")).count(), 5, "{texts:?}");
    assert_eq!(texts.last(), Some(&"last"));
    let oops = lines.iter().find(|l| l.text == "oops").expect("stderr line");
    assert_eq!(oops.stream, hoist::backend::LogStream::Stderr);
    assert!(lines.iter().all(|l| l.time.is_some() && l.container == spec.name));

    let mut s = p.b.logs(&[c], &LogOptions { tail: Some(1), ..Default::default() }).await.unwrap();
    let mut tail = Vec::new();
    while let Some(l) = s.next().await {
        tail.push(l.unwrap().text);
    }
    assert_eq!(tail, vec!["last"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn stop_kills_at_once_what_cannot_get_sigterm() {
    let p = Project::new("stopfast").await;
    // sh as PID 1 without a trap: the kernel discards SIGTERM; no 10 s wait for nothing.
    let deaf = p.run(&p.spec("deaf", "sleep 300; echo never")).await;
    let t = Instant::now();
    p.b.stop_container(&deaf, None).await.unwrap();
    assert!(t.elapsed() < Duration::from_secs(5), "took {:?}", t.elapsed());
    assert_eq!(p.b.inspect_container(&deaf).await.unwrap().exit_code, Some(137));
    // With a trap the shell gets SIGTERM and exits its own way.
    let polite = p.run(&p.spec("polite", "trap 'exit 3' TERM; while :; do sleep 1; done")).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    p.b.stop_container(&polite, None).await.unwrap();
    assert_eq!(p.b.inspect_container(&polite).await.unwrap().exit_code, Some(3));
}

#[tokio::test(flavor = "multi_thread")]
async fn exec_wait_and_lifecycle() {
    let p = Project::new("life").await;
    let id = p.run(&p.spec("box", "sleep 300")).await;
    let exec = hoist::backend::ExecSpec { command: vec!["sh".into(), "-c".into(), "exit 3".into()], ..Default::default() };
    assert_eq!(p.b.exec(&id, &exec).await.unwrap(), 3);
    let detached = hoist::backend::ExecSpec { detach: true, ..exec.clone() };
    assert_eq!(p.b.exec(&id, &detached).await.unwrap(), 0);
    let top = p.b.top(&id).await.unwrap();
    assert!(top.processes.iter().any(|row| row.join(" ").contains("sleep 300")), "{top:?}");

    p.b.pause_container(&id).await.unwrap();
    assert_eq!(p.b.inspect_container(&id).await.unwrap().state, ContainerState::Paused);
    p.b.unpause_container(&id).await.unwrap();
    p.b.stop_container(&id, Some(Duration::from_secs(1))).await.unwrap();
    // Stopping a stopped container is fine.
    p.b.stop_container(&id, Some(Duration::from_secs(1))).await.unwrap();
    let c = p.b.inspect_container(&id).await.unwrap();
    assert_eq!(c.state, ContainerState::Exited);
    assert!(c.finished_at.is_some());

    let quitter = p.run(&p.spec("quitter", "exit 7")).await;
    assert_eq!(p.b.wait_container(&quitter).await.unwrap(), 7);
    let c = p.b.inspect_container(&quitter).await.unwrap();
    assert_eq!((c.state, c.exit_code), (ContainerState::Exited, Some(7)));

    let killed = p.run(&p.spec("killed", "sleep 300")).await;
    p.b.kill_container(&killed, "KILL").await.unwrap();
    assert_eq!(p.b.wait_container(&killed).await.unwrap(), 137);

    p.b.remove_container(&quitter, false, true).await.unwrap();
    match p.b.inspect_container(&quitter).await {
        Err(BackendError::ContainerNotFound(_)) => {}
        other => panic!("expected ContainerNotFound, got {other:?}"),
    }
    assert!(p.b.image_config("hoist-no-such-image:nope").await.unwrap().is_none());
    assert!(p.b.list_images().await.unwrap().iter().any(|i| i.tags.iter().any(|t| t == IMAGE)));
}

/// A throwaway registry on a free port (the `docker-registry` package), killed on drop.
struct Registry(std::process::Child, u16);

impl Registry {
    fn start(dir: &Path) -> Option<Registry> {
        let port = free_port();
        let cfg = dir.join("registry.yml");
        let conf = format!(
            "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.join("data").display()
        );
        std::fs::write(&cfg, conf).ok()?;
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&cfg)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .ok()?;
        let r = Registry(child, port);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(r)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn build_tag_push_pull_and_load() {
    let b = backend().await;
    let dir = tempfile::tempdir().unwrap();
    let ctx = dir.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("greeting"), "built-ok\n").unwrap();
    let noop: hoist::backend::ProgressFn = Arc::new(|_| {});
    let spec = hoist::backend::BuildSpec {
        context: ctx.clone(),
        dockerfile_inline: Some(format!("FROM {IMAGE}\nARG WHO\nCOPY greeting /greeting\nRUN echo $WHO >> /greeting\n")),
        args: vec![("WHO".into(), "hoist".into())],
        tags: vec!["hoist-test-built:one".into(), "hoist-test-built:two".into()],
        ..Default::default()
    };
    let id = b.build_image(&spec, noop.clone()).await.unwrap();
    assert!(id.starts_with("sha256:"), "{id}");
    let tags: Vec<String> = b.list_images().await.unwrap().into_iter().filter(|i| i.id == id).flat_map(|i| i.tags).collect();
    assert!(tags.contains(&"hoist-test-built:two".to_string()), "{tags:?}");

    // Save with the docker CLI, remove, load back.
    let archive = dir.path().join("saved.tar");
    let st = Command::new("docker").args(["save", "-o"]).arg(&archive).arg("hoist-test-built:one").status().unwrap();
    assert!(st.success());
    b.remove_image("hoist-test-built:one", true).await.unwrap();
    let loaded = b.load_images(&archive).await.unwrap();
    assert_eq!(loaded, vec!["hoist-test-built:one".to_string()]);

    if let Some(reg) = Registry::start(dir.path()) {
        let remote = format!("127.0.0.1:{}/hoist/built:latest", reg.1);
        b.tag_image("hoist-test-built:one", &remote).await.unwrap();
        b.push_image(&remote, noop.clone()).await.unwrap();
        b.remove_image(&remote, true).await.unwrap();
        assert!(b.image_config(&remote).await.unwrap().is_none());
        let events = Arc::new(std::sync::Mutex::new(0usize));
        let counter = events.clone();
        b.pull_image(&remote, Arc::new(move |_| *counter.lock().unwrap() += 1)).await.unwrap();
        assert!(*events.lock().unwrap() > 0);
        assert!(b.image_config(&remote).await.unwrap().is_some());
        b.remove_image(&remote, true).await.unwrap();
    } else {
        assert!(!Path::new("/usr/bin/docker-registry").exists(), "docker-registry is installed but did not start");
    }
    let missing = b.pull_image("127.0.0.1:1/hoist/nothing:here", noop).await;
    assert!(missing.is_err());
    for t in ["hoist-test-built:one", "hoist-test-built:two"] {
        let _ = b.remove_image(t, true).await;
    }
}
