#!/usr/bin/env bash
# HTTP/3 vs HTTP/2 on a cache HIT (1 KiB and 100 KiB): Outpost with one proxy thread
# and the nginx origin pinned to CPU 0, h2load on CPU 1 (16 connections x 8 streams,
# the same as compare.sh's HTTP/2 cells; HTTP/3 through benches/load/h3_load.rs), over
# TLS 1.3 with a self-signed certificate.
# Prints req/s and Outpost's CPU per request for each protocol. Everything on
# 127.0.0.1, every run bounded by its duration.
#   usage: benches/load/http3.sh [SECONDS]
dur=${1:-6}
. "$(dirname "$0")/common.sh"
command -v h2load >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nghttp2-client >/dev/null; }
origin_port=$(free_port)
nginx_origin "$origin_port" 'location / { add_header Cache-Control "public, max-age=3600"; }'
head -c 102400 /dev/zero | tr '\0' 'x' > "$work/www/100k.txt"
"$bin" cert self-signed localhost --cert "$work/cert.pem" --key "$work/key.pem" >/dev/null
port=$(free_port)
cat > "$work/outpost.yaml" <<YAML
listen: { https: "127.0.0.1:$port", http3: "127.0.0.1:$port" }
server: { threads: 1 }
log: { access_log: false }
tls: { certificates: [ { cert: $work/cert.pem, key: $work/key.pem, default: true } ] }
sites:
  - default: true
    origins: ["http://127.0.0.1:$origin_port"]
YAML
taskset -c 0 "$bin" run --config "$work/outpost.yaml" >"$work/outpost.log" 2>&1 &
pid=$!
for _ in $(seq 100); do curl -ksfo /dev/null "https://localhost:$port/1k.txt" && break; sleep 0.1; done
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
ticks=$(getconf CLK_TCK)
echo "| object | protocol | req/s | Outpost CPU µs/request |"
echo "|---|---|---|---|"
# Debian's h2load has no HTTP/3: h3 runs through benches/load/h3_load.rs (quinn + h3),
# with the same 16 connections x 8 streams.
cargo build --release --locked -q --example h3-load
h3load=target/release/examples/h3-load
for obj in 1k.txt 100k.txt; do
  for proto in h2 h3; do
    url="https://localhost:$port/$obj"
    if [ "$proto" = h2 ]; then
      taskset -c 1 h2load -n 200 -c 4 "$url" >/dev/null 2>&1 || true
      before=$(cpu)
      out=$(taskset -c 1 h2load -D "$dur" -c 16 -m 8 -t 1 "$url" 2>/dev/null)
      after=$(cpu)
      rps=$(awk '/^finished in/{print $4}' <<<"$out")
      done_n=$(awk '/^requests:/{print $8}' <<<"$out")
    else
      taskset -c 1 "$h3load" "$url" 2 2 1 >/dev/null 2>&1 || true
      before=$(cpu)
      out=$(taskset -c 1 "$h3load" "$url" 16 8 "$dur" 2>/dev/null || echo "0 0")
      after=$(cpu)
      rps=$(awk '{print $1}' <<<"$out")
      done_n=$(awk '{print $2}' <<<"$out")
    fi
    us=$(awk -v t=$((after - before)) -v n="${done_n:-0}" -v hz="$ticks" 'BEGIN{ if (n > 0) printf "%.1f", t / hz / n * 1e6; else print "-" }')
    echo "| ${obj%.txt} | $proto | ${rps:-failed} | $us |"
  done
done
