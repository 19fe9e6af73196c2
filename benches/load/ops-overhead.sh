#!/usr/bin/env bash
# What operating features cost on a cache HIT: access logging (JSON lines to a file) on
# vs off (Prometheus metrics are always on), and hits of a 60 KiB HTML page by
# Accept-Encoding (identity vs gzip-6 vs br-4 vs zstd-3; each coding is compressed once,
# on the miss, and stored).
# Bounded: seven wrk runs of DURATION s on 127.0.0.1 only. Installs nginx and wrk from
# Debian if missing. CPU placement (2-core machine): wrk on CPU 1; origin and Outpost on CPU 0.
#   usage: benches/load/ops-overhead.sh [DURATION_SECONDS]
dur=${1:-10}
. "$(dirname "$0")/common.sh"
origin=$(free_port)
nginx_origin "$origin" "expires 1h;"
docs_page "$work/www/page.html"
start_outpost() { # ACCESS_LOG(true|false) PORT
  cat > "$work/outpost-$2.yaml" <<YAML
listen: { http: "127.0.0.1:$2" }
server: { threads: 1 }
log: { access_log: $1, format: json, file: $work/access-$2.log }
cache: { memory: 256MiB }
sites:
  - default: true
    origins: ["http://127.0.0.1:$origin"]
YAML
  taskset -c 0 "$bin" run --config "$work/outpost-$2.yaml" >"$work/outpost-$2.out" 2>&1 &
  for _ in $(seq 100); do curl -fso /dev/null "http://127.0.0.1:$2/1k.txt" && break; sleep 0.1; done
  curl -so /dev/null "http://127.0.0.1:$2/page.html"
}
quiet=$(free_port); logged=$(free_port)
start_outpost false "$quiet"
start_outpost true "$logged"
echo "| 1 KiB cache HIT (wrk -t1 -c64 -d${dur}s, 1 proxy thread) | req/s | p50 | p99 |"
echo "|---|---|---|---|"
read -r q_rps q_p50 q_p99 < <(run_wrk "http://127.0.0.1:$quiet/1k.txt")
read -r l_rps l_p50 l_p99 < <(run_wrk "http://127.0.0.1:$logged/1k.txt")
echo "| metrics on, access log off | $q_rps | $q_p50 | $q_p99 |"
echo "| metrics on, access log on (JSON to a file) | $l_rps | $l_p50 | $l_p99 |"
echo "| ratio (log on / off) | $(python3 -c "print(f'{$l_rps/$q_rps:.2f}')") | | |"
echo
echo "| 60 KiB HTML cache HIT, by Accept-Encoding | req/s | p99 | bytes sent |"
echo "|---|---|---|---|"
for enc in identity gzip br zstd; do
  # The first request of each kind is the miss that stores its compressed copy.
  size=$(curl -s -H "Accept-Encoding: $enc" "http://127.0.0.1:$quiet/page.html" | wc -c)
  read -r rps _ p99 < <(taskset -c 1 wrk -t1 -c64 -d"${dur}s" --latency -H "Accept-Encoding: $enc" \
    "http://127.0.0.1:$quiet/page.html" | awk '/Requests\/sec/{rps=$2} /50%/{p50=$2} /99%/{p99=$2} END{printf "%s %s %s\n", rps, p50, p99}')
  echo "| $enc | $rps | $p99 | $size |"
done
