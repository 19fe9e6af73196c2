#!/usr/bin/env bash
# Outpost vs nginx proxy_cache vs Varnish, in front of one nginx origin, same workloads,
# one run, one markdown table (requests/s, p50, p99, server CPU seconds per 10k requests,
# server peak RSS, and Outpost's ratio to each peer).
#
# Fairness: every server under test gets one worker (Outpost `server.threads: 1`, nginx
# `worker_processes 1`, Varnish one thread pool) and runs pinned to CPU 0 with the
# origin; the load generator (wrk, or h2load for HTTP/2) runs on CPU 1. All servers log
# nothing per request (Outpost access_log off, nginx access_log off, varnishd without
# varnishncsa). Equivalent configs live next to this script (compare-*.conf/.vcl/.yaml
# templates are generated below so ports can be free ones).
#
# Bounded: each cell runs DURATION seconds (default 8, at most 15), about 30 cells, the
# whole suite under 10 minutes; only 127.0.0.1. Installs nginx, varnish, wrk and h2load
# from Debian if missing.
#   usage: benches/load/compare.sh [DURATION_SECONDS]
# CELLS=REGEX runs only the workloads whose name matches (e.g. CELLS='HTML'), and
# OUTPOST_YAML=FILE replaces compare-outpost.yaml (an A/B of one setting).
set -euo pipefail
dur=${1:-8}
[ "$dur" -le 15 ] || { echo "at most 15 s per cell" >&2; exit 2; }
need=()
command -v varnishd >/dev/null || [ -x /usr/sbin/varnishd ] || need+=(varnish)
command -v h2load >/dev/null || need+=(nghttp2-client)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
. "$(dirname "$0")/common.sh"
here=benches/load

origin=$(free_port); o_http=$(free_port); o_https=$(free_port)
n_http=$(free_port); n_https=$(free_port); v_http=$(free_port)

# --- the origin: 1 KiB, 100 KiB, 1 MiB, a 60 KiB HTML page; /nocache/ is no-store ----
nginx_origin "$origin" "expires 1h; location /nocache/ { expires off; add_header Cache-Control no-store; }"
head -c 102400 /dev/zero | tr '\0' 'y' > "$work/www/100k.txt"
head -c 1048576 /dev/zero | tr '\0' 'z' > "$work/www/1m.txt"
mkdir -p "$work/www/nocache" "$work/www/hook" "$work/www/html"
cp "$work/www/1k.txt" "$work/www/nocache/1k.txt"
cp "$work/www/1k.txt" "$work/www/hook/1k.txt"
docs_page "$work/www/html/page.html"
"$bin" cert self-signed localhost --cert "$work/tls.pem" --key "$work/tls.key" >/dev/null
chmod 644 "$work/tls.key"

# --- Outpost ------------------------------------------------------------------------
sed -e "s#@WORK@#$work#g" -e "s#@ORIGIN@#$origin#g" -e "s#@HTTP@#$o_http#g" -e "s#@HTTPS@#$o_https#g" \
  "${OUTPOST_YAML:-$here/compare-outpost.yaml}" > "$work/outpost.yaml"
cp "$here/compare-rules.yaml" "$work/rules.yaml"
cp "$here/compare-hook.js" "$work/hook.js"
taskset -c 0 "$bin" run --config "$work/outpost.yaml" >"$work/outpost.log" 2>&1 &
echo $! > "$work/outpost.pid"

# --- nginx proxy_cache --------------------------------------------------------------
mkdir -p "$work/nginx-cache"
sed -e "s#@WORK@#$work#g" -e "s#@ORIGIN@#$origin#g" -e "s#@HTTP@#$n_http#g" -e "s#@HTTPS@#$n_https#g" \
  "$here/compare-nginx.conf" > "$work/cache.conf"
taskset -c 0 /usr/sbin/nginx -c "$work/cache.conf" -p "$work" -e "$work/cache-error.log"

