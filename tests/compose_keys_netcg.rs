//! `mac_address`, `oom_score_adj`, `cgroup_parent` and the local driver's volume
//! `driver_opts`, observed on both backends from inside the container and in the host's
//! cgroup and volume directories, held to what Docker does. Needs root and dockerd.

#[macro_use]
mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::stack::Stack;
use hoist::compose::keys::Backend;
use hoist::compose::{self, LoadOptions};

/// `sh -c SCRIPT` in the service's first container, its stdout trimmed.
fn sh(s: &Stack, service: &str, script: &str) -> String {
    s.ok(&["exec", "-T", service, "sh", "-c", script]).trim().to_string()
}

/// A busybox service that sleeps, with `extra` lines (indented for a service).
fn sleeper(name: &str, extra: &str) -> String {
    format!("  {name}:\n    image: busybox\n    command: sleep 300\n{extra}")
}

fn mac_address(backend: &'static str) {
    let compose = format!(
        "services:\n{}{}networks:\n  front: {{}}\n",
        sleeper("plain", "    mac_address: \"02:42:AC:11:00:99\"\n"),
        sleeper("pernet", "    networks:\n      front:\n        mac_address: 02-42-ac-11-00-a1\n"),
    );
    let s = Stack::new(backend, "netcgmac", &compose);
    s.ok(&["up", "-d"]);
    assert_eq!(sh(&s, "plain", "cat /sys/class/net/eth0/address"), "02:42:ac:11:00:99");
    assert_eq!(sh(&s, "pernet", "cat /sys/class/net/eth0/address"), "02:42:ac:11:00:a1");
}

/// Two networks with an address each: the built-in runtime gives each its own; Docker
/// engines before API 1.44 cannot, and Compose says so (its words).
fn mac_address_per_network(backend: &'static str) {
    let service = "    networks:\n      front:\n        mac_address: \"02:42:ac:11:00:b1\"\n        priority: 10\n      back:\n        mac_address: \"02:42:ac:11:00:b2\"\n";
    let compose = format!("services:\n{}networks:\n  front: {{}}\n  back: {{}}\n", sleeper("two", service));
    let s = Stack::new(backend, "netcgmac2", &compose);
    let api = std::process::Command::new("docker").args(["version", "--format", "{{.Server.APIVersion}}"]).output().expect("docker CLI");
    let old_engine = String::from_utf8_lossy(&api.stdout).trim() < "1.44";
    if backend == "docker" && old_engine {
        let err = s.fails(&["up", "-d"]);
        // Compose names the networks by their keys; the backend knows the engine's names.
        let nets = format!("(it{}_front, it{}_back)", "netcgmac2docker", "netcgmac2docker");
        assert!(err.contains(&format!("a MAC address is specified for multiple networks {nets}, but this feature requires Docker Engine 1.44 or later")), "{err}");
        return;
    }
    s.ok(&["up", "-d"]);
    assert_eq!(sh(&s, "two", "cat /sys/class/net/eth0/address /sys/class/net/eth1/address"), "02:42:ac:11:00:b1\n02:42:ac:11:00:b2");
}

fn oom_score_adj(backend: &'static str) {
    let compose = format!("services:\n{}", sleeper("probe", "    oom_score_adj: 500\n"));
    let s = Stack::new(backend, "netcgoom", &compose);
    s.ok(&["up", "-d"]);
    // The first process, and (as runc) a process exec'd into the container.
    assert_eq!(sh(&s, "probe", "cat /proc/1/oom_score_adj /proc/self/oom_score_adj"), "500\n500");
    // Lowered, as a negative number: where the host lets root lower it (CAP_SYS_RESOURCE;
    // some sandboxes do not, and then runc fails the start as well).
    std::fs::write(s.path().join("docker-compose.yml"), format!("services:\n{}", sleeper("probe", "    oom_score_adj: -300\n"))).unwrap();
    let may_lower = std::process::Command::new("sh").args(["-c", "echo -300 > /proc/self/oom_score_adj"]).status().unwrap().success();
    if may_lower {
        s.ok(&["up", "-d"]);
        assert_eq!(sh(&s, "probe", "cat /proc/1/oom_score_adj"), "-300");
    } else {
        let err = s.fails(&["up", "-d"]);
        assert!(backend == "docker" || err.contains("setting oom_score_adj to -300: Permission denied"), "{err}");
    }
}

/// The controllers both backends make a group in (Docker also uses cpuset and
/// name=systemd), and the v2 hierarchy beside them (`0::`).
const CONTROLLERS: [&str; 8] = ["pids", "devices", "freezer", "blkio", "cpu", "cpuacct", "memory", ""];

