#!/usr/bin/env bash
# Installs what is missing (Debian 12 packages only), then builds into build/
# (Release; every executable in build/bin/). Idempotent and fast when nothing changed.
#
#   scripts/build.sh                 Release build in build/
#   BUILD_DIR=build-asan SANITIZE=address,undefined BUILD_TYPE=RelWithDebInfo scripts/build.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

PKGS=(build-essential cmake ninja-build pkg-config ccache git
      protobuf-compiler protobuf-compiler-grpc libprotobuf-dev libgrpc++-dev libgrpc-dev libabsl-dev
      liblmdb-dev libspdlog-dev libfmt-dev libyaml-cpp-dev libssl-dev libgtest-dev libgmock-dev
      etcd-client python3 python3-etcd3 clang-format procps
      patroni postgresql-15 python3-etcd3gw)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "build.sh: installing ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Debian's etcd-server (3.4.23) is the reference some tests use (an etcd bbolt
# snapshot to import, the gateway proxy check). Its package would start an
# etcd on 127.0.0.1:2379 on a systemd machine, where our quick start runs:
# policy-rc.d forbids that start during the install, and the unit stays off.
if ! dpkg-query -W -f='${Status}' etcd-server 2>/dev/null | grep -q "install ok installed"; then
  echo "build.sh: installing etcd-server (reference for tests; its service is not started)" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  placed_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod 755 /usr/sbin/policy-rc.d
    placed_policy=1
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends etcd-server
  [ "$placed_policy" = 1 ] && $SUDO rm -f /usr/sbin/policy-rc.d
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now etcd >/dev/null 2>&1 || true
  fi
fi

BUILD_DIR=${BUILD_DIR:-build}
BUILD_TYPE=${BUILD_TYPE:-Release}
SANITIZE=${SANITIZE:-}
WERROR=OFF; [ "${CI:-}" = "true" ] && WERROR=ON
# ccache: a clean clone (CI) hits the cache as long as paths are made relative to the repo.
export CCACHE_BASEDIR="$ROOT"
export CCACHE_NOHASHDIR=true
export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-5G}

if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE="$BUILD_TYPE" \
    -DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
    -DETCDPP_SANITIZE="$SANITIZE" -DETCDPP_WERROR="$WERROR" >/dev/null
else
  cmake -S . -B "$BUILD_DIR" -DETCDPP_WERROR="$WERROR" >/dev/null
fi
# Two cores: -j2 keeps memory and the machine's other work sane.
cmake --build "$BUILD_DIR" -j "${JOBS:-$(nproc)}"
