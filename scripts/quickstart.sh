#!/usr/bin/env bash
# The README's first command: installs the build tools a fresh Debian machine lacks,
# then builds and runs Outpost on its built-in quickstart (http://127.0.0.1:8080/).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
need_build_tools
install_needed
exec cargo run --release --locked -- run "$@"
