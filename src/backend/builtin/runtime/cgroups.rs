//! Per-container cgroups `hoist/<id>` (or `<cgroup_parent>/<id>`): cgroup v1 (one directory per controller, plus a
//! group in the v2 hierarchy beside them on hybrid hosts) or a pure v2 unified tree;
//! limits, the device allow-list, membership (for `top`), usage (for `stats`), freezing
//! (pause) and removal.

use std::fs;
use std::path::{Path, PathBuf};

use super::Resources;
use super::bpf;
use super::devices::Rule;

const ROOT: &str = "/sys/fs/cgroup";
/// Where hybrid hosts (systemd's default before v2 only) mount the v2 hierarchy.
const HYBRID_V2_ROOT: &str = "/sys/fs/cgroup/unified";
/// v1 controllers we create a group in (cpuset needs extra setup and adds nothing here;
/// blkio only counts, for `stats`).
const V1_CONTROLLERS: [&str; 7] = ["memory", "cpu", "cpuacct", "pids", "freezer", "blkio", "devices"];

/// Whether the host has only cgroup v2, mounted at /sys/fs/cgroup.
fn is_v2() -> bool {
    Path::new(ROOT).join("cgroup.controllers").exists()
}

/// The cgroup v2 hierarchy: /sys/fs/cgroup on a pure v2 host, /sys/fs/cgroup/unified
/// beside the v1 controllers on a hybrid one, none on a v1 only host.
pub(super) fn v2_root() -> Option<PathBuf> {
    [ROOT, HYBRID_V2_ROOT].into_iter().map(PathBuf::from).find(|root| root.join("cgroup.controllers").exists())
}

/// Creates the groups and applies the limits and the device allow-list; returns their
/// directories (recorded in the state so later commands find them). Controllers that are
/// missing are skipped, except the device filter: a container that may not use every
/// device does not run without one. Where both exist, the v1 devices controller and the
/// v2 BPF filter both apply; each must be set up, or the container does not run.
pub fn create(id: &str, parent: Option<&str>, res: &Resources, devices: &[Rule]) -> Result<Vec<PathBuf>, String> {
    let parent = parent_path(parent)?;
    let restricted = !devices.iter().any(Rule::allows_everything);
    let v2 = v2_root();
    let v1_devices = Path::new(ROOT).join("devices");
    if restricted && v2.is_none() && !v1_devices.join("cgroup.procs").exists() {
        return Err(format!(
            "neither the devices cgroup controller (at {}) nor a cgroup v2 hierarchy is mounted: hoist does not run a \
             container without Docker's device allow-list",
            v1_devices.display()
        ));
    }
    let mut dirs = Vec::new();
    let made = if is_v2() {
        create_v2(&Path::new(ROOT).join(&parent), id, Some(res), restricted.then_some(devices), &mut dirs)
    } else {
        create_v1(&parent, id, res, devices, &mut dirs).and_then(|()| match &v2 {
            Some(root) => create_v2(&root.join(&parent), id, None, restricted.then_some(devices), &mut dirs),
            None => Ok(()),
        })
    };
    match made {
        Ok(()) => Ok(dirs),
        Err(e) => {
            // Nothing half-made: the caller records no groups when this fails.
            remove(&dirs);
            Err(e)
        }
    }
}

/// The parent of the container's groups, relative to each hierarchy's root: `hoist`, or
/// the service's `cgroup_parent` (checked at load; again here, where it becomes a path).
fn parent_path(parent: Option<&str>) -> Result<PathBuf, String> {
    let Some(parent) = parent else { return Ok(PathBuf::from("hoist")) };
    crate::compose::values::check_cgroup_parent(parent)?;
    Ok(parent.split('/').filter(|c| !c.is_empty()).collect())
}

