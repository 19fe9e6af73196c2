#!/usr/bin/env bash
# Image variants under a mixed workload: 8 source photos (1200×800 JPEG) × 6 widths ×
# 3 output formats (the 144 variants a responsive site asks for), requested with a
# skewed popularity (a few variants most of the time, as real pages do) for a fixed
# time by 16 connections. Prints req/s, p99 and the variant HIT rate from Outpost's
# own metrics (hits ÷ all image requests). Outpost with one proxy thread pinned to CPU
# 0 with its transform threads and the nginx origin; wrk on CPU 1. One run, loopback.
#   usage: benches/load/images-mixed.sh [SECONDS]
dur=${1:-20}
. "$(dirname "$0")/common.sh"
python3 -c 'import PIL' 2>/dev/null || python3 -m pip install -q pillow
mkdir -p "$work/www/img"
python3 - "$work/www/img" <<'PY'
import sys
from PIL import Image
for n in range(8):
    w, h = 1200, 800
    im = Image.new("RGB", (w, h))
    im.putdata([((x * (n + 1)) & 255, (y * 255 // h), (x ^ y ^ n) & 255) for y in range(h) for x in range(w)])
    im.save(f"{sys.argv[1]}/p{n}.jpg", quality=88)
PY
chmod -R a+rX "$work/www"
origin_port=$(free_port)
nginx_origin "$origin_port" 'location / { add_header Cache-Control "public, max-age=3600"; }'
port=$(free_port)
admin=$(free_port)
cat > "$work/outpost.yaml" <<YAML
listen: { http: "127.0.0.1:$port" }
admin: { listen: "127.0.0.1:$admin" }
server: { threads: 1 }
log: { access_log: false }
cache: { memory: 256MiB }
sites:
  - default: true
    origins: ["http://127.0.0.1:$origin_port"]
    images: { enabled: true, sources: ["/img/*"] }
YAML
taskset -c 0 "$bin" run --config "$work/outpost.yaml" >"$work/outpost.log" 2>&1 &
for _ in $(seq 100); do curl -sfo /dev/null "http://127.0.0.1:$port/img/p0.jpg" && break; sleep 0.1; done
cat > "$work/mixed.lua" <<'LUA'
local widths = {160, 320, 480, 640, 800, 1024}
local formats = {"webp", "avif", "jpeg"}
math.randomseed(42)
-- Popularity falls off as 1/rank over the 144 variants (Zipf-like).
local variants, weights, total = {}, {}, 0
for p = 0, 7 do for w = 1, #widths do for f = 1, #formats do
  variants[#variants + 1] = string.format("/cdn-cgi/image/width=%d,format=%s/img/p%d.jpg", widths[w], formats[f], p)
end end end
for i = #variants, 2, -1 do local j = math.random(i); variants[i], variants[j] = variants[j], variants[i] end
for i = 1, #variants do total = total + 1 / i; weights[i] = total end
request = function()
  local r, i = math.random() * total, 1
  while weights[i] < r do i = i + 1 end
  return wrk.format(nil, variants[i])
end
LUA
out=$(taskset -c 1 wrk -t1 -c16 -d"${dur}s" --latency -s "$work/mixed.lua" "http://127.0.0.1:$port")
metrics=$(curl -s "http://127.0.0.1:$admin/metrics")
hits=$(awk '/^outpost_image_requests_total\{outcome="hit"\}/{print $2}' <<<"$metrics")
made=$(awk '/^outpost_image_requests_total\{outcome="transformed"\}/{print $2}' <<<"$metrics")
busy=$(awk '/^outpost_image_requests_total\{outcome="overloaded"\}/{print $2}' <<<"$metrics")
rps=$(awk '/Requests\/sec/{print $2}' <<<"$out")
p99=$(awk '/ 99%/{print $2}' <<<"$out")
echo "| requests/s | p99 | variant hits | transforms | refused (busy) | HIT rate |"
echo "|---|---|---|---|---|---|"
awk -v r="$rps" -v p="$p99" -v h="${hits:-0}" -v m="${made:-0}" -v b="${busy:-0}" \
  'BEGIN { printf "| %s | %s | %d | %d | %d | %.1f %% |\n", r, p, h, m, b, 100 * h / (h + m + b) }'
