#!/usr/bin/env bash
# The node + redis demo in one command, on hoist's built-in runtime (root needed):
# builds hoist if needed, makes sure the `redis` and `node` images exist (pulled when a
# registry is reachable, otherwise built from Debian's own packages), starts the stack
# and shows the welcome page. Re-running it is fast: everything is kept.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
hoist=${HOIST:-$top/target/release/hoist}
if [ ! -x "$hoist" ] || [ -n "$(find "$top/src" "$top/Cargo.toml" -newer "$hoist" -print -quit 2>/dev/null)" ]; then
  echo "building hoist (release)..."
  (cd "$top" && cargo build --release --quiet)
fi

# make_image REF PACKAGE BINARY CHANGE...: pull REF, else build it from a Debian package.
make_image() {
  local ref=$1 pkg=$2 bin=$3; shift 3
  if "$hoist" image inspect "$ref" >/dev/null 2>&1; then return; fi
  if timeout 20 "$hoist" image pull "$ref" >/dev/null 2>&1; then echo "pulled $ref"; return; fi
  echo "no registry reachable: building $ref from Debian's $pkg package"
  if ! command -v "$bin" >/dev/null; then
    apt-get install -y -qq "$pkg" >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq "$pkg" >/dev/null; }
  fi
  [ -x /usr/bin/busybox ] || apt-get install -y -qq busybox-static >/dev/null
  local tar; tar=$(mktemp /tmp/hoist-image.XXXXXX.tar)
  "$here/../lib/host-image.sh" "$tar" "$bin"
  local changes=()
  for c in "$@"; do changes+=(--change "$c"); done
  "$hoist" image import "${changes[@]}" "$tar" "$ref" >/dev/null
  rm -f "$tar"
}
make_image redis:latest redis-server redis-server \
  'CMD ["redis-server", "--protected-mode", "no", "--save", "", "--appendonly", "no"]' 'EXPOSE 6379'
make_image node:latest nodejs node 'CMD ["node"]'

# The `web` image comes from the Dockerfile (`hoist build` in this folder, on either
# backend). Should the build fail, its reason is shown and the same image (node +
# /myapp/example.js) is made from the Dockerfile's steps instead.
cd "$here"
if ! "$hoist" image inspect node-redis-web:latest >/dev/null 2>&1; then
  echo "building node-redis-web from the Dockerfile"
  if ! build_log=$("$hoist" build 2>&1); then
    echo "hoist build failed:" >&2
    tail -n 5 <<<"$build_log" | sed 's/^/  /' >&2
    echo "making node-redis-web from the Dockerfile's steps instead (node image + example.js)" >&2
    tar=$(mktemp /tmp/hoist-image.XXXXXX.tar)
    EXTRA_FILES="$here/example.js:/myapp/example.js" "$here/../lib/host-image.sh" "$tar" node
    "$hoist" image import --change 'CMD ["node"]' --change 'EXPOSE 80' "$tar" node-redis-web:latest >/dev/null
    rm -f "$tar"
  fi
fi

"$hoist" up -d
for _ in $(seq 1 100); do
  if out=$(curl -fsS -m 2 http://127.0.0.1:8080/ 2>/dev/null) && [ -n "$out" ] && [[ "$out" != Command:* ]]; then
    echo "$out"
    echo "The demo runs: try  curl http://127.0.0.1:8080/build"
    echo "Stop it with:  (cd $here && $hoist down)"
    exit 0
  fi
  sleep 0.2
done
echo "the web service did not answer on http://127.0.0.1:8080/" >&2
"$hoist" logs --tail 20 >&2 || true
exit 1
