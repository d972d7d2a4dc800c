//! Every command and flag of Docker Compose's CLI reference is in hoist's parser with the
//! same spelling, or has a row in `hoist::cli::compat::DIFFERENCES` saying why not.

use hoist::cli::compat::{self, Diff};

struct Row {
    command: String,
    option: String,
    short: Option<char>,
}

fn reference() -> Vec<Row> {
    let text = include_str!("cli-reference/compose.tsv");
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            Row { command: f[0].into(), option: f[1].into(), short: f[2].chars().next() }
        })
        .collect()
}

fn subcommand(name: &str) -> Option<clap::Command> {
    let root = hoist::cli::command();
    if name == "-" {
        return Some(root);
    }
    root.get_subcommands().find(|c| c.get_name() == name || c.get_all_aliases().any(|a| a == name)).cloned()
}

/// What is wrong with hoist's spelling of a reference row, if anything.
fn mismatch(row: &Row) -> Option<String> {
    let Some(cmd) = subcommand(&row.command) else { return Some("no such command".into()) };
    if row.option.is_empty() {
        return None;
    }
    // Global flags of the root count on every command, as Compose's persistent flags do.
    let root = hoist::cli::command();
    let args: Vec<&clap::Arg> = cmd.get_arguments().chain(root.get_arguments().filter(|a| a.is_global_set())).collect();
    let Some(arg) = args.iter().find(|a| a.get_long() == Some(&row.option) || a.get_all_aliases().is_some_and(|al| al.contains(&row.option.as_str()))) else {
        return Some("no such flag".into());
    };
    if let Some(s) = row.short
        && arg.get_short() != Some(s)
        && !arg.get_all_short_aliases().is_some_and(|al| al.contains(&s))
    {
        return Some(format!("short -{s} missing"));
    }
    None
}

#[test]
fn every_compose_flag_is_the_same_or_a_documented_difference() {
    let mut gaps = Vec::new();
    for row in reference() {
        let diff = compat::find(&row.command, &row.option);
        match (mismatch(&row), diff) {
            (Some(why), None) => gaps.push(format!("{}\t{}\t{why}", row.command, row.option)),
            (None, Some(Diff::Refused(_))) => gaps.push(format!("{}\t{}\thoist has it now: drop the Refused row", row.command, row.option)),
            _ => {}
        }
    }
    assert!(gaps.is_empty(), "{} Compose flags differ without a row in src/cli/compat.rs:\n{}", gaps.len(), gaps.join("\n"));
}

#[test]
fn every_difference_is_a_compose_flag() {
    let rows = reference();
    for (c, o, _) in compat::DIFFERENCES {
        assert!(rows.iter().any(|r| r.command == *c && r.option == *o), "{c} {o}: not in Compose's reference");
    }
}

const BEGIN: &str = "<!-- cli-differences: generated from src/cli/compat.rs by UPDATE_DOCS=1 cargo test --test cli_reference -->";
const END: &str = "<!-- cli-differences: end -->";

/// docs/compatibility.md shows the differences table as the code has it.
#[test]
fn compatibility_doc_lists_the_differences() {
    let mut table = String::from("| command | flag | hoist |\n|---|---|---|\n");
    for (c, o, d) in compat::DIFFERENCES {
        let cmd = if *c == "-" { "(global)".to_string() } else { format!("`{c}`") };
        let flag = if o.is_empty() { "(the command)".to_string() } else { format!("`--{o}`") };
        let what = match d {
            Diff::Refused(why) => format!("refused: {why}"),
            Diff::Differs(how) => format!("differs: {how}"),
        };
        table.push_str(&format!("| {cmd} | {flag} | {} |\n", what.replace('|', "\\|")));
    }
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/compatibility.md");
    let doc = std::fs::read_to_string(&path).unwrap();
    let (Some(b), Some(e)) = (doc.find(BEGIN), doc.find(END)) else { panic!("docs/compatibility.md lacks the {BEGIN} … {END} markers") };
    let fresh = format!("{}{BEGIN}\n{table}{}", &doc[..b], &doc[e..]);
    if std::env::var_os("UPDATE_DOCS").is_some_and(|v| v == "1") {
        std::fs::write(&path, &fresh).unwrap();
        return;
    }
    assert!(doc == fresh, "docs/compatibility.md's flag table differs from src/cli/compat.rs: run `UPDATE_DOCS=1 cargo test --release --test cli_reference`");
}
