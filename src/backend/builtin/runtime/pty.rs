//! Pseudo-terminals: a container's tty (the supervisor logs the master side) and
//! `exec -t` (the caller's terminal in raw mode, proxied to the master).

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};

pub struct Pty {
    pub master: OwnedFd,
    pub slave: OwnedFd,
}

/// Opens a pty pair, sized like `size` when given. Both ends are close-on-exec.
pub fn open(size: Option<libc::winsize>) -> std::io::Result<Pty> {
    let ws = size.map(|s| nix::pty::Winsize { ws_row: s.ws_row, ws_col: s.ws_col, ws_xpixel: 0, ws_ypixel: 0 });
    let p = nix::pty::openpty(ws.as_ref(), None).map_err(std::io::Error::from)?;
    for fd in [p.master.as_raw_fd(), p.slave.as_raw_fd()] {
        // SAFETY: fcntl on fds we own.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    Ok(Pty { master: p.master, slave: p.slave })
}

/// In a freshly forked child: new session with `slave` as controlling terminal and stdio.
/// Only async-signal-safe calls.
pub fn attach_slave(slave: RawFd) -> std::io::Result<()> {
    // SAFETY: raw syscalls on fds valid in this process.
    unsafe {
        if libc::setsid() < 0 {
            return Err(std::io::Error::last_os_error());
        }
        if libc::ioctl(slave, libc::TIOCSCTTY as _, 0) < 0 {
            return Err(std::io::Error::last_os_error());
        }
        for target in 0..3 {
            if libc::dup2(slave, target) < 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
    }
    Ok(())
}

pub fn window_size(fd: RawFd) -> Option<libc::winsize> {
    // SAFETY: winsize is plain data filled by the ioctl.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    (unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) } == 0).then_some(ws)
}

pub fn is_tty(fd: RawFd) -> bool {
    // SAFETY: isatty only inspects the fd.
    unsafe { libc::isatty(fd) == 1 }
}

/// The caller's terminal in raw mode until dropped.
pub struct RawMode {
    fd: RawFd,
    saved: libc::termios,
}

impl RawMode {
    pub fn enter(fd: RawFd) -> Option<RawMode> {
        // SAFETY: termios is plain data; tcgetattr/tcsetattr on a tty fd.
        unsafe {
            let mut saved: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(fd, &mut saved) != 0 {
                return None;
            }
            let mut raw = saved;
            libc::cfmakeraw(&mut raw);
            libc::tcsetattr(fd, libc::TCSANOW, &raw);
            Some(RawMode { fd, saved })
        }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // SAFETY: restores the attributes read in `enter`.
        unsafe { libc::tcsetattr(self.fd, libc::TCSANOW, &self.saved) };
    }
}

/// Copies the caller's stdin to the master (background thread) and the master to stdout
/// until the slave side is closed by every process (EIO) or EOF.
pub fn proxy(master: &OwnedFd, forward_stdin: bool) {
    if forward_stdin && let Ok(dup) = master.try_clone() {
        std::thread::spawn(move || {
            let mut to = File::from(dup);
            let mut stdin = std::io::stdin();
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdin.read(&mut buf) {
                if n == 0 || to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        });
    }
    // SAFETY: borrowing our own master fd for the lifetime of this call.
    let borrowed = unsafe { BorrowedFd::borrow_raw(master.as_raw_fd()) };
    let Ok(dup) = borrowed.try_clone_to_owned() else { return };
    let mut from = File::from(dup);
    let mut out = std::io::stdout();
    let mut buf = [0u8; 4096];
    loop {
        match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if out.write_all(&buf[..n]).and_then(|_| out.flush()).is_err() {
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
}

/// Sends an fd over a unix socket (SCM_RIGHTS).
pub fn send_fd(socket: &OwnedFd, fd: &OwnedFd) -> std::io::Result<()> {
    use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};
    let fds = [fd.as_raw_fd()];
    let iov = [std::io::IoSlice::new(b"t")];
    sendmsg::<()>(socket.as_raw_fd(), &iov, &[ControlMessage::ScmRights(&fds)], MsgFlags::empty(), None)
        .map(|_| ())
        .map_err(std::io::Error::from)
}

/// Receives an fd sent by `send_fd`; None when the peer closed without sending one.
pub fn recv_fd(socket: &OwnedFd) -> Option<OwnedFd> {
    use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
    use std::os::fd::FromRawFd;
    let mut byte = [0u8; 1];
    let mut iov = [std::io::IoSliceMut::new(&mut byte)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(socket.as_raw_fd(), &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC).ok()?;
    for cmsg in msg.cmsgs().ok()? {
        if let ControlMessageOwned::ScmRights(fds) = cmsg
            && let Some(fd) = fds.first()
        {
            // SAFETY: the kernel just installed this fd for us.
            return Some(unsafe { OwnedFd::from_raw_fd(*fd) });
        }
    }
    None
}
