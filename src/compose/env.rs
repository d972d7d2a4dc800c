//! `.env` / `env_file` parsing: `KEY=VAL` lines, comments, `export `, single quotes literal,
//! double quotes with escapes, and `${VAR}` substitution in unquoted and double-quoted values.

use std::path::Path;

use super::discover::{decode, read_bytes, MAX_ENV_FILE};
use super::error::{ComposeError, Loc, Result};
use super::interpolate::{interpolate, InterpError};

/// Reads and parses the dotenv file `path` (see `parse_dotenv`); None when it does not
/// exist. Only a regular file of at most `MAX_ENV_FILE` bytes is read. (Label files too.)
pub fn read_dotenv(path: &Path, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Option<Vec<(String, String)>>> {
    let bytes = match read_bytes(path, MAX_ENV_FILE) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(ComposeError::in_file(path, format!("cannot read the file: {e}"))),
    };
    parse_dotenv(path, &decode(path, bytes)?, lookup).map(Some)
}

/// Parses dotenv text. `lookup` resolves `${VAR}` in values (earlier lines of the same file
/// are visible too). Lines with a bare `KEY` take the value from `lookup` and are skipped
/// when it has none.
pub fn parse_dotenv(path: &Path, text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((no, raw)) = lines.next() {
        let err = |msg: String| {
            ComposeError::at(&Loc { file: path.to_path_buf(), line: no + 1, col: 1, source_line: Some(raw.to_string()) }, msg)
        };
        let line = raw.trim_start_matches('\u{feff}').trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").map(str::trim_start).unwrap_or(line);
        let (key, value) = match line.split_once('=') {
            Some((k, v)) => (k.trim(), Some(v.trim_start())),
            None => (line, None),
        };
        if key.is_empty() || key.chars().any(|c| c.is_whitespace() || c == '\0') {
            return Err(err(format!("invalid variable name {key:?}")));
        }
        let Some(value) = value else {
            if let Some(v) = lookup(key) {
                out.push((key.to_string(), v));
            }
            continue;
        };
        let local = |k: &str| out.iter().rev().find(|(n, _)| n == k).map(|(_, v)| v.clone()).or_else(|| lookup(k));
        let value = if let Some(rest) = value.strip_prefix('\'') {
            let mut text = rest.to_string();
            // A quoted value may run over several lines.
            while !text.contains('\'') {
                let Some((_, next)) = lines.next() else { return Err(err("unterminated single quote".into())) };
                text.push('\n');
                text.push_str(next);
            }
            text[..text.find('\'').unwrap_or(text.len())].to_string()
        } else if let Some(rest) = value.strip_prefix('"') {
            let mut text = rest.to_string();
            let end = loop {
                if let Some(end) = closing_double_quote(&text) {
                    break end;
                }
                let Some((_, next)) = lines.next() else { return Err(err("unterminated double quote".into())) };
                text.push('\n');
                text.push_str(next);
            };
            let unescaped = unescape(&text[..end]);
            subst(&unescaped, &local).map_err(err)?
        } else {
            // Unquoted: an inline comment starts at ` #`.
            let v = match value.find(" #") {
                Some(i) => &value[..i],
                None => value,
            };
            subst(v.trim_end(), &local).map_err(err)?
        };
        // Docker cannot start a process with it (and would drop it silently at best).
        if value.contains('\0') {
            return Err(err(format!("the value of {key} has a NUL byte")));
        }
        out.push((key.to_string(), value));
    }
    Ok(out)
}

fn subst(v: &str, lookup: &dyn Fn(&str) -> Option<String>) -> std::result::Result<String, String> {
    // Unset variables in .env files expand silently to "" (no warning), as compose does.
    let mut ignored = Vec::new();
    interpolate(v, lookup, &mut ignored).map_err(|e| match e {
        InterpError::Required { var, message } => format!("required variable {var} is missing a value: {message}"),
        InterpError::Syntax(m) => m,
    })
}

fn closing_double_quote(s: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return Some(i),
            _ => {}
        }
    }
    None
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('\\') => out.push('\\'),
            Some('"') => out.push('"'),
            Some('\'') => out.push('\''),
            // `\$` keeps a literal dollar through the substitution that follows.
            Some('$') => out.push_str("$$"),
            Some(o) => {
                out.push('\\');
                out.push(o);
            }
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotenv_syntax() {
        let text = "# comment\nA=1\nexport B = two words # note\nC='lit $A \\n'\nD=\"x\\ty \\\"q\\\" $A\"\nE=${A}-${HOME_X:-h}\nF=\nG=\"multi\nline\"\nH\n";
        let env = parse_dotenv(Path::new(".env"), text, &|k| (k == "H").then(|| "from-env".to_string())).unwrap();
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("A"), Some("1"));
        assert_eq!(get("B"), Some("two words"));
        assert_eq!(get("C"), Some("lit $A \\n"));
        assert_eq!(get("D"), Some("x\ty \"q\" 1"));
        assert_eq!(get("E"), Some("1-h"));
        assert_eq!(get("F"), Some(""));
        assert_eq!(get("G"), Some("multi\nline"));
        assert_eq!(get("H"), Some("from-env"));
    }

    #[test]
    fn dotenv_errors_have_lines() {
        let e = parse_dotenv(Path::new(".env"), "A=1\nBAD KEY=2\n", &|_| None).unwrap_err();
        assert_eq!(e.line, Some(2));
        assert!(parse_dotenv(Path::new(".env"), "A='open\n", &|_| None).is_err());
    }
}
