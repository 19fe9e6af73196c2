#!/usr/bin/env bash
# User-space instructions per request of one Outpost (all its threads), counted by
# valgrind's callgrind: unlike req/s or CPU time, the count does not move with the
# machine's noise, so it shows a change of a few percent on a path in one run. Outpost
# (compare.sh's config, one proxy thread) runs under callgrind with instrumentation
# off; it is switched on after a warm-up of 200 requests and off after N sequential
# keep-alive requests to PATH, and the total is divided by N (a script's CPU limit is
# raised: callgrind runs code ~50x slower). Paths of the compare
# origin: /1k.txt (a memory HIT after the warm-up), /nocache/1k.txt (no-store: the
# hit-for-pass relay) and /hook/1k.txt (the HIT through compare.sh's header-rewrite
# hook). OUT keeps callgrind's file for `callgrind_annotate`. HOOK_JS=FILE runs FILE as
# that hook instead (the step table in docs/performance.md was made so).
# Bounded: 200 + N requests on 127.0.0.1 only (about 10 s for N=2000).
#   usage: benches/load/instructions.sh [PATH] [N] [OUT]
path=${1:-/1k.txt}; n=${2:-2000}; out=${3:-}
command -v valgrind >/dev/null || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null
}
. "$(dirname "$0")/common.sh"
here=benches/load
[ -n "$out" ] || out="$work/callgrind.out"
origin=$(free_port); o_http=$(free_port); o_https=$(free_port)
nginx_origin "$origin" "expires 1h; location /nocache/ { expires off; add_header Cache-Control no-store; }"
mkdir -p "$work/www/nocache" "$work/www/hook"
cp "$work/www/1k.txt" "$work/www/nocache/1k.txt"; cp "$work/www/1k.txt" "$work/www/hook/1k.txt"
"$bin" cert self-signed localhost --cert "$work/tls.pem" --key "$work/tls.key" >/dev/null
sed -e "s#@WORK@#$work#g" -e "s#@ORIGIN@#$origin#g" -e "s#@HTTP@#$o_http#g" -e "s#@HTTPS@#$o_https#g" \
  -e "s#server: { threads: 1 }#server: { threads: 1, script_cpu_limit: 60s, script_queue_timeout: 60s }#" \
  "$here/compare-outpost.yaml" > "$work/outpost.yaml"
cp "$here/compare-rules.yaml" "$work/rules.yaml"; cp "${HOOK_JS:-$here/compare-hook.js}" "$work/hook.js"
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out" \
  "$bin" run --config "$work/outpost.yaml" >"$work/outpost.log" 2>&1 &
pid=$!; echo $pid > "$work/outpost.pid"
for _ in $(seq 600); do curl -fso /dev/null "http://127.0.0.1:$o_http$path" && break; sleep 0.1; done
ask() { # COUNT: sequential requests on one keep-alive connection
  python3 - "$o_http" "$path" "$1" <<'PY'
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
for _ in range(int(sys.argv[3])):
    c.request("GET", sys.argv[2]); r = c.getresponse(); r.read()
    assert r.status == 200, (r.status, r.getheaders())
PY
}
ask 200
callgrind_control -i on "$pid" >/dev/null 2>&1
ask "$n"
callgrind_control -i off "$pid" >/dev/null 2>&1
callgrind_control -d "$pid" >/dev/null 2>&1
kill "$pid"; wait "$pid" 2>/dev/null || true
# The dump taken above (the largest file; the one at exit holds only what followed).
dump=$(ls -S "$out"* | head -1)
total=$(callgrind_annotate "$dump" 2>/dev/null | awk '/PROGRAM TOTALS/{gsub(",","",$1); print $1}')
echo "$path: $(python3 -c "print(round($total/$n))") instructions per request ($n requests; $dump)"
