//! `hoist convert --to kubernetes`: every manifest written for the examples deserializes
//! into its k8s-openapi type and serializes back unchanged (so no field we emit is one the
//! API would ignore), the output matches checked-in snapshots, and what does not map is
//! warned about with the service and the key. No root, no engine.
//!
//! Re-bless the snapshots after an intended change: `HOIST_BLESS=1 cargo test --test convert`.

use std::path::{Path, PathBuf};
use std::process::Command;

use hoist::compose::{self, LoadOptions, Project};
use hoist::export::kubernetes::{self, ExportError, HostContent, Manifests};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Secret, Service};
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

const ENV: &[(&str, &str)] = &[("SHOP_TOKEN", "t0ken")];

fn load(file: &Path) -> Project {
    let env: Vec<(String, String)> = ENV.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let opts = LoadOptions { files: vec![file.to_path_buf()], interpolate: true, environment: Some(env), ..Default::default() };
    compose::load(&opts).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

fn convert(project: &Project) -> Result<Manifests, ExportError> {
    kubernetes::convert(project, &HostContent { env: ENV.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect() })
}

/// The documents of a YAML stream.
fn documents(stream: &str) -> Vec<Value> {
    stream
        .split("\n---\n")
        .map(|doc| serde_saphyr::from_str::<Value>(doc).unwrap_or_else(|e| panic!("{e}\n{doc}")))
        .collect()
}

/// `doc` read as `T` and written back: the same JSON, or a panic naming what changed.
fn round_trip<T: serde::de::DeserializeOwned + serde::Serialize>(doc: &Value) {
    let typed: T = serde_json::from_value(doc.clone()).unwrap_or_else(|e| panic!("{e}\n{doc:#}"));
    let back = serde_json::to_value(&typed).unwrap();
    assert_eq!(&back, doc, "{} {} does not survive the k8s-openapi types", doc["kind"], doc["metadata"]["name"]);
}

/// Checks every document of a stream against its k8s-openapi type; returns `kind/name`s.
fn check_stream(stream: &str) -> Vec<String> {
    let mut seen = Vec::new();
    for doc in documents(stream) {
        let kind = doc["kind"].as_str().unwrap_or_default().to_string();
        match kind.as_str() {
            "Deployment" => round_trip::<Deployment>(&doc),
            "StatefulSet" => round_trip::<StatefulSet>(&doc),
            "Service" => round_trip::<Service>(&doc),
            "PersistentVolumeClaim" => round_trip::<PersistentVolumeClaim>(&doc),
            "ConfigMap" => round_trip::<ConfigMap>(&doc),
            "Secret" => round_trip::<Secret>(&doc),
            other => panic!("unexpected kind {other:?}:\n{doc:#}"),
        }
        seen.push(format!("{kind}/{}", doc["metadata"]["name"].as_str().unwrap_or_default()));
    }
    seen
}

fn kitchen_sink() -> PathBuf {
    root().join("tests/convert/kitchen-sink")
}

/// Compares `text` with `tests/snapshots/<name>`, or rewrites it when HOIST_BLESS is set.
fn snapshot(name: &str, text: &str) {
    let path = root().join("tests/snapshots").join(name);
    if std::env::var_os("HOIST_BLESS").is_some() {
        std::fs::write(&path, text).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e} (HOIST_BLESS=1 writes it)", path.display()));
    assert!(want == text, "{} differs (HOIST_BLESS=1 re-blesses it); got:\n{text}", path.display());
}

#[test]
fn the_round_trip_sees_fields_the_api_does_not_know() {
    let mut doc = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"k": "v"}});
    round_trip::<ConfigMap>(&doc);
    doc["metadata"]["lables"] = serde_json::json!({"a": "b"});
    let caught = std::panic::catch_unwind(|| round_trip::<ConfigMap>(&doc));
    assert!(caught.is_err(), "a misspelt field must fail the round trip");
}

#[test]
fn every_example_converts_into_valid_kubernetes_objects() {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root().join("examples")).unwrap().map(|e| e.unwrap().path()).collect();
    dirs.push(kitchen_sink());
    dirs.sort();
    let mut converted = 0;
    for dir in dirs {
        let file = dir.join("docker-compose.yml");
        if !file.exists() {
            continue;
        }
        let project = load(&file);
        let m = convert(&project).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let seen = check_stream(&m.to_yaml().unwrap());
        // Every compose service has its workload and its Service.
        for key in project.services.keys() {
            assert!(seen.iter().any(|s| s.ends_with(&format!("/{key}")) && s.starts_with("Service/")), "{}: no Service for {key}: {seen:?}", file.display());
            let workload = |k: &str| seen.contains(&format!("{k}/{key}"));
            assert!(workload("Deployment") || workload("StatefulSet"), "{}: no workload for {key}: {seen:?}", file.display());
        }
        converted += 1;
    }
    assert!(converted >= 7, "only {converted} compose files converted");
}

