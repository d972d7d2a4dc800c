//! The swarm backend: deploys a project as a Docker stack (services, overlay networks,
//! configs, secrets) on a swarm manager, the way `docker stack deploy` does.
//!
//! Swarm runs services, not containers, so this is not a `Backend`: the CLI sends
//! `up`, `down`, `ps`, `logs`, `scale` and `ls` here when `--backend swarm` is given.
//! `check` (what swarm cannot do) and `convert` (model → service specs) are pure;
//! `deploy` and `observe` talk to the engine.

pub mod check;
pub mod convert;
mod deploy;
mod observe;

use bollard::Docker;
use bollard::errors::Error as DockerError;
use bollard::models::LocalNodeState;

pub use check::{check, Refusal};
pub use deploy::{DeployOptions, RemoveOptions};
pub use observe::{StackSummary, TaskSummary};

use crate::backend::docker::{status_of, DockerBackend};
use crate::output::progress::ProgressRef;

/// `com.docker.stack.namespace`: the label `docker stack` puts on everything of a stack.
pub const NAMESPACE: &str = "com.docker.stack.namespace";
/// `com.docker.stack.image`: the image as the compose file names it.
pub const STACK_IMAGE: &str = "com.docker.stack.image";
/// A hash of the service spec hoist deployed (replicas left out): an `up` whose spec
/// hashes the same leaves the service alone.
pub const SPEC_HASH: &str = "hoist.spec-hash";

pub type Result<T, E = SwarmError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum SwarmError {
    #[error("the Docker engine is not in swarm mode: run `docker swarm init` (or join a swarm) first")]
    NotInSwarm,
    #[error("this Docker engine is a swarm worker: point DOCKER_HOST at a manager node")]
    NotManager,
    #[error("swarm cannot run this project as written (nothing was deployed):\n{}", list(.0))]
    Refused(Vec<Refusal>),
    #[error("no service {service:?} in stack {stack:?}")]
    NoSuchService { stack: String, service: String },
    #[error("service {service}: {message}")]
    Service { service: String, message: String },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Engine(String),
}

fn list(refusals: &[Refusal]) -> String {
    refusals.iter().map(|r| format!("  - {r}")).collect::<Vec<_>>().join("\n")
}

/// Engine error with what we were doing.
pub(crate) fn engine(context: impl std::fmt::Display, e: DockerError) -> SwarmError {
    match &e {
        DockerError::DockerResponseServerError { message, .. } => SwarmError::Engine(format!("{context}: {message}")),
        _ => SwarmError::Engine(format!("{context}: {e}")),
    }
}

/// A connection to a swarm manager, and where progress goes.
pub struct Swarm {
    docker: Docker,
    progress: ProgressRef,
}

impl Swarm {
    /// Connects as the Docker backend does (`DOCKER_HOST` or the local socket) and checks
    /// that the engine manages a swarm.
    pub async fn connect(progress: ProgressRef) -> Result<Self> {
        let docker = DockerBackend::new().map_err(|e| SwarmError::Engine(e.to_string()))?.client().clone();
        let info = docker.info().await.map_err(|e| engine("asking the engine for its swarm state", e))?;
        let swarm = info.swarm.unwrap_or_default();
        if swarm.local_node_state != Some(LocalNodeState::ACTIVE) {
            return Err(SwarmError::NotInSwarm);
        }
        if swarm.control_available != Some(true) {
            return Err(SwarmError::NotManager);
        }
        Ok(Swarm { docker, progress })
    }
}

/// True when the engine said "no such object".
pub(crate) fn not_found(e: &DockerError) -> bool {
    status_of(e) == Some(404)
}
