//! Container logs as one merged stream of lines: one engine log stream per container,
//! split into lines (frames and TTY chunks need not end at newlines), timestamps parsed.

use std::collections::VecDeque;
use std::pin::Pin;

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::query_parameters::LogsOptions;
use futures::{Stream, StreamExt};

use super::engine_err;
use crate::backend::{BackendError, ContainerSummary, LogLine, LogOptions, LogStream, LogStreamBox, Result};

pub(crate) type Raw = Pin<Box<dyn Stream<Item = Result<LogOutput, bollard::errors::Error>> + Send>>;

struct Lines {
    raw: Raw,
    container: String,
    out: Vec<u8>,
    err: Vec<u8>,
    pending: VecDeque<Result<LogLine>>,
    done: bool,
}

impl Lines {
    /// Appends a chunk and queues every complete line in it.
    fn push(&mut self, stream: LogStream, bytes: &[u8]) {
        let buf = match stream {
            LogStream::Stdout => &mut self.out,
            LogStream::Stderr => &mut self.err,
        };
        buf.extend_from_slice(bytes);
        while let Some(i) = buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = buf.drain(..=i).collect();
            let line = &line[..line.len() - 1];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            self.pending.push_back(Ok(parse_line(&self.container, stream, line)));
        }
    }

    /// At end of stream: a last line without its newline.
    fn flush(&mut self) {
        for stream in [LogStream::Stdout, LogStream::Stderr] {
            let buf = match stream {
                LogStream::Stdout => std::mem::take(&mut self.out),
                LogStream::Stderr => std::mem::take(&mut self.err),
            };
            if !buf.is_empty() {
                self.pending.push_back(Ok(parse_line(&self.container, stream, &buf)));
            }
        }
    }
}

/// Lines come with an RFC 3339 timestamp prefix because we always ask the engine for it.
fn parse_line(container: &str, stream: LogStream, line: &[u8]) -> LogLine {
    let text = String::from_utf8_lossy(line);
    let (time, text) = match text.split_once(' ') {
        Some((ts, rest)) => match chrono::DateTime::parse_from_rfc3339(ts) {
            Ok(t) => (Some(t.with_timezone(&chrono::Utc)), rest.to_string()),
            Err(_) => (None, text.to_string()),
        },
        None => match chrono::DateTime::parse_from_rfc3339(&text) {
            Ok(t) => (Some(t.with_timezone(&chrono::Utc)), String::new()),
            Err(_) => (None, text.to_string()),
        },
    };
    LogLine { container: container.to_string(), stream, time, text }
}

/// The engine's query for `opts` (always with timestamps, which `parse_line` strips).
pub(crate) fn query(opts: &LogOptions) -> LogsOptions {
    LogsOptions {
        follow: opts.follow,
        stdout: true,
        stderr: true,
        timestamps: true,
        since: opts.since.map_or(0, |t| t.timestamp() as i32),
        until: opts.until.map_or(0, |t| t.timestamp() as i32),
        tail: opts.tail.map_or_else(|| "all".to_string(), |n| n.to_string()),
    }
}

fn lines_of(docker: &Docker, c: &ContainerSummary, opts: &LogOptions) -> impl Stream<Item = Result<LogLine>> + Send + use<> {
    lines(Box::pin(docker.logs(&c.id, Some(query(opts)))), c.name.clone())
}

/// An engine log stream (container or swarm task) as lines attributed to `source`.
pub(crate) fn lines(raw: Raw, source: String) -> impl Stream<Item = Result<LogLine>> + Send {
    let state = Lines { raw, container: source, out: Vec::new(), err: Vec::new(), pending: VecDeque::new(), done: false };
    futures::stream::unfold(state, |mut s| async move {
        loop {
            if let Some(line) = s.pending.pop_front() {
                return Some((line, s));
            }
            if s.done {
                return None;
            }
            match s.raw.next().await {
                Some(Ok(LogOutput::StdErr { message })) => s.push(LogStream::Stderr, &message),
                Some(Ok(LogOutput::StdOut { message } | LogOutput::Console { message })) => {
                    s.push(LogStream::Stdout, &message)
                }
                Some(Ok(LogOutput::StdIn { .. })) => {}
                Some(Err(e)) => {
                    s.flush();
                    // 501: the container's logging driver (`none`, syslog...) cannot be read.
                    let err = if super::status_of(&e) == Some(501) {
                        BackendError::LogsNotReadable(s.container.clone())
                    } else {
                        engine_err(format!("reading logs of {}", s.container), e)
                    };
                    s.pending.push_back(Err(err));
                    s.done = true;
                }
                None => {
                    s.flush();
                    s.done = true;
                }
            }
        }
    })
}

/// All containers' lines, interleaved as they arrive. With `follow`, each container's
/// stream ends when that container stops, and the merged one when all have.
pub fn merged(docker: Docker, containers: &[ContainerSummary], opts: &LogOptions) -> LogStreamBox {
    let streams: Vec<_> = containers.iter().map(|c| Box::pin(lines_of(&docker, c, opts))).collect();
    Box::pin(futures::stream::select_all(streams))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_prefix() {
        let l = parse_line("c", LogStream::Stdout, b"2024-05-01T10:00:00.123456789Z hello world");
        assert_eq!(l.text, "hello world");
        assert!(l.time.is_some());
        let l = parse_line("c", LogStream::Stdout, b"no stamp here");
        assert_eq!(l.text, "no stamp here");
        assert!(l.time.is_none());
    }
}
