//! `logging:` of a service (and v1's `log_driver`/`log_opt`): the driver and its options,
//! checked once at load as the engine checks them when it starts the container.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::error::Result;
use super::normalize::{check_keys, map, text, type_err};
use super::yaml::{Node, Sources, Val};

/// A service's logging driver and its options, as the engine takes them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Logging {
    /// `None`: the engine's default driver (`json-file` on the built-in runtime).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub options: IndexMap<String, String>,
}

/// What the built-in runtime does with a container's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LogPolicy {
    /// A log file that rotates at `max_size` bytes (never when `None`), keeping at most
    /// `max_file` files (the current one included).
    Files { max_size: Option<u64>, max_file: u32 },
    /// No log file: `logs` has nothing to read.
    Discard,
}

impl Default for LogPolicy {
    /// json-file's defaults: one file, never rotated.
    fn default() -> Self {
        LogPolicy::Files { max_size: None, max_file: 1 }
    }
}

/// The drivers the built-in runtime implements.
pub const BUILTIN_DRIVERS: &[&str] = &["json-file", "local", "none"];
/// Options the built-in runtime applies for `json-file` and `local`.
pub const BUILTIN_OPTIONS: &[&str] = &["max-size", "max-file"];

// Docker's `local` driver defaults (daemon/logger/local).
const LOCAL_MAX_SIZE: u64 = 20 << 20;
const LOCAL_MAX_FILE: u32 = 5;

impl Logging {
    pub fn driver_name(&self) -> &str {
        self.driver.as_deref().unwrap_or("json-file")
    }

    /// The built-in runtime's policy; `None` for a driver it does not implement (refused
    /// at load, so only an old record can have one). Options were checked at load.
    pub fn policy(&self) -> Option<LogPolicy> {
        let opt = |k: &str| self.options.get(k).map(String::as_str);
        let driver = self.driver_name();
        match driver {
            "none" => Some(LogPolicy::Discard),
            "json-file" | "local" => {
                let local = driver == "local";
                let size = opt("max-size").and_then(|s| parse_size(s));
                let max_size = if local { Some(size.unwrap_or(LOCAL_MAX_SIZE)).filter(|s| *s > 0) } else { size };
                let files = opt("max-file").and_then(|f| f.parse().ok());
                let max_file = files.unwrap_or(if local { LOCAL_MAX_FILE } else { 1 }).max(1);
                Some(LogPolicy::Files { max_size, max_file })
            }
            _ => None,
        }
    }
}

/// A size as the engine reads `max-size` for json-file and local (go-units'
/// `FromHumanSize`: `10`, `10k`, `1.5m`, `10kb`, `10 KiB`), in powers of 1000 whatever
/// the spelling: `10KiB` is 10000 bytes there too.
pub fn parse_size(s: &str) -> Option<u64> {
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    if num.is_empty() || num.starts_with('.') || num.ends_with('.') {
        return None;
    }
    let num: f64 = num.parse().ok()?;
    let unit = unit.strip_prefix(' ').unwrap_or(unit).to_ascii_lowercase();
    let unit = unit.strip_suffix('b').unwrap_or(&unit);
    let unit = unit.strip_suffix('i').unwrap_or(unit);
    let power = match unit {
        "" => 0,
        "k" => 1,
        "m" => 2,
        "g" => 3,
        "t" => 4,
        "p" => 5,
        _ => return None,
    };
    Some((num * 1000f64.powi(power)) as u64)
}

/// Options each driver of the engine knows, where the engine refuses others.
fn known_options(driver: &str) -> Option<&'static [&'static str]> {
    match driver {
        "json-file" => Some(&["max-size", "max-file", "compress", "labels", "labels-regex", "env", "env-regex", "tag"]),
        "local" => Some(&["max-size", "max-file", "compress"]),
        _ => None,
    }
}

/// `logging:` of a service.
pub fn logging(srcs: &Sources, n: &Node, what: &str) -> Result<Logging> {
    check_keys(srcs, map(srcs, n, what)?, &["driver", "options"], what)?;
    let driver = n.get("driver").filter(|d| d.v != Val::Null);
    let options = n.get("options");
    build(srcs, driver, options, what)
}

/// v1's `log_driver:` and `log_opt:` of a service node, if either is set.
pub fn legacy(srcs: &Sources, service: &Node, what: &str) -> Result<Option<Logging>> {
    let (driver, options) = (service.get("log_driver"), service.get("log_opt"));
    if driver.is_none() && options.is_none() {
        return Ok(None);
    }
    build(srcs, driver.filter(|d| d.v != Val::Null), options, what).map(Some)
}

