//! Hostile inputs: build.
