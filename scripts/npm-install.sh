#!/usr/bin/env bash
# Installs the npm packages of a Node folder of the tests exactly as pinned
# in its package-lock.json, with `npm ci`: by default the interop tests'
# (tests/interop/node: @grpc/grpc-js, @opentelemetry/otlp-transformer, ...);
# `make bench` passes tests/bench/node (grpc-js and the OpenTelemetry gRPC
# instrumentation, the Node peer of the benchmarks). Idempotent: does
# nothing when node_modules is already newer than package.json and
# package-lock.json, so `make build` can run it every time.
#
#   scripts/npm-install.sh [--force] [DIR]    (DIR relative to the repository)
#
# To change a dependency, edit DIR/package.json, run
# `npm install --ignore-scripts` in that folder and commit both files.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
force=0
rel="tests/interop/node"
for arg in "$@"; do
  case "${arg}" in
    --force) force=1 ;;
    -*)
      echo "usage: scripts/npm-install.sh [--force] [DIR]" >&2
      exit 64
      ;;
    *) rel="${arg}" ;;
  esac
done
dir="${here}/../${rel}"
if [[ ! -f "${dir}/package-lock.json" ]]; then
  echo "npm-install: ${rel}/package-lock.json not found" >&2
  exit 64
fi
dir="$(cd "${dir}" && pwd)"
stamp="${dir}/node_modules/.rpct-npm-install-stamp"
if ((force)); then
  rm -f "${stamp}"
fi

if [[ -f "${stamp}" && "${stamp}" -nt "${dir}/package-lock.json" && "${stamp}" -nt "${dir}/package.json" ]]; then
  echo "npm-install: ${dir}/node_modules up to date"
  exit 0
fi

for tool in node npm; do
  if ! command -v "${tool}" >/dev/null 2>&1; then
    echo "npm-install: '${tool}' not found; the Node tests need Node.js >= 20 and npm" >&2
    echo "npm-install: on Debian: apt-get install nodejs npm" >&2
    exit 1
  fi
done
node_major="$(node -p 'process.versions.node.split(".")[0]')"
if ((node_major < 20)); then
  echo "npm-install: Node.js $(node --version) is too old; the Node tests need >= 20" >&2
  exit 1
fi

echo "npm-install: npm ci in ${dir}"
# --ignore-scripts: nothing here needs building, and no package runs code at
# install time. No audit or funding requests: only the registry's tarballs.
(cd "${dir}" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=warn)

# Every direct dependency must be there (npm ci can succeed with a lock
# file that does not match package.json on some npm versions).
# shellcheck disable=SC2016 # JavaScript, not shell
missing="$(cd "${dir}" && node -e '
  const deps = Object.keys(require("./package.json").dependencies || {});
  const fs = require("fs");
  console.log(deps.filter((d) => !fs.existsSync(`node_modules/${d}/package.json`)).join(" "));')"
if [[ -n "${missing}" ]]; then
  echo "npm-install: missing after npm ci in ${dir}: ${missing}" >&2
  exit 1
fi
if [[ "${rel}" == "tests/interop/node" ]]; then
  root_js="${dir}/node_modules/@opentelemetry/otlp-transformer/build/src/generated/root.js"
  if [[ ! -f "${root_js}" ]]; then
    echo "npm-install: ${root_js} is missing after npm ci" >&2
    exit 1
  fi
fi
touch "${stamp}"
echo "npm-install: done"
