//! COPY, ADD and WORKDIR: sources resolved inside their tree (the context, a stage, an
//! image) and written through a writable overlay of the stage, so symlinks resolve inside
//! the image as in Docker and nothing reaches the host; Docker's destination rules
//! (against WORKDIR, trailing `/`), `--chown`/`--chmod`, local tars unpacked by ADD.

use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::super::image::unpack;
use super::archive;
use super::cache;
use super::context::{self, Entry, Ignore, Ownership, Source};
use super::dockerfile::{Instruction, Kind};
use super::scratch::{Draft, View};
use super::stage::{Builder, StageState};
use super::tree::{self, Tree};
use super::vars;

/// Where COPY/ADD read from: the context, or a read-only view of a stage or image.
struct SourceRoot {
    files: Files,
    /// What identifies the source for the cache (`context`, a stage's chain, an image id).
    id: String,
    /// Where sources are looked for, as errors say it.
    place: String,
    ignore: Ignore,
    from_image: bool,
}

enum Files {
    Context(Tree),
    View(View),
}

impl SourceRoot {
    fn tree(&self) -> &Tree {
        match &self.files {
            Files::Context(t) => t,
            Files::View(v) => &v.tree,
        }
    }
}

/// Every path is visible (no .dockerignore applies).
fn all(_: &Path, _: bool) -> bool {
    true
}

impl Builder {
    pub(super) fn copy_step(&mut self, st: &mut StageState, inst: &Instruction) -> Result<(), String> {
        let vars = st.vars();
        let esc = self.df.escape;
        let name = inst.kind.name();
        let words = match inst.json_args() {
            Some(a) => a.iter().map(|w| vars::expand_word(w, &vars, esc)).collect::<Result<Vec<_>, _>>()?,
            None => vars::expand_words(&inst.args, &vars, esc)?,
        };
        let Some((dest, srcs)) = words.split_last().filter(|(_, s)| !s.is_empty()) else {
            return Err(format!("{name} requires at least two arguments, but got {}", words.len()));
        };
        let flag = |f: &str| inst.flag(f).map(|v| vars::expand_word(v, &vars, esc)).transpose();
        let from = flag("from")?;
        if inst.kind == Kind::Add && inst.flag("checksum").is_some() {
            return Err("ADD --checksum is only for remote URLs, which the built-in builder does not fetch".into());
        }
        if let Some(url) = srcs.iter().find(|s| is_remote(s)) {
            return Err(match inst.kind {
                Kind::Add => format!("ADD {url}: remote URLs are not supported by the built-in builder; fetch it in a RUN step (wget/curl) or download it into the context"),
                _ => format!("COPY {url}: COPY cannot fetch URLs (source can't be a URL for COPY)"),
            });
        }
        let draft = Draft::open(&self.scratch, &self.layer_dirs(st))?;
        let image = draft.tree();
        let chown = flag("chown")?.filter(|c| !c.is_empty()).map(|c| resolve_owner(&c, image)).transpose()?;
        let chmod = flag("chmod")?.map(|m| u32::from_str_radix(&m, 8).map_err(|_| format!("invalid --chmod={m}: must be octal"))).transpose()?;
        let source = self.source_root(from.as_deref())?;
        let mut sources: Vec<(Source, Vec<Entry>)> = Vec::new();
        let mut h = Sha256::new();
        h.update(source.id.as_bytes());
        for s in srcs {
            for found in context::resolve_sources(source.tree(), s, &source.ignore, &source.place)? {
                let reading = |e: io::Error| format!("reading {}: {e}", found.name.display());
                let entries = context::entries(source.tree(), &found.rel, &source.ignore).map_err(reading)?;
                h.update(format!("\0{}\0{}\0", found.name.display(), found.rel.display()).as_bytes());
                context::hash_entries(&mut h, source.tree(), &entries).map_err(reading)?;
                sources.push((found, entries));
            }
        }
        let dest_abs = context::in_workdir(st.config.working_dir.as_deref(), dest);
        let dest_rel = context::image_rel(&dest_abs);
        let says_dir = dest.ends_with('/') || dest == "." || dest.ends_with("/.");
        if sources.len() > 1 && !says_dir {
            return Err(format!("when using {name} with more than one source file, the destination must be a directory and end with a /"));
        }
        let existing = image.canonical(&dest_rel, &all).map_err(|e| format!("{dest}: {e}"))?;
        let dest_is_dir = says_dir || existing.1 && image.lstat(&existing.0).is_ok_and(|m| m.is_dir());
        // Files from the context belong to root unless --chown; from an image they keep their owner.
        let own = Ownership { chown: chown.or((!source.from_image).then_some((0, 0))), chmod };
        let key_text = serde_json::json!([words, chown, chmod, dest_abs]).to_string();
        let key = cache::key(&[name, &st.chain, &key_text, &hex::encode(h.finalize())]);
        if let Some(hit) = self.cached(&key) {
            st.add_layer(hit.layer.map(|l| (l, hit.size)), key);
            return Ok(());
        }
        let target = Target { image, dest: &dest_rel, dest_is_dir, own, unpack: inst.kind == Kind::Add };
        for (found, entries) in &sources {
            let warnings = target.place(source.tree(), found, entries).map_err(|e| format!("{name} {}: {e}", found.name.display()))?;
            for w in warnings {
                self.say(format!("[warning] {w}"));
            }
        }
        drop(source);
        let layer = draft.commit(&self.images)?;
        self.remember(&key, &layer);
        st.add_layer(layer, key);
        Ok(())
    }

