#!/usr/bin/env bash
# Installs what sluice needs to build and test (sudo when not root): the
# Debian packages, Debian's Chromium for the dashboard's browser test, and
# the npm packages of web/ (the dashboard's bundler, chart library and
# playwright-core) -- `npm ci`, only when web/node_modules is missing or
# older than web/package-lock.json.  The machine's own node and npm are
# used; Debian's nodejs and npm only where there are none.
set -euo pipefail
cd "$(dirname "$0")/.."
pkgs=(build-essential cmake pkg-config libxxhash-dev librocksdb-dev libyaml-dev libmicrohttpd-dev libcjson-dev curl python3 python3-dev librdkafka-dev kcat libpq-dev libpg-query-dev postgresql clang libclang-rt-14-dev chromium)
command -v node >/dev/null || pkgs+=(nodejs)
command -v npm >/dev/null || pkgs+=(npm)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi
# npm writes node_modules/.package-lock.json on every install: older than
# the lockfile means the lockfile changed since
if [ ! -e web/node_modules/.package-lock.json ] || [ web/package-lock.json -nt web/node_modules/.package-lock.json ]; then
  echo "deps.sh: npm ci --prefix web (no install scripts: none is needed)"
  npm ci --prefix web --no-audit --no-fund --prefer-offline --ignore-scripts
fi
