//! The build context: `.dockerignore` patterns, COPY/ADD source resolution (globs),
//! a content hash of the sources for the cache, and staging files into a layer directory.

use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};

/// `.dockerignore`: patterns with `*`, `?`, `[..]`, `**`, and `!` exceptions; the last
/// matching pattern wins, and a pattern matching a directory excludes what is below it.
#[derive(Debug, Default, Clone)]
pub struct Ignore {
    patterns: Vec<(Vec<String>, bool)>,
}

impl Ignore {
    pub fn parse(text: &str) -> Ignore {
        let mut patterns = Vec::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (pattern, exception) = match line.strip_prefix('!') {
                Some(p) => (p.trim(), true),
                None => (line, false),
            };
            let segments = clean(pattern);
            if !segments.is_empty() {
                patterns.push((segments, exception));
            }
        }
        Ignore { patterns }
    }

    /// Reads `<context>/.dockerignore` (none: nothing is excluded).
    pub fn load(context: &Path) -> io::Result<Ignore> {
        match fs::read_to_string(context.join(".dockerignore")) {
            Ok(text) => Ok(Ignore::parse(&text)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Ignore::default()),
            Err(e) => Err(e),
        }
    }

    /// Whether `rel` (relative to the context, `/`-separated) is excluded.
    pub fn excluded(&self, rel: &str) -> bool {
        let path = clean(rel);
        let mut excluded = false;
        for (pattern, exception) in &self.patterns {
            let hit = (1..=path.len()).any(|n| match_segments(pattern, &path[..n]));
            if hit {
                excluded = !exception;
            }
        }
        excluded
    }

    fn has_exceptions(&self) -> bool {
        self.patterns.iter().any(|(_, e)| *e)
    }
}

/// `./a//b/../c/` → `["a", "c"]`; `..` never climbs above the root.
fn clean(path: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            p => out.push(p.to_string()),
        }
    }
    out
}

fn match_segments(pattern: &[String], path: &[String]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((p, rest)) if p == "**" => (0..=path.len()).any(|i| match_segments(rest, &path[i..])),
        Some((p, rest)) => path.split_first().is_some_and(|(name, path_rest)| match_name(p, name) && match_segments(rest, path_rest)),
    }
}

/// Shell-style match of one path segment: `*`, `?`, `[a-z]`, `[!x]`, `\` escapes.
pub fn match_name(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    match_chars(&p, &n)
}

fn match_chars(p: &[char], n: &[char]) -> bool {
    match p.first() {
        None => n.is_empty(),
        Some('*') => (0..=n.len()).any(|i| match_chars(&p[1..], &n[i..])),
        Some('?') => !n.is_empty() && match_chars(&p[1..], &n[1..]),
        Some('[') => match (n.first(), class(&p[1..])) {
            (Some(c), Some((matches, len))) => matches(*c) && match_chars(&p[1 + len..], &n[1..]),
            // An unclosed `[` is a literal.
            (Some('['), None) => match_chars(&p[1..], &n[1..]),
            _ => false,
        },
        Some('\\') if p.len() > 1 => n.first() == Some(&p[1]) && match_chars(&p[2..], &n[1..]),
        Some(c) => n.first() == Some(c) && match_chars(&p[1..], &n[1..]),
    }
}

/// A `[...]` class after its `[`: a predicate and the length consumed (with `]`).
#[allow(clippy::type_complexity)]
fn class(p: &[char]) -> Option<(Box<dyn Fn(char) -> bool>, usize)> {
    let end = p.iter().skip(1).position(|c| *c == ']')? + 1;
    let body: Vec<char> = p[..end].to_vec();
    let (negate, body) = match body.first() {
        Some('!' | '^') => (true, body[1..].to_vec()),
        _ => (false, body),
    };
    let mut ranges = Vec::new();
    let mut i = 0;
    while i < body.len() {
        if i + 2 < body.len() && body[i + 1] == '-' {
            ranges.push((body[i], body[i + 2]));
            i += 3;
        } else {
            ranges.push((body[i], body[i]));
            i += 1;
        }
    }
    Some((Box::new(move |c| ranges.iter().any(|(a, b)| (*a..=*b).contains(&c)) != negate), end + 1))
}