    fn source_root(&self, from: Option<&str>) -> Result<SourceRoot, String> {
        let Some(from) = from else {
            let tree = Tree::open(&self.spec.context).map_err(|e| format!("opening the build context {}: {e}", self.spec.context.display()))?;
            let place = "build context or excluded by .dockerignore".into();
            return Ok(SourceRoot { files: Files::Context(tree), id: "context".into(), place, ignore: self.ignore.clone(), from_image: false });
        };
        let (layers, id, place) = match self.df.stage_index(from) {
            Some(j) => {
                let st = self.done[j].as_ref().ok_or_else(|| format!("--from={from}: that stage was not built"))?;
                (self.layer_dirs(st), st.chain.clone(), format!("stage {from}"))
            }
            None => {
                let image = self.images.resolve(from).map_err(|e| e.to_string())?.ok_or_else(|| format!("--from={from}: no such stage or image"))?;
                (image.layers, image.id, format!("image {from}"))
            }
        };
        let view = View::open(&self.scratch, &layers)?;
        Ok(SourceRoot { files: Files::View(view), id, place, ignore: Ignore::default(), from_image: true })
    }

    pub(super) fn workdir_step(&mut self, st: &mut StageState, inst: &Instruction) -> Result<(), String> {
        let path = vars::expand_word(&inst.args, &st.vars(), self.df.escape)?;
        let rel = context::image_rel(&context::in_workdir(st.config.working_dir.as_deref(), &path));
        st.config.working_dir = Some(format!("/{}", rel.display()));
        let key = cache::key(&["WORKDIR", &st.chain, &rel.display().to_string()]);
        if rel.as_os_str().is_empty() {
            st.add_layer(None, key);
            return Ok(());
        }
        if let Some(hit) = self.cached(&key) {
            st.add_layer(hit.layer.map(|l| (l, hit.size)), key);
            return Ok(());
        }
        // As Docker: a missing working directory is created (owned by root), following
        // the image's symlinks inside the image.
        let draft = Draft::open(&self.scratch, &self.layer_dirs(st))?;
        let creating = |e: io::Error| format!("creating {}: {e}", rel.display());
        let (real, _) = draft.tree().canonical(&rel, &all).map_err(creating)?;
        draft.tree().make_dirs(&real, (0, 0)).map_err(creating)?;
        let layer = draft.commit(&self.images)?;
        self.remember(&key, &layer);
        st.add_layer(layer, key);
        Ok(())
    }
}

fn is_remote(src: &str) -> bool {
    ["http://", "https://", "git@", "git://"].iter().any(|p| src.starts_with(p))
}

/// Where sources land in the stage's writable tree.
struct Target<'a> {
    image: &'a Tree,
    /// Destination relative to the image root, as written (symlinks not yet followed).
    dest: &'a Path,
    dest_is_dir: bool,
    own: Ownership,
    /// ADD: local tar archives are unpacked.
    unpack: bool,
}

