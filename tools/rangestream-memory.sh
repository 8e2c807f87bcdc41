#!/usr/bin/env bash
# Peak server RSS growth of one full read of N keys x V bytes: RangeStream vs unary Range, on
# etcdpp and on etcd (Debian's 3.4, which has no RangeStream). A measurement, not a test; the
# numbers and the command that produced them go in docs/rangestream.md.
#
#   tools/rangestream-memory.sh [keys=200000] [value_bytes=1024]
#   ETCDPP_BIN=build/bin/etcdpp ETCD_BIN=/usr/bin/etcd tools/rangestream-memory.sh 1000000
#   RESTART=0 tools/rangestream-memory.sh   # read right after the load, without a restart
#
# How: each server gets a fresh data dir and random loopback ports; the keys are loaded with
# Txns of 100 puts (32 in flight); the server is restarted (unless RESTART=0) so that the reads
# do not draw on heap the load left free; then, per read, the server's RssAnon and VmRSS are sampled
# every 5 ms (and VmHWM, reset first through /proc/PID/clear_refs "5"); growth = peak during
# the read minus the value just before it. RssAnon (heap, gRPC buffers) is the figure that
# matters: VmRSS also counts the mmapped database pages the read touches (page cache). The client drops every chunk as it arrives (RangeStream) and keeps
# the one unary response (it must). RangeStream runs before the unary Range on each server, so
# heap the unary read leaves behind cannot hide the stream's own peak.
# Needs /usr/bin/python3 with Debian's python3-etcd3 and python3-grpcio. Every process started
# here is stopped here (and dies with the script: setpriv --pdeathsig).
set -euo pipefail
cd "$(dirname "$0")/.."
KEYS=${1:-200000}
VALUE_BYTES=${2:-1024}
ETCDPP_BIN=${ETCDPP_BIN:-build/bin/etcdpp}
ETCD_BIN=${ETCD_BIN:-/usr/bin/etcd}

exec /usr/bin/python3 - "$KEYS" "$VALUE_BYTES" "$ETCDPP_BIN" "$ETCD_BIN" <<'PY'
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

import grpc
from etcd3 import etcdrpc

