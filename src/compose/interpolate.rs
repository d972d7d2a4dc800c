//! `$VAR` / `${VAR...}` substitution in compose values, with the shell-like operators
//! compose supports (`:-`, `-`, `:?`, `?`, `:+`, `+`), nesting, and `$$` for a literal `$`.

/// Why a value could not be interpolated (the caller adds file and line).
#[derive(Debug, Clone, PartialEq)]
pub enum InterpError {
    /// `${VAR:?msg}` / `${VAR?msg}` with VAR missing.
    Required { var: String, message: String },
    Syntax(String),
}

/// Substitutes variables in `s`. Unset variables become "" and add a warning.
pub fn interpolate(s: &str, lookup: &dyn Fn(&str) -> Option<String>, warnings: &mut Vec<String>) -> Result<String, InterpError> {
    if !s.contains('$') {
        return Ok(s.to_string());
    }
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c != '$' {
            out.push(c);
            i += 1;
            continue;
        }
        match chars.get(i + 1) {
            Some('$') => {
                out.push('$');
                i += 2;
            }
            Some('{') => {
                let start = i + 2;
                let end = matching_brace(&chars, start).ok_or_else(|| InterpError::Syntax(format!("invalid interpolation format for {s:?}: missing '}}'")))?;
                let inner: String = chars[start..end].iter().collect();
                out.push_str(&braced(&inner, s, lookup, warnings)?);
                i = end + 1;
            }
            Some(&n) if n == '_' || n.is_ascii_alphabetic() => {
                let (name, j) = bare_name(&chars, i + 1);
                out.push_str(&value_or_warn(&name, lookup, warnings));
                i = j;
            }
            // A lone `$` (end of string, before a space, ...) stays as written.
            _ => {
                out.push('$');
                i += 1;
            }
        }
    }
    Ok(out)
}

/// The name of a `$NAME` starting at `start`, and the index after it.
fn bare_name(chars: &[char], start: usize) -> (String, usize) {
    let end = chars[start..].iter().position(|c| !(*c == '_' || c.is_ascii_alphanumeric())).map_or(chars.len(), |n| start + n);
    (chars[start..end].iter().collect(), end)
}

fn matching_brace(chars: &[char], start: usize) -> Option<usize> {
    let mut depth = 0;
    let mut i = start;
    while i < chars.len() {
        match chars[i] {
            '$' if chars.get(i + 1) == Some(&'{') => {
                depth += 1;
                i += 1;
            }
            '}' if depth == 0 => return Some(i),
            '}' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    None
}

fn value_or_warn(name: &str, lookup: &dyn Fn(&str) -> Option<String>, warnings: &mut Vec<String>) -> String {
    lookup(name).unwrap_or_else(|| {
        let w = format!("The \"{name}\" variable is not set. Defaulting to a blank string.");
        if !warnings.contains(&w) {
            warnings.push(w);
        }
        String::new()
    })
}

fn braced(inner: &str, whole: &str, lookup: &dyn Fn(&str) -> Option<String>, warnings: &mut Vec<String>) -> Result<String, InterpError> {
    let name_len = inner.find(|c: char| !(c == '_' || c.is_ascii_alphanumeric())).unwrap_or(inner.len());
    let name = &inner[..name_len];
    let bad = || InterpError::Syntax(format!("invalid interpolation format for {whole:?}: \"${{{inner}}}\""));
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(bad());
    }
    let rest = &inner[name_len..];
    if rest.is_empty() {
        return Ok(value_or_warn(name, lookup, warnings));
    }
    let (op, arg) = [":-", ":?", ":+", "-", "?", "+"]
        .iter()
        .find_map(|op| rest.strip_prefix(op).map(|a| (*op, a)))
        .ok_or_else(bad)?;
    let value = lookup(name);
    // `:` operators treat an empty value like an unset one.
    let present = if op.starts_with(':') { value.as_deref().is_some_and(|v| !v.is_empty()) } else { value.is_some() };
    let expand = |w: &mut Vec<String>| interpolate(arg, lookup, w);
    match op.trim_start_matches(':') {
        "-" => if present { Ok(value.unwrap_or_default()) } else { expand(warnings) },
        "+" => if present { expand(warnings) } else { Ok(String::new()) },
        _ => {
            if present {
                Ok(value.unwrap_or_default())
            } else {
                let message = expand(warnings)?;
                Err(InterpError::Required { var: name.to_string(), message })
            }
        }
    }
}

/// A variable a file uses, as `config --variables` lists it.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Variable {
    pub name: String,
    /// `${VAR?msg}` / `${VAR:?msg}`.
    pub required: bool,
    /// `${VAR-x}` / `${VAR:-x}`: `x` as written.
    pub default_value: String,
    /// `${VAR+x}` / `${VAR:+x}`: `x` as written.
    pub presence_value: String,
}

