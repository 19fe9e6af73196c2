#!/usr/bin/env bash
# Proxy overhead: wrk against an nginx origin directly, through `outpost proxy`, and
# through nginx as a reverse proxy (for scale).
# Bounded: three 10 s runs on 127.0.0.1 only. Installs nginx and wrk from Debian if missing.
#
# CPU placement (2-core machine): wrk runs on CPU 1; the origin and Outpost share CPU 0,
# so the "through Outpost" figure includes Outpost's CPU cost competing with the origin.
#   usage: benches/load/proxy-overhead.sh [DURATION_SECONDS]
dur=${1:-10}
. "$(dirname "$0")/common.sh"
origin_port=$(free_port); proxy_port=$(free_port); nginx_proxy_port=$(free_port)
nginx_origin "$origin_port"
# The same origin behind nginx as a reverse proxy, for scale (a separate nginx, also on CPU 0).
cat > "$work/nginx-proxy.conf" <<NGINX
worker_processes 1;
pid $work/nginx-proxy.pid;
error_log $work/nginx-proxy-error.log;
events { worker_connections 1024; }
http {
  access_log $work/nginx-proxy-access.log;
  keepalive_requests 100000;
  upstream origin { server 127.0.0.1:$origin_port; keepalive 128; }
  server {
    listen 127.0.0.1:$nginx_proxy_port;
    location / { proxy_pass http://origin; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
NGINX
taskset -c 0 /usr/sbin/nginx -c "$work/nginx-proxy.conf" -p "$work" -e "$work/nginx-proxy-error.log"
taskset -c 0 "$bin" proxy --listen "127.0.0.1:$proxy_port" --origin "http://127.0.0.1:$origin_port" >"$work/outpost.log" 2>&1 &
for _ in $(seq 100); do curl -fso /dev/null "http://127.0.0.1:$proxy_port/1k.txt" && break; sleep 0.1; done
for port in $origin_port $proxy_port $nginx_proxy_port; do
  [ "$(curl -s -o /dev/null -w '%{http_code} %{size_download}' "http://127.0.0.1:$port/1k.txt")" = "200 1024" ] \
    || { echo "port $port does not serve the 1 KiB test file" >&2; exit 1; }
done
# Access logging is on by default; send it to a file as an operator would.
read -r d_rps d_p50 d_p99 < <(run_wrk "http://127.0.0.1:$origin_port/1k.txt")
read -r p_rps p_p50 p_p99 < <(run_wrk "http://127.0.0.1:$proxy_port/1k.txt")
read -r n_rps n_p50 n_p99 < <(run_wrk "http://127.0.0.1:$nginx_proxy_port/1k.txt")
ratio=$(python3 -c "print(f'{$p_rps/$d_rps:.2f}')")
echo "| target (1 KiB, wrk -t1 -c64 -d${dur}s) | requests/s | p50 | p99 |"
echo "|---|---|---|---|"
echo "| nginx origin directly | $d_rps | $d_p50 | $d_p99 |"
echo "| through outpost proxy | $p_rps | $p_p50 | $p_p99 |"
echo "| nginx reverse proxy (keepalive upstream, access log on) | $n_rps | $n_p50 | $n_p99 |"
echo "| ratio outpost / direct | $ratio | | |"
echo "| ratio outpost / nginx proxy | $(python3 -c "print(f'{$p_rps/$n_rps:.2f}')") | | |"
