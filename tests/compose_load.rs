//! The loader rule by rule: files written to a temp dir, loaded with a fixed environment.

use std::path::{Path, PathBuf};

use hoist::compose::model::{DependsCondition, VolumeType, VolumesFromSource};
use hoist::compose::{self, ComposeError, LoadOptions, LoadOutput, Project};

struct Dir(tempfile::TempDir);

impl Dir {
    fn new(files: &[(&str, &str)]) -> Dir {
        let d = Dir(tempfile::Builder::new().prefix("proj").tempdir().unwrap());
        for (name, text) in files {
            let p = d.path().join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        d
    }
    fn path(&self) -> &Path {
        self.0.path()
    }
    fn opts(&self, env: &[(&str, &str)]) -> LoadOptions {
        LoadOptions {
            interpolate: true,
            cwd: Some(self.path().to_path_buf()),
            environment: Some(env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
            ..Default::default()
        }
    }
    fn load(&self) -> Result<Project, ComposeError> {
        compose::load(&self.opts(&[]))
    }
    fn out(&self, env: &[(&str, &str)]) -> LoadOutput {
        compose::load_with_warnings(&self.opts(env)).unwrap()
    }
}

fn one(text: &str) -> Result<Project, ComposeError> {
    Dir::new(&[("compose.yaml", text)]).load()
}

fn err(text: &str) -> ComposeError {
    one(text).expect_err("the file should be refused")
}

#[test]
fn unknown_key_points_at_line_with_suggestion_and_caret() {
    let e = err("services:\n  web:\n    imgae: busybox\n");
    assert_eq!((e.line, e.column), (Some(3), Some(5)));
    let shown = e.to_string();
    assert!(shown.contains("compose.yaml:3:5: unknown key \"imgae\" in service \"web\" (did you mean \"image\"?)"), "{shown}");
    assert!(shown.ends_with("\n      imgae: busybox\n      ^"), "{shown:?}");
    assert!(err("servics: {}\n").message.contains("did you mean \"services\""));
    assert!(err("services:\n  a:\n    image: x\n    healthcheck:\n      tset: [CMD, x]\n").message.contains("did you mean \"test\""));
}

#[test]
fn wrong_types_are_named() {
    let e = err("services:\n  a:\n    image: x\n    privileged: maybe\n");
    assert_eq!(e.line, Some(4));
    assert!(e.message.contains("must be a boolean"), "{e}");
    assert!(err("services:\n  a:\n    image: x\n    cap_add: ALL\n").message.contains("list"));
    assert!(err("services:\n  a:\n    image: [x]\n").message.contains("string"));
    assert!(err("services: [a]\n").message.contains("mapping"));
}

#[test]
fn references_must_exist() {
    assert!(err("services:\n  a:\n    image: x\n    links: [b]\n").message.contains("undefined service \"b\""));
    assert!(err("services:\n  a:\n    image: x\n    volumes_from: [b:ro]\n").message.contains("undefined service"));
    assert!(err("services:\n  a:\n    image: x\n    depends_on: [b]\n").message.contains("undefined service"));
    assert!(err("services:\n  a:\n    image: x\n    network_mode: service:b\n").message.contains("undefined service"));
    assert!(err("services:\n  a:\n    image: x\n    pid: service:b\n").message.contains("undefined service"));
    assert!(err("services:\n  a:\n    image: x\n    networks: [front]\n").message.contains("undefined network \"front\""));
    assert!(err("services:\n  a:\n    image: x\n    volumes: [data:/d]\n").message.contains("undefined volume \"data\""));
    assert!(err("services:\n  a:\n    image: x\n    secrets: [s]\n").message.contains("undefined secret \"s\""));
    assert!(err("services:\n  a:\n    image: x\n    configs: [{source: c}]\n").message.contains("undefined config \"c\""));
    one("services:\n  a:\n    image: x\n    secrets: [s]\nsecrets:\n  s: {file: ./s.txt}\n").unwrap();
    assert!(err("services:\n  a:\n    image: x\n    deploy: {replica: 2}\n").message.contains("did you mean \"replicas\""));
    let p = one("services:\n  a:\n    image: x\n    depends_on:\n      b:\n        condition: service_healthy\n        required: false\n").unwrap();
    assert!(!p.services["a"].depends_on["b"].required);
    assert_eq!(p.services["a"].depends_on["b"].condition, DependsCondition::ServiceHealthy);
}

#[test]
fn dependency_cycles_name_the_whole_cycle() {
    let e = err("services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    links: [c]\n  c:\n    image: x\n    volumes_from: [a]\n");
    assert!(e.message.contains("a -> b -> c -> a"), "{e}");
    let e = err("services:\n  a:\n    image: x\n    network_mode: service:a\n");
    assert!(e.message.contains("a -> a"), "{e}");
}

#[test]
fn port_and_scale_conflicts() {
    let e = err("services:\n  a:\n    image: x\n    ports: ['8080:80']\n  b:\n    image: x\n    ports: ['8080:81']\n");
    assert!(e.message.contains("8080/tcp is published twice"), "{e}");
    one("services:\n  a:\n    image: x\n    ports: ['8080:80', '8080:80/udp', '127.0.0.1:8081:80']\n  b:\n    image: x\n    ports: ['127.0.0.2:8081:80']\n").unwrap();
    assert!(err("services:\n  a:\n    image: x\n    container_name: c\n    scale: 2\n").message.contains("container_name"));
    assert!(err("services:\n  a:\n    image: x\n    container_name: c\n    deploy: {replicas: 3}\n").message.contains("container_name"));
    for bad in ["'0:80'", "'70000:80'", "'81-80:81-80'", "'80-81:90-92'", "'1.2.3.x:80:80'"] {
        let e = err(&format!("services:\n  a:\n    image: x\n    ports: [{bad}]\n"));
        assert_eq!(e.line, Some(4), "{bad}: {e}");
    }
    for bad in ["rel/path", "a::/b", "/a:/b:bogus"] {
        assert!(err(&format!("services:\n  a:\n    image: x\n    volumes: ['{bad}']\n")).message.contains("volume spec"), "{bad}");
    }
}

#[test]
fn yaml_errors_carry_places() {
    let e = err("services:\n  a:\n    image: x\n    image: y\n");
    assert_eq!((e.line, e.column), (Some(4), Some(5)));
    assert!(err("services:\n\ta:\n").line.is_some());
    let p = one("x-base: &base\n  image: busybox\n  init: true\nservices:\n  a:\n    <<: *base\n    init: false\n").unwrap();
    assert_eq!(p.services["a"].image.as_deref(), Some("busybox"));
    assert_eq!(p.services["a"].init, Some(false));
    assert!(p.extensions.contains_key("x-base"));
}

#[test]
fn interpolation_warnings_and_required_errors() {
    let d = Dir::new(&[("compose.yaml", "services:\n  a:\n    image: \"busybox:${TAG:-latest}\"\n    command: echo $$HOME ${MISSING}x\n    environment:\n      - FROM_ENV\n      - NOT_SET\n      - LIT=${TAG-none}\n")]);
    let out = d.out(&[("FROM_ENV", "v")]);
    let a = &out.project.services["a"];
    assert_eq!(a.image.as_deref(), Some("busybox:latest"));
    assert_eq!(a.command.as_deref().unwrap(), ["echo", "$HOME", "x"]);
    assert_eq!(a.environment["FROM_ENV"].as_deref(), Some("v"));
    assert_eq!(a.environment["NOT_SET"], None);
    assert_eq!(a.environment["LIT"].as_deref(), Some("none"));
    assert_eq!(out.warnings, vec!["The \"MISSING\" variable is not set. Defaulting to a blank string.".to_string()]);

    let e = err("services:\n  a:\n    image: ${IMAGE:?set IMAGE first}\n");
    assert!(e.message.contains("IMAGE") && e.message.contains("set IMAGE first"), "{e}");
    assert_eq!(e.line, Some(3));
    assert!(e.file.unwrap().ends_with("compose.yaml"));

    let no = compose::load(&LoadOptions { interpolate: false, ..d.opts(&[]) }).unwrap();
    assert_eq!(no.services["a"].image.as_deref(), Some("busybox:${TAG:-latest}"));
}

#[test]
fn env_files_and_dotenv() {
    let d = Dir::new(&[
        ("compose.yaml", "services:\n  a:\n    image: x:${TAG}\n    env_file: [a.env, {path: missing.env, required: false}]\n    environment:\n      B: from-compose\n"),
        (".env", "TAG=1.0\n"),
        ("a.env", "A=from-file\nB=from-file\nexport C='lit $A'\n"),
    ]);
    let p = d.out(&[]).project;
    let a = &p.services["a"];
    assert_eq!(a.image.as_deref(), Some("x:1.0"));
    assert_eq!(a.environment["A"].as_deref(), Some("from-file"));
    assert_eq!(a.environment["B"].as_deref(), Some("from-compose"));
    assert_eq!(a.environment["C"].as_deref(), Some("lit $A"));
    assert_eq!(a.env_file.len(), 2);
    assert!(!a.env_file[1].required && a.env_file[0].path.is_absolute());
    // The process environment wins over .env.
    assert_eq!(d.out(&[("TAG", "2.0")]).project.services["a"].image.as_deref(), Some("x:2.0"));
    let e = Dir::new(&[("compose.yaml", "services:\n  a:\n    image: x\n    env_file: nope.env\n")]).load().unwrap_err();
    assert!(e.message.contains("nope.env"), "{e}");
}

#[test]
fn project_names() {
    let d = Dir::new(&[("compose.yaml", "name: FromFile\nservices:\n  a:\n    image: x\n")]);
    assert_eq!(d.load().unwrap().name, "fromfile");
    assert_eq!(compose::load(&d.opts(&[("COMPOSE_PROJECT_NAME", "env_name")])).unwrap().name, "env_name");
    let mut o = d.opts(&[("COMPOSE_PROJECT_NAME", "env_name")]);
    o.project_name = Some("Cli-Name".into());
    assert_eq!(compose::load(&o).unwrap().name, "cli-name");
    assert!(compose::normalize_project_name("bad name").is_err());
    assert!(compose::normalize_project_name("_x").is_err());
    let d = Dir::new(&[("compose.yaml", "services:\n  a:\n    image: x\n")]);
    let dir_name = d.path().file_name().unwrap().to_str().unwrap().to_lowercase();
    let p = d.load().unwrap();
    assert_eq!(p.name, dir_name.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-').collect::<String>());
    assert_eq!(p.working_dir, d.path());
}

#[test]
fn service_keys_normalize() {
    let p = one(r#"
services:
  a:
    image: x
    build: ./ctx
    command: sh -c 'echo "a b"'
    entrypoint: [/bin/sh]
    expose: ["3000-3001", 53/udp]
    ports:
      - 80
      - target: 443
        published: "8443"
        host_ip: 127.0.0.1
        protocol: tcp
    volumes:
      - /anon
      - data:/data:ro,nocopy
      - ./x:/x:z
      - type: tmpfs
        target: /t
        tmpfs: {size: 64m, mode: 1777}
      - type: bind
        source: ../up
        target: /up
        bind: {create_host_path: false}
    healthcheck:
      test: curl -f localhost
      interval: 5s
    mem_limit: 512m
    shm_size: 1g
    memswap_limit: 1024
    ulimits:
      nofile: {soft: 1024, hard: 2048}
      nproc: 512
    extra_hosts: {db: 10.0.0.2}
    labels: [a=b, c]
    dns: 8.8.8.8
    tmpfs: /run
    networks:
      front:
        aliases: [web]
        ipv4_address: 10.1.0.5
    restart: always
    cpus: 0.5
    sysctls: {net.core.somaxconn: 1024}
    x-custom: 1
    oom_score_adj: 5
  b:
    image: y
    links: [a, a:alias]
    volumes_from: [a, "container:other:ro"]
    depends_on: [a]
    healthcheck: {disable: true}
networks:
  front: {}
  ext: {external: true}
  named: {name: real}
volumes:
  data:
"#)
    .unwrap();
    let a = &p.services["a"];
    assert!(a.build.as_ref().unwrap().context.ends_with("/ctx") && a.build.as_ref().unwrap().context.starts_with('/'));
    assert_eq!(a.command.as_deref().unwrap(), ["sh", "-c", "echo \"a b\""]);
    assert_eq!(a.expose.iter().map(|e| e.to_string()).collect::<Vec<_>>(), ["3000/tcp", "3001/tcp", "53/udp"]);
    assert_eq!(a.ports.len(), 2);
    assert_eq!((a.ports[1].target, a.ports[1].published, a.ports[1].host_ip.as_deref()), (443, Some(8443), Some("127.0.0.1")));
    let v = &a.volumes;
    assert_eq!((v[0].kind, v[0].source.as_deref()), (VolumeType::Volume, None));
    assert!(v[1].read_only && v[1].nocopy && v[1].source.as_deref() == Some("data"));
    assert!(v[2].create_host_path && v[2].source.as_deref().unwrap().starts_with('/') && v[2].options == ["z"]);
    assert_eq!((v[3].kind, v[3].tmpfs_size, v[3].tmpfs_mode), (VolumeType::Tmpfs, Some(64 << 20), Some(0o1777)));
    assert!(!v[4].create_host_path && !v[4].source.as_deref().unwrap().contains(".."));
    assert_eq!(a.healthcheck.as_ref().unwrap().test, ["CMD-SHELL", "curl -f localhost"]);
    assert_eq!((a.mem_limit, a.shm_size, a.memswap_limit), (Some(512 << 20), Some(1 << 30), Some(1024)));
    assert_eq!((a.ulimits["nofile"].soft, a.ulimits["nofile"].hard, a.ulimits["nproc"].hard), (1024, 2048, 512));
    assert_eq!((a.extra_hosts[0].host.as_str(), a.extra_hosts[0].ip.as_str()), ("db", "10.0.0.2"));
    assert_eq!(a.labels["c"], "");
    assert_eq!((a.dns.clone(), a.tmpfs.iter().map(ToString::to_string).collect::<Vec<_>>()), (vec!["8.8.8.8".to_string()], vec!["/run".to_string()]));
    assert_eq!(a.networks["front"].aliases, ["web"]);
    assert_eq!(a.sysctls["net.core.somaxconn"], "1024");
    assert!(a.extensions.contains_key("x-custom") && a.oom_score_adj == Some(5));
    let b = &p.services["b"];
    assert_eq!((b.links[0].alias.as_str(), b.links[1].alias.as_str()), ("a", "alias"));
    assert_eq!(b.volumes_from[1].source, VolumesFromSource::Container("other".into()));
    assert!(b.volumes_from[1].read_only);
    assert!(b.healthcheck.as_ref().unwrap().disable);
    assert_eq!(p.networks["front"].name, format!("{}_front", p.name));
    assert_eq!(p.networks["ext"].name, "ext");
    assert_eq!(p.networks["named"].name, "real");
    assert_eq!(p.networks["default"].name, format!("{}_default", p.name), "b uses the default network");
    assert_eq!(p.volumes["data"].name, format!("{}_data", p.name));
}

#[test]
fn legacy_v1_files() {
    let p = one("web:\n  image: x\n  net: host\n  volumes: [data:/data]\n  log_driver: syslog\nother:\n  image: y\n").unwrap();
    assert!(p.legacy);
    assert_eq!(p.services["web"].network_mode, Some(hoist::compose::model::NetworkMode::Host));
    assert!(p.networks.is_empty());
    assert!(err("web:\n  image: x\n  foo: 1\n").message.contains("unknown key"));
}

#[test]
fn override_files_merge() {
    let d = Dir::new(&[
        ("docker-compose.yml", "services:\n  a:\n    image: x\n    command: [a, b]\n    ports: ['80:80']\n    environment: {A: '1', B: '1'}\n    volumes: ['./one:/data', '/keep']\n    labels: [l=1]\n"),
        ("docker-compose.override.yml", "services:\n  a:\n    image: y\n    command: c\n    ports: ['80:80', '81:81']\n    environment: [B=2, C=3]\n    volumes: ['./two:/data']\n  b:\n    image: z\n"),
    ]);
    let p = d.load().unwrap();
    let a = &p.services["a"];
    assert_eq!(a.image.as_deref(), Some("y"));
    assert_eq!(a.command.as_deref().unwrap(), ["c"]);
    assert_eq!(a.ports.iter().map(|p| p.target).collect::<Vec<_>>(), [80, 81]);
    assert_eq!(a.environment.iter().map(|(k, v)| format!("{k}={}", v.as_deref().unwrap())).collect::<Vec<_>>(), ["A=1", "B=2", "C=3"]);
    assert_eq!(a.volumes.len(), 2);
    assert!(a.volumes[0].source.as_deref().unwrap().ends_with("/two"));
    assert_eq!(a.labels["l"], "1");
    assert!(p.services.contains_key("b"));
    assert_eq!(p.config_files.len(), 2);
    // -f picks files explicitly, COMPOSE_FILE too.
    let mut o = d.opts(&[]);
    o.files = vec![PathBuf::from("docker-compose.yml")];
    assert_eq!(compose::load(&o).unwrap().services["a"].image.as_deref(), Some("x"));
    let o = d.opts(&[("COMPOSE_FILE", "docker-compose.override.yml:docker-compose.yml")]);
    assert_eq!(compose::load(&o).unwrap().services["a"].image.as_deref(), Some("x"));
}

#[test]
fn extends_same_file_other_file_and_cycles() {
    let d = Dir::new(&[
        ("compose.yaml", "services:\n  base:\n    image: x\n    environment: {A: '1'}\n  web:\n    extends: base\n    environment: {B: '2'}\n  api:\n    extends: {file: common/c.yml, service: tmpl}\n"),
        ("common/c.yml", "services:\n  tmpl:\n    image: from-file\n    init: true\n    volumes: ['./here:/here', '/abs:/abs']\n    build: ./ctx\n"),
    ]);
    let p = d.load().unwrap();
    assert_eq!(p.services["web"].image.as_deref(), Some("x"));
    assert_eq!(p.services["web"].environment.len(), 2);
    assert_eq!(p.services["api"].image.as_deref(), Some("from-file"));
    assert_eq!(p.services["api"].init, Some(true));
    // Relative paths of a service from another file stay relative to that file.
    let api = &p.services["api"];
    assert_eq!(api.volumes[0].source.as_deref(), Some(d.path().join("common/here").to_str().unwrap()));
    assert_eq!(api.volumes[1].source.as_deref(), Some("/abs"));
    assert_eq!(api.build.as_ref().unwrap().context, d.path().join("common/ctx").to_str().unwrap());
    let e = err("services:\n  a:\n    extends: b\n  b:\n    extends: a\n");
    assert!(e.message.contains("extends cycle"), "{e}");
    assert!(err("services:\n  a:\n    extends: nope\n").message.contains("undefined service"));
}

#[test]
fn profiles_disable_services() {
    let text = "services:\n  a:\n    image: x\n  dbg:\n    image: y\n    profiles: [debug]\n";
    let d = Dir::new(&[("compose.yaml", text)]);
    let p = d.load().unwrap();
    assert!(p.services.contains_key("a") && p.disabled_services.contains_key("dbg"));
    let mut o = d.opts(&[]);
    o.profiles = vec!["debug".into()];
    assert!(compose::load(&o).unwrap().services.contains_key("dbg"));
    assert!(compose::load(&d.opts(&[("COMPOSE_PROFILES", "x,debug")])).unwrap().services.contains_key("dbg"));
}

#[test]
fn includes_merge_and_conflict() {
    let d = Dir::new(&[
        ("compose.yaml", "include:\n  - sub/inc.yaml\nservices:\n  a:\n    image: x\n    depends_on: [db]\n"),
        ("sub/inc.yaml", "services:\n  db:\n    image: db\n    volumes: [./data:/data]\n"),
    ]);
    let p = d.load().unwrap();
    assert!(p.services["db"].volumes[0].source.as_deref().unwrap().ends_with("sub/data"));
    assert_eq!(p.config_files.len(), 2);
    let d = Dir::new(&[
        ("compose.yaml", "include: [inc.yaml]\nservices:\n  db:\n    image: x\n"),
        ("inc.yaml", "services:\n  db:\n    image: db\n"),
    ]);
    assert!(d.load().unwrap_err().message.contains("defined both"));
}

#[test]
fn rendered_yaml_reads_back_as_the_same_project() {
    let p = Dir::new(&[("compose.yaml", "services:\n  a:\n    image: x\n    command: [\"true\", \"1\", \"a: b\", \"\", \"multi\\nline\", \"#x\", \"-\"]\n    environment: {A: null, B: \"yes\"}\n    ports: ['80', '8080:80']\n")]).load().unwrap();
    let y = compose::to_yaml(&p);
    let back: serde_json::Value = serde_saphyr::from_str(&y).unwrap_or_else(|e| panic!("{e}\n{y}"));
    assert_eq!(back, serde_json::from_str::<serde_json::Value>(&compose::to_json(&p)).unwrap(), "{y}");
    // `config > x.yml` then `-f x.yml`: the same project, as with Compose.
    assert!(!y.contains("working_dir") && y.contains("published: \"8080\""), "{y}");
    let again = Dir::new(&[("compose.yaml", &y)]).load().unwrap_or_else(|e| panic!("{e}\n{y}"));
    assert_eq!((&again.name, &again.services, &again.networks, &again.volumes), (&p.name, &p.services, &p.networks, &p.volumes));
}

#[test]
fn env_file_flag_and_project_directory() {
    let d = Dir::new(&[
        ("files/compose.yaml", "services:\n  a:\n    image: x:${TAG}\n    volumes: ['./v:/v']\n"),
        ("files/.env", "TAG=from-files-dir\n"),
        ("proj/.env", "TAG=from-proj\n"),
        ("other.env", "TAG=from-flag\n"),
    ]);
    let mut o = d.opts(&[]);
    o.files = vec![PathBuf::from("files/compose.yaml")];
    let p = compose::load(&o).unwrap();
    assert_eq!(p.services["a"].image.as_deref(), Some("x:from-files-dir"));
    o.project_directory = Some(PathBuf::from("proj"));
    let p = compose::load(&o).unwrap();
    assert_eq!(p.services["a"].image.as_deref(), Some("x:from-proj"));
    assert_eq!(p.services["a"].volumes[0].source.as_deref(), Some(d.path().join("proj/v").to_str().unwrap()));
    assert_eq!(p.name, "proj");
    o.env_files = vec![PathBuf::from("other.env")];
    assert_eq!(compose::load(&o).unwrap().services["a"].image.as_deref(), Some("x:from-flag"));
    o.env_files = vec![PathBuf::from("missing.env")];
    assert!(compose::load(&o).unwrap_err().to_string().contains("missing.env"));
}

#[test]
fn no_file_found_and_empty_files() {
    let d = Dir::new(&[("readme.txt", "")]);
    let mut o = d.opts(&[]);
    o.cwd = Some(d.path().join("nowhere"));
    // The search goes up to / ; a compose file above the temp dir would be found, so only
    // check the message when nothing is.
    if let Err(e) = compose::load(&o) {
        assert!(e.message.contains("no configuration file"), "{e}");
    }
    assert!(err("").message.contains("empty"));
    assert!(err("- a\n- b\n").message.contains("top level must be a mapping"));
    let p = one("services: {}\n").unwrap();
    let p2 = one("services:\n  a:\n    image: x\n---\nservices:\n  a:\n    image: y\n  b:\n    image: z\n").unwrap();
    assert_eq!((p2.services["a"].image.as_deref(), p2.services.len()), (Some("y"), 2));
    let d = Dir::new(&[("compose.yaml", "version: '3'\nservices: {}\n")]);
    assert!(d.out(&[]).warnings[0].contains("`version` is obsolete"));
    assert!(p.services.is_empty() && p.networks.is_empty());
}

#[test]
fn deploy_is_typed_and_bad_values_are_refused_with_their_line() {
    use hoist::compose::model::{DeployMode, FailureAction, RestartCondition, UpdateOrder};
    let p = one(
        "services:\n  a:\n    image: x\n    deploy:\n      mode: global\n      labels: [tier=front]\n      update_config: {parallelism: 2, delay: 90s, order: start-first, failure_action: rollback, max_failure_ratio: 0.5}\n      restart_policy: {condition: on-failure, max_attempts: 3, window: 2m}\n      placement: {constraints: [node.role==manager], preferences: [{spread: node.labels.zone}], max_replicas_per_node: 1}\n      resources:\n        reservations:\n          devices: [{capabilities: [gpu], count: all}]\n          generic_resources: [{discrete_resource_spec: {kind: ssd, value: 2}}]\n",
    )
    .unwrap();
    let d = p.services["a"].deploy.as_ref().unwrap();
    assert_eq!(d.mode, Some(DeployMode::Global));
    assert_eq!(d.labels["tier"], "front");
    let uc = d.update_config.as_ref().unwrap();
    assert_eq!((uc.parallelism, uc.order, uc.failure_action), (Some(2), Some(UpdateOrder::StartFirst), Some(FailureAction::Rollback)));
    assert_eq!(uc.delay.unwrap().to_string(), "1m30s");
    let rp = d.restart_policy.as_ref().unwrap();
    assert_eq!((rp.condition, rp.max_attempts), (Some(RestartCondition::OnFailure), Some(3)));
    assert_eq!(d.placement.as_ref().unwrap().preferences[0].spread, "node.labels.zone");
    let res = d.reservations();
    assert_eq!(res.devices[0].count.map(|c| c.engine()), Some(-1));
    assert_eq!(res.generic_resources[0].discrete_resource_spec.value, 2);

    for (text, line, says) in [
        ("deploy:\n      mode: sometimes\n", 5, "deploy.mode of service \"a\": \"sometimes\" is not replicated, global"),
        ("deploy:\n      endpoint_mode: rr\n", 5, "\"rr\" is not vip or dnsrr"),
        ("deploy:\n      restart_policy:\n        condition: often\n", 6, "\"often\" is not none, on-failure or any"),
        ("deploy:\n      restart_policy:\n        delay: soon\n", 6, "invalid duration \"soon\""),
        ("deploy:\n      restart_policy:\n        max_attempts: -1\n", 6, "must be an integer in range"),
        ("deploy:\n      update_config:\n        order: random\n", 6, "\"random\" is not stop-first or start-first"),
        ("deploy:\n      rollback_config:\n        failure_action: rollback\n", 6, "must be continue or pause"),
        ("deploy:\n      placement:\n        preferences: [{pack: x}]\n", 6, "unknown key \"pack\""),
        ("deploy:\n      resources:\n        reservations:\n          devices: [{count: many}]\n", 7, "must be an integer"),
    ] {
        let e = err(&format!("services:\n  a:\n    image: x\n    {text}"));
        assert_eq!(e.line, Some(line), "{text}: {e}");
        assert!(e.message.contains(says), "{text}: {}", e.message);
    }
}

#[test]
fn deploy_restart_policy_is_the_containers_policy_as_in_compose() {
    use hoist::compose::model::RestartPolicy;
    let policy = |deploy: &str| one(&format!("services:\n  a:\n    image: x\n    restart: always\n    deploy: {deploy}\n")).unwrap().services["a"].restart_policy();
    assert_eq!(policy("{restart_policy: {condition: on-failure, max_attempts: 2}}"), Some(RestartPolicy::OnFailure(Some(2))));
    assert_eq!(policy("{restart_policy: {condition: on-failure, max_attempts: 0}}"), Some(RestartPolicy::OnFailure(None)));
    assert_eq!(policy("{restart_policy: {condition: none}}"), Some(RestartPolicy::No));
    assert_eq!(policy("{restart_policy: {condition: any, max_attempts: 5}}"), Some(RestartPolicy::Always));
    assert_eq!(policy("{restart_policy: {delay: 5s}}"), Some(RestartPolicy::No), "no condition is the engine's empty policy");
    assert_eq!(policy("{replicas: 1}"), Some(RestartPolicy::Always), "`restart` when deploy has no restart_policy");
}

#[test]
fn twin_keys_with_distinct_values_and_values_the_engine_refuses_are_refused_at_load() {
    for (text, line, says) in [
        ("scale: 2\n    deploy: {replicas: 3}\n", 4, "can't set distinct values on 'scale' and 'deploy.replicas'"),
        ("cpus: 0.5\n    deploy: {resources: {limits: {cpus: '1'}}}\n", 4, "'cpus' and 'deploy.resources.limits.cpus'"),
        ("mem_limit: 1g\n    deploy: {resources: {limits: {memory: 2g}}}\n", 4, "'mem_limit' and 'deploy.resources.limits.memory'"),
        ("pids_limit: 10\n    deploy: {resources: {limits: {pids: 20}}}\n", 4, "'pids_limit' and 'deploy.resources.limits.pids'"),
        ("network_mode: host\n    mac_address: 02:42:ac:11:00:99\n", 5, "mac_address cannot be set with network_mode: host"),
        ("mac_address: '+2:42:ac:11:00:99'\n", 4, "invalid MAC address"),
        ("stop_grace_period: inf\n", 4, "invalid duration"),
        ("stop_grace_period: 1e400\n", 4, "invalid duration"),
        ("healthcheck: {test: [CMD, 'true'], interval: 99999999999999999999h}\n", 4, "invalid duration"),
    ] {
        let e = err(&format!("services:\n  a:\n    image: x\n    {text}"));
        assert_eq!(e.line, Some(line), "{text}: {e}");
        assert!(e.message.contains(says), "{text}: {}", e.message);
    }
    // The same value twice is one value; `deploy.replicas` alone is the scale.
    let p = one("services:\n  a:\n    image: x\n    scale: 2\n    deploy: {replicas: 2}\n  b:\n    image: x\n    deploy: {replicas: 3}\n").unwrap();
    assert_eq!((p.services["a"].replicas(), p.services["b"].replicas()), (2, 3));
}

#[test]
fn configs_and_secrets_references_are_typed_once() {
    let p = one("services:\n  a:\n    image: x\n    secrets:\n      - s\n      - {source: s, target: t, uid: 1000, gid: '1000', mode: 0o440}\n    configs:\n      - {source: c, mode: 0440}\n      - {source: c, mode: \"0440\"}\n      - {source: c, mode: 440}\n      - {source: c, mode: 288}\nsecrets:\n  s: {environment: HOME}\nconfigs:\n  c: {content: x}\n").unwrap();
    let a = &p.services["a"];
    assert_eq!(a.secrets[0].source, "s");
    assert_eq!((a.secrets[1].target.as_deref(), a.secrets[1].uid.as_deref(), a.secrets[1].gid.as_deref(), a.secrets[1].mode), (Some("t"), Some("1000"), Some("1000"), Some(0o440)));
    assert_eq!(a.configs.iter().map(|c| c.mode.unwrap()).collect::<Vec<_>>(), [0o440, 0o440, 0o440, 288]);
    // `config` prints modes as octal digits, which read back as the same mode.
    let yaml = compose::to_yaml(&p);
    assert!(yaml.contains("mode: \"0440\"") || yaml.contains("mode: '0440'"), "{yaml}");
    let back: serde_json::Value = serde_saphyr::from_str(&yaml).unwrap();
    let again: Project = serde_json::from_value(back).unwrap();
    assert_eq!((&again.services["a"].configs, &again.services["a"].secrets), (&a.configs, &a.secrets));
    for (text, line, says) in [
        ("secrets:\n      - {target: t}\n", 5, "needs a `source`"),
        ("secrets:\n      - {source: s, owner: me}\n", 5, "unknown key \"owner\""),
        ("secrets:\n      - {source: s, mode: 99999}\n", 5, "is not a file mode"),
        ("secrets:\n      - {source: nope}\n", 4, "refers to undefined secret \"nope\""),
    ] {
        let e = err(&format!("services:\n  a:\n    image: x\n    {text}secrets:\n  s: {{environment: HOME}}\n"));
        assert_eq!(e.line, Some(line), "{text}: {e}");
        assert!(e.message.contains(says), "{text}: {}", e.message);
    }
}

#[test]
fn devices_both_forms_are_typed_once() {
    let p = one("services:\n  a:\n    image: x\n    devices:\n      - /dev/fuse\n      - /dev/null:/dev/xnull:rw\n      - source: /dev/zero\n        target: /dev/z\n        permissions: r\n      - {source: /dev/full}\n").unwrap();
    let shown: Vec<String> = p.services["a"].devices.iter().map(ToString::to_string).collect();
    assert_eq!(shown, ["/dev/fuse:/dev/fuse:rwm", "/dev/null:/dev/xnull:rw", "/dev/zero:/dev/z:r", "/dev/full:/dev/full:rwm"]);
    for (text, line, says) in [
        ("devices: [/dev/null:/dev/x:rx]\n", 4, "invalid device permissions \"rx\""),
        ("devices: [null:/dev/x]\n", 4, "both paths must be absolute"),
        ("devices:\n      - {target: /dev/x}\n", 5, "needs a `source`"),
        ("devices:\n      - {source: /dev/x, mode: r}\n", 5, "unknown key \"mode\""),
    ] {
        let e = err(&format!("services:\n  a:\n    image: x\n    {text}"));
        assert_eq!(e.line, Some(line), "{text}: {e}");
        assert!(e.message.contains(says), "{text}: {}", e.message);
    }
}

#[test]
fn pid_and_ipc_modes_are_typed_once() {
    use hoist::compose::model::ShareMode;
    let p = one("services:\n  a:\n    image: x\n    pid: host\n    ipc: shareable\n  b:\n    image: x\n    pid: service:a\n    ipc: container:other\n").unwrap();
    assert_eq!((&p.services["a"].pid, &p.services["a"].ipc), (&Some(ShareMode::Host), &Some(ShareMode::Shareable)));
    assert_eq!((&p.services["b"].pid, &p.services["b"].ipc), (&Some(ShareMode::Service("a".into())), &Some(ShareMode::Container("other".into()))));
    for (text, says) in [("pid: private\n", "invalid pid mode \"private\""), ("ipc: servce:a\n", "invalid mode \"servce:a\""), ("ipc: \"service:\"\n", "invalid mode")] {
        let e = err(&format!("services:\n  a:\n    image: x\n    {text}"));
        assert_eq!(e.line, Some(4), "{text}: {e}");
        assert!(e.message.contains(says), "{text}: {}", e.message);
    }
}

#[test]
fn tmpfs_entries_are_typed_once() {
    let p = one("services:\n  a:\n    image: x\n    tmpfs:\n      - /run\n      - /tmp:size=64m,mode=1777\n      - /x:uid=1000\n").unwrap();
    let t = &p.services["a"].tmpfs;
    assert_eq!((t[0].target.as_str(), t[0].size, t[0].mode), ("/run", None, None));
    assert_eq!((t[1].size, t[1].mode), (Some(64 << 20), Some(0o1777)));
    assert_eq!(t[2].other, ["uid=1000"]);
    assert_eq!(t[1].to_string().parse::<hoist::compose::model::Tmpfs>().unwrap(), t[1]);
    for (text, says) in [("tmpfs: [run]\n", "it must be an absolute path"), ("tmpfs: ['/t:size=lots']\n", "invalid tmpfs size"), ("tmpfs: ['/t:mode=999']\n", "invalid tmpfs mode")] {
        let e = err(&format!("services:\n  a:\n    image: x\n    {text}"));
        assert_eq!(e.line, Some(4), "{text}: {e}");
        assert!(e.message.contains(says), "{text}: {}", e.message);
    }
}
