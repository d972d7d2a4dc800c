//! The command line: global flags, one file per command, errors printed once here.

/// Runs the CLI; returns the process exit code.
pub fn main() -> i32 {
    0
}
