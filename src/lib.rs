//! hoist: a compose-style multi-container orchestrator.
//! Data flows once: compose file → model (`compose`) → plan (`plan`) → backend (`backend`);
//! `export` turns the model into other platforms' formats (Kubernetes manifests).

pub mod backend;
pub mod cli;
pub mod compose;
pub mod export;
pub mod output;
pub mod plan;
pub mod watch;
