#!/usr/bin/env bash
# README command 1: install what is missing, build, and start one member exactly like
# `etcd` with no flags (client 127.0.0.1:2379, peer 127.0.0.1:2380, data dir ./default.etcd).
# Extra arguments are passed to etcdpp (e.g. --name, --data-dir, --listen-client-urls).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/build.sh" >&2
exec "$here/build/bin/etcdpp" "$@"
