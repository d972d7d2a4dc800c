#!/usr/bin/env bash
# The one test command: unit and integration tests (root and a running dockerd needed for
# the engine tests; .ci/run provides both), then the seed scenarios on both backends.
set -uo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
# One build: `cargo test` also builds the binary, with the features the dev-dependencies
# unify; a separate `cargo build` would compile the whole dependency tree a second time.
cargo test --release --no-run --quiet || exit 1
hoist=$CARGO_TARGET_DIR/release/hoist

status=0
cargo test --release --no-fail-fast -- --test-threads=2 || status=1

shared=${HOIST_SHARED:-$PWD/../shared}
if [ -x "$shared/scenarios/run.sh" ]; then
  echo "== seed scenarios, Docker backend"
  "$shared/scenarios/run.sh" --compose "$hoist --backend docker" || status=1
  echo "== seed scenarios, built-in runtime"
  "$shared/scenarios/run.sh" --compose "$hoist --backend builtin" || status=1
else
  echo "seed scenarios skipped: $shared/scenarios not found"
fi
exit $status