pub fn has_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// A source path relative to `root`, refused when it climbs out of it.
pub fn relative_source(src: &str) -> Result<String, String> {
    let mut depth = 0i32;
    for part in src.split('/') {
        match part {
            "" | "." => {}
            ".." => depth -= 1,
            _ => depth += 1,
        }
        if depth < 0 {
            return Err(format!("forbidden path outside the build context: {src}"));
        }
    }
    Ok(clean(src).join("/"))
}

/// The sources a COPY/ADD argument names under `root` (`/`-separated paths relative to
/// it; `""` is the root itself), without excluded ones.
pub fn resolve_sources(root: &Path, src: &str, ignore: &Ignore) -> Result<Vec<String>, String> {
    let rel = relative_source(src)?;
    if !has_glob(&rel) {
        let exists = fs::symlink_metadata(root.join(&rel)).is_ok();
        return match exists && (rel.is_empty() || !ignore.excluded(&rel)) {
            true => Ok(vec![rel]),
            false => Err(format!("{src}: not found in the build context (or excluded by .dockerignore)")),
        };
    }
    let pattern = clean(&rel);
    let mut found = Vec::new();
    glob_walk(root, &mut Vec::new(), &pattern, ignore, &mut found);
    if found.is_empty() {
        return Err(format!("{src}: no source files were specified (nothing matches, or all excluded by .dockerignore)"));
    }
    Ok(found)
}

fn glob_walk(root: &Path, prefix: &mut Vec<String>, pattern: &[String], ignore: &Ignore, out: &mut Vec<String>) {
    let depth = prefix.len();
    if depth == pattern.len() {
        let rel = prefix.join("/");
        if !ignore.excluded(&rel) {
            out.push(rel);
        }
        return;
    }
    let Ok(entries) = fs::read_dir(root.join(prefix.join("/"))) else { return };
    let mut names: Vec<String> = entries.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    for name in names {
        if match_name(&pattern[depth], &name) {
            prefix.push(name);
            glob_walk(root, prefix, pattern, ignore, out);
            prefix.pop();
        }
    }
}

/// One file or directory below a source, in the order it must be created.
#[derive(Debug, Clone)]
pub struct Entry {
    pub abs: PathBuf,
    /// Relative to the source (empty for the source itself).
    pub sub: PathBuf,
    pub meta: fs::Metadata,
}

/// The source `rel` under `root` and everything below it (sorted, parents first),
/// without what `.dockerignore` excludes.
pub fn entries(root: &Path, rel: &str, ignore: &Ignore) -> io::Result<Vec<Entry>> {
    let abs = root.join(rel);
    let meta = fs::symlink_metadata(&abs)?;
    let mut out = vec![Entry { abs: abs.clone(), sub: PathBuf::new(), meta: meta.clone() }];
    if meta.is_dir() {
        walk_dir(&abs, rel, Path::new(""), ignore, &mut out)?;
    }
    Ok(out)
}

fn walk_dir(dir: &Path, ctx_rel: &str, sub: &Path, ignore: &Ignore, out: &mut Vec<Entry>) -> io::Result<()> {
    let mut names: Vec<_> = fs::read_dir(dir)?.map(|e| e.map(|e| e.file_name())).collect::<io::Result<_>>()?;
    names.sort();
    for name in names {
        let abs = dir.join(&name);
        let rel = if ctx_rel.is_empty() { name.to_string_lossy().into_owned() } else { format!("{ctx_rel}/{}", name.to_string_lossy()) };
        let meta = fs::symlink_metadata(&abs)?;
        let excluded = ignore.excluded(&rel);
        let sub = sub.join(&name);
        if !excluded {
            out.push(Entry { abs: abs.clone(), sub: sub.clone(), meta: meta.clone() });
        }
        // An excluded directory may still hold re-included (`!`) files.
        if meta.is_dir() && (!excluded || ignore.has_exceptions()) {
            walk_dir(&abs, &rel, &sub, ignore, out)?;
        }
    }
    Ok(())
}

