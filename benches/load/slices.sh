#!/usr/bin/env bash
# Range requests into a large file, whole-object caching vs `cache_slice`: a 100 MiB
# file behind an nginx origin that sends 20 MB/s per connection (a distant origin),
# and a client asking for 10 bytes at 90 MiB, cold then warm, then a range over
# three slices. Prints time to the whole answer and bytes the origin sent. One run,
# everything on 127.0.0.1.
#   usage: benches/load/slices.sh
dur=0
. "$(dirname "$0")/common.sh"
mkdir -p "$work/www"
head -c $((100 << 20)) /dev/urandom > "$work/www/big.bin"
chmod -R a+rX "$work/www"
origin_port=$(free_port)
nginx_origin "$origin_port" 'limit_rate 20m; location / { add_header Cache-Control "public, max-age=3600"; }'
sed -i "s|access_log off;|log_format b '\$body_bytes_sent'; access_log $work/origin-access.log b;|" "$work/origin.conf"
/usr/sbin/nginx -c "$work/origin.conf" -p "$work" -s reload 2>/dev/null || true
sleep 0.5
sent() { awk '{s += $1} END {print s + 0}' "$work/origin-access.log" 2>/dev/null; }
run() { # NAME EXTRA_SITE_YAML
  local port; port=$(free_port)
  cat > "$work/o.yaml" <<YAML
listen: { http: "127.0.0.1:$port" }
log: { access_log: false }
cache: { memory: 512MiB, max_memory_object: 200MiB }
sites:
  - default: true
    origins: ["http://127.0.0.1:$origin_port"]
$2
YAML
  "$bin" run --config "$work/o.yaml" >"$work/o.log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do curl -sfo /dev/null "http://127.0.0.1:$port/1k.txt" && break; sleep 0.1; done
  : > "$work/origin-access.log"
  local cold warm across
  cold=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' -r 94371840-94371849 "http://127.0.0.1:$port/big.bin")
  warm=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' -r 94371850-94371859 "http://127.0.0.1:$port/big.bin")
  across=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' -r 10485000-13631000 "http://127.0.0.1:$port/big.bin")
  printf '| %s | %s s | %s s | %s s | %s MiB |\n' "$1" "$cold" "$warm" "$across" "$(( $(sent) >> 20 ))"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}
echo "| 100 MiB file, 20 MB/s origin | 10 B at 90 MiB, cold | same, warm | 3 MiB at 10 MiB | origin sent |"
echo "|---|---|---|---|---|"
run "whole object (default)" ""
run "cache_slice: 1MiB" "    cache_slice: 1MiB"
