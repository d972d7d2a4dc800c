//! The plan, pure and shared by every backend: the dependency graph (`graph`), container
//! specs from the model (`spec`), convergence (`converge`) and its execution (`execute`).

pub mod converge;
pub mod execute;
pub mod graph;
pub mod lock;
pub mod spec;