/// Adds the variables `s` refers to (nested ones in defaults too) to `out`.
pub fn variables(s: &str, out: &mut indexmap::IndexMap<String, Variable>) {
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '$' {
            i += 1;
            continue;
        }
        match chars.get(i + 1) {
            Some('$') => i += 2,
            Some('{') => {
                let start = i + 2;
                let Some(end) = matching_brace(&chars, start) else { return };
                let inner: String = chars[start..end].iter().collect();
                let name_len = inner.find(|c: char| !(c == '_' || c.is_ascii_alphanumeric())).unwrap_or(inner.len());
                let (name, rest) = inner.split_at(name_len);
                if !name.is_empty() {
                    let v = out.entry(name.to_string()).or_insert_with(|| Variable { name: name.to_string(), ..Variable::default() });
                    let op = [":-", ":?", ":+", "-", "?", "+"].iter().find_map(|op| rest.strip_prefix(op).map(|a| (op.trim_start_matches(':'), a)));
                    if let Some((op, arg)) = op {
                        match op {
                            "-" => v.default_value = arg.to_string(),
                            "+" => v.presence_value = arg.to_string(),
                            _ => v.required = true,
                        }
                        variables(arg, out);
                    }
                }
                i = end + 1;
            }
            Some(&n) if n == '_' || n.is_ascii_alphabetic() => {
                let (name, j) = bare_name(&chars, i + 1);
                out.entry(name.clone()).or_insert_with(|| Variable { name, ..Variable::default() });
                i = j;
            }
            _ => i += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(s: &str) -> (Result<String, InterpError>, Vec<String>) {
        let lookup = |k: &str| match k {
            "A" => Some("alpha".to_string()),
            "EMPTY" => Some(String::new()),
            "N" => Some("B".to_string()),
            _ => None,
        };
        let mut w = vec![];
        let r = interpolate(s, &lookup, &mut w);
        (r, w)
    }

    #[test]
    fn lists_variables() {
        let mut out = indexmap::IndexMap::new();
        variables("$A ${B:-x${C}} ${D?need} ${E:+on} $$F ${A}", &mut out);
        let v: Vec<(&str, bool, &str, &str)> = out.values().map(|v| (v.name.as_str(), v.required, v.default_value.as_str(), v.presence_value.as_str())).collect();
        assert_eq!(v, [("A", false, "", ""), ("B", false, "x${C}", ""), ("C", false, "", ""), ("D", true, "", ""), ("E", false, "", "on")]);
    }

    #[test]
    fn operators() {
        assert_eq!(run("$A-${A}").0.unwrap(), "alpha-alpha");
        assert_eq!(run("${EMPTY:-d}|${EMPTY-d}|${X-d}").0.unwrap(), "d||d");
        assert_eq!(run("${A:+r}|${EMPTY:+r}|${EMPTY+r}|${X+r}").0.unwrap(), "r||r|");
        assert_eq!(run("$$A $ 5$").0.unwrap(), "$A $ 5$");
        assert_eq!(run("${X:-${A}-x}").0.unwrap(), "alpha-x");
        assert_eq!(run("${X:-${Y:-deep}}").0.unwrap(), "deep");
    }

    #[test]
    fn unset_warns_and_required_errors() {
        let (r, w) = run("a${MISSING}b");
        assert_eq!(r.unwrap(), "ab");
        assert_eq!(w, vec!["The \"MISSING\" variable is not set. Defaulting to a blank string.".to_string()]);
        assert_eq!(run("${X:?need X}").0, Err(InterpError::Required { var: "X".into(), message: "need X".into() }));
        assert!(matches!(run("${EMPTY?m}").0, Ok(s) if s.is_empty()));
        assert!(matches!(run("${EMPTY:?m}").0, Err(InterpError::Required { .. })));
        assert!(matches!(run("${A").0, Err(InterpError::Syntax(_))));
        assert!(matches!(run("${}").0, Err(InterpError::Syntax(_))));
        assert!(matches!(run("${A!x}").0, Err(InterpError::Syntax(_))));
    }
}
