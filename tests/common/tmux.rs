//! A terminal for the tests: a tmux server of our own (its socket named after this
//! process and a tag), a pane typed into and polled, killed when dropped.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

pub struct Tmux {
    socket: String,
    /// Whether the screen is read with its colors (`capture-pane -e`).
    colors: bool,
}

impl Tmux {
    /// A 160x50 pane with a shell in `dir`; with `colors`, NO_COLOR is unset in it and the
    /// screen is read with its escape sequences.
    pub fn start(dir: &Path, tag: &str, colors: bool) -> Tmux {
        let t = Tmux { socket: format!("hoist-test-{}-{tag}", std::process::id()), colors };
        let ok = t.cmd(&["new-session", "-d", "-s", "main", "-x", "160", "-y", "50", "-c"]).arg(dir).env_remove("NO_COLOR").status().unwrap();
        assert!(ok.success(), "tmux did not start (apt-get install tmux)");
        t
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket]).args(args);
        c
    }

    /// Sends keys by tmux's names (`Enter`, `C-c`, or text).
    pub fn send(&self, keys: &[&str]) {
        assert!(self.cmd(&[&["send-keys", "-t", "main"][..], keys].concat()).status().unwrap().success(), "tmux send-keys {keys:?}");
    }

    /// Types `text` as it is (no key names), then Enter.
    pub fn line(&self, text: &str) {
        self.send(&["-l", text]);
        self.send(&["Enter"]);
    }

    /// The pane as shown.
    pub fn screen(&self) -> String {
        let args: &[&str] = if self.colors { &["capture-pane", "-p", "-e", "-t", "main"] } else { &["capture-pane", "-p", "-t", "main"] };
        String::from_utf8_lossy(&self.cmd(args).output().unwrap().stdout).into_owned()
    }

    /// Polls the pane until `done` holds (at most 30 s); returns that screen.
    pub fn until(&self, what: &str, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let screen = self.screen();
            if done(&screen) {
                return screen;
            }
            assert!(Instant::now() < deadline, "no {what} on the screen:\n{screen}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]).status();
    }
}
