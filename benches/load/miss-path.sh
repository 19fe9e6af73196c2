#!/usr/bin/env bash
# The MISS path alone: a 1 KiB no-store object through Outpost and through nginx
# proxy_cache, same origin, same configs as compare.sh (one worker each, servers and
# origin pinned to CPU 0, wrk on CPU 1), alternating ROUNDS times so one run shows the
# machine's noise. Prints req/s, p99 and server CPU µs per request for each.
# PROFILE=out.data also records `perf record -g` of Outpost during its last round.
# Bounded: 2 × ROUNDS cells of DURATION seconds on 127.0.0.1 only.
#   usage: benches/load/miss-path.sh [DURATION_SECONDS] [ROUNDS]
dur=${1:-5}; rounds=${2:-2}
. "$(dirname "$0")/common.sh"
here=benches/load
origin=$(free_port); o_http=$(free_port); o_https=$(free_port); n_http=$(free_port); n_https=$(free_port)
nginx_origin "$origin" "location /nocache/ { add_header Cache-Control no-store; }"
mkdir -p "$work/www/nocache"; cp "$work/www/1k.txt" "$work/www/nocache/1k.txt"
"$bin" cert self-signed localhost --cert "$work/tls.pem" --key "$work/tls.key" >/dev/null
chmod 644 "$work/tls.key"
sed -e "s#@WORK@#$work#g" -e "s#@ORIGIN@#$origin#g" -e "s#@HTTP@#$o_http#g" -e "s#@HTTPS@#$o_https#g" \
  "$here/compare-outpost.yaml" > "$work/outpost.yaml"
cp "$here/compare-rules.yaml" "$work/rules.yaml"; cp "$here/compare-hook.js" "$work/hook.js"
taskset -c 0 "$bin" run --config "$work/outpost.yaml" >"$work/outpost.log" 2>&1 &
echo $! > "$work/outpost.pid"
mkdir -p "$work/nginx-cache"
sed -e "s#@WORK@#$work#g" -e "s#@ORIGIN@#$origin#g" -e "s#@HTTP@#$n_http#g" -e "s#@HTTPS@#$n_https#g" \
  "$here/compare-nginx.conf" > "$work/cache.conf"
taskset -c 0 /usr/sbin/nginx -c "$work/cache.conf" -p "$work" -e "$work/cache-error.log"
for port in $o_http $n_http; do
  for _ in $(seq 200); do curl -fso /dev/null "http://127.0.0.1:$port/nocache/1k.txt" && break; sleep 0.05; done
done
pids() { case $1 in outpost) cat "$work/outpost.pid" ;; nginx) { cat "$work/cache.pid"; pgrep -P "$(cat "$work/cache.pid")"; } | tr '\n' ' ' ;; esac; }
ticks() { local t=0; for p in $*; do t=$((t + $(awk '{print $14+$15}' "/proc/$p/stat"))); done; echo $t; }
cell() { # NAME PORT [profile]
  local p; p=$(pids "$1"); local before; before=$(ticks $p)
  local perf=""
  if [ -n "${3:-}" ]; then perf record -q -g -p "$(cat "$work/outpost.pid")" -o "$3" -- sleep "$dur" 2>/dev/null & perf=$!; fi
  local out; out=$(taskset -c 1 wrk -t1 -c64 -d"${dur}s" --latency "http://127.0.0.1:$2/nocache/1k.txt")
  [ -z "$perf" ] || wait "$perf"
  local after; after=$(ticks $p)
  local rps n p99; rps=$(awk '/Requests\/sec/{print $2}' <<<"$out"); n=$(awk '/requests in/{print $1}' <<<"$out")
  p99=$(awk '$1=="99%"{print $2}' <<<"$out")
  printf "| %s | %s | %s | %s |\n" "$1" "$rps" "$p99" "$(python3 -c "print(f'{($after-$before)/100*1e6/$n:.1f}')")"
}
echo "| server | req/s | p99 | CPU µs / req |"; echo "|---|---|---|---|"
for r in $(seq "$rounds"); do
  prof=""; [ "$r" = "$rounds" ] && prof=${PROFILE:-}
  cell outpost "$o_http" "$prof"; cell nginx "$n_http"
done
