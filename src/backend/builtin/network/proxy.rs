//! Port proxy run by a container's supervisor: binds every host address first (so a port
//! in use fails before the container starts), then forwards in background threads. Pairs
//! end as with Docker's userland proxy, and dead ones do not linger (keepalive, errors).

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{NetError, PortForward, Result};

/// How long a UDP client may stay silent before its flow is dropped (Docker's proxy: 90 s).
pub const UDP_IDLE_TIMEOUT: Duration = Duration::from_secs(90);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// TCP keepalive as Go sets it on every connection of Docker's proxy (idle 15 s, then 9
/// probes 15 s apart): a peer that vanished without a FIN or RST is noticed in ~2.5 min.
const KEEPALIVE_IDLE_SECS: u32 = 15;
const KEEPALIVE_INTERVAL_SECS: u32 = 15;
const KEEPALIVE_PROBES: u32 = 9;

enum Socket {
    Tcp(TcpListener),
    Udp(UdpSocket),
}

/// Bound listeners, with the host ports the kernel chose filled in.
pub struct BoundPorts {
    pub forwards: Vec<PortForward>,
    sockets: Vec<Socket>,
}

fn host_addr(f: &PortForward) -> Result<SocketAddr> {
    let ip: IpAddr = match f.host_ip.trim() {
        "" => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        s => s
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .map_err(|_| NetError::failed(format!("publishing port {}", f.container_port), format!("invalid host IP {s:?}")))?,
    };
    Ok(SocketAddr::new(ip, f.host_port))
}

/// Binds every forward's host side. Nothing stays bound on error.
pub fn bind(forwards: &[PortForward]) -> Result<BoundPorts> {
    let mut bound = BoundPorts { forwards: Vec::new(), sockets: Vec::new() };
    for f in forwards {
        let addr = host_addr(f)?;
        // `0.0.0.0:8080`, `[::]:8080`: how Docker words the address in its error.
        let shown = || addr.to_string();
        let map_err = |e: io::Error| {
            if e.kind() == io::ErrorKind::AddrInUse {
                NetError::PortInUse(shown())
            } else {
                NetError::io(format!("binding {}/{}", shown(), f.protocol), e)
            }
        };
        let (socket, local) = match f.protocol.as_str() {
            "tcp" | "" => {
                let l = TcpListener::bind(addr).map_err(map_err)?;
                let local = l.local_addr().map_err(map_err)?;
                (Socket::Tcp(l), local)
            }
            "udp" => {
                let s = UdpSocket::bind(addr).map_err(map_err)?;
                let local = s.local_addr().map_err(map_err)?;
                (Socket::Udp(s), local)
            }
            other => {
                return Err(NetError::failed(format!("publishing port {}", f.container_port), format!("unsupported protocol {other:?}")));
            }
        };
        let mut f = f.clone();
        f.host_port = local.port();
        if f.protocol.is_empty() {
            f.protocol = "tcp".into();
        }
        bound.forwards.push(f);
        bound.sockets.push(socket);
    }
    Ok(bound)
}

/// Serves forever in background threads; returns at once.
pub fn serve(bound: BoundPorts) {
    for (f, socket) in bound.forwards.into_iter().zip(bound.sockets) {
        let target = SocketAddr::new(IpAddr::V4(f.container_ip), f.container_port);
        match socket {
            Socket::Tcp(l) => {
                std::thread::spawn(move || serve_tcp(l, target));
            }
            Socket::Udp(s) => {
                std::thread::spawn(move || serve_udp(s, target));
            }
        }
    }
}

fn serve_tcp(listener: TcpListener, target: SocketAddr) {
    for conn in listener.incoming() {
        let Ok(client) = conn else { continue };
        std::thread::spawn(move || {
            // The container may not listen yet: the client just sees the connection close.
            let Ok(upstream) = TcpStream::connect_timeout(&target, CONNECT_TIMEOUT) else { return };
            for s in [&client, &upstream] {
                let _ = s.set_nodelay(true);
                keepalive(s);
            }
            let (Ok(c2), Ok(u2)) = (client.try_clone(), upstream.try_clone()) else { return };
            let back = std::thread::spawn(move || relay(u2, c2));
            relay(client, upstream);
            let _ = back.join();
        });
    }
}

