//! Typed values of compose keys that are written as one string (`restart`, `expose`,
//! `extra_hosts`, `mac_address`, `network_mode`, `devices`, durations): parsed once by the loader, printed back in Compose's canonical form.

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
        if octets.len() != 6 || octets.iter().any(|o| o.len() != 2 || !o.bytes().all(|b| b.is_ascii_hexdigit())) {
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

/// `network_mode:` of a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetworkMode {
    Bridge,
    Host,
    None,
    /// The network namespace of another service's (first) container.
    Service(String),
    /// The network namespace of a container outside the project.
    Container(String),
    /// A network by name, joined as the service's only network.
    Network(String),
}

impl NetworkMode {
    /// The service whose namespace this mode joins.
    pub fn service(&self) -> Option<&str> {
        match self {
            NetworkMode::Service(s) => Some(s),
            _ => None,
        }
    }
}

impl fmt::Display for NetworkMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetworkMode::Bridge => f.write_str("bridge"),
            NetworkMode::Host => f.write_str("host"),
            NetworkMode::None => f.write_str("none"),
            NetworkMode::Service(s) => write!(f, "service:{s}"),
            NetworkMode::Container(c) => write!(f, "container:{c}"),
            NetworkMode::Network(n) => f.write_str(n),
        }
    }
}

impl FromStr for NetworkMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let named = |prefix: &str, what: &str| match s.strip_prefix(prefix) {
            Some("") => Err(format!("invalid network mode {s:?}: name the {what} after {prefix:?}")),
            rest => Ok(rest.map(str::to_string)),
        };
        if let Some(svc) = named("service:", "service")? {
            return Ok(NetworkMode::Service(svc));
        }
        if let Some(c) = named("container:", "container")? {
            return Ok(NetworkMode::Container(c));
        }
        Ok(match s {
            "" => return Err("invalid network mode \"\": use bridge, host, none, service:NAME, container:NAME or a network name".into()),
            "bridge" => NetworkMode::Bridge,
            "host" => NetworkMode::Host,
            "none" => NetworkMode::None,
            net => NetworkMode::Network(net.to_string()),
        })
    }
}

string_value!(NetworkMode);

/// `pid:` or `ipc:` of a service: the host's namespace, another service's (first)
/// container's or a container's outside the project, or for `ipc` the engine's own modes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShareMode {
    Host,
    Service(String),
    Container(String),
    Private,
    Shareable,
    None,
}

impl ShareMode {
    /// The service whose namespace this mode joins.
    pub fn service(&self) -> Option<&str> {
        match self {
            ShareMode::Service(s) => Some(s),
            _ => None,
        }
    }

    /// As `pid:` takes it: the engine has no private/shareable/none pid modes.
    pub fn pid(s: &str) -> Result<ShareMode, String> {
        match s.parse()? {
            m @ (ShareMode::Host | ShareMode::Service(_) | ShareMode::Container(_)) => Ok(m),
            _ => Err(format!("invalid pid mode {s:?}: use host, service:NAME or container:NAME")),
        }
    }
}

impl fmt::Display for ShareMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShareMode::Host => f.write_str("host"),
            ShareMode::Service(s) => write!(f, "service:{s}"),
            ShareMode::Container(c) => write!(f, "container:{c}"),
            ShareMode::Private => f.write_str("private"),
            ShareMode::Shareable => f.write_str("shareable"),
            ShareMode::None => f.write_str("none"),
        }
    }
}

impl FromStr for ShareMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("invalid mode {s:?}: use host, private, shareable, none, service:NAME or container:NAME");
        if let Some(rest) = s.strip_prefix("service:") {
            return if rest.is_empty() { Err(bad()) } else { Ok(ShareMode::Service(rest.into())) };
        }
        if let Some(rest) = s.strip_prefix("container:") {
            return if rest.is_empty() { Err(bad()) } else { Ok(ShareMode::Container(rest.into())) };
        }
        match s {
            "host" => Ok(ShareMode::Host),
            "private" => Ok(ShareMode::Private),
            "shareable" => Ok(ShareMode::Shareable),
            "none" => Ok(ShareMode::None),
            _ => Err(bad()),
        }
    }
}

string_value!(ShareMode);

/// A `tmpfs:` entry, `/path[:size=64m,mode=1777,...]`: the mount point, the size (bytes)
/// and mode every backend applies, and the other options as written (warned about).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tmpfs {
    pub target: String,
    pub size: Option<u64>,
    pub mode: Option<u32>,
    pub other: Vec<String>,
}

