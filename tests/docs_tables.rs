//! The documentation tables cannot drift from the code:
//! - src/compose/keys.rs has one row per property of the Compose Specification schema
//!   (walked recursively) and per legacy v1 key, and the loader accepts exactly its keys;
//! - docs/compose-keys.md shows that table as the code has it;
//! - the README's `## Commands` table (docs/commands-table.md until the README has one)
//!   lists every command of `hoist --help`, and only those.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use hoist::compose::keys::{KEYS, Key};
use hoist::compose::normalize::{LEGACY_SERVICE_KEYS, NETWORK_KEYS, SERVICE_KEYS, TOP_KEYS, VOLUME_KEYS};

fn read(rel: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The lines under `## title`, up to the next heading of level 1 or 2.
fn section<'a>(text: &'a str, title: &str) -> Option<Vec<&'a str>> {
    let mut lines = text.lines();
    lines.find(|l| l.trim_end() == format!("## {title}"))?;
    Some(lines.take_while(|l| !(l.starts_with("# ") || l.starts_with("## "))).collect())
}

/// The cells of a table line (`| a | b |`); `\|` stays inside a cell.
fn cells(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|');
    let inner = inner.strip_suffix('|').filter(|s| !s.ends_with('\\')).unwrap_or(inner);
    let mut out = vec![String::new()];
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                out.last_mut().unwrap().push('|');
                chars.next();
            }
            '|' => out.push(String::new()),
            c => out.last_mut().unwrap().push(c),
        }
    }
    out.into_iter().map(|c| c.trim().to_string()).collect()
}

struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

/// Every Markdown table in `lines`: a header row, a `|---|` row, then body rows.
fn tables(lines: &[&str]) -> Vec<Table> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if !lines[i].trim_start().starts_with('|') {
            i += 1;
            continue;
        }
        let block: Vec<&str> = lines[i..].iter().take_while(|l| l.trim_start().starts_with('|')).copied().collect();
        i += block.len();
        assert!(block.len() >= 2, "a table without a separator row: {:?}", block[0]);
        let sep = cells(block[1]);
        assert!(
            sep.iter().all(|c| !c.is_empty() && c.trim_matches(':').chars().all(|x| x == '-')),
            "the second line of a table must be its |---| separator: {:?}",
            block[1]
        );
        out.push(Table { header: cells(block[0]), rows: block[2..].iter().map(|l| cells(l)).collect() });
    }
    out
}

/// The first cell of a row, which must be one backticked name: `` `key` ``.
fn name_cell(row: &[String], what: &str) -> String {
    let c = &row[0];
    let name = c.strip_prefix('`').and_then(|c| c.strip_suffix('`'));
    match name {
        Some(n) if !n.is_empty() && !n.contains('`') => n.to_string(),
        _ => panic!("{what}: the first cell must be a name in backticks, not {c:?} (row {row:?})"),
    }
}

// ---- compose keys -------------------------------------------------------------------------

/// The sections of docs/compose-keys.md: title, and which table paths go in it (their
/// prefix, shown without it).
const KEY_SECTIONS: &[(&str, &str)] = &[
    ("Top-level keys", ""),
    ("Service keys", "services.*."),
    ("Legacy v1 service keys", "services.*."),
    ("Network keys", "networks.*."),
    ("Volume keys", "volumes.*."),
    ("Config keys", "configs.*."),
    ("Secret keys", "secrets.*."),
];

fn section_of(k: &Key) -> &'static str {
    if k.legacy {
        return "Legacy v1 service keys";
    }
    KEY_SECTIONS[1..].iter().filter(|(t, _)| *t != "Legacy v1 service keys").find(|(_, p)| k.path.starts_with(p)).map_or("Top-level keys", |(t, _)| *t)
}

