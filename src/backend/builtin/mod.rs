//! The built-in, daemonless runtime: images, containers under supervisors, networks, volumes.
