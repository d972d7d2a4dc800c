#!/usr/bin/env bash
# make-images.sh [builtin|docker]...: makes `debian:bookworm` without a registry and
# imports it into each backend named (default: $HOIST_BACKEND, else builtin). The root
# filesystem comes from Debian's mirror through mmdebstrap (minbase, as the official
# image) and is kept in $HOIST_IMAGE_CACHE (default /var/cache/hoist-test-images), under
# a name that hashes how it was made: later runs, CI included, only import it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
hoist=${HOIST:-$top/target/release/hoist}
cache=${HOIST_IMAGE_CACHE:-/var/cache/hoist-test-images}
suite=bookworm
# No translations in apt's lists (as the official image): 6 MB less per `apt-get update`.
recipe=(mmdebstrap --variant=minbase --format=tar --aptopt='Acquire::Languages "none"' "$suite")
key=$(printf '%s\n' "${recipe[@]}" | sha256sum | cut -c1-16)
tar=$cache/debian-$suite-$key.tar
# What the official debian image sets on top of the files.
changes=(--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' --change 'CMD ["bash"]')

if [ ! -f "$tar" ]; then
  command -v mmdebstrap >/dev/null || { echo "make-images.sh needs mmdebstrap: apt-get install mmdebstrap" >&2; exit 1; }
  mkdir -p "$cache"
  echo "making debian:$suite with mmdebstrap (about a minute; kept in $cache)"
  start=$SECONDS
  # Written aside and renamed: an interrupted run leaves no half tarball in the cache.
  "${recipe[@]}" "$tar.partial" 2>"$tar.log" || { tail -20 "$tar.log" >&2; rm -f "$tar.partial"; exit 1; }
  mv "$tar.partial" "$tar"; rm -f "$tar.log"
  echo "made $tar in $((SECONDS - start)) s"
fi

[ $# -gt 0 ] || set -- "${HOIST_BACKEND:-builtin}"
for backend in "$@"; do
  case $backend in
    builtin)
      # The same tarball gives the same image id: importing again changes nothing.
      if ! "$hoist" --backend builtin image inspect "debian:$suite" >/dev/null 2>&1; then
        "$hoist" --backend builtin image import "${changes[@]}" "$tar" "debian:$suite" >/dev/null
        echo "imported debian:$suite into hoist's built-in store"
      fi ;;
    docker)
      if ! docker image inspect "debian:$suite" >/dev/null 2>&1; then
        docker import "${changes[@]}" "$tar" "debian:$suite" >/dev/null
        echo "imported debian:$suite into Docker"
      fi ;;
    *) echo "make-images.sh: unknown backend $backend (builtin or docker)" >&2; exit 2 ;;
  esac
done
