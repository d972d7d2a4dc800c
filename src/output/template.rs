//! `--format` as the docker CLI reads it: `table`, `json`, or a Go template over a row's
//! fields. Only the part of Go's template language people write on a command line is
//! understood (fields, `.Label "key"`, `json`, `upper`, `lower`, `table` headers); any
//! other action is an error that names it, never printed as text.

use anyhow::{bail, Result};
use indexmap::IndexMap;
use serde_json::Value;

/// A parsed `--format` value.
#[derive(Debug, Clone, PartialEq)]
pub enum Format {
    /// The command's own table.
    Table,
    /// One JSON object per line.
    Json,
    /// A template; `table` ones print a header row and align their tab-separated cells.
    Template { table: bool, parts: Vec<Part> },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    Text(String),
    Action { func: Func, arg: Arg },
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Func {
    None,
    Json,
    Upper,
    Lower,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    /// `.`: the whole row.
    Dot,
    /// `.Field`.
    Field(String),
    /// `.Label "key"`: one label's value, empty when absent.
    Label(String),
}

/// One row to print: its fields (serialized as the JSON output has them), and its labels.
pub struct Row<'a, T = Value> {
    pub fields: T,
    pub labels: Option<&'a IndexMap<String, String>>,
}

impl Format {
    /// `table`, `json`, or a template (`\t` and `\n` written as escapes are tab and newline).
    pub fn parse(s: &str) -> Result<Format> {
        match s {
            "" | "table" => return Ok(Format::Table),
            "json" => return Ok(Format::Json),
            _ => {}
        }
        let (table, body) = match s.strip_prefix("table") {
            Some(rest) if rest.starts_with(char::is_whitespace) => (true, rest.trim_start()),
            _ => (false, s),
        };
        let body = body.replace("\\t", "\t").replace("\\n", "\n");
        let mut parts = Vec::new();
        let mut rest = body.as_str();
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                parts.push(Part::Text(rest[..start].to_string()));
            }
            let Some(len) = rest[start..].find("}}") else { bail!("invalid --format {s:?}: unclosed {{{{") };
            let action = rest[start + 2..start + len].trim().trim_start_matches('-').trim_end_matches('-').trim();
            parts.push(parse_action(action).map_err(|e| anyhow::anyhow!("invalid --format {s:?}: {e}"))?);
            rest = &rest[start + len + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(Format::Template { table, parts })
    }

    /// Prints `rows`: the table or template, with `header` naming a field's column;
    /// `table` is the command's own table (header and cells), used for `Format::Table`.
    /// The fields are serialized only for `json` and templates.
    pub fn print<T: serde::Serialize>(&self, rows: &[Row<T>], header: impl Fn(&str) -> String, table: impl FnOnce() -> Vec<Vec<String>>) -> Result<()> {
        use std::io::Write;
        let mut out = String::new();
        let render = |parts: &[Part], r: &Row<T>| render(parts, &Row { fields: serde_json::to_value(&r.fields)?, labels: r.labels });
        match self {
            Format::Table => return Ok(print_table(&table())?),
            Format::Json => {
                for r in rows {
                    out.push_str(&serde_json::to_string(&r.fields)?);
                    out.push('\n');
                }
            }
            Format::Template { table: false, parts } => {
                for r in rows {
                    out.push_str(&render(parts, r)?);
                    out.push('\n');
                }
            }
            Format::Template { table: true, parts } => {
                let head: String = parts
                    .iter()
                    .map(|p| match p {
                        Part::Text(t) => t.clone(),
                        Part::Action { arg: Arg::Field(f), .. } => header(f),
                        Part::Action { arg: Arg::Label(l), .. } => l.rsplit('.').next().unwrap_or(l).to_uppercase(),
                        Part::Action { arg: Arg::Dot, .. } => String::new(),
                    })
                    .collect();
                let mut cells = vec![head.split('\t').map(str::to_string).collect::<Vec<_>>()];
                for r in rows {
                    cells.push(render(parts, r)?.split('\t').map(str::to_string).collect());
                }
                return Ok(print_table(&cells)?);
            }
        }
        write!(std::io::stdout(), "{out}")?;
        Ok(())
    }
}

fn parse_action(action: &str) -> std::result::Result<Part, String> {
    let words = split_words(action)?;
    let (func, args) = match words.first().map(String::as_str) {
        Some("json") => (Func::Json, &words[1..]),
        Some("upper") => (Func::Upper, &words[1..]),
        Some("lower") => (Func::Lower, &words[1..]),
        Some(w) if !w.starts_with('.') => return Err(format!("{{{{{action}}}}}: function {w:?} is not supported (fields, .Label \"key\", json, upper and lower are)")),
        _ => (Func::None, &words[..]),
    };
    let arg = match args {
        [dot] if dot == "." => Arg::Dot,
        [label, key] if label == ".Label" => Arg::Label(key.clone()),
        [field] if field.starts_with('.') && field.len() > 1 && !field[1..].contains('.') => Arg::Field(field[1..].to_string()),
        _ => return Err(format!("{{{{{action}}}}} is not a field like {{{{.Name}}}} or {{{{.Label \"key\"}}}}")),
    };
    Ok(Part::Action { func, arg })
}

