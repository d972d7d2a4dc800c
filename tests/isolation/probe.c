/* Syscall probe for tests/isolation.rs: runs each named check inside a container and
 * prints `name=ok` or `name=<errno name>`, so two runtimes can be compared line by line.
 * Device checks take their operands after colons: `mknod:PATH:c|b:MAJOR:MINOR`,
 * `open_r:PATH`, `open_w:PATH` (open and close, nothing read or written).
 * Built with `gcc -static` by the test (the busybox image has no libc). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif

static const char *errname(int e) {
    switch (e) {
    case EPERM: return "EPERM";
    case ENOSYS: return "ENOSYS";
    case EINVAL: return "EINVAL";
    case EACCES: return "EACCES";
    case ENOENT: return "ENOENT";
    case EBADF: return "EBADF";
    case EFAULT: return "EFAULT";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case ENOSPC: return "ENOSPC";
    case EDQUOT: return "EDQUOT";
    case EROFS: return "EROFS";
    case ENXIO: return "ENXIO";
    case ENODEV: return "ENODEV";
    case EEXIST: return "EEXIST";
    default: return "other";
    }
}

static void report(const char *name, long rc) {
    if (rc < 0)
        printf("%s=%s\n", name, errname(errno));
    else
        printf("%s=ok\n", name);
}

/* clone() with a namespace flag, in a child that exits at once. */
static long clone_with(int flags) {
    long pid = syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
    if (pid == 0)
        _exit(0);
    if (pid > 0)
        waitpid(pid, 0, 0);
    return pid;
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *c = argv[i];
        long rc;
        errno = 0;
        if (!strcmp(c, "add_key"))
            rc = syscall(SYS_add_key, "user", "hoist-probe", "x", 1, -2 /* KEY_SPEC_PROCESS_KEYRING */);
        else if (!strcmp(c, "keyctl"))
            rc = syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* session */, 0);
        else if (!strcmp(c, "personality_query"))
            rc = personality(0xffffffff);
        else if (!strcmp(c, "personality_linux32")) {
            rc = personality(PER_LINUX32);
            personality(PER_LINUX);
        } else if (!strcmp(c, "personality_no_randomize"))
            rc = personality(ADDR_NO_RANDOMIZE);
        else if (!strcmp(c, "socket_inet")) {
            rc = socket(AF_INET, SOCK_STREAM, 0);
            if (rc >= 0) close(rc);
        } else if (!strcmp(c, "socket_vsock")) {
            rc = socket(AF_VSOCK, SOCK_STREAM, 0);
            if (rc >= 0) close(rc);
        } else if (!strcmp(c, "clone3"))
            rc = syscall(SYS_clone3, 0, 0); /* EINVAL when the kernel sees it */
        else if (!strcmp(c, "clone_plain"))
            rc = clone_with(0);
        else if (!strcmp(c, "clone_newuser"))
            rc = clone_with(CLONE_NEWUSER);
        else if (!strcmp(c, "unshare_user"))
            rc = unshare(CLONE_NEWUSER);
        else if (!strcmp(c, "unshare_net"))
            rc = unshare(CLONE_NEWNET);
        else if (!strcmp(c, "mount_tmpfs"))
            rc = mount("none", "/tmp", "tmpfs", 0, 0);
        else if (!strcmp(c, "finit_module"))
            rc = syscall(SYS_finit_module, -1, "", 0);
        else if (!strcmp(c, "reboot"))
            rc = syscall(SYS_reboot, 0, 0, 0, 0); /* bad magic: EINVAL once allowed */
        else if (!strcmp(c, "settimeofday"))
            rc = syscall(SYS_settimeofday, 0, 0);
        else if (!strcmp(c, "acct"))
            rc = syscall(SYS_acct, 0);
        else if (!strcmp(c, "swapoff"))
            rc = syscall(SYS_swapoff, "/nonexistent");
        else if (!strncmp(c, "mknod:", 6)) {
            char path[256], type = 0;
            unsigned maj = 0, min = 0;
            if (sscanf(c + 6, "%255[^:]:%c:%u:%u", path, &type, &maj, &min) != 4) {
                printf("%s=usage\n", c);
                continue;
            }
            rc = mknod(path, (type == 'b' ? S_IFBLK : S_IFCHR) | 0666, makedev(maj, min));
        } else if (!strncmp(c, "open_r:", 7) || !strncmp(c, "open_w:", 7)) {
            rc = open(c + 7, (c[5] == 'w' ? O_WRONLY : O_RDONLY) | O_NONBLOCK | O_NOCTTY);
            if (rc >= 0) close(rc);
        } else if (!strcmp(c, "ptrace_traceme_child")) {
            long pid = fork();
            if (pid == 0)
                _exit(syscall(SYS_ptrace, 0 /* PTRACE_TRACEME */, 0, 0, 0) < 0 ? 1 : 0);
            int st = 0;
            waitpid(pid, &st, 0);
            rc = WEXITSTATUS(st) == 0 ? 0 : -1;
            errno = EPERM;
        } else {
            printf("%s=unknown\n", c);
            continue;
        }
        report(c, rc);
    }
    return 0;
}
