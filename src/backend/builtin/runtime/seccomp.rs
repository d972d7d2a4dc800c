//! Docker's default seccomp filter for the container process: the syscalls of moby's
//! `profiles/seccomp/default.json` (x86_64) compiled to BPF with seccompiler; everything else fails with EPERM.
//!
//! The profile is data here, not a JSON file: the unconditional allow list, the groups a
//! capability unlocks (CAP_SYS_ADMIN: mount, unshare, setns, unrestricted clone…), and the
//! argument rules (`personality` values, `clone` without namespace flags, no AF_VSOCK
//! sockets). seccompiler gives a filter one "match" action, so `clone3` → ENOSYS (what
//! Docker returns so that glibc falls back to `clone`, which the filter can inspect)
//! is a second, small filter: the kernel runs both and the lowest action wins.

use std::collections::BTreeMap;

use seccompiler::{BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule};

use super::caps::cap_number;

type Res<T> = std::result::Result<T, String>;

/// What `security_opt` asks for (`seccomp=…` or `seccomp:…`, the last one wins).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Default,
    Unconfined,
}

pub fn mode(security_opt: &[String]) -> Res<Mode> {
    let mut mode = Mode::Default;
    for opt in security_opt {
        let Some(value) = opt.strip_prefix("seccomp").and_then(|r| r.strip_prefix('=').or_else(|| r.strip_prefix(':'))) else {
            continue;
        };
        mode = match value.trim() {
            "unconfined" => Mode::Unconfined,
            "" | "default" | "builtin" => Mode::Default,
            profile => {
                return Err(format!(
                    "security_opt seccomp={profile}: custom seccomp profiles are not supported by the built-in runtime \
                     (use the default profile, or seccomp=unconfined)"
                ));
            }
        };
    }
    Ok(mode)
}

/// The compiled filter(s) of one container, installed in the order given.
#[derive(Debug, Clone)]
pub struct Filter {
    programs: Vec<BpfProgram>,
}

/// The filter a container gets: none when privileged or `seccomp=unconfined` (as Docker),
/// else Docker's default profile for the container's capability set `caps`.
pub fn for_container(security_opt: &[String], privileged: bool, caps: u64) -> Res<Option<Filter>> {
    if mode(security_opt)? == Mode::Unconfined || privileged {
        return Ok(None);
    }
    default_filter(caps).map(Some)
}

impl Filter {
    /// Installs the filter on the calling thread; it is inherited across fork and exec.
    /// Needs no_new_privs or CAP_SYS_ADMIN in the effective set, so the caller installs it
    /// before dropping capabilities unless no_new_privs is set (as runc does).
    pub fn install(&self) -> Res<()> {
        for program in &self.programs {
            let len = u16::try_from(program.len()).map_err(|_| "seccomp filter too long".to_string())?;
            let prog = libc::sock_fprog { len, filter: program.as_ptr() as *mut libc::sock_filter };
            // SAFETY: seccompiler's sock_filter has libc's layout (repr(C), same fields);
            // the kernel copies the program before returning.
            let rc = unsafe { libc::syscall(libc::SYS_seccomp, libc::SECCOMP_SET_MODE_FILTER, 0 as libc::c_ulong, &prog as *const libc::sock_fprog) };
            if rc != 0 {
                return Err(format!("installing the seccomp filter: {}", std::io::Error::last_os_error()));
            }
        }
        Ok(())
    }

    /// Total BPF instructions (the kernel takes at most 4096 per program).
    #[cfg(test)]
    fn instructions(&self) -> Vec<usize> {
        self.programs.iter().map(Vec::len).collect()
    }
}

/// Per syscall: `None` allows it whatever the arguments, `Some(rules)` when one rule matches.
type Rules = BTreeMap<i64, Option<Vec<SeccompRule>>>;

fn allow(rules: &mut Rules, nr: i64) {
    rules.insert(nr, None);
}

fn allow_if(rules: &mut Rules, nr: i64, rule: SeccompRule) {
    if let Some(list) = rules.entry(nr).or_insert_with(|| Some(Vec::new())) {
        list.push(rule);
    }
}

