//! Finding the project's files, directory, environment and name from the CLI options,
//! `COMPOSE_*` variables and the default file names (searched in the cwd and its parents).

use std::io::Read;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;

use super::env::read_dotenv;
use super::error::{ComposeError, Loc, Result};
use super::LoadOptions;

const DEFAULT_FILES: [&str; 4] = ["compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml"];

/// A file to load: its path (`-` for stdin) and text.
#[derive(Debug, Clone)]
pub struct InputFile {
    pub path: PathBuf,
    pub text: String,
}

/// The variables interpolation sees: `.env` values under the process environment.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    pub vars: IndexMap<String, String>,
}

impl Environment {
    pub fn get(&self, k: &str) -> Option<String> {
        self.vars.get(k).cloned()
    }
}

pub struct Discovered {
    pub files: Vec<InputFile>,
    pub project_dir: PathBuf,
    pub env: Environment,
}

pub fn discover(opts: &LoadOptions) -> Result<Discovered> {
    let cwd = match &opts.cwd {
        Some(c) => c.clone(),
        None => std::env::current_dir().map_err(|e| ComposeError::msg(format!("cannot read the current directory: {e}")))?,
    };
    let process: Vec<(String, String)> = opts.environment.clone().unwrap_or_else(|| std::env::vars().collect());
    let penv = |k: &str| process.iter().rev().find(|(n, _)| n == k).map(|(_, v)| v.clone());

    let explicit_dir = opts.project_directory.as_ref().map(|d| absolute(&cwd, d));
    // COMPOSE_FILE may come from a .env in the project directory (or cwd) too.
    let early_env_dir = explicit_dir.clone().unwrap_or_else(|| cwd.clone());
    let early_dotenv = read_env_files(opts, &cwd, &early_env_dir, &penv).unwrap_or_default();
    let lookup_early = |k: &str| penv(k).or_else(|| early_dotenv.iter().rev().find(|(n, _)| n == k).map(|(_, v)| v.clone()));

    let paths: Vec<PathBuf> = if !opts.files.is_empty() {
        opts.files.iter().map(|f| if f.as_os_str() == "-" { f.clone() } else { absolute(&cwd, f) }).collect()
    } else if let Some(cf) = lookup_early("COMPOSE_FILE").filter(|s| !s.is_empty()) {
        let sep = lookup_early("COMPOSE_PATH_SEPARATOR").unwrap_or_else(|| ":".into());
        let base = explicit_dir.clone().unwrap_or_else(|| cwd.clone());
        cf.split(sep.as_str()).filter(|s| !s.is_empty()).map(|f| absolute(&base, Path::new(f))).collect()
    } else {
        find_default(explicit_dir.as_deref().unwrap_or(&cwd))?
    };

    let mut files = Vec::new();
    for p in &paths {
        let text = if p.as_os_str() == "-" {
            let bytes = read_capped(std::io::stdin().lock(), MAX_COMPOSE_FILE)
                .map_err(|e| ComposeError::msg(format!("cannot read the compose file from stdin: {e}")))?;
            decode(p, bytes)?
        } else {
            read_text(p, MAX_COMPOSE_FILE, |e| ComposeError::in_file(p, format!("cannot read the compose file: {e}")))?
        };
        files.push(InputFile { path: p.clone(), text });
    }

    let project_dir = explicit_dir.unwrap_or_else(|| match paths.first() {
        Some(p) if p.as_os_str() != "-" => p.parent().map(Path::to_path_buf).unwrap_or_else(|| cwd.clone()),
        _ => cwd.clone(),
    });
    let dotenv = read_env_files(opts, &cwd, &project_dir, &penv)?;
    let mut vars: IndexMap<String, String> = dotenv.into_iter().collect();
    // The process environment wins over .env files.
    for (k, v) in &process {
        vars.insert(k.clone(), v.clone());
    }
    Ok(Discovered { files, project_dir, env: Environment { vars } })
}

