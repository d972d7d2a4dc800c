//! Inside the new namespaces, before the command runs: the rootfs mount (overlayfs, done
//! by the supervisor), /proc, /sys, /dev, user mounts, pivot_root, masks, identity, exec.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use nix::mount::{MntFlags, MsFlags, mount, umount2};

use super::{MountKind, RuntimeMount, RuntimeSpec, caps, seccomp, user};

type Res<T> = std::result::Result<T, String>;

pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Paths Docker hides from unprivileged containers.
const MASKED: [&str; 11] = [
    "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
    "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
];
const READ_ONLY: [&str; 5] = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

fn mnt(src: Option<&Path>, target: &Path, fstype: Option<&str>, flags: MsFlags, data: Option<&str>) -> Res<()> {
    mount(src, target, fstype, flags, data).map_err(|e| {
        format!("mounting {} on {}: {e}", src.map(|s| s.display().to_string()).unwrap_or_else(|| fstype.unwrap_or("-").into()), target.display())
    })
}

// ---------------------------------------------------------------------------------------
// The overlay rootfs (host mount namespace, by the supervisor) and cleanup.

/// Mount points at or below `path`, deepest first, from /proc/self/mountinfo.
pub fn mounts_under(path: &Path) -> Vec<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut found: Vec<PathBuf> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| PathBuf::from(unescape_mount_path(p)))
        .filter(|p| p.starts_with(path))
        .collect();
    found.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    found.dedup();
    found
}

