//! The healthcheck, run by a supervisor thread: every interval the test runs inside the
//! container (through `hoist __exec`), with a timeout; `retries` consecutive failures after
//! the start period make the container unhealthy, a success makes it healthy.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::exec::ExecRequest;
use super::supervisor::Shared;
use super::HealthSpec;
use crate::backend::builtin::events::EventSink;

/// Docker's defaults for zero durations and retries.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_RETRIES: u32 = 3;

pub fn spawn(shared: Arc<Shared>, spec: HealthSpec, events: Option<EventSink>) {
    let command = match spec.test.first().map(String::as_str) {
        Some("CMD") => spec.test[1..].to_vec(),
        Some("CMD-SHELL") => vec!["/bin/sh".into(), "-c".into(), spec.test[1..].join(" ")],
        // `NONE` or nothing: no healthcheck.
        _ => return,
    };
    if command.is_empty() {
        return;
    }
    let interval = if spec.interval.is_zero() { DEFAULT_INTERVAL } else { spec.interval };
    let timeout = if spec.timeout.is_zero() { DEFAULT_TIMEOUT } else { spec.timeout };
    let retries = if spec.retries == 0 { DEFAULT_RETRIES } else { spec.retries };
    std::thread::spawn(move || {
        let mut failures = 0u32;
        let mut current_pid = None;
        loop {
            std::thread::sleep(interval);
            let st = shared.snapshot();
            if st.status != "running" || st.pid.is_none() {
                continue;
            }
            // A restarted process starts over: `starting`, no failures counted.
            if st.pid != current_pid {
                current_pid = st.pid;
                failures = 0;
            }
            let in_start_period = st
                .started_at
                .is_some_and(|t| chrono::Utc::now().signed_duration_since(t).to_std().unwrap_or_default() < spec.start_period);
            let ok = run_once(&shared, &command, timeout);
            if shared.snapshot().pid != current_pid {
                continue;
            }
            let set = |health: &str| {
                let changed = shared.snapshot().health.as_deref() != Some(health);
                shared.update(|s| s.health = Some(health.into()));
                if changed && let Some(sink) = &events {
                    sink.emit(&format!("health_status: {health}"), &[]);
                }
            };
            if ok {
                failures = 0;
                set("healthy");
            } else if !(in_start_period && st.health.as_deref() == Some("starting")) {
                failures += 1;
                if failures >= retries {
                    set("unhealthy");
                }
            }
        }
    });
}

fn run_once(shared: &Shared, command: &[String], timeout: Duration) -> bool {
    let req = ExecRequest { command: command.to_vec(), kill_with_parent: true, ..Default::default() };
    let Ok(json) = serde_json::to_string(&req) else { return false };
    let child = Command::new("/proc/self/exe")
        .arg("__exec")
        .arg(&shared.dir)
        .arg(json)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let Ok(mut child) = child else { return false };
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status.success(),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                // The helper kills its command when it dies (PDEATHSIG).
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
        }
    }
}
