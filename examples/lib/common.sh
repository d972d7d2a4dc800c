# Sourced by the examples' run.sh: finds (or builds) hoist, honours HOIST_BACKEND
# (builtin by default, or docker), makes sure `busybox:latest` exists in that backend
# (made from Debian's busybox-static package: no registry needed), and offers `say`.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[1]}")" && pwd)
top=$(cd "$here/../.." && pwd)
hoist_bin=${HOIST:-$top/target/release/hoist}
if [ ! -x "$hoist_bin" ]; then
  echo "building hoist (release)..."
  (cd "$top" && cargo build --release --quiet)
fi
hoist() { "$hoist_bin" "$@"; }
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
if ! hoist image inspect busybox:latest >/dev/null 2>&1; then
  [ -x /usr/bin/busybox ] || apt-get install -y -qq busybox-static >/dev/null
  tar=$(mktemp /tmp/hoist-busybox.XXXXXX.tar)
  "$top/examples/lib/host-image.sh" "$tar"
  hoist image import --change 'CMD ["sh"]' "$tar" busybox:latest >/dev/null
  rm -f "$tar"
fi
cd "$here"