fn cgroup_parent(backend: &'static str) {
    let parent = format!("hoistnetcg{backend}");
    let compose = format!("services:\n{}", sleeper("probe", &format!("    cgroup_parent: /{parent}/sub\n")));
    let s = Stack::new(backend, "netcgcg", &compose);
    s.ok(&["up", "-d"]);
    let id = s.id("probe");
    let lines = sh(&s, "probe", "cat /proc/1/cgroup");
    let mut full_id = String::new();
    for ctrl in CONTROLLERS {
        let line = lines.lines().find(|l| l.split(':').nth(1) == Some(ctrl)).unwrap_or_else(|| panic!("no {ctrl:?} line in\n{lines}"));
        let path = line.splitn(3, ':').nth(2).unwrap();
        // Docker's memory group sits below dockerd's own (the parent is read relative to
        // it on this host); the others are at the hierarchy's root.
        let (rest, container) = path.rsplit_once('/').unwrap();
        assert!(rest.ends_with(&format!("/{parent}/sub")), "{ctrl}: {path}");
        assert!(container.starts_with(&id) && container.len() == 64, "{ctrl}: {path} (container {id})");
        full_id = container.to_string();
    }
    let host = |ctrl: &str| Path::new("/sys/fs/cgroup").join(ctrl).join(&parent).join("sub");
    for ctrl in ["pids", "devices", "freezer", "unified"] {
        assert!(host(ctrl).join(&full_id).join("cgroup.procs").exists(), "no group {}", host(ctrl).join(&full_id).display());
    }
    // Removing the container removes its groups and, as Docker, leaves the parent.
    s.ok(&["down", "-t", "1"]);
    for ctrl in ["pids", "devices", "freezer", "unified"] {
        assert!(host(ctrl).exists() && !host(ctrl).join(&full_id).exists(), "{}", host(ctrl).display());
    }
    for ctrl in CONTROLLERS.iter().map(|c| if c.is_empty() { "unified" } else { c }).chain(["cpuset", "systemd"]) {
        let _ = std::fs::remove_dir(host(ctrl));
        let _ = std::fs::remove_dir(Path::new("/sys/fs/cgroup").join(ctrl).join(&parent));
    }
}

/// A bind-typed local volume: the data is the host directory, both ways; the image's
/// content is copied into it when it is empty (Docker does, at create); `down -v` leaves
/// the directory and everything in it.
fn volume_bind_device(backend: &'static str) {
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("canary"), "keep me").unwrap();
    let empty = tempfile::tempdir().unwrap();
    let compose = format!(
        "services:\n{}{}volumes:\n  data:\n    driver_opts: {{type: none, o: bind, device: {}}}\n  seeded:\n    driver_opts: {{type: none, o: bind, device: {}}}\n",
        sleeper("probe", "    volumes: [\"data:/data\"]\n"),
        sleeper("seed", "    volumes: [\"seeded:/etc\"]\n"),
        host.path().display(),
        empty.path().display(),
    );
    let s = Stack::new(backend, "netcgbind", &compose);
    s.ok(&["up", "-d"]);
    assert_eq!(sh(&s, "probe", "cat /data/canary; echo written > /data/new"), "keep me");
    assert_eq!(std::fs::read_to_string(host.path().join("new")).unwrap(), "written\n");
    assert!(empty.path().join("passwd").exists(), "the image's /etc was not copied into the empty device");
    s.ok(&["down", "-v", "-t", "1"]);
    assert_eq!(std::fs::read_to_string(host.path().join("canary")).unwrap(), "keep me");
    assert_eq!(std::fs::read_to_string(host.path().join("new")).unwrap(), "written\n");
    assert!(empty.path().join("passwd").exists());
}

/// A device that does not exist: the start fails with the engine's words.
fn volume_bind_device_missing(backend: &'static str) {
    let gone = std::path::PathBuf::from(format!("/tmp/hoist-netcg-missing-{backend}"));
    let compose = format!(
        "services:\n{}volumes:\n  data:\n    driver_opts: {{type: none, o: bind, device: {}}}\n",
        sleeper("probe", "    volumes: [\"data:/data\"]\n"),
        gone.display()
    );
    let s = Stack::new(backend, "netcgbindgone", &compose);
    let err = s.fails(&["up", "-d"]);
    assert!(err.contains("error while mounting volume") && err.contains(&format!("failed to mount local volume: mount {}:", gone.display())), "{err}");
    assert!(err.contains("no such file or directory"), "{err}");
    assert!(!gone.exists());
}

