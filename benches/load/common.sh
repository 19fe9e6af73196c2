# Shared set-up for the load scripts (sourced, not run): installs nginx and wrk from
# Debian if missing, builds Outpost, makes a work directory that nginx workers can read,
# cleans up every process on exit, and provides free_port, run_wrk, nginx_origin,
# docs_page and start_workerd.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
# OUTPOST_BIN runs a given binary (e.g. a copy of an earlier build, for before/after).
[ -n "${OUTPOST_BIN:-}" ] || cargo build --release --locked -q
bin=${OUTPOST_BIN:-target/release/outpost}

work=$(mktemp -d)
# nginx workers run as www-data: the files they serve must be readable by it.
chmod 755 "$work"
cleanup() {
  kill $(jobs -p) 2>/dev/null || true
  for p in "$work"/*.pid; do [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# run_wrk URL -> "requests/s p50 p99"; wrk pinned to CPU 1, one thread, 64 connections.
run_wrk() { taskset -c 1 wrk -t1 -c64 -d"${dur}s" --latency "$1" | awk '/Requests\/sec/{rps=$2} /50%/{p50=$2} /99%/{p99=$2} END{printf "%s %s %s\n", rps, p50, p99}'; }
# nginx_origin PORT [DIRECTIVES]: nginx serving $work/www (which holds a 1 KiB 1k.txt)
# on 127.0.0.1:PORT, pinned to CPU 0; DIRECTIVES go into its server block.
nginx_origin() {
  mkdir -p "$work/www"
  head -c 1024 /dev/zero | tr '\0' 'x' > "$work/www/1k.txt"
  cat > "$work/origin.conf" <<NGINX
worker_processes 1;
pid $work/origin.pid;
error_log $work/origin-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 100000;
  server { listen 127.0.0.1:$1; root $work/www; ${2:-} }
}
NGINX
  taskset -c 0 /usr/sbin/nginx -c "$work/origin.conf" -p "$work" -e "$work/origin-error.log"
}
# docs_page FILE: the ~60 KiB HTML page the benchmarks share (the docs-page fixture with
# its <main> repeated; benches/support/page.rs builds the same one).
docs_page() {
  python3 - "$1" <<'PY'
import sys
f = open("tests/fixtures/docs-page.html").read()
a = f.index("<main>") + len("<main>"); b = f.index("</main>")
body = ""
while len(f) + len(body) < 60 << 10:
    body += f[a:b]
open(sys.argv[1], "w").write(f[:a] + body + f[b:])
PY
}
# start_workerd PORT SCRIPT ORIGIN_PORT: Cloudflare's workerd serving SCRIPT (a module
# worker, run unmodified) on 127.0.0.1:PORT, pinned to CPU 0, its fetch() going to the
# origin on ORIGIN_PORT (globalOutbound). Waits until it answers; sets workerd_pid.
start_workerd() {
  local wd; wd=$(bash tests/differential/install-workerd.sh)
  mkdir -p "$work/wd"; cp "$2" "$work/wd/worker.js"
  cat > "$work/wd/config.capnp" <<CAPNP
using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .w),
    (name = "origin", external = (address = "127.0.0.1:$3", http = ())),
  ],
  sockets = [ (name = "http", address = "127.0.0.1:$1", http = (), service = "main") ],
);
const w :Workerd.Worker = (
  modules = [ (name = "worker.js", esModule = embed "worker.js") ],
  compatibilityDate = "2024-09-23",
  globalOutbound = "origin",
);
CAPNP
  taskset -c 0 "$wd" serve "$work/wd/config.capnp" >"$work/wd/log" 2>&1 &
  workerd_pid=$!
  for _ in $(seq 200); do curl -fso /dev/null "http://127.0.0.1:$1/1k.txt" && break; sleep 0.1; done
}
