//! hoist: a compose-style multi-container orchestrator.
//! Data flows once: compose file → model (`compose`) → plan (`plan`) → backend (`backend`).

pub mod backend;
pub mod cli;
pub mod compose;
pub mod output;
pub mod plan;
