#!/usr/bin/env bash
# Benchmarks hoist (built-in and Docker backends) against docker-compose 1.29 and the
# engine floor (bollard creating and starting the same containers, no orchestration),
# on the same machine in one run. Prepares everything itself (root needed); writes
# docs/benchmarks.md and docs/benchmarks.svg. Usage: bench/run.sh [REPS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd); top=$(cd "$here/.." && pwd)
reps=${1:-5}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$top/target}
export DEBIAN_FRONTEND=noninteractive
need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v docker-compose >/dev/null || need+=(docker-compose)
[ -x /usr/bin/busybox ] || need+=(busybox-static)
command -v /usr/bin/time >/dev/null || need+=(time)
[ ${#need[@]} -eq 0 ] || { apt-get update -qq; apt-get install -y -qq "${need[@]}" >/dev/null; }
docker info >/dev/null 2>&1 || { (dockerd >/tmp/hoist-bench-dockerd.log 2>&1 &); for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done; }
# `cargo test --no-run` builds the binary with the same features as the example (one build).
(cd "$top" && cargo test --release --no-run --quiet && cargo build --release --quiet --example bench-floor)
hoist=$CARGO_TARGET_DIR/release/hoist
floor=$CARGO_TARGET_DIR/release/examples/bench-floor

work=$(mktemp -d /tmp/hoist-bench.XXXXXX)
# BENCH_RESUME=RESULTS.tsv continues an interrupted run: what it recorded is kept.
resume=${BENCH_RESUME:-}
rootfs=$work/rootfs; mkdir -p $rootfs/bin $rootfs/etc $rootfs/tmp
cp /usr/bin/busybox $rootfs/bin/
for c in $(/usr/bin/busybox --list); do [ "$c" = busybox ] || ln -sf busybox $rootfs/bin/$c; done
echo 'root:x:0:0:root:/root:/bin/sh' >$rootfs/etc/passwd
tar -C $rootfs -cf $work/busybox.tar .
"$hoist" --backend builtin image import $work/busybox.tar busybox:latest >/dev/null
docker import $work/busybox.tar busybox:latest >/dev/null

# tool → command prefix (each gets `-p PROJECT ARGS...` appended)
declare -A TOOL=(
  [builtin]="$hoist --backend builtin --progress quiet"
  [docker]="$hoist --backend docker --progress quiet"
  [compose]="docker-compose"
)
tools=(builtin docker compose)
results=$work/results.tsv; : >"$results"
[ -z "$resume" ] || cp "$resume" "$results"
# recorded TOOL STACK OP: whether the results already hold that line (a resumed run).
recorded() { grep -q "^$1	$2	$3	" "$results"; }

# docker-compose 1.29 deadlocks on stacks of more than 64 services: services and their
# containers take slots of one global limit (64 by default), nested. Raise it.
export COMPOSE_PARALLEL_LIMIT=1000

# now_us: wall clock in microseconds, without forking (bash's EPOCHREALTIME): a `date`
# per reading added milliseconds to every measurement.
now_us() { local t=${EPOCHREALTIME/./}; echo $(( 10#$t )); }
now_ms() { echo $(( $(now_us) / 1000 )); }
# median of numbers on stdin
median() { sort -n | awk '{a[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
# record TOOL STACK OP VALUE UNIT
record() { printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$results"; }
# time_cmd CMD...: runs in the current dir, prints elapsed ms (a hang is cut at 10 minutes).
time_cmd() {
  local s=${EPOCHREALTIME/./} e
  timeout 600 "$@" >/dev/null 2>&1 || true
  e=${EPOCHREALTIME/./}
  echo $(( (10#$e - 10#$s) / 1000 ))
}
# time_quick CMD...: the same without the `timeout` wrapper (its fork and exec would be
# most of a few-millisecond command), for commands that cannot hang.
time_quick() {
  local s=${EPOCHREALTIME/./} e
  "$@" >/dev/null 2>&1 || true
  e=${EPOCHREALTIME/./}
  echo $(( (10#$e - 10#$s) / 1000 ))
}

# run_stack STACK [REPLICAS]: REPLICAS > 1 brings every service up with `--scale`.
run_stack() {
  local stack=$1 replicas=${2:-1} dir=$work/stack-$1 scale=()
  recorded floor "$stack" "up -d (cold)" && return 0
  sed -i "/^[a-z]*	$stack	/d" "$results"   # a stack cut short is measured again
  python3 "$here/gen.py" "$stack" "$dir"
  [ "$replicas" = 1 ] || scale=(--scale "s0=$replicas")
  cd "$dir"
  for t in "${tools[@]}"; do
    local c="${TOOL[$t]} -p bench$stack$t" up=() again=() ps=() psj=() down=()
    $c down -v -t 1 >/dev/null 2>&1 || true
    for _ in $(seq "$reps"); do
      up+=("$(time_cmd $c up -d "${scale[@]}")")
      again+=("$(time_cmd $c up -d "${scale[@]}")")
      ps+=("$(time_cmd $c ps)")
      [ "$t" = compose ] || psj+=("$(time_cmd $c ps --format json)")
      down+=("$(time_cmd $c down -t 1)")
    done
    record "$t" "$stack" "up -d (cold)" "$(printf '%s\n' "${up[@]}" | median)" ms
    record "$t" "$stack" "up -d (no change)" "$(printf '%s\n' "${again[@]}" | median)" ms
    record "$t" "$stack" "ps" "$(printf '%s\n' "${ps[@]}" | median)" ms
    [ ${#psj[@]} -eq 0 ] || record "$t" "$stack" "ps --format json" "$(printf '%s\n' "${psj[@]}" | median)" ms
    record "$t" "$stack" "down" "$(printf '%s\n' "${down[@]}" | median)" ms
    $c down -v -t 1 >/dev/null 2>&1 || true
  done
  # The engine floor: the same containers, created and started with maximum parallelism.
  local fl=()
  for _ in $(seq "$reps"); do fl+=("$("$floor" "$dir/docker-compose.yml" "benchfloor$stack" "$replicas")"); done
  record floor "$stack" "up -d (cold)" "$(printf '%s\n' "${fl[@]}" | median)" ms
  cd "$top"
}

for stack in one ten tiers50 wide100 links; do run_stack "$stack"; done
run_stack scale20 20
[ "${BENCH_BIG:-1}" = 0 ] || run_stack wide200

# Parsing a 1000-service file; version; peak RSS of `up` of the 10-service stack.
python3 "$here/gen.py" config1000 "$work/config1000"
recorded compose - version || for t in builtin compose; do
  v=(); p=()
  for _ in $(seq "$reps"); do
    p+=("$(cd "$work/config1000" && time_quick ${TOOL[$t]} config -q)")
    v+=("$(time_quick ${TOOL[$t]} version)")
  done
  record "$t" config1000 "config -q" "$(printf '%s\n' "${p[@]}" | median)" ms
  record "$t" - "version" "$(printf '%s\n' "${v[@]}" | median)" ms
done

# Peak RSS of `up -d` and `down` of the 50-service stack.
python3 "$here/gen.py" tiers50 "$work/rss50"
cd "$work/rss50"
recorded compose tiers50 "peak RSS of down" || for t in builtin docker compose; do
  c="${TOOL[$t]} -p benchrss$t"
  for op in "up -d" "down -t 1"; do
    rss=$( { /usr/bin/time -v $c $op >/dev/null; } 2>&1 | awk -F: '/Maximum resident/ {gsub(/ /,"",$2); print $2}')
    record "$t" tiers50 "peak RSS of ${op%% -*}" "$rss" kB
  done
  $c down -v -t 1 >/dev/null 2>&1 || true
done
cd "$top"

# Logs throughput: 20 containers printing 50k lines each.
python3 "$here/gen.py" chatty20 "$work/chatty20"
cd "$work/chatty20"
recorded compose chatty20 "peak RSS of ps" || for t in builtin docker compose; do
  c="${TOOL[$t]} -p benchchatty$t"
  $c up -d >/dev/null 2>&1
  for _ in $(seq 100); do [ "$($c logs --no-color 2>/dev/null | wc -l)" -ge 1000000 ] && break; sleep 0.5; done
  s=$(now_ms); lines=$($c logs --no-color 2>/dev/null | wc -l); ms=$(( $(now_ms) - s ))
  record "$t" chatty20 "logs lines" "$lines" lines
  record "$t" chatty20 "logs lines/s" "$(( lines * 1000 / (ms > 0 ? ms : 1) ))" lines/s
  rss=$( { /usr/bin/time -v $c ps >/dev/null; } 2>&1 | awk -F: '/Maximum resident/ {gsub(/ /,"",$2); print $2}')
  record "$t" chatty20 "peak RSS of ps" "$rss" kB
  $c down -v -t 1 >/dev/null 2>&1
done
cd "$top"

cp "$results" "$top/bench/last-results.tsv"
python3 "$here/report.py" "$results" "$top/docs/benchmarks.md" "$top/docs/benchmarks.svg" "$here/limits.md"
echo "wrote docs/benchmarks.md and docs/benchmarks.svg"
