//! `deploy.resources` is applied outside a swarm as Docker Compose applies it: limits
//! (memory, cpus, pids) and the memory reservation, over the service-level keys. Observed
//! with `docker inspect` and in the built-in runtime's cgroup files. Needs root and dockerd.

#[macro_use]
mod common;

use std::path::PathBuf;
use std::process::Command;

use common::stack::Stack;

/// Memory limit, NanoCpus, PidsLimit and MemoryReservation of the service's container.
#[derive(Debug, PartialEq)]
struct Applied {
    memory: u64,
    nano_cpus: u64,
    pids: u64,
    memory_reservation: u64,
}

fn docker_applied(id: &str) -> Applied {
    let out = Command::new("docker")
        .args(["inspect", "-f", "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}} {{.HostConfig.MemoryReservation}}", id])
        .output()
        .expect("the docker CLI is needed for this test");
    assert!(out.status.success(), "docker inspect: {}", String::from_utf8_lossy(&out.stderr));
    let v: Vec<u64> = String::from_utf8_lossy(&out.stdout).split_whitespace().map(|n| n.parse().unwrap()).collect();
    Applied { memory: v[0], nano_cpus: v[1], pids: v[2], memory_reservation: v[3] }
}

/// The container's group of a controller: `<root>/hoist/<full id>` (v1 per controller, v2 one).
fn group(ctrl: &str, id: &str) -> PathBuf {
    let v2 = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let base = if v2 { PathBuf::from("/sys/fs/cgroup/hoist") } else { PathBuf::from(format!("/sys/fs/cgroup/{ctrl}/hoist")) };
    let entries = std::fs::read_dir(&base).unwrap_or_else(|e| panic!("{}: {e}", base.display()));
    entries.flatten().map(|e| e.path()).find(|p| p.file_name().unwrap().to_string_lossy().starts_with(id)).unwrap_or_else(|| panic!("no group of {id} under {}", base.display()))
}

fn read(ctrl: &str, id: &str, file: &str) -> String {
    let p = group(ctrl, id).join(file);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).trim().to_string()
}

fn builtin_applied(id: &str) -> Applied {
    if std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        let cpu = read("", id, "cpu.max");
        let (quota, period) = cpu.split_once(' ').unwrap();
        return Applied {
            memory: read("", id, "memory.max").parse().unwrap(),
            nano_cpus: quota.parse::<u64>().unwrap() * 1_000_000_000 / period.parse::<u64>().unwrap(),
            pids: read("", id, "pids.max").parse().unwrap(),
            memory_reservation: read("", id, "memory.low").parse().unwrap(),
        };
    }
    let quota: u64 = read("cpu", id, "cpu.cfs_quota_us").parse().unwrap();
    let period: u64 = read("cpu", id, "cpu.cfs_period_us").parse().unwrap();
    Applied {
        memory: read("memory", id, "memory.limit_in_bytes").parse().unwrap(),
        nano_cpus: quota * 1_000_000_000 / period,
        pids: read("pids", id, "pids.max").parse().unwrap(),
        memory_reservation: read("memory", id, "memory.soft_limit_in_bytes").parse().unwrap(),
    }
}

fn applied(s: &Stack, service: &str) -> Applied {
    let id = s.id(service);
    assert!(!id.is_empty(), "no container of {service}");
    if s.backend == "docker" { docker_applied(&id) } else { builtin_applied(&id) }
}

const EXPECTED: Applied = Applied { memory: 64 << 20, nano_cpus: 500_000_000, pids: 100, memory_reservation: 32 << 20 };

fn limits_and_reservation_are_applied(backend: &'static str) {
    let s = Stack::new(
        backend,
        "deployres",
        "services:\n  a:\n    image: busybox\n    command: sleep 300\n    deploy:\n      resources:\n        limits: {memory: 64M, cpus: '0.5', pids: 100}\n        reservations: {memory: 32M}\n",
    );
    s.ok(&["up", "-d"]);
    assert_eq!(applied(&s, "a"), EXPECTED);
}

