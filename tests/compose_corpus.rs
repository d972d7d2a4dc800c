//! The loader against real-world files: Docker Compose v2's e2e fixtures (load or fail
//! cleanly, fast, never panic), the seed scenarios (load right), the Compose Spec JSON
//! schema (accepted files validate there too) and a mutation fuzz smoke.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use hoist::compose::{self, LoadOptions, Project};

/// The shared folder (`$HOIST_SHARED`, else `../shared`); `HOIST_SHARED=none` opts out
/// of the tests that read it, and a missing folder fails them loudly.
fn shared() -> Option<PathBuf> {
    let dir = match std::env::var_os("HOIST_SHARED") {
        Some(v) if v == "none" => {
            eprintln!("HOIST_SHARED=none: the shared reference files are not read");
            return None;
        }
        Some(v) => PathBuf::from(v),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"),
    };
    assert!(dir.join("scenarios").is_dir(), "{} has no scenarios/: set HOIST_SHARED to the shared folder, or HOIST_SHARED=none", dir.display());
    Some(dir)
}

fn opts(file: &Path, env: Vec<(String, String)>) -> LoadOptions {
    LoadOptions {
        files: vec![file.to_path_buf()],
        interpolate: true,
        cwd: file.parent().map(Path::to_path_buf),
        environment: Some(env),
        ..Default::default()
    }
}

/// Loads in a thread: Ok(Some(result)) when done in `limit`, Err(panic text) on panic.
fn load_guarded(o: LoadOptions, limit: Duration) -> Result<Option<Result<Project, compose::ComposeError>>, String> {
    let (tx, rx) = mpsc::channel();
    let h = std::thread::spawn(move || {
        let _ = tx.send(compose::load(&o));
    });
    match rx.recv_timeout(limit) {
        Ok(r) => {
            let _ = h.join();
            Ok(Some(r))
        }
        Err(mpsc::RecvTimeoutError::Timeout) => Ok(None),
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(match h.join() {
            Err(p) => p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default(),
            Ok(()) => "thread ended without a result".into(),
        }),
    }
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<_> = rd.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files_under(&p, out);
        } else if p.is_file() {
            out.push(p);
        }
    }
}

fn is_yaml(p: &Path) -> bool {
    matches!(p.extension().and_then(|e| e.to_str()), Some("yml" | "yaml"))
}

#[test]
fn v2_fixtures_load_or_fail_cleanly() {
    let Some(shared) = shared() else { return };
    let dir = shared.join("reference/compose-v2-fixtures");
    let mut files = Vec::new();
    files_under(&dir, &mut files);
    let schema: serde_json::Value = serde_json::from_str(&compose::render::model_schema()).unwrap();
    let model_schema = jsonschema::validator_for(&schema).unwrap();
    let (mut ok, mut failed) = (0, 0);
    for f in &files {
        match load_guarded(opts(f, vec![]), Duration::from_secs(5)) {
            Err(panic) => panic!("{}: loader panicked: {panic}", f.display()),
            Ok(None) => panic!("{}: loading took more than 5 s", f.display()),
            Ok(Some(Ok(p))) => {
                ok += 1;
                // `hoist config` output must be YAML that reads back as the same model.
                let json: serde_json::Value = serde_json::from_str(&compose::to_json(&p)).unwrap();
                let yaml = compose::to_yaml(&p);
                let back: serde_json::Value = serde_saphyr::from_str(&yaml).unwrap_or_else(|e| panic!("{}: {e}\n{yaml}", f.display()));
                assert_eq!(back, json, "{}: YAML output differs\n{yaml}", f.display());
                // The model (not the printed file, which is in the Compose syntax) fits its schema.
                let model = serde_json::to_value(&p).unwrap();
                let errors: Vec<String> = model_schema.iter_errors(&model).map(|e| e.to_string()).collect();
                assert!(errors.is_empty(), "{}: {errors:?}", f.display());
            }
            Ok(Some(Err(e))) => {
                assert!(!e.to_string().is_empty(), "{}: empty error", f.display());
                failed += 1;
            }
        }
    }
    eprintln!("{} files: {ok} loaded, {failed} refused", files.len());
    assert!(ok > 50, "too few fixtures load: {ok}");
}

#[test]
fn accepted_fixtures_validate_against_the_compose_spec_schema() {
    let Some(shared) = shared() else { return };
    let base = shared.join("reference");
    let (dir, schema) = (base.join("compose-v2-fixtures"), base.join("compose-spec.json"));
    let schema: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(schema).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let mut files = Vec::new();
    files_under(&dir, &mut files);
    let mut disagree = Vec::new();
    let (mut checked, mut unknown_key_refusals) = (0, 0);
    for f in files.iter().filter(|f| is_yaml(f)) {
        let Ok(Some(result)) = load_guarded(opts(f, vec![]), Duration::from_secs(5)) else { continue };
        let Some(raw) = compose::file_as_json(f) else { continue };
        match result {
            Ok(p) if !p.legacy => {
                checked += 1;
                if !validator.is_valid(&raw) {
                    disagree.push(format!("{}: hoist accepts, the schema rejects", f.display()));
                }
            }
            Err(e) if e.message.starts_with("unknown key") => {
                unknown_key_refusals += 1;
                if validator.is_valid(&raw) {
                    disagree.push(format!("{}: hoist refuses ({e}), the schema accepts", f.display()));
                }
            }
            _ => {}
        }
    }
    eprintln!("{checked} accepted files checked, {unknown_key_refusals} unknown-key refusals");
    assert!(disagree.is_empty(), "{}", disagree.join("\n"));
}