/// mountinfo escapes space, tab, newline and backslash as octal.
fn unescape_mount_path(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 4 <= b.len()
            && let Some(v) = std::str::from_utf8(&b[i + 1..i + 4]).ok().and_then(|o| u8::from_str_radix(o, 8).ok())
        {
            out.push(v);
            i += 4;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn is_mounted(path: &Path) -> bool {
    mounts_under(path).iter().any(|p| p == path)
}

/// Mounts the image layers (top first) with the container's upper/work dirs at `rootfs`.
pub fn mount_rootfs(spec: &RuntimeSpec) -> Res<()> {
    if is_mounted(&spec.rootfs) {
        return Ok(());
    }
    for d in [&spec.rootfs, &spec.upper_dir, &spec.work_dir] {
        std::fs::create_dir_all(d).map_err(|e| format!("creating {}: {e}", d.display()))?;
    }
    let mut lowers = crate::backend::builtin::image::overlay_lowers(&spec.layers);
    // Lowest of all: the image's own files win over the empty mount points.
    lowers.extend(spec.base_layer.clone());
    if lowers.is_empty() {
        // overlayfs needs a lower layer: an empty one stands for `FROM scratch`.
        let empty = spec.work_dir.with_file_name("lower-empty");
        std::fs::create_dir_all(&empty).map_err(|e| format!("creating {}: {e}", empty.display()))?;
        lowers.push(empty);
    }
    let lower = lowers.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(":");
    let data = format!("lowerdir={lower},upperdir={},workdir={}", spec.upper_dir.display(), spec.work_dir.display());
    if data.len() >= 4000 {
        return Err(format!("too many image layers for one overlay mount ({} layers)", lowers.len()));
    }
    mnt(Some(Path::new("overlay")), &spec.rootfs, Some("overlay"), MsFlags::empty(), Some(&data))
}

/// Lazily unmounts everything at or below `path` (deepest first). Errors are ignored:
/// cleanup must get as far as it can.
pub fn unmount_all(path: &Path) {
    for _ in 0..3 {
        let mounts = mounts_under(path);
        if mounts.is_empty() {
            return;
        }
        for m in mounts {
            let _ = umount2(&m, MntFlags::MNT_DETACH);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Inside the container's mount namespace.

/// Joins `path` (absolute inside the container) to `root`, following symlinks as if
/// `root` were `/`, so an image cannot point a mount target outside its rootfs.
pub fn resolve_in_root(root: &Path, path: &Path) -> PathBuf {
    let mut resolved = PathBuf::new();
    let mut pending: Vec<std::ffi::OsString> = path.components().rev().filter_map(comp_name).collect();
    let mut links = 0;
    while let Some(part) = pending.pop() {
        if part == ".." {
            resolved.pop();
            continue;
        }
        let candidate = resolved.join(&part);
        let host = root.join(&candidate);
        match std::fs::read_link(&host) {
            Ok(target) if links < 40 => {
                links += 1;
                if target.is_absolute() {
                    resolved = PathBuf::new();
                }
                pending.extend(target.components().rev().filter_map(comp_name));
            }
            _ => resolved = candidate,
        }
    }
    root.join(resolved)
}

fn comp_name(c: Component) -> Option<std::ffi::OsString> {
    match c {
        Component::Normal(n) => Some(n.to_os_string()),
        Component::ParentDir => Some("..".into()),
        _ => None,
    }
}

fn ensure_dir(path: &Path) -> Res<()> {
    std::fs::create_dir_all(path).map_err(|e| format!("creating {}: {e}", path.display()))
}

fn ensure_file(path: &Path) -> Res<()> {
    if path.exists() {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        ensure_dir(parent)?;
    }
    std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(path).map(|_| ()).map_err(|e| format!("creating {}: {e}", path.display()))
}

fn bind(src: &Path, target: &Path, read_only: bool) -> Res<()> {
    if src.is_dir() {
        ensure_dir(target)?;
    } else {
        ensure_file(target)?;
    }
    mnt(Some(src), target, None, MsFlags::MS_BIND | MsFlags::MS_REC, None)?;
    if read_only {
        remount_ro(target)?;
    }
    Ok(())
}

fn remount_ro(target: &Path) -> Res<()> {
    let flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
    // Keep the flags the kernel locks on the source mount (nosuid, nodev, noexec).
    let extra = nix::sys::statvfs::statvfs(target).map(|s| s.flags()).ok();
    let mut f = flags;
    if let Some(sf) = extra {
        use nix::sys::statvfs::FsFlags;
        if sf.contains(FsFlags::ST_NOSUID) {
            f |= MsFlags::MS_NOSUID;
        }
        if sf.contains(FsFlags::ST_NODEV) {
            f |= MsFlags::MS_NODEV;
        }
        if sf.contains(FsFlags::ST_NOEXEC) {
            f |= MsFlags::MS_NOEXEC;
        }
    }
    mnt(None, target, None, f, None)
}

fn user_mount(root: &Path, m: &RuntimeMount) -> Res<()> {
    let target = resolve_in_root(root, Path::new(&m.target));
    match m.kind {
        MountKind::Bind => {
            if !m.source.exists() {
                return Err(format!("bind source path does not exist: {}", m.source.display()));
            }
            bind(&m.source, &target, m.read_only)
        }
        MountKind::Tmpfs => {
            ensure_dir(&target)?;
            // Docker's defaults for a tmpfs: nothing run or trusted from it.
            let mut flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
            if m.read_only {
                flags |= MsFlags::MS_RDONLY;
            }
            // `source` may carry tmpfs options (size=…,mode=…); a path there means none.
            let opts = m.source.to_str().filter(|s| s.contains('=')).unwrap_or("mode=1777");
            mnt(Some(Path::new("tmpfs")), &target, Some("tmpfs"), flags, Some(opts))
        }
        MountKind::TmpfsVolume => {
            ensure_dir(&target)?;
            let flags = if m.read_only { MsFlags::MS_RDONLY } else { MsFlags::empty() };
            mnt(Some(Path::new("tmpfs")), &target, Some("tmpfs"), flags, m.source.to_str())
        }
    }
}

fn setup_dev(root: &Path, spec: &RuntimeSpec) -> Res<()> {
    let dev = root.join("dev");
    ensure_dir(&dev)?;
    mnt(Some(Path::new("tmpfs")), &dev, Some("tmpfs"), MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME, Some("mode=755,size=65536k"))?;
    for name in ["null", "zero", "full", "random", "urandom", "tty"] {
        bind(&Path::new("/dev").join(name), &dev.join(name), false)?;
    }
    let pts = dev.join("pts");
    ensure_dir(&pts)?;
    mnt(Some(Path::new("devpts")), &pts, Some("devpts"), MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC, Some("newinstance,ptmxmode=0666,mode=0620,gid=5"))?;
    let shm = dev.join("shm");
    ensure_dir(&shm)?;
    let size = spec.resources.shm_size.unwrap_or(64 * 1024 * 1024);
    mnt(Some(Path::new("shm")), &shm, Some("tmpfs"), MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC, Some(&format!("mode=1777,size={size}")))?;
    let mq = dev.join("mqueue");
    ensure_dir(&mq)?;
    // Optional: needs a private IPC namespace.
    let _ = mount(Some("mqueue"), &mq, Some("mqueue"), MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC, None::<&str>);
    for (link, target) in [("ptmx", "pts/ptmx"), ("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2"), ("core", "/proc/kcore")] {
        std::os::unix::fs::symlink(target, dev.join(link)).map_err(|e| format!("creating /dev/{link}: {e}"))?;
    }
    if spec.privileged {
        // As Docker: a privileged container sees the host's devices.
        for entry in std::fs::read_dir("/dev").into_iter().flatten().flatten() {
            use std::os::unix::fs::FileTypeExt;
            let Ok(ft) = entry.file_type() else { continue };
            let target = dev.join(entry.file_name());
            if (ft.is_char_device() || ft.is_block_device()) && !target.exists() {
                let _ = bind(&entry.path(), &target, false);
            }
        }
    }
    // What they may do with them is the device cgroup's business (cgroups::create).
    for d in &spec.devices {
        bind(Path::new(&d.source), &resolve_in_root(root, Path::new(&d.target)), false).map_err(|e| format!("device {d}: {e}"))?;
    }
    Ok(())
}

/// Everything from "mounts private" to "pivot_root done"; afterwards `/` is the container's.
pub fn setup_rootfs(spec: &RuntimeSpec) -> Res<()> {
    let root = spec.rootfs.as_path();
    mnt(None, Path::new("/"), None, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None)?;
    // pivot_root needs the new root to be a mount point of its own in this namespace.
    mnt(Some(root), root, None, MsFlags::MS_BIND | MsFlags::MS_REC, None)?;

    let proc_dir = root.join("proc");
    ensure_dir(&proc_dir)?;
    mnt(Some(Path::new("proc")), &proc_dir, Some("proc"), MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC, None)?;
    let sys = root.join("sys");
    ensure_dir(&sys)?;
    let sys_flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC | if spec.privileged { MsFlags::empty() } else { MsFlags::MS_RDONLY };
    if mount(Some("sysfs"), &sys, Some("sysfs"), sys_flags, None::<&str>).is_err() {
        // sysfs refuses a second mount from a netns it does not own: share the host's.
        mnt(Some(Path::new("/sys")), &sys, None, MsFlags::MS_BIND | MsFlags::MS_REC, None)?;
        if !spec.privileged {
            remount_ro(&sys)?;
        }
    }
    setup_dev(root, spec)?;

    // Shallow targets first so `/data` is mounted before `/data/sub`.
    let mut mounts: Vec<&RuntimeMount> = spec.mounts.iter().collect();
    mounts.sort_by_key(|m| Path::new(&m.target).components().count());
    for m in mounts {
        user_mount(root, m).map_err(|e| format!("mount {}: {e}", m.target))?;
    }

    std::env::set_current_dir(root).map_err(|e| format!("chdir {}: {e}", root.display()))?;
    nix::unistd::pivot_root(".", ".").map_err(|e| format!("pivot_root: {e}"))?;
    umount2(".", MntFlags::MNT_DETACH).map_err(|e| format!("unmounting the old root: {e}"))?;
    std::env::set_current_dir("/").map_err(|e| format!("chdir /: {e}"))?;
    Ok(())
}

/// After pivot_root: hostname, sysctls, masked and read-only paths, working dir, read-only root.
pub fn finish_rootfs(spec: &RuntimeSpec, cwd: &str) -> Res<()> {
    if !spec.hostname.is_empty() {
        nix::unistd::sethostname(&spec.hostname).map_err(|e| format!("sethostname: {e}"))?;
    }
    if let Some(domain) = spec.domainname.as_deref().filter(|d| !d.is_empty()) {
        // SAFETY: pointer and length of a live string.
        if unsafe { libc::setdomainname(domain.as_ptr().cast(), domain.len()) } != 0 {
            return Err(format!("setdomainname: {}", std::io::Error::last_os_error()));
        }
    }
    for (key, value) in &spec.sysctls {
        let path = Path::new("/proc/sys").join(key.replace('.', "/"));
        std::fs::write(&path, value).map_err(|e| format!("sysctl {key}={value}: {e}"))?;
    }
    if !spec.privileged {
        for p in MASKED {
            let path = Path::new(p);
            let Ok(meta) = std::fs::metadata(path) else { continue };
            if meta.is_dir() {
                mnt(Some(Path::new("tmpfs")), path, Some("tmpfs"), MsFlags::MS_RDONLY, None)?;
            } else {
                mnt(Some(Path::new("/dev/null")), path, None, MsFlags::MS_BIND, None)?;
            }
        }
        for p in READ_ONLY {
            let path = Path::new(p);
            if path.exists() {
                mnt(Some(path), path, None, MsFlags::MS_BIND | MsFlags::MS_REC, None)?;
                remount_ro(path)?;
            }
        }
    }
    // As Docker: a missing working directory is created.
    let cwd = if cwd.is_empty() { "/" } else { cwd };
    ensure_dir(Path::new(cwd))?;
    if spec.read_only {
        remount_ro(Path::new("/"))?;
    }
    Ok(())
}

pub fn apply_rlimits(ulimits: &[(String, i64, i64)]) -> Res<()> {
    for (name, soft, hard) in ulimits {
        let res = match name.as_str() {
            "core" => libc::RLIMIT_CORE,
            "cpu" => libc::RLIMIT_CPU,
            "data" => libc::RLIMIT_DATA,
            "fsize" => libc::RLIMIT_FSIZE,
            "locks" => libc::RLIMIT_LOCKS,
            "memlock" => libc::RLIMIT_MEMLOCK,
            "msgqueue" => libc::RLIMIT_MSGQUEUE,
            "nice" => libc::RLIMIT_NICE,
            "nofile" => libc::RLIMIT_NOFILE,
            "nproc" => libc::RLIMIT_NPROC,
            "rss" => libc::RLIMIT_RSS,
            "rtprio" => libc::RLIMIT_RTPRIO,
            "rttime" => libc::RLIMIT_RTTIME,
            "sigpending" => libc::RLIMIT_SIGPENDING,
            "stack" => libc::RLIMIT_STACK,
            "as" => libc::RLIMIT_AS,
            other => return Err(format!("unknown ulimit: {other}")),
        };
        let lim = |v: i64| if v < 0 { libc::RLIM_INFINITY } else { v as libc::rlim_t };
        let rl = libc::rlimit { rlim_cur: lim(*soft), rlim_max: lim(*hard) };
        // SAFETY: valid rlimit struct.
        if unsafe { libc::setrlimit(res, &rl) } != 0 {
            return Err(format!("setting ulimit {name}: {}", std::io::Error::last_os_error()));
        }
    }
    Ok(())
}

/// Who the command runs as and with what: filled before the identity is changed.
pub struct Identity {
    pub user: user::ResolvedUser,
    pub caps: u64,
    pub no_new_privs: bool,
    /// Docker's default seccomp profile unless privileged or `seccomp=unconfined`.
    pub seccomp: Option<seccomp::Filter>,
}

pub fn identity(root: &Path, user_spec: Option<&str>, group_add: &[String], privileged: bool, cap_add: &[String], cap_drop: &[String], security_opt: &[String]) -> Res<Identity> {
    let user = user::resolve(root, user_spec, group_add)?;
    let caps = caps::effective_set(privileged, cap_add, cap_drop)? & caps::current_permitted();
    let no_new_privs = security_opt.iter().any(|o| {
        let o = o.replace('=', ":");
        o == "no-new-privileges" || o == "no-new-privileges:true"
    });
    let seccomp = seccomp::for_container(security_opt, privileged, caps)?;
    Ok(Identity { user, caps, no_new_privs, seccomp })
}

/// The container's seccomp filter, from its own spec: an `exec --privileged` gets every
/// capability but keeps the container's filter, as with Docker.
pub fn container_seccomp(spec: &RuntimeSpec) -> Res<Option<seccomp::Filter>> {
    let caps = caps::effective_set(spec.privileged, &spec.cap_add, &spec.cap_drop)? & caps::current_permitted();
    seccomp::for_container(&spec.security_opt, spec.privileged, caps)
}

/// Bounding set, groups, gid, uid, then the capability sets Docker gives: the full set for
/// root, none (only the bounding set) for other users; and the seccomp filter. Without
/// no_new_privs, installing a filter needs CAP_SYS_ADMIN, so (as runc) it goes in first and
/// the profile allows what follows (prctl, setgroups, setuid, capset, then exec); with
/// no_new_privs it goes in last.
pub fn apply_identity(id: &Identity) -> Res<()> {
    if let Some(filter) = id.seccomp.as_ref().filter(|_| !id.no_new_privs) {
        filter.install()?;
    }
    caps::drop_bounding(id.caps).map_err(|e| format!("dropping capabilities: {e}"))?;
    caps::keep_caps().map_err(|e| format!("prctl(KEEPCAPS): {e}"))?;
    let groups: Vec<libc::gid_t> = id.user.groups.clone();
    // SAFETY: setgroups with a valid slice; setgid/setuid with plain ids.
    unsafe {
        if libc::setgroups(groups.len(), groups.as_ptr()) != 0 {
            return Err(format!("setgroups: {}", std::io::Error::last_os_error()));
        }
        if libc::setgid(id.user.gid) != 0 {
            return Err(format!("setgid {}: {}", id.user.gid, std::io::Error::last_os_error()));
        }
        if libc::setuid(id.user.uid) != 0 {
            return Err(format!("setuid {}: {}", id.user.uid, std::io::Error::last_os_error()));
        }
    }
    let set = if id.user.uid == 0 { id.caps } else { 0 };
    caps::set_process_caps(set).map_err(|e| format!("capset: {e}"))?;
    if id.no_new_privs {
        caps::no_new_privs().map_err(|e| format!("prctl(NO_NEW_PRIVS): {e}"))?;
        if let Some(filter) = &id.seccomp {
            filter.install()?;
        }
    }
    Ok(())
}

/// The command's environment: the spec's, plus PATH, HOSTNAME and HOME when missing.
pub fn full_env(env: &[String], hostname: &str, home: &str) -> Vec<String> {
    let mut out: Vec<String> = env.to_vec();
    let has = |k: &str| env.iter().any(|e| e.split_once('=').map(|(a, _)| a) == Some(k));
    if !has("PATH") {
        out.insert(0, format!("PATH={DEFAULT_PATH}"));
    }
    if !has("HOSTNAME") && !hostname.is_empty() {
        out.insert(1.min(out.len()), format!("HOSTNAME={hostname}"));
    }
    if !has("HOME") {
        out.push(format!("HOME={home}"));
    }
    out
}

/// Finds the program like execvp would, but with the container's PATH; errors read like
/// Docker's (`exec: "foo": executable file not found in $PATH`).
pub fn find_program(prog: &str, env: &[String]) -> Res<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    if prog.is_empty() {
        return Err("exec: \"\": executable file not found in $PATH".into());
    }
    if prog.contains('/') {
        return match std::fs::metadata(prog) {
            Ok(m) if m.is_dir() => Err(format!("exec: \"{prog}\": is a directory")),
            Ok(_) => Ok(PathBuf::from(prog)),
            Err(e) => Err(format!("exec: \"{prog}\": stat {prog}: {}", lower_errno(&e))),
        };
    }
    let path = env.iter().find_map(|e| e.strip_prefix("PATH=")).unwrap_or(DEFAULT_PATH);
    for dir in path.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let candidate = Path::new(dir).join(prog);
        if let Ok(m) = std::fs::metadata(&candidate)
            && m.is_file()
            && m.permissions().mode() & 0o111 != 0
        {
            return Ok(candidate);
        }
    }
    Err(format!("exec: \"{prog}\": executable file not found in $PATH"))
}

fn lower_errno(e: &std::io::Error) -> String {
    let s = std::io::Error::from_raw_os_error(e.raw_os_error().unwrap_or(0)).to_string();
    let s = s.split(" (os error").next().unwrap_or(&s).to_string();
    let mut c = s.chars();
    c.next().map(|f| f.to_lowercase().collect::<String>() + c.as_str()).unwrap_or_default()
}

/// Default signal dispositions and an empty mask, as a fresh process expects (the
/// supervisor ignores SIGPIPE, and ignored signals survive exec).
pub fn reset_signals() {
    // SAFETY: resetting dispositions and the mask of this (child) process.
    unsafe {
        for sig in 1..libc::SIGRTMAX() {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::signal(sig, libc::SIG_DFL);
            }
        }
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
    }
}

/// execve; returns only on failure, with Docker-like wording.
pub fn exec(program: &Path, args: &[String], env: &[String]) -> String {
    let cstr = |s: &str| CString::new(s.as_bytes()).unwrap_or_default();
    let Ok(prog) = CString::new(program.as_os_str().as_bytes()) else { return "exec: invalid program path".into() };
    let argv: Vec<CString> = args.iter().map(|a| cstr(a)).collect();
    let envp: Vec<CString> = env.iter().map(|e| cstr(e)).collect();
    reset_signals();
    let e = nix::unistd::execve(&prog, &argv, &envp).unwrap_err();
    let io = std::io::Error::from(e);
    format!("exec: \"{}\": {}", args.first().map(String::as_str).unwrap_or_default(), lower_errno(&io))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_stays_inside_root() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("real/dir")).unwrap();
        std::os::unix::fs::symlink("/real", d.path().join("abs")).unwrap();
        std::os::unix::fs::symlink("../../../../etc", d.path().join("escape")).unwrap();
        assert_eq!(resolve_in_root(d.path(), Path::new("/abs/dir/x")), d.path().join("real/dir/x"));
        assert_eq!(resolve_in_root(d.path(), Path::new("/escape/hosts")), d.path().join("etc/hosts"));
    }

    #[test]
    fn unescapes_mountinfo() {
        assert_eq!(unescape_mount_path("/a\\040b"), "/a b");
    }
}
