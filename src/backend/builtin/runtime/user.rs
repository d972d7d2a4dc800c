//! Resolves a Docker-style `user[:group]` (names or numbers) against the container's
//! /etc/passwd and /etc/group, the way Docker does (numbers need no entry).

use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedUser {
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups: the primary group, those listing the user in /etc/group,
    /// plus `group_add`.
    pub groups: Vec<u32>,
    pub home: String,
}

struct PasswdEntry {
    name: String,
    uid: u32,
    gid: u32,
    home: String,
}

struct GroupEntry {
    name: String,
    gid: u32,
    members: Vec<String>,
}

fn parse_passwd(text: &str) -> Vec<PasswdEntry> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() < 4 {
                return None;
            }
            Some(PasswdEntry {
                name: f[0].to_string(),
                uid: f[2].parse().ok()?,
                gid: f[3].parse().ok()?,
                home: f.get(5).copied().unwrap_or("/").to_string(),
            })
        })
        .collect()
}

fn parse_group(text: &str) -> Vec<GroupEntry> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() < 3 {
                return None;
            }
            Some(GroupEntry {
                name: f[0].to_string(),
                gid: f[2].parse().ok()?,
                members: f.get(3).map(|m| m.split(',').filter(|s| !s.is_empty()).map(String::from).collect()).unwrap_or_default(),
            })
        })
        .collect()
}

/// `root` is the container's root directory (`/` once inside it).
pub fn resolve(root: &Path, user: Option<&str>, group_add: &[String]) -> Result<ResolvedUser, String> {
    let passwd = parse_passwd(&std::fs::read_to_string(root.join("etc/passwd")).unwrap_or_default());
    let groups = parse_group(&std::fs::read_to_string(root.join("etc/group")).unwrap_or_default());
    let spec = user.filter(|u| !u.is_empty()).unwrap_or("0");
    let (user_part, group_part) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };

    let entry = match user_part.parse::<u32>() {
        Ok(uid) => passwd.iter().find(|p| p.uid == uid),
        Err(_) => Some(
            passwd
                .iter()
                .find(|p| p.name == user_part)
                .ok_or_else(|| format!("unable to find user {user_part}: no matching entries in passwd file"))?,
        ),
    };
    let uid = entry.map(|e| e.uid).unwrap_or_else(|| user_part.parse().unwrap_or(0));
    let name = entry.map(|e| e.name.clone());
    let home = entry.map(|e| e.home.clone()).unwrap_or_else(|| "/".to_string());

    let lookup_group = |g: &str| -> Result<u32, String> {
        match g.parse::<u32>() {
            Ok(gid) => Ok(gid),
            Err(_) => groups
                .iter()
                .find(|e| e.name == g)
                .map(|e| e.gid)
                .ok_or_else(|| format!("unable to find group {g}: no matching entries in group file")),
        }
    };
    let gid = match group_part {
        Some(g) if !g.is_empty() => lookup_group(g)?,
        _ => entry.map(|e| e.gid).unwrap_or(0),
    };

    // Docker (runc) lists the primary group among the supplementary ones too.
    let mut supplementary = vec![gid];
    // As Docker: only a user named by /etc/passwd and no explicit group gets its memberships.
    if group_part.is_none()
        && let Some(name) = &name
    {
        supplementary.extend(groups.iter().filter(|g| g.members.iter().any(|m| m == name)).map(|g| g.gid));
    }
    for g in group_add {
        supplementary.push(lookup_group(g)?);
    }
    supplementary.sort_unstable();
    supplementary.dedup();
    Ok(ResolvedUser { uid, gid, groups: supplementary, home })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("etc")).unwrap();
        std::fs::write(d.path().join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\napp:x:1000:1000::/home/app:/bin/sh\n").unwrap();
        std::fs::write(d.path().join("etc/group"), "root:x:0:\nnogroup:x:65534:\napp:x:1000:\nwheel:x:10:app\n").unwrap();
        d
    }

    #[test]
    fn names_numbers_and_groups() {
        let r = root();
        assert_eq!(resolve(r.path(), None, &[]).unwrap().uid, 0);
        let app = resolve(r.path(), Some("app"), &[]).unwrap();
        assert_eq!((app.uid, app.gid, app.groups.clone(), app.home.as_str()), (1000, 1000, vec![10, 1000], "/home/app"));
        let n = resolve(r.path(), Some("65534"), &[]).unwrap();
        assert_eq!((n.uid, n.gid), (65534, 65534));
        let unknown = resolve(r.path(), Some("4242:nogroup"), &["wheel".into()]).unwrap();
        assert_eq!((unknown.uid, unknown.gid, unknown.groups), (4242, 65534, vec![10, 65534]));
        assert!(resolve(r.path(), Some("ghost"), &[]).unwrap_err().contains("unable to find user ghost"));
    }
}