/// `--env-file`s (relative to the cwd), else `<project_dir>/.env` when it exists.
fn read_env_files(opts: &LoadOptions, cwd: &Path, project_dir: &Path, penv: &dyn Fn(&str) -> Option<String>) -> Result<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = Vec::new();
    let explicit = !opts.env_files.is_empty();
    let paths: Vec<PathBuf> =
        if explicit { opts.env_files.iter().map(|p| absolute(cwd, p)).collect() } else { vec![project_dir.join(".env")] };
    for p in paths {
        let lookup = |k: &str| penv(k).or_else(|| out.iter().rev().find(|(n, _)| n == k).map(|(_, v)| v.clone()));
        match read_dotenv(&p, &lookup)? {
            Some(vars) => out.extend(vars),
            None if !explicit => continue,
            None => return Err(ComposeError::in_file(&p, "cannot read the env file: it does not exist")),
        }
    }
    Ok(out)
}

/// The most a compose file (or one it includes or extends, or a secret or config file
/// read for its digest) may hold: far above any real project, far below what would
/// exhaust memory.
pub const MAX_COMPOSE_FILE: u64 = 32 << 20;
/// The most an env file may hold (a process environment is limited to a few MiB anyway).
pub const MAX_ENV_FILE: u64 = 4 << 20;

/// Opens a file the project names, if it is a regular file: a FIFO would block, a device
/// (`/dev/zero`) never end, a directory is no text. Checked before opening (no device is
/// opened) and again on the open file, which is opened non-blocking: a FIFO swapped in
/// between cannot hang the open.
pub fn open_regular(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let not_regular = |t: std::fs::FileType| {
        use std::os::unix::fs::FileTypeExt;
        let kind = if t.is_dir() {
            "a directory"
        } else if t.is_fifo() {
            "a FIFO"
        } else if t.is_char_device() || t.is_block_device() {
            "a device"
        } else if t.is_socket() {
            "a socket"
        } else {
            "a special file"
        };
        std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("it is {kind}, and only regular files are read"))
    };
    let t = std::fs::metadata(path)?.file_type();
    if !t.is_file() {
        return Err(not_regular(t));
    }
    let f = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY).open(path)?;
    let t = f.metadata()?.file_type();
    if !t.is_file() {
        return Err(not_regular(t));
    }
    Ok(f)
}

/// At most `limit` bytes of a regular file; a longer file is an error.
pub fn read_bytes(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    read_capped(open_regular(path)?, limit)
}

fn read_capped(r: impl Read, limit: u64) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    r.take(limit + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > limit {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, format!("it is larger than {} MiB, the most hoist reads", limit >> 20)));
    }
    Ok(buf)
}

/// A regular file of at most `limit` bytes as UTF-8 text; `io_err` words an error of
/// opening or reading it, bad UTF-8 is an error at its line.
pub fn read_text(path: &Path, limit: u64, io_err: impl FnOnce(std::io::Error) -> ComposeError) -> Result<String> {
    decode(path, read_bytes(path, limit).map_err(io_err)?)
}

/// `bytes` read from `path` as text; invalid UTF-8 is an error at its line and column.
pub fn decode(path: &Path, bytes: Vec<u8>) -> Result<String> {
    String::from_utf8(bytes).map_err(|e| {
        let bytes = e.as_bytes();
        let good = &bytes[..e.utf8_error().valid_up_to()];
        let start = good.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        let end = bytes[start..].iter().position(|b| *b == b'\n').map_or(bytes.len(), |i| start + i);
        let loc = Loc {
            file: path.to_path_buf(),
            line: good.iter().filter(|b| **b == b'\n').count() + 1,
            col: String::from_utf8_lossy(&good[start..]).chars().count() + 1,
            source_line: Some(String::from_utf8_lossy(&bytes[start..end]).into_owned()),
        };
        ComposeError::at(&loc, "invalid UTF-8: the file must be UTF-8 text")
    })
}

