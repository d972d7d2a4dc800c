//! What the user sees: progress of lifecycle operations and multiplexed container logs.

pub mod logs;
pub mod progress;
pub mod template;