impl Target<'_> {
    fn new_owner(&self) -> (u32, u32) {
        self.own.chown.unwrap_or((0, 0))
    }

    /// The destination directory, symlinks followed inside the image and missing parts
    /// created. Resolved anew for each source: an earlier one may have changed the way.
    fn dest_dir(&self) -> io::Result<std::path::PathBuf> {
        let (dir, _) = self.image.canonical(self.dest, &all)?;
        self.image.make_dirs(&dir, self.new_owner())?;
        Ok(dir)
    }

    /// Copies one source; returns warnings. As Docker: the destination given follows
    /// the image's symlinks; what is created below it replaces what is there.
    fn place(&self, src: &Tree, found: &Source, entries: &[Entry]) -> io::Result<Vec<String>> {
        let Some(first) = entries.first() else { return Ok(vec![]) };
        if first.meta.is_dir() {
            // A directory's contents are copied, not the directory itself.
            let dir = self.dest_dir()?;
            for e in &entries[1..] {
                self.copy(src, e, &dir.join(&e.sub))?;
            }
            return Ok(vec![]);
        }
        if self.unpack && first.meta.is_file() && let Some(reader) = archive::reader(src.open_file(&first.rel)?).map_err(io::Error::other)? {
            let dir = self.image.subtree(&self.dest_dir()?)?;
            let skipped = unpack::unpack(reader, &dir, unpack::As::Add).map_err(|e| io::Error::new(e.kind(), format!("unpacking the archive: {e}")))?;
            return Ok(skipped.iter().map(|p| format!("{}: device nodes and FIFOs in an ADD archive are skipped", p.display())).collect());
        }
        let target = if self.dest_is_dir {
            self.dest_dir()?.join(found.name.file_name().unwrap_or_default())
        } else {
            let (path, _) = self.image.canonical(self.dest, &all)?;
            self.image.make_dirs(path.parent().unwrap_or(Path::new("")), self.new_owner())?;
            path
        };
        if target.as_os_str().is_empty() {
            return Err(io::Error::other("cannot copy a file onto /"));
        }
        self.copy(src, first, &target)?;
        Ok(vec![])
    }

    fn copy(&self, src: &Tree, e: &Entry, target: &Path) -> io::Result<()> {
        let owner = self.own.chown.unwrap_or((e.meta.uid(), e.meta.gid()));
        let mode = self.own.chmod.unwrap_or(e.meta.mode());
        let ft = e.meta.file_type();
        if ft.is_dir() {
            tree::set_meta(&self.image.make_dir(target)?, owner, mode, Some(e.meta.mtime()))
        } else if ft.is_file() {
            let mut out = self.image.create_file(target)?;
            io::copy(&mut src.open_file(&e.rel)?, &mut out)?;
            tree::set_meta(&out, owner, mode, Some(e.meta.mtime()))
        } else if ft.is_symlink() {
            self.image.symlink(target, &src.readlink(&e.rel)?)?;
            self.image.lchown(target, owner)
        } else {
            // Sockets, fifos and devices are not copied (Docker refuses most of them too).
            Ok(())
        }
    }
}

/// `--chown=user[:group]`: numbers, or names looked up in the image's /etc/passwd and
/// /etc/group. A user alone also gives the group (its primary group for a name).
fn resolve_owner(spec: &str, image: &Tree) -> Result<(u32, u32), String> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let (uid, primary) = match user.parse::<u32>() {
        Ok(n) => (n, n),
        Err(_) => {
            let f = find_entry(image, "etc/passwd", user).ok_or_else(|| format!("--chown: unable to find user {user}"))?;
            (parse_id(f.get(2), user)?, parse_id(f.get(3), user)?)
        }
    };
    let gid = match group {
        None => primary,
        Some(g) => match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => parse_id(find_entry(image, "etc/group", g).ok_or_else(|| format!("--chown: unable to find group {g}"))?.get(2), g)?,
        },
    };
    Ok((uid, gid))
}

fn parse_id(field: Option<&String>, name: &str) -> Result<u32, String> {
    field.and_then(|f| f.parse().ok()).ok_or_else(|| format!("--chown: bad entry for {name}"))
}

/// The `:`-separated fields of the line for `name` in an image file like /etc/passwd
/// (read inside the image; at most 16 MiB of it).
fn find_entry(image: &Tree, file: &str, name: &str) -> Option<Vec<String>> {
    let (path, _) = image.canonical(Path::new(file), &all).ok()?;
    let text = io::read_to_string(image.open_file(&path).ok()?.take(16 << 20)).ok()?;
    text.lines().map(|l| l.split(':').map(String::from).collect::<Vec<_>>()).find(|f| f.first().map(String::as_str) == Some(name))
}
