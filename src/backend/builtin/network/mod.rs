//! Built-in networking: Linux bridges with managed subnets, a persistent network namespace
//! per container wired with a veth pair, NAT, /etc/hosts rendering and the port proxy.

pub mod bridge;
pub mod hosts;
pub mod ipam;
pub mod nat;
pub mod netns;
pub mod proxy;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use indexmap::IndexMap;
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::backend::{NetworkAttachment, NetworkSpec, NetworkSummary};
use crate::compose::validate::{check_name, NameKind};
use bridge::Netlink;
use ipam::Subnet;
use nat::Firewall;

pub use hosts::render_hosts;

#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("{context}: {message}")]
    Failed { context: String, message: String },
    #[error("{0}: port is already allocated")]
    PortInUse(String),
    #[error("network {0} not found")]
    NetworkNotFound(String),
    /// A network name that is not a name (`../x`, `a/b`): refused before it becomes a path.
    #[error("{0}")]
    InvalidName(String),
}

impl NetError {
    pub fn failed(context: impl Into<String>, message: impl Into<String>) -> Self {
        NetError::Failed { context: context.into(), message: message.into() }
    }
    pub fn io(context: impl Into<String>, e: std::io::Error) -> Self {
        NetError::failed(context, e.to_string())
    }
    pub fn sys(context: impl Into<String>, e: nix::errno::Errno) -> Self {
        NetError::failed(context, e.desc())
    }
}

pub type Result<T> = std::result::Result<T, NetError>;

/// A container's address on one network.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Endpoint {
    pub network: String,
    pub ip: Ipv4Addr,
    pub prefix_len: u8,
    pub gateway: Ipv4Addr,
    pub mac: String,
    pub veth_host: String,
}

/// One published port, as the supervisor's proxy serves it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PortForward {
    pub host_ip: String,
    /// 0 before binding: a free port is chosen.
    pub host_port: u16,
    pub container_ip: Ipv4Addr,
    pub container_port: u16,
    /// `tcp` or `udp`.
    pub protocol: String,
}

/// The name of the network legacy v1 projects use (Docker's default `bridge`).
pub const DEFAULT_BRIDGE: &str = "bridge";
/// The Linux bridge behind `DEFAULT_BRIDGE`.
pub const DEFAULT_BRIDGE_DEVICE: &str = "hoist0";

/// Serializes subnet allocation and firewall edits across every hoist process on the host
/// (different state roots still share the host's address space and iptables).
const HOST_LOCK: &str = "/run/hoist/network.lock";
/// Subnets claimed by every state root on the host (see `ipam::HostClaim`).
const HOST_SUBNETS: &str = "/var/lib/hoist/host-subnets.json";

/// `<root>/networks/<name>.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NetworkRecord {
    pub name: String,
    pub id: String,
    pub project: String,
    pub driver: String,
    pub internal: bool,
    pub attachable: bool,
    pub subnet: Subnet,
    pub gateway: Ipv4Addr,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_range: Option<Subnet>,
    /// Linux bridge device, at most 15 characters.
    pub bridge: String,
    pub labels: IndexMap<String, String>,
    pub created: DateTime<Utc>,
    /// Container id → its address here.
    #[serde(default)]
    pub endpoints: BTreeMap<String, EndpointRecord>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EndpointRecord {
    pub ip: Ipv4Addr,
    pub veth_host: String,
}

pub struct NetworkManager {
    root: PathBuf,
    inner: Inner,
}

/// What the worker threads need; cheap to clone into them.
#[derive(Clone)]
struct Inner {
    root: PathBuf,
    /// The state root, identifying our links among other roots' (see `alias_*`).
    state_root: String,
    fw: Firewall,
}

/// Runs blocking network work on its own thread and awaits it without stalling the runtime.
async fn off_thread<T, F>(f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.await.map_err(|_| NetError::failed("network worker", "thread panicked"))?
}

