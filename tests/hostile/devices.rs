//! Hostile inputs: devices.
