//! Hostile inputs: bounded.
