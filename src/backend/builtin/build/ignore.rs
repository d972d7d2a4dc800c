//! `.dockerignore` as Docker reads it: `#` comments, `!` exceptions, the last matching
//! pattern wins, a pattern that matches a directory excludes what is below it. Patterns
//! are compiled by globset into automata: matching is linear in the path, whatever the pattern.

use std::io;
use std::path::Path;

use globset::{GlobBuilder, GlobMatcher};

#[derive(Debug, Default, Clone)]
pub struct Ignore {
    patterns: Vec<Pattern>,
}

#[derive(Debug, Clone)]
struct Pattern {
    /// Cleaned as Docker does (filepath.Clean, no leading `/`).
    text: String,
    glob: GlobMatcher,
    exception: bool,
}

impl Ignore {
    /// Parses `.dockerignore` text; an invalid pattern is an error naming its line.
    pub fn try_parse(text: &str) -> Result<Ignore, String> {
        let patterns = lines(text).map(|(n, p)| p.map_err(|e| format!("line {n}: {e}"))).collect::<Result<_, _>>()?;
        Ok(Ignore { patterns })
    }

    /// Like `try_parse`, leaving out invalid patterns (for pattern lists checked where
    /// they come from, as watch rules are).
    pub fn parse(text: &str) -> Ignore {
        Ignore { patterns: lines(text).filter_map(|(_, p)| p.ok()).collect() }
    }

    /// Reads `<context>/.dockerignore` inside the context (a symlink cannot point it at a
    /// host file); none: nothing is excluded.
    pub fn load(context: &Path) -> io::Result<Ignore> {
        let tree = super::tree::Tree::open(context)?;
        let text = match tree.open_file(Path::new(".dockerignore")) {
            Ok(f) => io::read_to_string(f)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Ignore::default()),
            Err(e) => return Err(e),
        };
        Ignore::try_parse(&text).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!(".dockerignore: {e}")))
    }

    /// Whether `rel` (relative to the context, `/`-separated) is excluded: the last
    /// pattern that matches it or one of its parent directories decides.
    pub fn excluded(&self, rel: &str) -> bool {
        let path = clean(rel);
        if path == "." {
            return false;
        }
        let parents: Vec<&str> = path.match_indices('/').map(|(i, _)| &path[..i]).collect();
        let mut excluded = false;
        for p in &self.patterns {
            // Only a pattern that can change the outcome is tried (as Docker does).
            if p.exception != excluded {
                continue;
            }
            if p.glob.is_match(&path) || parents.iter().any(|d| p.glob.is_match(d)) {
                excluded = !p.exception;
            }
        }
        excluded
    }

    /// Whether the excluded directory `dir` is still walked: Docker does so only when the
    /// text of an exception starts with `dir/`.
    pub fn walk_into(&self, dir: &str) -> bool {
        let dir = format!("{}/", clean(dir));
        self.patterns.iter().any(|p| p.exception && format!("{}/", p.text).starts_with(&dir))
    }

    /// Whether `rel` reaches the builder as Docker sends a context: not excluded, and no
    /// skipped directory above it (an excluded directory that is walked holds only what
    /// exceptions bring back).
    pub fn sent(&self, rel: &str, is_dir: bool) -> bool {
        let path = clean(rel);
        if path == "." {
            return true;
        }
        let skipped = |p: &str| self.excluded(p) && !self.walk_into(p);
        let parents_ok = !path.match_indices('/').any(|(i, _)| skipped(&path[..i]));
        parents_ok && (!self.excluded(&path) || is_dir && self.walk_into(&path))
    }
}

/// The patterns of a file, with their line numbers.
fn lines(text: &str) -> impl Iterator<Item = (usize, Result<Pattern, String>)> + '_ {
    text.lines().enumerate().filter_map(|(i, raw)| {
        let raw = if i == 0 { raw.trim_start_matches('\u{feff}') } else { raw };
        // As Docker: a comment is a `#` in the first column, before any trimming.
        if raw.starts_with('#') {
            return None;
        }
        let line = raw.trim();
        if line.is_empty() {
            return None;
        }
        let (exception, body) = match line.strip_prefix('!') {
            Some(rest) => (true, rest.trim()),
            None => (false, line),
        };
        if body.is_empty() {
            return Some((i + 1, Err("illegal exclusion pattern: \"!\"".to_string())));
        }
        let text = clean(body);
        let glob = glob(&text).map_err(|e| format!("invalid pattern {body:?}: {}", e.kind()));
        Some((i + 1, glob.map(|glob| Pattern { text, glob, exception })))
    })
}

