#!/usr/bin/env bash
# Cache HIT throughput: Outpost vs nginx proxy_cache in front of the same nginx origin.
# Bounded: four 10 s wrk runs on 127.0.0.1 only. Installs nginx and wrk from Debian if missing.
# CPU placement (2-core machine): wrk on CPU 1; origin and the cache under test on CPU 0.
#   usage: benches/load/cache-hit.sh [DURATION_SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
dur=${1:-10}
need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
cargo build --release --locked -q
bin=target/release/outpost
work=$(mktemp -d)
# nginx workers run as www-data: the files they serve must be readable by it.
chmod 755 "$work"
cleanup() {
  kill $(jobs -p) 2>/dev/null || true
  for p in "$work"/*.pid; do [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
origin=$(free_port); outpost=$(free_port); ncache=$(free_port)
mkdir -p "$work/www" "$work/nginx-cache"
head -c 1024 /dev/zero | tr '\0' 'x' > "$work/www/1k.txt"
head -c 102400 /dev/zero | tr '\0' 'y' > "$work/www/100k.txt"
cat > "$work/origin.conf" <<NGINX
worker_processes 1;
pid $work/origin.pid;
error_log $work/origin-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  server { listen 127.0.0.1:$origin; root $work/www; expires 1h; }
}
NGINX
cat > "$work/cache.conf" <<NGINX
worker_processes 1;
pid $work/cache.pid;
error_log $work/cache-error.log;
events { worker_connections 1024; }
http {
  access_log $work/cache-access.log;
  keepalive_requests 100000;
  proxy_cache_path $work/nginx-cache keys_zone=edge:64m max_size=1g;
  upstream origin { server 127.0.0.1:$origin; keepalive 64; }
  server {
    listen 127.0.0.1:$ncache;
    location / {
      proxy_cache edge;
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      add_header X-Cache-Status \$upstream_cache_status;
    }
  }
}
NGINX
taskset -c 0 /usr/sbin/nginx -c "$work/origin.conf" -p "$work" -e "$work/origin-error.log"
taskset -c 0 /usr/sbin/nginx -c "$work/cache.conf" -p "$work" -e "$work/cache-error.log"
taskset -c 0 "$bin" proxy --listen "127.0.0.1:$outpost" --origin "http://127.0.0.1:$origin" \
  --cache-memory 256MiB >"$work/outpost.log" 2>&1 &
for _ in $(seq 100); do curl -fso /dev/null "http://127.0.0.1:$outpost/1k.txt" && break; sleep 0.1; done
curl -sf -o /dev/null "http://127.0.0.1:$origin/1k.txt" || { echo "origin does not serve the test file" >&2; exit 1; }
# Warm both caches and show that the next request is a hit.
for port in $outpost $ncache; do for f in 1k 100k; do curl -so /dev/null "http://127.0.0.1:$port/$f.txt"; done; done
curl -s -D - -o /dev/null "http://127.0.0.1:$outpost/1k.txt" | grep -i '^cache-status' >&2 || true
curl -s -D - -o /dev/null "http://127.0.0.1:$ncache/1k.txt" | grep -i '^x-cache-status' >&2 || true
run() { taskset -c 1 wrk -t1 -c64 -d"${dur}s" --latency "$1" | awk '/Requests\/sec/{rps=$2} /50%/{p50=$2} /99%/{p99=$2} END{printf "%s %s %s\n", rps, p50, p99}'; }
echo "| cache HIT (wrk -t1 -c64 -d${dur}s) | Outpost req/s | p99 | nginx proxy_cache req/s | p99 | ratio |"
echo "|---|---|---|---|---|---|"
for f in 1k 100k; do
  read -r o_rps _ o_p99 < <(run "http://127.0.0.1:$outpost/$f.txt")
  read -r n_rps _ n_p99 < <(run "http://127.0.0.1:$ncache/$f.txt")
  echo "| $f | $o_rps | $o_p99 | $n_rps | $n_p99 | $(python3 -c "print(f'{$o_rps/$n_rps:.2f}')") |"
done
