//! COPY, ADD and WORKDIR: files staged into a fresh directory laid out like the image
//! (destination against WORKDIR, Docker's trailing-`/` rules, `--chown`/`--chmod`,
//! local tar archives unpacked by ADD), then committed as one layer.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::cache;
use super::context::{self, Entry, Ignore, Ownership};
use super::dockerfile::{Instruction, Kind};
use super::stage::{Builder, StageState};
use super::steps::{self, Staging, View};
use super::vars;

/// Where COPY/ADD read from: the context, or a read-only view of a stage or image.
struct SourceRoot {
    root: PathBuf,
    /// What identifies the source for the cache (`context`, a stage's chain, an image id).
    id: String,
    ignore: Ignore,
    from_image: bool,
    _view: Option<View>,
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
        let layers = self.layer_dirs(st);
        let chown = flag("chown")?.filter(|c| !c.is_empty()).map(|c| resolve_owner(&c, &layers)).transpose()?;
        let chmod = flag("chmod")?.map(|m| u32::from_str_radix(&m, 8).map_err(|_| format!("invalid --chmod={m}: must be octal"))).transpose()?;
        let source = self.source_root(from.as_deref())?;
        let mut sources: Vec<(String, Vec<Entry>)> = Vec::new();
        let mut h = Sha256::new();
        h.update(source.id.as_bytes());
        for s in srcs {
            for rel in context::resolve_sources(&source.root, s, &source.ignore)? {
                let entries = context::entries(&source.root, &rel, &source.ignore).map_err(|e| format!("reading {rel}: {e}"))?;
                h.update(format!("\0{rel}\0").as_bytes());
                context::hash_entries(&mut h, &entries).map_err(|e| format!("reading {rel}: {e}"))?;
                sources.push((rel, entries));
            }
        }
        let dest_abs = context::in_workdir(st.config.working_dir.as_deref(), dest);
        let dest_rel = context::image_rel(&dest_abs);
        let says_dir = dest.ends_with('/') || dest == "." || dest.ends_with("/.");
        if sources.len() > 1 && !says_dir {
            return Err(format!("when using {name} with more than one source file, the destination must be a directory and end with a /"));
        }
        let dest_is_dir = says_dir || context::lookup(&layers, &dest_rel).is_some_and(|m| m.is_dir());
        // Files from the context belong to root unless --chown; from an image they keep their owner.
        let own = Ownership { chown: chown.or((!source.from_image).then_some((0, 0))), chmod };
        let key_text = serde_json::json!([words, chown, chmod, dest_abs]).to_string();
        let key = cache::key(&[name, &st.chain, &key_text, &hex::encode(h.finalize())]);
        if let Some(hit) = self.cached(&key) {
            st.add_layer(hit.layer.map(|l| (l, hit.size)), key);
            return Ok(());
        }
        let staging = Staging::new(&self.images)?;
        let target = Target { stage: &staging.0, layers: &layers, dest: &dest_rel, dest_is_dir, own, unpack: inst.kind == Kind::Add };
        for (rel, entries) in &sources {
            target.place(rel, entries).map_err(|e| format!("{name} {rel}: {e}"))?;
        }
        drop(source);
        let layer = if steps::is_empty_dir(&staging.0) { None } else { Some(steps::commit_dir(&self.images, &staging.0)?) };
        self.remember(&key, &layer);
        st.add_layer(layer, key);
        Ok(())
    }

    fn source_root(&self, from: Option<&str>) -> Result<SourceRoot, String> {
        let Some(from) = from else {
            return Ok(SourceRoot { root: self.spec.context.clone(), id: "context".into(), ignore: self.ignore.clone(), from_image: false, _view: None });
        };
        let (layers, id) = match self.df.stage_index(from) {
            Some(j) => {
                let st = self.done[j].as_ref().ok_or_else(|| format!("--from={from}: that stage was not built"))?;
                (self.layer_dirs(st), st.chain.clone())
            }
            None => {
                let image = self.images.resolve(from).map_err(|e| e.to_string())?.ok_or_else(|| format!("--from={from}: no such stage or image"))?;
                (image.layers, image.id)
            }
        };
        let view = View::open(&self.images, &layers)?;
        Ok(SourceRoot { root: view.root.clone(), id, ignore: Ignore::default(), from_image: true, _view: Some(view) })
    }

    pub(super) fn workdir_step(&mut self, st: &mut StageState, inst: &Instruction) -> Result<(), String> {
        let path = vars::expand_word(&inst.args, &st.vars(), self.df.escape)?;
        let rel = context::image_rel(&context::in_workdir(st.config.working_dir.as_deref(), &path));
        st.config.working_dir = Some(format!("/{}", rel.display()));
        let key = cache::key(&["WORKDIR", &st.chain, &rel.display().to_string()]);
        let layers = self.layer_dirs(st);
        let exists = context::lookup(&layers, &rel).is_some_and(|m| m.is_dir() || m.file_type().is_symlink());
        if rel.as_os_str().is_empty() || exists {
            st.add_layer(None, key);
            return Ok(());
        }
        // As Docker: a missing working directory is created (owned by root).
        if let Some(hit) = self.cached(&key) {
            st.add_layer(hit.layer.map(|l| (l, hit.size)), key);
            return Ok(());
        }
        let staging = Staging::new(&self.images)?;
        let make = context::stage_parents(&staging.0, &layers, &rel, (0, 0)).and_then(|()| context::stage_dir(&staging.0, &layers, &rel, (0, 0)));
        make.map_err(|e| format!("creating {}: {e}", rel.display()))?;
        let layer = Some(steps::commit_dir(&self.images, &staging.0)?);
        self.remember(&key, &layer);
        st.add_layer(layer, key);
        Ok(())
    }
}