fn keepalive(s: &TcpStream) {
    use nix::sys::socket::{setsockopt, sockopt};
    let _ = setsockopt(s, sockopt::KeepAlive, &true);
    let _ = setsockopt(s, sockopt::TcpKeepIdle, &KEEPALIVE_IDLE_SECS);
    let _ = setsockopt(s, sockopt::TcpKeepInterval, &KEEPALIVE_INTERVAL_SECS);
    let _ = setsockopt(s, sockopt::TcpKeepCount, &KEEPALIVE_PROBES);
}

/// One direction of a pair. At EOF it half-closes the writer, so the other side sees EOF
/// and the other direction goes on (a client that shut down its sending side still gets
/// the reply). When either socket fails (reset, keepalive timeout), or `to` dies while we
/// wait for `from`, both sockets are shut down: that ends the other direction too.
fn relay(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if !readable_while_alive(&from, &to) {
            break;
        }
        match from.read(&mut buf) {
            Ok(0) => {
                let _ = to.shutdown(Shutdown::Write);
                return;
            }
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}

/// Waits until `from` has data, EOF or an error (true), or `to` has failed or is closed
/// for good (false). A blocking read alone would never learn that the side it writes to
/// is gone, and the pair would stay open as long as the other peer keeps quiet.
fn readable_while_alive(from: &TcpStream, to: &TcpStream) -> bool {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let dead = PollFlags::POLLERR | PollFlags::POLLHUP | PollFlags::POLLNVAL;
    loop {
        // `to` with no events: poll reports its errors and hang-up all the same.
        let mut fds = [PollFd::new(from.as_fd(), PollFlags::POLLIN), PollFd::new(to.as_fd(), PollFlags::empty())];
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return false,
        }
        let got = |i: usize| fds[i].revents().unwrap_or(PollFlags::empty());
        if got(0).intersects(PollFlags::POLLIN | dead) {
            return true;
        }
        if got(1).intersects(dead) {
            return false;
        }
    }
}

struct Flow {
    upstream: Arc<UdpSocket>,
    last_seen: Instant,
}

type Flows = Arc<Mutex<HashMap<SocketAddr, Flow>>>;

/// One upstream socket per client address, so replies find their way back.
fn serve_udp(socket: UdpSocket, target: SocketAddr) {
    let socket = Arc::new(socket);
    let flows: Flows = Arc::default();
    let mut buf = vec![0u8; 65536];
    loop {
        let Ok((n, client)) = socket.recv_from(&mut buf) else { continue };
        let upstream = {
            let mut table = flows.lock().unwrap_or_else(|p| p.into_inner());
            match table.get_mut(&client) {
                Some(flow) => {
                    flow.last_seen = Instant::now();
                    Some(flow.upstream.clone())
                }
                None => match new_udp_flow(target) {
                    Ok(up) => {
                        let up = Arc::new(up);
                        table.insert(client, Flow { upstream: up.clone(), last_seen: Instant::now() });
                        let (socket, flows, up2) = (socket.clone(), flows.clone(), up.clone());
                        std::thread::spawn(move || udp_replies(socket, up2, client, flows));
                        Some(up)
                    }
                    Err(_) => None,
                },
            }
        };
        if let Some(up) = upstream {
            let _ = up.send(&buf[..n]);
        }
    }
}

fn new_udp_flow(target: SocketAddr) -> io::Result<UdpSocket> {
    let up = UdpSocket::bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0))?;
    up.connect(target)?;
    // Wake up now and then to notice an idle flow.
    up.set_read_timeout(Some(Duration::from_secs(1)))?;
    Ok(up)
}

/// Relays the container's replies to one client until the flow goes idle.
fn udp_replies(socket: Arc<UdpSocket>, upstream: Arc<UdpSocket>, client: SocketAddr, flows: Flows) {
    let mut buf = vec![0u8; 65536];
    loop {
        match upstream.recv(&mut buf) {
            Ok(n) => {
                let _ = socket.send_to(&buf[..n], client);
                if let Some(flow) = flows.lock().unwrap_or_else(|p| p.into_inner()).get_mut(&client) {
                    flow.last_seen = Instant::now();
                }
            }
            // Timeouts, and ICMP port unreachable while the container is not listening yet.
            Err(_) => {
                let mut table = flows.lock().unwrap_or_else(|p| p.into_inner());
                let idle = table.get(&client).is_none_or(|f| f.last_seen.elapsed() >= UDP_IDLE_TIMEOUT);
                if idle {
                    table.remove(&client);
                    return;
                }
            }
        }
    }
}
