#!/usr/bin/python3
"""e2e: process conventions. systemd Type=notify readiness (READY=1 once the member serves
clients, STOPPING=1 when a graceful stop begins) through $NOTIFY_SOCKET, a path or an abstract
name ('@...'), with a python unix datagram socket standing in for systemd; SIGTERM/SIGINT stop
gracefully (exit 0) and a second signal during the graceful stop ends the process at once (killed
by that signal); --metrics=extensive adds grpc_server_handling_seconds, basic does not; every
feature gate shows in etcd_server_feature_enabled.

etcd 3.6 sends READY=1 but not STOPPING=1, and ignores a second signal until its handlers end:
those tests are etcdpp-only. Run: ctest -R e2e_process."""

import os
import re
import signal
import socket
import sys
import tempfile
import threading
import time
import unittest
import urllib.request
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from etcd3 import etcdrpc  # noqa: E402

WAIT = 60  # seconds: generous for a busy 2-core machine


def scrape(member):
    with urllib.request.urlopen(member.client_url + "/metrics", timeout=30) as r:
        return r.read().decode()


def wait_for_log(tc, member, text, timeout=WAIT):
    """Polls the member's log for `text` (the server writes it before acting)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in member.server_output():
            return
        if not member.alive():
            tc.fail("member exited before logging %r\n%s" % (text, member.log_tail()))
        time.sleep(0.05)  # polling interval, not synchronisation
    tc.fail("no %r in the log after %ds\n%s" % (text, timeout, member.log_tail()))


class NotifySocket:
    """A unix datagram socket like systemd's notify socket: a path, or an abstract name."""

    def __init__(self, abstract):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.dir = None
        if abstract:
            name = "etcdpp-e2e-notify-" + uuid.uuid4().hex
            self.sock.bind("\0" + name)
            self.env_value = "@" + name
        else:
            self.dir = tempfile.mkdtemp(prefix="etcdpp-e2e-notify-")
            path = os.path.join(self.dir, "notify.sock")
            self.sock.bind(path)
            self.env_value = path

    def recv(self, timeout=WAIT):
        self.sock.settimeout(timeout)
        return self.sock.recv(4096).decode()

    def close(self):
        self.sock.close()
        if self.dir:
            for f in os.listdir(self.dir):
                os.unlink(os.path.join(self.dir, f))
            os.rmdir(self.dir)


class SystemdNotifyTest(harness.MemberTestCase):

    def check_notify(self, abstract):
        ns = NotifySocket(abstract)
        self.addCleanup(ns.close)
        m = self.new_member(start=False, env={"NOTIFY_SOCKET": ns.env_value})
        m.spawn()
        # Blocks until the server sends; no polling.
        self.assertEqual(ns.recv(), "READY=1")
        # READY=1 came after the member serves clients: a request succeeds right away.
        self.assertIsNone(m.probe())
        r = m.etcdctl("put", "k", "v")
        self.assertEqual(r.rc, 0, r)
        m.proc.send_signal(signal.SIGTERM)
        if harness.is_etcdpp():
            self.assertEqual(ns.recv(), "STOPPING=1")
        self.assertEqual(m.proc.wait(WAIT), 0)
        m._reap()

    def test_ready_on_path_socket(self):
        self.check_notify(abstract=False)

    def test_ready_on_abstract_socket(self):
        self.check_notify(abstract=True)

    def test_no_notify_socket_is_fine(self):
        m = self.new_member()  # NOTIFY_SOCKET unset (the harness passes none)
        self.assertEqual(m.stop(timeout=WAIT), 0)