impl NetworkManager {
    /// State under `<state root>/networks`.
    pub fn open(state_root: &Path) -> Result<Self> {
        let root = state_root.join("networks");
        std::fs::create_dir_all(&root).map_err(|e| NetError::io(format!("creating {}", root.display()), e))?;
        let state_root = std::fs::canonicalize(state_root).unwrap_or_else(|_| state_root.to_path_buf());
        let inner = Inner { root: root.clone(), state_root: state_root.to_string_lossy().into_owned(), fw: Firewall::detect() };
        Ok(NetworkManager { root, inner })
    }
    pub fn root(&self) -> &Path {
        &self.root
    }
    /// The firewall tool in use (`Missing` means no NAT).
    pub fn firewall(&self) -> Firewall {
        self.inner.fw
    }
    /// Records the network (allocating a subnet) and creates its bridge if missing. Idempotent.
    pub async fn ensure_network(&self, spec: &NetworkSpec) -> Result<()> {
        let (me, spec) = (self.inner.clone(), spec.clone());
        off_thread(move || me.ensure_network(&spec).map(|_| ())).await
    }
    /// Removes the bridge, its NAT rules and its record (callers ensure no container uses it).
    /// A network that does not exist is not an error.
    pub async fn remove_network(&self, name: &str) -> Result<()> {
        let (me, name) = (self.inner.clone(), name.to_string());
        off_thread(move || me.remove_network(&name)).await
    }
    pub fn list_networks(&self, project: Option<&str>) -> Result<Vec<NetworkSummary>> {
        Ok(self
            .inner
            .records()?
            .into_iter()
            .filter(|r| project.is_none_or(|p| r.project == p))
            .map(|r| NetworkSummary {
                name: r.name,
                id: r.id,
                driver: r.driver,
                labels: r.labels,
            })
            .collect())
    }
    /// The full record of one network, if it exists.
    pub fn network(&self, name: &str) -> Result<Option<NetworkRecord>> {
        self.inner.read_record(name)
    }
    /// A container's addresses as recorded: (network, ip), for /etc/hosts and inspect.
    pub fn container_addresses(&self, container_id: &str) -> Result<Vec<(String, Ipv4Addr)>> {
        Ok(self
            .inner
            .records()?
            .into_iter()
            .filter_map(|r| r.endpoints.get(container_id).map(|e| (r.name.clone(), e.ip)))
            .collect())
    }
    /// Every container's recorded addresses, read once: container id → (network, ip).
    pub fn all_addresses(&self) -> Result<std::collections::HashMap<String, Vec<(String, Ipv4Addr)>>> {
        let mut out: std::collections::HashMap<String, Vec<(String, Ipv4Addr)>> = std::collections::HashMap::new();
        for r in self.inner.records()? {
            for (id, e) in &r.endpoints {
                out.entry(id.clone()).or_default().push((r.name.clone(), e.ip));
            }
        }
        Ok(out)
    }
    /// Bytes a container received and sent on its networks, from the counters of the
    /// host ends of its veths (what the host end receives, the container sent).
    pub fn container_traffic(&self, container_id: &str) -> (u64, u64) {
        let counter = |veth: &str, name: &str| -> u64 {
            std::fs::read_to_string(format!("/sys/class/net/{veth}/statistics/{name}")).ok().and_then(|v| v.trim().parse().ok()).unwrap_or(0)
        };
        let (mut rx, mut tx) = (0, 0);
        for r in self.inner.records().unwrap_or_default() {
            if let Some(e) = r.endpoints.get(container_id) {
                rx += counter(&e.veth_host, "tx_bytes");
                tx += counter(&e.veth_host, "rx_bytes");
            }
        }
        (rx, tx)
    }
    /// Creates a persistent network namespace bound at `netns_path` (like `ip netns add`).
    pub fn create_netns(&self, netns_path: &Path) -> Result<()> {
        netns::create(netns_path)
    }
    /// Unmounts and removes a namespace made by `create_netns`; no error if already gone.
    pub fn remove_netns(&self, netns_path: &Path) -> Result<()> {
        netns::remove(netns_path)
    }
    /// Wires the namespace into each network (veth, address, default route via the first
    /// non-internal one). `DEFAULT_BRIDGE` is a valid network name and is created on demand.
    pub async fn attach(&self, container_id: &str, netns_path: &Path, networks: &[NetworkAttachment]) -> Result<Vec<Endpoint>> {
        let me = self.inner.clone();
        let (id, path, nets) = (container_id.to_string(), netns_path.to_path_buf(), networks.to_vec());
        off_thread(move || {
            let made = me.attach(&id, &path, &nets);
            if made.is_err() {
                let names: Vec<String> = nets.iter().map(|n| n.network.clone()).collect();
                let _ = me.detach(&id, &names);
            }
            made
        })
        .await
    }
    /// Removes the container's veths on `networks` (and any other its records list) and
    /// releases its addresses.
    pub async fn detach(&self, container_id: &str, networks: &[String]) -> Result<()> {
        let (me, id, nets) = (self.inner.clone(), container_id.to_string(), networks.to_vec());
        off_thread(move || me.detach(&id, &nets)).await
    }
    /// Releases the container's addresses without deleting its veths: for a container
    /// whose namespace is removed next. The kernel then deletes the pairs with the
    /// namespace, in one batch for all namespaces that die together, instead of one
    /// request per container each waiting for an RCU grace period under the RTNL lock.
    pub async fn release(&self, container_id: &str) -> Result<()> {
        let (me, id) = (self.inner.clone(), container_id.to_string());
        off_thread(move || me.release(&id).map(|_| ())).await
    }
    /// Removes anything a crashed run left behind for containers not in `live_ids`, and
    /// bridges of this state root whose network record is gone.
    pub async fn cleanup_stale(&self, live_ids: &[String]) -> Result<()> {
        let (me, live) = (self.inner.clone(), live_ids.to_vec());
        off_thread(move || me.cleanup_stale(&live)).await
    }
}

