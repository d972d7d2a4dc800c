//! The built-in, daemonless runtime: images (`image`), container processes under
//! supervisors (`runtime`), bridges and ports (`network`), tied together as a `Backend`.

pub mod image;
pub mod network;
pub mod runtime;