/// Feeds what a COPY of these entries depends on into `h`: names, types, modes, owners,
/// link targets and file contents (not times, as Docker).
pub fn hash_entries(h: &mut Sha256, entries: &[Entry]) -> io::Result<()> {
    for e in entries {
        let m = &e.meta;
        h.update(format!("{}\0{:o}\0{}:{}\0{}\0", e.sub.display(), m.mode(), m.uid(), m.gid(), m.len()).as_bytes());
        if m.file_type().is_symlink() {
            h.update(fs::read_link(&e.abs)?.as_os_str().as_encoded_bytes());
        } else if m.is_file() {
            io::copy(&mut fs::File::open(&e.abs)?, h)?;
        }
        h.update(b"\n");
    }
    Ok(())
}

/// How staged files are owned and moded.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ownership {
    /// `--chown` (uid, gid); None keeps the source's owner.
    pub chown: Option<(u32, u32)>,
    /// `--chmod` for files and directories.
    pub chmod: Option<u32>,
}

/// Copies one entry to `dest` (a path in the staging directory).
pub fn stage_entry(e: &Entry, dest: &Path, own: Ownership) -> io::Result<()> {
    let ft = e.meta.file_type();
    if ft.is_dir() {
        if !dest.is_dir() {
            fs::create_dir(dest)?;
        }
    } else if ft.is_symlink() {
        let _ = fs::remove_file(dest);
        std::os::unix::fs::symlink(fs::read_link(&e.abs)?, dest)?;
    } else if ft.is_file() {
        let _ = fs::remove_file(dest);
        fs::copy(&e.abs, dest)?;
    } else {
        // Sockets, fifos and devices are not copied (Docker refuses most of them too).
        return Ok(());
    }
    let (uid, gid) = own.chown.unwrap_or((e.meta.uid(), e.meta.gid()));
    std::os::unix::fs::lchown(dest, Some(uid), Some(gid))?;
    if !ft.is_symlink() {
        let mode = own.chmod.unwrap_or(e.meta.mode() & 0o7777);
        fs::set_permissions(dest, fs::Permissions::from_mode(mode))?;
        set_mtime(dest, e.meta.mtime())?;
    }
    Ok(())
}

fn set_mtime(path: &Path, secs: i64) -> io::Result<()> {
    let t = nix::sys::time::TimeSpec::new(secs, 0);
    nix::sys::stat::utimensat(nix::fcntl::AT_FDCWD, path, &t, &t, nix::sys::stat::UtimensatFlags::NoFollowSymlink).map_err(io::Error::from)
}

/// An absolute path inside the image as relative components (`/a/./b/` → `a/b`).
pub fn image_rel(path: &str) -> PathBuf {
    path.split('/').filter(|p| !p.is_empty() && *p != ".").fold(PathBuf::new(), |mut acc, p| {
        if p == ".." {
            acc.pop();
        } else {
            acc.push(p);
        }
        acc
    })
}

/// Joins a possibly relative container path to the working directory.
pub fn in_workdir(workdir: Option<&str>, path: &str) -> String {
    if path.starts_with('/') {
        return path.to_string();
    }
    let base = workdir.unwrap_or("/");
    format!("{}/{path}", base.trim_end_matches('/'))
}

/// Whether `rel` is in the image (the topmost layer that has it decides; a whiteout
/// hides it) and its metadata there.
pub fn lookup(layers: &[PathBuf], rel: &Path) -> Option<fs::Metadata> {
    use std::os::unix::fs::FileTypeExt;
    for layer in layers.iter().rev() {
        if let Ok(m) = fs::symlink_metadata(layer.join(rel)) {
            return (!(m.file_type().is_char_device() && m.rdev() == 0)).then_some(m);
        }
        // An opaque ancestor would hide lower layers; rare in practice, not handled.
    }
    None
}

