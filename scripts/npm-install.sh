#!/usr/bin/env bash
# Installs the npm packages of the Node interop tests (tests/interop/node:
# @grpc/grpc-js, @opentelemetry/otlp-transformer, ...) exactly as pinned in
# its package-lock.json, with `npm ci`. Idempotent: does nothing when
# node_modules is already newer than package.json and package-lock.json, so
# `make build` can run it every time.
#
# To change a dependency, edit tests/interop/node/package.json, run
# `npm install --ignore-scripts` in that folder and commit both files.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dir="${here}/../tests/interop/node"
dir="$(cd "${dir}" && pwd)"
stamp="${dir}/node_modules/.rpct-npm-install-stamp"

if [[ "${1:-}" == "--force" ]]; then
  rm -f "${stamp}"
elif [[ $# -gt 0 ]]; then
  echo "usage: scripts/npm-install.sh [--force]" >&2
  exit 64
fi

if [[ -f "${stamp}" && "${stamp}" -nt "${dir}/package-lock.json" && "${stamp}" -nt "${dir}/package.json" ]]; then
  echo "npm-install: ${dir}/node_modules up to date"
  exit 0
fi

for tool in node npm; do
  if ! command -v "${tool}" >/dev/null 2>&1; then
    echo "npm-install: '${tool}' not found; the interop tests need Node.js >= 20 and npm" >&2
    echo "npm-install: on Debian: apt-get install nodejs npm" >&2
    exit 1
  fi
done
node_major="$(node -p 'process.versions.node.split(".")[0]')"
if ((node_major < 20)); then
  echo "npm-install: Node.js $(node --version) is too old; the interop tests need >= 20" >&2
  exit 1
fi

echo "npm-install: npm ci in ${dir}"
# --ignore-scripts: nothing here needs building, and no package runs code at
# install time. No audit or funding requests: only the registry's tarballs.
(cd "${dir}" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=warn)

root_js="${dir}/node_modules/@opentelemetry/otlp-transformer/build/src/generated/root.js"
if [[ ! -f "${root_js}" ]]; then
  echo "npm-install: ${root_js} is missing after npm ci" >&2
  exit 1
fi
touch "${stamp}"
echo "npm-install: done"
