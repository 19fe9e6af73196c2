#!/usr/bin/env bash
# Memory per deployed JS hook: one Outpost with N sites (default 200), each with its
# own script (a typical small hook), one JS thread. Every site gets one request, which
# compiles its script; the growth of RSS over that, divided by N, is the cost of a warm
# script. Bounded: N requests on 127.0.0.1 only.
#   usage: benches/load/script-memory.sh [N]
n=${1:-200}
dur=1
. "$(dirname "$0")/common.sh"
origin_port=$(free_port); port=$(free_port)
nginx_origin "$origin_port"
{
  echo "listen: { http: \"127.0.0.1:$port\" }"
  echo "server: { threads: 1 }"
  echo "log: { access_log: false }"
  echo "sites:"
  for i in $(seq 0 "$n"); do
    cat > "$work/s$i.js" <<JS
// Site $i: an A/B bucket from a cookie, a header on the fetched response.
export default {
  async fetch(request, env) {
    const cookie = request.headers.get("cookie") || "";
    const match = /bucket=([ab])/.exec(cookie);
    const bucket = match ? match[1] : (Math.random() < 0.5 ? "a" : "b");
    const url = new URL(request.url);
    if (url.pathname === "/whoami") return Response.json({ site: $i, bucket });
    const r = await fetch(request);
    const out = new Response(r.body, r);
    out.headers.set("x-bucket", bucket);
    out.headers.set("x-site", "$i");
    return out;
  },
};
JS
    echo "  - hosts: [\"s$i.test\"]"
    echo "    origins: [\"http://127.0.0.1:$origin_port\"]"
    echo "    script: s$i.js"
  done
} > "$work/outpost.yaml"
"$bin" run --config "$work/outpost.yaml" >"${OUTPOST_LOG:-$work/outpost.log}" 2>&1 &
pid=$!
for _ in $(seq 600); do curl -fso /dev/null -H "Host: s0.test" "http://127.0.0.1:$port/whoami" && break; sleep 0.1; done
rss() { awk '/VmRSS/{print $2}' "/proc/$pid/status"; }
before=$(rss)
for i in $(seq 1 "$n"); do curl -fso /dev/null -H "Host: s$i.test" "http://127.0.0.1:$port/whoami"; done
after=$(rss)
# All of them again: warm, nothing new compiled.
for i in $(seq 1 "$n"); do curl -fso /dev/null -H "Host: s$i.test" "http://127.0.0.1:$port/whoami"; done
again=$(rss)
kill "$pid"; wait "$pid" 2>/dev/null || true
echo "| deployed scripts (1 JS thread) | RSS before | after compiling $n more | per script | after a second round |"
echo "|---|---|---|---|---|"
echo "| $n | $((before / 1024)) MiB | $((after / 1024)) MiB | $(( (after - before) / n )) KiB | $((again / 1024)) MiB |"
