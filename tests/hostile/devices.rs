//! Hostile inputs: devices and the port proxy. A container that makes a node of a host
//! device must not reach it (the host's kernel log stays free of its canary), through the
//! v1 devices controller and the v2 BPF filter alike; `devices:` entries that are no
//! devices are refused; and clients that leave connections half-closed or reset cannot
//! pile up threads and descriptors in the container's supervisor.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::common::stack::Stack;

/// Everything the host's kernel log holds right now (/dev/kmsg, read without blocking).
fn kernel_log() -> String {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open("/dev/kmsg").expect("reading /dev/kmsg needs root");
    let mut log = String::new();
    let mut buf = vec![0u8; 8192];
    loop {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => log.push_str(&String::from_utf8_lossy(&buf[..n])),
            // EPIPE: a record was overwritten while we read; the next read goes on.
            Err(e) if e.raw_os_error() == Some(libc::EPIPE) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("reading /dev/kmsg: {e}"),
        }
    }
    log
}

/// A block device of the host (`MAJ MIN`), for a node the container makes itself.
fn host_block_device() -> String {
    let entry = std::fs::read_dir("/sys/dev/block").expect("/sys/dev/block").flatten().next().expect("a block device");
    entry.file_name().to_string_lossy().replace(':', " ")
}

#[test]
fn a_container_cannot_write_the_host_kernel_log() {
    let canary = format!("hoist-devices-canary-{}", std::process::id());
    let compose = "services:\n  app:\n    image: busybox:latest\n    command: sleep 3600\n  privileged:\n    image: busybox:latest\n    command: \"true\"\n    privileged: true\n";
    let s = Stack::new("builtin", "hostiledevkmsg", compose);
    s.ok(&["up", "-d", "app"]);
    let disk = host_block_device();
    // The attack, as the container's first process and through exec: make the kmsg node
    // (allowed, as with Docker) and write to it; read a host disk through a node too.
    let attack = format!(
        "mknod /tmp/k c 1 11 || exit 10; echo {canary} > /tmp/k && exit 11; mknod /tmp/d b {disk} || exit 12; head -c 512 /tmp/d > /dev/null && exit 13; exit 0"
    );
    for how in [&["run", "--rm", "-T", "app", "sh", "-c"][..], &["exec", "-T", "app", "sh", "-c"][..]] {
        let mut args = how.to_vec();
        args.push(&attack);
        let out = s.hoist(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{how:?}: the attack got through (or mknod was refused): {err}");
        assert!(err.contains("Operation not permitted"), "{how:?}: {err}");
    }
    assert!(!kernel_log().contains(&canary), "the container wrote into the host's kernel log");

    // The check itself works: a privileged container may (as with Docker).
    let seen = format!("{canary}-privileged");
    s.ok(&["run", "--rm", "-T", "privileged", "sh", "-c", &format!("mknod /tmp/k c 1 11 && echo {seen} > /tmp/k")]);
    assert!(kernel_log().contains(&seen), "a privileged container's write should reach the kernel log");
}

#[test]
fn devices_entries_that_are_no_devices_are_refused() {
    let canary_dir = tempfile::tempdir().unwrap();
    let file = canary_dir.path().join("canary");
    std::fs::write(&file, "untouched").unwrap();
    for (entry, want) in [
        (file.display().to_string() + ":/dev/x", "is not a device node"),
        ("/dev/null:/dev/x:rwx".to_string(), "invalid device permissions"),
        ("/dev/hoist-no-such-device".to_string(), "No such file or directory"),
    ] {
        let compose = format!("services:\n  app:\n    image: busybox:latest\n    command: \"true\"\n    devices:\n      - \"{entry}\"\n");
        let s = Stack::new("builtin", "hostiledevbad", &compose);
        let err = s.fails(&["run", "--rm", "-T", "app"]);
        assert!(err.contains(want) && err.contains("device"), "{entry}: {err}");
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "untouched");
}

/// The state of the service's container (state.json).
fn state(s: &Stack, service: &str) -> serde_json::Value {
    let id = s.id(service);
    let root = std::env::var_os("HOIST_ROOT").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/var/lib/hoist"));
    let dir = std::fs::read_dir(root.join("containers"))
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with(&id))
        .unwrap_or_else(|| panic!("no container directory for {id}"));
    serde_json::from_str(&std::fs::read_to_string(dir.path().join("state.json")).unwrap()).unwrap()
}

