/* The attacker of tests/hostile/cp.rs: swaps two paths atomically
 * (renameat2 RENAME_EXCHANGE), as fast as it can, until killed. Built with
 * `gcc -static`, since the busybox image has no libc. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: swap A B\n");
        return 2;
    }
    for (;;) {
        /* A copy may briefly hold or replace one of the two paths: keep attacking. */
        (void)syscall(SYS_renameat2, AT_FDCWD, argv[1], AT_FDCWD, argv[2], RENAME_EXCHANGE);
    }
}
