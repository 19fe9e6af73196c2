#!/usr/bin/env bash
# JS hook cost on a cache HIT: wrk through `outpost proxy` (memory cache on, nginx
# origin sending `expires 1h`) with no hook, then with hooks bound by --script:
# a hook answering by itself, `return fetch(request)`, and a header-rewrite hook
# (fetch, copy the response with a new header, return it: the body streams through).
# Beside each hook, Cloudflare's workerd runs the same script unmodified, its
# `fetch()` going to the same nginx origin (workerd's globalOutbound; it has no cache
# in front, so its fetches reach nginx, which shares its CPU as it shares Outpost's).
# One server at a time on CPU 0 (with the origin), wrk on CPU 1. Peak RSS per server.
# Bounded: seven runs of DURATION seconds on 127.0.0.1 only.
#   usage: benches/load/hook-overhead.sh [DURATION_SECONDS]
dur=${1:-10}
. "$(dirname "$0")/common.sh"
origin_port=$(free_port)
nginx_origin "$origin_port" "expires 1h;"
cat > "$work/answer.js" <<'JS'
export default { fetch(request) { return new Response("hello from the edge\n"); } };
JS
cat > "$work/pass.js" <<'JS'
export default { fetch(request) { return fetch(request); } };
JS
cat > "$work/rewrite.js" <<'JS'
export default {
  async fetch(request) {
    const r = await fetch(request);
    const out = new Response(r.body, r);
    out.headers.set("x-hook", "rewrite");
    return out;
  },
};
JS
run_case() { # label, extra args...
  local label=$1; shift
  local port; port=$(free_port)
  taskset -c 0 "$bin" proxy --listen "127.0.0.1:$port" --origin "http://127.0.0.1:$origin_port" \
    --cache-memory 64MiB "$@" >"$work/outpost-$port.log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do curl -fso /dev/null "http://127.0.0.1:$port/1k.txt" && break; sleep 0.1; done
  curl -fso /dev/null "http://127.0.0.1:$port/1k.txt"
  read -r rps p50 p99 < <(run_wrk "http://127.0.0.1:$port/1k.txt")
  local rss; rss=$(awk '/VmHWM/{printf "%.0f MiB", $2/1024}' "/proc/$pid/status")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  echo "$label|$rps|$p50|$p99|$rss"
}
run_workerd() { # label, script
  local label=$1
  local port; port=$(free_port)
  start_workerd "$port" "$2" "$origin_port"
  local pid=$workerd_pid
  read -r rps p50 p99 < <(run_wrk "http://127.0.0.1:$port/1k.txt")
  local rss; rss=$(awk '/VmHWM/{printf "%.0f MiB", $2/1024}' "/proc/$pid/status")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  echo "$label|$rps|$p50|$p99|$rss"
}
base=$(run_case "no hook")
rows=("$base")
for case in "answer|hook answers by itself" "pass|return fetch(request)" "rewrite|header-rewrite hook (fetch + new header)"; do
  IFS='|' read -r file label <<<"$case"
  rows+=("$(run_case "$label" --script "$work/$file.js")")
  rows+=("$(run_workerd "workerd: $label" "$work/$file.js")")
done
base_rps=$(echo "$base" | cut -d'|' -f2)
echo "| 1 KiB cache HIT (wrk -t1 -c64 -d${dur}s) | requests/s | p50 | p99 | peak RSS | vs no hook | Outpost ÷ workerd |"
echo "|---|---|---|---|---|---|---|"
prev=""
for r in "${rows[@]}"; do
  IFS='|' read -r label rps p50 p99 rss <<<"$r"
  vs=""
  if [[ $label == workerd:* ]]; then
    vs=$(python3 -c "print(f'{$prev/$rps:.2f}')")
  fi
  echo "| $label | $rps | $p50 | $p99 | $rss | $(python3 -c "print(f'{$rps/$base_rps:.2f}')") | $vs |"
  prev=$rps
done
