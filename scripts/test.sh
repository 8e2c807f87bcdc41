#!/usr/bin/env bash
# README command 2: install what is missing, build, and run the whole test suite with ctest
# (unit, deterministic simulation and end-to-end tests against the built binaries).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/build.sh"
BUILD_DIR=${BUILD_DIR:-build}
cd "$here/$BUILD_DIR"
ctest --output-on-failure --timeout 900 -j "${CTEST_JOBS:-$(nproc)}" "$@"
