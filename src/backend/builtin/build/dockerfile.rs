//! The Dockerfile parser: parser directives, comments, line continuations, instructions
//! with their `--flags`, grouped into stages. Variables are expanded later, per step.

use std::fmt;

/// A syntax error at a line of the Dockerfile.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

fn fail<T>(line: usize, message: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError { line, message: message.into() })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    From,
    Run,
    Cmd,
    Label,
    Maintainer,
    Expose,
    Env,
    Add,
    Copy,
    Entrypoint,
    Volume,
    User,
    Workdir,
    Arg,
    Onbuild,
    Stopsignal,
    Healthcheck,
    Shell,
}

const KINDS: [(&str, Kind); 18] = [
    ("FROM", Kind::From),
    ("RUN", Kind::Run),
    ("CMD", Kind::Cmd),
    ("LABEL", Kind::Label),
    ("MAINTAINER", Kind::Maintainer),
    ("EXPOSE", Kind::Expose),
    ("ENV", Kind::Env),
    ("ADD", Kind::Add),
    ("COPY", Kind::Copy),
    ("ENTRYPOINT", Kind::Entrypoint),
    ("VOLUME", Kind::Volume),
    ("USER", Kind::User),
    ("WORKDIR", Kind::Workdir),
    ("ARG", Kind::Arg),
    ("ONBUILD", Kind::Onbuild),
    ("STOPSIGNAL", Kind::Stopsignal),
    ("HEALTHCHECK", Kind::Healthcheck),
    ("SHELL", Kind::Shell),
];

impl Kind {
    fn parse(word: &str) -> Option<Kind> {
        KINDS.iter().find(|(n, _)| n.eq_ignore_ascii_case(word)).map(|(_, k)| *k)
    }

    pub fn name(self) -> &'static str {
        KINDS.iter().find(|(_, k)| *k == self).map(|(n, _)| *n).unwrap_or("?")
    }

    /// Flags the instruction accepts (`--name[=value]` before its arguments).
    fn flags(self) -> &'static [&'static str] {
        match self {
            Kind::From => &["platform"],
            Kind::Run => &["network", "mount", "security"],
            Kind::Copy => &["from", "chown", "chmod", "link"],
            Kind::Add => &["chown", "chmod", "link", "checksum", "keep-git-dir"],
            Kind::Healthcheck => &["interval", "timeout", "start-period", "start-interval", "retries"],
            _ => &[],
        }
    }
}

/// One instruction as written (continuations joined, flags split off).
#[derive(Debug, Clone, PartialEq)]
pub struct Instruction {
    /// 1-based line where the instruction starts.
    pub line: usize,
    pub kind: Kind,
    pub flags: Vec<(String, String)>,
    /// The arguments after the keyword and flags, unexpanded.
    pub args: String,
}

impl Instruction {
    pub fn flag(&self, name: &str) -> Option<&str> {
        self.flags.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The arguments as a JSON array of strings (exec form), if they are one.
    pub fn json_args(&self) -> Option<Vec<String>> {
        parse_json_array(&self.args)
    }
}

impl fmt::Display for Instruction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind.name())?;
        for (n, v) in &self.flags {
            write!(f, " --{n}={v}")?;
        }
        write!(f, " {}", self.args)
    }
}

pub fn parse_json_array(s: &str) -> Option<Vec<String>> {
    let s = s.trim();
    if !s.starts_with('[') {
        return None;
    }
    serde_json::from_str(s).ok()
}

/// A `FROM` and the instructions up to the next one.
#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    /// `AS name`, lowercased as Docker does.
    pub name: Option<String>,
    /// The base as written (may hold `$VARS` of global ARGs).
    pub base: String,
    pub from: Instruction,
    pub steps: Vec<Instruction>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Dockerfile {
    /// The escape character (`\` or `` ` `` by `# escape=`).
    pub escape: char,
    /// `ARG`s before the first `FROM`.
    pub meta_args: Vec<Instruction>,
    pub stages: Vec<Stage>,
}

impl Dockerfile {
    /// Index of the stage a `--from`/`FROM`/target name points at (name or number).
    pub fn stage_index(&self, name: &str) -> Option<usize> {
        let lower = name.to_ascii_lowercase();
        self.stages.iter().position(|s| s.name.as_deref() == Some(lower.as_str())).or_else(|| name.parse::<usize>().ok().filter(|i| *i < self.stages.len()))
    }
}

