#!/usr/bin/env bash
# Thread scaling of the 1 KiB cache HIT: Outpost with `server.threads` 1 and 2 beside
# nginx proxy_cache with `worker_processes` 1 and 2, in front of one nginx origin.
#
# Placement: with one worker, the server and the origin run on CPU 0 and wrk (-t1) on
# CPU 1, as in compare.sh. With two workers the server may use both CPUs and wrk
# (-t2) shares them: on a 2-core machine that measures how the server shares the
# machine with its load, not clean scaling; on a bigger machine, pin wrk elsewhere.
#
# Bounded: 4 cells of DURATION seconds (default 8, at most 15); 127.0.0.1 only.
#   usage: benches/load/scaling.sh [DURATION_SECONDS]
set -euo pipefail
dur=${1:-8}
[ "$dur" -le 15 ] || { echo "at most 15 s per cell" >&2; exit 2; }
. "$(dirname "$0")/common.sh"

origin=$(free_port)
nginx_origin "$origin" "expires 1h;"

echo "| server | workers | req/s | p50 | p99 |"
echo "|---|---|---|---|---|"
for workers in 1 2; do
  cpus=0; [ "$workers" = 2 ] && cpus=0,1
  wrk_cpus=1; [ "$workers" = 2 ] && wrk_cpus=0,1
  o=$(free_port); n=$(free_port)
  cat > "$work/outpost-$workers.yaml" <<YAML
listen: { http: "127.0.0.1:$o" }
server: { threads: $workers }
log: { access_log: false, level: warn }
cache: { memory: 256MiB }
sites:
  - default: true
    origins: ["http://127.0.0.1:$origin"]
    compression: { enabled: false }
YAML
  taskset -c "$cpus" "$bin" run --config "$work/outpost-$workers.yaml" >"$work/outpost-$workers.log" 2>&1 &
  echo $! > "$work/outpost-$workers.pid"
  mkdir -p "$work/nginx-cache-$workers"
  cat > "$work/cache-$workers.conf" <<NGINX
worker_processes $workers;
pid $work/cache-$workers.pid;
error_log $work/cache-$workers-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000;
  proxy_cache_path $work/nginx-cache-$workers keys_zone=edge$workers:16m max_size=1g;
  upstream origin { server 127.0.0.1:$origin; keepalive 64; }
  server {
    listen 127.0.0.1:$n;
    location / { proxy_cache edge$workers; proxy_pass http://origin; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
NGINX
  taskset -c "$cpus" /usr/sbin/nginx -c "$work/cache-$workers.conf" -p "$work" -e "$work/cache-$workers-error.log"
  for url in "http://127.0.0.1:$o/1k.txt" "http://127.0.0.1:$n/1k.txt"; do
    for _ in $(seq 100); do curl -fso /dev/null "$url" && break; sleep 0.05; done
    curl -fso /dev/null "$url"; curl -fso /dev/null "$url"
  done
  for target in "Outpost:$o" "nginx proxy_cache:$n"; do
    name=${target%:*}; port=${target##*:}
    read -r rps p50 p99 < <(taskset -c "$wrk_cpus" wrk -t"$workers" -c64 -d"${dur}s" --latency "http://127.0.0.1:$port/1k.txt" \
      | awk '/Requests\/sec/{rps=$2} $1=="50%"{p50=$2} $1=="99%"{p99=$2} END{print rps, p50, p99}')
    echo "| $name | $workers | $rps | $p50 | $p99 |"
  done
  kill "$(cat "$work/outpost-$workers.pid")" "$(cat "$work/cache-$workers.pid")" 2>/dev/null || true
  sleep 0.5
done
echo
echo "Machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)); ${dur} s per cell; $(date -u +%F)."