/// Creates the parents of `rel` in the staging dir `stage`, with the image's metadata
/// where the image has them (so `/tmp` keeps 1777), else 0755 owned by `owner`.
pub fn stage_parents(stage: &Path, layers: &[PathBuf], rel: &Path, owner: (u32, u32)) -> io::Result<()> {
    let mut cur = PathBuf::new();
    let parts: Vec<Component> = rel.components().collect();
    for c in parts.iter().take(parts.len().saturating_sub(1)) {
        cur.push(c);
        stage_dir(stage, layers, &cur, owner)?;
    }
    Ok(())
}

/// Creates directory `rel` in the staging dir like `stage_parents` does for parents.
pub fn stage_dir(stage: &Path, layers: &[PathBuf], rel: &Path, owner: (u32, u32)) -> io::Result<()> {
    let dir = stage.join(rel);
    if dir.is_dir() {
        return Ok(());
    }
    fs::create_dir(&dir)?;
    match lookup(layers, rel).filter(|m| m.is_dir()) {
        Some(m) => {
            std::os::unix::fs::lchown(&dir, Some(m.uid()), Some(m.gid()))?;
            fs::set_permissions(&dir, fs::Permissions::from_mode(m.mode() & 0o7777))?;
            set_mtime(&dir, m.mtime())
        }
        None => {
            std::os::unix::fs::lchown(&dir, Some(owner.0), Some(owner.1))?;
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o755))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockerignore_patterns() {
        let ig = Ignore::parse("# comment\n*.log\n!keep.log\nsecret/\n**/*.tmp\n/build\ndocs/*.md\n!docs/README.md\n");
        assert!(ig.excluded("a.log"));
        assert!(!ig.excluded("keep.log"));
        assert!(!ig.excluded("sub/a.log"), "`*` does not cross directories");
        assert!(ig.excluded("secret"));
        assert!(ig.excluded("secret/key"), "below an excluded directory");
        assert!(ig.excluded("x.tmp") && ig.excluded("a/b/x.tmp"));
        assert!(ig.excluded("build/out"));
        assert!(ig.excluded("docs/a.md") && !ig.excluded("docs/README.md"));
        assert!(!ig.excluded("src/main.rs"));
    }

    #[test]
    fn names() {
        assert!(match_name("*.txt", "a.txt"));
        assert!(!match_name("*.txt", "a.txt.bak"));
        assert!(match_name("f?le[0-9]", "file7"));
        assert!(!match_name("[!a]x", "ax"));
        assert!(match_name("\\*", "*"));
    }

    #[test]
    fn sources_and_paths() {
        let d = tempfile::tempdir().unwrap();
        for f in ["a.txt", "b.txt", "c.log", "dir/x.txt"] {
            let p = d.path().join(f);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, f).unwrap();
        }
        let ig = Ignore::parse("b.txt\n");
        assert_eq!(resolve_sources(d.path(), "*.txt", &ig).unwrap(), vec!["a.txt"]);
        assert_eq!(resolve_sources(d.path(), "./dir/", &ig).unwrap(), vec!["dir"]);
        assert_eq!(resolve_sources(d.path(), ".", &ig).unwrap(), vec![""]);
        assert!(resolve_sources(d.path(), "b.txt", &ig).is_err());
        assert!(resolve_sources(d.path(), "../etc/passwd", &ig).is_err());
        let all = entries(d.path(), "", &ig).unwrap();
        let subs: Vec<String> = all.iter().map(|e| e.sub.display().to_string()).collect();
        assert_eq!(subs, vec!["", "a.txt", "c.log", "dir", "dir/x.txt"]);
        assert_eq!(image_rel("/a/./b/../c/"), PathBuf::from("a/c"));
        assert_eq!(in_workdir(Some("/app"), "x"), "/app/x");
        assert_eq!(in_workdir(None, "x"), "/x");
    }
}
