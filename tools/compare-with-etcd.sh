#!/usr/bin/env bash
# Side-by-side comparison of etcdpp with etcd on this machine (issue 8; docs/benchmarks.md).
#
#   tools/compare-with-etcd.sh [--quick] [--pin] [--runs N] [--only a,b,...] [--skip a,b,...]
#                              [--out DIR]
#
# For every scenario the two servers run one after the other, alternating (etcdpp etcd etcdpp
# etcd ...), --runs times each (default 3), each run on a fresh data dir under /tmp with the
# same flags and random free ports; then the median of each and the ratio etcdpp/etcd.
# Sections (names for --only / --skip):
#   fio        the disk's fdatasync rate (fio, etcd's recommended job), for the put-1 target
#   put-1 put-1000 range-l-1000 range-s-1000 txn-put-1000 lease-keepalive-1000 watch-1000
#   cluster3-put-1000
#   keys       RSS (VmHWM, RssAnon) and db size after loading 100k and 1M keys (256-byte
#              values), and restart time to healthy (3 restarts) for each
#   checkperf  `etcdctl check perf --load=s` (and --load=l without --quick) against both
# --quick: smaller totals, 100k keys only, check perf s only: a smoke run of the whole script.
# --pin: servers on CPU 0, the load generator on CPU 1 (taskset), so that on a small machine
#        the tool does not take CPU from the server it measures (both servers get one core).
#
# Environment: ETCDPP_BIN (default build/bin/etcdpp), ETCD_BIN (/usr/bin/etcd), BENCH
# (build/bin/etcdpp-bench), ETCDCTL (/usr/bin/etcdctl), TMPDIR (where data dirs go, /tmp).
# Installs Debian's etcd-server, etcd-client and fio when missing. Only processes this script
# started are ever stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

QUICK=0
PIN=0
RUNS=3
ONLY=""
SKIP=""
OUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --runs) RUNS=$2; shift ;;
    --runs=*) RUNS=${1#*=} ;;
    --only) ONLY=$2; shift ;;
    --only=*) ONLY=${1#*=} ;;
    --skip) SKIP=$2; shift ;;
    --skip=*) SKIP=${1#*=} ;;
    --pin) PIN=1 ;;
    --out) OUT=$2; shift ;;
    --out=*) OUT=${1#*=} ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | grep '^#'; exit 0 ;;
    *) echo "compare-with-etcd.sh: unknown argument $1" >&2; exit 1 ;;
  esac
  shift
done

