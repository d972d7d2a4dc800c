//! The built-in runtime's event log. No daemon sees every change, so the processes where
//! changes happen (the CLI's backend calls, each container's supervisor) append one JSON
//! line per event to `events/<project>.jsonl`, and `hoist events` follows that file.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::backend::{ContainerEvent, EventOptions, EventStreamBox, Result};

/// A log grows to this size, then becomes `<project>.jsonl.1` (replacing the older one):
/// at most twice this much per project stays on disk.
pub const MAX_LOG_BYTES: u64 = 1 << 20;

/// How often a follower looks for new lines.
const POLL: Duration = Duration::from_millis(100);

/// The log of a project under the state root.
pub fn log_path(root: &Path, project: &str) -> PathBuf {
    root.join("events").join(format!("{project}.jsonl"))
}

fn rotated(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".1");
    PathBuf::from(p)
}

/// Where one container's events go and what they say about it. The backend makes it
/// from the container's record; it travels in `runtime.json` so the supervisor, which
/// sees starts, exits and health changes, writes the same events.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventSink {
    pub log: PathBuf,
    pub id: String,
    /// Labels, `name` and `image`.
    pub attributes: IndexMap<String, String>,
}

impl EventSink {
    /// Records an event now. Events are a view on what happened, never a reason for an
    /// operation to fail: a write error is only reported on stderr.
    pub fn emit(&self, action: &str, extra: &[(&str, String)]) {
        let mut attributes = self.attributes.clone();
        for (k, v) in extra {
            attributes.insert(k.to_string(), v.clone());
        }
        let event = ContainerEvent { time: chrono::Utc::now(), id: self.id.clone(), action: action.to_string(), attributes };
        if let Err(e) = append(&self.log, &event) {
            eprintln!("hoist: recording event {action} in {}: {e}", self.log.display());
        }
    }
}

/// Appends one line, rotating the log when it is full. Writers of several processes
/// (CLI calls, supervisors) take turns on a lock of the log's directory, so a rotation
/// never loses lines (the directory itself: a lock file per project would stay behind).
pub fn append(path: &Path, event: &ContainerEvent) -> std::io::Result<()> {
    use nix::fcntl::{Flock, FlockArg};
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let _lock = Flock::lock(File::open(dir)?, FlockArg::LockExclusive).map_err(|(_, e)| std::io::Error::from(e))?;
    if std::fs::metadata(path).is_ok_and(|m| m.len() >= MAX_LOG_BYTES) {
        std::fs::rename(path, rotated(path))?;
    }
    let mut line = serde_json::to_vec(event).map_err(std::io::Error::other)?;
    line.push(b'\n');
    OpenOptions::new().create(true).append(true).open(path)?.write_all(&line)
}

/// Follows a log: the lines after a position, across rotations (the open file is read
/// to its end before the new one at the path is taken).
struct Follower {
    path: PathBuf,
    file: Option<(File, u64)>,
    pending: Vec<u8>,
}

impl Follower {
    /// From the current end of the log, or from its oldest line with `from_start`.
    fn new(path: PathBuf, from_start: bool) -> Self {
        let mut f = Follower { path, file: None, pending: Vec::new() };
        if let Ok(mut file) = File::open(&f.path) {
            if !from_start {
                let _ = file.seek(SeekFrom::End(0));
            }
            let ino = file.metadata().map(|m| m.ino()).unwrap_or(0);
            f.file = Some((file, ino));
        }
        f
    }

    /// Complete lines appended since the last call.
    fn read_new(&mut self) -> Vec<ContainerEvent> {
        let mut out = Vec::new();
        loop {
            if let Some((file, _)) = &mut self.file {
                let _ = file.read_to_end(&mut self.pending);
            }
            if let Some(end) = self.pending.iter().rposition(|b| *b == b'\n') {
                out.extend(self.pending[..end].split(|b| *b == b'\n').filter_map(|l| serde_json::from_slice(l).ok()));
                self.pending.drain(..=end);
            }
            // A different file at the path (rotated, or created after we started): go on there.
            let Ok(file) = File::open(&self.path) else { return out };
            let ino = file.metadata().map(|m| m.ino()).unwrap_or(0);
            if self.file.as_ref().is_some_and(|(_, current)| *current == ino) {
                return out;
            }
            self.file = Some((file, ino));
            self.pending.clear();
        }
    }
}

/// The events of a project's log as a stream: with `since`, the recorded ones from then
/// on (the rotated file first); then new ones as they are written, until `until`.
pub fn follow(path: PathBuf, opts: &EventOptions) -> EventStreamBox {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<ContainerEvent>>(1024);
    let (since, until) = (opts.since, opts.until);
    tokio::spawn(async move {
        let keep = |e: &ContainerEvent| since.is_none_or(|s| e.time >= s) && until.is_none_or(|u| e.time <= u);
        let mut history = Vec::new();
        if since.is_some() {
            history = Follower::new(rotated(&path), true).read_new();
        }
        let mut follower = Follower::new(path, since.is_some());
        history.extend(follower.read_new());
        loop {
            for e in history.drain(..).filter(keep) {
                if tx.send(Ok(e)).await.is_err() {
                    return;
                }
            }
            if until.is_some_and(|u| chrono::Utc::now() > u) {
                return;
            }
            tokio::time::sleep(POLL).await;
            history = follower.read_new();
        }
    });
    Box::pin(super::tokio_stream(rx))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(action: &str) -> ContainerEvent {
        ContainerEvent { time: chrono::Utc::now(), id: "c1".into(), action: action.into(), attributes: IndexMap::new() }
    }

    #[test]
    fn rotates_and_follows_across_the_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let path = log_path(dir.path(), "demo");
        append(&path, &event("create")).unwrap();
        let mut follower = Follower::new(path.clone(), false);
        assert!(follower.read_new().is_empty(), "a new follower starts at the end");
        append(&path, &event("start")).unwrap();
        assert_eq!(follower.read_new().iter().map(|e| e.action.as_str()).collect::<Vec<_>>(), ["start"]);

        // Fill the log past its limit: the next line goes to a fresh file.
        let big = ContainerEvent { attributes: [("pad".to_string(), "x".repeat(MAX_LOG_BYTES as usize))].into_iter().collect(), ..event("big") };
        append(&path, &big).unwrap();
        append(&path, &event("die")).unwrap();
        assert!(rotated(&path).exists());
        assert!(std::fs::metadata(&path).unwrap().len() < 1000);
        let seen: Vec<String> = follower.read_new().into_iter().map(|e| e.action).collect();
        assert_eq!(seen, ["big", "die"]);

        let all: Vec<String> = Follower::new(rotated(&path), true).read_new().into_iter().map(|e| e.action).collect();
        assert_eq!(all, ["create", "start", "big"]);
    }
}
