//! Keys src/compose/keys.rs marks applied on both backends, observed from inside the
//! container: the same compose file runs on the built-in runtime and on Docker, and
//! what the container's main process sees must be the same. Needs root and dockerd.

mod common;

use common::stack::Stack;

/// Runs the compose file on `backend` and returns what service `probe` printed between
/// BEGIN and END (stderr goes to stdout: two streams may reach the log out of order).
fn observe(backend: &'static str, name: &str, compose: &str) -> String {
    let s = Stack::new(backend, name, compose);
    s.ok(&["up", "-d"]);
    let logs = s.wait_log("probe", "END");
    // `probe-1  | line`: the prefix is the log view's, not the container's.
    let lines: Vec<&str> = logs.lines().map(|l| l.split_once("| ").map_or(l, |(_, r)| r).trim_end()).collect();
    let begin = lines.iter().position(|l| *l == "BEGIN").unwrap_or_else(|| panic!("no BEGIN in\n{logs}"));
    let end = lines.iter().position(|l| *l == "END").unwrap();
    lines[begin + 1..end].join("\n")
}

/// What the probe prints on each backend: (built-in, Docker).
fn on_both(name: &str, service: &str, script: &str) -> (String, String) {
    let compose = format!(
        "services:\n  probe:\n    image: busybox\n{service}    command: [\"sh\", \"-c\", {script:?}]\n",
        script = format!("exec 2>&1; echo BEGIN; {script}; echo END; sleep 300")
    );
    (observe("builtin", name, &compose), observe("docker", name, &compose))
}

#[test]
fn tmpfs_is_nosuid_nodev_noexec() {
    let service = "    tmpfs: [\"/t1:size=4m\"]\n    volumes:\n      - type: tmpfs\n        target: /t2\n";
    // The mount options, and whether a program on the tmpfs may run.
    // (`$$` is a `$` once compose has interpolated the file.)
    let script = "for t in /t1 /t2; do grep \" $$t \" /proc/mounts | cut -d' ' -f1-4; cp /bin/busybox $$t/true; $$t/true 2>/dev/null && echo $$t exec || echo $$t noexec; done";
    let (builtin, docker) = on_both("keystmpfs", service, script);
    assert!(docker.contains("/t1 tmpfs rw,nosuid,nodev,noexec") && docker.contains("/t2 noexec"), "Docker:\n{docker}");
    assert_eq!(builtin, docker);
}

#[test]
fn dns_opt_is_the_options_line() {
    let (builtin, docker) = on_both("keysdnsopt", "    dns_opt: [use-vc, \"timeout:3\"]\n", "grep ^options /etc/resolv.conf");
    assert_eq!(docker, "options use-vc timeout:3 ndots:0");
    assert_eq!(builtin, docker);
    // An ndots of the file's own replaces Docker's ndots:0.
    let (builtin, docker) = on_both("keysdnsndots", "    dns_opt: [\"ndots:2\", rotate]\n", "grep ^options /etc/resolv.conf");
    assert_eq!(docker, "options ndots:2 rotate");
    assert_eq!(builtin, docker);
}

#[test]
fn domainname_gives_the_fqdn() {
    let service = "    hostname: web\n    domainname: example.test\n";
    // The names of the container's own /etc/hosts line (its address differs by backend).
    let script = "grep -w web.example.test /etc/hosts | cut -f2 | cut -d' ' -f1-2; hostname; hostname -f; dnsdomainname";
    let (builtin, docker) = on_both("keysdomain", service, script);
    assert_eq!(docker, "web.example.test web\nweb\nweb.example.test\nexample.test");
    assert_eq!(builtin, docker);
}

#[test]
fn group_add_keeps_the_primary_group() {
    let script = "grep ^Groups /proc/self/status; id";
    let (builtin, docker) = on_both("keysgroups", "    user: \"1000:1000\"\n    group_add: [\"50\"]\n", script);
    assert!(docker.starts_with("Groups:\t50 1000"), "Docker:\n{docker}");
    assert_eq!(builtin, docker);
    // Without group_add the primary group is still the one supplementary group.
    let (builtin, docker) = on_both("keysgroupsplain", "    user: \"1000:1000\"\n", script);
    assert!(docker.starts_with("Groups:\t1000"), "Docker:\n{docker}");
    assert_eq!(builtin, docker);
}
