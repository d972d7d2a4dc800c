//! Named volumes on the engine: created with compose labels, external ones only checked.

use std::collections::HashMap;

use bollard::Docker;
use bollard::models::VolumeCreateRequest;
use bollard::query_parameters::{ListVolumesOptions, RemoveVolumeOptions};

use super::networks::sorted;
use super::{engine_err, status_of};
use crate::backend::{BackendError, Result, VolumeSpec, VolumeSummary, labels};

pub async fn ensure(docker: &Docker, spec: &VolumeSpec) -> Result<()> {
    match docker.inspect_volume(&spec.name).await {
        Ok(_) => return Ok(()),
        Err(e) if status_of(&e) == Some(404) => {}
        Err(e) => return Err(engine_err(format!("inspecting volume {}", spec.name), e)),
    }
    if spec.external {
        return Err(BackendError::Engine(format!(
            "volume {} declared as external, but could not be found",
            spec.name
        )));
    }
    let mut vol_labels: HashMap<String, String> = spec.labels.clone().into_iter().collect();
    vol_labels.entry(labels::PROJECT.into()).or_insert_with(|| spec.project.clone());
    vol_labels.entry(labels::VOLUME.into()).or_insert_with(|| spec.key.clone());
    let req = VolumeCreateRequest {
        name: Some(spec.name.clone()),
        driver: spec.driver.clone(),
        driver_opts: (!spec.driver_opts.is_empty()).then(|| spec.driver_opts.clone().into_iter().collect()),
        labels: Some(vol_labels),
        ..Default::default()
    };
    docker.create_volume(req).await.map_err(|e| engine_err(format!("creating volume {}", spec.name), e))?;
    Ok(())
}

pub async fn remove(docker: &Docker, name: &str) -> Result<()> {
    match docker.remove_volume(name, None::<RemoveVolumeOptions>).await {
        Err(e) if status_of(&e) == Some(409) => Err(BackendError::InUse(format!("removing volume {name}: {e}"))),
        Err(e) if status_of(&e) != Some(404) => Err(engine_err(format!("removing volume {name}"), e)),
        _ => Ok(()),
    }
}

pub async fn list(docker: &Docker, project: Option<&str>) -> Result<Vec<VolumeSummary>> {
    let filters = project.map(|p| HashMap::from([("label".into(), vec![format!("{}={p}", labels::PROJECT)])]));
    let resp = docker.list_volumes(Some(ListVolumesOptions { filters })).await.map_err(|e| engine_err("listing volumes", e))?;
    let mut out: Vec<VolumeSummary> = resp
        .volumes
        .unwrap_or_default()
        .into_iter()
        .map(|v| VolumeSummary { name: v.name, driver: v.driver, mountpoint: v.mountpoint, labels: sorted(v.labels) })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}
