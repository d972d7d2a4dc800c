//! The engine floor for the benchmarks: creates and starts the containers of a compose
//! file on dockerd with bollard, all at once, with no orchestration; prints the
//! milliseconds that took, then removes them (not timed).
//! Usage: bench-floor COMPOSE_FILE PROJECT [REPLICAS]

use std::time::Instant;

use bollard::Docker;
use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{CreateContainerOptionsBuilder, RemoveContainerOptionsBuilder};
use futures::future::join_all;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (file, project) = (args.get(1).expect("compose file"), args.get(2).expect("project"));
    let opts = hoist::compose::LoadOptions { files: vec![file.into()], project_name: Some(project.clone()), interpolate: true, ..Default::default() };
    let p = hoist::compose::load(&opts)?;
    let replicas: u32 = args.get(3).map(|r| r.parse()).transpose()?.unwrap_or(1);
    let docker = Docker::connect_with_local_defaults()?;
    let start = Instant::now();
    let containers = p.services.iter().flat_map(|(name, svc)| (1..=replicas).map(move |n| (name, svc, n)));
    let ids = join_all(containers.map(|(name, svc, n)| {
        let docker = docker.clone();
        let body = ContainerCreateBody { image: svc.image.clone(), cmd: svc.command.clone(), ..Default::default() };
        let opts = CreateContainerOptionsBuilder::default().name(&format!("{project}-{name}-{n}")).build();
        async move {
            let id = docker.create_container(Some(opts), body).await?.id;
            docker.start_container(&id, None::<bollard::query_parameters::StartContainerOptions>).await?;
            Ok::<_, anyhow::Error>(id)
        }
    }))
    .await;
    let elapsed = start.elapsed().as_millis();
    let rm = RemoveContainerOptionsBuilder::default().force(true).build();
    for id in ids.into_iter().flatten() {
        let _ = docker.remove_container(&id, Some(rm.clone())).await;
    }
    println!("{elapsed}");
    Ok(())
}
