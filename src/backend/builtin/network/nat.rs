//! Forwarding and outbound NAT for bridges, through `iptables` (preferred: it shares the
//! FORWARD chain with dockerd) or native `nft`; every rule carries a `hoist:<bridge>` comment
//! so it can be found and removed without keeping state.

use std::process::Command;

use super::ipam::Subnet;
use super::{NetError, Result};

const FORWARD_CHAIN: &str = "HOIST-FORWARD";
const NAT_CHAIN: &str = "HOIST-POSTROUTING";
const NFT_TABLE: &str = "hoist";
/// Every project bridge (`hs-<hash>`), in iptables' interface wildcard syntax.
const BRIDGE_WILDCARD: &str = "hs-+";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Firewall {
    Iptables,
    Nft,
    /// Neither tool exists: bridges work, but containers cannot reach the outside.
    Missing,
}

impl Firewall {
    /// `HOIST_FIREWALL=iptables|nft|none` overrides the detection.
    pub fn detect() -> Firewall {
        match std::env::var("HOIST_FIREWALL").as_deref() {
            Ok("iptables") => return Firewall::Iptables,
            Ok("nft") => return Firewall::Nft,
            Ok("none") => return Firewall::Missing,
            _ => {}
        }
        if tool_exists("iptables") {
            Firewall::Iptables
        } else if tool_exists("nft") {
            Firewall::Nft
        } else {
            Firewall::Missing
        }
    }
}

fn tool_exists(name: &str) -> bool {
    ["/usr/sbin", "/sbin", "/usr/bin", "/bin", "/usr/local/sbin", "/usr/local/bin"]
        .iter()
        .any(|d| std::path::Path::new(d).join(name).exists())
}

/// Turns on IPv4 forwarding (needed for NAT out of the bridges).
pub fn enable_ip_forward() -> Result<()> {
    let path = "/proc/sys/net/ipv4/ip_forward";
    if std::fs::read_to_string(path).map(|s| s.trim() == "1").unwrap_or(false) {
        return Ok(());
    }
    std::fs::write(path, "1").map_err(|e| NetError::io("enabling net.ipv4.ip_forward", e))
}

fn tag(bridge: &str) -> String {
    format!("hoist:{bridge}")
}

fn run(tool: &str, args: &[&str]) -> Result<String> {
    let out = Command::new(tool).args(args).output().map_err(|e| NetError::io(format!("running {tool}"), e))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(NetError::failed(
            format!("{tool} {}", args.join(" ")),
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ))
    }
}

/// (table, chain, rule) triples for one bridge.
fn iptables_rules(bridge: &str, subnet: &Subnet, internal: bool) -> Vec<(&'static str, &'static str, Vec<String>)> {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let c = tag(bridge);
    let net = subnet.to_string();
    let mut rules = vec![("filter", FORWARD_CHAIN, s(&["-i", bridge, "-o", bridge, "-m", "comment", "--comment", &c, "-j", "ACCEPT"]))];
    if internal {
        // Internal networks talk among themselves only.
        rules.push(("filter", FORWARD_CHAIN, s(&["-i", bridge, "!", "-o", bridge, "-m", "comment", "--comment", &c, "-j", "DROP"])));
        rules.push(("filter", FORWARD_CHAIN, s(&["-o", bridge, "!", "-i", bridge, "-m", "comment", "--comment", &c, "-j", "DROP"])));
    } else {
        // Networks are isolated from each other, as Docker's are: only the way out is open.
        for other in [BRIDGE_WILDCARD, super::DEFAULT_BRIDGE_DEVICE] {
            rules.push(("filter", FORWARD_CHAIN, s(&["-i", bridge, "-o", other, "-m", "comment", "--comment", &c, "-j", "DROP"])));
        }
        rules.push(("filter", FORWARD_CHAIN, s(&["-i", bridge, "!", "-o", bridge, "-m", "comment", "--comment", &c, "-j", "ACCEPT"])));
        rules.push((
            "filter",
            FORWARD_CHAIN,
            s(&["-o", bridge, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-m", "comment", "--comment", &c, "-j", "ACCEPT"]),
        ));
        rules.push(("nat", NAT_CHAIN, s(&["-s", &net, "!", "-o", bridge, "-m", "comment", "--comment", &c, "-j", "MASQUERADE"])));
    }
    rules
}

/// The ruleset as `iptables-save` prints it, by table (`filter`, `nat`, ...).
fn iptables_save() -> Result<std::collections::BTreeMap<String, Vec<String>>> {
    let text = run("iptables-save", &[])?;
    let mut tables = std::collections::BTreeMap::new();
    let mut current = String::new();
    for line in text.lines() {
        if let Some(t) = line.strip_prefix('*') {
            current = t.trim().to_string();
        } else if !current.is_empty() {
            tables.entry(current.clone()).or_insert_with(Vec::new).push(line.to_string());
        }
    }
    Ok(tables)
}

/// Applies `lines` per table in one `iptables-restore --noflush` transaction: one process
/// and one commit, where a command per rule cost ~20 ms each (iptables-nft reads the
/// whole ruleset every time).
fn iptables_restore(lines: &std::collections::BTreeMap<&str, Vec<String>>) -> Result<()> {
    let mut script = String::new();
    for (table, lines) in lines.iter().filter(|(_, l)| !l.is_empty()) {
        script += &format!("*{table}\n");
        for l in lines {
            script += l;
            script.push('\n');
        }
        script += "COMMIT\n";
    }
    if script.is_empty() {
        return Ok(());
    }
    run_with_input("iptables-restore", &["-w", "--noflush"], &script).map_err(|e| match e {
        NetError::Failed { message, .. } => NetError::failed(format!("iptables-restore of\n{script}"), message),
        e => e,
    })
}

/// Runs `tool ARGS` with `input` on its stdin; its stderr is the error.
fn run_with_input(tool: &str, args: &[&str], input: &str) -> Result<()> {
    use std::io::Write;
    let mut child = Command::new(tool)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| NetError::io(format!("running {tool}"), e))?;
    child.stdin.take().map(|mut i| i.write_all(input.as_bytes()));
    let out = child.wait_with_output().map_err(|e| NetError::io(format!("running {tool}"), e))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(NetError::failed(format!("{tool} {}", args.join(" ")), String::from_utf8_lossy(&out.stderr).trim().to_string()))
    }
}