fn deploy_limits_twin_the_service_keys(backend: &'static str) {
    // Two values for one limit are refused, as Docker Compose (compose-go) refuses them...
    let s = Stack::new(
        backend,
        "deployover",
        "services:\n  a:\n    image: busybox\n    command: sleep 300\n    mem_limit: 128m\n    deploy:\n      resources:\n        limits: {memory: 64M}\n",
    );
    let out = s.hoist(&["up", "-d"]);
    common::assert_refused(&out, &["docker-compose.yml:5", "can't set distinct values on 'mem_limit' and 'deploy.resources.limits.memory'"]);
    // ...and the same value twice is that value.
    s.write(
        "docker-compose.yml",
        "services:\n  a:\n    image: busybox\n    command: sleep 300\n    mem_limit: 64m\n    cpus: 0.5\n    pids_limit: 100\n    mem_reservation: 32m\n    deploy:\n      resources:\n        limits: {memory: 64M, cpus: '0.5', pids: 100}\n        reservations: {memory: 32M}\n",
    );
    s.ok(&["up", "-d"]);
    assert_eq!(applied(&s, "a"), EXPECTED);
}

/// Without `deploy`, the service-level keys give the same container (the baseline above).
fn service_keys_alone_are_applied(backend: &'static str) {
    let s = Stack::new(
        backend,
        "deploysvc",
        "services:\n  a:\n    image: busybox\n    command: sleep 300\n    mem_limit: 64m\n    cpus: 0.5\n    pids_limit: 100\n    mem_reservation: 32m\n",
    );
    s.ok(&["up", "-d"]);
    assert_eq!(applied(&s, "a"), EXPECTED);
}

on_both_backends!(limits_and_reservation_are_applied, deploy_limits_twin_the_service_keys, service_keys_alone_are_applied);

#[test]
fn bad_resource_values_name_their_place() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("docker-compose.yml"), "services:\n  a:\n    image: busybox\n    deploy:\n      resources:\n        limits:\n          memory: lots\n").unwrap();
    let out = Command::new(common::HOIST).args(["config"]).current_dir(dir.path()).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("docker-compose.yml:7") && err.contains("deploy.resources.limits.memory"), "{err}");
}

fn device_requests(id: &str) -> String {
    let out = Command::new("docker").args(["inspect", "-f", "{{json .HostConfig.DeviceRequests}}", id]).output().unwrap();
    assert!(out.status.success(), "docker inspect: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// GPUs: `deploy.resources.reservations.devices` reach the engine as docker-compose 1.29
/// sends them, and `gpus` (which 1.29 does not know) as Compose v2 sends it, with the `gpu`
/// capability. This machine has no GPU: the engine refuses to start such a container, and
/// that error is the command's. The built-in runtime refuses them at load, with the reason.
#[test]
fn device_requests_reach_the_engine() {
    let devices = "services:\n  g:\n    image: busybox\n    command: sleep 300\n    deploy:\n      resources:\n        reservations:\n          devices:\n            - capabilities: [gpu, utility]\n              count: 2\n              driver: nvidia\n            - capabilities: [gpu]\n              device_ids: ['0', '3']\n              options: {virtualization: 'false'}\n";
    let s = Stack::new("docker", "gpudev", devices);
    s.ok(&["create"]);
    let ours = device_requests(&s.ps_q(&["-a", "g"])[0]);
    s.reference(&["up", "--no-start"]);
    let theirs = device_requests(&s.reference(&["ps", "-q", "g"]));
    s.reference(&["down"]);
    // 1.29 (Python) sends an unset list or map empty, Compose v2 (Go) and hoist leave it out:
    // the same request to the engine.
    let theirs = theirs.replace("\"DeviceIDs\":[]", "\"DeviceIDs\":null").replace("\"Options\":{}", "\"Options\":null");
    assert_eq!(ours, theirs);
    let out = s.hoist(&["up", "-d"]);
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && text.contains("could not select device driver"), "{text}");

    let s = Stack::new("docker", "gpus", "services:\n  a:\n    image: busybox\n    command: sleep 300\n    gpus: all\n  b:\n    image: busybox\n    command: sleep 300\n    gpus:\n      - driver: nvidia\n        device_ids: ['1']\n");
    s.ok(&["create"]);
    assert_eq!(device_requests(&s.ps_q(&["-a", "a"])[0]), r#"[{"Driver":"","Count":-1,"DeviceIDs":null,"Capabilities":[["gpu"]],"Options":null}]"#);
    assert_eq!(device_requests(&s.ps_q(&["-a", "b"])[0]), r#"[{"Driver":"nvidia","Count":0,"DeviceIDs":["1"],"Capabilities":[["gpu"]],"Options":null}]"#);

    for (file, line) in [(devices, 8), ("services:\n  a:\n    image: busybox\n    gpus: all\n", 4)] {
        let s = Stack::new("builtin", "gpubuiltin", file);
        let out = s.hoist(&["up", "-d"]);
        common::assert_refused(&out, &[&format!("docker-compose.yml:{line}"), "the built-in runtime cannot give a container GPUs"]);
    }
}
