//! COPY/ADD sources: names and globs resolved inside their tree (the context, or a stage's
//! or image's files) as Docker does, what is below them, and a content hash for the cache.

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

pub use super::ignore::Ignore;
use super::tree::{self, Tree};

pub fn has_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// A source path relative to its tree's top; refused when it climbs out (as Docker's
/// classic builder does; `/x` is the context's `x`).
pub fn relative_source(src: &str) -> Result<PathBuf, String> {
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
    Ok(tree::clean(Path::new(src)))
}

/// One source of a COPY/ADD: the name it was found under (its base name names a copied
/// file) and where it really is (symlinks followed inside the tree, as Docker does).
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    pub name: PathBuf,
    pub rel: PathBuf,
}

/// The sources a COPY/ADD argument names in `tree`, without what `.dockerignore`
/// excludes. `place` says where they were looked for, for errors.
pub fn resolve_sources(tree: &Tree, src: &str, ignore: &Ignore, place: &str) -> Result<Vec<Source>, String> {
    let rel = relative_source(src)?;
    let visible = |p: &Path, dir: bool| ignore.sent(&p.to_string_lossy(), dir);
    if !has_glob(src) {
        let (real, exists) = tree.canonical(&rel, &visible).map_err(|e| format!("{src}: {e}"))?;
        if !exists {
            return Err(format!("file not found in {place}: stat {src}: file does not exist"));
        }
        return Ok(vec![Source { name: rel, rel: real }]);
    }
    let mut pattern = Vec::new();
    for part in rel.iter() {
        let text = part.to_string_lossy();
        pattern.push(super::ignore::glob(&text).map_err(|e| format!("{src}: invalid pattern: {}", e.kind()))?);
    }
    let mut found = Vec::new();
    glob_walk(tree, &visible, &Source { name: PathBuf::new(), rel: PathBuf::new() }, &pattern, &mut found).map_err(|e| format!("{src}: {e}"))?;
    if found.is_empty() {
        return Err(format!("{src}: no source files were specified (nothing matches in {place})"));
    }
    Ok(found)
}

fn glob_walk(tree: &Tree, visible: &dyn Fn(&Path, bool) -> bool, at: &Source, pattern: &[globset::GlobMatcher], out: &mut Vec<Source>) -> io::Result<()> {
    let Some((first, rest)) = pattern.split_first() else {
        out.push(at.clone());
        return Ok(());
    };
    if !tree.lstat(&at.rel).is_ok_and(|m| m.is_dir()) {
        return Ok(());
    }
    for name in tree.read_dir(&at.rel)? {
        if !first.is_match(&name) {
            continue;
        }
        let (rel, exists) = tree.canonical(&at.rel.join(&name), visible)?;
        if exists {
            glob_walk(tree, visible, &Source { name: at.name.join(&name), rel }, rest, out)?;
        }
    }
    Ok(())
}

/// One file or directory below a source, in the order it must be created.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Where it is in its tree.
    pub rel: PathBuf,
    /// Relative to the source (empty for the source itself).
    pub sub: PathBuf,
    pub meta: fs::Metadata,
}

/// The source at `rel` (a canonical path) and everything below it, sorted, parents
/// first, without what `.dockerignore` excludes. Symlinks below it are entries, never
/// followed.
pub fn entries(tree: &Tree, rel: &Path, ignore: &Ignore) -> io::Result<Vec<Entry>> {
    let meta = tree.lstat(rel)?;
    let is_dir = meta.is_dir();
    let mut out = vec![Entry { rel: rel.to_path_buf(), sub: PathBuf::new(), meta }];
    if is_dir {
        walk_dir(tree, rel, Path::new(""), ignore, &mut out)?;
    }
    Ok(out)
}

fn walk_dir(tree: &Tree, dir: &Path, sub: &Path, ignore: &Ignore, out: &mut Vec<Entry>) -> io::Result<()> {
    for name in tree.read_dir(dir)? {
        let rel = dir.join(&name);
        let meta = tree.lstat(&rel)?;
        let text = rel.to_string_lossy();
        let excluded = ignore.excluded(&text);
        let is_dir = meta.is_dir();
        let entry = Entry { rel: rel.clone(), sub: sub.join(&name), meta };
        if !excluded {
            out.push(entry.clone());
        }
        if is_dir && (!excluded || ignore.walk_into(&text)) {
            let before = out.len();
            walk_dir(tree, &rel, &entry.sub, ignore, out)?;
            // An excluded directory walked for its exceptions is copied when they found
            // something, so what they found has its parent.
            if excluded && out.len() > before {
                out.insert(before, entry);
            }
        }
    }
    Ok(())
}

