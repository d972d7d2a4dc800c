//! Built-in networking against the real kernel: bridges, veths, namespaces, NAT rules and
//! the port proxy. These tests need root (CAP_NET_ADMIN, mounts, iptables); CI runs as root.
//! Every test uses its own state root and network names and cleans up through a Drop guard.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hoist::backend::builtin::network::{
    DEFAULT_BRIDGE, Endpoint, NetError, NetworkManager, PortForward, ipam::Subnet, nat, netns, proxy,
};
use hoist::backend::{NetworkAttachment, NetworkSpec};
use hoist::compose::model::IpamConfig;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Owns a state root, a runtime and everything a test creates; undoes it all on drop.
struct Env {
    rt: tokio::runtime::Runtime,
    dir: tempfile::TempDir,
    mgr: NetworkManager,
    tag: String,
    networks: Vec<String>,
    bridges: Vec<String>,
    containers: Vec<(String, PathBuf, Vec<String>)>,
    links: Vec<String>,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let mgr = NetworkManager::open(dir.path()).unwrap();
        let tag = format!("t{}x{}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst));
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        Env { rt, dir, mgr, tag, networks: vec![], bridges: vec![], containers: vec![], links: vec![] }
    }

    fn spec(&self, key: &str) -> NetworkSpec {
        NetworkSpec {
            name: format!("{}_{key}", self.tag),
            project: self.tag.clone(),
            key: key.into(),
            driver: None,
            internal: false,
            attachable: false,
            subnets: vec![],
            labels: Default::default(),
            external: false,
        }
    }

    /// Creates a network and remembers it (and its bridge) for cleanup.
    fn network(&mut self, spec: NetworkSpec) -> hoist::backend::builtin::network::NetworkRecord {
        self.networks.push(spec.name.clone());
        self.rt.block_on(self.mgr.ensure_network(&spec)).unwrap();
        let rec = self.mgr.network(&spec.name).unwrap().expect("record written");
        self.bridges.push(rec.bridge.clone());
        rec
    }

    /// A container stand-in: a fresh netns attached to `networks`.
    fn container(&mut self, name: &str, networks: &[&str]) -> (String, PathBuf, Vec<Endpoint>) {
        let id = format!("{}{name}", self.tag);
        let path = self.dir.path().join(format!("netns-{name}"));
        self.containers.push((id.clone(), path.clone(), networks.iter().map(|n| n.to_string()).collect()));
        self.mgr.create_netns(&path).unwrap();
        let atts: Vec<NetworkAttachment> = networks
            .iter()
            .map(|n| NetworkAttachment { network: n.to_string(), aliases: vec![name.into()], ipv4_address: None, mac_address: None })
            .collect();
        let eps = self.rt.block_on(self.mgr.attach(&id, &path, &atts)).unwrap();
        self.links.extend(eps.iter().map(|e| e.veth_host.clone()));
        (id, path, eps)
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        for (id, path, networks) in &self.containers {
            let _ = self.rt.block_on(self.mgr.detach(id, networks));
            let _ = self.mgr.remove_netns(path);
        }
        for n in &self.networks {
            let _ = self.rt.block_on(self.mgr.remove_network(n));
        }
        // Belt and braces for a test that failed halfway.
        for l in self.links.iter().chain(&self.bridges) {
            let _ = Command::new("ip").args(["link", "del", l]).output();
            let _ = nat::remove_bridge_rules(self.mgr.firewall(), l);
        }
    }
}

