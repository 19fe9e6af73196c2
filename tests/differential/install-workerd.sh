#!/usr/bin/env bash
# Installs Cloudflare's workerd (the Workers runtime) for the differential tests, from
# the npm registry's tarball of a pinned version, checked against its published sha1.
# Needs curl and tar only (no Node.js). Idempotent. Prints the binary's path.
#   usage: tests/differential/install-workerd.sh [DEST_DIR]   (default: target/workerd)
set -euo pipefail
version=1.20261117.1
sha1=af26471569a6e5ecf9e120d9526afc697194d9dc
root=$(cd "$(dirname "$0")/../.." && pwd)
dest=${1:-$root/target/workerd}
bin=$dest/$version/workerd
if [ ! -x "$bin" ]; then
  mkdir -p "$dest/$version"
  tgz=$dest/workerd-$version.tgz
  curl -fsSL --retry 3 -o "$tgz" \
    "https://registry.npmjs.org/@cloudflare/workerd-linux-64/-/workerd-linux-64-$version.tgz"
  echo "$sha1  $tgz" | sha1sum -c --quiet -
  tar -xzf "$tgz" -C "$dest/$version" --strip-components=2 package/bin/workerd
  rm -f "$tgz"
fi
echo "$bin"
