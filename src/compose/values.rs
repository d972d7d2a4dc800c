//! Typed values of compose keys that are written as one string (`restart`, `expose`,
//! `extra_hosts`): parsed once by the loader, printed back in Compose's canonical form.

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
}
