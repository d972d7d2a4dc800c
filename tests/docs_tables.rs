//! The documentation tables cannot drift from the code:
//! - docs/compose-keys.md has one row per key the loader accepts (service, legacy v1,
//!   top-level, network, volume), and no row for a key it does not accept;
//! - the README's `## Commands` table (docs/commands-table.md until the README has one)
//!   lists every command of `hoist --help`, and only those.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

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

/// `## ` headings of a Markdown text, in order.
fn headings(text: &str) -> Vec<&str> {
    text.lines().filter_map(|l| l.strip_prefix("## ")).map(str::trim).collect()
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

const STATUS: &[&str] = &["yes", "partial", "ignored", "refused"];

/// The compose-keys table under `## title`; checks each row's shape and status words and
/// returns the keys it lists.
fn key_table(doc: &str, title: &str) -> Vec<String> {
    let lines = section(doc, title).unwrap_or_else(|| panic!("docs/compose-keys.md has no `## {title}` section"));
    let mut ts = tables(&lines);
    assert_eq!(ts.len(), 1, "`## {title}` must hold exactly one table");
    let t = ts.remove(0);
    let col = |name: &str| {
        t.header.iter().position(|h| h == name).unwrap_or_else(|| panic!("`## {title}`: no {name:?} column in {:?}", t.header))
    };
    let (builtin, docker, notes) = (col("built-in runtime"), col("Docker backend"), col("notes"));
    assert_eq!(t.header[0], "key", "`## {title}`: the first column must be `key`");
    let mut keys = Vec::new();
    for row in &t.rows {
        let what = format!("`## {title}`");
        assert_eq!(row.len(), t.header.len(), "{what}: row {row:?} has {} cells, the header {}", row.len(), t.header.len());
        let key = name_cell(row, &what);
        for (c, backend) in [(builtin, "built-in runtime"), (docker, "Docker backend")] {
            let status = row[c].split_whitespace().next().unwrap_or("");
            assert!(STATUS.contains(&status), "{what}: `{key}` on the {backend}: status {:?} is not one of {STATUS:?}", row[c]);
            if matches!(status, "partial" | "refused") {
                assert!(!row[notes].is_empty(), "{what}: `{key}` is {status} on the {backend}: the notes must say what");
            }
        }
        keys.push(key);
    }
    keys
}

fn assert_same_keys(title: &str, listed: &[String], accepted: &[&str]) {
    let mut seen = BTreeSet::new();
    for k in listed {
        assert!(seen.insert(k.as_str()), "`## {title}` lists `{k}` twice");
    }
    let accepted: BTreeSet<&str> = accepted.iter().copied().collect();
    let missing: Vec<_> = accepted.difference(&seen).collect();
    let unknown: Vec<_> = seen.difference(&accepted).collect();
    assert!(missing.is_empty(), "docs/compose-keys.md `## {title}` has no row for {missing:?} (accepted by src/compose/normalize.rs)");
    assert!(unknown.is_empty(), "docs/compose-keys.md `## {title}` has rows for {unknown:?}, which the loader does not accept");
}

const KEY_SECTIONS: &[&str] = &["Service keys", "Legacy v1 service keys", "Top-level keys", "Network keys", "Volume keys"];

#[test]
fn compose_keys_table_lists_exactly_the_accepted_keys() {
    let doc = read("docs/compose-keys.md");
    for (title, accepted) in [
        ("Service keys", SERVICE_KEYS),
        ("Legacy v1 service keys", LEGACY_SERVICE_KEYS),
        ("Top-level keys", TOP_KEYS),
        ("Network keys", NETWORK_KEYS),
        ("Volume keys", VOLUME_KEYS),
    ] {
        assert_same_keys(title, &key_table(&doc, title), accepted);
    }
    // No table elsewhere in the file (it would list keys nothing checks).
    for h in headings(&doc) {
        if !KEY_SECTIONS.contains(&h) {
            let lines = section(&doc, h).unwrap();
            assert!(tables(&lines).is_empty(), "docs/compose-keys.md: `## {h}` holds a table; key tables go under {KEY_SECTIONS:?}");
        }
    }
    let before_first_heading: Vec<&str> = doc.lines().take_while(|l| !l.starts_with("## ")).collect();
    assert!(tables(&before_first_heading).is_empty(), "docs/compose-keys.md: a table before the first `## ` section");
}

#[test]
fn legacy_key_table_says_what_each_key_maps_to() {
    let doc = read("docs/compose-keys.md");
    let lines = section(&doc, "Legacy v1 service keys").unwrap();
    let t = &tables(&lines)[0];
    let col = t.header.iter().position(|h| h == "maps to").expect("a `maps to` column");
    for row in &t.rows {
        assert!(!row[col].is_empty(), "legacy key {} does not say what it maps to", row[0]);
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