fn arg(index: u8, len: SeccompCmpArgLen, op: SeccompCmpOp, value: u64) -> Res<SeccompRule> {
    let cond = SeccompCondition::new(index, len, op, value).map_err(|e| format!("seccomp rule: {e}"))?;
    SeccompRule::new(vec![cond]).map_err(|e| format!("seccomp rule: {e}"))
}

/// The namespace flags `clone` may not carry without CAP_SYS_ADMIN (Docker's 0x7E020000).
const CLONE_NAMESPACES: u64 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWCGROUP) as u64;

/// `personality` values Docker allows: PER_LINUX, PER_LINUX32, UNAME26, UNAME26|PER_LINUX32, query.
const PERSONALITIES: [u64; 5] = [0x0, 0x8, 0x20000, 0x20008, 0xffff_ffff];

const AF_VSOCK: u64 = libc::AF_VSOCK as u64;
const ENOSYS: u32 = libc::ENOSYS as u32;
const EPERM: u32 = libc::EPERM as u32;

#[cfg(not(target_arch = "x86_64"))]
fn default_filter(_caps: u64) -> Res<Filter> {
    Err(format!(
        "the built-in runtime's default seccomp profile is only defined for x86_64, not {}: \
         set security_opt [\"seccomp=unconfined\"] to run without it",
        std::env::consts::ARCH
    ))
}

#[cfg(target_arch = "x86_64")]
fn default_filter(caps: u64) -> Res<Filter> {
    let has = |name: &str| cap_number(name).is_some_and(|n| caps & (1u64 << n) != 0);
    let mut rules = Rules::new();
    for nr in x86_64::ALWAYS {
        allow(&mut rules, *nr);
    }
    for (cap, syscalls) in x86_64::BY_CAPABILITY {
        if has(cap) {
            for nr in *syscalls {
                allow(&mut rules, *nr);
            }
        }
    }
    allow_if(&mut rules, libc::SYS_socket, arg(0, SeccompCmpArgLen::Dword, SeccompCmpOp::Ne, AF_VSOCK)?);
    for value in PERSONALITIES {
        allow_if(&mut rules, libc::SYS_personality, arg(0, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, value)?);
    }
    let mut programs = Vec::new();
    if !has("SYS_ADMIN") {
        allow_if(&mut rules, libc::SYS_clone, arg(0, SeccompCmpArgLen::Qword, SeccompCmpOp::MaskedEq(CLONE_NAMESPACES), 0)?);
        // Allowed here, answered with ENOSYS by the second filter below.
        allow(&mut rules, libc::SYS_clone3);
        let clone3 = BTreeMap::from([(libc::SYS_clone3, Vec::new())]);
        programs.push(compile(clone3, SeccompAction::Allow, SeccompAction::Errno(ENOSYS))?);
    }
    let rules = rules.into_iter().map(|(nr, r)| (nr, r.unwrap_or_default())).collect();
    programs.insert(0, compile(rules, SeccompAction::Errno(EPERM), SeccompAction::Allow)?);
    Ok(Filter { programs })
}

#[cfg(target_arch = "x86_64")]
fn compile(rules: BTreeMap<i64, Vec<SeccompRule>>, mismatch: SeccompAction, matched: SeccompAction) -> Res<BpfProgram> {
    let filter = SeccompFilter::new(rules, mismatch, matched, seccompiler::TargetArch::x86_64).map_err(|e| format!("seccomp filter: {e}"))?;
    let body: BpfProgram = filter.try_into().map_err(|e| format!("compiling the seccomp filter: {e}"))?;
    // seccompiler kills a process that makes a syscall of another ABI (i386 `int 0x80`);
    // refuse it with EPERM instead, like every other syscall outside the profile. A
    // leading arch check of our own makes the compiled one always pass.
    let mut program = vec![
        bpf(BPF_LD | BPF_W | BPF_ABS, 0, 0, SECCOMP_DATA_ARCH),
        bpf(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, AUDIT_ARCH_X86_64),
        bpf(BPF_RET | BPF_K, 0, 0, libc::SECCOMP_RET_ERRNO | EPERM),
    ];
    program.extend(body);
    Ok(program)
}

