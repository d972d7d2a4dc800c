#!/usr/bin/env bash
# Ports: where each published port landed (`hoist port`, `hoist ps`) and a request to each.
source "$(dirname "$0")/../lib/common.sh"
trap 'hoist down -t 1 >/dev/null 2>&1' EXIT
hoist up -d
sleep 1
hoist ps
say "hoist port"
for s in fixed any local range; do echo "$s: $(hoist port "$s" 80)"; done
echo "range 81: $(hoist port range 81)"
echo "range 53/udp: $(hoist port --protocol udp range 53)"
say "requests"
get() { curl -fsS -m 5 "http://$1/"; }
get 127.0.0.1:18180
get "$(hoist port any 80 | sed 's/0.0.0.0/127.0.0.1/')"
get 127.0.0.1:18181
get 127.0.0.1:18191
say "expose: reachable from another container only"
hoist exec -T fixed wget -qO- http://internal:80/
