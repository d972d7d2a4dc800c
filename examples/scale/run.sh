#!/usr/bin/env bash
# Scale up and down: numbers 1..N, the highest removed first, names in /etc/hosts.
source "$(dirname "$0")/../lib/common.sh"
trap 'hoist down -t 1 >/dev/null 2>&1' EXIT
hoist up -d
say "scale web to 3"
hoist scale web=3
hoist ps
say "each replica answers by its own name"
for n in 1 2 3; do hoist exec -T client wget -qO- "http://$(basename "$here")-web-$n:80/"; done
say "scale back to 1: web-3 and web-2 go"
hoist scale web=1
hoist ps --services
hoist ps