impl fmt::Display for Tmpfs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let opts: Vec<String> = self.size.map(|s| format!("size={s}")).into_iter().chain(self.mode.map(|m| format!("mode={m:o}"))).chain(self.other.iter().cloned()).collect();
        if opts.is_empty() { f.write_str(&self.target) } else { write!(f, "{}:{}", self.target, opts.join(",")) }
    }
}

impl FromStr for Tmpfs {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (target, opts) = s.split_once(':').unwrap_or((s, ""));
        // Docker refuses a relative mount point.
        if !target.starts_with('/') {
            return Err(format!("invalid tmpfs mount point {target:?}: it must be an absolute path"));
        }
        let mut t = Tmpfs { target: target.into(), size: None, mode: None, other: Vec::new() };
        for o in opts.split(',').filter(|o| !o.is_empty()) {
            match o.split_once('=') {
                Some(("size", v)) => {
                    let v = v.trim().to_ascii_lowercase();
                    let (num, mult) = match v.strip_suffix('k').map(|n| (n, 1u64 << 10)).or_else(|| v.strip_suffix('m').map(|n| (n, 1 << 20))).or_else(|| v.strip_suffix('g').map(|n| (n, 1 << 30))) {
                        Some(x) => x,
                        None => (v.as_str(), 1),
                    };
                    t.size = Some(num.parse::<u64>().ok().and_then(|n| n.checked_mul(mult)).ok_or_else(|| format!("invalid tmpfs size {v:?} in {s:?} (use bytes or k, m, g)"))?);
                }
                Some(("mode", v)) => t.mode = Some(u32::from_str_radix(v.trim(), 8).ok().filter(|m| *m <= 0o7777).ok_or_else(|| format!("invalid tmpfs mode {v:?} in {s:?} (use octal, like 1777)"))?),
                _ => t.other.push(o.to_string()),
            }
        }
        Ok(t)
    }
}

string_value!(Tmpfs);

/// A compose duration (`10s`, `1m30s`, `500ms`), parsed once by the loader and printed
/// back as Compose prints it (Go's format: `1m30s`, `2m0s`, `1h0m0s`, `500ms`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration(pub std::time::Duration);

impl Duration {
    pub fn nanos(self) -> i64 {
        i64::try_from(self.0.as_nanos()).unwrap_or(i64::MAX)
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A whole part and a fraction of `digits` digits, trailing zeros dropped.
        fn number(f: &mut fmt::Formatter<'_>, whole: u128, frac: u128, digits: usize) -> fmt::Result {
            write!(f, "{whole}")?;
            if frac > 0 {
                write!(f, ".{}", format!("{frac:0digits$}").trim_end_matches('0'))?;
            }
            Ok(())
        }
        let ns = self.0.as_nanos();
        match ns {
            0 => f.write_str("0s"),
            1..1_000 => write!(f, "{ns}ns"),
            1_000..1_000_000 => number(f, ns / 1_000, ns % 1_000, 3).and_then(|_| f.write_str("µs")),
            1_000_000..1_000_000_000 => number(f, ns / 1_000_000, ns % 1_000_000, 6).and_then(|_| f.write_str("ms")),
            _ => {
                let secs = ns / 1_000_000_000;
                let (h, m) = (secs / 3600, secs % 3600 / 60);
                if h > 0 {
                    write!(f, "{h}h{m}m")?;
                } else if m > 0 {
                    write!(f, "{m}m")?;
                }
                number(f, secs % 60, ns % 1_000_000_000, 9)?;
                f.write_str("s")
            }
        }
    }
}

impl FromStr for Duration {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        super::model::parse_duration(s).map(Duration).ok_or_else(|| format!("invalid duration {s:?} (use 10s, 1m30s, 500ms)"))
    }
}

string_value!(Duration);

/// A `devices:` entry: a host device node (or folder of them) at a path in the container,
/// with the cgroup permissions (`rwm`). Written `host[:container][:permissions]` as
/// Docker's CLI reads it, or in long form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub source: String,
    pub target: String,
    pub permissions: String,
}

impl Device {
    /// Checks what both forms share: absolute paths, permissions of r, w and m once each.
    pub fn new(source: &str, target: &str, permissions: &str) -> Result<Device, String> {
        if !Device::valid_permissions(permissions) {
            return Err(format!("invalid device permissions {permissions:?} (use some of r, w, m)"));
        }
        if !source.starts_with('/') || !target.starts_with('/') {
            return Err(format!("device {source}:{target}: both paths must be absolute"));
        }
        Ok(Device { source: source.into(), target: target.into(), permissions: permissions.into() })
    }

