#!/usr/bin/env bash
# The one test command: installs and starts what the tests need (tests/setup.sh), then
# unit and integration tests against real containers on both backends, then the seed
# scenarios of ../shared (or $HOIST_SHARED) on both backends.
set -uo pipefail
cd "$(dirname "$0")/.."
tests/setup.sh || exit 1
shared=${HOIST_SHARED:-$PWD/../shared}
if [ ! -d "$shared/scenarios" ] && [ "${HOIST_SHARED:-}" != none ]; then
  echo "tests/run.sh: $shared/scenarios not found: set HOIST_SHARED to the shared folder," >&2
  echo "or HOIST_SHARED=none to run without the seed scenarios and reference files" >&2
  exit 1
fi
export HOIST_SHARED=$shared
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
# One build: `cargo test` also builds the binary, with the features the dev-dependencies
# unify; a separate `cargo build` would compile the whole dependency tree a second time.
cargo test --release --no-run --quiet || exit 1
hoist=$CARGO_TARGET_DIR/release/hoist

status=0
cargo test --release --no-fail-fast -- --test-threads=2 || status=1

if [ -x "$shared/scenarios/run.sh" ]; then
  echo "== seed scenarios, Docker backend"
  "$shared/scenarios/run.sh" --compose "$hoist --backend docker" || status=1
  echo "== seed scenarios, built-in runtime"
  "$shared/scenarios/run.sh" --compose "$hoist --backend builtin" || status=1
else
  echo "seed scenarios not run: HOIST_SHARED=none"
fi
exit $status
