//! Address management: IPv4 subnets (parse, overlap), the pool hoist carves /24s from
//! while avoiding the host's routes, and per-container address allocation inside a subnet.

use std::collections::BTreeSet;
use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use super::{NetError, Result};

/// An IPv4 network, always stored with its host bits cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Subnet {
    pub addr: Ipv4Addr,
    pub prefix_len: u8,
}

impl Subnet {
    pub fn new(addr: Ipv4Addr, prefix_len: u8) -> Self {
        let prefix_len = prefix_len.min(32);
        Subnet { addr: Ipv4Addr::from(u32::from(addr) & mask(prefix_len)), prefix_len }
    }
    pub fn network(&self) -> u32 {
        u32::from(self.addr)
    }
    pub fn broadcast(&self) -> u32 {
        self.network() | !mask(self.prefix_len)
    }
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & mask(self.prefix_len) == self.network()
    }
    pub fn overlaps(&self, other: &Subnet) -> bool {
        let p = self.prefix_len.min(other.prefix_len);
        self.network() & mask(p) == other.network() & mask(p)
    }
    /// The conventional gateway: the first host address.
    pub fn first_host(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.network() + 1)
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)
    }
}

impl FromStr for Subnet {
    type Err = NetError;
    fn from_str(s: &str) -> Result<Self> {
        let bad = || NetError::failed(format!("invalid subnet {s:?}"), "expected an IPv4 CIDR like 10.1.0.0/24");
        let (ip, len) = s.trim().split_once('/').ok_or_else(bad)?;
        let ip: Ipv4Addr = ip.parse().map_err(|_| bad())?;
        let len: u8 = len.parse().map_err(|_| bad())?;
        if len > 32 {
            return Err(bad());
        }
        Ok(Subnet::new(ip, len))
    }
}

impl serde::Serialize for Subnet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Subnet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

fn mask(prefix_len: u8) -> u32 {
    if prefix_len == 0 { 0 } else { u32::MAX << (32 - prefix_len as u32) }
}

/// Where automatic subnets come from, in order. Docker's 172.17.0.0/16 and its usual
/// 172.18+ ranges are left alone so both engines can share a machine.
pub const POOLS: &[(&str, u8)] = &[("10.89.0.0/16", 24), ("172.30.0.0/16", 24), ("10.90.0.0/16", 24), ("192.168.200.0/21", 24)];

/// Subnets nobody should be handed, whatever the host's routes say today.
pub const RESERVED: &[&str] = &["172.17.0.0/16"];

/// The first pool subnet that overlaps none of `used` (nor the reserved ranges).
pub fn allocate_subnet(used: &[Subnet]) -> Result<Subnet> {
    let reserved: Vec<Subnet> = RESERVED.iter().filter_map(|s| s.parse().ok()).collect();
    for (pool, size) in POOLS {
        let pool: Subnet = pool.parse()?;
        let step = 1u64 << (32 - *size as u32);
        let mut net = pool.network() as u64;
        while net + step - 1 <= pool.broadcast() as u64 {
            let candidate = Subnet::new(Ipv4Addr::from(net as u32), *size);
            if !used.iter().chain(&reserved).any(|u| u.overlaps(&candidate)) {
                return Ok(candidate);
            }
            net += step;
        }
    }
    Err(NetError::failed("allocating a subnet", "all address pools are exhausted"))
}

/// The host's IPv4 routes (kernel routes cover every configured address's network), so
/// a new bridge never shadows a LAN or another engine's bridge. The default route is left out.
pub fn host_route_subnets() -> Result<Vec<Subnet>> {
    Ok(host_routes()?.into_iter().map(|(_, s)| s).collect())
}

/// The host's IPv4 routes as (device, destination), default route left out.
pub fn host_routes() -> Result<Vec<(String, Subnet)>> {
    let text = std::fs::read_to_string("/proc/net/route").map_err(|e| NetError::io("reading /proc/net/route", e))?;
    Ok(parse_proc_net_route(&text))
}

fn parse_proc_net_route(text: &str) -> Vec<(String, Subnet)> {
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.len() < 8 {
            continue;
        }
        // Iface Destination Gateway Flags RefCnt Use Metric Mask: addresses are the raw
        // network-order words printed as native integers, hence `to_ne_bytes`.
        let (Ok(dest), Ok(mask)) = (u32::from_str_radix(cols[1], 16), u32::from_str_radix(cols[7], 16)) else {
            continue;
        };
        if mask == 0 {
            continue;
        }
        let dest = Ipv4Addr::from(dest.to_ne_bytes());
        out.push((cols[0].to_string(), Subnet::new(dest, mask.count_ones() as u8)));
    }
    out
}

/// Subnets handed out by any state root on this host. Routes alone are not enough: a
/// bridge that is missing for a while (host reboot, manual deletion) must keep its subnet.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct HostClaim {
    pub subnet: Subnet,
    pub state_root: String,
    pub network: String,
}

