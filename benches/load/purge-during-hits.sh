#!/usr/bin/env bash
# Does purging 100k disk-tier objects move the HIT p99 of concurrent traffic?
# Fills the cache (memory and disk tiers) with N small objects, then measures a 1 KiB
# memory HIT (wrk, 64 connections, one Outpost thread) twice: alone, and while the
# admin API purges every one of the N objects by prefix. Prints both p99s and how long
# the purge took. Loopback only; bounded (N requests to fill, two timed runs).
#   usage: benches/load/purge-during-hits.sh [N=100000] [SECONDS=5]
#   PROFILE=out.data: also `perf record -g` Outpost during the purge window.
source "$(dirname "$0")/common.sh"
n=${1:-100000}
dur=${2:-5}
origin=$(free_port); http=$(free_port); admin=$(free_port)
nginx_origin "$origin" 'location /obj/ { add_header Cache-Control "max-age=86400"; return 200 "object"; } location = /1k.txt { add_header Cache-Control "max-age=86400"; }'
mkdir -p "$work/cache"
cat > "$work/outpost.yaml" <<YAML
listen: { http: "127.0.0.1:$http" }
admin: { listen: "127.0.0.1:$admin" }
server: { threads: 1 }
log: { access_log: false, level: warn }
cache:
  memory: 256MiB
  disk: { path: $work/cache, size: 4GiB }
sites:
  - default: true
    origins: ["http://127.0.0.1:$origin"]
    compression: { enabled: false }
YAML
taskset -c 0 "$bin" run --config "$work/outpost.yaml" > "$work/outpost.log" 2>&1 &
outpost=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$admin/status" >/dev/null && break; sleep 0.1; done

# Fill: N distinct objects, each a MISS that is stored in memory and on disk. (wrk's
# thread:stop() does not end the run in Debian's wrk: poll the disk and stop it.)
cat > "$work/fill.lua" <<LUA
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", "/obj/" .. n)
end
LUA
taskset -c 1 wrk -t1 -c32 -d600s -s "$work/fill.lua" "http://127.0.0.1:$http" >/dev/null &
fill=$!
until [ "$(find "$work/cache" -name '*.obj' | wc -l)" -ge "$n" ]; do sleep 1; done
kill "$fill"; wait "$fill" 2>/dev/null || true
sleep 2
stored=$(curl -s "http://127.0.0.1:$admin/cache/stats" | python3 -c 'import json,sys; s=json.load(sys.stdin); print(s.get("disk",{}).get("entries", s))')
curl -s "http://127.0.0.1:$http/1k.txt" >/dev/null

alone=$(run_wrk "http://127.0.0.1:$http/1k.txt")
# Same load; half a second in, purge every object by prefix.
run_wrk "http://127.0.0.1:$http/1k.txt" > "$work/during" &
load=$!
if [ -n "${PROFILE:-}" ]; then
  perf record -q -g -p "$outpost" -o "$PROFILE" -- sleep "$dur" 2>/dev/null &
fi
sleep 0.5
t0=$(date +%s.%N)
purged=$(curl -s -X POST "http://127.0.0.1:$admin/purge" -d "{\"prefixes\":[\"127.0.0.1/obj/\"]}")
t1=$(date +%s.%N)
wait $load
during=$(cat "$work/during")
left=$(find "$work/cache" -name '*.obj' | wc -l)
printf '| objects on disk before | purge answer | purge took | files left right after the run |\n|---|---|---|---|\n'
printf '| %s | %s | %.2f s | %s |\n\n' "$stored" "$purged" "$(echo "$t1 - $t0" | bc)" "$left"
printf '| HIT 1 KiB | req/s | p50 | p99 |\n|---|---|---|---|\n'
read -r r p50 p99 <<<"$alone";  printf '| alone | %s | %s | %s |\n' "$r" "$p50" "$p99"
read -r r p50 p99 <<<"$during"; printf '| during the purge | %s | %s | %s |\n' "$r" "$p50" "$p99"
