//! Progress of lifecycle operations, one line per event (`Container demo-web-1  Started`),
//! on stderr like Docker Compose. Events come from the executor, possibly in parallel.

use std::io::Write;
use std::sync::{Arc, Mutex};

/// Receives lifecycle events from the executor.
pub trait Progress: Send + Sync {
    /// `kind` is `Container`, `Network`, `Volume` or `Image`; `status` a short verb phrase.
    fn event(&self, kind: &str, name: &str, status: &str);
    /// A warning the user should see (also in quiet mode).
    fn warn(&self, message: &str) {
        eprintln!("WARN[0000] {message}");
    }
}

pub type ProgressRef = Arc<dyn Progress>;

/// Plain lines on stderr; silent when `quiet`.
pub struct PlainProgress {
    quiet: bool,
    out: Mutex<()>,
}

impl PlainProgress {
    pub fn new(quiet: bool) -> ProgressRef {
        Arc::new(PlainProgress { quiet, out: Mutex::new(()) })
    }
}

impl Progress for PlainProgress {
    fn event(&self, kind: &str, name: &str, status: &str) {
        if self.quiet {
            return;
        }
        let _guard = self.out.lock();
        let _ = writeln!(std::io::stderr(), " {kind} {name}  {status}");
    }
}

/// Records events in memory, for tests.
#[derive(Default)]
pub struct RecordingProgress {
    pub events: Mutex<Vec<String>>,
}

impl Progress for RecordingProgress {
    fn event(&self, kind: &str, name: &str, status: &str) {
        self.events.lock().unwrap().push(format!("{kind} {name} {status}"));
    }
    fn warn(&self, message: &str) {
        self.events.lock().unwrap().push(format!("WARN {message}"));
    }
}
