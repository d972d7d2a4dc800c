//! Links over rtnetlink: bridges with their gateway address, veth pairs, and the
//! in-namespace setup (rename to ethN, address, up, default route). Blocking API: each
//! `Netlink` owns a small current-thread runtime and a socket of the thread's netns.

use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::AsRawFd;

use futures::TryStreamExt;
use rtnetlink::packet_route::address::AddressAttribute;
use rtnetlink::packet_route::link::{LinkAttribute, LinkMessage};
use rtnetlink::{Handle, LinkBridge, LinkUnspec, LinkVeth, RouteMessageBuilder};

use super::{NetError, Result};

/// One link as seen by `ip link`.
#[derive(Debug, Clone)]
pub struct Link {
    pub index: u32,
    pub name: String,
    /// hoist tags the links it makes with an alias (`hoist:...`) to find leftovers later.
    pub alias: Option<String>,
    /// The bridge this link is a port of.
    pub controller: Option<u32>,
}

/// A netlink connection bound to the network namespace of the thread that opened it.
pub struct Netlink {
    rt: tokio::runtime::Runtime,
    handle: Handle,
}

fn nl_err(context: impl Into<String>) -> impl FnOnce(rtnetlink::Error) -> NetError {
    let context = context.into();
    move |e| NetError::failed(context, e.to_string())
}

/// The errno carried by a netlink error reply, if any.
fn errno(e: &rtnetlink::Error) -> i32 {
    match e {
        rtnetlink::Error::NetlinkError(m) => m.raw_code().abs(),
        _ => 0,
    }
}