/// The supervisor of the service's container (it runs the port proxy).
fn supervisor_pid(s: &Stack, service: &str) -> u32 {
    state(s, service)["supervisor_pid"].as_u64().expect("a supervisor pid") as u32
}

/// The cgroup v2 hierarchy: pure at /sys/fs/cgroup, or beside v1 at /sys/fs/cgroup/unified.
fn v2_root() -> &'static Path {
    ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]
        .into_iter()
        .map(Path::new)
        .find(|root| root.join("cgroup.controllers").exists())
        .expect("this test needs a cgroup v2 hierarchy (pure, or hybrid at /sys/fs/cgroup/unified)")
}

/// The container's groups, from its state: the one under the v2 hierarchy, and the rest.
fn groups(s: &Stack, service: &str) -> (PathBuf, Vec<PathBuf>) {
    let dirs: Vec<PathBuf> = state(s, service)["cgroups"].as_array().expect("cgroups in the state").iter().map(|d| PathBuf::from(d.as_str().unwrap())).collect();
    let v2 = dirs.iter().find(|d| d.parent().and_then(Path::parent) == Some(v2_root())).unwrap_or_else(|| panic!("no group under {} in {dirs:?}", v2_root().display()));
    (v2.clone(), dirs)
}

/// The BPF programs attached to a group, as bpftool lists them.
fn attached_programs(group: &Path) -> String {
    let out = std::process::Command::new("bpftool").arg("cgroup").arg("show").arg(group).output().expect("bpftool is installed (tests/setup.sh)");
    assert!(out.status.success(), "bpftool cgroup show {}: {}", group.display(), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_bpf_device_filter_holds_on_its_own() {
    let canary = format!("hoist-bpf-canary-{}", std::process::id());
    // The first process waits for the v1 list to be lifted, then attacks.
    let attack = format!("mknod /tmp/k c 1 11 || echo mknod=refused; echo {canary} > /tmp/k && echo write=ok || echo write=refused");
    let compose = format!(
        "services:\n  app:\n    image: busybox:latest\n    command: [\"sh\", \"-c\", \"while [ ! -e /tmp/go ]; do sleep 0.1; done; {attack}; sleep 3600\"]\n  \
         privileged:\n    image: busybox:latest\n    command: sleep 3600\n    privileged: true\n"
    );
    let s = Stack::new("builtin", "hostiledevbpf", &compose);
    s.ok(&["up", "-d"]);
    let (v2, dirs) = groups(&s, "app");
    let progs = attached_programs(&v2);
    assert!(progs.contains("cgroup_device") && progs.contains("multi") && progs.contains("hoist_devices"), "{}: {progs}", v2.display());
    let (privileged, _) = groups(&s, "privileged");
    assert!(!attached_programs(&privileged).contains("hoist_devices"), "a privileged container needs no device filter");

    // Both the first process and exec are in the v2 group.
    let member = format!("0::/{}", v2.strip_prefix(v2_root()).unwrap().display());
    let pid = state(&s, "app")["pid"].as_u64().expect("a pid");
    let first = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(first.lines().any(|l| l == member), "the first process is not in {member}:\n{first}");
    let exec = s.ok(&["exec", "-T", "app", "cat", "/proc/self/cgroup"]);
    assert!(exec.lines().any(|l| l == member), "exec is not in {member}:\n{exec}");

    // Lift the v1 list from outside (on a hybrid host): what still refuses is the filter.
    for dir in dirs.iter().filter(|d| d.starts_with("/sys/fs/cgroup/devices")) {
        std::fs::write(dir.join("devices.allow"), "a").unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("devices.list")).unwrap().trim(), "a *:* rwm");
    }
    let out = s.hoist(&["exec", "-T", "app", "sh", "-c", &format!("mknod /tmp/e c 1 11 || exit 10; echo {canary} > /tmp/e && exit 11; exit 0")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "exec: the write got through (or mknod was refused): {err}");
    assert!(err.contains("Operation not permitted"), "exec: {err}");
    s.ok(&["exec", "-T", "app", "touch", "/tmp/go"]);
    let log = s.wait_log("app", "write=");
    assert!(log.contains("write=refused") && log.contains("Operation not permitted") && !log.contains("mknod=refused"), "{log}");
    assert!(!kernel_log().contains(&canary), "the container wrote into the host's kernel log");
}

/// Descriptors and threads of a process.
fn footprint(pid: u32) -> (usize, usize) {
    let count = |what: &str| std::fs::read_dir(format!("/proc/{pid}/{what}")).unwrap().count();
    (count("fd"), count("task"))
}

/// Waits until the footprint is back at (or below) `baseline`.
fn back_to(pid: u32, baseline: (usize, usize), what: &str) {
    let start = Instant::now();
    loop {
        let now = footprint(pid);
        if now.0 <= baseline.0 && now.1 <= baseline.1 {
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "{what}: the proxy keeps {now:?} (fds, threads), baseline {baseline:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Connects through the proxy, retrying while the container's server starts.
fn connect(port: u16) -> TcpStream {
    let start = Instant::now();
    loop {
        if let Ok(c) = TcpStream::connect(("127.0.0.1", port)) {
            // The proxy accepts before the container answers: probe with a read timeout.
            c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            return c;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "port {port} never answered");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Whether the host socket of this client's proxied connection has its keepalive timer
/// armed (/proc/net/tcp: `tr` 2 for the proxy's side, local port `port`).
fn proxy_side_has_keepalive(client: &TcpStream, port: u16) -> bool {
    let mine = client.local_addr().unwrap().port();
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    table.lines().skip(1).any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        let port_of = |a: &str| a.rsplit(':').next().and_then(|p| u16::from_str_radix(p, 16).ok());
        port_of(f[1]) == Some(port) && port_of(f[2]) == Some(mine) && f[5].starts_with("02:")
    })
}

/// Closes with a reset (SO_LINGER 0), as the host of a crashed or killed client does.
fn reset(c: TcpStream) {
    let off = libc::linger { l_onoff: 1, l_linger: 0 };
    // SAFETY: setsockopt on our socket with a valid linger struct.
    let rc = unsafe {
        libc::setsockopt(std::os::fd::AsRawFd::as_raw_fd(&c), libc::SOL_SOCKET, libc::SO_LINGER, (&off as *const libc::linger).cast(), size_of::<libc::linger>() as u32)
    };
    assert_eq!(rc, 0, "SO_LINGER: {}", std::io::Error::last_os_error());
}

#[test]
fn proxy_pairs_end_when_their_clients_leave() {
    let (reply_port, hold_port) = (18631, 18632);
    let compose = format!(
        "services:\n  srv:\n    image: busybox:latest\n    command: [\"sh\", \"-c\", \"nc -ll -p 80 -e sh -c 'cat > /dev/null; echo pong' & nc -ll -p 81 -e sleep 3600\"]\n    \
         ports:\n      - \"127.0.0.1:{reply_port}:80\"\n      - \"127.0.0.1:{hold_port}:81\"\n"
    );
    let s = Stack::new("builtin", "hostileproxy", &compose);
    s.ok(&["up", "-d"]);
    let pid = supervisor_pid(&s, "srv");

    // A client that half-closes still gets the reply; the server's close ends the pair.
    let exchange = || {
        let mut c = connect(reply_port);
        c.write_all(b"ping\n").unwrap();
        c.shutdown(Shutdown::Write).unwrap();
        let mut got = String::new();
        c.read_to_string(&mut got).unwrap();
        got
    };
    let start = Instant::now();
    while exchange() != "pong\n" {
        assert!(start.elapsed() < Duration::from_secs(20), "the server never replied");
        std::thread::sleep(Duration::from_millis(100));
    }
    let baseline = footprint(pid);
    for _ in 0..20 {
        assert_eq!(exchange(), "pong\n");
    }
    back_to(pid, baseline, "half-closed clients");

    // Clients that reset (or half-close, then reset) a connection whose server keeps
    // quiet and never closes: the proxy must drop both sides, not wait for the server.
    let probe = connect(hold_port);
    let start = Instant::now();
    while !proxy_side_has_keepalive(&probe, hold_port) {
        assert!(start.elapsed() < Duration::from_secs(10), "the proxy's socket has no keepalive timer");
        std::thread::sleep(Duration::from_millis(100));
    }
    reset(probe);
    back_to(pid, baseline, "the keepalive probe");
    for i in 0..60 {
        let mut c = connect(hold_port);
        if i % 2 == 0 {
            c.write_all(b"x").unwrap();
            c.shutdown(Shutdown::Write).unwrap();
            // Let the proxy pass the half-close on before the reset.
            std::thread::sleep(Duration::from_millis(20));
        }
        reset(c);
    }
    back_to(pid, baseline, "reset clients of a quiet server");
}
