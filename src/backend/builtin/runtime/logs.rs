//! The container's output log: `log.jsonl`, one JSON object per line of output
//! (`{"time","stream","text"}`), appended by the supervisor's copier threads, rotated to
//! `log.jsonl.1`, `.2`... by the service's `max-size`/`max-file` as Docker's json-file
//! driver rotates, or not kept at all with the `none` driver.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::{OwnedFd, RawFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use chrono::SecondsFormat;
use serde::{Deserialize, Serialize};

use crate::compose::logging::LogPolicy;

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

/// The log file being appended to, and when to rotate it.
struct Current {
    file: File,
    path: PathBuf,
    size: u64,
    max_size: Option<u64>,
    max_file: u32,
}

impl Current {
    /// As Docker's log files: before a write, a file that reached `max_size` becomes
    /// `.1` (older ones shift up, the last is dropped), or is emptied when one file is kept.
    fn rotate_if_full(&mut self) -> std::io::Result<()> {
        if self.max_size.is_none_or(|max| self.size < max) {
            return Ok(());
        }
        if self.max_file <= 1 {
            self.file.set_len(0)?;
        } else {
            // Only the files that exist shift: the first free index, or the last one, which
            // is dropped (a `max-file` of millions costs nothing until it fills).
            let last = self.max_file - 1;
            let mut free = 1;
            while free < last && rotated(&self.path, free).exists() {
                free += 1;
            }
            let _ = std::fs::remove_file(rotated(&self.path, free));
            for i in (1..free).rev() {
                let _ = std::fs::rename(rotated(&self.path, i), rotated(&self.path, i + 1));
            }
            std::fs::rename(&self.path, rotated(&self.path, 1))?;
            self.file = OpenOptions::new().create(true).append(true).open(&self.path)?;
        }
        self.size = 0;
        Ok(())
    }
}

/// `log.jsonl.<n>`: the n-th newest rotated file.
fn rotated(path: &Path, n: u32) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(format!(".{n}"));
    PathBuf::from(p)
}

/// Appends container output to the log; a clone writes to the same file. With the
/// `none` driver it keeps nothing (an attached caller still gets the output).
#[derive(Clone)]
pub struct LogWriter {
    current: Option<Arc<Mutex<Current>>>,
}

impl LogWriter {
    pub fn open(path: &Path, policy: LogPolicy) -> std::io::Result<Self> {
        let LogPolicy::Files { max_size, max_file } = policy else { return Ok(LogWriter { current: None }) };
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let size = file.metadata()?.len();
        let current = Current { file, path: path.to_path_buf(), size, max_size, max_file };
        Ok(LogWriter { current: Some(Arc::new(Mutex::new(current))) })
    }

