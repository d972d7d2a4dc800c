//! Progress of lifecycle operations, like Docker Compose shows it: on a terminal one live
//! line per resource (`✔ Container demo-web-1  Started  0.3s`), otherwise plain lines
//! on stderr, or JSON lines, or nothing. Events come from the executor, in parallel.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Tty,
    Plain,
    Json,
    Quiet,
}

impl Mode {
    /// From `--progress` (auto picks tty on a terminal).
    pub fn parse(s: &str) -> Option<Mode> {
        Some(match s {
            "auto" if console::Term::stderr().is_term() => Mode::Tty,
            "auto" | "plain" => Mode::Plain,
            "tty" => Mode::Tty,
            "json" => Mode::Json,
            "quiet" => Mode::Quiet,
            _ => return None,
        })
    }
}

/// Builds the reporter for a mode.
/// `to_stdout`: Compose's `COMPOSE_STATUS_STDOUT`, for tools that read one stream.
pub fn reporter(mode: Mode, color: bool, to_stdout: bool) -> ProgressRef {
    match mode {
        Mode::Tty => Arc::new(TtyProgress::new(color, to_stdout)),
        other => Arc::new(LineProgress { mode: other, to_stdout, out: Mutex::new(()) }),
    }
}

/// Statuses after which a resource's line is finished.
fn is_final(status: &str) -> bool {
    status.starts_with("Skipped") || status.starts_with("Committed") || matches!(
        status,
        "Started" | "Created" | "Running" | "Removed" | "Updated" | "Unchanged" | "Scaled" | "Stopped" | "Healthy" | "Exited" | "Recreated" | "Pulled" | "Killed" | "Paused" | "Unpaused" | "Built" | "Pushed" | "Error" | "Resource is still in use"
    )
}

/// Plain lines (` Container demo-web-1  Started`), JSON lines, or nothing.
pub struct LineProgress {
    mode: Mode,
    to_stdout: bool,
    out: Mutex<()>,
}

impl Progress for LineProgress {
    fn event(&self, kind: &str, name: &str, status: &str) {
        let _guard = self.out.lock();
        let mut err: Box<dyn Write> = if self.to_stdout { Box::new(std::io::stdout().lock()) } else { Box::new(std::io::stderr().lock()) };
        let _ = match self.mode {
            Mode::Quiet => Ok(()),
            Mode::Json => writeln!(err, "{}", serde_json::json!({"kind": kind, "name": name, "status": status})),
            _ => writeln!(err, " {kind} {name}  {status}"),
        };
    }

    fn warn(&self, message: &str) {
        if self.to_stdout {
            println!("WARN[0000] {message}");
        } else {
            eprintln!("WARN[0000] {message}");
        }
    }
}

/// One live spinner line per resource, ticked until its final status.
pub struct TtyProgress {
    multi: MultiProgress,
    color: bool,
    bars: Mutex<HashMap<String, (ProgressBar, Instant)>>,
}

impl TtyProgress {
    fn new(color: bool, to_stdout: bool) -> Self {
        let target = if to_stdout { ProgressDrawTarget::stdout() } else { ProgressDrawTarget::stderr() };
        TtyProgress { multi: MultiProgress::with_draw_target(target), color, bars: Mutex::new(HashMap::new()) }
    }
}

impl Progress for TtyProgress {
    fn event(&self, kind: &str, name: &str, status: &str) {
        let key = format!("{kind} {name}");
        let mut bars = self.bars.lock().unwrap();
        let (bar, started) = bars
            .entry(key.clone())
            .or_insert_with(|| {
                let bar = self.multi.add(ProgressBar::new_spinner());
                bar.set_style(ProgressStyle::with_template(" {spinner} {prefix}  {msg}").unwrap_or_else(|_| ProgressStyle::default_spinner()));
                bar.set_prefix(key.clone());
                bar.enable_steady_tick(Duration::from_millis(100));
                (bar, Instant::now())
            })
            .clone();
        let elapsed = format!("{:.1}s", started.elapsed().as_secs_f64());
        if is_final(status) {
            let check = if status == "Error" { "✘" } else { "✔" };
            let check = if self.color { console::style(check).green().to_string() } else { check.to_string() };
            bar.set_style(ProgressStyle::with_template(&format!(" {check} {{prefix}}  {{msg}}")).unwrap_or_else(|_| ProgressStyle::default_spinner()));
            bar.finish_with_message(format!("{status:<10} {elapsed}"));
        } else {
            bar.set_message(format!("{status:<10} {elapsed}"));
        }
    }

    fn warn(&self, message: &str) {
        let _ = self.multi.println(format!("WARN[0000] {message}"));
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
