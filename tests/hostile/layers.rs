//! Hostile inputs: layers.