/// A tmpfs-typed local volume: a tmpfs of that size and owner, empty at each start
/// (Docker's copy of the image goes with the tmpfs it unmounts), executable.
fn volume_tmpfs(backend: &'static str) {
    let compose = format!(
        "services:\n{}volumes:\n  scratch:\n    driver_opts: {{type: tmpfs, device: tmpfs, o: \"size=10m,uid=1000,mode=0700\"}}\n",
        sleeper("probe", "    volumes: [\"scratch:/etc\"]\n"),
    );
    let s = Stack::new(backend, "netcgtmpfs", &compose);
    s.ok(&["up", "-d"]);
    let script = "grep ' /etc ' /proc/mounts | cut -d' ' -f1-4; stat -c '%u %a' /etc; ls /etc | grep -v -e hosts -e hostname -e resolv.conf; echo x > /etc/left";
    let seen = sh(&s, "probe", script);
    assert_eq!(seen, "tmpfs /etc tmpfs rw,relatime,size=10240k,mode=700,uid=1000\n1000 700");
    s.ok(&["restart", "-t", "1"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while s.hoist(&["exec", "-T", "probe", "true"]).status.code() != Some(0) {
        assert!(Instant::now() < deadline, "probe did not come back");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(sh(&s, "probe", "ls /etc/left 2>&1 >/dev/null | wc -l"), "1", "the tmpfs kept its data across a restart");
}

on_both_backends!(mac_address, mac_address_per_network, oom_score_adj, cgroup_parent, volume_bind_device, volume_bind_device_missing, volume_tmpfs);

/// Loads `text` as docker-compose.yml for `backend`, as `up` does: the error, if any.
fn load_error(text: &str, backend: Backend) -> Option<String> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("docker-compose.yml"), text).unwrap();
    let opts = LoadOptions { cwd: Some(dir.path().to_path_buf()), interpolate: true, environment: Some(vec![]), backend: Some(backend), ..Default::default() };
    compose::load_with_warnings(&opts).err().map(|e| e.to_string())
}

/// Values no backend can apply are refused when the file is loaded, with file:line.
#[test]
fn bad_values_are_refused_at_load() {
    let cases: [(&str, &str); 8] = [
        ("    mac_address: 02:42:ac:11:00\n", "docker-compose.yml:4:18: mac_address of service \"probe\": invalid MAC address"),
        ("    mac_address: 01:00:5e:00:00:01\n", "docker-compose.yml:4:18: mac_address of service \"probe\": invalid MAC address \"01:00:5e:00:00:01\": a multicast address"),
        ("    networks:\n      default:\n        mac_address: zz:42:ac:11:00:01\n", "docker-compose.yml:6:22: mac_address of network \"default\""),
        ("    oom_score_adj: 1001\n", "docker-compose.yml:4:20: oom_score_adj of service \"probe\": 1001 is out of range: use -1000 to 1000"),
        ("    cgroup_parent: ../../escape\n", "docker-compose.yml:4:20: cgroup_parent of service \"probe\": invalid cgroup parent \"../../escape\""),
        ("    cgroup_parent: /\n", "docker-compose.yml:4:20: cgroup_parent of service \"probe\": invalid cgroup parent"),
        ("    mac_address: 02:42:ac:11:00:01\n    networks:\n      default:\n        mac_address: 02:42:ac:11:00:02\n", "docker-compose.yml:4:18: service \"probe\": the service-level mac_address should have the same value as network default"),
        ("    volumes: [\"v:/v\"]\nvolumes:\n  v:\n    driver_opts: {type: none, o: bind, device: relative/dir}\n", "docker-compose.yml:7:18: volume \"v\": driver_opts.device \"relative/dir\" of a bind volume must be an absolute path"),
    ];
    for (service, fragment) in cases {
        let text = format!("services:\n  probe:\n    image: busybox\n{service}");
        for backend in [Backend::Builtin, Backend::Docker] {
            let err = load_error(&text, backend).unwrap_or_else(|| panic!("accepted on {backend:?}:\n{text}"));
            assert!(err.contains(fragment), "{backend:?}: {err}");
        }
    }
}

/// `driver_opts` the built-in runtime cannot mount are refused there, with the reason;
/// Docker's local driver takes them.
#[test]
fn other_driver_opts_are_refused_by_the_builtin_runtime() {
    let text = |opts: &str| format!("services:\n  probe:\n    image: busybox\n    volumes: [\"v:/v\"]\nvolumes:\n  v:\n    driver_opts: {opts}\n");
    for opts in ["{type: nfs, o: \"addr=10.0.0.1,rw\", device: \":/export\"}", "{type: none, o: \"bind,noexec\", device: /srv}", "{type: tmpfs, o: noexec}"] {
        let err = load_error(&text(opts), Backend::Builtin).unwrap_or_else(|| panic!("{opts} accepted"));
        assert!(err.contains("docker-compose.yml:7:5: volumes.v.driver_opts: refused by the built-in runtime") && err.contains("type: none"), "{err}");
        assert_eq!(load_error(&text(opts), Backend::Docker), None);
    }
    for opts in ["{type: none, o: \"bind,ro\", device: /srv}", "{type: tmpfs, device: tmpfs, o: \"size=1m,nr_inodes=100\"}"] {
        assert_eq!(load_error(&text(opts), Backend::Builtin), None, "{opts}");
    }
}
