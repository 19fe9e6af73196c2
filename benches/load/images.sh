#!/usr/bin/env bash
# Image transforms: a 2000×1500 JPEG resized to 400 px wide, every request a new
# transform (the source URL carries a counter, so no variant is reused), as JPEG
# (quality 80), WebP and AVIF (quality 80). Outpost (one proxy thread; it and its transform
# threads pinned to CPU 0 with the nginx origin) beside nginx's image_filter (JPEG only,
# Debian's libnginx-mod-http-image-filter, CPU 0) and Pillow doing the same resize and
# encode in one Python thread. wrk on CPU 1, 4 connections. Prints transforms/s and
# server CPU ms per transform. Everything on 127.0.0.1, bounded by its duration.
#   usage: benches/load/images.sh [SECONDS]
dur=${1:-6}
. "$(dirname "$0")/common.sh"
[ -f /usr/lib/nginx/modules/ngx_http_image_filter_module.so ] || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libnginx-mod-http-image-filter >/dev/null
}
python3 -c 'import PIL' 2>/dev/null || python3 -m pip install -q pillow
mkdir -p "$work/www/img"
python3 - "$work/www/img/photo.jpg" <<'PY'
import sys
from PIL import Image
w, h = 2000, 1500
im = Image.new("RGB", (w, h))
im.putdata([(x * 255 // w, y * 255 // h, (x ^ y) & 255) for y in range(h) for x in range(w)])
im.save(sys.argv[1], quality=90)
PY
chmod -R a+rX "$work/www"
origin_port=$(free_port)
nginx_origin "$origin_port"
port=$(free_port)
cat > "$work/outpost.yaml" <<YAML
listen: { http: "127.0.0.1:$port" }
server: { threads: 1 }
log: { access_log: false }
cache: { memory: 256MiB }
sites:
  - default: true
    origins: ["http://127.0.0.1:$origin_port"]
    images: { enabled: true, sources: ["/img/*"] }
YAML
taskset -c 0 "$bin" run --config "$work/outpost.yaml" >"$work/outpost.log" 2>&1 &
pid=$!
for _ in $(seq 100); do curl -sfo /dev/null "http://127.0.0.1:$port/cdn-cgi/image/width=10/img/photo.jpg" && break; sleep 0.1; done
filter_port=$(free_port)
cat > "$work/filter.conf" <<NGINX
load_module /usr/lib/nginx/modules/ngx_http_image_filter_module.so;
worker_processes 1;
pid $work/filter.pid;
error_log $work/filter-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  server {
    listen 127.0.0.1:$filter_port; root $work/www;
    location /img/ { image_filter resize 400 -; image_filter_jpeg_quality 80; image_filter_buffer 20M; }
  }
}
NGINX
taskset -c 0 /usr/sbin/nginx -c "$work/filter.conf" -p "$work" -e "$work/filter-error.log"
sleep 0.3
ticks=$(getconf CLK_TCK)
cpu_of() { awk '{print $14 + $15}' "/proc/$1/stat"; }
cat > "$work/counter.lua" <<'LUA'
local i = 0
request = function()
  i = i + 1
  return wrk.format(nil, path_prefix .. "?v=" .. i)
end
LUA
cell() { # NAME PID PATH PORT
  local before after out rps
  sed "1i path_prefix = \"$3\"" "$work/counter.lua" > "$work/cell.lua"
  before=$(cpu_of "$2")
  out=$(taskset -c 1 wrk -t1 -c4 -d"${dur}s" -s "$work/cell.lua" "http://127.0.0.1:$4")
  after=$(cpu_of "$2")
  rps=$(awk '/Requests\/sec/{print $2}' <<<"$out")
  local n; n=$(awk '/requests in/{print $1}' <<<"$out")
  local bad; bad=$(awk '/Non-2xx/{print $NF}' <<<"$out")
  awk -v name="$1" -v rps="$rps" -v n="$n" -v c="$((after - before))" -v t="$ticks" -v bad="${bad:-0}" \
    'BEGIN { printf "| %s | %.1f | %.2f | %s |\n", name, rps, (c / t) * 1000 / n, bad }'
}
echo "| 2000×1500 JPEG → 400 px | transforms/s | server CPU ms per transform | non-2xx |"
echo "|---|---|---|---|"
cell "Outpost → JPEG q80" "$pid" "/cdn-cgi/image/width=400,quality=80,format=jpeg/img/photo.jpg" "$port"
# (nginx's CPU is its worker's, the master's child.)
cell "nginx image_filter → JPEG q80" "$(pgrep -P "$(cat "$work/filter.pid")" | head -1)" "/img/photo.jpg" "$filter_port"
cell "Outpost → WebP q80" "$pid" "/cdn-cgi/image/width=400,quality=80,format=webp/img/photo.jpg" "$port"
cell "Outpost → AVIF q80" "$pid" "/cdn-cgi/image/width=400,quality=80,format=avif/img/photo.jpg" "$port"
python3 - "$work/www/img/photo.jpg" "$dur" <<'PY'
import io, sys, time
from PIL import Image
src, dur = sys.argv[1], float(sys.argv[2])
for name, fmt, kw in [("JPEG q80", "JPEG", {"quality": 80}), ("WebP q80", "WEBP", {"quality": 80}), ("AVIF q80", "AVIF", {"quality": 80})]:
    n, cpu0, end = 0, time.process_time(), time.time() + dur / 2
    while time.time() < end:
        im = Image.open(src); im = im.resize((400, 300), Image.LANCZOS)
        out = io.BytesIO(); im.save(out, fmt, **kw); n += 1
    cpu = time.process_time() - cpu0
    print(f"| Pillow (one Python thread) → {name} | {n / (dur / 2):.1f} | {cpu * 1000 / n:.2f} | 0 |")
PY
