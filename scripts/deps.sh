#!/usr/bin/env bash
# Installs the Debian packages sluice needs to build and test (sudo when not root).
set -euo pipefail
pkgs=(build-essential cmake pkg-config libxxhash-dev librocksdb-dev libyaml-dev libmicrohttpd-dev libcjson-dev libcurl4-openssl-dev curl clang libclang-rt-14-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
