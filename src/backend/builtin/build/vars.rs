//! Docker's word processing for Dockerfile instructions: `$VAR`, `${VAR}`, `${VAR:-d}`,
//! `${VAR:+x}` (and `-`, `+`, `?`, `:?`), single/double quotes and the escape character.

use std::collections::HashMap;

/// Variables visible to an instruction: the stage's ENV over its declared ARGs.
pub type Vars = HashMap<String, String>;

/// Expands `s` as one word: quotes are removed, nothing is split.
pub fn expand_word(s: &str, vars: &Vars, escape: char) -> Result<String, String> {
    Ok(Lexer::new(s, vars, escape, false).run()?.join(""))
}

/// Expands `s` and splits it on unquoted whitespace (substituted values are not split).
pub fn expand_words(s: &str, vars: &Vars, escape: char) -> Result<Vec<String>, String> {
    Lexer::new(s, vars, escape, true).run()
}

/// Splits on unquoted whitespace, keeping quotes and escapes as written (for
/// `KEY=value` lists, whose parts are then expanded one by one).
pub fn split_raw(s: &str, escape: char) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, c) if c.is_whitespace() => {
                if !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                }
                continue;
            }
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (q, c) if c == escape && q != Some('\'') => {
                cur.push(c);
                if let Some(next) = chars.next() {
                    cur.push(next);
                }
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
}

struct Lexer<'a> {
    chars: Vec<char>,
    pos: usize,
    vars: &'a Vars,
    escape: char,
    split: bool,
}

impl<'a> Lexer<'a> {
    fn new(s: &str, vars: &'a Vars, escape: char, split: bool) -> Self {
        Lexer { chars: s.chars().collect(), pos: 0, vars, escape, split }
    }

    fn next(&mut self) -> Option<char> {
        let c = self.chars.get(self.pos).copied();
        self.pos += c.is_some() as usize;
        c
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn run(mut self) -> Result<Vec<String>, String> {
        let mut words = Vec::new();
        let mut cur = String::new();
        // A word made only of quotes (`""`) is still a word.
        let mut started = false;
        while let Some(c) = self.next() {
            match c {
                c if self.split && c.is_whitespace() => {
                    if started {
                        words.push(std::mem::take(&mut cur));
                        started = false;
                    }
                    continue;
                }
                '\'' => cur.push_str(&self.single_quoted()?),
                '"' => cur.push_str(&self.double_quoted()?),
                '$' => cur.push_str(&self.dollar()?),
                c if c == self.escape => match self.next() {
                    Some(n) => cur.push(n),
                    None => cur.push(c),
                },
                c => cur.push(c),
            }
            started = true;
        }
        if started || !self.split {
            words.push(cur);
        }
        Ok(words)
    }

    fn single_quoted(&mut self) -> Result<String, String> {
        let mut out = String::new();
        loop {
            match self.next() {
                Some('\'') => return Ok(out),
                Some(c) => out.push(c),
                None => return Err("unexpected end of statement while looking for matching single-quote".into()),
            }
        }
    }

    fn double_quoted(&mut self) -> Result<String, String> {
        let mut out = String::new();
        loop {
            match self.next() {
                Some('"') => return Ok(out),
                Some('$') => out.push_str(&self.dollar()?),
                Some(c) if c == self.escape => match self.next() {
                    Some(n @ ('"' | '$')) => out.push(n),
                    Some(n) if n == self.escape => out.push(n),
                    Some(n) => {
                        out.push(c);
                        out.push(n);
                    }
                    None => return Err("unexpected end of statement while looking for matching double-quote".into()),
                },
                Some(c) => out.push(c),
                None => return Err("unexpected end of statement while looking for matching double-quote".into()),
            }
        }
    }

    fn name(&mut self) -> String {
        let mut name = String::new();
        while let Some(c) = self.peek().filter(|c| c.is_ascii_alphanumeric() || *c == '_') {
            name.push(c);
            self.pos += 1;
        }
        name
    }

    /// After a `$`: a variable, or a literal `$` when no name follows.
    fn dollar(&mut self) -> Result<String, String> {
        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                return Ok("$".into());
            }
            let vars = self.vars;
            return Ok(vars.get(&name).cloned().unwrap_or_default());
        }
        self.pos += 1;
        let name = self.name();
        if name.is_empty() {
            return Err("bad substitution: missing variable name after ${".into());
        }
        let vars = self.vars;
        let value = vars.get(&name);
        match self.next() {
            Some('}') => Ok(value.cloned().unwrap_or_default()),
            Some(':') => {
                let op = self.next().ok_or("bad substitution: unexpected end after ':'")?;
                let word = self.modifier_word()?;
                // With `:`, an empty value counts as unset.
                apply_modifier(&name, value.filter(|v| !v.is_empty()), op, word, self.vars, self.escape)
            }
            Some(op @ ('-' | '+' | '?')) => {
                let word = self.modifier_word()?;
                apply_modifier(&name, value, op, word, self.vars, self.escape)
            }
            Some(c) => Err(format!("bad substitution: unsupported modifier ({c}) in ${{{name}}}")),
            None => Err(format!("bad substitution: missing '}}' after ${{{name}")),
        }
    }

    /// The raw text of a modifier's word, up to the `}` closing this substitution.
    fn modifier_word(&mut self) -> Result<String, String> {
        let mut depth = 0;
        let mut out = String::new();
        while let Some(c) = self.next() {
            match c {
                '}' if depth == 0 => return Ok(out),
                '}' => depth -= 1,
                '{' if out.ends_with('$') => depth += 1,
                c if c == self.escape => {
                    out.push(c);
                    if let Some(n) = self.next() {
                        out.push(n);
                    }
                    continue;
                }
                _ => {}
            }
            out.push(c);
        }
        Err("bad substitution: missing '}'".into())
    }
}