keys, value_bytes, etcdpp_bin, etcd_bin = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
restart = os.environ.get("RESTART", "1") != "0"
PREFIX, END = b"mem/", b"mem0"
MiB = 1024.0 * 1024.0


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def status_kib(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


class Server:
    def __init__(self, binary, name):
        self.binary, self.name = binary, name
        self.root = tempfile.mkdtemp(prefix="rangestream-mem-")
        self.log = open(os.path.join(self.root, "log"), "wb")
        self.start()

    def start(self):
        binary, name = self.binary, self.name
        self.cport, self.pport = free_port(), free_port()
        c, p = "http://127.0.0.1:%d" % self.cport, "http://127.0.0.1:%d" % self.pport
        args = [binary, "--name", name, "--data-dir", os.path.join(self.root, "data"),
                "--listen-client-urls", c, "--advertise-client-urls", c,
                "--listen-peer-urls", p, "--initial-advertise-peer-urls", p,
                "--initial-cluster", "%s=%s" % (name, p),
                "--quota-backend-bytes", str(8 * 1024 ** 3)]
        setpriv = shutil.which("setpriv")
        if setpriv:
            args = [setpriv, "--pdeathsig", "KILL", "--"] + args
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        self.channel = grpc.insecure_channel("127.0.0.1:%d" % self.cport, options=[
            ("grpc.max_receive_message_length", -1)])
        self.kv = etcdrpc.KVStub(self.channel)
        deadline = time.monotonic() + 120
        while True:
            try:
                self.kv.Range(etcdrpc.RangeRequest(key=b"health"), 5)
                break
            except grpc.RpcError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("%s did not start; log in %s" % (binary, self.root))
                time.sleep(0.2)  # readiness polling

    @property
    def pid(self):
        # setpriv execs the server: same pid.
        return self.proc.pid

    def halt(self):
        self.channel.close()
        self.proc.terminate()
        try:
            self.proc.wait(120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def restart(self):
        # Same data dir, new ports (the peer URL is not persisted in a way that matters for a
        # single member started with the same --initial-cluster name).
        self.halt()
        self.start()

    def stop(self):
        self.halt()
        self.log.close()
        shutil.rmtree(self.root, ignore_errors=True)


def load(s):
    value = b"v" * value_bytes
    inflight, t0 = [], time.monotonic()
    for start in range(0, keys, 100):
        ops = [etcdrpc.RequestOp(request_put=etcdrpc.PutRequest(key=PREFIX + b"%08d" % i,
                                                                value=value))
               for i in range(start, min(keys, start + 100))]
        inflight.append(s.kv.Txn.future(etcdrpc.TxnRequest(success=ops), 300))
        if len(inflight) >= 32:
            inflight.pop(0).result()
    for f in inflight:
        f.result()
    return time.monotonic() - t0


def measure(s, read):
    """(anon growth MiB, total RSS growth MiB, seconds, what read() returned).

    RSS counts the mmapped database pages a read touches (LMDB and bbolt both mmap their file):
    page cache, shared and reclaimable. RssAnon is the process's own memory (heap, gRPC
    buffers): the figure that grows with a buffered response."""
    pid = s.pid
    try:
        with open("/proc/%d/clear_refs" % pid, "w") as f:
            f.write("5")  # reset VmHWM to the current RSS
    except OSError:
        pass
    before_rss, before_anon = status_kib(pid, "VmRSS"), status_kib(pid, "RssAnon")
    peak = [before_rss, before_anon]
    stop = threading.Event()

    def sampler():
        while not stop.is_set():
            peak[0] = max(peak[0], status_kib(pid, "VmRSS"))
            peak[1] = max(peak[1], status_kib(pid, "RssAnon"))
            stop.wait(0.005)

    t = threading.Thread(target=sampler)
    t.start()
    t0 = time.monotonic()
    try:
        out = read()
    finally:
        secs = time.monotonic() - t0
        stop.set()
        t.join()
    hwm = status_kib(pid, "VmHWM")
    return ((peak[1] - before_anon) / 1024.0, (max(peak[0], hwm) - before_rss) / 1024.0, secs,
            out)


def read_stream(s):
    call = s.channel.unary_stream("/etcdserverpb.KV/RangeStream",
                                  request_serializer=etcdrpc.RangeRequest.SerializeToString,
                                  response_deserializer=len)  # keep sizes only
    chunks = total = 0
    for size in call(etcdrpc.RangeRequest(key=PREFIX, range_end=END), timeout=1200):
        chunks += 1
        total += size
    return "%d chunks, %.0f MiB" % (chunks, total / MiB)


def read_unary(s):
    resp = s.kv.Range(etcdrpc.RangeRequest(key=PREFIX, range_end=END), 1200)
    assert resp.count == keys and len(resp.kvs) == keys, (resp.count, len(resp.kvs))
    n = resp.ByteSize()
    del resp
    return "1 response, %.0f MiB" % (n / MiB)


rows = []
for label, binary, stream in (("etcdpp", etcdpp_bin, True), ("etcd", etcd_bin, False)):
    if not os.path.exists(binary):
        print("skip %s: %s not found" % (label, binary))
        continue
    version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout
    version = version.splitlines()[0] if version else "?"
    s = Server(binary, label)
    try:
        secs = load(s)
        print("%s (%s): loaded %d x %d B in %.1f s; after load RSS %.0f MiB, RssAnon %.0f MiB" % (
            label, version, keys, value_bytes, secs, status_kib(s.pid, "VmRSS") / 1024.0,
            status_kib(s.pid, "RssAnon") / 1024.0), flush=True)
        if restart:
            s.restart()  # the reads start from a fresh heap, not from what the load freed
            print("  restarted: RSS %.0f MiB, RssAnon %.0f MiB" % (
                status_kib(s.pid, "VmRSS") / 1024.0, status_kib(s.pid, "RssAnon") / 1024.0),
                flush=True)
        reads = [("RangeStream", read_stream)] if stream else []
        reads.append(("Range", read_unary))
        if not stream:
            rows.append((label, "RangeStream", None, None, None, "not served (etcd < 3.7)"))
        for name, fn in reads:
            anon, rss, secs, what = measure(s, lambda: fn(s))
            rows.append((label, name, anon, rss, secs, what))
            print("  %s: +%.1f MiB RssAnon, +%.0f MiB RSS, %.1f s (%s)" % (
                name, anon, rss, secs, what), flush=True)
    finally:
        s.stop()

print("\n%d keys x %d B%s\n" % (keys, value_bytes, ", server restarted after the load" if restart else ""))
print("| server | read | peak RssAnon growth | peak RSS growth | time | notes |")
print("|---|---|---|---|---|---|")
for label, read, anon, rss, secs, what in rows:
    if anon is None:
        print("| %s | %s | n/a | n/a | n/a | %s |" % (label, read, what))
    else:
        print("| %s | %s | +%.1f MiB | +%.0f MiB | %.1f s | %s |" % (
            label, read, anon, rss, secs, what))
PY
