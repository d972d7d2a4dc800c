#!/usr/bin/env bash
# Links: the alias in /etc/hosts and the link environment variables, then a request.
source "$(dirname "$0")/../lib/common.sh"
trap 'hoist down -t 1 >/dev/null 2>&1' EXIT
hoist up -d
say "link variables in web"
hoist exec -T web sh -c 'env | grep ^DATABASE_ | sort'
say "the alias in web's /etc/hosts"
hoist exec -T web grep database /etc/hosts
say "web asks the database alias"
hoist exec -T web wget -qO- http://database:80/
