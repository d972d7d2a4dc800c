//! A small spanned YAML tree built from saphyr-parser events: every node keeps its line and
//! column, aliases are expanded, `<<` merge keys applied and duplicate keys rejected.

use std::collections::{HashMap, HashSet};

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

use super::error::{ComposeError, Loc, Result};
use std::path::{Path, PathBuf};

/// One YAML node and where it starts (line and column 1-based).
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub v: Val,
    pub line: usize,
    pub col: usize,
    /// Index of the file in `Sources`.
    pub src: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// A string scalar (quoted, or plain and not another type).
    Str(String),
    Seq(Vec<Node>),
    /// Keys are strings (compose has no other kind); the key node keeps the key's place.
    Map(Vec<(Node, Node)>),
}

impl Node {
    pub fn new(v: Val, line: usize, col: usize) -> Self {
        Node { v, line, col, src: 0 }
    }

    /// A node made by the loader (not from a file) placed where `at` is.
    pub fn like(at: &Node, v: Val) -> Self {
        Node { v, line: at.line, col: at.col, src: at.src }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.v {
            Val::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The key text of a map-key node.
    pub fn key(&self) -> &str {
        self.as_str().unwrap_or("")
    }

    pub fn as_map(&self) -> Option<&Vec<(Node, Node)>> {
        match &self.v {
            Val::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?.iter().find(|(k, _)| k.key() == key).map(|(_, v)| v)
    }

    /// The scalar as text (numbers and booleans as written in canonical form).
    pub fn scalar_text(&self) -> Option<String> {
        match &self.v {
            Val::Str(s) => Some(s.clone()),
            Val::Int(i) => Some(i.to_string()),
            Val::Float(f) => Some(f.to_string()),
            Val::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    pub fn type_name(&self) -> &'static str {
        match &self.v {
            Val::Null => "null",
            Val::Bool(_) => "boolean",
            Val::Int(_) => "integer",
            Val::Float(_) => "number",
            Val::Str(_) => "string",
            Val::Seq(_) => "list",
            Val::Map(_) => "mapping",
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.v {
            Val::Null => J::Null,
            Val::Bool(b) => J::Bool(*b),
            Val::Int(i) => J::from(*i),
            Val::Float(f) => serde_json::Number::from_f64(*f).map(J::Number).unwrap_or(J::Null),
            Val::Str(s) => J::String(s.clone()),
            Val::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Val::Map(m) => J::Object(m.iter().map(|(k, v)| (k.key().to_string(), v.to_json())).collect()),
        }
    }

    fn depth(&self) -> usize {
        match &self.v {
            Val::Seq(items) => 1 + items.iter().map(Node::depth).max().unwrap_or(0),
            Val::Map(m) => 1 + m.iter().map(|(_, v)| v.depth()).max().unwrap_or(0),
            _ => 1,
        }
    }

    fn size(&self) -> usize {
        match &self.v {
            Val::Seq(items) => 1 + items.iter().map(Node::size).sum::<usize>(),
            Val::Map(m) => 1 + m.iter().map(|(_, v)| 1 + v.size()).sum::<usize>(),
            _ => 1,
        }
    }
}

/// A loaded file's text, to point errors at lines of it.
#[derive(Debug, Clone)]
pub struct Source {
    pub path: PathBuf,
    pub text: String,
    /// Byte offset of each line's start: locations are taken for every service, so a
    /// line lookup must not rescan the file (that made loading quadratic).
    line_starts: Vec<usize>,
}

impl Source {
    pub fn new(path: &Path, text: String) -> Self {
        let line_starts = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
        Source { path: path.to_path_buf(), text, line_starts }
    }

    /// Line `line` (1-based) without its line ending.
    fn line(&self, line: usize) -> Option<&str> {
        let start = *self.line_starts.get(line.checked_sub(1)?)?;
        let end = self.line_starts.get(line).map_or(self.text.len(), |next| next - 1);
        (start < self.text.len()).then(|| self.text[start..end].trim_end_matches('\r'))
    }

    pub fn loc(&self, line: usize, col: usize) -> Loc {
        Loc {
            file: self.path.clone(),
            line,
            col,
            source_line: self.line(line).map(str::to_string),
        }
    }

    pub fn node_loc(&self, n: &Node) -> Loc {
        self.loc(n.line, n.col)
    }

    pub fn err(&self, n: &Node, msg: impl Into<String>) -> ComposeError {
        ComposeError::at(&self.node_loc(n), msg)
    }
}

/// Every file read so far, indexed by `Node::src`.
#[derive(Debug, Clone, Default)]
pub struct Sources(pub Vec<Source>);

impl Sources {
    pub fn add(&mut self, src: Source) -> usize {
        self.0.push(src);
        self.0.len() - 1
    }

    pub fn loc(&self, n: &Node) -> Loc {
        match self.0.get(n.src) {
            Some(s) => s.node_loc(n),
            None => Loc::default(),
        }
    }

    pub fn err(&self, n: &Node, msg: impl Into<String>) -> ComposeError {
        ComposeError::at(&self.loc(n), msg)
    }

    pub fn path(&self, n: &Node) -> PathBuf {
        self.0.get(n.src).map(|s| s.path.clone()).unwrap_or_default()
    }

    /// A plain scalar as written in its file (`0o400` where the value is 256): the token at
    /// the node's place, up to a blank or flow punctuation.
    pub fn written(&self, n: &Node) -> Option<String> {
        let line = self.0.get(n.src)?.line(n.line)?;
        let token: String = line.chars().skip(n.col.checked_sub(1)?).take_while(|c| !c.is_whitespace() && !",]}#".contains(*c)).collect();
        (!token.is_empty()).then_some(token)
    }
}

/// Nesting deeper than this is refused: the tree is built recursively and must fit a
/// thread stack (compose files nest a dozen levels at most).
const MAX_DEPTH: usize = 64;

/// Alias expansion beyond this many nodes is refused ("billion laughs").
const MAX_NODES: usize = 1_000_000;

/// Parses the first document of `src` (an empty file is `Null`).
pub fn parse(src: &Source, idx: usize) -> Result<Node> {
    Ok(parse_all(src, idx)?.into_iter().next().unwrap_or(Node { src: idx, ..Node::new(Val::Null, 1, 1) }))
}

/// Parses every document of `src` (`---` separated); empty documents are skipped.
pub fn parse_all(src: &Source, idx: usize) -> Result<Vec<Node>> {
    let mut b = Builder { src, idx, parser: Parser::new_from_str(&src.text), anchors: HashMap::new(), budget: 0, depth: 0 };
    let mut docs = Vec::new();
    loop {
        let (ev, span) = b.next()?;
        match ev {
            Event::StreamStart | Event::DocumentStart(_) | Event::DocumentEnd | Event::Nothing => continue,
            Event::StreamEnd => return Ok(docs),
            ev => {
                let n = b.node(ev, span)?;
                if n.v != Val::Null {
                    docs.push(n);
                }
            }
        }
    }
}

struct Builder<'a> {
    src: &'a Source,
    idx: usize,
    parser: Parser<'a, saphyr_parser::StrInput<'a>>,
    anchors: HashMap<usize, Node>,
    budget: usize,
    depth: usize,
}

impl<'a> Builder<'a> {
    fn next(&mut self) -> Result<(Event<'a>, Span)> {
        match self.parser.next_event() {
            Some(Ok(x)) => Ok(x),
            Some(Err(e)) => {
                let m = e.marker();
                Err(ComposeError::at(&self.src.loc(m.line(), m.col() + 1), format!("invalid YAML: {}", e.info())))
            }
            None => Err(ComposeError::in_file(&self.src.path, "invalid YAML: unexpected end of input")),
        }
    }

    fn node(&mut self, ev: Event<'a>, span: Span) -> Result<Node> {
        self.depth += 1;
        let r = self.node_inner(ev, span);
        self.depth -= 1;
        r
    }

    fn node_inner(&mut self, ev: Event<'a>, span: Span) -> Result<Node> {
        let (line, col) = (span.start.line(), span.start.col() + 1);
        if self.depth > MAX_DEPTH {
            return Err(ComposeError::at(&self.src.loc(line, col), "YAML nesting is too deep"));
        }
        let (mut node, anchor) = match ev {
            Event::Alias(id) => {
                let Some(n) = self.anchors.get(&id) else {
                    return Err(ComposeError::at(&self.src.loc(line, col), "unknown YAML alias"));
                };
                // An alias must not make the tree deeper than a written one may be.
                if self.depth + n.depth() > MAX_DEPTH {
                    return Err(ComposeError::at(&self.src.loc(line, col), "YAML nesting is too deep"));
                }
                self.budget += n.size();
                if self.budget > MAX_NODES {
                    return Err(ComposeError::at(&self.src.loc(line, col), "too many YAML alias expansions"));
                }
                // The alias takes the place of the use site, for error messages.
                let mut n = n.clone();
                (n.line, n.col) = (line, col);
                return Ok(n);
            }
            Event::Scalar(text, style, anchor, tag) => {
                let tag = tag.map(|t| t.suffix.clone());
                (Node::new(scalar(&text, style, tag.as_deref()), line, col), anchor)
            }
            Event::SequenceStart(anchor, _) => {
                let mut items = Vec::new();
                loop {
                    let (ev, span) = self.next()?;
                    if matches!(ev, Event::SequenceEnd) {
                        break;
                    }
                    items.push(self.node(ev, span)?);
                }
                (Node::new(Val::Seq(items), line, col), anchor)
            }
            Event::MappingStart(anchor, _) => (self.mapping(line, col)?, anchor),
            _ => return Err(ComposeError::at(&self.src.loc(line, col), "invalid YAML: unexpected event")),
        };
        node.src = self.idx;
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        Ok(node)
    }

    fn mapping(&mut self, line: usize, col: usize) -> Result<Node> {
        let mut entries: Vec<(Node, Node)> = Vec::new();
        let mut merged: Vec<(Node, Node)> = Vec::new();
        // Keys seen so far (explicit ones with their line): looked up in a hash set, not
        // by scanning `entries`, which made a mapping of n keys cost n² comparisons.
        let mut explicit: HashMap<String, usize> = HashMap::new();
        let mut merged_keys: HashSet<String> = HashSet::new();
        loop {
            let (ev, span) = self.next()?;
            if matches!(ev, Event::MappingEnd) {
                break;
            }
            let key = self.node(ev, span)?;
            let (ev, span) = self.next()?;
            let value = self.node(ev, span)?;
            let key = match key.v {
                Val::Str(_) => key,
                Val::Seq(_) | Val::Map(_) => return Err(self.src.err(&key, "mapping keys must be strings")),
                _ => {
                    let text = key.scalar_text().unwrap_or_else(|| "null".into());
                    Node::like(&key, Val::Str(text))
                }
            };
            if key.key() == "<<" {
                // Merge keys: explicit keys of this mapping win over merged ones, and earlier
                // merged mappings win over later ones.
                let sources = match value.v {
                    Val::Map(_) => vec![value],
                    Val::Seq(items) => items,
                    _ => return Err(self.src.err(&value, "merge key `<<` needs a mapping or a list of mappings")),
                };
                for s in sources {
                    match s.v {
                        Val::Map(m) => {
                            for (k, v) in m {
                                if merged_keys.insert(k.key().to_string()) {
                                    merged.push((k, v));
                                }
                            }
                        }
                        _ => return Err(self.src.err(&s, "merge key `<<` needs a mapping or a list of mappings")),
                    }
                }
                continue;
            }
            if let Some(first) = explicit.insert(key.key().to_string(), key.line) {
                return Err(self.src.err(&key, format!("duplicate key {:?} (first at line {first})", key.key())));
            }
            entries.push((key, value));
        }
        entries.extend(merged.into_iter().filter(|(k, _)| !explicit.contains_key(k.key())));
        Ok(Node { src: self.idx, ..Node::new(Val::Map(entries), line, col) })
    }
}

/// Resolves a scalar with the YAML 1.2 core schema (what compose's Go parser does),
/// honouring explicit `!!str`-style tags.
fn scalar(text: &str, style: ScalarStyle, tag: Option<&str>) -> Val {
    match tag {
        Some("str") => return Val::Str(text.to_string()),
        Some("null") => return Val::Null,
        _ => {}
    }
    if style != ScalarStyle::Plain {
        return Val::Str(text.to_string());
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Val::Null,
        "true" | "True" | "TRUE" => return Val::Bool(true),
        "false" | "False" | "FALSE" => return Val::Bool(false),
        _ => {}
    }
    if let Some(i) = parse_int(text) {
        return Val::Int(i);
    }
    let looks_float = text.chars().next().is_some_and(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.'))
        && text.chars().all(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E'))
        && text.chars().any(|c| c.is_ascii_digit());
    if looks_float && let Ok(f) = text.parse::<f64>() {
        return Val::Float(f);
    }
    match text {
        ".inf" | ".Inf" | ".INF" | "+.inf" => Val::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => Val::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => Val::Float(f64::NAN),
        _ => Val::Str(text.to_string()),
    }
}

fn parse_int(text: &str) -> Option<i64> {
    let (neg, body) = match text.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let v = if let Some(h) = body.strip_prefix("0x") {
        i64::from_str_radix(h, 16).ok()?
    } else if let Some(o) = body.strip_prefix("0o") {
        i64::from_str_radix(o, 8).ok()?
    } else if !body.is_empty() && body.chars().all(|c| c.is_ascii_digit()) {
        body.parse().ok()?
    } else {
        return None;
    };
    Some(if neg { -v } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_lines_match_str_lines() {
        for text in ["", "a", "a\n", "a\nb", "a\r\nb\r\n", "a\n\nc\n", "\n\n"] {
            let src = Source::new(Path::new("f"), text.to_string());
            for line in 0..6usize {
                let want = line.checked_sub(1).and_then(|i| text.lines().nth(i));
                assert_eq!(src.line(line), want, "{text:?} line {line}");
            }
        }
    }

    fn p(text: &str) -> Result<Node> {
        parse(&Source::new(Path::new("c.yml"), text.to_string()), 0)
    }

    #[test]
    fn spans_types_and_merge_keys() {
        let n = p("a: &x\n  k: 1\n  j: yes\nb:\n  <<: *x\n  k: 2\nc: \"3\"\nd: 1.5\n").unwrap();
        let b = n.get("b").unwrap();
        assert_eq!(b.get("k").unwrap().v, Val::Int(2));
        assert_eq!(b.get("j").unwrap().v, Val::Str("yes".into()));
        assert_eq!(n.get("c").unwrap().v, Val::Str("3".into()));
        assert_eq!(n.get("d").unwrap().v, Val::Float(1.5));
        let (k, _) = &n.as_map().unwrap()[1];
        assert_eq!((k.line, k.col), (4, 1));
        assert_eq!((b.get("k").unwrap().line, b.get("k").unwrap().col), (6, 6));
    }

    #[test]
    fn duplicate_keys_and_tabs_fail_with_place() {
        let e = p("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!((e.line, e.column), (Some(3), Some(1)));
        assert!(e.to_string().contains("duplicate key \"a\""), "{e}");
        let e = p("a:\n\tb: 1\n").unwrap_err();
        assert_eq!(e.line, Some(2));
        assert!(p("a: [1, 2\n").is_err());
    }

    #[test]
    fn deep_nesting_is_refused() {
        let deep = "[".repeat(100_000);
        // saphyr stops at its own limit or we stop at ours: an error either way, no overflow.
        assert!(p(&deep).is_err());
        let nested: String = (0..300).map(|i| format!("{}k:\n", " ".repeat(i))).collect();
        assert!(p(&nested).unwrap_err().to_string().contains("nesting"), "{:?}", p(&nested));
        let chain: String = std::iter::once("a0: &a0 x\n".to_string()).chain((1..200).map(|i| format!("a{i}: &a{i} [*a{}]\n", i - 1))).collect();
        assert!(p(&chain).unwrap_err().to_string().contains("nesting"));
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut s = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..8 {
            let prev = i - 1;
            s.push_str(&format!("a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"));
        }
        assert!(p(&s).unwrap_err().to_string().contains("alias"));
    }
}
