#!/usr/bin/env bash
# The realistic stack in one command (root needed for the built-in runtime; set
# HOIST_BACKEND=docker for Docker): makes debian:bookworm if missing, builds the three
# images FROM it, starts the stack and waits for the healthy database, asks the web app
# twice (the hit counter goes up), then removes everything, volumes included.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
hoist_bin=${HOIST:-$top/target/release/hoist}
if [ ! -x "$hoist_bin" ]; then
  echo "building hoist (release)..."
  (cd "$top" && cargo build --release --quiet)
fi
backend=${HOIST_BACKEND:-builtin}
hoist() { "$hoist_bin" --backend "$backend" "$@"; }
port=${WEB_PORT:-8000}
export WEB_PORT=$port

HOIST=$hoist_bin "$here/make-images.sh" "$backend"
cd "$here"
trap 'hoist down -v -t 5 >/dev/null 2>&1 || true' EXIT
# --build: the images are built from the Dockerfiles (the first time the packages come
# from Debian's mirror; later builds are cached). --wait: until db is healthy and all run.
hoist up -d --build --wait
for _ in 1 2; do
  out=""
  for _ in $(seq 1 100); do
    out=$(curl -fsS -m 5 "http://127.0.0.1:$port/" 2>/dev/null) && break
    sleep 0.2
  done
  echo "${out:?the web app did not answer on http://127.0.0.1:$port/}"
done
echo "the hit counter, read from redis: $(hoist exec -T redis redis-cli get hits)"
hoist ps
hoist down -v
trap - EXIT