/// The notes cell of a row: its note, then each backend's reason (once when they agree).
fn notes(k: &Key) -> String {
    let (b, d) = (k.builtin.reason(), k.docker.reason());
    let mut parts: Vec<String> = Vec::new();
    if !k.note.is_empty() {
        parts.push(k.note.to_string());
    }
    match (b, d) {
        (Some(b), Some(d)) if b == d => parts.push(b.to_string()),
        _ => {
            parts.extend(b.map(|r| format!("built-in: {r}")));
            parts.extend(d.map(|r| format!("Docker: {r}")));
        }
    }
    parts.join(". ").replace('|', "\\|")
}

/// The generated part of docs/compose-keys.md: one table per section.
fn generated_key_tables() -> String {
    let mut out = String::new();
    for (title, prefix) in KEY_SECTIONS {
        out.push_str(&format!("## {title}\n\n| key | built-in runtime | Docker backend | notes |\n|---|---|---|---|\n"));
        for k in KEYS.iter().filter(|k| section_of(k) == *title) {
            let shown = k.path.strip_prefix(prefix).unwrap_or(k.path);
            out.push_str(&format!("| `{shown}` | {} | {} | {} |\n", k.builtin.word(), k.docker.word(), notes(k)).replace(" |  |\n", " | |\n"));
        }
        out.push('\n');
    }
    out
}

const GENERATED: &str = "<!-- generated from src/compose/keys.rs: UPDATE_DOCS=1 cargo test --test docs_tables -->";

#[test]
fn compose_keys_doc_is_the_code_table() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/compose-keys.md");
    let doc = read("docs/compose-keys.md");
    let start = doc.find(GENERATED).expect("docs/compose-keys.md has no generated-tables marker") + GENERATED.len() + 1;
    let fresh = format!("{}{}", &doc[..start], generated_key_tables());
    if std::env::var_os("UPDATE_DOCS").is_some_and(|v| v == "1") {
        std::fs::write(&path, &fresh).unwrap();
        return;
    }
    assert!(doc == fresh, "docs/compose-keys.md differs from src/compose/keys.rs: run `UPDATE_DOCS=1 cargo test --test docs_tables`");
    // Each generated table parses, with one status word per backend.
    for (title, _) in KEY_SECTIONS {
        let lines = section(&doc, title).unwrap_or_else(|| panic!("no `## {title}`"));
        let ts = tables(&lines);
        assert_eq!(ts.len(), 1, "`## {title}` must hold exactly one table");
        for row in &ts[0].rows {
            name_cell(row, title);
            for c in &row[1..3] {
                assert!(["applied", "warned", "refused"].contains(&c.as_str()), "`## {title}`: status {c:?} in {row:?}");
            }
        }
    }
}

