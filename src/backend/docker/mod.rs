//! The Docker backend: drives a Docker engine through bollard.