fn is_remote(src: &str) -> bool {
    ["http://", "https://", "git@", "git://"].iter().any(|p| src.starts_with(p))
}

/// Where sources land in the staging directory.
struct Target<'a> {
    stage: &'a Path,
    layers: &'a [PathBuf],
    /// Destination relative to the image root.
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

    fn make_dest_dir(&self) -> std::io::Result<()> {
        context::stage_parents(self.stage, self.layers, self.dest, self.new_owner())?;
        context::stage_dir(self.stage, self.layers, self.dest, self.new_owner())
    }

    fn place(&self, rel: &str, entries: &[Entry]) -> Result<(), String> {
        let Some(first) = entries.first() else { return Ok(()) };
        let io = |e: std::io::Error| e.to_string();
        if first.meta.is_dir() {
            // A directory's contents are copied, not the directory itself.
            self.make_dest_dir().map_err(io)?;
            for e in &entries[1..] {
                context::stage_entry(e, &self.stage.join(self.dest).join(&e.sub), self.own).map_err(io)?;
            }
            return Ok(());
        }
        if self.unpack && first.meta.is_file() && let Some(reader) = tar_reader(&first.abs)? {
            self.make_dest_dir().map_err(io)?;
            let mut archive = tar::Archive::new(reader);
            archive.set_preserve_permissions(true);
            archive.set_preserve_ownerships(true);
            archive.set_overwrite(true);
            return archive.unpack(self.stage.join(self.dest)).map_err(|e| format!("unpacking the archive: {e}"));
        }
        let target = if self.dest_is_dir {
            self.make_dest_dir().map_err(io)?;
            self.dest.join(Path::new(rel).file_name().unwrap_or_default())
        } else {
            self.dest.to_path_buf()
        };
        if target.as_os_str().is_empty() {
            return Err("cannot copy a file onto /".into());
        }
        context::stage_parents(self.stage, self.layers, &target, self.new_owner()).map_err(io)?;
        context::stage_entry(first, &self.stage.join(&target), self.own).map_err(io)
    }
}

/// A reader of the tar archive in `path` (plain, gzip or zstd), or None when the file
/// is not one (ADD then copies it as is).
fn tar_reader(path: &Path) -> Result<Option<Box<dyn Read>>, String> {
    let open = || -> std::io::Result<Box<dyn Read>> {
        let mut f = fs::File::open(path)?;
        let mut magic = [0u8; 6];
        let n = f.read(&mut magic)?;
        let f = fs::File::open(path)?;
        Ok(match &magic[..n] {
            [0x1f, 0x8b, ..] => Box::new(flate2::read::GzDecoder::new(f)),
            [0x28, 0xb5, 0x2f, 0xfd, ..] => Box::new(zstd::stream::read::Decoder::new(f)?),
            [b'B', b'Z', b'h', ..] | [0xfd, b'7', b'z', b'X', b'Z', 0] => {
                return Err(std::io::Error::other("bzip2 and xz archives are not supported by the built-in builder; use a plain or gzip tar"));
            }
            _ => Box::new(f),
        })
    };
    let mut head = [0u8; 512];
    let is_tar = open().and_then(|mut r| r.read_exact(&mut head)).map(|()| &head[257..262] == b"ustar");
    match is_tar {
        Ok(true) => open().map(Some).map_err(|e| format!("reading {}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::Other => Err(e.to_string()),
        _ => Ok(None),
    }
}

/// `--chown=user[:group]`: numbers, or names looked up in the image's /etc/passwd and
/// /etc/group. A user alone also gives the group (its primary group for a name).
fn resolve_owner(spec: &str, layers: &[PathBuf]) -> Result<(u32, u32), String> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let (uid, primary) = match user.parse::<u32>() {
        Ok(n) => (n, n),
        Err(_) => {
            let f = find_entry(layers, "etc/passwd", user).ok_or_else(|| format!("--chown: unable to find user {user}"))?;
            (parse_id(f.get(2), user)?, parse_id(f.get(3), user)?)
        }
    };
    let gid = match group {
        None => primary,
        Some(g) => match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => parse_id(find_entry(layers, "etc/group", g).ok_or_else(|| format!("--chown: unable to find group {g}"))?.get(2), g)?,
        },
    };
    Ok((uid, gid))
}

fn parse_id(field: Option<&String>, name: &str) -> Result<u32, String> {
    field.and_then(|f| f.parse().ok()).ok_or_else(|| format!("--chown: bad entry for {name}"))
}

/// The `:`-separated fields of the line for `name` in an image file like /etc/passwd.
fn find_entry(layers: &[PathBuf], file: &str, name: &str) -> Option<Vec<String>> {
    let layer = layers.iter().rev().find(|l| l.join(file).is_file())?;
    let text = fs::read_to_string(layer.join(file)).ok()?;
    text.lines().map(|l| l.split(':').map(String::from).collect::<Vec<_>>()).find(|f| f.first().map(String::as_str) == Some(name))
}
