//! Built-in networking: Linux bridges with managed subnets, a persistent network namespace
//! per container wired with a veth pair, NAT, /etc/hosts rendering and the port proxy.
//! STUB: the API the rest of the built-in runtime codes against; filled in on branch `network`.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use crate::backend::{NetworkAttachment, NetworkSpec, NetworkSummary};

#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("{context}: {message}")]
    Failed { context: String, message: String },
    #[error("{0}: port is already allocated")]
    PortInUse(String),
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

pub struct NetworkManager {
    root: PathBuf,
}

impl NetworkManager {
    /// State under `<state root>/networks`.
    pub fn open(state_root: &Path) -> Result<Self> {
        Ok(NetworkManager { root: state_root.join("networks") })
    }
    pub fn root(&self) -> &Path {
        &self.root
    }
    /// Records the network (allocating a subnet) and creates its bridge if missing. Idempotent.
    pub async fn ensure_network(&self, _spec: &NetworkSpec) -> Result<()> {
        Ok(())
    }
    /// Removes the bridge, its NAT rules and its record (callers ensure no container uses it).
    pub async fn remove_network(&self, _name: &str) -> Result<()> {
        Ok(())
    }
    pub fn list_networks(&self, _project: Option<&str>) -> Result<Vec<NetworkSummary>> {
        Ok(vec![])
    }
    /// Creates a persistent network namespace bound at `netns_path` (like `ip netns add`).
    pub fn create_netns(&self, _netns_path: &Path) -> Result<()> {
        Ok(())
    }
    /// Unmounts and removes a namespace made by `create_netns`; no error if already gone.
    pub fn remove_netns(&self, _netns_path: &Path) -> Result<()> {
        Ok(())
    }
    /// Wires the namespace into each network (veth, address, default route via the first).
    /// `DEFAULT_BRIDGE` is a valid network name and is created on demand.
    pub async fn attach(&self, _container_id: &str, _netns_path: &Path, _networks: &[NetworkAttachment]) -> Result<Vec<Endpoint>> {
        Ok(vec![])
    }
    /// Removes the container's veths and releases its addresses.
    pub async fn detach(&self, _container_id: &str, _netns_path: &Path) -> Result<()> {
        Ok(())
    }
    /// Removes anything a crashed run left behind for containers not in `live_ids`.
    pub async fn cleanup_stale(&self, _live_ids: &[String]) -> Result<()> {
        Ok(())
    }
}

/// Renders a container's /etc/hosts. `entries` are (ip, names) pairs.
pub fn render_hosts(entries: &[(String, Vec<String>)]) -> String {
    let mut out = String::from("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
    for (ip, names) in entries {
        out.push_str(&format!("{ip}\t{}\n", names.join(" ")));
    }
    out
}

/// Port proxy run by a container's supervisor: binds every host address first (so a port
/// in use fails before the container starts), then forwards in background threads.
pub mod proxy {
    use super::{PortForward, Result};

    /// Bound listeners, with the host ports the kernel chose filled in.
    pub struct BoundPorts {
        pub forwards: Vec<PortForward>,
    }

    pub fn bind(forwards: &[PortForward]) -> Result<BoundPorts> {
        Ok(BoundPorts { forwards: forwards.to_vec() })
    }

    /// Serves forever in background threads; returns at once.
    pub fn serve(_bound: BoundPorts) {}
}