fn apply_modifier(name: &str, value: Option<&String>, op: char, word: String, vars: &Vars, escape: char) -> Result<String, String> {
    match (op, value) {
        ('-', Some(v)) => Ok(v.clone()),
        ('-', None) => expand_word(&word, vars, escape),
        ('+', Some(_)) => expand_word(&word, vars, escape),
        ('+', None) => Ok(String::new()),
        ('?', Some(v)) => Ok(v.clone()),
        ('?', None) => {
            let msg = expand_word(&word, vars, escape)?;
            Err(format!("{name}: {}", if msg.is_empty() { "is not allowed to be unset" } else { &msg }))
        }
        (c, _) => Err(format!("bad substitution: unsupported modifier ({c}) in ${{{name}}}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars {
        [("A", "one"), ("B", "two words"), ("EMPTY", "")].iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn w(s: &str) -> String {
        expand_word(s, &vars(), '\\').unwrap()
    }

    #[test]
    fn plain_and_braced() {
        assert_eq!(w("$A/x"), "one/x");
        assert_eq!(w("${A}x"), "onex");
        assert_eq!(w("$NOPE-"), "-");
        assert_eq!(w("a$"), "a$");
        assert_eq!(w("cost: $5"), "cost: ");
        assert_eq!(w("100%$"), "100%$");
    }

    #[test]
    fn modifiers() {
        assert_eq!(w("${NOPE:-dflt}"), "dflt");
        assert_eq!(w("${EMPTY:-dflt}"), "dflt");
        assert_eq!(w("${EMPTY-dflt}"), "");
        assert_eq!(w("${A:-dflt}"), "one");
        assert_eq!(w("${A:+alt}"), "alt");
        assert_eq!(w("${NOPE:+alt}"), "");
        assert_eq!(w("${NOPE:-${A}-x}"), "one-x");
        assert!(expand_word("${NOPE:?must be set}", &vars(), '\\').unwrap_err().contains("must be set"));
        assert!(expand_word("${A", &vars(), '\\').is_err());
        assert!(expand_word("${A/x/y}", &vars(), '\\').is_err());
    }

    #[test]
    fn quotes_and_escapes() {
        assert_eq!(w("'$A'"), "$A");
        assert_eq!(w("\"$A and $B\""), "one and two words");
        assert_eq!(w("\\$A"), "$A");
        assert_eq!(w("\"a\\\"b\""), "a\"b");
        assert_eq!(expand_word("`$A", &vars(), '`').unwrap(), "$A");
        assert!(expand_word("'open", &vars(), '\\').is_err());
    }

    #[test]
    fn words_split_on_unquoted_space_only() {
        let v = expand_words("$B \"x y\" '' z\\ z", &vars(), '\\').unwrap();
        assert_eq!(v, vec!["two words", "x y", "", "z z"]);
        assert_eq!(split_raw("A=1 B=\"x y\" C='q r' D=a\\ b", '\\'), vec!["A=1", "B=\"x y\"", "C='q r'", "D=a\\ b"]);
    }
}
