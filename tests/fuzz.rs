//! Fuzzing of what reads user input: the compose loader (YAML → model), interpolation, and
//! the short port and volume syntaxes. Property: never a panic, never a hang; errors are
//! values. Seeds are the repo's compose files (bad-input corpus, examples) and, when
//! present, Docker Compose's fixtures in ../shared/reference, mutated byte-wise.
//! `HOIST_FUZZ_CASES` sets the cases per target (CI runs a short smoke run; the long run
//! and its result are in docs/reliability.md).

use std::path::{Path, PathBuf};

use hoist::compose::{self, LoadOptions};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

fn cases() -> u32 {
    std::env::var("HOIST_FUZZ_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(1500)
}

fn runner() -> TestRunner {
    TestRunner::new(Config { cases: cases(), failure_persistence: None, ..Config::default() })
}

fn seeds() -> Vec<String> {
    let top = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<PathBuf> = Vec::new();
    // The shared fixtures add seeds where they are (`$HOIST_SHARED`, else ../shared).
    let shared = std::env::var_os("HOIST_SHARED").map(PathBuf::from).unwrap_or_else(|| top.join("../shared"));
    for dir in [top.join("tests/bad-input"), top.join("examples"), shared.join("reference/compose-v2-fixtures")] {
        collect(&dir, &mut files);
    }
    files.sort();
    let texts: Vec<String> = files.iter().filter_map(|f| std::fs::read_to_string(f).ok()).filter(|t| t.len() < 20_000).collect();
    assert!(texts.len() >= 100, "too few seeds: {}", texts.len());
    texts
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect(&p, out);
        } else if p.extension().is_some_and(|x| x == "yml" || x == "yaml") {
            out.push(p);
        }
    }
}

#[derive(Debug, Clone)]
enum Edit {
    Replace(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    Duplicate(usize, usize),
}

/// Bytes that matter to YAML, interpolation and the short syntaxes.
const INTERESTING: &[u8] = b" \t\n:-[]{},#&*!|>'\"%@`$?+~/.0123456789<=\\xa";

fn edit() -> impl Strategy<Value = Edit> {
    let byte = prop_oneof![prop::sample::select(INTERESTING.to_vec()), any::<u8>()];
    prop_oneof![
        (any::<usize>(), byte.clone()).prop_map(|(i, b)| Edit::Replace(i, b)),
        (any::<usize>(), prop::collection::vec(byte, 1..8)).prop_map(|(i, b)| Edit::Insert(i, b)),
        (any::<usize>(), 1usize..40).prop_map(|(i, n)| Edit::Delete(i, n)),
        (any::<usize>(), 1usize..200).prop_map(|(i, n)| Edit::Duplicate(i, n)),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> Vec<u8> {
    let mut b = text.as_bytes().to_vec();
    for e in edits {
        let len = b.len().max(1);
        match e {
            Edit::Replace(i, x) if !b.is_empty() => b[i % len] = *x,
            Edit::Insert(i, xs) => {
                let at = i % (b.len() + 1);
                b.splice(at..at, xs.iter().copied());
            }
            Edit::Delete(i, n) if !b.is_empty() => {
                let at = i % len;
                let end = (at + n).min(b.len());
                b.drain(at..end);
            }
            Edit::Duplicate(i, n) if !b.is_empty() => {
                let at = i % len;
                let end = (at + n).min(b.len());
                let chunk = b[at..end].to_vec();
                b.splice(at..at, chunk);
            }
            _ => {}
        }
    }
    b
}

#[test]
fn loader_never_panics_on_mutated_files() {
    let seeds = seeds();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("compose.yaml");
    let opts = LoadOptions {
        cwd: Some(dir.path().to_path_buf()),
        interpolate: true,
        environment: Some(vec![("HOME".into(), "/root".into()), ("TAG".into(), "1".into())]),
        ..Default::default()
    };
    let strategy = (0..seeds.len(), prop::collection::vec(edit(), 0..6));
    runner()
        .run(&strategy, |(seed, edits)| {
            std::fs::write(&file, apply(&seeds[seed], &edits)).unwrap();
            // Errors are fine; a panic fails the property.
            let _ = compose::load_with_warnings(&opts);
            Ok(())
        })
        .unwrap();
}

#[test]
fn interpolation_never_panics() {
    let strategy = "[$${}:?+\\-a-zA-Z_0-9 ]{0,40}";
    let lookup = |k: &str| k.len().is_multiple_of(2).then(|| format!("v{k}"));
    runner()
        .run(&strategy, |s| {
            let mut w = Vec::new();
            let _ = compose::interpolate::interpolate(&s, &lookup, &mut w);
            Ok(())
        })
        .unwrap();
}

#[test]
fn port_syntax_never_panics() {
    runner()
        .run(&"[0-9.:/\\-a-z\\[\\]]{0,30}", |s| {
            if let Ok(ports) = compose::ports::parse_short(&s) {
                for p in ports {
                    prop_assert!(p.target > 0, "{s:?} gave target port 0");
                }
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn volume_syntax_never_panics() {
    runner()
        .run(&"[/.:~$a-zA-Z_0-9rowzZ,\\-]{0,30}", |s| {
            let _ = compose::volumes::parse_short(&s, Path::new("/project"));
            Ok(())
        })
        .unwrap();
}
