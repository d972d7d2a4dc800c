//! The compose file: discovery, loading (both file generations), interpolation, merging,
//! normalization and validation into one `model::Project`.

pub mod model;

use std::path::PathBuf;

pub use model::Project;

/// How to find and read the project's files (the global CLI flags).
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `-f` files in order; `-` is stdin. Empty: discovery (`COMPOSE_FILE`, then the defaults).
    pub files: Vec<PathBuf>,
    /// `-p`.
    pub project_name: Option<String>,
    /// `--project-directory`.
    pub project_directory: Option<PathBuf>,
    /// `--env-file` (repeatable).
    pub env_files: Vec<PathBuf>,
    /// `--profile` (repeatable); empty: `COMPOSE_PROFILES`.
    pub profiles: Vec<String>,
    /// false for `config --no-interpolate`.
    pub interpolate: bool,
    /// The directory discovery starts from (the process's current dir when None).
    pub cwd: Option<PathBuf>,
    /// The process environment (std::env::vars when None); tests pass their own.
    pub environment: Option<Vec<(String, String)>>,
}

/// A load error: a message and, where the problem is in a file, its place.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ComposeError {
    pub message: String,
    pub file: Option<PathBuf>,
    pub line: Option<usize>,
    pub column: Option<usize>,
}

/// Loads, merges, interpolates, normalizes and validates the project.
pub fn load(_opts: &LoadOptions) -> Result<Project, ComposeError> {
    Err(ComposeError { message: "not implemented".into(), file: None, line: None, column: None })
}

/// A loaded project and the warnings met on the way (unset variables, ...).
pub struct LoadOutput {
    pub project: Project,
    pub warnings: Vec<String>,
}

pub fn load_with_warnings(opts: &LoadOptions) -> Result<LoadOutput, ComposeError> {
    Ok(LoadOutput { project: load(opts)?, warnings: vec![] })
}

pub fn normalize_project_name(name: &str) -> Result<String, ComposeError> {
    Ok(name.to_string())
}

pub fn to_yaml(project: &Project) -> String {
    serde_json::to_string_pretty(project).unwrap_or_default()
}

pub fn to_json(project: &Project) -> String {
    serde_json::to_string_pretty(project).unwrap_or_default()
}
