//! The loader's error type: a message and, when the problem is in a file, its place
//! (file:line:col) with the offending source line and a caret under the column.

use std::fmt;
use std::path::{Path, PathBuf};

/// A load error: a message and, where the problem is in a file, its place.
#[derive(Debug, Clone, PartialEq)]
pub struct ComposeError {
    pub message: String,
    pub file: Option<PathBuf>,
    /// 1-based.
    pub line: Option<usize>,
    /// 1-based.
    pub column: Option<usize>,
    /// The text of `line`, shown under the message with a caret.
    pub source_line: Option<String>,
}

impl std::error::Error for ComposeError {}

impl ComposeError {
    /// An error with no place in a file.
    pub fn msg(message: impl Into<String>) -> Self {
        ComposeError { message: message.into(), file: None, line: None, column: None, source_line: None }
    }

    /// An error naming a file but no position in it.
    pub fn in_file(file: &Path, message: impl Into<String>) -> Self {
        ComposeError { file: Some(file.to_path_buf()), ..Self::msg(message) }
    }

    /// An error at `loc`.
    pub fn at(loc: &Loc, message: impl Into<String>) -> Self {
        let mut e = Self::msg(message);
        e.file = Some(loc.file.clone());
        if loc.line > 0 {
            e.line = Some(loc.line);
            e.column = Some(loc.col);
            e.source_line = loc.source_line.clone();
        }
        e
    }
}

impl fmt::Display for ComposeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Files under the current directory are shown relative to it, as users typed them.
        let cwd = std::env::current_dir().unwrap_or_default();
        let shown = self.file.as_deref().map(|p| p.strip_prefix(&cwd).ok().filter(|r| !r.as_os_str().is_empty()).unwrap_or(p));
        match (shown, self.line, self.column) {
            (Some(file), Some(l), Some(c)) => write!(f, "{}:{l}:{c}: {}", file.display(), self.message)?,
            (Some(file), _, _) => write!(f, "{}: {}", file.display(), self.message)?,
            _ => write!(f, "{}", self.message)?,
        }
        if let (Some(src), Some(c)) = (&self.source_line, self.column) {
            // Tabs are kept in the caret line so the caret lines up under the column.
            let pad: String = src.chars().take(c.saturating_sub(1)).map(|ch| if ch == '\t' { '\t' } else { ' ' }).collect();
            write!(f, "\n  {src}\n  {pad}^")?;
        }
        Ok(())
    }
}

/// A place in a compose file (line and column 1-based; line 0 = unknown).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Loc {
    pub file: PathBuf,
    pub line: usize,
    pub col: usize,
    pub source_line: Option<String>,
}

pub type Result<T> = std::result::Result<T, ComposeError>;