class SignalTest(harness.MemberTestCase):

    def test_single_signal_stops_gracefully(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            with self.subTest(sig=sig.name):
                m = self.new_member()
                r = m.etcdctl("put", "k", "v")
                self.assertEqual(r.rc, 0, r)
                m.proc.send_signal(sig)
                self.assertEqual(m.proc.wait(WAIT), 0)
                m._reap()
                self.assertIn("received signal; shutting down", m.server_output())
                self.assertIn("stopped etcd server", m.server_output())
                # The data survived the stop.
                m.start(new_ports=False)
                r = m.etcdctl("get", "k", "--print-value-only")
                self.assertEqual(r.rc, 0, r)
                self.assertEqual(r.out.strip(), "v")

    @harness.skip_unless_etcdpp("etcd only queues a second signal during its stop")
    def test_second_signal_exits_at_once(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            with self.subTest(sig=sig.name):
                m = self.new_member()
                # An open gRPC watch keeps the graceful stop in gRPC's 5 s grace period for
                # in-flight calls, so the second signal lands while it runs.
                c = m.client()
                done = threading.Event()

                def requests():
                    yield etcdrpc.WatchRequest(create_request=etcdrpc.WatchCreateRequest(key=b"w"))
                    done.wait(WAIT)

                call = etcdrpc.WatchStub(c.channel).Watch(requests())
                self.assertTrue(next(call).created)  # the stream is in flight
                started = time.monotonic()
                m.proc.send_signal(sig)
                wait_for_log(self, m, "received signal; shutting down")
                m.proc.send_signal(sig)
                rc = m.proc.wait(WAIT)
                elapsed = time.monotonic() - started
                m._reap()
                done.set()
                call.cancel()
                c.close()
                self.assertEqual(rc, -sig, m.log_tail())  # killed by the signal, as etcd ends
                self.assertIn("received second signal; exiting immediately", m.server_output())
                self.assertNotIn("stopped etcd server", m.server_output())
                # Well below the grace period plus the rest of the stop.
                self.assertLess(elapsed, 5.0)
                # What was written before is still there (the WAL is fsynced per write).
                m.start(new_ports=False)
                r = m.etcdctl("get", "w")
                self.assertEqual(r.rc, 0, r)


class MetricsLevelTest(harness.MemberTestCase):

    HIST = "grpc_server_handling_seconds"

    def put_and_scrape(self, extra_args):
        m = self.new_member(extra_args=extra_args)
        r = m.etcdctl("put", "k", "v")
        self.assertEqual(r.rc, 0, r)
        return scrape(m)

    def test_basic_has_no_handling_histogram(self):
        text = self.put_and_scrape([])
        self.assertIn("grpc_server_handled_total", text)
        self.assertNotIn(self.HIST, text)

    def test_extensive_adds_handling_histogram(self):
        text = self.put_and_scrape(["--metrics", "extensive"])
        self.assertIn("# TYPE %s histogram" % self.HIST, text)
        labels = 'grpc_method="Put",grpc_service="etcdserverpb.KV",grpc_type="unary"'
        count = re.search(r'^%s_count\{%s\} (\S+)$' % (self.HIST, labels), text, re.M)
        self.assertIsNotNone(count, text)
        self.assertGreaterEqual(float(count.group(1)), 1)
        # go-grpc-prometheus' default buckets (prometheus.DefBuckets).
        les = re.findall(r'^%s_bucket\{%s,le="([^"]+)"\}' % (self.HIST, labels), text, re.M)
        self.assertEqual(les, ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1",
                               "2.5", "5", "10", "+Inf"])


class FeatureGateMetricTest(harness.MemberTestCase):

    GATES = {"CompactHashCheck": "ALPHA", "InitialCorruptCheck": "ALPHA",
             "LeaseCheckpoint": "ALPHA", "LeaseCheckpointPersist": "ALPHA",
             "SetMemberLocalAddr": "ALPHA", "StopGRPCServiceOnDefrag": "ALPHA",
             "TxnModeWriteWithSharedBuffer": "BETA"}

    @harness.skip_unless_etcdpp("etcd 3.4 has no feature gates")
    def test_every_gate_in_metric(self):
        on = ["SetMemberLocalAddr", "LeaseCheckpoint", "LeaseCheckpointPersist"]
        m = self.new_member(extra_args=[
            "--feature-gates=" + ",".join(g + "=true" for g in on) +
            ",TxnModeWriteWithSharedBuffer=false"])
        text = scrape(m)
        for gate, stage in self.GATES.items():
            want = 1 if gate in on else 0
            line = 'etcd_server_feature_enabled{name="%s",stage="%s"} %d' % (gate, stage, want)
            self.assertIn(line, text.splitlines(), gate)


if __name__ == "__main__":
    harness.main()
