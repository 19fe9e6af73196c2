#!/usr/bin/env bash
# HTML rewrite through the real proxy: one ~60 KiB docs page (tests/fixtures, main
# section repeated) served by nginx as a 50 MiB stream (the page repeated), fetched
# with curl through Outpost with no rewrite, with a declarative profile
# (rewrite_attribute on a[href]) and with a JS hook's HTMLRewriter (same a[href] edit
# on a fetch()ed page); then the same hook in Cloudflare's workerd fetching from nginx
# directly, as the reference. Then a 200 MiB page through the profile, with Outpost's
# peak RSS before and after. Everything on 127.0.0.1, every transfer bounded by curl
# --max-time. Prints a markdown table.
#   usage: benches/load/html-rewrite.sh
dur=0
. "$(dirname "$0")/common.sh"
origin_port=$(free_port)
nginx_origin "$origin_port" "location / { default_type text/html; }"
python3 - "$work/www" <<'PY'
import sys, pathlib
www = pathlib.Path(sys.argv[1])
fixture = pathlib.Path("tests/fixtures/docs-page.html").read_text()
start = fixture.index("<main>") + len("<main>"); end = fixture.index("</main>")
main = fixture[start:end]; body = ""
while len(fixture) + len(body) < 60 << 10: body += main
page = fixture[:start] + body + fixture[end:]
for name, size in (("big.html", 50 << 20), ("huge.html", 200 << 20)):
    data = (page * (size // len(page) + 1))[:size]
    for d in ("plain", "decl", "js"):
        (www / d).mkdir(exist_ok=True)
        (www / d / name).write_text(data)
print(f"page {len(page) >> 10} KiB, {page.count('<a href')} links", file=sys.stderr)
PY
cat > "$work/rewrite.js" <<'JS'
export default {
  async fetch(request) {
    const origin = globalThis.ORIGIN;
    const page = await fetch(origin ? origin + new URL(request.url).pathname.replace("/js/", "/plain/") : request);
    return new HTMLRewriter()
      .on("a[href]", {
        element(el) {
          const href = el.getAttribute("href");
          if (href.includes("http://")) el.setAttribute("href", href.replaceAll("http://", "https://"));
        },
      })
      .transform(page);
  },
};
JS
cat > "$work/rules.yaml" <<'YAML'
- match: "/decl/*"
  actions: { html_rewrite: links }
- match: "/js/*"
  actions: { script: rewrite.js }
YAML
port=$(free_port)
cat > "$work/outpost.yaml" <<YAML
listen: { http: "127.0.0.1:$port" }
server: { script_cpu_limit: 600s }
log: { access_log: false }
sites:
  - default: true
    origins: ["http://127.0.0.1:$origin_port"]
    cache: false
    rules: rules.yaml
    html_profiles:
      links:
        elements:
          - select: "a[href]"
            rewrite_attribute: { name: href, from: "http://", to: "https://" }
YAML
taskset -c 0 "$bin" run --config "$work/outpost.yaml" >"$work/outpost.log" 2>&1 &
pid=$!
for _ in $(seq 100); do curl -fso /dev/null "http://127.0.0.1:$port/plain/big.html" --max-time 60 && break; sleep 0.1; done
fetch() { # URL -> "MiB/s"
  curl -fs -o /dev/null --max-time 300 -w '%{size_download} %{time_total}\n' "$1" |
    awk '{printf "%.1f", $1 / 1048576 / $2}'
}
echo "| path | MiB/s |"
echo "|---|---|"
echo "| Outpost, no rewrite | $(fetch "http://127.0.0.1:$port/plain/big.html") |"
echo "| Outpost, declarative profile | $(fetch "http://127.0.0.1:$port/decl/big.html") |"
echo "| Outpost, JS HTMLRewriter | $(fetch "http://127.0.0.1:$port/js/big.html") |"
wport=$(free_port)
wd=$(bash tests/differential/install-workerd.sh)
mkdir -p "$work/wd"
sed "s|globalThis.ORIGIN|\"http://127.0.0.1:$origin_port\"|" "$work/rewrite.js" > "$work/wd/worker.js"
cat > "$work/wd/config.capnp" <<CAPNP
using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ (name = "main", worker = .w), (name = "net", network = (allow = ["local", "private", "public"])) ],
  sockets = [ (name = "http", address = "127.0.0.1:$wport", http = (), service = "main") ],
);
const w :Workerd.Worker = (
  modules = [ (name = "worker.js", esModule = embed "worker.js") ],
  compatibilityDate = "2024-09-23",
  globalOutbound = "net",
);
CAPNP
taskset -c 0 "$wd" serve "$work/wd/config.capnp" >"$work/wd/log" 2>&1 &
wpid=$!
for _ in $(seq 100); do curl -fso /dev/null "http://127.0.0.1:$wport/js/big.html" --max-time 60 && break; sleep 0.2; done
echo "| workerd, JS HTMLRewriter (reference) | $(fetch "http://127.0.0.1:$wport/js/big.html") |"
kill "$wpid"
before=$(awk '/VmHWM/{print int($2/1024)}' "/proc/$pid/status")
rate=$(fetch "http://127.0.0.1:$port/decl/huge.html")
after=$(awk '/VmHWM/{print int($2/1024)}' "/proc/$pid/status")
echo
echo "200 MiB page through the declarative profile: $rate MiB/s; Outpost peak RSS $before MiB before, $after MiB after"
