#!/usr/bin/env bash
# Private registry: start it, push an image with `hoist image push`, drop the local copy,
# and run a service whose image is pulled from the registry.
source "$(dirname "$0")/../lib/common.sh"
trap 'hoist down -v -t 1 >/dev/null 2>&1' EXIT
if ! hoist image inspect registry:2 >/dev/null 2>&1; then
  command -v docker-registry >/dev/null || apt-get install -y -qq docker-registry >/dev/null
  echo "no registry reachable: making registry:2 from Debian's docker-registry package"
  tar=$(mktemp /tmp/hoist-registry.XXXXXX.tar)
  "$top/examples/lib/host-image.sh" "$tar" docker-registry
  hoist image import --change 'EXPOSE 5000' "$tar" registry:2 >/dev/null
  rm -f "$tar"
fi
hoist up -d registry
for _ in $(seq 1 50); do curl -fsS -m 1 http://127.0.0.1:5055/v2/ >/dev/null 2>&1 && break; sleep 0.2; done
say "push busybox as 127.0.0.1:5055/demo/hello:1"
hoist image tag busybox:latest 127.0.0.1:5055/demo/hello:1
hoist image push 127.0.0.1:5055/demo/hello:1
curl -fsS http://127.0.0.1:5055/v2/_catalog; echo
say "remove the local copy; the app service pulls it back"
hoist image rm 127.0.0.1:5055/demo/hello:1 >/dev/null
hoist run --rm app
