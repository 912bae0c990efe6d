#!/usr/bin/env bash
# The bundled example's first sync, end to end, for two flotilla binaries in alternation:
# from `flotilla up` starting on an empty data directory until all eight Applications are
# Synced and Healthy (polled with kubectl every 50 ms). Prints each run and the medians.
#
#   benches/example-sync.sh OLD_BINARY NEW_BINARY [ROUNDS]
#
# UP_ARGS (optional) is passed to both `up`s, e.g. `--repo DIR --path apps` to sync the same
# repository with both binaries when the bundled example differs between them.
set -euo pipefail
old=$1 new=$2 rounds=${3:-5}
scratch=$(mktemp -d)
trap 'pkill -f "$scratch" 2>/dev/null || true; rm -rf "$scratch"' EXIT

one_run() {
  local binary=$1 dir=$scratch/run-$RANDOM
  mkdir -p "$dir"
  local start end
  start=$(date +%s.%N)
  "$binary" up --data-dir "$dir/.flotilla" --sealing-key-bits 1024 \
    --cluster-listen 127.0.0.1:26443 --listen 127.0.0.1:28089 ${UP_ARGS:-} >"$dir/up.log" 2>&1 &
  local pid=$!
  local kubeconfig=$dir/.flotilla/cluster/kubeconfig
  while true; do
    if [ -f "$kubeconfig" ]; then
      local states
      states=$(kubectl --kubeconfig "$kubeconfig" get applications -A \
        -o jsonpath='{range .items[*]}{.status.sync.status}/{.status.health.status} {end}' 2>/dev/null || true)
      local count good
      count=$(wc -w <<<"$states")
      good=$(tr ' ' '\n' <<<"$states" | grep -c '^Synced/Healthy$' || true)
      if [ "$count" -eq 8 ] && [ "$good" -eq 8 ]; then break; fi
    fi
    if (( $(date +%s) - ${start%.*} > 120 )); then echo "timeout" >&2; kill $pid; return 1; fi
    sleep 0.05
  done
  end=$(date +%s.%N)
  kill $pid; wait $pid 2>/dev/null || true
  rm -rf "$dir"
  python3 -c "print(f'{$end - $start:.2f}')"
}

old_times=() new_times=()
for round in $(seq "$rounds"); do
  o=$(one_run "$old"); n=$(one_run "$new")
  old_times+=("$o"); new_times+=("$n")
  echo "round $round: old ${o}s new ${n}s"
done
python3 - "${old_times[*]}" "${new_times[*]}" <<'PY'
import statistics, sys
old = [float(x) for x in sys.argv[1].split()]
new = [float(x) for x in sys.argv[2].split()]
mo, mn = statistics.median(old), statistics.median(new)
print(f"| example first sync (8 Applications, up → all Synced/Healthy) | {mo:.2f} s (runs {min(old):.2f}–{max(old):.2f}) | {mn:.2f} s (runs {min(new):.2f}–{max(new):.2f}) | {mn/mo:.2f} |")
PY