    pub fn write_line(&self, stream: &str, line: &[u8]) {
        let Some(current) = &self.current else { return };
        let entry = LogEntry {
            time: chrono::Utc::now().to_rfc3339_opts(SecondsFormat::Nanos, true),
            stream: stream.to_string(),
            text: String::from_utf8_lossy(line).into_owned(),
        };
        let Ok(mut json) = serde_json::to_vec(&entry) else { return };
        json.push(b'\n');
        // One write per entry under the lock: entries of both streams never interleave.
        if let Ok(mut c) = current.lock() {
            if let Err(e) = c.rotate_if_full() {
                eprintln!("hoist supervisor: rotating {}: {e}", c.path.display());
            }
            if c.file.write_all(&json).is_ok() {
                c.size += json.len() as u64;
            }
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

/// Entries appended since byte `offset` (for following a log), and the offset to pass
/// next time. A line still being written is left for the next call.
pub fn read_log_from(path: &Path, offset: u64) -> std::io::Result<(Vec<LogEntry>, u64)> {
    let mut f = File::open(path)?;
    // Truncated or replaced: start over.
    let offset = if offset > f.metadata()?.len() { 0 } else { offset };
    entries_from(&mut f, offset)
}

fn entries_from(f: &mut File, offset: u64) -> std::io::Result<(Vec<LogEntry>, u64)> {
    f.seek(SeekFrom::Start(offset))?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf)?;
    let complete = buf.iter().rposition(|b| *b == b'\n').map(|p| p + 1).unwrap_or(0);
    let entries = buf[..complete].split(|b| *b == b'\n').filter_map(|l| serde_json::from_slice(l).ok()).collect();
    Ok((entries, offset + complete as u64))
}

fn open_if_there(path: &Path) -> std::io::Result<Option<File>> {
    match File::open(path) {
        Ok(f) => Ok(Some(f)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Reads a container's log across its rotated files, oldest first, as `docker logs`
/// does, and follows it across later rotations.
pub struct LogReader {
    path: PathBuf,
    /// The current file as it was opened (it may have been rotated since) and how far
    /// it has been read.
    file: Option<(File, u64)>,
}

impl LogReader {
    /// Every entry kept now, oldest first, and a reader that continues after them.
    pub fn read_all(path: &Path) -> std::io::Result<(Vec<LogEntry>, LogReader)> {
        // The current file first: a rotation while the older ones are read then shows
        // as one of them being this file, which is read once, last.
        let current = open_if_there(path)?;
        let current_ino = current.as_ref().map(|f| f.metadata().map(|m| m.ino())).transpose()?;
        let mut older = Vec::new();
        while let Some(f) = open_if_there(&rotated(path, older.len() as u32 + 1))? {
            older.push(f);
        }
        let mut entries = Vec::new();
        for mut f in older.into_iter().rev() {
            if Some(f.metadata()?.ino()) != current_ino {
                entries.extend(entries_from(&mut f, 0)?.0);
            }
        }
        let mut reader = LogReader { path: path.to_path_buf(), file: current.map(|f| (f, 0)) };
        entries.extend(reader.next_entries()?);
        Ok((entries, reader))
    }

    /// Entries written since the last read: after a rotation, the last ones of the old
    /// file, then the new file's.
    pub fn next_entries(&mut self) -> std::io::Result<Vec<LogEntry>> {
        let mut out = Vec::new();
        if let Some((f, offset)) = &mut self.file {
            // Emptied in place (one file kept): from its start again.
            if f.metadata()?.len() < *offset {
                *offset = 0;
            }
            let (entries, next) = entries_from(f, *offset)?;
            out.extend(entries);
            *offset = next;
            let ino = f.metadata()?.ino();
            if std::fs::metadata(&self.path).map_or(true, |m| m.ino() == ino) {
                return Ok(out);
            }
            // Rotated: nothing is written to it after the rename, so this read is its last.
            out.extend(entries_from(f, *offset)?.0);
        }
        self.file = None;
        if let Some(mut f) = open_if_there(&self.path)? {
            let (entries, next) = entries_from(&mut f, 0)?;
            out.extend(entries);
            self.file = Some((f, next));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_lines_and_flushes_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.jsonl");
        let log = LogWriter::open(&path, LogPolicy::default()).unwrap();
        let (r, w) = nix::unistd::pipe().unwrap();
        let t = log.spawn_copier("stdout", r, None);
        nix::unistd::write(&w, b"one\r\ntwo\n\nthr").unwrap();
        nix::unistd::write(&w, "ee \u{e9}".as_bytes()).unwrap();
        drop(w);
        t.join().unwrap();
        let texts: Vec<String> = LogReader::read_all(&path).unwrap().0.into_iter().map(|e| e.text).collect();
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

    #[test]
    fn rotates_and_reads_across_files_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.jsonl");
        let log = LogWriter::open(&path, LogPolicy::Files { max_size: Some(1000), max_file: 3 }).unwrap();
        let (_, mut follower) = LogReader::read_all(&path).unwrap();
        let mut followed = Vec::new();
        for i in 0..200 {
            log.write_line("stdout", format!("line {i:04}").as_bytes());
            if i % 7 == 0 {
                followed.extend(follower.next_entries().unwrap().into_iter().map(|e| e.text));
            }
        }
        followed.extend(follower.next_entries().unwrap().into_iter().map(|e| e.text));
        let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(files.len(), 3, "{files:?}");
        let kept: Vec<String> = LogReader::read_all(&path).unwrap().0.into_iter().map(|e| e.text).collect();
        assert!(kept.len() < 200 && kept.last().unwrap() == "line 0199", "{kept:?}");
        let first: usize = kept[0][5..].parse().unwrap();
        assert_eq!(kept, (first..200).map(|i| format!("line {i:04}")).collect::<Vec<_>>());
        // Read often enough, a follower misses nothing across rotations.
        assert_eq!(followed, (0..200).map(|i| format!("line {i:04}")).collect::<Vec<_>>());
    }

    #[test]
    fn one_file_is_emptied_and_none_keeps_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.jsonl");
        let log = LogWriter::open(&path, LogPolicy::Files { max_size: Some(500), max_file: 1 }).unwrap();
        for i in 0..100 {
            log.write_line("stdout", format!("line {i:04}").as_bytes());
        }
        assert!(std::fs::metadata(&path).unwrap().len() < 600);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let kept = LogReader::read_all(&path).unwrap().0;
        assert_eq!(kept.last().unwrap().text, "line 0099");
        let none = dir.path().join("none.jsonl");
        LogWriter::open(&none, LogPolicy::Discard).unwrap().write_line("stdout", b"x");
        assert!(!none.exists());
    }
}