/// Words of an action; a double-quoted word is a string (Go's escapes `\"` and `\\`).
fn split_words(action: &str) -> std::result::Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut chars = action.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' {
            chars.next();
            let mut w = String::new();
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some('\\') => w.push(chars.next().ok_or("unclosed string")?),
                    Some(c) => w.push(c),
                    None => return Err("unclosed string".into()),
                }
            }
            words.push(w);
        } else {
            let mut w = String::new();
            while let Some(&c) = chars.peek().filter(|c| !c.is_whitespace()) {
                w.push(c);
                chars.next();
            }
            words.push(w);
        }
    }
    Ok(words)
}

fn render(parts: &[Part], row: &Row) -> Result<String> {
    let mut out = String::new();
    for p in parts {
        match p {
            Part::Text(t) => out.push_str(t),
            Part::Action { func, arg } => {
                let value = match arg {
                    Arg::Dot => row.fields.clone(),
                    Arg::Label(k) => Value::String(row.labels.and_then(|l| l.get(k)).cloned().unwrap_or_default()),
                    Arg::Field(f) => match row.fields.get(f) {
                        Some(v) => v.clone(),
                        None => bail!("invalid --format: no field {f:?} (fields: {})", field_names(&row.fields)),
                    },
                };
                let text = match (&value, func) {
                    (_, Func::Json) => serde_json::to_string(&value)?,
                    (Value::String(s), _) => s.clone(),
                    (v, _) => v.to_string(),
                };
                out.push_str(&match func {
                    Func::Upper => text.to_uppercase(),
                    Func::Lower => text.to_lowercase(),
                    _ => text,
                });
            }
        }
    }
    Ok(out)
}

fn field_names(row: &Value) -> String {
    row.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>().join(", ")).unwrap_or_default()
}

/// Columns as the docker CLI's tab writer sets them: each at least 10 wide and 3 spaces
/// more than its widest cell; the last cell of a line is not padded.
pub fn table_text(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|i| rows.iter().filter(|r| i + 1 < r.len()).map(|r| r[i].chars().count() + 3).max().unwrap_or(0).max(10))
        .collect();
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (i, cell) in r.iter().enumerate() {
            if i + 1 == r.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<w$}", w = widths[i]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

pub fn print_table(rows: &[Vec<String>]) -> std::io::Result<()> {
    use std::io::Write;
    write!(std::io::stdout(), "{}", table_text(rows))
}

/// `PascalCase` field name → `PASCAL CASE` header, for fields a command has no header for.
pub fn default_header(field: &str) -> String {
    let mut h = String::new();
    let mut prev_lower = false;
    for c in field.chars() {
        if prev_lower && c.is_uppercase() {
            h.push(' ');
        }
        prev_lower = c.is_lowercase();
        h.extend(c.to_uppercase());
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(fields: Value) -> Row<'static> {
        Row { fields, labels: None }
    }

    fn rendered(f: &str, fields: Value) -> Result<String> {
        match Format::parse(f)? {
            Format::Template { parts, .. } => render(&parts, &row(fields)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn templates() {
        let r = serde_json::json!({"Name": "p-web-1", "State": "running", "ExitCode": 0, "Publishers": []});
        assert_eq!(rendered("{{.Name}} {{ .State }}", r.clone()).unwrap(), "p-web-1 running");
        assert_eq!(rendered("{{.Name}}\\t{{.ExitCode}}", r.clone()).unwrap(), "p-web-1\t0");
        assert_eq!(rendered("{{json .Publishers}}", r.clone()).unwrap(), "[]");
        assert_eq!(rendered("{{upper .State}}", r.clone()).unwrap(), "RUNNING");
        assert_eq!(rendered("{{json .Name}}", r.clone()).unwrap(), "\"p-web-1\"");
        assert!(rendered("{{.Nope}}", r.clone()).unwrap_err().to_string().contains("Name"));
        assert!(Format::parse("{{.Name").is_err());
        assert!(Format::parse("{{range .X}}").unwrap_err().to_string().contains("\"range\" is not supported"));
        assert!(Format::parse("{{.A.B}}").is_err());
        assert_eq!(Format::parse("table").unwrap(), Format::Table);
        assert!(matches!(Format::parse("table {{.Name}}").unwrap(), Format::Template { table: true, .. }));
    }

    #[test]
    fn labels() {
        let labels: IndexMap<String, String> = [("com.example.x".to_string(), "1 2".to_string())].into();
        let Format::Template { parts, .. } = Format::parse("{{.Label \"com.example.x\"}}|{{.Label \"nope\"}}").unwrap() else { panic!() };
        assert_eq!(render(&parts, &Row { fields: Value::Null, labels: Some(&labels) }).unwrap(), "1 2|");
    }

    #[test]
    fn headers() {
        assert_eq!(default_header("LocalVolumes"), "LOCAL VOLUMES");
        assert_eq!(default_header("ID"), "ID");
        assert_eq!(default_header("ExitCode"), "EXIT CODE");
    }
}
