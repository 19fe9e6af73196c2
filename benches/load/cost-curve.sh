#!/usr/bin/env bash
# Cost curve of the memory tier: RSS and HIT latency of one Outpost as it holds 10k,
# 100k and 1M small cached objects (16-byte bodies from an nginx origin, distinct by
# query string), and the bytes each entry costs beyond the object itself (body and
# stored head, as the cache's own accounting counts them).
# Writes docs/performance-entries.csv and docs/performance-entries.svg (via
# benches/load/plot.py) and prints a markdown table.
# Bounded: about 2 minutes, 127.0.0.1 only. Installs nginx and wrk if missing.
# CPU placement: wrk on CPU 1, Outpost (one proxy thread) and the origin on CPU 0.
#   usage: benches/load/cost-curve.sh
dur=5
. "$(dirname "$0")/common.sh"
origin=$(free_port); port=$(free_port); admin=$(free_port)
nginx_origin "$origin" "expires 1h;"
printf '0123456789abcdef' > "$work/www/t.txt"
cat > "$work/outpost.yaml" <<YAML
listen: { http: "127.0.0.1:$port" }
admin: { listen: "127.0.0.1:$admin" }
server: { threads: 1 }
log: { access_log: false, level: warn }
cache: { memory: 4GiB }
sites:
  - default: true
    origins: ["http://127.0.0.1:$origin"]
    compression: { enabled: false }
YAML
taskset -c 0 "$bin" run --config "$work/outpost.yaml" >"$work/outpost.log" 2>&1 &
pid=$!
for _ in $(seq 100); do curl -fso /dev/null "http://127.0.0.1:$port/t.txt" && break; sleep 0.1; done
rss_kib() { awk '/VmRSS/{print $2}' "/proc/$pid/status"; }
stat_of() { curl -s "http://127.0.0.1:$admin/cache/stats" | python3 -c "import json,sys; d=json.load(sys.stdin)['memory']; print(d['entries'], d['bytes'])"; }
sleep 1
idle=$(rss_kib)
# fill.lua: each request asks for the next key in [FROM, TO); past TO it wraps (hits).
cat > "$work/fill.lua" <<'LUA'
local from, to = tonumber(os.getenv("FROM")), tonumber(os.getenv("TO"))
local i = from
request = function()
  local path = "/t.txt?k=" .. i
  i = i + 1
  if i >= to then i = from end
  return wrk.format("GET", path)
end
LUA
cat > "$work/hit.lua" <<'LUA'
local n = tonumber(os.getenv("TO"))
math.randomseed(42)
request = function() return wrk.format("GET", "/t.txt?k=" .. math.random(0, n - 1)) end
LUA
csv=docs/performance-entries.csv
echo "entries,rss_mib,overhead_bytes_per_entry,hit_rps,hit_p50_ms,hit_p99_ms" > "$csv"
echo "| cached objects | RSS | RSS growth per entry | of which overhead beyond the object | HIT req/s (random keys) | p50 | p99 |"
echo "|---|---|---|---|---|---|---|"
from=0
for to in 10000 100000 1000000; do
  # Enough time for every new key at ~15k misses/s (one pass), bounded at 90 s.
  secs=$(( (to - from) / 12000 + 2 )); [ "$secs" -gt 90 ] && secs=90
  FROM=$from TO=$to taskset -c 1 wrk -t1 -c32 -d"${secs}s" -s "$work/fill.lua" "http://127.0.0.1:$port/" >/dev/null
  from=$to
  read -r entries bytes < <(stat_of)
  rss=$(rss_kib)
  read -r rps p50 p99 < <(TO=$to taskset -c 1 wrk -t1 -c64 -d"${dur}s" --latency -s "$work/hit.lua" "http://127.0.0.1:$port/" \
    | awk '/Requests\/sec/{rps=$2} /50%/{p50=$2} /99%/{p99=$2} END{print rps, p50, p99}')
  python3 - "$entries" "$bytes" "$rss" "$idle" "$rps" "$p50" "$p99" "$csv" <<'PY'
import sys
entries, weighed, rss, idle = (int(x) for x in sys.argv[1:5])
rps, p50, p99, csv = sys.argv[5], sys.argv[6], sys.argv[7], sys.argv[8]
def ms(v):
    return float(v[:-2]) if v.endswith("ms") else float(v[:-2]) / 1000 if v.endswith("us") else float(v[:-1]) * 1000
growth = (rss - idle) * 1024 / max(entries, 1)
# The cache weighs each entry as body + stored head + 128; the object itself is the
# first two, so what is left of the growth is the per-entry overhead.
obj = weighed / max(entries, 1) - 128
over = growth - obj
print(f"| {entries:,} | {rss/1024:.0f} MiB | {growth:.0f} B | {over:.0f} B (object {obj:.0f} B) | {float(rps):,.0f} | {p50} | {p99} |".replace(",", " "))
open(csv, "a").write(f"{entries},{rss/1024:.1f},{over:.0f},{float(rps):.0f},{ms(p50):.3f},{ms(p99):.3f}\n")
PY
done
echo
echo "Idle RSS (after start, one request): $((idle / 1024)) MiB."
python3 benches/load/plot.py "$csv" docs/performance-entries.svg