pub fn parse(text: &str) -> Result<Dockerfile, ParseError> {
    let lines: Vec<&str> = text.lines().collect();
    let (escape, first) = directives(&lines)?;
    let mut meta_args = Vec::new();
    let mut stages: Vec<Stage> = Vec::new();
    for (line, logical) in logical_lines(&lines[first..], first, escape) {
        let inst = instruction(line, &logical)?;
        if inst.kind == Kind::From {
            stages.push(stage(inst)?);
            continue;
        }
        match stages.last_mut() {
            Some(stage) => stage.steps.push(inst),
            None if inst.kind == Kind::Arg => meta_args.push(inst),
            None => return fail(line, format!("{} before the first FROM: only ARG may come before FROM", inst.kind.name())),
        }
    }
    if stages.is_empty() {
        return fail(lines.len().max(1), "the Dockerfile has no FROM instruction");
    }
    Ok(Dockerfile { escape, meta_args, stages })
}

/// Parser directives at the top (`# syntax=…` is ignored, `# escape=` honoured);
/// returns the escape character and the index of the first line after them.
fn directives(lines: &[&str]) -> Result<(char, usize), ParseError> {
    let mut escape = '\\';
    for (i, l) in lines.iter().enumerate() {
        let Some(body) = l.trim().strip_prefix('#') else { return Ok((escape, i)) };
        let Some((key, value)) = body.split_once('=') else { return Ok((escape, i)) };
        let key = key.trim();
        if key.is_empty() || key.contains(char::is_whitespace) {
            return Ok((escape, i));
        }
        if key.eq_ignore_ascii_case("escape") {
            escape = match value.trim() {
                "\\" => '\\',
                "`" => '`',
                other => return fail(i + 1, format!("invalid escape directive {other:?}: must be ` or \\")),
            };
        }
    }
    Ok((escape, lines.len()))
}

/// Joins continuation lines, drops comments and blank lines; yields (first line, text).
fn logical_lines(lines: &[&str], offset: usize, escape: char) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut cur: Option<(usize, String)> = None;
    for (i, raw) in lines.iter().enumerate() {
        let trimmed = raw.trim();
        // Comment lines go, also in the middle of a continued instruction; so do blank
        // lines inside one.
        if trimmed.starts_with('#') || trimmed.is_empty() {
            continue;
        }
        let line_no = offset + i + 1;
        let text = raw.trim_end();
        let (part, continues) = match text.strip_suffix(escape) {
            Some(p) => (p, true),
            None => (text, false),
        };
        // As Docker: only the escape and the newline go (`ap\` + `k` is `apk`).
        let entry = cur.get_or_insert_with(|| (line_no, String::new()));
        entry.1.push_str(if entry.1.is_empty() { part.trim_start() } else { part });
        if !continues {
            out.extend(cur.take());
        }
    }
    out.extend(cur);
    out
}

