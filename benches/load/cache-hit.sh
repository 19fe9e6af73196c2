#!/usr/bin/env bash
# Cache HIT throughput: Outpost vs nginx proxy_cache in front of the same nginx origin.
# Bounded: four 10 s wrk runs on 127.0.0.1 only. Installs nginx and wrk from Debian if missing.
# CPU placement (2-core machine): wrk on CPU 1; origin and the cache under test on CPU 0.
#   usage: benches/load/cache-hit.sh [DURATION_SECONDS]
dur=${1:-10}
. "$(dirname "$0")/common.sh"
origin=$(free_port); outpost=$(free_port); ncache=$(free_port)
mkdir -p "$work/nginx-cache"
nginx_origin "$origin" "expires 1h;"
head -c 102400 /dev/zero | tr '\0' 'y' > "$work/www/100k.txt"
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
taskset -c 0 /usr/sbin/nginx -c "$work/cache.conf" -p "$work" -e "$work/cache-error.log"
taskset -c 0 "$bin" proxy --listen "127.0.0.1:$outpost" --origin "http://127.0.0.1:$origin" \
  --cache-memory 256MiB >"$work/outpost.log" 2>&1 &
for _ in $(seq 100); do curl -fso /dev/null "http://127.0.0.1:$outpost/1k.txt" && break; sleep 0.1; done
curl -sf -o /dev/null "http://127.0.0.1:$origin/1k.txt" || { echo "origin does not serve the test file" >&2; exit 1; }
# Warm both caches and show that the next request is a hit.
for port in $outpost $ncache; do for f in 1k 100k; do curl -so /dev/null "http://127.0.0.1:$port/$f.txt"; done; done
curl -s -D - -o /dev/null "http://127.0.0.1:$outpost/1k.txt" | grep -i '^cache-status' >&2 || true
curl -s -D - -o /dev/null "http://127.0.0.1:$ncache/1k.txt" | grep -i '^x-cache-status' >&2 || true
echo "| cache HIT (wrk -t1 -c64 -d${dur}s) | Outpost req/s | p99 | nginx proxy_cache req/s | p99 | ratio |"
echo "|---|---|---|---|---|---|"
for f in 1k 100k; do
  read -r o_rps _ o_p99 < <(run_wrk "http://127.0.0.1:$outpost/$f.txt")
  read -r n_rps _ n_p99 < <(run_wrk "http://127.0.0.1:$ncache/$f.txt")
  echo "| $f | $o_rps | $o_p99 | $n_rps | $n_p99 | $(python3 -c "print(f'{$o_rps/$n_rps:.2f}')") |"
done
