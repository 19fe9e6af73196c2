#!/usr/bin/env bash
# Page rules cost on the proxy path: wrk through `outpost proxy` with no rules, then
# with 1 000 rules where every request matches the last one (a response-header edit).
# Caching is off so every request takes the full proxy path to an nginx origin.
# Bounded: two 10 s runs on 127.0.0.1 only. Installs nginx and wrk from Debian if missing.
#   usage: benches/load/rules-overhead.sh [DURATION_SECONDS]
dur=${1:-10}
. "$(dirname "$0")/common.sh"
origin_port=$(free_port); plain_port=$(free_port); rules_port=$(free_port)
nginx_origin "$origin_port"
python3 - "$work/rules.yaml" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(999):
        f.write(f'- match: "/s{i}/*"\n  actions: {{ cache_level: bypass, set_response_headers: {{ x-section: "{i}" }} }}\n')
    f.write('- match: "/*"\n  actions: { set_response_headers: { x-rule: last } }\n')
PY
run_proxy() { # port, extra args...
  local port=$1; shift
  taskset -c 0 "$bin" proxy --listen "127.0.0.1:$port" --origin "http://127.0.0.1:$origin_port" \
    --cache-memory 0 "$@" >"$work/outpost-$port.log" 2>&1 &
  for _ in $(seq 100); do curl -fso /dev/null "http://127.0.0.1:$port/1k.txt" && break; sleep 0.1; done
}
# One Outpost at a time, so each has CPU 0 to itself (with the origin).
run_proxy "$plain_port"
read -r a_rps a_p50 a_p99 < <(run_wrk "http://127.0.0.1:$plain_port/1k.txt")
kill %1 2>/dev/null || true; wait %1 2>/dev/null || true
run_proxy "$rules_port" --rules "$work/rules.yaml"
[ "$(curl -s -D - -o /dev/null "http://127.0.0.1:$rules_port/1k.txt" | tr -d '\r' | grep -i '^x-rule:')" = "x-rule: last" ] \
  || { echo "the 1000-rule Outpost does not apply the last rule" >&2; exit 1; }
read -r b_rps b_p50 b_p99 < <(run_wrk "http://127.0.0.1:$rules_port/1k.txt")
echo "| outpost proxy, 1 KiB, no cache (wrk -t1 -c64 -d${dur}s) | requests/s | p50 | p99 |"
echo "|---|---|---|---|"
echo "| no rules | $a_rps | $a_p50 | $a_p99 |"
echo "| 1 000 rules, request matches the last | $b_rps | $b_p50 | $b_p99 |"
echo "| ratio with / without | $(python3 -c "print(f'{$b_rps/$a_rps:.2f}')") | | |"
