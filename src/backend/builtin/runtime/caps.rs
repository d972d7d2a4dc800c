//! Linux capabilities of the container process: Docker's default set adjusted by
//! cap_add/cap_drop, applied with raw prctl/capset (no libcap needed).

const NAMES: [&str; 41] = [
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
    "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
    "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
    "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
    "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
    "CHECKPOINT_RESTORE",
];

/// Docker's default capabilities (mask 0x00000000a80425fb).
const DEFAULT: [&str; 14] = [
    "CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID", "SETFCAP", "SETPCAP",
    "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE",
];

/// Number of a capability name, with or without the `CAP_` prefix, any case.
pub fn cap_number(name: &str) -> Option<u32> {
    let upper = name.trim().to_ascii_uppercase();
    let bare = upper.strip_prefix("CAP_").unwrap_or(&upper);
    NAMES.iter().position(|n| *n == bare).map(|i| i as u32)
}

/// Highest capability this kernel knows.
pub fn last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40)
}

fn all_mask() -> u64 {
    let last = last_cap().min(63);
    if last == 63 { u64::MAX } else { (1u64 << (last + 1)) - 1 }
}

/// The capability mask for a container: Docker's defaults, then adds, then drops
/// (`ALL` works on both sides); everything when privileged.
pub fn effective_set(privileged: bool, cap_add: &[String], cap_drop: &[String]) -> Result<u64, String> {
    if privileged {
        return Ok(all_mask());
    }
    let bit = |name: &str| cap_number(name).map(|n| 1u64 << n).ok_or_else(|| format!("unknown capability: {name:?}"));
    let mut set = 0u64;
    for name in DEFAULT {
        set |= bit(name)?;
    }
    let is_all = |n: &String| n.trim().eq_ignore_ascii_case("ALL") || n.trim().eq_ignore_ascii_case("CAP_ALL");
    if cap_drop.iter().any(is_all) {
        set = 0;
    }
    for name in cap_add {
        set |= if is_all(name) { all_mask() } else { bit(name)? };
    }
    for name in cap_drop.iter().filter(|n| !is_all(n)) {
        set &= !bit(name)?;
    }
    Ok(set & all_mask())
}

/// This process's permitted set: a container cannot get more than hoist itself has.
pub fn current_permitted() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("CapPrm:").and_then(|v| u64::from_str_radix(v.trim(), 16).ok())))
        .unwrap_or(u64::MAX)
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const CAP_V3: u32 = 0x2008_0522;

/// Shrinks the bounding set to `set` (needs CAP_SETPCAP, so call it while still root
/// with full capabilities, before changing user).
pub fn drop_bounding(set: u64) -> std::io::Result<()> {
    for cap in 0..=last_cap() {
        if set & (1u64 << cap) == 0 {
            // SAFETY: plain prctl with integer arguments.
            if unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) } != 0 {
                let e = std::io::Error::last_os_error();
                // EINVAL: a capability this kernel does not have.
                if e.raw_os_error() != Some(libc::EINVAL) {
                    return Err(e);
                }
            }
        }
    }
    Ok(())
}

/// Sets effective = permitted = `set`, inheritable empty, and clears the ambient set.
pub fn set_process_caps(set: u64) -> std::io::Result<()> {
    let header = CapHeader { version: CAP_V3, pid: 0 };
    let data = [
        CapData { effective: set as u32, permitted: set as u32, inheritable: 0 },
        CapData { effective: (set >> 32) as u32, permitted: (set >> 32) as u32, inheritable: 0 },
    ];
    // SAFETY: header and two data structs laid out as the kernel's v3 ABI expects.
    if unsafe { libc::syscall(libc::SYS_capset, &header as *const CapHeader, data.as_ptr()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: integer-only prctl; failure just means no ambient support (old kernels).
    unsafe {
        libc::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong, 0, 0, 0);
    }
    Ok(())
}

/// Keeps the permitted set across the coming setuid (restored by `set_process_caps`).
pub fn keep_caps() -> std::io::Result<()> {
    // SAFETY: integer-only prctl.
    if unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 1 as libc::c_ulong, 0, 0, 0) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

pub fn no_new_privs() -> std::io::Result<()> {
    // SAFETY: integer-only prctl.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1 as libc::c_ulong, 0, 0, 0) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_default_mask() {
        assert_eq!(effective_set(false, &[], &[]).unwrap(), 0xa804_25fb);
        let s = effective_set(false, &["NET_ADMIN".into()], &["cap_chown".into()]).unwrap();
        assert_eq!(s, (0xa804_25fb | 1 << 12) & !1);
        assert_eq!(effective_set(false, &["KILL".into()], &["ALL".into()]).unwrap(), 1 << 5);
        assert!(effective_set(false, &["BOGUS".into()], &[]).is_err());
    }
}
