//! The engine floor for the benchmarks: the same containers `hoist --backend docker up`
//! makes (hoist's own container specs and Docker calls: labels, init, the project
//! network), created and started all at once on dockerd, with no orchestration (no
//! observation, no dependency order, no health waits; only containers that the engine
//! needs to exist first, link targets, go in a first wave). Prints the milliseconds that took,
//! then removes them (not timed). The project network is made before the clock starts.
//! Usage: bench-floor COMPOSE_FILE PROJECT [REPLICAS]

use std::time::Instant;

use futures::future::join_all;
use hoist::plan::spec;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (file, project) = (args.get(1).expect("compose file"), args.get(2).expect("project"));
    let opts = hoist::compose::LoadOptions { files: vec![file.into()], project_name: Some(project.clone()), interpolate: true, ..Default::default() };
    let p = hoist::compose::load(&opts)?;
    let replicas: u32 = args.get(3).map(|r| r.parse()).transpose()?.unwrap_or(1);
    let backend = hoist::backend::docker::DockerBackend::connect()?;
    let services: Vec<String> = p.services.keys().cloned().collect();
    let networks = spec::network_specs(&p, &services);
    for n in &networks {
        backend.ensure_network(n).await?;
    }

    // The only order kept is the engine's own: a container that links to (or shares the
    // namespaces or volumes of) another is created and started after the others.
    let (plain, referring): (Vec<String>, Vec<String>) = services.iter().cloned().partition(|s| !spec::refers_to_containers(&p, s));
    let start = Instant::now();
    let mut ids = Vec::new();
    for wave in [plain, referring] {
        let containers = wave.iter().flat_map(|name| (1..=replicas).map(move |n| (name, n)));
        ids.extend(
            join_all(containers.map(|(name, n)| {
                let (backend, spec) = (backend.clone(), spec::container_spec(&p, name, n, false, &[]));
                async move {
                    let id = backend.create_container(&spec, None).await?;
                    backend.start_container(&id).await?;
                    Ok::<_, anyhow::Error>(id)
                }
            }))
            .await,
        );
    }
    let elapsed = start.elapsed().as_millis();

    let mut failed = None;
    for id in ids {
        match id {
            Ok(id) => {
                let _ = backend.remove_container(&id, true, true).await;
            }
            Err(e) => failed = Some(e),
        }
    }
    for n in &networks {
        let _ = backend.remove_network(&n.name).await;
    }
    if let Some(e) = failed {
        return Err(e);
    }
    println!("{elapsed}");
    Ok(())
}
