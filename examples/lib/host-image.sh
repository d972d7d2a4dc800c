#!/usr/bin/env bash
# host-image.sh OUT.tar BINARY... : a small root filesystem tarball with busybox (for sh
# and the usual tools), the given host binaries and the shared libraries they load. It
# turns Debian's own packages into images when no registry is reachable.
set -euo pipefail
out=$1; shift
root=$(mktemp -d /tmp/hoist-rootfs.XXXXXX)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,etc,tmp,root,data,usr/bin,usr/local/bin,var/run}
chmod 1777 "$root/tmp"
cp /usr/bin/busybox "$root/bin/busybox"
for applet in $(/usr/bin/busybox --list); do [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"; done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
for bin in "$@"; do
  path=$(command -v "$bin")
  cp --parents -L "$path" "$root"
  # Every library the binary loads, and the dynamic loader itself.
  ldd "$path" | grep -o '/[^ ]*' | while read -r lib; do cp --parents -L "$lib" "$root"; done
done
# EXTRA_FILES="src:dst ..." copies more files in (what a Dockerfile's COPY would do).
for pair in ${EXTRA_FILES:-}; do
  mkdir -p "$root$(dirname "${pair#*:}")"; cp "${pair%%:*}" "$root${pair#*:}"
done
tar -C "$root" -cf "$out" .
