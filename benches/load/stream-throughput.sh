#!/usr/bin/env bash
# Web Streams throughput through a hook: a 100 MiB body fetched from an nginx origin
# and passed on by the script (1) unchanged, `new Response(r.body, r)`; (2) through an
# IdentityTransformStream; (3) through a JS TransformStream that uppercases ASCII
# byte by byte. Beside each, Cloudflare's workerd runs the same script unmodified
# (its fetch() to the same origin). One server at a time on CPU 0 (with the origin),
# curl on CPU 1; MiB/s from three downloads each, peak RSS per server. The script
# CPU limit is raised to 60 s: case 3 is CPU-bound by design.
# Bounded: 18 downloads of 100 MiB on 127.0.0.1 only.
#   usage: benches/load/stream-throughput.sh
. "$(dirname "$0")/common.sh"
origin_port=$(free_port)
nginx_origin "$origin_port"
head -c $((100 << 20)) /dev/zero | tr '\0' 'x' > "$work/www/100m.bin"
cat > "$work/pass.js" <<'JS'
export default { async fetch(request) { const r = await fetch(request); return new Response(r.body, r); } };
JS
cat > "$work/identity.js" <<'JS'
export default {
  async fetch(request, env, ctx) {
    const r = await fetch(request);
    const { readable, writable } = new IdentityTransformStream();
    ctx.waitUntil(r.body.pipeTo(writable));
    return new Response(readable, r);
  },
};
JS
cat > "$work/upper.js" <<'JS'
export default {
  async fetch(request) {
    const r = await fetch(request);
    const upper = new TransformStream({
      transform(chunk, controller) {
        const out = new Uint8Array(chunk);
        for (let i = 0; i < out.length; i++) if (out[i] >= 97 && out[i] <= 122) out[i] -= 32;
        controller.enqueue(out);
      },
    });
    return new Response(r.body.pipeThrough(upper), r);
  },
};
JS
download() { # url -> MiB/s (best of three)
  local best=0
  for _ in 1 2 3; do
    local t; t=$(taskset -c 1 curl -s -o /dev/null -w '%{time_total}' "$1")
    best=$(python3 -c "print(max($best, 100/$t))")
  done
  printf '%.0f' "$best"
}
run_outpost() { # label, script
  local port; port=$(free_port)
  cat > "$work/outpost-$port.yaml" <<YAML
listen: { http: "127.0.0.1:$port" }
server: { threads: 1, script_cpu_limit: 60s }
cache: { memory: 0 }
sites:
  - default: true
    origins: ["http://127.0.0.1:$origin_port"]
    script: $2
YAML
  taskset -c 0 "$bin" run --config "$work/outpost-$port.yaml" >"$work/outpost-$port.log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do curl -fso /dev/null "http://127.0.0.1:$port/1k.txt" && break; sleep 0.1; done
  local rate; rate=$(download "http://127.0.0.1:$port/100m.bin")
  local rss; rss=$(awk '/VmHWM/{printf "%.0f MiB", $2/1024}' "/proc/$pid/status")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  echo "$1|$rate|$rss"
}
run_workerd() { # label, script
  local port; port=$(free_port)
  start_workerd "$port" "$2" "$origin_port"
  local pid=$workerd_pid
  local rate; rate=$(download "http://127.0.0.1:$port/100m.bin")
  local rss; rss=$(awk '/VmHWM/{printf "%.0f MiB", $2/1024}' "/proc/$pid/status")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  echo "$1|$rate|$rss"
}
echo "| 100 MiB body through a hook | Outpost MiB/s | peak RSS | workerd MiB/s | peak RSS | Outpost ÷ workerd |"
echo "|---|---|---|---|---|---|"
for case in "pass|new Response(r.body, r)" "identity|IdentityTransformStream" "upper|JS TransformStream, uppercase ASCII"; do
  IFS='|' read -r file label <<<"$case"
  IFS='|' read -r _ orate orss <<<"$(run_outpost "$label" "$work/$file.js")"
  IFS='|' read -r _ wrate wrss <<<"$(run_workerd "$label" "$work/$file.js")"
  echo "| $label | $orate | $orss | $wrate | $wrss | $(python3 -c "print(f'{$orate/max($wrate,1):.2f}')") |"
done
