#!/usr/bin/env bash
# Redeploying one hook many times without a restart: N deploys through the admin API
# (`PUT /scripts/NAME`), each followed by requests to the new version, one JS thread.
# Prints, every STEP deploys, the process's RSS and the slowest of the requests after
# the deploys in that step (each dropped version's boa context leaves part of itself in
# its JS thread's heap; the pool replaces a thread that dropped many, README "Known
# limits"). Bounded: N deploys and 4 N requests on 127.0.0.1 only.
#   usage: benches/load/redeploys.sh [N] [STEP]
n=${1:-300}
step=${2:-50}
dur=1
. "$(dirname "$0")/common.sh"
origin_port=$(free_port); port=$(free_port); admin=$(free_port)
nginx_origin "$origin_port" "expires 1h;"
hook() { # version
  cat <<JS
// Version $1: the kind of small hook a team redeploys all day.
export default {
  async fetch(request) {
    const r = await fetch(request);
    const out = new Response(r.body, r);
    out.headers.set("x-version", "$1");
    return out;
  },
};
JS
}
hook 0 > "$work/hook.js"
cat > "$work/outpost.yaml" <<YAML
listen: { http: "127.0.0.1:$port" }
admin: { listen: "127.0.0.1:$admin" }
server: { threads: 1 }
log: { access_log: false }
sites:
  - name: bench
    default: true
    origins: ["http://127.0.0.1:$origin_port"]
    script: $work/hook.js
YAML
taskset -c 0 "$bin" run --config "$work/outpost.yaml" >"$work/outpost.log" 2>&1 &
pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$admin/status" >/dev/null && break; sleep 0.1; done
curl -sf -o /dev/null "http://127.0.0.1:$port/1k.txt"
rss() { awk '/VmRSS/{print int($2/1024)}' "/proc/$pid/status"; }
echo "| deploys | RSS (MiB) | slowest request after a deploy in the step (ms) |"
echo "|---|---|---|"
echo "| 0 | $(rss) | – |"
worst=0
for v in $(seq 1 "$n"); do
  hook "$v" > "$work/next.js"
  code=$(curl -s -o "$work/deploy.out" -w '%{http_code}' -X PUT "http://127.0.0.1:$admin/scripts/hook.js" --data-binary "@$work/next.js")
  [ "$code" = 200 ] || { echo "deploy $v failed: $code $(cat "$work/deploy.out")"; exit 1; }
  for _ in 1 2 3 4; do
    t=$(curl -s -o /dev/null -w '%{time_total}' "http://127.0.0.1:$port/1k.txt")
    worst=$(python3 -c "print(max($worst, round($t * 1000, 1)))")
  done
  got=$(curl -s -D - -o /dev/null "http://127.0.0.1:$port/1k.txt" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-version"{print $2}')
  [ "$got" = "$v" ] || { echo "version $v not serving (got '$got')"; exit 1; }
  if [ $((v % step)) -eq 0 ]; then
    echo "| $v | $(rss) | $worst |"
    worst=0
  fi
done