/// Feeds what a COPY of these entries depends on into `h`: names, types, modes, owners,
/// link targets and file contents (not times, as Docker).
pub fn hash_entries(h: &mut Sha256, tree: &Tree, entries: &[Entry]) -> io::Result<()> {
    for e in entries {
        let m = &e.meta;
        h.update(format!("{}\0{:o}\0{}:{}\0{}\0", e.sub.display(), m.mode(), m.uid(), m.gid(), m.len()).as_bytes());
        if m.file_type().is_symlink() {
            h.update(tree.readlink(&e.rel)?.as_os_str().as_encoded_bytes());
        } else if m.is_file() {
            io::copy(&mut tree.open_file(&e.rel)?, h)?;
        }
        h.update(b"\n");
    }
    Ok(())
}

/// How copied files are owned and moded.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ownership {
    /// `--chown` (uid, gid); None keeps the source's owner.
    pub chown: Option<(u32, u32)>,
    /// `--chmod` for files and directories.
    pub chmod: Option<u32>,
}

/// An absolute path inside the image as relative components (`/a/./b/` → `a/b`).
pub fn image_rel(path: &str) -> PathBuf {
    tree::clean(Path::new(path))
}

/// Joins a possibly relative container path to the working directory.
pub fn in_workdir(workdir: Option<&str>, path: &str) -> String {
    if path.starts_with('/') {
        return path.to_string();
    }
    let base = workdir.unwrap_or("/");
    format!("{}/{path}", base.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(found: Vec<Source>) -> Vec<String> {
        found.into_iter().map(|s| s.name.display().to_string()).collect()
    }

    #[test]
    fn sources_and_paths() {
        let d = tempfile::tempdir().unwrap();
        for f in ["a.txt", "b.txt", "c.log", "dir/x.txt", "real/t.txt"] {
            let p = d.path().join(f);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, f).unwrap();
        }
        std::os::unix::fs::symlink("/real", d.path().join("abs")).unwrap();
        std::os::unix::fs::symlink("real/t.txt", d.path().join("l.txt")).unwrap();
        let t = Tree::open(d.path()).unwrap();
        let ig = Ignore::parse("b.txt\n");
        let ctx = "build context";
        assert_eq!(names(resolve_sources(&t, "*.txt", &ig, ctx).unwrap()), vec!["a.txt", "l.txt"]);
        let linked = resolve_sources(&t, "l.txt", &ig, ctx).unwrap();
        assert_eq!(linked, vec![Source { name: "l.txt".into(), rel: "real/t.txt".into() }], "a source link is followed");
        assert_eq!(resolve_sources(&t, "abs/t.txt", &ig, ctx).unwrap()[0].rel, PathBuf::from("real/t.txt"), "from the context's top");
        assert_eq!(names(resolve_sources(&t, "./dir/", &ig, ctx).unwrap()), vec!["dir"]);
        assert_eq!(names(resolve_sources(&t, ".", &ig, ctx).unwrap()), vec![""]);
        assert!(resolve_sources(&t, "b.txt", &ig, ctx).unwrap_err().contains("file not found in build context"));
        assert!(resolve_sources(&t, "../etc/passwd", &ig, ctx).unwrap_err().contains("forbidden path outside the build context"));
        let all = entries(&t, Path::new(""), &ig).unwrap();
        let subs: Vec<String> = all.iter().map(|e| e.sub.display().to_string()).collect();
        assert_eq!(subs, vec!["", "a.txt", "abs", "c.log", "dir", "dir/x.txt", "l.txt", "real", "real/t.txt"]);
        assert!(all[2].meta.file_type().is_symlink(), "links below a source are not followed");
        assert_eq!(image_rel("/a/./b/../c/"), PathBuf::from("a/c"));
        assert_eq!(in_workdir(Some("/app"), "x"), "/app/x");
        assert_eq!(in_workdir(None, "x"), "/x");
    }

    #[test]
    fn exceptions_bring_back_files_with_their_parent() {
        let d = tempfile::tempdir().unwrap();
        for f in ["secret/keep", "secret/other", "src/a"] {
            let p = d.path().join(f);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, f).unwrap();
        }
        let t = Tree::open(d.path()).unwrap();
        let ig = Ignore::parse("secret\n!secret/keep\n");
        let subs: Vec<String> = entries(&t, Path::new(""), &ig).unwrap().iter().map(|e| e.sub.display().to_string()).collect();
        assert_eq!(subs, vec!["", "secret", "secret/keep", "src", "src/a"]);
        assert!(resolve_sources(&t, "secret/other", &ig, "build context").is_err());
    }
}
