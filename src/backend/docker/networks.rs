//! Project networks on the engine: created on demand with compose labels, external ones
//! only checked, listed by the project label.

use std::collections::HashMap;

use bollard::Docker;
use bollard::models::{Ipam, IpamConfig, NetworkCreateRequest};
use bollard::query_parameters::ListNetworksOptions;

use super::{engine_err, status_of};
use crate::backend::{BackendError, NetworkSpec, NetworkSummary, Result, labels};

pub async fn ensure(docker: &Docker, spec: &NetworkSpec) -> Result<()> {
    if !same_name(docker, &spec.name).await?.is_empty() {
        return dedupe(docker, &spec.name).await;
    }
    if spec.external {
        return Err(BackendError::Engine(format!(
            "network {} declared as external, but could not be found",
            spec.name
        )));
    }
    let mut net_labels: HashMap<String, String> = spec.labels.clone().into_iter().collect();
    net_labels.entry(labels::PROJECT.into()).or_insert_with(|| spec.project.clone());
    net_labels.entry(labels::NETWORK.into()).or_insert_with(|| spec.key.clone());
    let ipam = (!spec.subnets.is_empty()).then(|| Ipam {
        config: Some(
            spec.subnets
                .iter()
                .map(|s| IpamConfig {
                    subnet: Some(s.subnet.clone()),
                    gateway: s.gateway.clone(),
                    ip_range: s.ip_range.clone(),
                    ..Default::default()
                })
                .collect(),
        ),
        ..Default::default()
    });
    let req = NetworkCreateRequest {
        name: spec.name.clone(),
        driver: Some(spec.driver.clone().unwrap_or_else(|| "bridge".into())),
        internal: Some(spec.internal),
        attachable: Some(spec.attachable),
        ipam,
        labels: Some(net_labels),
        ..Default::default()
    };
    match docker.create_network(req).await {
        Ok(_) => {}
        // Created concurrently by someone else: fine.
        Err(e) if status_of(&e) == Some(409) => {}
        Err(e) => return Err(engine_err(format!("creating network {}", spec.name), e)),
    }
    dedupe(docker, &spec.name).await
}

/// Networks named exactly `name` (the engine's name filter matches substrings).
async fn same_name(docker: &Docker, name: &str) -> Result<Vec<bollard::models::Network>> {
    let opts = ListNetworksOptions { filters: Some(HashMap::from([("name".into(), vec![name.to_string()])])) };
    let nets = docker.list_networks(Some(opts)).await.map_err(|e| engine_err("listing networks", e))?;
    Ok(nets.into_iter().filter(|n| n.name.as_deref() == Some(name)).collect())
}

/// Engines before API 1.44 let two creations of one name both succeed (a create whose
/// client was killed still completes): keep the oldest network, remove the unused rest,
/// so containers can refer to the network by name.
async fn dedupe(docker: &Docker, name: &str) -> Result<()> {
    let mut nets = same_name(docker, name).await?;
    if nets.len() < 2 {
        return Ok(());
    }
    nets.sort_by(|a, b| a.created.cmp(&b.created));
    for extra in &nets[1..] {
        if let Some(id) = &extra.id {
            let _ = docker.remove_network(id).await;
        }
    }
    Ok(())
}

pub async fn remove(docker: &Docker, name: &str) -> Result<()> {
    match docker.remove_network(name).await {
        Err(e) if status_of(&e) == Some(403) => Err(BackendError::InUse(format!("removing network {name}: {e}"))),
        Err(e) if status_of(&e) != Some(404) => Err(engine_err(format!("removing network {name}"), e)),
        _ => Ok(()),
    }
}

pub async fn list(docker: &Docker, project: &str) -> Result<Vec<NetworkSummary>> {
    let opts = ListNetworksOptions {
        filters: Some(HashMap::from([("label".into(), vec![format!("{}={project}", labels::PROJECT)])])),
    };
    let nets = docker.list_networks(Some(opts)).await.map_err(|e| engine_err("listing networks", e))?;
    let mut out: Vec<NetworkSummary> = nets
        .into_iter()
        .map(|n| NetworkSummary {
            name: n.name.unwrap_or_default(),
            id: n.id.unwrap_or_default(),
            driver: n.driver.unwrap_or_default(),
            labels: sorted(n.labels.unwrap_or_default()),
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

pub(super) fn sorted(m: HashMap<String, String>) -> indexmap::IndexMap<String, String> {
    let mut v: Vec<_> = m.into_iter().collect();
    v.sort();
    v.into_iter().collect()
}
