//! Docker's legacy links, computed: the variables a receiver gets for each linked
//! container (`ALIAS_NAME`, `ALIAS_ENV_*`, `ALIAS_PORT*`) and its /etc/hosts names.

/// One linked source as the receiver sees it.
pub struct LinkSource<'a> {
    pub alias: &'a str,
    /// The source container's name.
    pub name: &'a str,
    pub ip: &'a str,
    /// `KEY=value` of the source (image env, then its own).
    pub env: &'a [String],
    /// `port/proto` of every port the source exposes.
    pub ports: &'a [String],
}

/// The variables `docker run --link name:alias` sets in the receiver.
pub fn link_env(receiver: &str, link: &LinkSource) -> Vec<String> {
    let prefix = link.alias.to_ascii_uppercase().replace(['-', '.'], "_");
    let mut out = vec![format!("{prefix}_NAME=/{receiver}/{}", link.alias)];
    for kv in link.env {
        let Some((k, v)) = kv.split_once('=') else { continue };
        // Docker leaves out the variables every container has anyway.
        if matches!(k, "HOME" | "PATH" | "HOSTNAME") {
            continue;
        }
        out.push(format!("{prefix}_ENV_{k}={v}"));
    }
    let mut ports: Vec<(u16, String)> = link
        .ports
        .iter()
        .filter_map(|p| {
            let (n, proto) = p.split_once('/').unwrap_or((p, "tcp"));
            Some((n.parse().ok()?, proto.to_string()))
        })
        .collect();
    ports.sort();
    ports.dedup();
    if let Some((port, proto)) = ports.first() {
        out.push(format!("{prefix}_PORT={proto}://{}:{port}", link.ip));
    }
    for (port, proto) in &ports {
        let p = proto.to_ascii_uppercase();
        out.push(format!("{prefix}_PORT_{port}_{p}={proto}://{}:{port}", link.ip));
        out.push(format!("{prefix}_PORT_{port}_{p}_ADDR={}", link.ip));
        out.push(format!("{prefix}_PORT_{port}_{p}_PORT={port}"));
        out.push(format!("{prefix}_PORT_{port}_{p}_PROTO={proto}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `docker run --link ex:ex` gave on Docker 20.10 for the seed links scenario.
    #[test]
    fn matches_docker() {
        let env = vec!["PATH=/usr/bin".to_string(), "BOOK=Learning Docker".to_string()];
        let ports = vec!["8080/tcp".to_string(), "80/tcp".to_string()];
        let src = LinkSource { alias: "ex", name: "p-example-1", ip: "172.17.0.2", env: &env, ports: &ports };
        let got = link_env("p-receiver-1", &src);
        for want in [
            "EX_NAME=/p-receiver-1/ex",
            "EX_ENV_BOOK=Learning Docker",
            "EX_PORT=tcp://172.17.0.2:80",
            "EX_PORT_80_TCP=tcp://172.17.0.2:80",
            "EX_PORT_80_TCP_ADDR=172.17.0.2",
            "EX_PORT_80_TCP_PORT=80",
            "EX_PORT_80_TCP_PROTO=tcp",
            "EX_PORT_8080_TCP=tcp://172.17.0.2:8080",
        ] {
            assert!(got.contains(&want.to_string()), "missing {want} in {got:?}");
        }
        assert!(!got.iter().any(|e| e.starts_with("EX_ENV_PATH")));
    }
}
