# Sourced by scripts/quickstart.sh and scripts/test.sh: installs missing Debian packages.
#   need PACKAGE WHAT_SHOWS_IT…   queue PACKAGE unless the command (or /absolute path) exists
#   install_needed                install what was queued (as root, or through sudo)

needed=()
need() {
  local package=$1 shows=$2
  if [[ $shows == /* ]]; then [ -e "$shows" ]; else command -v "$shows" >/dev/null 2>&1; fi \
    || needed+=("$package")
}

apt_install() {
  local sudo=()
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || {
      echo "missing $*: install them as root with: apt-get install $*" >&2
      exit 1
    }
    sudo=(sudo)
  fi
  echo "installing $* (apt-get)" >&2
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

install_needed() {
  [ ${#needed[@]} -eq 0 ] || apt_install "${needed[@]}"
  needed=()
}

# Building needs a C toolchain and cmake (pingora's zlib-ng) besides Rust.
need_build_tools() {
  need cmake cmake; need make make; need gcc gcc; need g++ g++; need pkg-config pkg-config
}

[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