#[test]
fn node_redis_demo_matches_its_snapshot() {
    let m = convert(&load(&root().join("examples/node-redis/docker-compose.yml"))).unwrap();
    let yaml = m.to_yaml().unwrap();
    assert_eq!(check_stream(&yaml), ["Service/web", "Service/web-public", "Deployment/web", "Service/redis", "Deployment/redis"]);
    snapshot("node-redis.k8s.yaml", &yaml);
    let warnings: Vec<String> = m.warnings.iter().map(|w| w.to_string()).collect();
    assert_eq!(warnings.len(), 2, "{warnings:#?}");
    assert!(warnings[0].starts_with("service \"web\": build: no image is named, so the manifests use \"node-redis-web\""), "{warnings:#?}");
    assert!(warnings[1].starts_with("service \"web\": links: Kubernetes has no links: \"redis\" is reached by its Service name \"redis\""), "{warnings:#?}");
}

#[test]
fn kitchen_sink_matches_its_snapshot() {
    let m = convert(&load(&kitchen_sink().join("docker-compose.yml"))).unwrap();
    // The bind mount's hostPath is absolute: where this checkout is.
    let yaml = m.to_yaml().unwrap().replace(&kitchen_sink().display().to_string(), "$DIR");
    snapshot("kitchen-sink.k8s.yaml", &yaml);
}