#[test]
fn seed_scenarios_load() {
    let Some(shared) = shared() else { return };
    let dir = shared.join("scenarios");
    let load = |name: &str| compose::load(&opts(&dir.join(name).join("docker-compose.yml"), vec![])).unwrap();

    let links = load("links");
    assert!(links.legacy);
    let r = &links.services["receiver"];
    assert_eq!((r.links[0].target.as_str(), r.links[0].alias.as_str()), ("example", "ex"));
    assert_eq!(links.services["example"].expose.iter().map(|e| e.to_string()).collect::<Vec<_>>(), ["8080/tcp", "80/tcp"]);
    assert!(links.networks.is_empty(), "legacy projects use the default bridge");

    let env = load("env-interpolation");
    let app = &env.services["app"];
    assert_eq!(app.image.as_deref(), Some("busybox:latest"));
    let get = |k: &str| app.environment.get(k).cloned().flatten();
    assert_eq!(get("MSG").as_deref(), Some("hello world"));
    assert_eq!(get("DEF").as_deref(), Some("fallback"));
    assert_eq!(get("FROM_ENV_FILE").as_deref(), Some("yes"));
    assert_eq!(get("QUOTED").as_deref(), Some("two words"));
    assert!(app.command.as_ref().unwrap()[2].contains("echo \"MSG=$MSG\""), "$$ becomes $");

    let vf = load("volumes-from");
    assert!(vf.legacy);
    assert_eq!(vf.services["reader"].volumes_from[0].source, hoist::compose::model::VolumesFromSource::Service("writer".into()));

    let ports = load("ports");
    let p = &ports.services["boundrandom"].ports[0];
    assert_eq!((p.host_ip.as_deref(), p.published, p.target), (Some("127.0.0.1"), None, 80));

    let bind = load("bind-mounts");
    let v = &bind.services["web"].volumes[1];
    let want = compose::discover::clean(&dir.join("bind-mounts/rodir"));
    assert_eq!(v.source.as_deref(), Some(want.to_str().unwrap()));
    assert!(v.read_only && v.create_host_path);

    let nv = load("named-volumes");
    assert_eq!(nv.volumes["dbdata"].name, "named-volumes_dbdata");
    assert_eq!(nv.networks["default"].name, "named-volumes_default");

    for name in ["healthy-order", "scale", "shared-netns"] {
        load(name);
    }
}

/// xorshift: deterministic, no extra crates.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next() % n as u64) as usize }
    }
}

#[test]
fn mutated_files_never_panic() {
    let mut seeds: Vec<Vec<u8>> = Vec::new();
    let mut files = Vec::new();
    if let Some(shared) = shared() {
        files_under(&shared.join("scenarios"), &mut files);
        files_under(&shared.join("reference/compose-v2-fixtures"), &mut files);
    }
    for f in files.iter().filter(|f| is_yaml(f)).take(80) {
        seeds.push(std::fs::read(f).unwrap_or_default());
    }
    seeds.push(b"services:\n  a:\n    image: x\n    ports: ['80:80']\n    depends_on: [b]\n  b:\n    image: y\n".to_vec());
    let tokens: &[&[u8]] = &[b":", b"- ", b"{", b"}", b"[", b"]", b"&a ", b"*a", b"<<: ", b"${", b"$", b"\t", b"\n", b"'", b"\"", b"#", b"\xff", b"!!str ", b"? "];
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("compose.yml");
    let mut rng = Rng(0x9e3779b97f4a7c15);
    for case in 0..2000 {
        let mut data = seeds[rng.below(seeds.len())].clone();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(data.len() + 1);
            match rng.below(4) {
                0 if !data.is_empty() => {
                    let end = (at + rng.below(16)).min(data.len());
                    data.drain(at.min(end)..end);
                }
                1 => {
                    let t = tokens[rng.below(tokens.len())];
                    data.splice(at..at, t.iter().copied());
                }
                2 if !data.is_empty() => {
                    let i = rng.below(data.len());
                    data[i] = rng.next() as u8;
                }
                _ => {
                    let end = (at + rng.below(40)).min(data.len());
                    let chunk = data[at.min(end)..end].to_vec();
                    data.splice(at..at, chunk);
                }
            }
        }
        std::fs::write(&path, &data).unwrap();
        match load_guarded(opts(&path, vec![]), Duration::from_secs(5)) {
            Err(panic) => panic!("case {case}: panic {panic} on input {:?}", String::from_utf8_lossy(&data)),
            Ok(None) => panic!("case {case}: took more than 5 s on input {:?}", String::from_utf8_lossy(&data)),
            Ok(Some(_)) => {}
        }
    }
}

/// Lists why each fixture is refused (run with --ignored --nocapture when tuning the loader).
#[test]
#[ignore]
fn print_fixture_refusals() {
    let Some(shared) = shared() else { return };
    let mut files = Vec::new();
    files_under(&shared.join("reference/compose-v2-fixtures"), &mut files);
    for f in files.iter().filter(|f| is_yaml(f)) {
        if let Ok(Some(Err(e))) = load_guarded(opts(f, vec![]), Duration::from_secs(5)) {
            println!("{}\n    {}", f.display(), e.to_string().lines().next().unwrap_or(""));
        }
    }
}