/// The group under a v2 hierarchy (`parent` the hierarchy's root joined with the parent
/// path), pushed to `dirs` as soon as it exists: the limits when the v2 controllers are
/// ours (pure v2), the device filter when there is a list.
fn create_v2(parent: &Path, id: &str, res: Option<&Resources>, devices: Option<&[Rule]>, dirs: &mut Vec<PathBuf>) -> Result<(), String> {
    fs::create_dir_all(parent).map_err(|e| format!("creating {}: {e}", parent.display()))?;
    if res.is_some() {
        // Delegate controllers down to our groups, from the root through every level of
        // the parent (top down, as the kernel wants); those it lacks are ignored.
        let levels: Vec<&Path> = parent.ancestors().filter(|d| d.starts_with(ROOT)).collect();
        for dir in levels.into_iter().rev() {
            for c in ["+memory", "+cpu", "+pids", "+io"] {
                let _ = fs::write(dir.join("cgroup.subtree_control"), c);
            }
        }
    }
    let dir = parent.join(id);
    // A fresh group: one left by a killed supervisor may still carry an older filter.
    match fs::remove_dir(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("removing the group {} left by an earlier run: {e}", dir.display())),
    }
    fs::create_dir(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    dirs.push(dir.clone());
    if let Some(res) = res {
        if let Some(m) = res.memory {
            write(&dir, "memory.max", &m.to_string())?;
            if let Some(swap) = res.memory_swap {
                let v = if swap < 0 { "max".to_string() } else { (swap as u64).saturating_sub(m).to_string() };
                let _ = fs::write(dir.join("memory.swap.max"), v);
            }
        }
        // runc's mapping of Docker's MemoryReservation on cgroup v2.
        if let Some(m) = res.memory_reservation {
            write(&dir, "memory.low", &m.to_string())?;
        }
        if let Some(shares) = res.cpu_shares {
            let weight = 1 + (shares.clamp(2, 262_144) - 2) * 9999 / 262_142;
            write(&dir, "cpu.weight", &weight.to_string())?;
        }
        if let Some(cpus) = res.cpus.filter(|c| *c > 0.0) {
            write(&dir, "cpu.max", &format!("{} 100000", (cpus * 100_000.0) as u64))?;
        }
        if let Some(p) = res.pids_limit.filter(|p| *p > 0) {
            write(&dir, "pids.max", &p.to_string())?;
        }
    }
    // Attached before the container's process joins the group, so it never runs without.
    if let Some(rules) = devices {
        bpf::attach(&dir, rules)?;
    }
    Ok(())
}