#[test]
fn kitchen_sink_maps_what_kubernetes_has() {
    let m = convert(&load(&kitchen_sink().join("docker-compose.yml"))).unwrap();
    let docs = documents(&m.to_yaml().unwrap());
    let find = |kind: &str, name: &str| docs.iter().find(|d| d["kind"] == kind && d["metadata"]["name"] == name).unwrap_or_else(|| panic!("no {kind}/{name}")).clone();

    let web = find("Deployment", "web");
    assert_eq!(web["spec"]["replicas"], 3);
    assert_eq!(web["metadata"]["labels"]["com.example.release"], "stable");
    let pod = &web["spec"]["template"];
    assert_eq!(pod["metadata"]["labels"]["com.example.tier"], "front");
    assert_eq!(pod["metadata"]["annotations"]["com.example.description"], "The shop front", "a label value Kubernetes refuses becomes an annotation");
    assert_eq!(pod["metadata"]["annotations"]["example.com/owner"], "team-a");
    assert_eq!(pod["spec"]["nodeSelector"]["disk"], "ssd");
    assert_eq!(pod["spec"]["terminationGracePeriodSeconds"], 20);
    let c = &pod["spec"]["containers"][0];
    assert_eq!(c["command"], serde_json::json!(["/docker-entrypoint.sh"]));
    assert_eq!(c["args"][2], "daemon off; env HOME=$$(HOME);", "$( is escaped so Kubernetes does not expand it");
    assert_eq!(c["env"], serde_json::json!([{"name": "MODE", "value": "yes"}, {"name": "PRICE", "value": "$5"}]));
    assert_eq!(c["resources"], serde_json::json!({"limits": {"cpu": "500m", "memory": "256Mi"}, "requests": {"cpu": "250m", "memory": "64Mi"}}));
    assert_eq!(c["livenessProbe"]["exec"]["command"], serde_json::json!(["/bin/sh", "-c", "wget -qO- http://localhost/ || exit 1"]));
    assert_eq!((&c["livenessProbe"]["periodSeconds"], &c["livenessProbe"]["timeoutSeconds"]), (&serde_json::json!(10), &serde_json::json!(2)));
    assert_eq!((&c["livenessProbe"]["failureThreshold"], &c["livenessProbe"]["initialDelaySeconds"]), (&serde_json::json!(5), &serde_json::json!(60)));
    assert_eq!(c["securityContext"]["runAsUser"], 101);
    assert_eq!(c["securityContext"]["capabilities"], serde_json::json!({"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]}));
    let mounts = c["volumeMounts"].as_array().unwrap();
    let nginx = mounts.iter().find(|m| m["mountPath"] == "/etc/nginx/conf.d/default.conf").unwrap();
    assert_eq!(nginx["subPath"], "nginx");
    assert!(mounts.iter().any(|m| m["mountPath"] == "/run/secrets/token"));
    assert!(mounts.iter().any(|m| m["mountPath"] == "/feature-flags"));
    let volumes = pod["spec"]["volumes"].as_array().unwrap();
    assert!(volumes.iter().any(|v| v["configMap"]["items"][0]["mode"] == 0o440), "{volumes:#?}");
    assert!(volumes.iter().any(|v| v["emptyDir"]["medium"] == "Memory" && v["emptyDir"]["sizeLimit"] == "64Mi"));

    // Two Services: every container port inside, the published ones outside.
    let inside = find("Service", "web");
    assert_eq!(inside["spec"]["type"], "ClusterIP");
    let ports = |s: &Value| s["spec"]["ports"].as_array().unwrap().iter().map(|p| (p["port"].as_u64().unwrap(), p["targetPort"].as_u64().unwrap(), p["protocol"].as_str().unwrap().to_string())).collect::<Vec<_>>();
    assert_eq!(ports(&inside), [(80, 80, "TCP".into()), (9090, 9090, "TCP".into()), (53, 53, "UDP".into()), (8443, 8443, "TCP".into())]);
    let outside = find("Service", "web-public");
    assert_eq!(outside["spec"]["type"], "LoadBalancer");
    assert_eq!(ports(&outside), [(8080, 80, "TCP".into()), (53, 53, "UDP".into())], "the loopback-bound 9090 stays inside");

    // A named volume makes a StatefulSet on a claim of its own.
    let db = find("StatefulSet", "db");
    assert_eq!(db["spec"]["serviceName"], "db");
    let db_pod = &db["spec"]["template"]["spec"];
    assert!(db_pod["volumes"].as_array().unwrap().iter().any(|v| v["persistentVolumeClaim"]["claimName"] == "db-data"));
    assert_eq!(db_pod["containers"][0]["securityContext"]["privileged"], true);
    assert_eq!(db_pod["securityContext"]["sysctls"][0], serde_json::json!({"name": "net.core.somaxconn", "value": "1024"}));
    assert!(db_pod["volumes"].as_array().unwrap().iter().any(|v| v["hostPath"]["path"].as_str().is_some_and(|p| p.ends_with("/init"))));
    assert_eq!(find("Service", "db")["spec"]["clusterIP"], "None", "no ports: a headless Service, the name resolves to the pods");
    let claim = find("PersistentVolumeClaim", "db-data");
    assert_eq!(claim["metadata"]["labels"]["com.example.backup"], "nightly");
    assert!(!docs.iter().any(|d| d["metadata"]["name"] == "cache"), "an external volume is not written");

    let worker = find("StatefulSet", "worker");
    let w = &worker["spec"]["template"]["spec"];
    assert_eq!(w["containers"][0]["image"], "shop-worker");
    assert_eq!(w["containers"][0]["args"], serde_json::json!(["sh", "-c", "echo $HOME"]));
    assert_eq!(w["containers"][0]["resources"]["limits"], serde_json::json!({"memory": "1Gi", "cpu": "1500m"}));
    assert_eq!(w["nodeSelector"], serde_json::json!({"kubernetes.io/os": "linux", "kubernetes.io/arch": "arm64"}));
    assert_eq!(w["hostname"], "worker-1");
    assert_eq!(w["securityContext"]["supplementalGroups"], serde_json::json!([100]));
    assert_eq!((&w["hostPID"], &w["hostIPC"]), (&Value::Bool(true), &Value::Bool(true)));
    assert_eq!((&w["containers"][0]["tty"], &w["containers"][0]["stdin"]), (&Value::Bool(true), &Value::Bool(true)));
    assert_eq!(find("Deployment", "agent")["spec"]["template"]["spec"]["hostNetwork"], true);
    assert_eq!(c["workingDir"], "/srv");

    assert_eq!(find("Secret", "token")["data"]["token"], "dDBrZW4=");
    assert_eq!(find("Secret", "db-password")["data"]["db_password"], "Y29ycmVjdCBob3JzZSBiYXR0ZXJ5IHN0YXBsZQ==");
    assert!(find("ConfigMap", "nginx")["data"]["nginx"].as_str().unwrap().contains("listen 80;"));
    assert_eq!(find("ConfigMap", "feature-flags")["data"]["feature-flags"], "beta=true\n");
}

#[test]
fn what_does_not_map_is_warned_about_with_service_and_key() {
    let m = convert(&load(&kitchen_sink().join("docker-compose.yml"))).unwrap();
    let mut got: Vec<String> = m.warnings.iter().map(|w| format!("{}: {}", w.subject, w.key)).collect();
    got.sort();
    let mut want = vec![
        "volume \"cache\": external",
        "service \"web\": ports",
        "service \"web\": depends_on",
        "service \"web\": deploy.placement.constraints",
        "service \"web\": deploy.update_config",
        "service \"web\": extra_hosts",
        "service \"web\": networks",
        "service \"db\": volumes",
        "service \"db\": privileged",
        "service \"db\": restart",
        "service \"db\": stop_signal",
        "service \"db\": container_name",
        "service \"db\": networks",
        "service \"db\": networks",
        "service \"db\": networks",
        "service \"worker\": build",
        "service \"worker\": links",
        "service \"worker\": volumes_from",
        "service \"worker\": volumes",
        "service \"worker\": ulimits",
        "service \"worker\": logging",
        "service \"worker\": platform",
        "service \"worker\": init",
        "service \"worker\": oom_score_adj",
        "service \"worker\": group_add",
        "service \"worker\": hostname",
        "service \"worker\": networks",
    ];
    want.sort();
    assert_eq!(got, want, "{:#?}", m.warnings);
    let text: Vec<String> = m.warnings.iter().map(|w| w.to_string()).collect();
    let has = |needle: &str| assert!(text.iter().any(|t| t.contains(needle)), "no warning with {needle:?} in {text:#?}");
    has("service \"db\": volumes: the bind mount");
    has("becomes a hostPath volume");
    has("service \"worker\": links: Kubernetes has no links: \"db\" is reached by its Service name \"db\"; the alias \"database\" does not resolve");
    has("service \"web\": ports: 127.0.0.1:9090:9090 is bound to a loopback address");
    has("service \"worker\": volumes: 2 replicas share");
}

#[test]
fn names_are_made_dns_labels_and_clashes_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("docker-compose.yml");
    std::fs::write(&file, "services:\n  Web_App:\n    image: busybox\n    expose: [\"80\"]\n  1st:\n    image: busybox\n").unwrap();
    let m = convert(&load(&file)).unwrap();
    let seen = check_stream(&m.to_yaml().unwrap());
    assert_eq!(seen, ["Service/web-app", "Deployment/web-app", "Service/svc-1st", "Deployment/svc-1st"]);

    std::fs::write(&file, "services:\n  web_a:\n    image: busybox\n  web-a:\n    image: busybox\n").unwrap();
    let e = convert(&load(&file)).unwrap_err().to_string();
    assert_eq!(e, "service \"web_a\" and service \"web-a\" both become the Kubernetes Service name \"web-a\": rename one of them");
}

#[test]
fn unreadable_config_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("docker-compose.yml");
    std::fs::write(&file, "services:\n  web:\n    image: busybox\n    configs: [site]\nconfigs:\n  site:\n    file: ./missing.conf\n").unwrap();
    let e = convert(&load(&file)).unwrap_err().to_string();
    assert!(e.starts_with("config \"site\": cannot read ") && e.contains("missing.conf"), "{e}");
}

#[test]
fn cli_writes_a_stream_or_one_file_per_object() {
    let hoist = env!("CARGO_BIN_EXE_hoist");
    let compose = root().join("examples/node-redis/docker-compose.yml");
    let run = |args: &[&str]| Command::new(hoist).arg("-f").arg(&compose).args(args).env("NO_COLOR", "1").output().unwrap();

    let out = run(&["convert", "--to", "kubernetes"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stream = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("WARN[0000] service \"web\": build:") && stderr.contains("service \"web\": links:"), "{stderr}");
    snapshot("node-redis.k8s.yaml", &stream);

    let dir = tempfile::tempdir().unwrap();
    let out = run(&["convert", "--to", "k8s", "-o", dir.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let files = ["web-service.yaml", "web-public-service.yaml", "web-deployment.yaml", "redis-service.yaml", "redis-deployment.yaml"];
    let listed: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect();
    assert_eq!(listed, files.iter().map(|f| dir.path().join(f).display().to_string()).collect::<Vec<_>>());
    let joined: Vec<String> = files.iter().map(|f| std::fs::read_to_string(dir.path().join(f)).unwrap()).collect();
    assert_eq!(joined.join("---\n"), stream);

    let out = run(&["convert"]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("--to"));
}

#[test]
fn docs_list_every_service_key() {
    let doc = std::fs::read_to_string(root().join("docs/kubernetes.md")).unwrap();
    let mut lines = doc.lines();
    assert!(lines.any(|l| l == "## Service keys"), "docs/kubernetes.md has no `## Service keys` section");
    let listed: Vec<&str> = lines
        .take_while(|l| !l.starts_with("## "))
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .collect();
    for key in compose::normalize::SERVICE_KEYS {
        assert!(listed.contains(key), "docs/kubernetes.md `## Service keys` has no row for `{key}`");
    }
    for key in &listed {
        assert!(compose::normalize::SERVICE_KEYS.contains(key), "docs/kubernetes.md lists `{key}`, which the loader does not accept");
    }
}