ETCDPP_BIN=${ETCDPP_BIN:-$ROOT/build/bin/etcdpp}
ETCD_BIN=${ETCD_BIN:-/usr/bin/etcd}
BENCH=${BENCH:-$ROOT/build/bin/etcdpp-bench}
ETCDCTL=${ETCDCTL:-/usr/bin/etcdctl}
TMPBASE=${TMPDIR:-/tmp}
OUT=${OUT:-$TMPBASE/compare-with-etcd-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT"
RAW=$OUT/raw.tsv
: >"$RAW"

# ---- dependencies (Debian packages only) ----
need=()
[ -x "$ETCD_BIN" ] || need+=(etcd-server)
[ -x "$ETCDCTL" ] || need+=(etcd-client)
command -v fio >/dev/null || need+=(fio)
if [ ${#need[@]} -gt 0 ]; then
  echo "compare: installing ${need[*]}" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
  # Debian's package starts a system etcd on 2379; this script uses its own ports only.
fi
for b in "$ETCDPP_BIN" "$ETCD_BIN" "$BENCH"; do
  [ -x "$b" ] || { echo "compare: $b is missing (build with scripts/build.sh)" >&2; exit 1; }
done

# ---- sizes ----
if [ "$QUICK" = 1 ]; then
  T_PUT1=500; T_BIG=20000; T_TXN=20000; T_LEASE=20000; WATCH_PUTS=50
  KEY_COUNTS="100000"; CHECKPERF_LOADS="s"; FIO_SIZE=4m
else
  T_PUT1=3000; T_BIG=100000; T_TXN=100000; T_LEASE=100000; WATCH_PUTS=200
  KEY_COUNTS="100000 1000000"; CHECKPERF_LOADS="s l"; FIO_SIZE=22m
fi
SERVERS="etcdpp etcd"
SERVER_PIN=(); BENCH_PIN=()
if [ "$PIN" = 1 ]; then
  SERVER_PIN=(taskset -c 0); BENCH_PIN=(taskset -c 1)
fi
bench() { "${BENCH_PIN[@]}" "$BENCH" "$@"; }

selected() {
  local name=$1
  if [ -n "$ONLY" ] && [[ ",$ONLY," != *",$name,"* ]]; then return 1; fi
  if [ -n "$SKIP" ] && [[ ",$SKIP," == *",$name,"* ]]; then return 1; fi
  return 0
}

log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }
record() { printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" >>"$RAW"; }  # scen srv run metric value
json_field() { jq -r ".$2 // empty" <"$1"; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# ---- server processes (only ours: pids we started) ----
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]:-}"; do
    [ -n "$p" ] && kill -KILL "$p" 2>/dev/null || true
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

binary_of() { if [ "$1" = etcdpp ]; then echo "$ETCDPP_BIN"; else echo "$ETCD_BIN"; fi; }

# start_members SERVER DIR N: starts an N-member cluster (same flags for both servers) with data
# under DIR; sets MEMBER_PIDS, ENDPOINTS (comma-separated), EP1 (the first member's endpoint).
start_members() {
  local srv=$1 dir=$2 n=$3 bin i cluster="" cports=() pports=()
  bin=$(binary_of "$srv")
  for ((i = 0; i < n; i++)); do
    cports[i]=$(free_port); pports[i]=$(free_port)
    cluster+="${cluster:+,}m$i=http://127.0.0.1:${pports[i]}"
  done
  MEMBER_PIDS=(); ENDPOINTS=""
  for ((i = 0; i < n; i++)); do
    mkdir -p "$dir/m$i"
    setpriv --pdeathsig KILL -- "${SERVER_PIN[@]}" "$bin" --name "m$i" --data-dir "$dir/m$i/data" \
      --listen-client-urls "http://127.0.0.1:${cports[i]}" \
      --advertise-client-urls "http://127.0.0.1:${cports[i]}" \
      --listen-peer-urls "http://127.0.0.1:${pports[i]}" \
      --initial-advertise-peer-urls "http://127.0.0.1:${pports[i]}" \
      --initial-cluster "$cluster" --initial-cluster-token bench \
      --initial-cluster-state new --log-level warn >"$dir/m$i/log" 2>&1 &
    MEMBER_PIDS+=($!); PIDS+=($!)
    ENDPOINTS+="${ENDPOINTS:+,}127.0.0.1:${cports[i]}"
  done
  EP1=127.0.0.1:${cports[0]}
  local ep
  for ep in ${ENDPOINTS//,/ }; do
    if ! "$BENCH" --endpoints "$ep" wait-ready --timeout 120 >/dev/null; then
      log "$srv did not become ready; log tail:"; tail -20 "$dir/m0/log" >&2; return 1
    fi
  done
}

# restart_member SERVER DIR: restarts member 0 of a 1-member cluster on its data dir (same
# ports, RESTART_PEER_PORT) and sets RESTART_MS to the milliseconds from exec to the first
# successful linearizable Range.
restart_member() {
  local srv=$1 dir=$2 bin t0 t1 cport=${EP1##*:}
  bin=$(binary_of "$srv")
  t0=$(date +%s%N)
  setpriv --pdeathsig KILL -- "${SERVER_PIN[@]}" "$bin" --name m0 --data-dir "$dir/m0/data" \
    --listen-client-urls "http://127.0.0.1:$cport" --advertise-client-urls "http://127.0.0.1:$cport" \
    --listen-peer-urls "http://127.0.0.1:$RESTART_PEER_PORT" \
    --initial-advertise-peer-urls "http://127.0.0.1:$RESTART_PEER_PORT" \
    --initial-cluster "m0=http://127.0.0.1:$RESTART_PEER_PORT" --initial-cluster-token bench \
    --log-level warn >>"$dir/m0/log" 2>&1 &
  MEMBER_PIDS=($!); PIDS+=($!)
  "$BENCH" --endpoints "$EP1" wait-ready --timeout 600 >/dev/null || return 1
  t1=$(date +%s%N)
  RESTART_MS=$(((t1 - t0) / 1000000))
}

stop_members() {
  local p i
  for p in "${MEMBER_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${MEMBER_PIDS[@]}"; do
    for ((i = 0; i < 200; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  MEMBER_PIDS=()
}

status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

record_memory() {  # scen srv run prefix pid
  record "$1" "$2" "$3" "${4}vmhwm_kb" "$(status_kb "$5" VmHWM)"
  record "$1" "$2" "$3" "${4}rssanon_kb" "$(status_kb "$5" RssAnon)"
  record "$1" "$2" "$3" "${4}vmrss_kb" "$(status_kb "$5" VmRSS)"
}

# run_scenario NAME MEMBERS SEED BENCH-ARGS...: alternating runs; SEED=1 puts key "foo" first.
run_scenario() {
  local name=$1 members=$2 seed=$3; shift 3
  selected "$name" || return 0
  local run srv dir
  for ((run = 1; run <= RUNS; run++)); do
    for srv in $SERVERS; do
      dir=$(mktemp -d "$TMPBASE/compare-$srv-XXXXXX")
      log "$name run $run/$RUNS: $srv (load $(cut -d' ' -f1-3 /proc/loadavg))"
      start_members "$srv" "$dir" "$members" || { rm -rf "$dir"; stop_members; continue; }
      record_memory "$name" "$srv" "$run" idle_ "${MEMBER_PIDS[0]}"
      if [ "$seed" = 1 ]; then
        "$BENCH" --endpoints "$EP1" put --total 1 --val-size 256 >/dev/null  # warms the path
        ETCDCTL_API=3 "$ETCDCTL" --endpoints "$EP1" put foo "$(head -c 256 /dev/zero | tr '\0' v)" >/dev/null
      fi
      local eps=$EP1
      [ "$members" -gt 1 ] && eps=$ENDPOINTS
      local json=$OUT/$name-$srv-$run.json
      bench --endpoints "$eps" --json "$@" >"$json" 2>"$OUT/$name-$srv-$run.err" || true
      if [ ! -s "$json" ]; then
        log "$name: the benchmark printed no result for $srv: $(tail -3 "$OUT/$name-$srv-$run.err")"
      else
        local m
        for m in rps p50_ms p99_ms errors requests total; do
          record "$name" "$srv" "$run" "$m" "$(json_field "$json" "$m")"
        done
        [ "$(json_field "$json" errors)" != 0 ] && log "$name $srv: errors: $(jq -c .first_errors "$json")"
      fi
      local leader_pid=${MEMBER_PIDS[0]}
      record_memory "$name" "$srv" "$run" "" "$leader_pid"
      stop_members
      rm -rf "$dir"
    done
  done
}

# ---- sections ----
# All in one function, so that bash has read the whole script before it runs any of it (an
# edit of this file during a long run cannot change what the run does).
main() {
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)" >"$OUT/machine.txt"
grep -m1 'model name' /proc/cpuinfo | sed 's/.*: /cpu: /' >>"$OUT/machine.txt"
echo "tmp fs: $(df -T "$TMPBASE" | awk 'NR==2 {print $1, $2}')" >>"$OUT/machine.txt"
echo "etcd: $("$ETCD_BIN" --version 2>/dev/null | head -1)" >>"$OUT/machine.txt"
echo "etcdpp: $("$ETCDPP_BIN" --version 2>/dev/null | head -1)" >>"$OUT/machine.txt"
echo "load at start: $(cat /proc/loadavg)" >>"$OUT/machine.txt"
echo "options: quick=$QUICK runs=$RUNS pin=$PIN (1: servers on CPU 0, load generator on CPU 1)" >>"$OUT/machine.txt"
log "results in $OUT"

if selected fio; then
  fdir=$(mktemp -d "$TMPBASE/compare-fio-XXXXXX")
  # etcd's recommended check of a disk for its WAL: small sequential writes, each
  # fdatasync'ed, into a new file (each sync also commits the file's growing extent).
  fio --name=fdatasync --directory="$fdir" --rw=write --ioengine=sync --fdatasync=1 \
    --size="$FIO_SIZE" --bs=2300 --output-format=json >"$OUT/fio.json" 2>/dev/null || true
  # The same into an already written file (what a preallocated, reused WAL segment sees):
  # the sync then carries data only.
  fio --name=fdatasync-overwrite --directory="$fdir" --rw=write --ioengine=sync --fdatasync=1 \
    --size="$FIO_SIZE" --bs=2300 --overwrite=1 --output-format=json >"$OUT/fio-overwrite.json" 2>/dev/null || true
  rm -rf "$fdir"
  for kind in fio fio-overwrite; do
    iops=$(jq -r '.jobs[0].write.iops' "$OUT/$kind.json" 2>/dev/null || echo 0)
    p99=$(jq -r '.jobs[0].sync.lat_ns.percentile["99.000000"] // 0' "$OUT/$kind.json" 2>/dev/null || echo 0)
    record "$kind" disk 1 fdatasync_per_s "$iops"
    record "$kind" disk 1 fdatasync_p99_ms "$(awk -v n="$p99" 'BEGIN {printf "%.3f", n/1e6}')"
    log "$kind: $iops fdatasync'ed writes/s"
  done
fi

BIG="--clients 1000 --conns 100"
run_scenario put-1 1 0 --clients 1 --conns 1 put --total "$T_PUT1" --key-size 8 --sequential-keys --key-space-size 1000000 --val-size 256
run_scenario put-1000 1 0 $BIG put --total "$T_BIG" --key-size 8 --key-space-size 100000 --val-size 256
run_scenario range-l-1000 1 1 $BIG range foo --consistency l --total "$T_BIG"
run_scenario range-s-1000 1 1 $BIG range foo --consistency s --total "$T_BIG"
run_scenario txn-put-1000 1 0 $BIG txn-put --total "$T_TXN" --key-size 8 --key-space-size 100000 --val-size 256
run_scenario lease-keepalive-1000 1 0 $BIG lease-keepalive --total "$T_LEASE"
run_scenario watch-1000 1 0 --clients 10 --conns 10 watch --streams 10 --watch-per-stream 100 --watched-key-total 1 --put-total "$WATCH_PUTS"
run_scenario cluster3-put-1000 3 0 $BIG put --total "$T_BIG" --key-size 8 --key-space-size 100000 --val-size 256

if selected keys; then
  for n in $KEY_COUNTS; do
    for srv in $SERVERS; do
      dir=$(mktemp -d "$TMPBASE/compare-$srv-keys-XXXXXX")
      log "keys-$n: $srv (load $(cut -d' ' -f1-3 /proc/loadavg))"
      # A fixed peer port for this member, so that its restarts find the same cluster.
      RESTART_PEER_PORT=$(free_port)
      EP1=127.0.0.1:$(free_port)
      mkdir -p "$dir/m0"
      restart_member "$srv" "$dir" || { log "keys: $srv did not start"; stop_members; rm -rf "$dir"; continue; }
      record_memory "keys-$n" "$srv" 1 idle_ "${MEMBER_PIDS[0]}"
      # n unique keys (sequential), 256-byte values, 1000 clients over 100 connections.
      bench --endpoints "$EP1" --clients 1000 --conns 100 --json put --total "$n" \
        --sequential-keys --key-space-size "$n" --key-size 8 --val-size 256 \
        >"$OUT/keys-$n-$srv.json" 2>"$OUT/keys-$n-$srv.err" || true
      record "keys-$n" "$srv" 1 load_rps "$(json_field "$OUT/keys-$n-$srv.json" rps)"
      record "keys-$n" "$srv" 1 load_errors "$(json_field "$OUT/keys-$n-$srv.json" errors)"
      record_memory "keys-$n" "$srv" 1 "" "${MEMBER_PIDS[0]}"
      stop_members  # a clean stop flushes everything: the sizes below are the settled ones
      record "keys-$n" "$srv" 1 datadir_bytes "$(du -sb "$dir/m0/data" | cut -f1)"
      record "keys-$n" "$srv" 1 db_bytes "$(du -sb "$dir/m0/data/member/snap" | cut -f1)"
      record "keys-$n" "$srv" 1 wal_bytes "$(du -sb "$dir/m0/data/member/wal" | cut -f1)"
      for ((run = 1; run <= RUNS; run++)); do
        restart_member "$srv" "$dir" || { log "keys: $srv did not restart"; tail -5 "$dir/m0/log" >&2; break; }
        record "keys-$n" "$srv" "$run" restart_ms "$RESTART_MS"
        record_memory "keys-$n" "$srv" "$run" restarted_ "${MEMBER_PIDS[0]}"
        log "keys-$n: $srv restarted in $RESTART_MS ms"
        stop_members
      done
      rm -rf "$dir"
    done
  done
fi

if selected checkperf; then
  for load in $CHECKPERF_LOADS; do
    for srv in $SERVERS; do
      dir=$(mktemp -d "$TMPBASE/compare-$srv-perf-XXXXXX")
      log "check perf --load=$load: $srv"
      start_members "$srv" "$dir" 1 || { stop_members; rm -rf "$dir"; continue; }
      ETCDCTL_API=3 "${BENCH_PIN[@]}" "$ETCDCTL" --endpoints "$EP1" check perf --load="$load" \
        >"$OUT/checkperf-$load-$srv.txt" 2>&1 || true
      verdict=$(tr '\r' '\n' <"$OUT/checkperf-$load-$srv.txt" | grep -Eo '^(PASS|FAIL)$' | tail -1)
      [ -n "$verdict" ] || verdict=FAIL
      record "checkperf-$load" "$srv" 1 verdict "$verdict"
      record "checkperf-$load" "$srv" 1 throughput "$(tr '\r' '\n' <"$OUT/checkperf-$load-$srv.txt" | grep -Eo 'Throughput (is|too low:) [0-9]+' | grep -Eo '[0-9]+$' || echo 0)"
      record "checkperf-$load" "$srv" 1 slowest_s "$(tr '\r' '\n' <"$OUT/checkperf-$load-$srv.txt" | grep -Eo 'Slowest request took (too long: )?[0-9.]+' | grep -Eo '[0-9.]+$' || echo 0)"
      record_memory "checkperf-$load" "$srv" 1 "" "${MEMBER_PIDS[0]}"
      stop_members
      rm -rf "$dir"
    done
  done
fi

echo "load at end: $(cat /proc/loadavg)" >>"$OUT/machine.txt"
python3 "$ROOT/tools/compare_summary.py" "$RAW" "$OUT/machine.txt" | tee "$OUT/results.md"
log "raw results: $RAW; summary: $OUT/results.md"
}
main