fn instruction(line: usize, text: &str) -> Result<Instruction, ParseError> {
    let (word, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
    let Some(kind) = Kind::parse(word) else { return fail(line, format!("unknown instruction {}", word.to_ascii_uppercase())) };
    let (flags, args) = split_flags(line, kind, rest.trim())?;
    if matches!(kind, Kind::Run | Kind::Copy | Kind::Add) && has_heredoc(&args) {
        return fail(line, format!("{}: heredocs (<<EOF) are not supported by the built-in builder", kind.name()));
    }
    let needs_args = !matches!(kind, Kind::Cmd | Kind::Entrypoint | Kind::Run);
    if needs_args && args.is_empty() {
        return fail(line, format!("{} requires at least one argument", kind.name()));
    }
    Ok(Instruction { line, kind, flags, args })
}

fn split_flags(line: usize, kind: Kind, mut rest: &str) -> Result<(Vec<(String, String)>, String), ParseError> {
    let mut flags = Vec::new();
    if kind.flags().is_empty() {
        return Ok((flags, rest.to_string()));
    }
    while let Some(f) = rest.strip_prefix("--") {
        let (token, after) = f.split_once(char::is_whitespace).unwrap_or((f, ""));
        let (name, value) = token.split_once('=').unwrap_or((token, "true"));
        if !kind.flags().contains(&name) {
            return fail(line, format!("unknown flag: --{name} for {}", kind.name()));
        }
        flags.push((name.to_string(), value.to_string()));
        rest = after.trim_start();
    }
    Ok((flags, rest.to_string()))
}

/// `<<EOF`, `<<-EOF`, `<<"EOF"` at the start of a word.
fn has_heredoc(args: &str) -> bool {
    args.split_whitespace().any(|w| {
        let Some(rest) = w.strip_prefix("<<") else { return false };
        let rest = rest.trim_start_matches('-').trim_start_matches(['"', '\'']);
        rest.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
    })
}

fn stage(from: Instruction) -> Result<Stage, ParseError> {
    let words: Vec<&str> = from.args.split_whitespace().collect();
    let (base, name) = match words.as_slice() {
        [base] => (base.to_string(), None),
        [base, as_kw, name] if as_kw.eq_ignore_ascii_case("as") => {
            let name = name.to_ascii_lowercase();
            if !name.starts_with(|c: char| c.is_ascii_alphabetic()) || !name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
                return fail(from.line, format!("invalid stage name {name:?}"));
            }
            (base.to_string(), Some(name))
        }
        _ => return fail(from.line, "FROM requires either one or three arguments: FROM <image> [AS <name>]"),
    };
    Ok(Stage { name, base, from, steps: Vec::new() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_flags_and_continuations() {
        let df = parse(
            "# syntax=docker/dockerfile:1\nARG BASE=busybox\nFROM --platform=linux/amd64 $BASE AS Build\n# a comment\nRUN echo a \\\n  # inside\n  && echo b\nCOPY --chown=1:2 --from=x a b/\n\nfrom scratch\ncmd [\"/app\"]\n",
        )
        .unwrap();
        assert_eq!(df.escape, '\\');
        assert_eq!(df.meta_args.len(), 1);
        assert_eq!(df.stages.len(), 2);
        let s = &df.stages[0];
        assert_eq!((s.name.as_deref(), s.base.as_str(), s.from.line), (Some("build"), "$BASE", 3));
        assert_eq!(s.from.flag("platform"), Some("linux/amd64"));
        assert_eq!(s.steps[0].args, "echo a   && echo b");
        assert_eq!(s.steps[0].line, 5);
        assert_eq!(s.steps[1].flags, vec![("chown".into(), "1:2".into()), ("from".into(), "x".into())]);
        assert_eq!(s.steps[1].args, "a b/");
        assert_eq!(df.stages[1].steps[0].json_args().unwrap(), vec!["/app"]);
        assert_eq!(df.stage_index("BUILD"), Some(0));
        assert_eq!(df.stage_index("1"), Some(1));
        assert_eq!(df.stage_index("nope"), None);
    }

    #[test]
    fn escape_directive() {
        let df = parse("# escape=`\nFROM scratch\nENV A=1 `\n  B=2\nRUN dir c:\\\n").unwrap();
        assert_eq!(df.escape, '`');
        assert_eq!(df.stages[0].steps[0].args, "A=1   B=2");
        assert_eq!(df.stages[0].steps[1].args, "dir c:\\");
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse("FROM scratch\n\nFORM x\n").unwrap_err();
        assert_eq!((e.line, e.message.as_str()), (3, "unknown instruction FORM"));
        assert_eq!(parse("RUN x\nFROM scratch").unwrap_err().line, 1);
        assert!(parse("FROM scratch\nCOPY --bogus a b").unwrap_err().message.contains("--bogus"));
        assert!(parse("FROM scratch\nRUN cat <<EOF\nhi\nEOF\n").unwrap_err().message.contains("heredoc"));
        assert_eq!(parse("FROM a b").unwrap_err().line, 1);
        assert!(parse("# just a comment\n").is_err());
        assert_eq!(parse("FROM scratch\nWORKDIR\n").unwrap_err().line, 2);
    }

    #[test]
    fn shell_and_exec_forms() {
        let df = parse("FROM scratch\nCMD echo hi\nENTRYPOINT [\"a\", \"b c\"]\nCMD [not json\n").unwrap();
        let steps = &df.stages[0].steps;
        assert_eq!(steps[0].json_args(), None);
        assert_eq!(steps[1].json_args().unwrap(), vec!["a", "b c"]);
        assert_eq!(steps[2].json_args(), None);
    }
}