    /// Some of r, w and m, each at most once.
    fn valid_permissions(p: &str) -> bool {
        let b = p.as_bytes();
        !b.is_empty() && b.len() <= 3 && b.iter().enumerate().all(|(i, c)| b"rwm".contains(c) && !b[i + 1..].contains(c))
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.source, self.target, self.permissions)
    }
}

impl FromStr for Device {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.split(':').collect();
        match parts.as_slice() {
            [host] => Device::new(host, host, "rwm"),
            [host, mode] if Device::valid_permissions(mode) => Device::new(host, host, mode),
            [host, inside] => Device::new(host, inside, "rwm"),
            [host, inside, mode] => Device::new(host, inside, mode),
            _ => Err(format!("invalid device specification: {s}")),
        }
    }
}

string_value!(Device);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_read_as_dockers_cli() {
        let d = |s: &str| s.parse::<Device>().map(|d| d.to_string());
        assert_eq!(d("/dev/fuse").unwrap(), "/dev/fuse:/dev/fuse:rwm");
        assert_eq!(d("/dev/fuse:r").unwrap(), "/dev/fuse:/dev/fuse:r");
        assert_eq!(d("/dev/null:/dev/xnull").unwrap(), "/dev/null:/dev/xnull:rwm");
        assert_eq!(d("/dev/null:/dev/xnull:rw").unwrap(), "/dev/null:/dev/xnull:rw");
        for bad in ["/dev/null:/dev/x:rx", "/dev/null:/dev/x:rr", "/dev/null:/dev/x:", "a:b:c:d", "null:/dev/x", "/dev/null:x"] {
            assert!(d(bad).is_err(), "{bad}");
        }
    }

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
    fn network_modes_round_trip() {
        for s in ["bridge", "host", "none", "service:db", "container:abc", "front"] {
            assert_eq!(s.parse::<NetworkMode>().unwrap().to_string(), s);
        }
        assert_eq!("service:db".parse::<NetworkMode>().unwrap().service(), Some("db"));
        for bad in ["", "service:", "container:"] {
            assert!(bad.parse::<NetworkMode>().is_err(), "{bad}");
        }
    }

    #[test]
    fn durations_print_as_compose_prints_them() {
        for (written, printed) in [("90s", "1m30s"), ("2m", "2m0s"), ("1h", "1h0m0s"), ("500ms", "500ms"), ("1.5s", "1.5s"), ("0", "0s"), ("10", "10s")] {
            assert_eq!(written.parse::<Duration>().unwrap().to_string(), printed, "{written}");
        }
        assert!("1x".parse::<Duration>().is_err());
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

/// `pull_policy:` of a service, and `--pull` of `up`, `create` and `run`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PullPolicy {
    /// Pull every time.
    Always,
    /// Never pull: the image must be there (or be built).
    Never,
    /// Pull when the image is missing (the default); `if_not_present` is its other spelling.
    Missing { if_not_present: bool },
    /// Build every time (services with `build:`).
    Build,
    /// `daily`, `weekly`, `every_<duration>`: pull when the local image is older, kept as written.
    Refresh(String),
}

impl PullPolicy {
    pub const MISSING: PullPolicy = PullPolicy::Missing { if_not_present: false };
}

impl fmt::Display for PullPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PullPolicy::Always => f.write_str("always"),
            PullPolicy::Never => f.write_str("never"),
            PullPolicy::Missing { if_not_present: false } => f.write_str("missing"),
            PullPolicy::Missing { if_not_present: true } => f.write_str("if_not_present"),
            PullPolicy::Build => f.write_str("build"),
            PullPolicy::Refresh(s) => f.write_str(s),
        }
    }
}

impl FromStr for PullPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "always" => PullPolicy::Always,
            "never" => PullPolicy::Never,
            "missing" => PullPolicy::MISSING,
            "if_not_present" => PullPolicy::Missing { if_not_present: true },
            "build" => PullPolicy::Build,
            "daily" | "weekly" => PullPolicy::Refresh(s.into()),
            _ if s.strip_prefix("every_").and_then(crate::compose::model::parse_duration).is_some() => PullPolicy::Refresh(s.into()),
            _ => return Err(format!("invalid pull policy {s:?}: use always, never, missing, build, daily, weekly or every_<duration>")),
        })
    }
}

string_value!(PullPolicy);