const BPF_LD: u16 = 0x00;
const BPF_W: u16 = 0x00;
const BPF_ABS: u16 = 0x20;
const BPF_JMP: u16 = 0x05;
const BPF_JEQ: u16 = 0x10;
const BPF_K: u16 = 0x00;
const BPF_RET: u16 = 0x06;
/// `offsetof(struct seccomp_data, arch)`.
const SECCOMP_DATA_ARCH: u32 = 4;
/// EM_X86_64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE.
const AUDIT_ARCH_X86_64: u32 = 62 | 0x8000_0000 | 0x4000_0000;

fn bpf(code: u16, jt: u8, jf: u8, k: u32) -> seccompiler::sock_filter {
    seccompiler::sock_filter { code, jt, jf, k }
}

/// Syscall numbers of the profile. 32-bit-only names of the profile (`chown32`,
/// `*_time64`, `socketcall`…) have no x86_64 number and are left out.
#[cfg(target_arch = "x86_64")]
mod x86_64 {
    use libc::*;

    /// Not in libc's table.
    const SYS_IO_PGETEVENTS: c_long = 333;

    /// Allowed whatever the capabilities (ptrace and process_vm_* need kernel ≥ 4.8 in
    /// Docker's profile: older kernels let ptrace bypass seccomp; hoist needs newer anyway).
    pub const ALWAYS: &[c_long] = &[
        SYS_accept, SYS_accept4, SYS_access, SYS_adjtimex, SYS_alarm, SYS_bind, SYS_brk, SYS_capget, SYS_capset,
        SYS_chdir, SYS_chmod, SYS_chown, SYS_clock_adjtime, SYS_clock_getres, SYS_clock_gettime, SYS_clock_nanosleep,
        SYS_close, SYS_close_range, SYS_connect, SYS_copy_file_range, SYS_creat, SYS_dup, SYS_dup2, SYS_dup3,
        SYS_epoll_create, SYS_epoll_create1, SYS_epoll_ctl, SYS_epoll_ctl_old, SYS_epoll_pwait, SYS_epoll_pwait2,
        SYS_epoll_wait, SYS_epoll_wait_old, SYS_eventfd, SYS_eventfd2, SYS_execve, SYS_execveat, SYS_exit,
        SYS_exit_group, SYS_faccessat, SYS_faccessat2, SYS_fadvise64, SYS_fallocate, SYS_fanotify_mark, SYS_fchdir,
        SYS_fchmod, SYS_fchmodat, SYS_fchown, SYS_fchownat, SYS_fcntl, SYS_fdatasync, SYS_fgetxattr, SYS_flistxattr,
        SYS_flock, SYS_fork, SYS_fremovexattr, SYS_fsetxattr, SYS_fstat, SYS_fstatfs, SYS_fsync, SYS_ftruncate,
        SYS_futex, SYS_futex_waitv, SYS_futimesat, SYS_getcpu, SYS_getcwd, SYS_getdents, SYS_getdents64, SYS_getegid,
        SYS_geteuid, SYS_getgid, SYS_getgroups, SYS_getitimer, SYS_getpeername, SYS_getpgid, SYS_getpgrp, SYS_getpid,
        SYS_getppid, SYS_getpriority, SYS_getrandom, SYS_getresgid, SYS_getresuid, SYS_getrlimit, SYS_get_robust_list,
        SYS_getrusage, SYS_getsid, SYS_getsockname, SYS_getsockopt, SYS_get_thread_area, SYS_gettid, SYS_gettimeofday,
        SYS_getuid, SYS_getxattr, SYS_inotify_add_watch, SYS_inotify_init, SYS_inotify_init1, SYS_inotify_rm_watch,
        SYS_io_cancel, SYS_ioctl, SYS_io_destroy, SYS_io_getevents, SYS_ioprio_get, SYS_ioprio_set, SYS_io_setup,
        SYS_io_submit, SYS_io_uring_enter, SYS_io_uring_register, SYS_io_uring_setup, SYS_kill, SYS_landlock_add_rule,
        SYS_landlock_create_ruleset, SYS_landlock_restrict_self, SYS_lchown, SYS_lgetxattr, SYS_link, SYS_linkat,
        SYS_listen, SYS_listxattr, SYS_llistxattr, SYS_lremovexattr, SYS_lseek, SYS_lsetxattr, SYS_lstat, SYS_madvise,
        SYS_membarrier, SYS_memfd_create, SYS_memfd_secret, SYS_mincore, SYS_mkdir, SYS_mkdirat, SYS_mknod,
        SYS_mknodat, SYS_mlock, SYS_mlock2, SYS_mlockall, SYS_mmap, SYS_mprotect, SYS_mq_getsetattr, SYS_mq_notify,
        SYS_mq_open, SYS_mq_timedreceive, SYS_mq_timedsend, SYS_mq_unlink, SYS_mremap, SYS_msgctl, SYS_msgget,
        SYS_msgrcv, SYS_msgsnd, SYS_msync, SYS_munlock, SYS_munlockall, SYS_munmap, SYS_name_to_handle_at,
        SYS_nanosleep, SYS_newfstatat, SYS_open, SYS_openat, SYS_openat2, SYS_pause, SYS_pidfd_open,
        SYS_pidfd_send_signal, SYS_pipe, SYS_pipe2, SYS_pkey_alloc, SYS_pkey_free, SYS_pkey_mprotect, SYS_poll,
        SYS_ppoll, SYS_prctl, SYS_pread64, SYS_preadv, SYS_preadv2, SYS_prlimit64, SYS_process_mrelease, SYS_pselect6,
        SYS_pwrite64, SYS_pwritev, SYS_pwritev2, SYS_read, SYS_readahead, SYS_readlink, SYS_readlinkat, SYS_readv,
        SYS_recvfrom, SYS_recvmmsg, SYS_recvmsg, SYS_remap_file_pages, SYS_removexattr, SYS_rename, SYS_renameat,
        SYS_renameat2, SYS_restart_syscall, SYS_rmdir, SYS_rseq, SYS_rt_sigaction, SYS_rt_sigpending,
        SYS_rt_sigprocmask, SYS_rt_sigqueueinfo, SYS_rt_sigreturn, SYS_rt_sigsuspend, SYS_rt_sigtimedwait,
        SYS_rt_tgsigqueueinfo, SYS_sched_getaffinity, SYS_sched_getattr, SYS_sched_getparam,
        SYS_sched_get_priority_max, SYS_sched_get_priority_min, SYS_sched_getscheduler, SYS_sched_rr_get_interval,
        SYS_sched_setaffinity, SYS_sched_setattr, SYS_sched_setparam, SYS_sched_setscheduler, SYS_sched_yield,
        SYS_seccomp, SYS_select, SYS_semctl, SYS_semget, SYS_semop, SYS_semtimedop, SYS_sendfile, SYS_sendmmsg,
        SYS_sendmsg, SYS_sendto, SYS_setfsgid, SYS_setfsuid, SYS_setgid, SYS_setgroups, SYS_setitimer, SYS_setpgid,
        SYS_setpriority, SYS_setregid, SYS_setresgid, SYS_setresuid, SYS_setreuid, SYS_setrlimit, SYS_set_robust_list,
        SYS_setsid, SYS_setsockopt, SYS_set_thread_area, SYS_set_tid_address, SYS_setuid, SYS_setxattr, SYS_shmat,
        SYS_shmctl, SYS_shmdt, SYS_shmget, SYS_shutdown, SYS_sigaltstack, SYS_signalfd, SYS_signalfd4, SYS_socketpair,
        SYS_splice, SYS_stat, SYS_statfs, SYS_statx, SYS_symlink, SYS_symlinkat, SYS_sync, SYS_sync_file_range,
        SYS_syncfs, SYS_sysinfo, SYS_tee, SYS_tgkill, SYS_time, SYS_timer_create, SYS_timer_delete,
        SYS_timer_getoverrun, SYS_timer_gettime, SYS_timer_settime, SYS_timerfd_create, SYS_timerfd_gettime,
        SYS_timerfd_settime, SYS_times, SYS_tkill, SYS_truncate, SYS_umask, SYS_uname, SYS_unlink, SYS_unlinkat,
        SYS_utime, SYS_utimensat, SYS_utimes, SYS_vfork, SYS_vmsplice, SYS_wait4, SYS_waitid, SYS_write, SYS_writev,
        SYS_IO_PGETEVENTS, SYS_process_vm_readv, SYS_process_vm_writev, SYS_ptrace, SYS_arch_prctl, SYS_modify_ldt,
    ];