/// Every property path of the Compose Specification schema: `services.*.ports[].target`,
/// following `$ref`s, `oneOf`/`anyOf`/`allOf`, named entries (`patternProperties` and
/// `additionalProperties` schemas, shown as `*`) and list items (`[]`).
fn schema_paths(schema: &serde_json::Value) -> BTreeSet<String> {
    fn walk(root: &serde_json::Value, n: &serde_json::Value, path: &str, depth: usize, out: &mut BTreeSet<String>) {
        assert!(depth < 40, "the schema nests too deep at {path} (a $ref cycle?)");
        let join = |p: &str, s: &str| if p.is_empty() { s.to_string() } else { format!("{p}.{s}") };
        if let Some(r) = n.get("$ref").and_then(|r| r.as_str()) {
            let target = r.strip_prefix("#/").unwrap_or_else(|| panic!("a $ref outside the schema: {r}"));
            let def = target.split('/').fold(root, |v, part| &v[part]);
            assert!(!def.is_null(), "dangling $ref {r}");
            walk(root, def, path, depth + 1, out);
        }
        if let Some(props) = n.get("properties").and_then(|p| p.as_object()) {
            for (k, v) in props {
                let p = join(path, k);
                out.insert(p.clone());
                walk(root, v, &p, depth + 1, out);
            }
        }
        if let Some(pats) = n.get("patternProperties").and_then(|p| p.as_object()) {
            // `^x-` are extensions, kept as written; any other pattern names entries.
            for (pat, v) in pats.iter().filter(|(pat, _)| *pat != "^x-") {
                assert!(!pat.is_empty());
                walk(root, v, &join(path, "*"), depth + 1, out);
            }
        }
        if let Some(ap) = n.get("additionalProperties").filter(|a| a.is_object()) {
            walk(root, ap, &join(path, "*"), depth + 1, out);
        }
        if let Some(items) = n.get("items").filter(|i| i.is_object()) {
            walk(root, items, &format!("{path}[]"), depth + 1, out);
        }
        for c in ["oneOf", "anyOf", "allOf"] {
            for v in n.get(c).and_then(|v| v.as_array()).into_iter().flatten() {
                walk(root, v, path, depth + 1, out);
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(schema, schema, "", 0, &mut out);
    out
}

/// The Compose Specification schema, from the shared reference folder ($HOIST_SHARED,
/// else ../shared next to the checkout).
fn compose_spec_schema() -> serde_json::Value {
    let dir = std::env::var_os("HOIST_SHARED").map(std::path::PathBuf::from).unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    let path = dir.join("reference/compose-spec.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}: set HOIST_SHARED to the shared folder", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_compose_spec_property_has_a_row() {
    let spec = schema_paths(&compose_spec_schema());
    assert!(spec.len() > 300 && spec.contains("services.*.deploy.resources.limits.memory"), "the schema walk found too little: {spec:?}");
    let table: BTreeSet<String> = KEYS.iter().filter(|k| !k.legacy).map(|k| k.path.to_string()).collect();
    let missing: Vec<_> = spec.difference(&table).collect();
    let extra: Vec<_> = table.difference(&spec).collect();
    assert!(missing.is_empty(), "src/compose/keys.rs has no row for these Compose Specification properties: {missing:#?}");
    assert!(extra.is_empty(), "src/compose/keys.rs lists paths the Compose Specification does not have (mark legacy v1 keys as such): {extra:#?}");
    let mut seen = BTreeSet::new();
    for k in KEYS {
        assert!(seen.insert(k.path), "{} is listed twice", k.path);
    }
}

#[test]
fn table_lists_exactly_the_keys_the_loader_accepts() {
    let level = |prefix: &str, legacy: bool| -> BTreeSet<String> {
        KEYS.iter()
            .filter(|k| k.legacy == legacy)
            .filter_map(|k| k.path.strip_prefix(prefix))
            .filter(|rest| !rest.contains(['.', '[']))
            .map(str::to_string)
            .collect()
    };
    let set = |keys: &[&str]| keys.iter().map(|k| k.to_string()).collect::<BTreeSet<String>>();
    let mut legacy_accepted = set(LEGACY_SERVICE_KEYS);
    // Also a current key: its row is the current one.
    legacy_accepted.remove("mem_swappiness");
    for (what, listed, accepted) in [
        ("top-level", level("", false), set(TOP_KEYS)),
        ("service", level("services.*.", false), set(SERVICE_KEYS)),
        ("legacy v1 service", level("services.*.", true), legacy_accepted),
        ("network", level("networks.*.", false), set(NETWORK_KEYS)),
        ("volume", level("volumes.*.", false), set(VOLUME_KEYS)),
    ] {
        assert_eq!(listed, accepted, "the {what} keys of src/compose/keys.rs and those src/compose/normalize.rs accepts differ");
    }
}

// ---- commands ---------------------------------------------------------------------------

/// The subcommands listed under `Commands:` by `hoist [args] --help`, without `help`.
fn help_commands(args: &[&str]) -> Vec<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_hoist"))
        .args(args)
        .arg("--help")
        .env("NO_COLOR", "1")
        .env_remove("HOIST_BACKEND")
        .output()
        .expect("running hoist --help");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "hoist {args:?} --help failed: {}", String::from_utf8_lossy(&out.stderr));
    let mut lines = text.lines();
    assert!(lines.any(|l| l.trim_end() == "Commands:"), "no `Commands:` section in hoist {args:?} --help:\n{text}");
    let cmds: Vec<String> = lines
        .take_while(|l| l.starts_with(' ') && !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .map(|w| w.trim_end_matches(',').to_string())
        .filter(|c| c != "help")
        .collect();
    assert!(!cmds.is_empty(), "no commands parsed from hoist {args:?} --help:\n{text}");
    cmds
}

/// The commands of the README's `## Commands` table, else of docs/commands-table.md;
/// also says which file they came from.
fn documented_commands() -> (String, Vec<Vec<String>>) {
    let readme = read("README.md");
    let (file, lines): (&str, Vec<String>) = match section(&readme, "Commands") {
        Some(l) => ("README.md", l.iter().map(|s| s.to_string()).collect()),
        None => {
            let t = read("docs/commands-table.md");
            let l = section(&t, "Commands").unwrap_or_else(|| t.lines().collect());
            ("docs/commands-table.md", l.iter().map(|s| s.to_string()).collect())
        }
    };
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let ts = tables(&lines);
    assert_eq!(ts.len(), 1, "{file}: the `## Commands` section must hold exactly one table");
    let what = format!("{file} `## Commands`");
    let mut rows = Vec::new();
    for row in &ts[0].rows {
        assert!(row.len() >= 3 && row[1..].iter().all(|c| !c.is_empty()), "{what}: row {row:?} needs a status for each backend");
        rows.push(name_cell(row, &what).split_whitespace().map(str::to_string).collect());
    }
    (file.to_string(), rows)
}

#[test]
fn commands_table_matches_hoist_help() {
    let top = help_commands(&[]);
    let (file, rows) = documented_commands();
    let mut seen = BTreeSet::new();
    for words in &rows {
        let name = words.join(" ");
        assert!(seen.insert(name.clone()), "{file}: `{name}` is listed twice");
        assert!(words.len() <= 2, "{file}: `{name}`: a command and at most one subcommand");
        assert!(top.contains(&words[0]), "{file} lists `{name}`, but hoist --help has no command {:?} (it has {top:?})", words[0]);
        if let Some(sub) = words.get(1) {
            let subs = help_commands(&[&words[0]]);
            assert!(subs.contains(sub), "{file} lists `{name}`, but `hoist {} --help` has no {sub:?} (it has {subs:?})", words[0]);
        }
    }
    for cmd in &top {
        let subs: Vec<&Vec<String>> = rows.iter().filter(|w| w[0] == *cmd).collect();
        assert!(!subs.is_empty(), "{file}: the commands table has no row for `{cmd}` (shown by hoist --help)");
        // A command documented by its subcommands has a row for each of them.
        if subs.iter().any(|w| w.len() == 2) {
            for sub in help_commands(&[cmd]) {
                assert!(
                    subs.iter().any(|w| w.get(1) == Some(&sub)),
                    "{file}: the commands table lists subcommands of `{cmd}` but not `{cmd} {sub}`"
                );
            }
        }
    }
}

#[test]
fn table_parsing() {
    let text = "# t\n\n## A\n\n| key | x |\n|---|:-:|\n| `a` | yes \\| no |\n\n## B\ntext\n";
    let a = section(text, "A").unwrap();
    let t = tables(&a);
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].header, vec!["key", "x"]);
    assert_eq!(t[0].rows, vec![vec!["`a`".to_string(), "yes | no".to_string()]]);
    assert_eq!(name_cell(&t[0].rows[0], "t"), "a");
    assert!(section(text, "C").is_none());
    assert!(tables(&section(text, "B").unwrap()).is_empty());
    let help = "Usage: x\n\nCommands:\n  up    Create\n  help  Print\n\nOptions:\n  -h\n";
    let mut lines = help.lines();
    assert!(lines.any(|l| l == "Commands:"));
    let cmds: Vec<&str> = lines.take_while(|l| l.starts_with(' ') && !l.trim().is_empty()).filter_map(|l| l.split_whitespace().next()).collect();
    assert_eq!(cmds, vec!["up", "help"]);
}