/// One group per mounted controller, pushed to `dirs` as soon as it exists.
fn create_v1(parent: &Path, id: &str, res: &Resources, devices: &[Rule], dirs: &mut Vec<PathBuf>) -> Result<(), String> {
    for ctrl in V1_CONTROLLERS {
        let base = Path::new(ROOT).join(ctrl);
        if !base.join("cgroup.procs").exists() {
            continue;
        }
        let dir = base.join(parent).join(id);
        fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        dirs.push(dir.clone());
        match ctrl {
            "memory" => {
                if let Some(m) = res.memory {
                    write(&dir, "memory.limit_in_bytes", &m.to_string())?;
                    if let Some(swap) = res.memory_swap {
                        // Swap accounting is often off: then the file does not exist.
                        let _ = fs::write(dir.join("memory.memsw.limit_in_bytes"), swap.to_string());
                    }
                }
                if let Some(m) = res.memory_reservation {
                    write(&dir, "memory.soft_limit_in_bytes", &m.to_string())?;
                }
            }
            "cpu" => {
                if let Some(shares) = res.cpu_shares {
                    write(&dir, "cpu.shares", &shares.to_string())?;
                }
                if let Some(cpus) = res.cpus.filter(|c| *c > 0.0) {
                    write(&dir, "cpu.cfs_period_us", "100000")?;
                    write(&dir, "cpu.cfs_quota_us", &((cpus * 100_000.0) as u64).to_string())?;
                }
            }
            "pids" => {
                if let Some(p) = res.pids_limit.filter(|p| *p > 0) {
                    write(&dir, "pids.max", &p.to_string())?;
                }
            }
            // Deny everything, then allow the list (as runc): written before the container's
            // process joins the group, so it never runs with more.
            "devices" => {
                write(&dir, "devices.deny", "a")?;
                for rule in devices {
                    write(&dir, "devices.allow", &rule.to_string())?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn write(dir: &Path, file: &str, value: &str) -> Result<(), String> {
    fs::write(dir.join(file), value).map_err(|e| format!("setting {}/{file} to {value}: {e}", dir.display()))
}

/// Moves a process (and its future children) into every group.
pub fn add_pid(dirs: &[PathBuf], pid: i32) -> Result<(), String> {
    for dir in dirs {
        write(dir, "cgroup.procs", &pid.to_string())?;
    }
    Ok(())
}

/// Pids in the container's group(s).
pub fn pids(dirs: &[PathBuf]) -> Vec<i32> {
    let Some(dir) = dirs.first() else { return vec![] };
    let mut pids: Vec<i32> = fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    pids.sort_unstable();
    pids
}

/// What a container's groups have counted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Usage {
    pub cpu_ns: u64,
    /// Without inactive page cache, as Docker reports it.
    pub memory_usage: u64,
    /// The limit, or the host's memory when there is none.
    pub memory_limit: u64,
    pub pids: u64,
    pub block_read: u64,
    pub block_write: u64,
}

/// Reads the counters of the groups (v2: one directory; v1: one per controller).
pub fn usage(dirs: &[PathBuf]) -> Usage {
    let read = |file: &str| -> Option<String> { dirs.iter().find_map(|d| fs::read_to_string(d.join(file)).ok()) };
    let num = |file: &str| -> Option<u64> { read(file)?.trim().parse().ok() };
    // `key value` lines (memory.stat, cpu.stat).
    let field = |file: &str, key: &str| -> Option<u64> {
        read(file)?.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.trim().parse().ok())
    };
    let host_memory = host_memory();
    let limit = |v: Option<u64>| v.filter(|l| *l > 0 && *l < host_memory).unwrap_or(host_memory);
    let mut u = Usage::default();
    if is_v2() {
        u.cpu_ns = field("cpu.stat", "usage_usec").unwrap_or(0) * 1000;
        u.memory_usage = num("memory.current").unwrap_or(0).saturating_sub(field("memory.stat", "inactive_file").unwrap_or(0));
        u.memory_limit = limit(num("memory.max"));
        // `8:0 rbytes=1 wbytes=2 rios=3 ...` per device.
        for l in read("io.stat").unwrap_or_default().lines() {
            for kv in l.split_whitespace() {
                match kv.split_once('=') {
                    Some(("rbytes", v)) => u.block_read += v.parse().unwrap_or(0),
                    Some(("wbytes", v)) => u.block_write += v.parse().unwrap_or(0),
                    _ => {}
                }
            }
        }
    } else {
        u.cpu_ns = num("cpuacct.usage").unwrap_or(0);
        u.memory_usage = num("memory.usage_in_bytes").unwrap_or(0).saturating_sub(field("memory.stat", "total_inactive_file").unwrap_or(0));
        u.memory_limit = limit(num("memory.limit_in_bytes"));
        // `8:0 Read 4096` per device and operation, then a `Total` line.
        for l in read("blkio.throttle.io_service_bytes").unwrap_or_default().lines() {
            let f: Vec<&str> = l.split_whitespace().collect();
            match f.as_slice() {
                [_, "Read", v] => u.block_read += v.parse().unwrap_or(0),
                [_, "Write", v] => u.block_write += v.parse().unwrap_or(0),
                _ => {}
            }
        }
    }
    u.pids = num("pids.current").unwrap_or(0);
    u
}

/// MemTotal of /proc/meminfo, in bytes.
fn host_memory() -> u64 {
    let info = fs::read_to_string("/proc/meminfo").unwrap_or_default();
    info.lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(u64::MAX, |kb| kb * 1024)
}

pub fn freeze(dirs: &[PathBuf], frozen: bool) -> Result<(), String> {
    for dir in dirs {
        if dir.join("cgroup.freeze").exists() {
            return write(dir, "cgroup.freeze", if frozen { "1" } else { "0" });
        }
        if dir.join("freezer.state").exists() {
            return write(dir, "freezer.state", if frozen { "FROZEN" } else { "THAWED" });
        }
    }
    Err("no freezer cgroup for this container".into())
}

/// Removes the groups; they must be empty, so retry briefly while the kernel reaps.
pub fn remove(dirs: &[PathBuf]) {
    for dir in dirs {
        for _ in 0..50 {
            match fs::remove_dir(dir) {
                Ok(()) => break,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
            }
        }
    }
}
