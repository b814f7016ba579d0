#!/usr/bin/env bash
# Runs the docs/benchmarks.md scenarios with `herald bench` against one or
# more server binaries on this machine, with the same configuration, and
# summarises them: each scenario is run REPEAT times, the servers taking
# turns (A B A B ...), so that the drift of a shared machine hits every
# server alike; the summary gives medians and ratios.
#
#   scripts/bench-compare.sh NAME=/path/to/server [NAME=/path/to/server ...]
#
# Each server binary must accept `-c config.json -p PORT` (Herald and
# Centrifugo v6 both do). This script builds nothing but Herald itself.
# REPEAT=N runs each scenario N times per server (default 3); ONLY=REGEX
# keeps the scenarios whose command line matches; QUICK=1 shortens every
# run (a smoke test). Results: test-output/bench/<time>/, summary.md there.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { sed -n 2,14p "$0"; exit 2; }

out=test-output/bench/$(date +%Y%m%d-%H%M%S)
mkdir -p "$out"
go build -o "$out/herald-tool" ./cmd/herald
tool="$out/herald-tool"
ulimit -n 20000

cat > "$out/config.json" <<'JSON'
{
  "log": { "level": "error" },
  "client": { "token": { "hmac_secret_key": "bench-secret" }, "allowed_origins": ["*"] },
  "http_api": { "key": "bench-key" },
  "health": { "enabled": true },
  "channel": { "without_namespace": { "allow_subscribe_for_client": true } }
}
JSON

d() { if [ "${QUICK:-0}" = 1 ]; then echo "$2"; else echo "$1"; fi; }
port=18300

run() { # name binary scenario args...
  local name=$1 bin=$2 scenario=$3; shift 3
  port=$((port + 1))
  # A port something already answers on (a server left over from an
  # aborted run) would be measured instead of this one: skip it.
  while curl -fs -o /dev/null --max-time 1 "http://127.0.0.1:$port/health"; do port=$((port + 1)); done
  "$bin" -c "$out/config.json" -p "$port" >"$out/$name-$scenario-$port.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "== $name $scenario: the server exited at start, see $out/$name-$scenario-$port.log" >&2
    return
  fi
  echo "== $name $scenario $*" >&2
  "$tool" bench "$scenario" --ws "ws://127.0.0.1:$port/connection/websocket" --api "http://127.0.0.1:$port/api" \
    --token-secret bench-secret --api-key bench-key --server-pid "$pid" --label "$name" --quiet --json \
    --plot "$out/plots-$name-$scenario-$port" "$@" | tee "$out/$name-$scenario-$port.txt" | tail -1 >"$out/$name-$scenario-$port.json" || true
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

scenarios=(
  "conns -N $(d 19000 2000) --duration $(d 60s 5s)"
  "fanout -C 1000 -K 1 -R 50 --duration $(d 30s 5s)"
  "fanout -C 1000 -K 1 -R 100 --duration $(d 30s 5s)"
  "fanout -C $(d 10000 2000) -K 100 -R 1000 --duration $(d 30s 5s)"
  "pubrate -P 32 -M 100 --duration $(d 20s 5s)"
  "churn --rounds $(d 5 2) --cycles $(d 2000 200) --concurrency 32"
)
for sc in "${scenarios[@]}"; do
  [[ $sc =~ ${ONLY:-.} ]] || continue
  for _ in $(seq 1 "${REPEAT:-3}"); do
    for spec in "$@"; do
      # shellcheck disable=SC2086 # the scenario line is split into arguments on purpose
      run "${spec%%=*}" "${spec#*=}" $sc
    done
  done
done
files=()
for spec in "$@"; do files+=("$out/${spec%%=*}"-*.json); done # labels in the order given
"$tool" bench summary "${files[@]}" >"$out/summary.md"
echo "results in $out, summary in $out/summary.md" >&2
