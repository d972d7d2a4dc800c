#!/usr/bin/env bash
# Installs and starts what the tests need on a fresh Debian 12 (as root): the tools the
# built-in runtime and the tests call, a Docker engine, and a Debian image builder.
# tests/run.sh runs it first, so the test command works as written on a new machine.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
[ "$(id -u)" = 0 ] || { echo "tests need root (the built-in runtime and dockerd)"; exit 1; }

need=()
command -v dockerd >/dev/null || need+=(docker.io)
[ -x /usr/bin/busybox ] || need+=(busybox-static)
command -v docker-registry >/dev/null || need+=(docker-registry)
command -v iptables >/dev/null || need+=(iptables)
# builtin_network.rs drives the nft fallback directly.
command -v nft >/dev/null || need+=(nftables)
command -v nsenter >/dev/null || need+=(util-linux)
command -v curl >/dev/null || need+=(curl)
command -v bc >/dev/null || need+=(bc)
# tests/daily.rs and tests/realstack.rs drive terminal sessions in tmux.
command -v tmux >/dev/null || need+=(tmux)
# tests/realstack.rs makes Debian base images.
command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
# tests/isolation.rs and tests/hostile build their probes with `gcc -static`.
command -v gcc >/dev/null || need+=(gcc)
[ -e /usr/lib/x86_64-linux-gnu/libc.a ] || need+=(libc6-dev)
# tests/hostile/devices.rs lists the BPF device filter attached to a container's cgroup.
command -v bpftool >/dev/null || need+=(bpftool)
# tests/logging.rs compares with docker-compose 1.29, the reference.
command -v docker-compose >/dev/null || need+=(docker-compose)
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}"
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi

# A Docker engine for the Docker backend's tests.
if ! docker info >/dev/null 2>&1; then
  echo "setup: starting dockerd"
  # A pid file left by an engine of an ended session (its process gone, the pid maybe reused) stops dockerd.
  if [ -f /var/run/docker.pid ] && [ "$(cat "/proc/$(cat /var/run/docker.pid)/comm" 2>/dev/null)" != dockerd ]; then
    rm -f /var/run/docker.pid /var/run/containerd/containerd.pid
  fi
  (dockerd >/tmp/hoist-test-dockerd.log 2>&1 &)
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || { echo "setup: dockerd did not start"; tail -50 /tmp/hoist-test-dockerd.log; exit 1; }
fi
