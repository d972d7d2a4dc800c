//! Hostile inputs: cp.