fn build(srcs: &Sources, driver: Option<&Node>, options: Option<&Node>, what: &str) -> Result<Logging> {
    let driver_what = format!("{what}: driver");
    let driver_name = driver.map(|d| text(srcs, d, &driver_what)).transpose()?;
    if let (Some(d), Some(name)) = (driver, &driver_name)
        && name.is_empty()
    {
        return Err(srcs.err(d, format!("{driver_what} must not be empty")));
    }
    let mut out = Logging { driver: driver_name, options: IndexMap::new() };
    let Some(options) = options.filter(|o| o.v != Val::Null) else { return Ok(out) };
    let opts_what = format!("{what}: options");
    for (k, v) in map(srcs, options, &opts_what)? {
        let w = format!("{opts_what}: {}", k.key());
        // The specification allows strings and numbers (`max-file: 3`).
        let value = match &v.v {
            Val::Str(_) | Val::Int(_) | Val::Float(_) => text(srcs, v, &w)?,
            _ => return Err(type_err(srcs, v, &w, "a string or a number")),
        };
        check_option(&out, k.key(), &value).map_err(|msg| srcs.err(v, format!("{w}: {msg}")))?;
        out.options.insert(k.key().to_string(), value);
    }
    if let Some(known) = known_options(out.driver_name())
        && let Some((k, _)) = options.as_map().into_iter().flatten().find(|(k, _)| !known.contains(&k.key()))
    {
        return Err(srcs.err(k, format!("{opts_what}: unknown option {:?} for the {} driver (it knows {})", k.key(), out.driver_name(), known.join(", "))));
    }
    // As the engine: `local` compresses rotated files, which needs more than one.
    if out.driver_name() == "local" && out.options.get("compress").is_none_or(|c| parse_bool(c) == Some(true)) {
        let files = out.options.get("max-file").and_then(|f| f.parse::<u32>().ok()).unwrap_or(LOCAL_MAX_FILE);
        if files <= 1 {
            return Err(srcs.err(options, format!("{opts_what}: compression cannot be enabled when max-file is 1 (set compress: \"false\")")));
        }
    }
    Ok(out)
}

/// The engine's checks of one option of `json-file` and `local` (other drivers' options
/// are the engine's to judge).
fn check_option(l: &Logging, key: &str, value: &str) -> std::result::Result<(), String> {
    let driver = l.driver_name();
    if known_options(driver).is_none() {
        return Ok(());
    }
    let local = driver == "local";
    match key {
        "max-size" => {
            let size = parse_size(value).ok_or_else(|| format!("invalid size {value:?} (use a number with an optional unit k, m or g, like 10m)"))?;
            if size == 0 && !local {
                return Err("max-size must be a positive number".into());
            }
        }
        "max-file" => {
            let n: i64 = value.parse().map_err(|_| format!("{value:?} is not a number of files"))?;
            if n < 1 || n > u32::MAX as i64 {
                return Err(format!("max-file must be at least 1, not {n}"));
            }
        }
        "compress" => {
            parse_bool(value).ok_or_else(|| format!("{value:?} is not a boolean (true or false)"))?;
        }
        _ => {}
    }
    Ok(())
}

/// Go's `strconv.ParseBool`.
fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_as_the_engine_reads_them() {
        assert_eq!(parse_size("100k"), Some(100_000));
        assert_eq!(parse_size("1.5m"), Some(1_500_000));
        assert_eq!(parse_size("10KiB"), Some(10_000));
        assert_eq!(parse_size("10 kb"), Some(10_000));
        assert_eq!(parse_size("2G"), Some(2_000_000_000));
        assert_eq!(parse_size("123"), Some(123));
        for bad in ["10x", "", "-1", "k", "1.k", "10kbb"] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
    }

    #[test]
    fn policies_take_docker_defaults() {
        let l = |d: Option<&str>, o: &[(&str, &str)]| Logging { driver: d.map(str::to_string), options: o.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect() };
        assert_eq!(l(None, &[]).policy(), Some(LogPolicy::Files { max_size: None, max_file: 1 }));
        assert_eq!(l(Some("json-file"), &[("max-size", "1k"), ("max-file", "3")]).policy(), Some(LogPolicy::Files { max_size: Some(1000), max_file: 3 }));
        assert_eq!(l(Some("local"), &[]).policy(), Some(LogPolicy::Files { max_size: Some(20 << 20), max_file: 5 }));
        assert_eq!(l(Some("none"), &[]).policy(), Some(LogPolicy::Discard));
        assert_eq!(l(Some("syslog"), &[]).policy(), None);
    }
}