fn sh(cmd: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(cmd).args(args).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

fn in_ns(path: &Path, cmd: &[&str]) -> (bool, String) {
    let net = format!("--net={}", path.display());
    let args: Vec<&str> = [net.as_str()].into_iter().chain(cmd.iter().copied()).collect();
    sh("nsenter", &args)
}

fn link_exists(name: &str) -> bool {
    sh("ip", &["link", "show", "dev", name]).0
}

/// Serves one TCP connection inside `ns`: echoes until EOF, then closes.
fn tcp_echo_in(ns: &Path, port: u16) -> std::thread::JoinHandle<()> {
    let (tx, rx) = std::sync::mpsc::channel();
    let ns = ns.to_path_buf();
    let h = std::thread::spawn(move || {
        netns::run_in(Some(&ns), move || {
            let l = TcpListener::bind(("0.0.0.0", port)).unwrap();
            tx.send(()).unwrap();
            let (mut c, _) = l.accept().unwrap();
            let mut buf = Vec::new();
            c.read_to_end(&mut buf).unwrap();
            c.write_all(&buf).unwrap();
            Ok(())
        })
        .unwrap();
    });
    rx.recv_timeout(Duration::from_secs(5)).expect("server bound");
    h
}

#[test]
fn namespaces_on_one_network_reach_each_other() {
    let mut env = Env::new();
    let rec = env.network(env.spec("default"));
    let (_, a, ea) = env.container("a", &[&rec.name]);
    let (_, b, eb) = env.container("b", &[&rec.name]);
    assert!(rec.subnet.contains(ea[0].ip) && rec.subnet.contains(eb[0].ip));
    assert_ne!(ea[0].ip, eb[0].ip);
    assert!(!rec.subnet.overlaps(&"172.17.0.0/16".parse().unwrap()));
    assert!(rec.bridge.len() <= 15 && rec.bridge.starts_with("hs-"));

    // Interface naming, MAC, default route via the gateway, lo up.
    let (_, addr) = in_ns(&a, &["ip", "addr", "show", "dev", "eth0"]);
    assert!(addr.contains(&format!("{}/{}", ea[0].ip, ea[0].prefix_len)), "{addr}");
    assert!(addr.contains(&ea[0].mac), "{addr}");
    let (_, routes) = in_ns(&a, &["ip", "route"]);
    assert!(routes.contains(&format!("default via {} dev eth0", rec.gateway)), "{routes}");
    let (ok, _) = in_ns(&a, &["busybox", "ping", "-c", "1", "-W", "2", "127.0.0.1"]);
    assert!(ok, "lo is up");

    let (ok, out) = in_ns(&a, &["busybox", "ping", "-c", "1", "-W", "3", &eb[0].ip.to_string()]);
    assert!(ok, "ping a -> b: {out}");

    let server = tcp_echo_in(&b, 80);
    let target = (eb[0].ip, 80u16);
    let reply = netns::run_in(Some(&a), move || {
        let mut s = TcpStream::connect_timeout(&target.into(), Duration::from_secs(5)).unwrap();
        s.write_all(b"over the bridge").unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        Ok(out)
    })
    .unwrap();
    assert_eq!(reply, "over the bridge");
    server.join().unwrap();

    // The host reaches containers over the bridge too (the proxy relies on it).
    let (ok, out) = sh("busybox", &["ping", "-c", "1", "-W", "3", &ea[0].ip.to_string()]);
    assert!(ok, "host -> a: {out}");
    let listed = env.mgr.list_networks(Some(&env.tag)).unwrap();
    assert_eq!(listed.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(), vec![rec.name.as_str()]);
    assert!(env.mgr.list_networks(Some("no-such-project")).unwrap().is_empty());
}

#[test]
fn proxy_forwards_tcp_and_udp_from_localhost() {
    let mut env = Env::new();
    let rec = env.network(env.spec("default"));
    let (_, ns, eps) = env.container("web", &[&rec.name]);
    let ip = eps[0].ip;

    let server = tcp_echo_in(&ns, 8080);
    // UDP echo of one datagram inside the namespace.
    let (tx, rx) = std::sync::mpsc::channel();
    let ns2 = ns.clone();
    let udp_server = std::thread::spawn(move || {
        netns::run_in(Some(&ns2), move || {
            let s = UdpSocket::bind("0.0.0.0:5353").unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            tx.send(()).unwrap();
            let mut buf = [0u8; 512];
            let (n, from) = s.recv_from(&mut buf).unwrap();
            s.send_to(&buf[..n], from).unwrap();
            Ok(())
        })
        .unwrap()
    });
    rx.recv_timeout(Duration::from_secs(5)).unwrap();

    let fwd = |port, proto: &str| PortForward {
        host_ip: "127.0.0.1".into(),
        host_port: 0,
        container_ip: ip,
        container_port: port,
        protocol: proto.into(),
    };
    let bound = proxy::bind(&[fwd(8080, "tcp"), fwd(5353, "udp")]).unwrap();
    let (tcp_port, udp_port) = (bound.forwards[0].host_port, bound.forwards[1].host_port);
    assert!(tcp_port > 0 && udp_port > 0);
    proxy::serve(bound);

    let mut s = TcpStream::connect(("127.0.0.1", tcp_port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"hello through the proxy").unwrap();
    // Half-close: the server only answers after seeing EOF.
    s.shutdown(Shutdown::Write).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert_eq!(out, "hello through the proxy");
    server.join().unwrap();

    let c = UdpSocket::bind("127.0.0.1:0").unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.send_to(b"ping", ("127.0.0.1", udp_port)).unwrap();
    let mut buf = [0u8; 64];
    let (n, from) = c.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"ping");
    assert_eq!(from.port(), udp_port);
    udp_server.join().unwrap();
}

#[test]
fn port_in_use_is_reported() {
    // No root needed.
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let f = PortForward {
        host_ip: "127.0.0.1".into(),
        host_port: port,
        container_ip: Ipv4Addr::new(10, 0, 0, 2),
        container_port: 80,
        protocol: "tcp".into(),
    };
    match proxy::bind(std::slice::from_ref(&f)) {
        Err(NetError::PortInUse(addr)) => assert_eq!(addr, format!("127.0.0.1:{port}")),
        other => panic!("expected PortInUse, got {:?}", other.map(|b| b.forwards)),
    }
    let taken_all = TcpListener::bind("0.0.0.0:0").unwrap();
    let port = taken_all.local_addr().unwrap().port();
    let f = PortForward { host_ip: String::new(), host_port: port, ..f };
    match proxy::bind(&[f]) {
        Err(NetError::PortInUse(addr)) => assert_eq!(addr, format!("0.0.0.0:{port}")),
        other => panic!("expected PortInUse, got {:?}", other.map(|b| b.forwards)),
    }
}

#[test]
fn removal_leaves_nothing_behind() {
    let mut env = Env::new();
    let rec = env.network(env.spec("default"));
    let (id, ns, eps) = env.container("gone", &[&rec.name]);
    let veth = eps[0].veth_host.clone();
    assert!(link_exists(&rec.bridge) && link_exists(&veth));
    assert!(netns::is_mounted(&ns));
    if env.mgr.firewall() != nat::Firewall::Missing {
        assert!(!nat::rules_mentioning(env.mgr.firewall(), &rec.bridge).is_empty());
    }

    env.rt.block_on(env.mgr.detach(&id, std::slice::from_ref(&rec.name))).unwrap();
    assert!(!link_exists(&veth));
    assert!(env.mgr.network(&rec.name).unwrap().unwrap().endpoints.is_empty(), "address released");
    env.mgr.remove_netns(&ns).unwrap();
    env.mgr.remove_netns(&ns).unwrap(); // idempotent
    env.rt.block_on(env.mgr.remove_network(&rec.name)).unwrap();

    assert!(!link_exists(&rec.bridge));
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap();
    assert!(!mounts.contains(&*ns.to_string_lossy()));
    assert!(!ns.exists());
    let (_, saved) = sh("iptables-save", &[]);
    assert!(!saved.contains(&rec.bridge), "rules left: {saved}");
    assert!(!saved.contains(&rec.subnet.to_string()));
    assert!(env.mgr.network(&rec.name).unwrap().is_none());
    assert!(env.mgr.list_networks(None).unwrap().is_empty());
}

#[test]
fn subnets_avoid_host_routes_and_docker() {
    let mut env = Env::new();
    // Occupy the subnet hoist would hand out next with a link of our own (a bridge: the
    // dummy module may be missing in containers).
    let next = hoist::backend::builtin::network::ipam::allocate_subnet(
        &hoist::backend::builtin::network::ipam::host_route_subnets().unwrap(),
    )
    .unwrap();
    let dummy = format!("hd{}", &env.tag[..env.tag.len().min(12)]);
    env.links.push(dummy.clone());
    assert!(sh("ip", &["link", "add", &dummy, "type", "bridge"]).0);
    let addr = format!("{}/{}", Ipv4Addr::from(next.network() + 1), next.prefix_len);
    assert!(sh("ip", &["addr", "add", &addr, "dev", &dummy]).0);
    assert!(sh("ip", &["link", "set", &dummy, "up"]).0);

    let rec = env.network(env.spec("auto"));
    assert!(!rec.subnet.overlaps(&next), "{} overlaps the host's {next}", rec.subnet);
    assert!(!rec.subnet.overlaps(&"172.17.0.0/16".parse::<Subnet>().unwrap()));
    for r in hoist::backend::builtin::network::ipam::host_route_subnets().unwrap() {
        assert!(r == rec.subnet || !r.overlaps(&rec.subnet), "{} overlaps host route {r}", rec.subnet);
    }

    // An explicit subnet that collides with a host route is refused.
    let mut spec = env.spec("explicit");
    spec.subnets = vec![IpamConfig { subnet: next.to_string(), gateway: None, ip_range: None }];
    env.networks.push(spec.name.clone());
    let err = env.rt.block_on(env.mgr.ensure_network(&spec)).unwrap_err();
    // Refused either way: it overlaps a host route, or another state root already claimed it.
    assert!(err.to_string().contains("overlaps") || err.to_string().contains("in use"), "{err}");

    // A free explicit subnet and gateway are honoured; static addresses are given out.
    let mut spec = env.spec("fixed");
    spec.subnets = vec![IpamConfig { subnet: "10.123.45.0/24".into(), gateway: Some("10.123.45.254".into()), ip_range: None }];
    let fixed = env.network(spec);
    assert_eq!(fixed.subnet.to_string(), "10.123.45.0/24");
    assert_eq!(fixed.gateway, Ipv4Addr::new(10, 123, 45, 254));
    let id = format!("{}static", env.tag);
    let path = env.dir.path().join("netns-static");
    env.containers.push((id.clone(), path.clone(), vec![fixed.name.clone()]));
    env.mgr.create_netns(&path).unwrap();
    let att = NetworkAttachment { network: fixed.name.clone(), aliases: vec![], ipv4_address: Some("10.123.45.77".into()), mac_address: None };
    let eps = env.rt.block_on(env.mgr.attach(&id, &path, &[att])).unwrap();
    env.links.push(eps[0].veth_host.clone());
    assert_eq!(eps[0].ip, Ipv4Addr::new(10, 123, 45, 77));
    let (_, routes) = in_ns(&path, &["ip", "route"]);
    assert!(routes.contains("default via 10.123.45.254"), "{routes}");
}

#[test]
fn internal_networks_have_no_way_out() {
    let mut env = Env::new();
    let mut spec = env.spec("back");
    spec.internal = true;
    let internal = env.network(spec);
    let (_, ns, _) = env.container("db", &[&internal.name]);
    let (_, routes) = in_ns(&ns, &["ip", "route"]);
    assert!(!routes.contains("default"), "{routes}");
    let (_, saved) = sh("iptables-save", &[]);
    assert!(
        !saved.lines().any(|l| l.contains("MASQUERADE") && l.contains(&internal.subnet.to_string())),
        "internal network got NAT"
    );

    // Internal first, routed second: the default route goes through the second (eth1).
    let public = env.network(env.spec("front"));
    let (_, ns, eps) = env.container("app", &[&internal.name, &public.name]);
    assert_eq!(eps.len(), 2);
    let (_, routes) = in_ns(&ns, &["ip", "route"]);
    assert!(routes.contains(&format!("default via {} dev eth1", public.gateway)), "{routes}");
    assert!(routes.contains("dev eth0"), "{routes}");
}

#[test]
fn external_networks_must_exist() {
    let mut env = Env::new();
    let mut spec = env.spec("shared");
    spec.external = true;
    env.networks.push(spec.name.clone());
    let err = env.rt.block_on(env.mgr.ensure_network(&spec)).unwrap_err();
    assert!(err.to_string().contains("external"), "{err}");
    assert!(env.mgr.network(&spec.name).unwrap().is_none());

    let created = env.network(NetworkSpec { external: false, ..spec.clone() });
    env.rt.block_on(env.mgr.ensure_network(&spec)).unwrap();
    // Idempotent: same subnet the second time.
    assert_eq!(env.mgr.network(&spec.name).unwrap().unwrap().subnet, created.subnet);
    let mut other = env.spec("weird");
    other.driver = Some("overlay".into());
    assert!(env.rt.block_on(env.mgr.ensure_network(&other)).is_err());
}

#[test]
fn netns_survives_and_can_be_entered() {
    use std::os::unix::fs::MetadataExt;
    let env = Env::new();
    let path = env.dir.path().join("ns");
    env.mgr.create_netns(&path).unwrap();
    assert!(netns::is_mounted(&path));
    assert!(env.mgr.create_netns(&path).is_err(), "second create on a live namespace");
    let want = std::fs::metadata(&path).unwrap().ino();
    let host = std::fs::metadata("/proc/self/ns/net").unwrap().ino();
    assert_ne!(want, host);
    let inside = netns::run_in(Some(&path), || Ok(std::fs::metadata("/proc/thread-self/ns/net").unwrap().ino())).unwrap();
    assert_eq!(inside, want);
    // The calling thread did not move.
    assert_eq!(std::fs::metadata("/proc/thread-self/ns/net").unwrap().ino(), host);
    env.mgr.remove_netns(&path).unwrap();
    assert!(!netns::is_mounted(&path) && !path.exists());
}

#[test]
fn cleanup_stale_removes_leftovers() {
    let mut env = Env::new();
    let rec = env.network(env.spec("default"));
    let (live_id, _, live_eps) = env.container("alive", &[&rec.name]);
    let (_, _, dead_eps) = env.container("dead", &[&rec.name]);
    let orphan = env.network(env.spec("orphan"));
    // A crash lost the orphan network's record.
    std::fs::remove_file(env.mgr.root().join(format!("{}.json", orphan.name))).unwrap();

    env.rt.block_on(env.mgr.cleanup_stale(std::slice::from_ref(&live_id))).unwrap();
    assert!(link_exists(&live_eps[0].veth_host));
    assert!(!link_exists(&dead_eps[0].veth_host));
    let now = env.mgr.network(&rec.name).unwrap().unwrap();
    assert_eq!(now.endpoints.keys().collect::<Vec<_>>(), vec![&live_id]);
    assert!(link_exists(&rec.bridge));
    assert!(!link_exists(&orphan.bridge));
    assert!(nat::rules_mentioning(env.mgr.firewall(), &orphan.bridge).is_empty());
}

#[test]
fn default_bridge_is_created_on_demand() {
    // Shares the host-wide `hoist0` with other state roots, so it only checks what it made.
    let mut env = Env::new();
    env.networks.push(DEFAULT_BRIDGE.into());
    let (_, ns, eps) = env.container("legacy", &[DEFAULT_BRIDGE]);
    assert!(link_exists("hoist0"));
    let rec = env.mgr.network(DEFAULT_BRIDGE).unwrap().unwrap();
    assert!(rec.subnet.contains(eps[0].ip));
    let (_, routes) = in_ns(&ns, &["ip", "route"]);
    assert!(routes.contains(&format!("default via {}", rec.gateway)), "{routes}");
}

#[test]
fn nft_rules_come_and_go() {
    // Native nft is the fallback when iptables is missing; exercise it directly.
    // tests/setup.sh installs nftables: without it this test fails rather than skip.
    assert!(Path::new("/usr/sbin/nft").exists(), "nft is not installed (apt-get install nftables)");
    let bridge = format!("hs-n{}", std::process::id() % 100_000);
    let subnet: Subnet = "10.201.7.0/24".parse().unwrap();
    nat::add_bridge_rules(nat::Firewall::Nft, &bridge, &subnet, false).unwrap();
    nat::add_bridge_rules(nat::Firewall::Nft, &bridge, &subnet, false).unwrap();
    let rules = nat::rules_mentioning(nat::Firewall::Nft, &bridge);
    assert_eq!(rules.iter().filter(|r| r.contains("masquerade")).count(), 1, "{rules:#?}");
    nat::remove_bridge_rules(nat::Firewall::Nft, &bridge).unwrap();
    assert!(nat::rules_mentioning(nat::Firewall::Nft, &bridge).is_empty());
}

#[test]
fn parallel_attaches_get_distinct_addresses() {
    let mut env = Env::new();
    let rec = env.network(env.spec("default"));
    let mut jobs = Vec::new();
    for i in 0..4 {
        let id = format!("{}p{i}", env.tag);
        let path = env.dir.path().join(format!("netns-p{i}"));
        env.mgr.create_netns(&path).unwrap();
        env.containers.push((id.clone(), path.clone(), vec![rec.name.clone()]));
        jobs.push((id, path));
    }
    let att = [NetworkAttachment { network: rec.name.clone(), aliases: vec![], ipv4_address: None, mac_address: None }];
    let results = env.rt.block_on(futures::future::join_all(jobs.iter().map(|(id, path)| env.mgr.attach(id, path, &att))));
    let mut ips = std::collections::BTreeSet::new();
    for r in results {
        let eps = r.unwrap();
        env.links.push(eps[0].veth_host.clone());
        ips.insert(eps[0].ip);
    }
    assert_eq!(ips.len(), 4);
    let (id0, _) = &jobs[0];
    let mine = env.mgr.container_addresses(id0).unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].0, rec.name);
    assert!(ips.contains(&mine[0].1));
    assert_eq!(env.mgr.network(&rec.name).unwrap().unwrap().endpoints.len(), 4);
    // Routed networks masquerade their subnet; different networks are isolated.
    let (_, saved) = sh("iptables-save", &[]);
    assert!(saved.lines().any(|l| l.contains("MASQUERADE") && l.contains(&rec.subnet.to_string())), "no NAT rule");
    let other = env.network(env.spec("other"));
    let (_, a, _) = env.container("iso-a", &[&rec.name]);
    let (_, _, eb) = env.container("iso-b", &[&other.name]);
    let (ok, _) = in_ns(&a, &["busybox", "ping", "-c", "1", "-W", "1", &eb[0].ip.to_string()]);
    assert!(!ok, "networks must not reach each other");
}

