#!/usr/bin/env bash
# Installs what the test suite needs and is missing, then runs it. This is the README's
# test command and what `.ci/run` runs; extra arguments go to `cargo test`.
#
# Needs only a Debian machine with the Rust toolchain. Packages come from apt (as root,
# or through sudo), python's h2 and Pillow from pip, workerd from the npm registry (curl + tar).
#   usage: scripts/test.sh [cargo test arguments…]     e.g. scripts/test.sh --test proxy
#          scripts/test.sh --install-only            (what .ci/run does before clippy)
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/deps.sh
# What each package is for (a test whose tool is missing fails and names the package):
need_build_tools
need procps pkill                 # `kill` (also a shell builtin) for the signal tests
need ca-certificates /etc/ssl/certs/ca-certificates.crt   # fetching workerd below
need curl curl
need pebble pebble-challtestsrv   # the ACME CA tests/acme.rs issues from
need openssl openssl              # OCSP responder and legacy-TLS client (tests/tls.rs)
need redis-server redis-server    # tests/cluster.rs starts its own
need redis-tools redis-cli        # and reads what is in it
need python3 python3              # the hostile HTTP/2 client (tests/hostile_h2.rs)
had_redis=$(command -v redis-server || true)
install_needed
# The package starts a system redis on 6379; the tests start their own on free ports.
if [ -z "$had_redis" ] && command -v systemctl >/dev/null; then
  $([ "$(id -u)" = 0 ] || echo sudo) systemctl stop redis-server >/dev/null 2>&1 || true
fi

# python's h2 (the hostile HTTP/2 client) and Pillow (an independent image decoder,
# tests/images.rs) for whichever python3 is first on PATH: pip where it has one,
# else Debian's packages.
pip=(python3 -m pip install -q)
[ "$(id -u)" = 0 ] || pip+=(--user)
for module in h2:h2:python3-h2 PIL:pillow:python3-pil; do
  IFS=: read -r import pypi deb <<<"$module"
  if ! python3 -c "import $import" 2>/dev/null; then
    if python3 -m pip --version >/dev/null 2>&1; then
      echo "scripts/test.sh: installing python's $pypi with pip" >&2
      "${pip[@]}" "$pypi" 2>/dev/null || "${pip[@]}" --break-system-packages "$pypi"
    else
      apt_install "$deb"
    fi
    python3 -c "import $import" || { echo "scripts/test.sh: python3 cannot import $import" >&2; exit 1; }
  fi
done

# Cloudflare's workerd, for the differential tests (a pinned, checksummed tarball).
bash tests/differential/install-workerd.sh >/dev/null

[ "${1:-}" = --install-only ] && exit 0
exec cargo test --workspace --locked "$@"
