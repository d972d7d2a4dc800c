//! Log multiplexing: one output line per container line, prefixed `service-N  | ` in a
//! stable color per service and aligned across containers.

use std::collections::HashMap;
use std::io::{BufWriter, Write};

use console::Style;
use futures::{FutureExt, StreamExt};

use crate::backend::{ContainerSummary, LogLine, LogStreamBox};

const PALETTE: [fn(Style) -> Style; 6] = [Style::cyan, Style::yellow, Style::green, Style::magenta, Style::blue, Style::red];

pub struct LogPrinter {
    color: bool,
    prefix: bool,
    timestamps: bool,
    width: usize,
    /// The project's services in file order: the nth service gets the nth color.
    services: Vec<String>,
    /// container name → displayed prefix and its style.
    labels: HashMap<String, (String, Style)>,
}

/// `web-1` for `demo-web-1`; one-off and custom-named containers keep their name.
pub fn short_name(c: &ContainerSummary) -> String {
    if !c.oneoff && (c.name == format!("{}-{}-{}", c.project, c.service, c.number) || c.name == format!("{}_{}_{}", c.project, c.service, c.number)) {
        format!("{}-{}", c.service, c.number)
    } else {
        c.name.clone()
    }
}

impl LogPrinter {
    /// `services` are the project's, in file order: a service's color is picked by its
    /// place there, so that every command (`up`, `logs`, `logs web`) shows it in the same
    /// color, and neighbours differ.
    pub fn new(services: &[String], containers: &[ContainerSummary], color: bool, prefix: bool, timestamps: bool) -> Self {
        let mut p = LogPrinter { color, prefix, timestamps, width: 0, services: services.to_vec(), labels: HashMap::new() };
        for c in containers {
            p.add(c);
        }
        p
    }

    /// Registers a container that appeared later (scale up, recreate).
    pub fn add(&mut self, c: &ContainerSummary) {
        self.add_source(&c.name, short_name(c), &c.service);
    }

    /// Registers where lines come from by name (`LogLine::container`), shown as `label`.
    pub fn add_source(&mut self, source: &str, label: String, service: &str) {
        // The color follows the service, so it stays when containers come and go; a
        // service the project does not define (an orphan) gets one from its name.
        let slot = self.services.iter().position(|s| s == service).unwrap_or_else(|| {
            service.bytes().fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(b as usize))
        });
        let style = PALETTE[slot % PALETTE.len()](Style::new());
        self.width = self.width.max(label.len());
        self.labels.insert(source.to_string(), (label, style));
    }

    pub fn knows(&self, source: &str) -> bool {
        self.labels.contains_key(source)
    }

    /// A line about a container itself (`web-1 exited with code 0`), in its color, as
    /// Compose's log consumer writes a status.
    pub fn status(&self, c: &ContainerSummary, message: &str) -> String {
        let name = short_name(c);
        let text = format!("{name} {message}");
        match self.labels.get(&c.name) {
            Some((_, style)) if self.color => style.apply_to(text).force_styling(true).to_string(),
            _ => text,
        }
    }

    pub fn format(&self, line: &LogLine) -> String {
        let mut out = String::new();
        if self.prefix {
            let (label, style) = self.labels.get(&line.container).cloned().unwrap_or_else(|| (line.container.clone(), Style::new()));
            let padded = format!("{label:<width$}  | ", width = self.width);
            if self.color {
                out.push_str(&style.apply_to(padded).force_styling(true).to_string());
            } else {
                out.push_str(&padded);
            }
        }
        if self.timestamps
            && let Some(t) = line.time
        {
            out.push_str(&t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true));
            out.push(' ');
        }
        out.push_str(&line.text);
        out
    }

    /// Prints the stream to stdout until it ends.
    pub async fn print(&mut self, mut stream: LogStreamBox) -> anyhow::Result<()> {
        let stdout = std::io::stdout();
        let mut out = BufWriter::with_capacity(64 * 1024, stdout.lock());
        loop {
            // Flush only when no line comes for a moment, so `logs -f` stays live (within
            // a few milliseconds) and a backlog goes out in big writes (a flush per line
            // cost a syscall and a thread wake-up per line).
            let next = match stream.next().now_or_never() {
                Some(next) => next,
                None => match tokio::time::timeout(std::time::Duration::from_millis(5), stream.next()).await {
                    Ok(next) => next,
                    Err(_) => {
                        out.flush()?;
                        stream.next().await
                    }
                },
            };
            let Some(item) = next else { break };
            writeln!(out, "{}", self.format(&item?))?;
        }
        out.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::LogStream;

    fn c(name: &str, service: &str, n: u32) -> ContainerSummary {
        ContainerSummary { name: name.into(), ..ContainerSummary::for_test("demo", service, n) }
    }

    #[test]
    fn aligned_prefixes() {
        let p = LogPrinter::new(&[], &[c("demo-web-1", "web", 1), c("demo-redis-1", "redis", 1)], false, true, false);
        let line = LogLine { container: "demo-web-1".into(), stream: LogStream::Stdout, time: None, text: "hi".into() };
        assert_eq!(p.format(&line), "web-1    | hi");
        let p = LogPrinter::new(&[], &[c("demo-web-1", "web", 1)], false, false, false);
        assert_eq!(p.format(&line), "hi");
    }

    #[test]
    fn colors_follow_the_project_order() {
        let services = ["db".to_string(), "web".to_string()];
        let line = |name: &str| LogLine { container: name.into(), stream: LogStream::Stdout, time: None, text: "x".into() };
        let both = LogPrinter::new(&services, &[c("demo-db-1", "db", 1), c("demo-web-1", "web", 1)], true, true, false);
        let web_only = LogPrinter::new(&services, &[c("demo-web-1", "web", 1)], true, true, false);
        let color = |p: &LogPrinter, name: &str| p.format(&line(name)).split("web-1").next().unwrap_or_default().to_string();
        assert_eq!(color(&both, "demo-web-1"), color(&web_only, "demo-web-1"));
        assert_ne!(both.format(&line("demo-db-1")).split("db-1").next(), both.format(&line("demo-web-1")).split("web-1").next());
    }
}
