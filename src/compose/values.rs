//! Typed values of compose keys that are written as one string (`restart`, `expose`,
//! `extra_hosts`, `mac_address`): parsed once by the loader, printed back in Compose's canonical form.

use std::fmt;
use std::str::FromStr;

/// Serializes a value as its `Display` string, reads it back with `FromStr`, and describes
/// it as a string in the model's schema.
macro_rules! string_value {
    ($t:ty) => {
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
        impl schemars::JsonSchema for $t {
            fn inline_schema() -> bool {
                true
            }
            fn schema_name() -> std::borrow::Cow<'static, str> {
                "string".into()
            }
            fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
                String::json_schema(g)
            }
        }
    };
}

/// `restart:` of a service, as the engine takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RestartPolicy {
    #[default]
    No,
    Always,
    UnlessStopped,
    /// `on-failure[:max-retries]`.
    OnFailure(Option<u32>),
}

impl fmt::Display for RestartPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RestartPolicy::No => f.write_str("no"),
            RestartPolicy::Always => f.write_str("always"),
            RestartPolicy::UnlessStopped => f.write_str("unless-stopped"),
            RestartPolicy::OnFailure(None) => f.write_str("on-failure"),
            RestartPolicy::OnFailure(Some(n)) => write!(f, "on-failure:{n}"),
        }
    }
}

impl FromStr for RestartPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("invalid restart policy {s:?}: use \"no\", always, on-failure[:max-retries] or unless-stopped");
        Ok(match s {
            "no" => RestartPolicy::No,
            "always" => RestartPolicy::Always,
            "unless-stopped" => RestartPolicy::UnlessStopped,
            "on-failure" => RestartPolicy::OnFailure(None),
            _ => {
                let n = s.strip_prefix("on-failure:").ok_or_else(bad)?;
                RestartPolicy::OnFailure(Some(n.parse().map_err(|_| bad())?))
            }
        })
    }
}

string_value!(RestartPolicy);

/// One exposed container port (`expose:` ranges are expanded, one entry per port).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExposedPort {
    pub port: u16,
    /// `tcp`, `udp` or `sctp`.
    pub protocol: String,
}

impl fmt::Display for ExposedPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.port, self.protocol)
    }
}

impl FromStr for ExposedPort {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (port, proto) = s.split_once('/').unwrap_or((s, "tcp"));
        let port = port.parse().map_err(|_| format!("invalid exposed port {s:?}"))?;
        Ok(ExposedPort { port, protocol: proto.to_string() })
    }
}

string_value!(ExposedPort);

/// An `extra_hosts:` entry: a line `<ip> <host>` in the container's /etc/hosts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraHost {
    pub host: String,
    /// An address without brackets, or Docker's `host-gateway`.
    pub ip: String,
}

impl fmt::Display for ExtraHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.ip)
    }
}

/// `host:ip` or `host=ip` (the address may be IPv6, bracketed or not).
impl FromStr for ExtraHost {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (host, ip) = s.split_once('=').or_else(|| s.split_once(':')).ok_or_else(|| format!("invalid extra host {s:?}: use host:ip"))?;
        let ip = ip.trim_matches(['[', ']']);
        if host.is_empty() || ip.is_empty() {
            return Err(format!("invalid extra host {s:?}: use host:ip"));
        }
        Ok(ExtraHost { host: host.to_string(), ip: ip.to_string() })
    }
}

string_value!(ExtraHost);

/// A MAC address for a container's interface (`mac_address:`): six octets, written with
/// `:` or `-`, unicast (the kernel refuses a multicast address on an Ethernet interface).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MacAddress(pub [u8; 6]);

impl fmt::Display for MacAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

impl FromStr for MacAddress {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("invalid MAC address {s:?}: {why}");
        let sep = if s.contains('-') { '-' } else { ':' };
        let octets: Vec<&str> = s.split(sep).collect();
        if octets.len() != 6 || octets.iter().any(|o| o.len() != 2) {
            return Err(bad("use six hexadecimal octets, as 02:42:ac:11:00:02"));
        }
        let mut mac = [0u8; 6];
        for (m, o) in mac.iter_mut().zip(&octets) {
            *m = u8::from_str_radix(o, 16).map_err(|_| bad("use six hexadecimal octets, as 02:42:ac:11:00:02"))?;
        }
        if mac[0] & 1 == 1 {
            return Err(bad("a multicast address cannot be an interface's address"));
        }
        if mac == [0; 6] {
            return Err(bad("the all-zero address cannot be an interface's address"));
        }
        Ok(MacAddress(mac))
    }
}

string_value!(MacAddress);

/// `cgroup_parent`: a group below the cgroup mount, with or without a leading `/` (the
/// mount's root either way, as Docker's cgroupfs driver places it). Its components must be
/// plain names, so the container's groups cannot land anywhere else.
pub fn check_cgroup_parent(parent: &str) -> Result<(), String> {
    let names: Vec<&str> = parent.split('/').filter(|c| !c.is_empty()).collect();
    if names.is_empty() {
        return Err(format!("invalid cgroup parent {parent:?}: name a group, as mygroup or /mygroup/sub"));
    }
    if let Some(bad) = names.iter().find(|c| matches!(**c, "." | "..") || c.contains(['\0', '\n'])) {
        return Err(format!("invalid cgroup parent {parent:?}: {bad:?} cannot be part of it (it must stay below the cgroup mount)"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_policies_round_trip() {
        for s in ["no", "always", "unless-stopped", "on-failure", "on-failure:3"] {
            assert_eq!(s.parse::<RestartPolicy>().unwrap().to_string(), s);
        }
        assert_eq!("on-failure:3".parse(), Ok(RestartPolicy::OnFailure(Some(3))));
        for bad in ["sometimes", "on-failure:x", "on-failure:-1", ""] {
            assert!(bad.parse::<RestartPolicy>().is_err(), "{bad}");
        }
    }

    #[test]
    fn extra_hosts_and_exposed_ports() {
        assert_eq!("db=::1".parse(), Ok(ExtraHost { host: "db".into(), ip: "::1".into() }));
        assert_eq!("db:[::1]".parse(), Ok(ExtraHost { host: "db".into(), ip: "::1".into() }));
        assert_eq!("gw:host-gateway".parse::<ExtraHost>().unwrap().to_string(), "gw:host-gateway");
        assert!("nohost".parse::<ExtraHost>().is_err());
        assert_eq!("53/udp".parse(), Ok(ExposedPort { port: 53, protocol: "udp".into() }));
        assert_eq!(serde_json::to_string(&ExposedPort { port: 80, protocol: "tcp".into() }).unwrap(), "\"80/tcp\"");
    }

    #[test]
    fn cgroup_parents() {
        for ok in ["mygroup", "/mygroup", "a/b/", "x.slice"] {
            assert!(check_cgroup_parent(ok).is_ok(), "{ok}");
        }
        for bad in ["", "/", "..", "a/../../etc", "/./a", "a\nb"] {
            assert!(check_cgroup_parent(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn mac_addresses() {
        assert_eq!("02:42:AC:11:00:99".parse::<MacAddress>().unwrap().to_string(), "02:42:ac:11:00:99");
        assert_eq!("02-42-ac-11-00-99".parse::<MacAddress>().unwrap().to_string(), "02:42:ac:11:00:99");
        for bad in ["02:42:ac:11:00", "02:42:ac:11:00:99:01", "0g:42:ac:11:00:99", "2:42:ac:11:00:99", "01:00:5e:00:00:01", "00:00:00:00:00:00", ""] {
            assert!(bad.parse::<MacAddress>().is_err(), "{bad}");
        }
    }
}