impl Netlink {
    /// Opens a connection in the calling thread's current network namespace.
    pub fn open() -> Result<Self> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| NetError::io("starting the netlink runtime", e))?;
        let handle = rt.block_on(async {
            let (conn, handle, _) = rtnetlink::new_connection().map_err(|e| NetError::io("opening a netlink socket", e))?;
            tokio::spawn(conn);
            Ok::<_, NetError>(handle)
        })?;
        Ok(Netlink { rt, handle })
    }

    pub fn links(&self) -> Result<Vec<Link>> {
        let msgs: Vec<LinkMessage> =
            self.rt.block_on(self.handle.link().get().execute().try_collect()).map_err(nl_err("listing links"))?;
        Ok(Self::to_links(msgs))
    }

    fn to_links(msgs: Vec<LinkMessage>) -> Vec<Link> {
        msgs.into_iter()
            .map(|m| {
                let mut link = Link { index: m.header.index, name: String::new(), alias: None, controller: None };
                for a in m.attributes {
                    match a {
                        LinkAttribute::IfName(n) => link.name = n,
                        LinkAttribute::IfAlias(s) => link.alias = Some(s),
                        LinkAttribute::Controller(c) => link.controller = Some(c),
                        _ => {}
                    }
                }
                link
            })
            .collect()
    }

    /// One link by name, asked of the kernel by name (not a dump of every link: hosts
    /// with hundreds of veths would make each lookup, and so each container, slower).
    pub fn link(&self, name: &str) -> Result<Option<Link>> {
        let asked = self.rt.block_on(self.handle.link().get().match_name(name.to_string()).execute().try_collect::<Vec<LinkMessage>>());
        match asked {
            Ok(msgs) => Ok(Self::to_links(msgs).into_iter().find(|l| l.name == name)),
            Err(e) if errno(&e) == libc::ENODEV => Ok(None),
            Err(e) => Err(nl_err(format!("looking up link {name}"))(e)),
        }
    }

    fn index(&self, name: &str) -> Result<u32> {
        self.link(name)?
            .map(|l| l.index)
            .ok_or_else(|| NetError::failed(format!("looking up link {name}"), "no such device"))
    }

    /// IPv4 addresses (with prefix length) on a link.
    pub fn ipv4_addresses(&self, index: u32) -> Result<Vec<(Ipv4Addr, u8)>> {
        let msgs: Vec<_> = self
            .rt
            .block_on(self.handle.address().get().set_link_index_filter(index).execute().try_collect::<Vec<_>>())
            .map_err(nl_err("listing addresses"))?;
        Ok(msgs
            .into_iter()
            .filter(|m| m.header.index == index)
            .filter_map(|m| {
                m.attributes.iter().find_map(|a| match a {
                    AddressAttribute::Local(IpAddr::V4(ip)) | AddressAttribute::Address(IpAddr::V4(ip)) => {
                        Some((*ip, m.header.prefix_len))
                    }
                    _ => None,
                })
            })
            .collect())
    }

    /// Adds an address, accepting one that is already there.
    fn add_address(&self, index: u32, ip: Ipv4Addr, prefix_len: u8, what: &str) -> Result<()> {
        match self.rt.block_on(self.handle.address().add(index, IpAddr::V4(ip), prefix_len).execute()) {
            Ok(()) => Ok(()),
            Err(e) if errno(&e) == libc::EEXIST => Ok(()),
            Err(e) => Err(nl_err(format!("adding {ip}/{prefix_len} to {what}"))(e)),
        }
    }

    /// The kernel ignores IFLA_IFALIAS when creating a link, so it is set afterwards.
    fn set_alias(&self, index: u32, alias: &str, what: &str) -> Result<()> {
        self.rt
            .block_on(self.handle.link().set(LinkUnspec::new_with_index(index).alias(alias).build()).execute())
            .map_err(nl_err(format!("tagging {what}")))
    }

    fn set_up(&self, index: u32, what: &str) -> Result<()> {
        self.rt
            .block_on(self.handle.link().set(LinkUnspec::new_with_index(index).up().build()).execute())
            .map_err(nl_err(format!("setting {what} up")))
    }

    /// Creates (or completes) a bridge holding `gateway/prefix_len`, up.
    pub fn ensure_bridge(&self, name: &str, alias: &str, gateway: Ipv4Addr, prefix_len: u8) -> Result<()> {
        if self.link(name)?.is_none() {
            let msg = LinkBridge::new(name).build();
            match self.rt.block_on(self.handle.link().add(msg).execute()) {
                Ok(()) => {}
                // A concurrent hoist made it first: fine, we complete it below.
                Err(e) if errno(&e) == libc::EEXIST => {}
                Err(e) => return Err(nl_err(format!("creating bridge {name}"))(e)),
            }
        }
        let index = self.index(name)?;
        self.set_alias(index, alias, name)?;
        self.add_address(index, gateway, prefix_len, name)?;
        self.set_up(index, name)
    }

    /// Deletes a link by name; a missing link is not an error.
    pub fn delete(&self, name: &str) -> Result<()> {
        let Some(link) = self.link(name)? else { return Ok(()) };
        match self.rt.block_on(self.handle.link().del(link.index).execute()) {
            Ok(()) => Ok(()),
            Err(e) if errno(&e) == libc::ENODEV => Ok(()),
            Err(e) => Err(nl_err(format!("deleting link {name}"))(e)),
        }
    }

    /// Creates the container's veth pair in one request: the host end `host` on `bridge`,
    /// up, and its peer made directly inside the container's namespace as `ifname` with
    /// `mac` (down: the kernel refuses to bring it up from here). Creating the peer in
    /// place, rather than moving it there afterwards, spares the RCU grace period a
    /// namespace move waits for under the kernel's RTNL lock, which serialized every
    /// container start.
    pub fn create_veth(&self, host: &str, ifname: &str, mac: [u8; 6], alias: &str, bridge: &str, netns: &std::fs::File) -> Result<()> {
        use rtnetlink::packet_route::link::{InfoData, InfoVeth};
        // A leftover pair with our name (crash between create and record) is replaced.
        self.delete(host)?;
        let bridge_index = self.index(bridge)?;
        let peer = LinkUnspec::new_with_name(ifname).address(mac.to_vec()).setns_by_fd(netns.as_raw_fd()).build();
        let msg = LinkVeth::new(host, ifname).set_info_data(InfoData::Veth(InfoVeth::Peer(peer))).controller(bridge_index).up().build();
        self.rt.block_on(self.handle.link().add(msg).execute()).map_err(nl_err(format!("creating veth {host}")))?;
        let made = self.index(host).and_then(|i| self.set_alias(i, alias, host));
        if made.is_err() {
            let _ = self.delete(host);
        }
        made
    }

    /// Inside a container namespace: gives `ifname` (made by `create_veth`) its address,
    /// brings it and `lo` up, and routes the default via `gateway` when given.
    pub fn configure_endpoint(&self, ifname: &str, ip: Ipv4Addr, prefix_len: u8, gateway: Option<Ipv4Addr>) -> Result<()> {
        let index = self.index(ifname)?;
        self.add_address(index, ip, prefix_len, ifname)?;
        self.set_up(index, ifname)?;
        let lo = self.index("lo")?;
        self.set_up(lo, "lo")?;
        if let Some(gw) = gateway {
            let route = RouteMessageBuilder::<Ipv4Addr>::new().gateway(gw).output_interface(index).build();
            match self.rt.block_on(self.handle.route().add(route).execute()) {
                Ok(()) => {}
                Err(e) if errno(&e) == libc::EEXIST => {}
                Err(e) => return Err(nl_err(format!("adding the default route via {gw}"))(e)),
            }
        }
        Ok(())
    }
}
