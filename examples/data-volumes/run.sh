#!/usr/bin/env bash
# Data volumes: shared through volumes_from, read-only where asked, backed up with a
# one-off container, and kept until `down -v`.
source "$(dirname "$0")/../lib/common.sh"
trap 'hoist down -v -t 1 >/dev/null 2>&1; rm -rf backup config' EXIT
hoist up -d
sleep 1
say "db2 reads what db1 wrote into dbdata's volume"
hoist exec -T db2 cat /dbdata/table
say "db2 mounted it read-only"
hoist exec -T db2 sh -c 'echo x > /dbdata/table' 2>&1 || echo "(refused, as asked)"
say "backup with a one-off container"
hoist run --rm backup
tar tf backup/backup.tar
say "the named volume outlives the containers (rm -v takes their anonymous volumes along)"
hoist rm -s -f -v
hoist up -d notes
sleep 1
hoist exec -T notes cat /notes/started
hoist volume ls