impl HostClaim {
    /// A claim lives as long as the network's record does. The registry is shared by every
    /// state root: a network name in it that is not a name (`../x`) names no record.
    fn is_live(&self) -> bool {
        use crate::compose::validate::{check_name, NameKind};
        check_name(NameKind::Network, &self.network).is_ok()
            && std::path::Path::new(&self.state_root).join("networks").join(format!("{}.json", self.network)).exists()
    }
}

/// Live claims in the registry file (callers hold the host-wide network lock).
pub fn host_claims(registry: &std::path::Path) -> Vec<HostClaim> {
    let claims: Vec<HostClaim> = std::fs::read(registry).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
    claims.into_iter().filter(HostClaim::is_live).collect()
}

/// Records a claim (dropping dead ones) in the registry file.
pub fn add_host_claim(registry: &std::path::Path, claim: HostClaim) -> Result<()> {
    let mut claims: Vec<HostClaim> = host_claims(registry)
        .into_iter()
        .filter(|c| !(c.state_root == claim.state_root && c.network == claim.network))
        .collect();
    claims.push(claim);
    write_claims(registry, &claims)
}

/// Drops a network's claim (and every dead one) from the registry file.
pub fn remove_host_claim(registry: &std::path::Path, state_root: &str, network: &str) -> Result<()> {
    let claims: Vec<HostClaim> =
        host_claims(registry).into_iter().filter(|c| !(c.state_root == state_root && c.network == network)).collect();
    write_claims(registry, &claims)
}

fn write_claims(registry: &std::path::Path, claims: &[HostClaim]) -> Result<()> {
    if let Some(dir) = registry.parent() {
        std::fs::create_dir_all(dir).map_err(|e| NetError::io(format!("creating {}", dir.display()), e))?;
    }
    let tmp = registry.with_extension("tmp");
    let bytes = serde_json::to_vec_pretty(claims).map_err(|e| NetError::failed("encoding subnet claims", e.to_string()))?;
    let written = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, registry));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.map_err(|e| NetError::io(format!("writing {}", registry.display()), e))
}

/// Picks a free host address in `range` (or the whole subnet), skipping network, broadcast,
/// the gateway and `taken`.
pub fn allocate_ip(subnet: &Subnet, range: Option<&Subnet>, gateway: Ipv4Addr, taken: &BTreeSet<Ipv4Addr>) -> Result<Ipv4Addr> {
    let range = range.unwrap_or(subnet);
    let lo = range.network().max(subnet.network() + 1);
    let hi = range.broadcast().min(subnet.broadcast().saturating_sub(1));
    (lo..=hi)
        .map(Ipv4Addr::from)
        .find(|ip| *ip != gateway && !taken.contains(ip))
        .ok_or_else(|| NetError::failed(format!("allocating an address in {subnet}"), "no free address left"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_and_contains() {
        let a: Subnet = "10.89.0.0/16".parse().unwrap();
        let b: Subnet = "10.89.3.7/24".parse().unwrap();
        assert_eq!(b.to_string(), "10.89.3.0/24");
        assert!(a.overlaps(&b) && b.overlaps(&a));
        assert!(!b.overlaps(&"10.89.4.0/24".parse().unwrap()));
        assert!(b.contains("10.89.3.200".parse().unwrap()));
        assert_eq!(b.first_host(), Ipv4Addr::new(10, 89, 3, 1));
        assert!("10.0.0.0/33".parse::<Subnet>().is_err());
        assert!("nonsense".parse::<Subnet>().is_err());
    }

    #[test]
    fn allocation_skips_used_and_reserved() {
        let used: Vec<Subnet> = vec!["10.89.0.0/23".parse().unwrap(), "10.89.2.0/24".parse().unwrap()];
        assert_eq!(allocate_subnet(&used).unwrap().to_string(), "10.89.3.0/24");
        // A host route covering the whole first pool moves allocation to the next one.
        let used: Vec<Subnet> = vec!["10.0.0.0/8".parse().unwrap()];
        assert_eq!(allocate_subnet(&used).unwrap().to_string(), "172.30.0.0/24");
        // Docker's default bridge is never handed out, even with nothing else in the way.
        assert!(!allocate_subnet(&[]).unwrap().overlaps(&"172.17.0.0/16".parse().unwrap()));
    }

    #[test]
    fn proc_route_parsing() {
        let text = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
                    eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
                    docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n\
                    eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
        let got: Vec<String> = parse_proc_net_route(text).iter().map(|(d, s)| format!("{d} {s}")).collect();
        assert_eq!(got, vec!["docker0 172.17.0.0/16", "eth0 192.0.2.0/24"]);
    }

    #[test]
    fn ip_allocation() {
        let net: Subnet = "10.1.2.0/30".parse().unwrap();
        let gw = net.first_host();
        let mut taken = BTreeSet::new();
        let ip = allocate_ip(&net, None, gw, &taken).unwrap();
        assert_eq!(ip, Ipv4Addr::new(10, 1, 2, 2));
        taken.insert(ip);
        assert!(allocate_ip(&net, None, gw, &taken).is_err());
    }
}
