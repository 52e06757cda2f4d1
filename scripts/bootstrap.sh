#!/usr/bin/env bash
# Installs the Debian packages rpctrace needs to build and test, and nothing
# else. Idempotent: when everything is already installed it only asks dpkg
# (no apt-get update, no network), so `make` can run it every time.
#
# To add a dependency, add it to RPCT_PACKAGES below.
set -euo pipefail

# chromium and fonts-dejavu-core: tests/browser renders `rpctrace html`'s page
# headless and takes the README's screenshot (docs/waterfall.png).
RPCT_PACKAGES="build-essential cmake pkg-config git libgrpc-dev libprotobuf-c-dev protobuf-c-compiler libcmocka-dev valgrind chromium fonts-dejavu-core"

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "bootstrap: dpkg-query not found; this script supports Debian (bookworm) only." >&2
  echo "bootstrap: install these packages by other means: ${RPCT_PACKAGES}" >&2
  exit 1
fi

# A removed package can linger as "deinstall ok config-files"; only
# "install ok installed" counts (once per architecture for multi-arch ones).
is_installed() {
  local status
  # shellcheck disable=SC2016 # ${Status} is dpkg-query's field, not the shell's
  status="$(dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null || true)"
  [[ "${status}" == *"install ok installed"* ]]
}

missing=()
for pkg in ${RPCT_PACKAGES}; do
  is_installed "${pkg}" || missing+=("${pkg}")
done

if ((${#missing[@]} == 0)); then
  echo "bootstrap: all dependencies present"
  exit 0
fi

# Run as root directly, or through sudo. Without a terminal (CI) sudo must
# not wait for a password: -n makes it fail instead.
if ((EUID == 0)); then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  if [[ -t 0 ]]; then
    as_root=(sudo)
  else
    as_root=(sudo -n)
  fi
else
  echo "bootstrap: missing packages: ${missing[*]}" >&2
  echo "bootstrap: not root and sudo is not available; as root run:" >&2
  echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi

# A fresh machine may still be running its own apt jobs at boot: wait for the
# dpkg lock rather than failing at once.
apt_opts=(-o DPkg::Lock::Timeout=600)
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" update -q </dev/null
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" install -y -q \
  --no-install-recommends "${missing[@]}" </dev/null

# apt-get succeeding does not prove every package got in (e.g. a name that
# only exists in another release); check again.
still_missing=()
for pkg in "${missing[@]}"; do
  is_installed "${pkg}" || still_missing+=("${pkg}")
done
if ((${#still_missing[@]} > 0)); then
  echo "bootstrap: still missing after apt-get install: ${still_missing[*]}" >&2
  exit 1
fi

echo "bootstrap: installed ${missing[*]}"