    /// Allowed when the container has the capability (name as in caps.rs).
    pub const BY_CAPABILITY: &[(&str, &[c_long])] = &[
        ("DAC_READ_SEARCH", &[SYS_open_by_handle_at]),
        (
            "SYS_ADMIN",
            &[
                SYS_bpf, SYS_clone, SYS_clone3, SYS_fanotify_init, SYS_fsconfig, SYS_fsmount, SYS_fsopen, SYS_fspick,
                SYS_lookup_dcookie, SYS_mount, SYS_mount_setattr, SYS_move_mount, SYS_open_tree, SYS_perf_event_open,
                SYS_quotactl, SYS_quotactl_fd, SYS_setdomainname, SYS_sethostname, SYS_setns, SYS_syslog, SYS_umount2,
                SYS_unshare,
            ],
        ),
        ("SYS_BOOT", &[SYS_reboot]),
        ("SYS_CHROOT", &[SYS_chroot]),
        ("SYS_MODULE", &[SYS_delete_module, SYS_init_module, SYS_finit_module]),
        ("SYS_PACCT", &[SYS_acct]),
        ("SYS_PTRACE", &[SYS_kcmp, SYS_pidfd_getfd, SYS_process_madvise, SYS_process_vm_readv, SYS_process_vm_writev, SYS_ptrace]),
        ("SYS_RAWIO", &[SYS_iopl, SYS_ioperm]),
        ("SYS_TIME", &[SYS_settimeofday, SYS_clock_settime]),
        ("SYS_TTY_CONFIG", &[SYS_vhangup]),
        ("SYS_NICE", &[SYS_get_mempolicy, SYS_mbind, SYS_set_mempolicy, SYS_set_mempolicy_home_node]),
        ("SYSLOG", &[SYS_syslog]),
        ("BPF", &[SYS_bpf]),
        ("PERFMON", &[SYS_perf_event_open]),
    ];
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    fn opts(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn security_opt_modes() {
        assert_eq!(mode(&[]).unwrap(), Mode::Default);
        assert_eq!(mode(&opts(&["seccomp=unconfined"])).unwrap(), Mode::Unconfined);
        assert_eq!(mode(&opts(&["no-new-privileges", "seccomp:unconfined"])).unwrap(), Mode::Unconfined);
        assert_eq!(mode(&opts(&["seccomp:unconfined", "seccomp=default"])).unwrap(), Mode::Default);
        let err = mode(&opts(&["seccomp=/etc/profile.json"])).unwrap_err();
        assert!(err.contains("/etc/profile.json") && err.contains("unconfined"), "{err}");
    }

    #[test]
    fn privileged_and_unconfined_have_no_filter() {
        assert!(for_container(&[], true, 0).unwrap().is_none());
        assert!(for_container(&opts(&["seccomp=unconfined"]), false, 0).unwrap().is_none());
        assert!(for_container(&[], false, 0).unwrap().is_some());
    }

    #[test]
    fn clone_mask_is_dockers() {
        assert_eq!(CLONE_NAMESPACES, 2114060288);
    }

    #[test]
    fn programs_fit_the_kernel_limit() {
        let default = default_filter(0xa80425fb).unwrap();
        // Without CAP_SYS_ADMIN: the profile and the clone3 → ENOSYS filter.
        assert_eq!(default.instructions().len(), 2);
        assert!(default.instructions().iter().all(|n| *n < 4096), "{:?}", default.instructions());
        let admin = default_filter(1 << cap_number("SYS_ADMIN").unwrap()).unwrap();
        assert_eq!(admin.instructions().len(), 1);
    }
}