fn short_hash(parts: &[&str], len: usize) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    hex::encode(h.finalize())[..len].to_string()
}

fn lock_file(path: &Path) -> Result<Flock<File>> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| NetError::io(format!("creating {}", dir.display()), e))?;
    }
    let f = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| NetError::io(format!("opening lock {}", path.display()), e))?;
    Flock::lock(f, FlockArg::LockExclusive).map_err(|(_, e)| NetError::sys(format!("locking {}", path.display()), e))
}

/// Docker-style locally administered MAC derived from the IP, stable across restarts.
fn mac_for(ip: Ipv4Addr) -> [u8; 6] {
    let o = ip.octets();
    [0x02, 0x42, o[0], o[1], o[2], o[3]]
}

fn mac_string(mac: [u8; 6]) -> String {
    mac.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

/// `name` if it is a network name by the loader's rules (`validate::check_name`): names
/// become file names here and parts of link aliases, so a caller that forgot to check
/// must not reach out of the records directory (`../x`) or split an alias (`a:b`).
fn valid(name: &str) -> Result<&str> {
    check_name(NameKind::Network, name).map_err(NetError::InvalidName)?;
    Ok(name)
}

impl Inner {
    fn record_path(&self, name: &str) -> Result<PathBuf> {
        Ok(self.root.join(format!("{}.json", valid(name)?)))
    }

    fn root_lock(&self) -> Result<Flock<File>> {
        lock_file(&self.root.join(".lock"))
    }

    fn read_record(&self, name: &str) -> Result<Option<NetworkRecord>> {
        let path = self.record_path(name)?;
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| NetError::failed(format!("reading {}", path.display()), e.to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(NetError::io(format!("reading {}", path.display()), e)),
        }
    }

    fn write_record(&self, rec: &NetworkRecord) -> Result<()> {
        let path = self.record_path(&rec.name)?;
        let tmp = self.root.join(format!(".{}.json.tmp", rec.name));
        let bytes = serde_json::to_vec_pretty(rec).map_err(|e| NetError::failed("encoding network record", e.to_string()))?;
        // A full disk must not leave a half-written file behind.
        let written = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, &path));
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written.map_err(|e| NetError::io(format!("writing {}", path.display()), e))
    }

    fn records(&self) -> Result<Vec<NetworkRecord>> {
        let dir = std::fs::read_dir(&self.root).map_err(|e| NetError::io(format!("listing {}", self.root.display()), e))?;
        let mut out = Vec::new();
        for entry in dir.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            // Temporary files (`.x.json.tmp`) and anything else that is not a record.
            let Some(name) = name.strip_suffix(".json").filter(|n| check_name(NameKind::Network, n).is_ok()) else { continue };
            if let Some(rec) = self.read_record(name)? {
                out.push(rec);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn bridge_name(&self, network: &str) -> String {
        if network == DEFAULT_BRIDGE {
            DEFAULT_BRIDGE_DEVICE.to_string()
        } else {
            format!("hs-{}", short_hash(&[&self.state_root, network], 10))
        }
    }

    // Link aliases: `hoist:bridge:<network>:<root>` and `hoist:veth:<id>:<network>:<root>`.
    fn alias_bridge(&self, network: &str) -> String {
        format!("hoist:bridge:{network}:{}", self.state_root)
    }
    /// The host end of the container's veth pair on `network`.
    fn veth_host(&self, id: &str, network: &str) -> String {
        format!("hv-{}", short_hash(&[&self.state_root, id, network], 10))
    }
    fn alias_veth(&self, id: &str, network: &str) -> String {
        format!("hoist:veth:{id}:{network}:{}", self.state_root)
    }

    fn ensure_network(&self, spec: &NetworkSpec) -> Result<NetworkRecord> {
        let path = self.record_path(&spec.name)?;
        match spec.driver.as_deref() {
            None | Some("bridge") => {}
            Some(other) => {
                return Err(NetError::failed(
                    format!("creating network {}", spec.name),
                    format!("driver {other:?} is not supported by the built-in runtime (only bridge)"),
                ));
            }
        }
        let _host = lock_file(Path::new(HOST_LOCK))?;
        let _root = self.root_lock()?;
        if let Some(rec) = self.read_record(&spec.name)? {
            self.realize(&rec)?;
            return Ok(rec);
        }
        if spec.external {
            return Err(NetError::failed(
                format!("network {} declared as external", spec.name),
                "could not be found; create it first",
            ));
        }
        let others = self.records()?;
        let bridge = self.bridge_name(&spec.name);
        let (subnet, gateway, ip_range) = self.choose_subnet(spec, &bridge, &others)?;
        let rec = NetworkRecord {
            name: spec.name.clone(),
            id: short_hash(&[&self.state_root, &spec.name, &Utc::now().to_rfc3339()], 64),
            project: spec.project.clone(),
            driver: "bridge".into(),
            internal: spec.internal,
            attachable: spec.attachable,
            subnet,
            gateway,
            ip_range,
            bridge,
            labels: spec.labels.clone(),
            created: Utc::now(),
            endpoints: BTreeMap::new(),
        };
        self.write_record(&rec)?;
        let claim = ipam::HostClaim { subnet: rec.subnet, state_root: self.state_root.clone(), network: rec.name.clone() };
        if let Err(e) = ipam::add_host_claim(Path::new(HOST_SUBNETS), claim) {
            let _ = std::fs::remove_file(&path);
            return Err(e);
        }
        if let Err(e) = self.realize(&rec) {
            let _ = self.unrealize(&rec);
            let _ = std::fs::remove_file(&path);
            return Err(e);
        }
        Ok(rec)
    }

    fn choose_subnet(&self, spec: &NetworkSpec, bridge: &str, others: &[NetworkRecord]) -> Result<(Subnet, Ipv4Addr, Option<Subnet>)> {
        let context = || format!("creating network {}", spec.name);
        let host_routes = ipam::host_route_subnets()?;
        let claims: Vec<ipam::HostClaim> = ipam::host_claims(Path::new(HOST_SUBNETS))
            .into_iter()
            .filter(|c| !(c.state_root == self.state_root && c.network == spec.name))
            .collect();
        if let Some(c) = claims.iter().find(|c| spec.subnets.iter().any(|s| s.subnet.parse::<Subnet>().is_ok_and(|s| s.overlaps(&c.subnet)))) {
            return Err(NetError::failed(context(), format!("subnet {} is in use by network {} of {}", c.subnet, c.network, c.state_root)));
        }
        if let Some(cfg) = spec.subnets.iter().find(|c| !c.subnet.contains(':')) {
            let subnet: Subnet = cfg.subnet.parse()?;
            if let Some(o) = others.iter().find(|o| o.subnet.overlaps(&subnet)) {
                return Err(NetError::failed(context(), format!("subnet {subnet} overlaps network {} ({})", o.name, o.subnet)));
            }
            // Routes through our own (leftover) bridge are not a conflict.
            let ours = self.bridge_subnets(bridge)?;
            if let Some(r) = host_routes.iter().find(|r| r.overlaps(&subnet) && !ours.contains(r)) {
                return Err(NetError::failed(context(), format!("subnet {subnet} overlaps the host route {r}")));
            }
            let gateway = match &cfg.gateway {
                Some(g) => g.parse().map_err(|_| NetError::failed(context(), format!("invalid gateway {g:?}")))?,
                None => subnet.first_host(),
            };
            if !subnet.contains(gateway) {
                return Err(NetError::failed(context(), format!("gateway {gateway} is outside {subnet}")));
            }
            let range = cfg.ip_range.as_deref().map(str::parse::<Subnet>).transpose()?;
            return Ok((subnet, gateway, range));
        }
        // An existing default bridge (another state root made it) keeps its address.
        if spec.name == DEFAULT_BRIDGE
            && let Some((ip, len)) = self.bridge_addresses(bridge)?.into_iter().next()
        {
            return Ok((Subnet::new(ip, len), ip, None));
        }
        let mut used: Vec<Subnet> = host_routes;
        used.extend(others.iter().map(|o| o.subnet));
        used.extend(claims.iter().map(|c| c.subnet));
        let subnet = ipam::allocate_subnet(&used)?;
        Ok((subnet, subnet.first_host(), None))
    }

    fn bridge_addresses(&self, bridge: &str) -> Result<Vec<(Ipv4Addr, u8)>> {
        let bridge = bridge.to_string();
        netns::run_in(None, move || {
            let nl = Netlink::open()?;
            match nl.link(&bridge)? {
                Some(l) => nl.ipv4_addresses(l.index),
                None => Ok(vec![]),
            }
        })
    }

    fn bridge_subnets(&self, bridge: &str) -> Result<Vec<Subnet>> {
        Ok(self.bridge_addresses(bridge)?.into_iter().map(|(ip, len)| Subnet::new(ip, len)).collect())
    }

    /// Makes the host match a record: bridge with gateway, up; forwarding and NAT rules.
    fn realize(&self, rec: &NetworkRecord) -> Result<()> {
        // Someone else took the subnet while our bridge was gone: routing would be ambiguous.
        if let Some((dev, r)) = ipam::host_routes()?.into_iter().find(|(dev, r)| *dev != rec.bridge && r.overlaps(&rec.subnet)) {
            return Err(NetError::failed(
                format!("setting up network {}", rec.name),
                format!("its subnet {} now overlaps {r} on {dev}; remove and recreate the network", rec.subnet),
            ));
        }
        let (bridge, alias, gw, len) = (rec.bridge.clone(), self.alias_bridge(&rec.name), rec.gateway, rec.subnet.prefix_len);
        netns::run_in(None, move || Netlink::open()?.ensure_bridge(&bridge, &alias, gw, len))?;
        if !rec.internal {
            nat::enable_ip_forward()?;
        }
        nat::add_bridge_rules(self.fw, &rec.bridge, &rec.subnet, rec.internal)
    }

    fn unrealize(&self, rec: &NetworkRecord) -> Result<()> {
        let bridge = rec.bridge.clone();
        let shared = rec.name == DEFAULT_BRIDGE;
        let veths: Vec<String> = rec.endpoints.values().map(|e| e.veth_host.clone()).collect();
        netns::run_in(None, move || {
            let nl = Netlink::open()?;
            for v in &veths {
                nl.delete(v)?;
            }
            // `hoist0` is shared by every state root: keep it while others still use it.
            if shared
                && let Some(br) = nl.link(&bridge)?
                && nl.links()?.iter().any(|l| l.controller == Some(br.index))
            {
                return Ok(());
            }
            nl.delete(&bridge)
        })?;
        nat::remove_bridge_rules(self.fw, &rec.bridge)
    }

    fn remove_network(&self, name: &str) -> Result<()> {
        let path = self.record_path(name)?;
        let _host = lock_file(Path::new(HOST_LOCK))?;
        let _root = self.root_lock()?;
        let Some(rec) = self.read_record(name)? else { return Ok(()) };
        self.unrealize(&rec)?;
        std::fs::remove_file(&path).map_err(|e| NetError::io(format!("removing network record {name}"), e))?;
        ipam::remove_host_claim(Path::new(HOST_SUBNETS), &self.state_root, name)
    }

    fn attach(&self, id: &str, netns_path: &Path, nets: &[NetworkAttachment]) -> Result<Vec<Endpoint>> {
        // Records first (creating the default bridge on demand), so we know who is internal.
        let mut records = Vec::new();
        for att in nets {
            let rec = match self.read_record(&att.network)? {
                Some(rec) => rec,
                None if att.network == DEFAULT_BRIDGE => self.ensure_network(&default_bridge_spec())?,
                None => return Err(NetError::NetworkNotFound(att.network.clone())),
            };
            records.push(rec);
        }
        let default_route = records.iter().position(|r| !r.internal);
        let mut endpoints = Vec::new();
        for (i, (att, rec)) in nets.iter().zip(&records).enumerate() {
            // After a host reboot the record outlives the bridge.
            if !self.link_exists(&rec.bridge)? {
                let _host = lock_file(Path::new(HOST_LOCK))?;
                self.realize(rec)?;
            }
            let veth_host = self.veth_host(id, &rec.name);
            let ip = self.allocate(id, &rec.name, att.ipv4_address.as_deref(), &veth_host)?;
            let ns = File::open(netns_path).map_err(|e| NetError::io(format!("opening {}", netns_path.display()), e))?;
            // The file's address, else one derived from the IP as Docker derives it.
            let mac = att.mac_address.map_or_else(|| mac_for(ip), |m| m.0);
            let gateway = (default_route == Some(i)).then_some(rec.gateway);
            let (ifname, len) = (format!("eth{i}"), rec.subnet.prefix_len);
            let (h, name, alias, br) = (veth_host.clone(), ifname.clone(), self.alias_veth(id, &rec.name), rec.bridge.clone());
            netns::run_in(None, move || Netlink::open()?.create_veth(&h, &name, mac, &alias, &br, &ns))?;
            netns::run_in(Some(netns_path), move || Netlink::open()?.configure_endpoint(&ifname, ip, len, gateway))?;
            endpoints.push(Endpoint {
                network: rec.name.clone(),
                ip,
                prefix_len: rec.subnet.prefix_len,
                gateway: rec.gateway,
                mac: mac_string(mac),
                veth_host,
            });
        }
        Ok(endpoints)
    }

    fn link_exists(&self, name: &str) -> Result<bool> {
        let name = name.to_string();
        netns::run_in(None, move || Ok(Netlink::open()?.link(&name)?.is_some()))
    }

    /// Reserves an address for the container (its previous one if it still has one).
    fn allocate(&self, id: &str, network: &str, wanted: Option<&str>, veth_host: &str) -> Result<Ipv4Addr> {
        let _root = self.root_lock()?;
        let mut rec = self.read_record(network)?.ok_or_else(|| NetError::NetworkNotFound(network.to_string()))?;
        let context = || format!("assigning an address on network {network}");
        let taken: BTreeSet<Ipv4Addr> = rec.endpoints.iter().filter(|(k, _)| k.as_str() != id).map(|(_, e)| e.ip).collect();
        let ip = match wanted.map(str::trim).filter(|w| !w.is_empty()) {
            Some(w) => {
                let ip: Ipv4Addr = w.parse().map_err(|_| NetError::failed(context(), format!("invalid IPv4 address {w:?}")))?;
                if !rec.subnet.contains(ip) || ip == rec.gateway {
                    return Err(NetError::failed(context(), format!("{ip} is not a usable address of {}", rec.subnet)));
                }
                if taken.contains(&ip) {
                    return Err(NetError::failed(context(), format!("address {ip} is already in use")));
                }
                ip
            }
            None => match rec.endpoints.get(id) {
                Some(e) => e.ip,
                None => ipam::allocate_ip(&rec.subnet, rec.ip_range.as_ref(), rec.gateway, &taken)?,
            },
        };
        rec.endpoints.insert(id.to_string(), EndpointRecord { ip, veth_host: veth_host.to_string() });
        self.write_record(&rec)?;
        Ok(ip)
    }

    /// Drops the container's endpoints from the network records; returns their veths.
    fn release(&self, id: &str) -> Result<Vec<String>> {
        // Only the records need the lock: deleting links is slow (the kernel waits for an
        // RCU grace period per device) and must not serialize other containers' work.
        let _root = self.root_lock()?;
        let mut veths = Vec::new();
        for mut rec in self.records()? {
            if let Some(e) = rec.endpoints.remove(id) {
                veths.push(e.veth_host);
                self.write_record(&rec)?;
            }
        }
        Ok(veths)
    }

    fn detach(&self, id: &str, networks: &[String]) -> Result<()> {
        // Veth names follow from the container and the network, so links whose record
        // entry never got written (a crash mid-attach) are found without listing all links.
        let mut veths: Vec<String> = networks.iter().map(|n| self.veth_host(id, n)).collect();
        veths.extend(self.release(id)?);
        veths.sort();
        veths.dedup();
        netns::run_in(None, move || {
            let nl = Netlink::open()?;
            for v in &veths {
                nl.delete(v)?;
            }
            Ok(())
        })
    }

    fn cleanup_stale(&self, live: &[String]) -> Result<()> {
        let _host = lock_file(Path::new(HOST_LOCK))?;
        let _root = self.root_lock()?;
        let live: BTreeSet<&str> = live.iter().map(String::as_str).collect();
        let mut doomed_links = Vec::new();
        let records = self.records()?;
        for rec in &records {
            let mut rec = rec.clone();
            let stale: Vec<String> = rec.endpoints.keys().filter(|k| !live.contains(k.as_str())).cloned().collect();
            for id in &stale {
                if let Some(e) = rec.endpoints.remove(id) {
                    doomed_links.push(e.veth_host);
                }
            }
            if !stale.is_empty() {
                self.write_record(&rec)?;
            }
        }
        let known: BTreeSet<String> = records.iter().map(|r| r.name.clone()).collect();
        let root_suffix = format!(":{}", self.state_root);
        let links = netns::run_in(None, || Netlink::open()?.links())?;
        let mut doomed_bridges = Vec::new();
        for l in links {
            let Some(body) = l.alias.as_deref().and_then(|a| a.strip_suffix(&root_suffix)) else { continue };
            if let Some(rest) = body.strip_prefix("hoist:veth:") {
                let id = rest.split(':').next().unwrap_or_default();
                if !live.contains(id) {
                    doomed_links.push(l.name);
                }
            } else if let Some(net) = body.strip_prefix("hoist:bridge:")
                && !known.contains(net)
            {
                doomed_bridges.push(l.name);
            }
        }
        let all: Vec<String> = doomed_links.iter().chain(&doomed_bridges).cloned().collect();
        netns::run_in(None, move || {
            let nl = Netlink::open()?;
            for name in &all {
                nl.delete(name)?;
            }
            Ok(())
        })?;
        for b in &doomed_bridges {
            nat::remove_bridge_rules(self.fw, b)?;
        }
        Ok(())
    }
}

/// The spec of `DEFAULT_BRIDGE`, made on first use by a legacy project.
fn default_bridge_spec() -> NetworkSpec {
    NetworkSpec {
        name: DEFAULT_BRIDGE.into(),
        project: String::new(),
        key: DEFAULT_BRIDGE.into(),
        driver: Some("bridge".into()),
        internal: false,
        attachable: true,
        subnets: vec![],
        labels: IndexMap::new(),
        external: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Names reach this layer already checked; one that did not must still never become
    /// a path: refused before any file, lock or link is touched.
    #[test]
    fn names_that_are_paths_are_refused_before_they_become_paths() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("networks");
        std::fs::create_dir(&root).unwrap();
        std::fs::write(t.path().join("x.json"), "{}").unwrap();
        let inner = Inner { root, state_root: t.path().display().to_string(), fw: Firewall::Missing };
        for bad in ["../x", "/etc/passwd", "a/b", "..", "x\ny", "-rf", "a:b", ""] {
            assert!(matches!(inner.read_record(bad), Err(NetError::InvalidName(_))), "{bad:?}");
            assert!(matches!(inner.remove_network(bad), Err(NetError::InvalidName(_))), "{bad:?}");
            let spec = NetworkSpec { name: bad.into(), ..default_bridge_spec() };
            assert!(matches!(inner.ensure_network(&spec), Err(NetError::InvalidName(_))), "{bad:?}");
        }
        assert_eq!(std::fs::read_to_string(t.path().join("x.json")).unwrap(), "{}");
        assert_eq!(std::fs::read_dir(t.path().join("networks")).unwrap().count(), 0, "a refused name left a file");
    }
}
