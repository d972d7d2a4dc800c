//! Which devices a container may use, as Docker decides it: its default allow-list, the
//! `devices:` entries with their r/w/m, or everything when privileged; the cgroup enforces it.

use std::fmt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use crate::compose::model::Device;

/// One line of a device cgroup allow-list (`c 1:3 rwm`, `b *:* m`, `a *:* rwm`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// `a` (all), `c` (char) or `b` (block).
    pub kind: char,
    /// None: every major (`*`).
    pub major: Option<u32>,
    pub minor: Option<u32>,
    /// Some of `r`, `w`, `m`.
    pub access: String,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let num = |n: Option<u32>| n.map_or("*".to_string(), |n| n.to_string());
        write!(f, "{} {}:{} {}", self.kind, num(self.major), num(self.minor), self.access)
    }
}

impl Rule {
    fn new(kind: char, major: Option<u32>, minor: Option<u32>, access: &str) -> Rule {
        Rule { kind, major, minor, access: access.into() }
    }

    pub fn allows_everything(&self) -> bool {
        self.kind == 'a'
    }
}

/// Docker's default (runc's, as `devices.list` shows in a Docker container): mknod of any
/// node, but open only of these.
pub fn default_rules() -> Vec<Rule> {
    let c = |major, minor: Option<u32>| Rule::new('c', Some(major), minor, "rwm");
    vec![
        Rule::new('c', None, None, "m"),
        Rule::new('b', None, None, "m"),
        c(1, Some(3)),   // null
        c(1, Some(5)),   // zero
        c(1, Some(7)),   // full
        c(1, Some(8)),   // random
        c(1, Some(9)),   // urandom
        c(5, Some(0)),   // tty
        c(5, Some(1)),   // console
        c(5, Some(2)),   // ptmx
        c(10, Some(200)), // net/tun
        c(136, None),    // pts/*
    ]
}

/// A `devices:` entry: `host[:container][:permissions]`, read as Docker's CLI does (a
/// second field that is a valid mode is the mode).
/// The allow-list of a container: everything when privileged (as Docker), else Docker's
/// default plus one rule per device node of each `devices:` entry (a directory gives
/// every node below it). A host path that is no device is an error, as with Docker.
pub fn rules(privileged: bool, devices: &[Device]) -> Result<Vec<Rule>, String> {
    if privileged {
        return Ok(vec![Rule::new('a', None, None, "rwm")]);
    }
    let mut rules = default_rules();
    for entry in devices {
        let before = rules.len();
        node_rules(Path::new(&entry.source), &entry.permissions, &mut rules).map_err(|e| format!("device {entry}: {e}"))?;
        if rules.len() == before {
            return Err(format!("device {entry}: no device node in {}", entry.source));
        }
    }
    Ok(rules)
}

fn node_rules(path: &Path, access: &str, out: &mut Vec<Rule>) -> Result<(), String> {
    // Followed, as Docker does: /dev/disk/by-id/... names are symlinks.
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let ft = meta.file_type();
    if ft.is_dir() {
        let entries = std::fs::read_dir(path).map_err(|e| format!("{}: {e}", path.display()))?;
        for entry in entries.flatten() {
            // Only real nodes and folders below a folder: no symlinks out of it.
            if entry.file_type().is_ok_and(|t| !t.is_symlink()) {
                node_rules(&entry.path(), access, out)?;
            }
        }
        return Ok(());
    }
    let kind = if ft.is_char_device() {
        'c'
    } else if ft.is_block_device() {
        'b'
    } else {
        return Err(format!("{} is not a device node", path.display()));
    };
    let rdev = meta.rdev();
    out.push(Rule::new(kind, Some(libc::major(rdev)), Some(libc::minor(rdev)), access));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_list_is_dockers() {
        let text: Vec<String> = default_rules().iter().map(Rule::to_string).collect();
        assert_eq!(
            text,
            ["c *:* m", "b *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm", "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 10:200 rwm", "c 136:* rwm"]
        );
    }

    #[test]
    fn entries_add_their_nodes_and_privileged_allows_all() {
        let rules = rules(false, &["/dev/null:/dev/xnull:r".parse().unwrap()]).unwrap();
        assert_eq!(rules.last().unwrap().to_string(), "c 1:3 r");
        assert_eq!(self::rules(true, &[]).unwrap(), [Rule::new('a', None, None, "rwm")]);
        let err = self::rules(false, &["/etc/passwd".parse().unwrap()]).unwrap_err();
        assert!(err.contains("not a device node"), "{err}");
        let err = self::rules(false, &["/dev/hoist-no-such-device".parse().unwrap()]).unwrap_err();
        assert!(err.contains("No such file"), "{err}");
    }
}
