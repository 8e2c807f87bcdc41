#!/usr/bin/env bash
# Long soak of the deterministic Raft simulator: runs raft-sim over consecutive seed ranges,
# alternating 3- and 5-node clusters and chaos lengths, until DURATION seconds have passed or a
# violation is found (then prints the replay command and exits 1).
#
#   scripts/raft-soak.sh                      # 1 hour, batches of 20000 seeds
#   DURATION=600 BATCH=5000 START=1000000 scripts/raft-soak.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SIM=${SIM:-build/bin/raft-sim}
DURATION=${DURATION:-3600}
BATCH=${BATCH:-20000}
START=${START:-$(( $(date +%s) % 100000 * 100000 ))}  # a fresh range each run (printed)
[ -x "$SIM" ] || { echo "raft-soak: $SIM not built (run scripts/build.sh)" >&2; exit 2; }

echo "raft-soak: start seed $START, batch $BATCH, duration ${DURATION}s"
end=$(( $(date +%s) + DURATION ))
seed=$START
total=0
round=0
while [ "$(date +%s)" -lt "$end" ]; do
  nodes=$(( round % 2 == 0 ? 3 : 5 ))
  steps=$(( round % 3 == 2 ? 30000 : 10000 ))
  t0=$(date +%s)
  out=$("$SIM" --seeds "$BATCH" --seed-start "$seed" --nodes "$nodes" --steps "$steps" 2>&1) || true
  last=$(printf '%s\n' "$out" | tail -n 1)
  echo "seeds $seed..$(( seed + BATCH - 1 )) nodes=$nodes steps=$steps ($(( $(date +%s) - t0 ))s): $last"
  if ! [[ $last =~ violations:\ 0, ]]; then
    printf '%s\n' "$out" | head -n 100
    exit 1
  fi
  total=$(( total + BATCH ))
  seed=$(( seed + BATCH ))
  round=$(( round + 1 ))
done
echo "raft-soak: $total seeds, 0 violations"