# --- Varnish ------------------------------------------------------------------------
sed -e "s#@ORIGIN@#$origin#g" "$here/compare-varnish.vcl" > "$work/varnish.vcl"
taskset -c 0 varnishd -a "127.0.0.1:$v_http" -f "$work/varnish.vcl" -s malloc,256m \
  -n "$work/varnish" -P "$work/varnish.pid" \
  -p thread_pools=1 -p thread_pool_min=10 -p thread_pool_max=200 >/dev/null

wait_up() { for _ in $(seq 200); do curl -fsko /dev/null "$1" && return 0; sleep 0.05; done; echo "not up: $1" >&2; exit 1; }
wait_up "http://127.0.0.1:$o_http/1k.txt"; wait_up "https://127.0.0.1:$o_https/1k.txt"
wait_up "http://127.0.0.1:$n_http/1k.txt"; wait_up "http://127.0.0.1:$v_http/1k.txt"

# Server processes: Outpost; the nginx cache's master + worker; every varnishd of ours.
pids_of() {
  case $1 in
    outpost) cat "$work/outpost.pid" ;;
    nginx) { cat "$work/cache.pid"; pgrep -P "$(cat "$work/cache.pid")"; } | tr '\n' ' ' ;;
    varnish) pgrep -f "varnishd.*$work/varnish" | tr '\n' ' ' ;;
    origin) { cat "$work/origin.pid"; pgrep -P "$(cat "$work/origin.pid")"; } | tr '\n' ' ' ;;
  esac
}
cpu_ticks() { local t=0; for p in $*; do t=$((t + $(awk '{print $14+$15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo $t; }
peak_rss_mib() { local m=0; for p in $*; do r=$(awk '/VmHWM/{print $2}' "/proc/$p/status" 2>/dev/null || echo 0); [ "${r:-0}" -gt "$m" ] && m=$r; done; echo $((m / 1024)); }

warm() { for _ in 1 2 3; do curl -sko /dev/null "$@"; done; }
for base in "http://127.0.0.1:$o_http" "https://127.0.0.1:$o_https" "http://127.0.0.1:$n_http" \
  "https://127.0.0.1:$n_https" "http://127.0.0.1:$v_http"; do
  for f in 1k.txt 100k.txt 1m.txt hook/1k.txt html/page.html; do warm "$base/$f"; done
done
cat > "$work/mixed.lua" <<'LUA'
local n = 0
request = function()
  n = n + 1
  if n % 10 == 0 then return wrk.format("GET", "/nocache/1k.txt") end
  return wrk.format("GET", "/1k.txt")
end
LUA

# run_cell TARGET KIND URL [wrk args…] -> "rps p50 p99 cpu_s_per_10k rss_mib gen_cpu"
# gen_cpu is the load generator's share of its CPU: near 100 %, the generator, not
# the server, bounds the cell's rate (compare CPU per request there instead).
run_cell() {
  local target=$1 kind=$2 url=$3; shift 3
  local pids; pids=$(pids_of "$target")
  local before; before=$(cpu_ticks $pids)
  local out rps p50 p99 n
  local TIMEFORMAT="%U %S %R"
  if [ "$kind" = h2 ]; then
    { time out=$(taskset -c 1 h2load -D "$dur" -c 16 -m 8 -t 1 "$url" 2>/dev/null); } 2>"$work/gen.time"
    rps=$(awk '/^finished in/{gsub(",","",$4); print $4}' <<<"$out")
    n=$(awk '/^requests:/{print $8}' <<<"$out")
    p50=$(awk '/^time for request:/{print $6}' <<<"$out")   # h2load gives mean, not p50
    p99="-"
  else
    { time out=$(taskset -c 1 wrk -t1 -c64 -d"${dur}s" --latency "$@" "$url" 2>/dev/null); } 2>"$work/gen.time"
    rps=$(awk '/Requests\/sec/{print $2}' <<<"$out")
    n=$(awk '/requests in/{print $1}' <<<"$out")
    p50=$(awk '$1=="50%"{print $2}' <<<"$out"); p99=$(awk '$1=="99%"{print $2}' <<<"$out")
    local errs; errs=$(awk '/Non-2xx|Socket errors/' <<<"$out")
    [ -z "$errs" ] || echo "  ($target $url: $errs)" >&2
  fi
  local after; after=$(cpu_ticks $pids)
  local cpu; cpu=$(python3 -c "n=${n:-0}; print(f'{($after-$before)/100*10000/n:.2f}' if n else '-')")
  local gen; gen=$(awk '{ if ($3 > 0) printf "%.0f%%", ($1 + $2) * 100 / $3; else print "-" }' "$work/gen.time")
  echo "$rps $p50 $p99 $cpu $(peak_rss_mib $pids) ${gen:--}"
}

ratio() { python3 -c "a,b='$1','$2'; print(f'{float(a)/float(b):.2f}' if b not in ('','-') and a not in ('','-') else '-')"; }
fmt() { python3 -c "print(f'{float(\"$1\"):,.0f}'.replace(',', ' ') if '$1' not in ('','-') else '-')"; }

echo "| workload | target | req/s | p50 | p99 | CPU s / 10k req | peak RSS MiB | load generator CPU | Outpost ÷ this |"
echo "|---|---|---|---|---|---|---|---|---|"
row() { # workload target result outpost_rps
  read -r rps p50 p99 cpu rss gen <<<"$3"
  local r="-"; [ "$2" = Outpost ] || r=$(ratio "$4" "$rps")
  echo "| $1 | $2 | $(fmt "$rps") | $p50 | $p99 | $cpu | $rss | $gen | $r |"
}
wanted() { [[ "$1" =~ ${CELLS:-.} ]]; }
cell3() { # workload path [wrk args…]: Outpost, nginx, Varnish over plain HTTP/1.1 keep-alive
  local name=$1 path=$2; shift 2
  wanted "$name" || return 0
  local o n v
  o=$(run_cell outpost wrk "http://127.0.0.1:$o_http$path" "$@")
  n=$(run_cell nginx wrk "http://127.0.0.1:$n_http$path" "$@")
  v=$(run_cell varnish wrk "http://127.0.0.1:$v_http$path" "$@")
  local orps; orps=$(cut -d' ' -f1 <<<"$o"); last_orps=$orps
  row "$name" Outpost "$o" "$orps"; row "$name" "nginx proxy_cache" "$n" "$orps"; row "$name" Varnish "$v" "$orps"
}
cell_tls() { # workload path kind [args…]: Outpost vs nginx over TLS
  local name=$1 path=$2 kind=$3; shift 3
  wanted "$name" || return 0
  local o n
  o=$(run_cell outpost "$kind" "https://127.0.0.1:$o_https$path" "$@")
  n=$(run_cell nginx "$kind" "https://127.0.0.1:$n_https$path" "$@")
  local orps; orps=$(cut -d' ' -f1 <<<"$o")
  row "$name" Outpost "$o" "$orps"; row "$name" "nginx proxy_cache" "$n" "$orps"
}

cell3 "HIT 1 KiB" /1k.txt
cell3 "HIT 100 KiB" /100k.txt
cell3 "HIT 1 MiB" /1m.txt
cell3 "MISS 1 KiB (no-store)" /nocache/1k.txt
if wanted "MISS 1 KiB (no-store)"; then
  d=$(run_cell origin wrk "http://127.0.0.1:$origin/nocache/1k.txt")
  row "MISS 1 KiB (no-store)" "origin directly" "$d" "$last_orps"
fi
cell_tls "HTTPS HIT 1 KiB, keep-alive" /1k.txt wrk
cell_tls "HTTPS HIT 1 KiB, new connection each" /1k.txt wrk -H "Connection: close"
cell_tls "HTTP/2 HIT 1 KiB (h2load -c16 -m8; p50 column: mean)" /1k.txt h2
cell3 "mixed 90% HIT / 10% MISS" / -s "$work/mixed.lua"
cell3 "HIT + header rewrite (JS hook / add_header / VCL)" /hook/1k.txt
cell3 "HIT + HTML rewrite 60 KiB (profile / sub_filter / none)" /html/page.html
echo
echo "A load generator near 100 % of its CPU bounds that row's rate: compare the servers' CPU per request there."
echo "Machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)); wrk/h2load on CPU 1, servers and origin on CPU 0; ${dur} s per cell; $(date -u +%F)."
