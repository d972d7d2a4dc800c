//! The cgroup v2 device filter: a device allow-list compiled to a BPF_PROG_TYPE_CGROUP_DEVICE
//! program, loaded with bpf(2) and attached to a group (what v1's `devices.allow` does).
//!
//! The program is a handful of instruction kinds, encoded here rather than through a BPF
//! crate (aya, libbpf-sys, rbpf are made for far more and bring a C build or a VM along).
//! Its shape is runc's and youki's: load the request into registers, then one block per
//! rule that jumps to the next block on any mismatch and returns "allow" at its end; a
//! request no rule matches is refused.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use super::devices::Rule;

// include/uapi/linux/bpf.h
const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
/// Other programs (a parent's, one attached later) run too, and all must allow: as runc.
const BPF_F_ALLOW_MULTI: u32 = 2;
// `struct bpf_cgroup_dev_ctx`: access_type (type in the low 16 bits, access above), major, minor.
const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;
const ACC_MKNOD: i32 = 1;
const ACC_READ: i32 = 2;
const ACC_WRITE: i32 = 4;

// Opcodes: class | operation | source (K: immediate, X: register).
const LDX_MEM_W: u8 = 0x61;
const ALU32_AND_K: u8 = 0x54;
const ALU32_RSH_K: u8 = 0x74;
const ALU32_MOV_K: u8 = 0xb4;
const ALU32_MOV_X: u8 = 0xbc;
const JMP_JNE_K: u8 = 0x55;
const JMP_JNE_X: u8 = 0x5d;
const JMP_EXIT: u8 = 0x95;

/// `struct bpf_insn`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
struct Insn {
    code: u8,
    /// dst_reg and src_reg, 4 bits each, in bit-field order.
    regs: u8,
    off: i16,
    imm: i32,
}

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    let regs = if cfg!(target_endian = "little") { src << 4 | dst } else { dst << 4 | src };
    Insn { code, regs, off, imm }
}

/// The program for an allow-list. Registers after the prelude: r2 type, r3 requested
/// access, r4 major, r5 minor; r1 (the context) is then free as scratch.
fn program(rules: &[Rule]) -> Vec<Insn> {
    let mut prog = vec![
        insn(LDX_MEM_W, 2, 1, 0, 0),
        insn(ALU32_AND_K, 2, 0, 0, 0xffff),
        insn(LDX_MEM_W, 3, 1, 0, 0),
        insn(ALU32_RSH_K, 3, 0, 0, 16),
        insn(LDX_MEM_W, 4, 1, 4, 0),
        insn(LDX_MEM_W, 5, 1, 8, 0),
    ];
    for rule in rules {
        // The rule's tests; each jump's offset is filled in once the block's length is known.
        let mut tests = Vec::new();
        match rule.kind {
            'c' => tests.push(insn(JMP_JNE_K, 2, 0, 0, DEV_CHAR)),
            'b' => tests.push(insn(JMP_JNE_K, 2, 0, 0, DEV_BLOCK)),
            _ => {}
        }
        let allowed = access_bits(&rule.access);
        if allowed != ACC_MKNOD | ACC_READ | ACC_WRITE {
            // Everything requested must be allowed: (requested & allowed) == requested.
            tests.push(insn(ALU32_MOV_X, 1, 3, 0, 0));
            tests.push(insn(ALU32_AND_K, 1, 0, 0, allowed));
            tests.push(insn(JMP_JNE_X, 1, 3, 0, 0));
        }
        if let Some(major) = rule.major {
            tests.push(insn(JMP_JNE_K, 4, 0, 0, major as i32));
        }
        if let Some(minor) = rule.minor {
            tests.push(insn(JMP_JNE_K, 5, 0, 0, minor as i32));
        }
        let len = tests.len();
        for (i, t) in tests.iter_mut().enumerate() {
            if t.code == JMP_JNE_K || t.code == JMP_JNE_X {
                // Past the rest of the tests and the two instructions of the allow.
                t.off = (len - 1 - i + 2) as i16;
            }
        }
        prog.extend(tests);
        prog.extend([insn(ALU32_MOV_K, 0, 0, 0, 1), insn(JMP_EXIT, 0, 0, 0, 0)]);
    }
    prog.extend([insn(ALU32_MOV_K, 0, 0, 0, 0), insn(JMP_EXIT, 0, 0, 0, 0)]);
    prog
}

fn access_bits(access: &str) -> i32 {
    access.chars().fold(0, |bits, c| match c {
        'm' => bits | ACC_MKNOD,
        'r' => bits | ACC_READ,
        'w' => bits | ACC_WRITE,
        _ => bits,
    })
}

