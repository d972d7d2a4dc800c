//! `schemas/compose.schema.json` is generated from the model; this test keeps it current.
//! `UPDATE_SCHEMA=1 cargo test --test compose_schema` rewrites it.

use std::path::Path;

#[test]
fn schema_file_matches_the_model() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/compose.schema.json");
    let fresh = hoist::compose::render::model_schema();
    if std::env::var_os("UPDATE_SCHEMA").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &fresh).unwrap();
        return;
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(on_disk == fresh, "{} is stale: run `UPDATE_SCHEMA=1 cargo test --test compose_schema`", path.display());
}

#[test]
fn loaded_projects_validate_against_the_model_schema() {
    let schema: serde_json::Value = serde_json::from_str(&hoist::compose::render::model_schema()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("compose.yaml"),
        "services:\n  a:\n    image: x\n    ports: ['80:80']\n    volumes: [d:/d, ./b:/b]\n    depends_on: [b]\n    healthcheck: {test: 'true'}\n  b:\n    build: .\n    x-note: hi\nvolumes:\n  d: {}\nx-top: 1\n",
    )
    .unwrap();
    let opts = hoist::compose::LoadOptions {
        cwd: Some(dir.path().to_path_buf()),
        interpolate: true,
        environment: Some(vec![]),
        ..Default::default()
    };
    let p = hoist::compose::load(&opts).unwrap();
    let v = serde_json::to_value(&p).unwrap();
    let errors: Vec<String> = validator.iter_errors(&v).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
}

#[test]
fn extensions_round_trip_through_json() {
    let text = r#"{"name":"p","services":{"a":{"image":"x","x-note":"hi"}},"x-top":1}"#;
    let p: hoist::compose::Project = serde_json::from_str(text).unwrap();
    assert_eq!(p.extensions["x-top"], 1);
    assert_eq!(p.services["a"].extensions["x-note"], "hi");
    assert_eq!(serde_json::to_string(&p).unwrap(), text);
}