/// Go's filepath.Clean, then no leading `/` (patterns and paths are context-relative).
fn clean(p: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." if out.last().is_some_and(|l| *l != "..") => {
                out.pop();
            }
            ".." if p.starts_with('/') => {}
            _ => out.push(part),
        }
    }
    if out.is_empty() { ".".into() } else { out.join("/") }
}

/// A pattern as a glob: `*` and `?` stay within a name, `**` as a whole component spans
/// directories. Docker has no `{a,b}` alternation (braces are literal), and `**` inside a
/// name acts as `*` (globset takes `**` only as a whole component).
pub fn glob(pattern: &str) -> Result<GlobMatcher, globset::Error> {
    let mut out = String::with_capacity(pattern.len());
    for (i, comp) in pattern.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        if comp == "**" {
            out.push_str(comp);
            continue;
        }
        let mut chars = comp.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    out.push(c);
                    out.extend(chars.next());
                }
                '{' | '}' => {
                    out.push('\\');
                    out.push(c);
                }
                '*' => {
                    out.push(c);
                    while chars.next_if_eq(&'*').is_some() {}
                }
                _ => out.push(c),
            }
        }
    }
    Ok(GlobBuilder::new(&out).literal_separator(true).backslash_escape(true).build()?.compile_matcher())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockerignore_patterns() {
        let ig = Ignore::try_parse("# comment\n*.log\n!keep.log\nsecret/\n**/*.tmp\n/build\ndocs/*.md\n!docs/README.md\n ./x/../y \n").unwrap();
        assert!(ig.excluded("a.log"));
        assert!(!ig.excluded("keep.log"));
        assert!(!ig.excluded("sub/a.log"), "`*` does not cross directories");
        assert!(ig.excluded("secret"));
        assert!(ig.excluded("secret/key"), "below an excluded directory");
        assert!(ig.excluded("x.tmp") && ig.excluded("a/b/x.tmp"));
        assert!(ig.excluded("build/out"));
        assert!(ig.excluded("docs/a.md") && !ig.excluded("docs/README.md"));
        assert!(ig.excluded("y"), "patterns are cleaned");
        assert!(!ig.excluded("src/main.rs"));
        assert!(!ig.excluded("{a,b}") && Ignore::parse("{a,b}").excluded("{a,b}"), "braces are literal");
        assert!(Ignore::parse("a**").excluded("abc/d"));
        assert!(Ignore::parse("**").excluded("x/y"));
        assert!(Ignore::parse("a/**/b").excluded("a/b") && Ignore::parse("a/**/b").excluded("a/x/y/b"));
        assert!(Ignore::parse(" #not-a-comment").excluded("#not-a-comment"));
    }

    #[test]
    fn bad_patterns_name_their_line() {
        assert_eq!(Ignore::try_parse("ok\n!\n").unwrap_err(), "line 2: illegal exclusion pattern: \"!\"");
        let e = Ignore::try_parse("a\n\nx[\n").unwrap_err();
        assert!(e.starts_with("line 3: invalid pattern \"x[\""), "{e}");
    }

    #[test]
    fn exceptions_below_an_excluded_directory() {
        let ig = Ignore::parse("secret\n!secret/keep\nlogs\n!**/important\n");
        assert!(ig.sent("secret/keep", false) && ig.sent("secret", true));
        assert!(!ig.sent("secret/other", false) && !ig.sent("secret", false));
        assert!(!ig.excluded("logs/important"), "the pattern matches...");
        assert!(!ig.sent("logs/important", false), "...but Docker never walks into logs/");
        assert!(ig.sent("src/a", false));
    }

    /// Ten `*a` and a `*b` against a 40-character name took 12 s with the backtracking
    /// matcher (exponential in the number of stars). Automata make it linear: names a
    /// thousand times longer, and a hundred stars, stay far below a generous bound.
    #[test]
    fn pathological_patterns_are_linear() {
        let started = std::time::Instant::now();
        for stars in [10, 100] {
            let pattern = format!("{}*b", "*a".repeat(stars));
            let ig = Ignore::parse(&pattern);
            for len in [40, 4_000, 40_000] {
                let name = "a".repeat(len);
                assert!(!ig.excluded(&name));
                assert_eq!(ig.excluded(&format!("{name}b")), len >= stars);
                assert_eq!(ig.excluded(&format!("{name}b/{name}")), len >= stars, "through its parent");
            }
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(2), "took {:?}", started.elapsed());
    }
}
