//! Hostile inputs: images, build contexts, containers, names and oversized files that try
//! to reach the host. Each test plants canary files in a temp dir and asserts the host is
//! untouched and the command fails with a clear error (or does the safe thing).
#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod layers;
mod build;
mod cp;
mod devices;
mod names;
mod bounded;
mod faults;