/// The `-D` lines removing every rule of `saved` tagged `tag`, by table.
fn iptables_deletions(saved: &std::collections::BTreeMap<String, Vec<String>>, tag: &str) -> std::collections::BTreeMap<&'static str, Vec<String>> {
    let mut out = std::collections::BTreeMap::new();
    for (table, chain) in [("filter", FORWARD_CHAIN), ("nat", NAT_CHAIN)] {
        let prefix = format!("-A {chain} ");
        let lines = saved.get(table).map(Vec::as_slice).unwrap_or_default();
        let deletions: Vec<String> = lines.iter().filter(|l| l.starts_with(&prefix) && rule_has_tag(l, tag)).map(|l| format!("-D{}", &l[2..])).collect();
        out.insert(table, deletions);
    }
    out
}

fn nft_setup() -> Result<()> {
    let script = format!(
        "table ip {NFT_TABLE} {{\n\
           chain forward {{ type filter hook forward priority -1; policy accept; }}\n\
           chain postrouting {{ type nat hook postrouting priority 100; policy accept; }}\n\
         }}\n"
    );
    nft_script(&script)
}

fn nft_script(script: &str) -> Result<()> {
    run_with_input("nft", &["-f", "-"], script)
}

/// Installs the forwarding (and, unless internal, masquerade) rules of one bridge. Idempotent.
pub fn add_bridge_rules(fw: Firewall, bridge: &str, subnet: &Subnet, internal: bool) -> Result<()> {
    match fw {
        Firewall::Missing => {
            eprintln!("warning: neither iptables nor nft found: containers on {bridge} get no NAT to the outside");
            Ok(())
        }
        Firewall::Iptables => {
            // One transaction: our chains and the jumps to them (at the top of FORWARD,
            // ahead of a DROP policy or dockerd's rules) when missing, this bridge's old
            // rules out and its rules in. Callers hold the host-wide network lock.
            let saved = iptables_save()?;
            let mut lines = iptables_deletions(&saved, &tag(bridge));
            for (table, chain, parent) in [("filter", FORWARD_CHAIN, "FORWARD"), ("nat", NAT_CHAIN, "POSTROUTING")] {
                let have = saved.get(table).map(Vec::as_slice).unwrap_or_default();
                let mut head = Vec::new();
                if !have.iter().any(|l| l.starts_with(&format!(":{chain} "))) {
                    head.push(format!(":{chain} - [0:0]"));
                }
                if !have.iter().any(|l| *l == format!("-A {parent} -j {chain}")) {
                    head.push(format!("-I {parent} 1 -j {chain}"));
                }
                let entry = lines.entry(table).or_default();
                entry.splice(0..0, head);
            }
            for (table, chain, rule) in iptables_rules(bridge, subnet, internal) {
                let words: Vec<String> = rule.iter().map(|w| if w.is_empty() || w.contains(char::is_whitespace) { format!("\"{w}\"") } else { w.clone() }).collect();
                lines.entry(table).or_default().push(format!("-A {chain} {}", words.join(" ")));
            }
            iptables_restore(&lines)
        }
        Firewall::Nft => {
            nft_setup()?;
            // Re-adding would duplicate: start from a clean slate for this bridge.
            remove_bridge_rules(fw, bridge)?;
            let c = tag(bridge);
            let mut script = format!("add rule ip {NFT_TABLE} forward iifname \"{bridge}\" oifname \"{bridge}\" accept comment \"{c}\"\n");
            if internal {
                script += &format!("add rule ip {NFT_TABLE} forward iifname \"{bridge}\" drop comment \"{c}\"\n");
                script += &format!("add rule ip {NFT_TABLE} forward oifname \"{bridge}\" drop comment \"{c}\"\n");
            } else {
                for other in ["hs-*", super::DEFAULT_BRIDGE_DEVICE] {
                    script += &format!("add rule ip {NFT_TABLE} forward iifname \"{bridge}\" oifname \"{other}\" drop comment \"{c}\"\n");
                }
                script += &format!("add rule ip {NFT_TABLE} forward iifname \"{bridge}\" accept comment \"{c}\"\n");
                script += &format!(
                    "add rule ip {NFT_TABLE} forward oifname \"{bridge}\" ct state related,established accept comment \"{c}\"\n"
                );
                script += &format!(
                    "add rule ip {NFT_TABLE} postrouting ip saddr {subnet} oifname != \"{bridge}\" masquerade comment \"{c}\"\n"
                );
            }
            nft_script(&script)
        }
    }
}