#[test]
fn lost_bridge_is_rebuilt_on_attach() {
    // After a host reboot the records remain but bridges and rules are gone.
    let mut env = Env::new();
    let rec = env.network(env.spec("default"));
    assert!(sh("ip", &["link", "del", &rec.bridge]).0);
    nat::remove_bridge_rules(env.mgr.firewall(), &rec.bridge).unwrap();
    let (_, a, _) = env.container("after-a", &[&rec.name]);
    let (_, _, eb) = env.container("after-b", &[&rec.name]);
    assert!(link_exists(&rec.bridge));
    let (ok, out) = in_ns(&a, &["busybox", "ping", "-c", "1", "-W", "3", &eb[0].ip.to_string()]);
    assert!(ok, "{out}");
    assert!(!nat::rules_mentioning(env.mgr.firewall(), &rec.bridge).is_empty());
}

#[test]
fn outbound_traffic_is_masqueraded() {
    // An "outside" host in its own namespace, reachable from the host over a veth pair but
    // with no route back to container subnets: only NAT lets a container talk to it.
    let mut env = Env::new();
    let rec = env.network(env.spec("default"));
    let (_, ns, _) = env.container("client", &[&rec.name]);
    let outside = env.dir.path().join("netns-outside");
    env.mgr.create_netns(&outside).unwrap();
    env.containers.push((format!("{}none", env.tag), outside.clone(), vec![]));
    let (host_end, out_end) = (format!("ho{}", env.tag), format!("hi{}", env.tag));
    env.links.push(host_end.clone());
    let n = std::process::id() % 250;
    let (host_ip, out_ip) = (format!("10.251.{n}.1"), format!("10.251.{n}.2"));
    for cmd in [
        vec!["link", "add", &host_end, "type", "veth", "peer", "name", &out_end],
        vec!["addr", "add", &format!("{host_ip}/30"), "dev", &host_end],
        vec!["link", "set", &host_end, "up"],
    ] {
        assert!(sh("ip", &cmd).0, "ip {cmd:?}");
    }
    // Move the peer with `ip` (test scaffolding only) through an open fd of the namespace.
    use std::os::fd::AsRawFd;
    let f = std::fs::File::open(&outside).unwrap();
    let fd_path = format!("/proc/{}/fd/{}", std::process::id(), f.as_raw_fd());
    assert!(sh("ip", &["link", "set", &out_end, "netns", &fd_path]).0);
    for cmd in [
        vec!["ip", "addr", "add", &format!("{out_ip}/30"), "dev", &out_end],
        vec!["ip", "link", "set", &out_end, "up"],
        vec!["ip", "link", "set", "lo", "up"],
    ] {
        let (ok, out) = in_ns(&outside, &cmd);
        assert!(ok, "{cmd:?}: {out}");
    }

    let (tx, rx) = std::sync::mpsc::channel();
    let server_ns = outside.clone();
    let server = std::thread::spawn(move || {
        netns::run_in(Some(&server_ns), move || {
            let l = TcpListener::bind("0.0.0.0:7000").unwrap();
            tx.send(()).unwrap();
            let (mut c, peer) = l.accept().unwrap();
            c.write_all(peer.ip().to_string().as_bytes()).unwrap();
            Ok(())
        })
        .unwrap()
    });
    rx.recv_timeout(Duration::from_secs(5)).unwrap();
    let target: std::net::SocketAddr = format!("{out_ip}:7000").parse().unwrap();
    let seen = netns::run_in(Some(&ns), move || {
        let mut s = TcpStream::connect_timeout(&target, Duration::from_secs(5))
            .map_err(|e| NetError::failed("connecting out", e.to_string()))?;
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        Ok(out)
    })
    .unwrap();
    server.join().unwrap();
    assert_eq!(seen, host_ip, "the outside saw the host's address, not the container's");
}
