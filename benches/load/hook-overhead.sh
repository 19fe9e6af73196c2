#!/usr/bin/env bash
# JS hook cost on a cache HIT: wrk through `outpost proxy` (memory cache on, nginx
# origin sending `expires 1h`) with no hook, then with hooks bound by --script:
# a hook answering by itself, `return fetch(request)`, and a header-rewrite hook
# (fetch, copy the response with a new header, return it: the body streams through).
# For reference, Cloudflare's workerd runs the answering hook alone (no proxy, no
# cache in front), as the mark our JS runtime is measured against.
# One server at a time on CPU 0 (with the origin), wrk on CPU 1. Peak RSS per server.
# Bounded: four runs of DURATION seconds on 127.0.0.1 only.
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
  local wd; wd=$(bash tests/differential/install-workerd.sh)
  mkdir -p "$work/wd"; cp "$2" "$work/wd/worker.js"
  cat > "$work/wd/config.capnp" <<CAPNP
using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ (name = "main", worker = .w) ],
  sockets = [ (name = "http", address = "127.0.0.1:$port", http = (), service = "main") ],
);
const w :Workerd.Worker = (
  modules = [ (name = "worker.js", esModule = embed "worker.js") ],
  compatibilityDate = "2024-09-23",
);
CAPNP
  taskset -c 0 "$wd" serve "$work/wd/config.capnp" >"$work/wd/log" 2>&1 &
  local pid=$!
  for _ in $(seq 200); do curl -fso /dev/null "http://127.0.0.1:$port/1k.txt" && break; sleep 0.1; done
  read -r rps p50 p99 < <(run_wrk "http://127.0.0.1:$port/1k.txt")
  local rss; rss=$(awk '/VmHWM/{printf "%.0f MiB", $2/1024}' "/proc/$pid/status")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  echo "$label|$rps|$p50|$p99|$rss"
}
base=$(run_case "no hook")
rows=("$base"
  "$(run_case "hook answers by itself" --script "$work/answer.js")"
  "$(run_case "return fetch(request)" --script "$work/pass.js")"
  "$(run_case "header-rewrite hook (fetch + new header)" --script "$work/rewrite.js")"
  "$(run_workerd "workerd: hook answers by itself (reference)" "$work/answer.js")")
base_rps=$(echo "$base" | cut -d'|' -f2)
echo "| outpost proxy, 1 KiB cache HIT (wrk -t1 -c64 -d${dur}s) | requests/s | p50 | p99 | peak RSS | vs no hook |"
echo "|---|---|---|---|---|---|"
for r in "${rows[@]}"; do
  IFS='|' read -r label rps p50 p99 rss <<<"$r"
  echo "| $label | $rps | $p50 | $p99 | $rss | $(python3 -c "print(f'{$rps/$base_rps:.2f}')") |"
done
