//! The container's output log: `log.jsonl`, one JSON object per line of output
//! (`{"time","stream","text"}`), appended by the supervisor's copier threads.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::{OwnedFd, RawFd};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use chrono::SecondsFormat;
use serde::{Deserialize, Serialize};

/// One line of container output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    /// RFC 3339 with nanoseconds, UTC.
    pub time: String,
    /// `stdout` or `stderr` (a tty's output is `stdout`).
    pub stream: String,
    /// The line without its newline (a last unterminated line is flushed as is).
    pub text: String,
}

/// Longest line kept in one entry: longer lines are split, as Docker does at 16 KiB.
const MAX_LINE: usize = 16 * 1024;

#[derive(Clone)]
pub struct LogWriter {
    file: Arc<Mutex<File>>,
}

impl LogWriter {
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(LogWriter { file: Arc::new(Mutex::new(file)) })
    }

    pub fn write_line(&self, stream: &str, line: &[u8]) {
        let entry = LogEntry {
            time: chrono::Utc::now().to_rfc3339_opts(SecondsFormat::Nanos, true),
            stream: stream.to_string(),
            text: String::from_utf8_lossy(line).into_owned(),
        };
        let Ok(mut json) = serde_json::to_vec(&entry) else { return };
        json.push(b'\n');
        // One write per entry under the lock: entries of both streams never interleave.
        if let Ok(mut f) = self.file.lock() {
            let _ = f.write_all(&json);
        }
    }

    /// Copies `fd` into the log until EOF (all writers closed) on a background thread;
    /// with `tee`, the raw bytes also go to that fd (an attached caller's stdout/stderr).
    pub fn spawn_copier(&self, stream: &'static str, fd: OwnedFd, tee: Option<RawFd>) -> JoinHandle<()> {
        let log = self.clone();
        std::thread::spawn(move || log.copy(stream, File::from(fd), tee))
    }

    fn copy(&self, stream: &str, mut src: File, tee: Option<RawFd>) {
        let mut pending: Vec<u8> = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            let n = match src.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                // EIO: a pty whose slave side was closed by every process.
                Err(_) => break,
            };
            if let Some(fd) = tee {
                write_fd(fd, &buf[..n]);
            }
            pending.extend_from_slice(&buf[..n]);
            let mut start = 0;
            while let Some(pos) = pending[start..].iter().position(|b| *b == b'\n') {
                let mut line = &pending[start..start + pos];
                if line.last() == Some(&b'\r') {
                    line = &line[..line.len() - 1];
                }
                self.write_line(stream, line);
                start += pos + 1;
            }
            pending.drain(..start);
            while pending.len() >= MAX_LINE {
                self.write_line(stream, &pending[..MAX_LINE]);
                pending.drain(..MAX_LINE);
            }
        }
        if !pending.is_empty() {
            self.write_line(stream, &pending);
        }
    }
}

/// Writes all of `data` to a raw fd, giving up on errors (the reader went away).
pub fn write_fd(fd: RawFd, mut data: &[u8]) {
    while !data.is_empty() {
        // SAFETY: writing from a live buffer to an fd this process holds.
        let n = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
        if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        if n <= 0 {
            return;
        }
        data = &data[n as usize..];
    }
}

/// Reads all entries of a log file (lines that fail to parse are skipped).
pub fn read_log(path: &Path) -> std::io::Result<Vec<LogEntry>> {
    let text = std::fs::read_to_string(path)?;
    Ok(text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect())
}

/// Entries appended since byte `offset` (for following a log), and the offset to pass
/// next time. A line still being written is left for the next call.
pub fn read_log_from(path: &Path, offset: u64) -> std::io::Result<(Vec<LogEntry>, u64)> {
    use std::io::{Seek, SeekFrom};
    let mut f = File::open(path)?;
    let len = f.metadata()?.len();
    // Truncated or replaced: start over.
    let offset = if offset > len { 0 } else { offset };
    f.seek(SeekFrom::Start(offset))?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf)?;
    let complete = buf.iter().rposition(|b| *b == b'\n').map(|p| p + 1).unwrap_or(0);
    let entries = buf[..complete]
        .split(|b| *b == b'\n')
        .filter_map(|l| serde_json::from_slice(l).ok())
        .collect();
    Ok((entries, offset + complete as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_lines_and_flushes_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.jsonl");
        let log = LogWriter::open(&path).unwrap();
        let (r, w) = nix::unistd::pipe().unwrap();
        let t = log.spawn_copier("stdout", r, None);
        nix::unistd::write(&w, b"one\r\ntwo\n\nthr").unwrap();
        nix::unistd::write(&w, "ee \u{e9}".as_bytes()).unwrap();
        drop(w);
        t.join().unwrap();
        let texts: Vec<String> = read_log(&path).unwrap().into_iter().map(|e| e.text).collect();
        assert_eq!(texts, ["one", "two", "", "three \u{e9}"]);
        let first: serde_json::Value = serde_json::from_str(std::fs::read_to_string(&path).unwrap().lines().next().unwrap()).unwrap();
        assert_eq!(first["stream"], "stdout");
        assert!(chrono::DateTime::parse_from_rfc3339(first["time"].as_str().unwrap()).is_ok());

        let (all, end) = read_log_from(&path, 0).unwrap();
        assert_eq!(all.len(), 4);
        log.write_line("stderr", b"later");
        let (more, end2) = read_log_from(&path, end).unwrap();
        assert_eq!((more.len(), more[0].text.as_str(), more[0].stream.as_str()), (1, "later", "stderr"));
        assert!(read_log_from(&path, end2).unwrap().0.is_empty());
    }
}