/// The first default file name in `dir` or its parents, plus its `.override` twin.
fn find_default(dir: &Path) -> Result<Vec<PathBuf>> {
    for d in dir.ancestors() {
        for name in DEFAULT_FILES {
            let p = d.join(name);
            if p.is_file() {
                let mut files = vec![p.clone()];
                let stem = name.rsplit_once('.').map(|(s, _)| s).unwrap_or(name);
                for ext in ["yml", "yaml"] {
                    let o = d.join(format!("{stem}.override.{ext}"));
                    if o.is_file() {
                        files.push(o);
                        break;
                    }
                }
                return Ok(files);
            }
        }
    }
    Err(ComposeError::msg(format!(
        "{NO_CONFIG_FILE}: not found (looked for {} in {} and its parents)",
        DEFAULT_FILES.join(", "),
        dir.display()
    )))
}

/// How the error for a folder without a compose file begins (Compose's words).
pub const NO_CONFIG_FILE: &str = "no configuration file provided";

pub fn absolute(base: &Path, p: &Path) -> PathBuf {
    clean(&if p.is_absolute() { p.to_path_buf() } else { base.join(p) })
}

/// Removes `.` and resolves `..` lexically (the path need not exist).
pub fn clean(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            c => out.push(c.as_os_str()),
        }
    }
    out
}

fn valid_name(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// A name given explicitly (`-p`, `COMPOSE_PROJECT_NAME`, `name:`): lowercased, then it
/// must be `[a-z0-9][a-z0-9_-]*`.
pub fn normalize_explicit(name: &str) -> Result<String> {
    let lower = name.to_lowercase();
    if valid_name(&lower) {
        Ok(lower)
    } else {
        Err(ComposeError::msg(format!(
            "invalid project name {name:?}: must contain only lowercase letters, digits, dashes and underscores, and start with a letter or digit"
        )))
    }
}

/// A name derived from a directory: invalid characters are dropped.
pub fn name_from_dir(dir: &Path) -> Result<String> {
    let base = dir.file_name().map(|s| s.to_string_lossy().to_lowercase()).unwrap_or_default();
    let kept: String = base.chars().filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-').collect();
    let trimmed = kept.trim_start_matches(['_', '-']).to_string();
    if trimmed.is_empty() {
        return Err(ComposeError::msg(format!(
            "project name derived from {} is empty: use -p or a top-level `name:`",
            dir.display()
        )));
    }
    Ok(trimmed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(normalize_explicit("MyApp_1").unwrap(), "myapp_1");
        assert!(normalize_explicit("-x").is_err());
        assert!(normalize_explicit("a b").is_err());
        assert!(normalize_explicit("").is_err());
        assert_eq!(name_from_dir(Path::new("/x/My.App")).unwrap(), "myapp");
        assert_eq!(clean(Path::new("/a/./b/../c")), PathBuf::from("/a/c"));
    }

    #[test]
    fn discovery_in_parents_with_override_and_dotenv() {
        let t = tempfile::tempdir().unwrap();
        let sub = t.path().join("a/b");
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(t.path().join("docker-compose.yml"), "services: {}\n").unwrap();
        std::fs::write(t.path().join("docker-compose.override.yaml"), "services: {}\n").unwrap();
        std::fs::write(t.path().join(".env"), "X=dot\nY=dot\n").unwrap();
        let opts = LoadOptions {
            cwd: Some(sub),
            environment: Some(vec![("Y".into(), "proc".into())]),
            ..Default::default()
        };
        let d = discover(&opts).unwrap();
        assert_eq!(d.files.len(), 2);
        assert!(d.files[1].path.ends_with("docker-compose.override.yaml"));
        assert_eq!(d.project_dir, t.path());
        assert_eq!(d.env.get("X").as_deref(), Some("dot"));
        assert_eq!(d.env.get("Y").as_deref(), Some("proc"));
    }
}
