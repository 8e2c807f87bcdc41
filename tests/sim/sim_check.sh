#!/usr/bin/env bash
# Asserts on raft-sim's summary line ("seeds: N, violations: V, digest: HEX").
#   sim_check.sh zero          RAFT_SIM ARGS...  -> V must be 0
#   sim_check.sh violations    RAFT_SIM ARGS...  -> V must be > 0 (an injected bug is caught)
#   sim_check.sh deterministic RAFT_SIM ARGS...  -> two runs print the same digest
set -uo pipefail
mode=$1
shift
summary() { "$@" 2>/dev/null | tail -n 1; }
line=$(summary "$@")
echo "$line"
if ! [[ $line =~ ^seeds:\ ([0-9]+),\ violations:\ ([0-9]+),\ digest:\ ([0-9a-f]+)$ ]]; then
  echo "sim_check: unexpected last line" >&2
  exit 1
fi
violations=${BASH_REMATCH[2]}
case $mode in
  zero) [ "$violations" -eq 0 ] || { "$@" | head -n 80; exit 1; } ;;
  violations) [ "$violations" -gt 0 ] || { echo "injected bug not caught" >&2; exit 1; } ;;
  deterministic)
    again=$(summary "$@")
    echo "$again"
    [ "$line" = "$again" ] || { echo "sim_check: digests differ" >&2; exit 1; } ;;
  *) echo "sim_check: unknown mode $mode" >&2; exit 2 ;;
esac
