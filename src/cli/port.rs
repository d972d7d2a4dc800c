//! `hoist port`: where a container port is published on the host.

use std::io::Write;
use anyhow::{bail, Result};

use super::{common, App};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// tcp or udp.
    #[arg(long, default_value = "tcp")]
    protocol: String,
    /// Index of the container if the service has multiple replicas.
    #[arg(long)]
    index: Option<u32>,
    service: String,
    private_port: u16,
}

pub async fn run(app: &App, a: Args) -> Result<i32> {
    let ctx = app.ctx().await?;
    let c = common::service_container(&ctx, &a.service, a.index).await?;
    let c = ctx.backend.inspect_container(&c.id).await?;
    let found: Vec<_> = c.ports.iter().filter(|p| p.container_port == a.private_port && p.protocol == a.protocol && p.host_port != 0).collect();
    if found.is_empty() {
        bail!("no port {}/{} published for {}", a.private_port, a.protocol, a.service);
    }
    // One line, as Docker Compose prints: the IPv4 binding when the engine also made an
    // IPv6 one.
    let p = found.iter().find(|p| !p.host_ip.contains(':')).unwrap_or(&found[0]);
    let ip = if p.host_ip.is_empty() { "0.0.0.0" } else { &p.host_ip };
    writeln!(std::io::stdout(), "{ip}:{}", p.host_port)?;
    Ok(0)
}