/// The head of `union bpf_attr` for BPF_PROG_LOAD (the kernel takes a shorter attr and
/// reads the fields beyond it as zero).
#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

/// The head of `union bpf_attr` for BPF_PROG_ATTACH.
#[repr(C)]
struct ProgAttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> std::io::Result<libc::c_long> {
    // SAFETY: `attr` is a valid, initialised bpf_attr prefix of the given size for `cmd`.
    let rc = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr as *mut T, size_of::<T>() as libc::c_uint) };
    if rc < 0 { Err(std::io::Error::last_os_error()) } else { Ok(rc) }
}

/// Loads the allow-list as a program and attaches it to the cgroup v2 group at `dir`,
/// which keeps it: the kernel frees the program when the group is removed.
pub fn attach(dir: &Path, rules: &[Rule]) -> Result<(), String> {
    let prog = program(rules);
    let license = c"Apache-2.0";
    let mut load = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: prog.len() as u32,
        insns: prog.as_ptr() as u64,
        license: license.as_ptr() as u64,
        prog_name: *b"hoist_devices\0\0\0",
        ..Default::default()
    };
    let fd = bpf(BPF_PROG_LOAD, &mut load).map_err(|e| {
        format!("loading the device filter (a BPF_PROG_TYPE_CGROUP_DEVICE program; the kernel needs CONFIG_CGROUP_BPF): {e}")
    })?;
    // SAFETY: BPF_PROG_LOAD returned a new descriptor that nothing else owns.
    let prog_fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let group = std::fs::File::open(dir).map_err(|e| format!("opening {}: {e}", dir.display()))?;
    let mut attach = ProgAttachAttr {
        target_fd: group.as_raw_fd() as u32,
        attach_bpf_fd: prog_fd.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
        replace_bpf_fd: 0,
    };
    bpf(BPF_PROG_ATTACH, &mut attach).map_err(|e| format!("attaching the device filter to {}: {e}", dir.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    use std::path::PathBuf;

    use super::super::cgroups;
    use super::super::devices::{Rule, default_rules};
    use super::*;

    #[test]
    fn each_rule_is_a_block_that_skips_to_the_next_on_a_mismatch() {
        let prog = program(&[Rule { kind: 'c', major: Some(1), minor: None, access: "r".into() }]);
        let block = &prog[6..];
        assert_eq!(
            block,
            [
                insn(JMP_JNE_K, 2, 0, 6, DEV_CHAR),
                insn(ALU32_MOV_X, 1, 3, 0, 0),
                insn(ALU32_AND_K, 1, 0, 0, ACC_READ),
                insn(JMP_JNE_X, 1, 3, 3, 0),
                insn(JMP_JNE_K, 4, 0, 2, 1),
                insn(ALU32_MOV_K, 0, 0, 0, 1),
                insn(JMP_EXIT, 0, 0, 0, 0),
                insn(ALU32_MOV_K, 0, 0, 0, 0),
                insn(JMP_EXIT, 0, 0, 0, 0),
            ]
        );
        // rwm on every node of a type tests the type only.
        let prog = program(&[Rule { kind: 'b', major: None, minor: None, access: "rwm".into() }]);
        assert_eq!(prog[6], insn(JMP_JNE_K, 2, 0, 2, DEV_BLOCK));
        assert_eq!(prog.len(), 6 + 3 + 2);
    }

    /// What a child in a fresh cgroup v2 group with the filter for `rules` gets from each
    /// operation: 0 or the errno.
    enum Op {
        Mknod(CString, libc::mode_t, u32, u32),
        Open(CString, libc::c_int),
    }

    fn c(path: impl AsRef<Path>) -> CString {
        CString::new(path.as_ref().as_os_str().as_bytes()).unwrap()
    }

    fn in_filtered_group(name: &str, rules: &[Rule], ops: &[Op]) -> Vec<i32> {
        let root = cgroups::v2_root().expect("a cgroup v2 hierarchy (pure, or hybrid at /sys/fs/cgroup/unified)");
        let group: PathBuf = root.join(format!("hoist-bpf-test-{name}-{}", std::process::id()));
        std::fs::create_dir(&group).unwrap_or_else(|e| panic!("creating {}: {e}", group.display()));
        let attached = attach(&group, rules);
        let procs = c(group.join("cgroup.procs"));
        let mut results = vec![-1i32; ops.len()];
        let mut pipe = [0; 2];
        // SAFETY: a valid two-element array.
        assert_eq!(unsafe { libc::pipe(pipe.as_mut_ptr()) }, 0);
        // SAFETY: the child makes only async-signal-safe calls on memory prepared here,
        // then _exits.
        let pid = if attached.is_ok() { unsafe { libc::fork() } } else { -1 };
        if pid == 0 {
            unsafe {
                let fd = libc::open(procs.as_ptr(), libc::O_WRONLY);
                if fd < 0 || libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                    libc::_exit(2);
                }
                libc::close(fd);
                for (r, op) in results.iter_mut().zip(ops) {
                    let rc = match op {
                        Op::Mknod(path, kind, major, minor) => libc::mknod(path.as_ptr(), kind | 0o666, libc::makedev(*major, *minor)),
                        Op::Open(path, flags) => {
                            let fd = libc::open(path.as_ptr(), *flags);
                            if fd >= 0 {
                                libc::close(fd);
                            }
                            fd
                        }
                    };
                    *r = if rc < 0 { *libc::__errno_location() } else { 0 };
                }
                let len = size_of_val(results.as_slice());
                libc::_exit(if libc::write(pipe[1], results.as_ptr().cast(), len) == len as isize { 0 } else { 3 });
            }
        }
        // SAFETY: closing our write end, reading into our buffer, reaping our child.
        let status = unsafe {
            libc::close(pipe[1]);
            if pid > 0 {
                libc::read(pipe[0], results.as_mut_ptr().cast(), size_of_val(results.as_slice()));
            }
            libc::close(pipe[0]);
            let mut status = 0;
            if pid > 0 {
                libc::waitpid(pid, &mut status, 0);
            }
            status
        };
        std::fs::remove_dir(&group).unwrap_or_else(|e| panic!("removing {}: {e}", group.display()));
        attached.unwrap();
        assert_eq!(status, 0, "the child failed (exit status {status:#x})");
        results
    }

    /// The filter alone, without the v1 devices controller: this process's v1 device group
    /// (if any) lets everything through, so what is refused is refused by the program.
    #[test]
    fn the_filter_alone_enforces_the_allow_list() {
        // SAFETY: getuid cannot fail.
        assert_eq!(unsafe { libc::geteuid() }, 0, "this test loads a BPF program and makes cgroups: run it as root");
        let v1 = std::fs::read_to_string("/proc/self/cgroup").unwrap();
        if let Some(path) = v1.lines().find_map(|l| l.split_once(":devices:").map(|(_, p)| p.to_string())) {
            let list = std::fs::read_to_string(format!("/sys/fs/cgroup/devices{path}/devices.list")).unwrap();
            assert_eq!(list.trim(), "a *:* rwm", "the test's own v1 device group must allow everything");
        }
        let tmp = tempfile::tempdir().unwrap();
        let (kmsg, disk) = (c(tmp.path().join("kmsg")), c(tmp.path().join("loop")));
        let null = c("/dev/null");

        // Docker's default list: nodes may be made, but only the listed ones opened.
        let got = in_filtered_group(
            "default",
            &default_rules(),
            &[
                Op::Mknod(kmsg.clone(), libc::S_IFCHR, 1, 11),
                Op::Open(kmsg.clone(), libc::O_WRONLY),
                Op::Open(kmsg.clone(), libc::O_RDONLY),
                Op::Mknod(disk.clone(), libc::S_IFBLK, 7, 0),
                Op::Open(disk.clone(), libc::O_RDONLY),
                Op::Open(null.clone(), libc::O_RDWR),
                Op::Open(c("/dev/urandom"), libc::O_RDONLY),
            ],
        );
        assert_eq!(got, [0, libc::EPERM, libc::EPERM, 0, libc::EPERM, 0, 0]);

        // A `devices:` entry with `r` gives read only, one with `w` write only, neither mknod.
        let rules = [
            Rule { kind: 'c', major: Some(1), minor: Some(3), access: "r".into() },
            Rule { kind: 'c', major: Some(1), minor: Some(5), access: "w".into() },
        ];
        let got = in_filtered_group(
            "entries",
            &rules,
            &[
                Op::Open(null.clone(), libc::O_RDONLY),
                Op::Open(null.clone(), libc::O_WRONLY),
                Op::Open(null, libc::O_RDWR),
                Op::Open(c("/dev/zero"), libc::O_WRONLY),
                Op::Open(c("/dev/zero"), libc::O_RDONLY),
                Op::Mknod(c(tmp.path().join("null")), libc::S_IFCHR, 1, 3),
            ],
        );
        assert_eq!(got, [0, libc::EPERM, libc::EPERM, 0, libc::EPERM, libc::EPERM]);
    }
}
