//! A container's /etc/hosts, laid out as Docker writes it: loopback and IPv6 lines first,
//! then one `ip name aliases...` line per entry the caller chose (itself, links, peers).

/// Renders a container's /etc/hosts. `entries` are (ip, names) pairs; empty names are skipped.
pub fn render_hosts(entries: &[(String, Vec<String>)]) -> String {
    let mut out = String::from(
        "127.0.0.1\tlocalhost\n\
         ::1\tlocalhost ip6-localhost ip6-loopback\n\
         fe00::0\tip6-localnet\n\
         ff00::0\tip6-mcastprefix\n\
         ff02::1\tip6-allnodes\n\
         ff02::2\tip6-allrouters\n",
    );
    for (ip, names) in entries {
        // Each name once per line (a service name that is also an alias or a link name
        // would otherwise repeat: `redis p-redis-1 redis p-redis-1`).
        let mut names: Vec<&str> = names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()).collect();
        let mut seen = std::collections::HashSet::new();
        names.retain(|n| seen.insert(*n));
        if ip.trim().is_empty() || names.is_empty() {
            continue;
        }
        out.push_str(&format!("{}\t{}\n", ip.trim(), names.join(" ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_like_layout() {
        let text = render_hosts(&[
            ("10.89.0.2".into(), vec!["abc123".into(), "web".into()]),
            ("10.89.0.3".into(), vec!["ex".into(), "example_1".into()]),
            ("10.89.0.4".into(), vec![]),
            ("10.89.0.5".into(), vec!["redis".into(), "p-redis-1".into(), "redis".into(), "p-redis-1".into()]),
        ]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "127.0.0.1\tlocalhost");
        assert_eq!(lines[1], "::1\tlocalhost ip6-localhost ip6-loopback");
        assert_eq!(lines[6], "10.89.0.2\tabc123 web");
        assert_eq!(lines[7], "10.89.0.3\tex example_1");
        assert_eq!(lines[8], "10.89.0.5\tredis p-redis-1");
        assert_eq!(lines.len(), 9);
    }
}
