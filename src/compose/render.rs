//! A small YAML emitter over serde_json values for `hoist config`: block style, keys in
//! model order, strings quoted only when YAML would read them as something else.

use serde_json::Value;

pub fn yaml(v: &Value) -> String {
    let mut out = String::new();
    match v {
        Value::Object(m) if !m.is_empty() => block_map(m, 0, &mut out),
        Value::Array(a) if !a.is_empty() => block_seq(a, 0, &mut out),
        other => {
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
    out
}

fn block_map(m: &serde_json::Map<String, Value>, indent: usize, out: &mut String) {
    for (k, v) in m {
        out.push_str(&" ".repeat(indent));
        out.push_str(&string(k));
        out.push(':');
        value(v, indent, out);
    }
}

fn block_seq(a: &[Value], indent: usize, out: &mut String) {
    for v in a {
        out.push_str(&" ".repeat(indent));
        out.push('-');
        match v {
            Value::Object(m) if !m.is_empty() => {
                // First key on the dash line, the rest aligned under it.
                let mut inner = String::new();
                block_map(m, indent + 2, &mut inner);
                out.push(' ');
                out.push_str(inner.trim_start());
            }
            _ => value(v, indent, out),
        }
    }
}

/// Writes a value after `key:` or `-` (the separator space included).
fn value(v: &Value, indent: usize, out: &mut String) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            block_map(m, indent + 2, out);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            block_seq(a, indent + 2, out);
        }
        Value::String(s) if s.contains('\n') && !s.starts_with([' ', '\n']) && !s.chars().any(|c| c.is_control() && c != '\n') => {
            // Literal block; the chomping indicator keeps the exact trailing newlines.
            let (indicator, body) = match s.strip_suffix('\n') {
                Some(b) if b.ends_with('\n') => ("|+", b),
                Some(b) => ("|", b),
                None => ("|-", s.as_str()),
            };
            out.push(' ');
            out.push_str(indicator);
            out.push('\n');
            for line in body.split('\n') {
                if !line.is_empty() {
                    out.push_str(&" ".repeat(indent + 2));
                    out.push_str(line);
                }
                out.push('\n');
            }
        }
        other => {
            out.push(' ');
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string(s),
        Value::Array(_) => "[]".into(),
        Value::Object(_) => "{}".into(),
    }
}

/// A string as YAML: plain when it reads back as the same string, else double-quoted.
fn string(s: &str) -> String {
    let special = s.is_empty()
        || s.starts_with(|c: char| " -?:,[]{}#&*!|>'\"%@`~".contains(c))
        || s.ends_with([' ', ':'])
        || s.contains(": ")
        || s.contains(" #")
        || s.contains(['\t', '\n', '\r', '\\'])
        || s.chars().any(|c| c.is_control())
        || matches!(s.to_lowercase().as_str(), "null" | "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n")
        || s.parse::<f64>().is_ok()
        || s.starts_with("0x")
        || s.starts_with("0o")
        || s.starts_with('.');
    if special { serde_json::to_string(s).unwrap_or_default() } else { s.to_string() }
}

/// The JSON schema of the normalized model (`schemas/compose.schema.json`), pretty-printed
/// with a trailing newline.
pub fn model_schema() -> String {
    let schema = schemars::schema_for!(super::model::Project);
    serde_json::to_string_pretty(&schema).unwrap_or_default() + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_block_yaml() {
        let v = serde_json::json!({"a": {"b": [1, "x y", {"k": "v", "j": true}], "e": {}, "s": "true", "m": "l1\nl2", "n": "l\n", "o": "l\n\n"}});
        let y = yaml(&v);
        assert_eq!(y, "a:\n  b:\n    - 1\n    - x y\n    - k: v\n      j: true\n  e: {}\n  s: \"true\"\n  m: |-\n    l1\n    l2\n  \"n\": |\n    l\n  o: |+\n    l\n\n");
    }
}