/// Removes every rule tagged for `bridge`. Missing chains/tables are fine.
pub fn remove_bridge_rules(fw: Firewall, bridge: &str) -> Result<()> {
    let c = tag(bridge);
    match fw {
        Firewall::Missing => Ok(()),
        Firewall::Iptables => iptables_restore(&iptables_deletions(&iptables_save()?, &c)),
        Firewall::Nft => {
            for chain in ["forward", "postrouting"] {
                let Ok(listing) = run("nft", &["-a", "list", "chain", "ip", NFT_TABLE, chain]) else { continue };
                for line in listing.lines().filter(|l| l.contains(&format!("comment \"{c}\""))) {
                    if let Some(handle) = line.rsplit("# handle ").next().filter(|h| h.trim().parse::<u64>().is_ok()) {
                        run("nft", &["delete", "rule", "ip", NFT_TABLE, chain, "handle", handle.trim()])?;
                    }
                }
            }
            Ok(())
        }
    }
}

/// Whether an `iptables -S` line carries exactly this comment (not a longer bridge name).
fn rule_has_tag(line: &str, tag: &str) -> bool {
    line.split_whitespace().collect::<Vec<_>>().windows(2).any(|w| w[0] == "--comment" && w[1].trim_matches('"') == tag)
}

/// Every rule line (iptables-save or nft ruleset) mentioning `bridge`; empty means clean.
pub fn rules_mentioning(fw: Firewall, bridge: &str) -> Vec<String> {
    let text = match fw {
        Firewall::Iptables => run("iptables-save", &[]).unwrap_or_default(),
        Firewall::Nft => run("nft", &["list", "ruleset"]).unwrap_or_default(),
        Firewall::Missing => String::new(),
    };
    text.lines().filter(|l| l.contains(bridge)).map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_match_is_exact() {
        let line = "-A HOIST-FORWARD -i hs-abc -o hs-abc -m comment --comment hoist:hs-abc -j ACCEPT";
        assert!(rule_has_tag(line, "hoist:hs-abc"));
        assert!(!rule_has_tag(line, "hoist:hs-ab"));
    }

    #[test]
    fn internal_networks_get_no_masquerade() {
        let subnet: Subnet = "10.89.9.0/24".parse().unwrap();
        assert!(iptables_rules("hs-x", &subnet, true).iter().all(|(t, _, _)| *t != "nat"));
        assert!(iptables_rules("hs-x", &subnet, false).iter().any(|(t, _, r)| *t == "nat" && r.contains(&"MASQUERADE".to_string())));
    }
}
