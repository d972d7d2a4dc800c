//! `mac_address` on the engine, as Docker Compose passes it: per endpoint from API 1.44,
//! else `Config.MacAddress` on create, a field bollard's create body no longer has.

use bollard::errors::Error as DockerError;
use bollard::models::{ContainerCreateBody, ContainerCreateResponse};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;

use crate::backend::{BackendError, ContainerSpec, NetworkMode, Result};
use crate::compose::model::MacAddress;

/// Whether the spec sets a MAC address anywhere (only then is the engine's API asked).
pub fn wanted(spec: &ContainerSpec) -> bool {
    spec.mac_address.is_some() || matches!(&spec.network, NetworkMode::Networks(n) if n.iter().any(|a| a.mac_address.is_some()))
}

/// The container-wide address for an engine of `api_version`: none from 1.44 (each
/// endpoint carries its own); before, the main network's, and no other network may have
/// one (Compose's rule and words).
pub fn container_wide(spec: &ContainerSpec, api_version: &str) -> Result<Option<MacAddress>> {
    let at_least_144 = super::api_at_least(api_version, (1, 44));
    let NetworkMode::Networks(nets) = &spec.network else {
        // `network_mode: bridge` and the like: no endpoint of ours to carry it.
        return Ok(spec.mac_address);
    };
    if at_least_144 {
        return Ok(None);
    }
    let with: Vec<&str> = nets.iter().filter(|a| a.mac_address.is_some()).map(|a| a.network.as_str()).collect();
    if with.len() > 1 {
        return Err(BackendError::Engine(format!(
            "a MAC address is specified for multiple networks ({}), but this feature requires Docker Engine 1.44 or later (currently: {api_version})",
            with.join(", ")
        )));
    }
    Ok(nets.first().and_then(|a| a.mac_address).or(spec.mac_address))
}

/// `POST /containers/create` with `body` and `MacAddress`, on the engine's unix socket
/// (`$DOCKER_HOST` when it is one). Errors are bollard's, so callers treat both alike.
pub async fn create(name: &str, body: &ContainerCreateBody, mac: MacAddress) -> std::result::Result<ContainerCreateResponse, DockerError> {
    let mut json = serde_json::to_value(body).map_err(|err| DockerError::JsonSerdeError { err })?;
    json["MacAddress"] = serde_json::Value::String(mac.to_string());
    let socket = match std::env::var("DOCKER_HOST") {
        Ok(h) if !h.is_empty() => h.strip_prefix("unix://").map(str::to_string).ok_or_else(|| DockerError::DockerResponseServerError {
            status_code: 0,
            message: format!("mac_address needs the engine's unix socket on an engine before API 1.44, not DOCKER_HOST={h}"),
        })?,
        _ => "/var/run/docker.sock".to_string(),
    };
    let stream = tokio::net::UnixStream::connect(&socket).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(io)?;
    tokio::spawn(conn);
    // Names are [a-zA-Z0-9_.-]: nothing to escape in the query.
    let req = hyper::Request::post(format!("/containers/create?name={name}"))
        .header("Host", "docker")
        .header("Content-Type", "application/json")
        .body(Full::new(bytes::Bytes::from(json.to_string())))
        .map_err(io)?;
    let resp = sender.send_request(req).await.map_err(io)?;
    let status = resp.status().as_u16();
    let data = resp.into_body().collect().await.map_err(io)?.to_bytes();
    if status >= 300 {
        let message = serde_json::from_slice::<serde_json::Value>(&data).ok().and_then(|v| v["message"].as_str().map(str::to_string));
        return Err(DockerError::DockerResponseServerError { status_code: status, message: message.unwrap_or_else(|| String::from_utf8_lossy(&data).into_owned()) });
    }
    serde_json::from_slice(&data).map_err(|err| DockerError::JsonSerdeError { err })
}

fn io(e: impl std::fmt::Display) -> DockerError {
    DockerError::IOError { err: std::io::Error::other(e.to_string()) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::NetworkAttachment;

    fn att(net: &str, mac: Option<&str>) -> NetworkAttachment {
        NetworkAttachment { network: net.into(), aliases: vec![], ipv4_address: None, mac_address: mac.map(|m| m.parse().unwrap()) }
    }

    #[test]
    fn as_compose_decides() {
        let m = |s: &str| Some(s.parse::<MacAddress>().unwrap());
        let mut spec = ContainerSpec { network: NetworkMode::Networks(vec![att("a", Some("02:00:00:00:00:01")), att("b", None)]), ..Default::default() };
        assert_eq!(container_wide(&spec, "1.41").unwrap(), m("02:00:00:00:00:01"));
        assert_eq!(container_wide(&spec, "1.44").unwrap(), None);
        spec.network = NetworkMode::Networks(vec![att("a", Some("02:00:00:00:00:01")), att("b", Some("02:00:00:00:00:02"))]);
        assert!(container_wide(&spec, "1.41").unwrap_err().to_string().contains("multiple networks (a, b)"));
        assert_eq!(container_wide(&spec, "1.45").unwrap(), None);
        spec = ContainerSpec { network: NetworkMode::DefaultBridge, mac_address: m("02:00:00:00:00:03"), ..Default::default() };
        assert_eq!(container_wide(&spec, "1.44").unwrap(), m("02:00:00:00:00:03"));
    }
}
