#!/usr/bin/python3
"""Self-test of faultproxy.py with plain sockets (no server): pass, blackhole, drop, delay,
healing, and per-sender blocking with the sender found through /proc (the connecting process is
a child `python3 -c` client, like a member process)."""

import os
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import faultproxy  # noqa: E402
import harness  # noqa: E402


class EchoServer:
    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._echo, args=(c,), daemon=True).start()

    @staticmethod
    def _echo(c):
        try:
            while True:
                d = c.recv(65536)
                if not d:
                    break
                c.sendall(d)
        except OSError:
            pass
        c.close()

    def close(self):
        self.sock.close()


def roundtrip(port, payload=b"ping", timeout=2.0, sock=None):
    s = sock or socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.settimeout(timeout)
    try:
        s.sendall(payload)
        got = b""
        while len(got) < len(payload):
            d = s.recv(65536)
            if not d:
                raise ConnectionError("closed")
            got += d
        return got
    finally:
        if sock is None:
            s.close()


CHILD = r"""
import socket, sys
try:
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)
    s.sendall(b"hello"); d = s.recv(5)
    print("ok" if d == b"hello" else "bad %r" % d)
except Exception as e:
    print("fail %s" % type(e).__name__)
"""


class FaultProxyTest(unittest.TestCase):

    def setUp(self):
        self.echo = EchoServer()
        # Our own connections resolve to "self" (an unknown sender costs a 1 s resolve retry).
        self.children = {os.getpid(): "self"}
        self.proxy = faultproxy.FaultProxy(self.echo.port, resolve_sender=self.resolve)
        self.addCleanup(self.proxy.close)
        self.addCleanup(self.echo.close)

    def resolve(self, peer, proxy_addr):
        pid = faultproxy.socket_owner_pid(peer, proxy_addr, list(self.children))
        return self.children.get(pid)

    def test_pass_blackhole_heal(self):
        self.assertEqual(roundtrip(self.proxy.port), b"ping")
        s = socket.create_connection(("127.0.0.1", self.proxy.port), timeout=2)
        self.addCleanup(s.close)
        self.assertEqual(roundtrip(0, b"a", sock=s), b"a")
        self.proxy.set_mode(faultproxy.BLACKHOLE)
        # An established connection stays open but nothing comes back.
        s.sendall(b"bb")
        s.settimeout(0.5)
        self.assertRaises(socket.timeout, s.recv, 10)
        # New connections are accepted (connect succeeds) but get nothing either.
        self.assertRaises(socket.timeout, roundtrip, self.proxy.port, b"x", 0.5)
        self.proxy.heal()
        # What was sent during the blackhole arrives after healing (TCP kept it).
        s.settimeout(5)
        got = b""
        while len(got) < 2:
            got += s.recv(10)
        self.assertEqual(got, b"bb")
        self.assertEqual(roundtrip(self.proxy.port), b"ping")

    def test_drop_closes_and_refuses(self):
        s = socket.create_connection(("127.0.0.1", self.proxy.port), timeout=2)
        self.addCleanup(s.close)
        self.assertEqual(roundtrip(0, b"a", sock=s), b"a")
        self.proxy.set_mode(faultproxy.DROP)
        s.settimeout(5)
        try:
            d = s.recv(10)
            self.assertEqual(d, b"")
        except ConnectionResetError:
            pass
        self.assertRaises((ConnectionError, OSError), roundtrip, self.proxy.port, b"x", 2)
        self.proxy.heal()
        self.assertEqual(roundtrip(self.proxy.port), b"ping")

    def test_delay(self):
        self.proxy.set_mode(faultproxy.DELAY, delay_ms=1000)
        t0 = time.monotonic()
        self.assertEqual(roundtrip(self.proxy.port, timeout=10), b"ping")
        # Both directions are delayed: at least 2 x 1000 ms.
        self.assertGreaterEqual(time.monotonic() - t0, 1.95)
        self.proxy.heal()
        t0 = time.monotonic()
        self.assertEqual(roundtrip(self.proxy.port, timeout=10), b"ping")
        # Loose bound: the machine may be very busy.
        self.assertLess(time.monotonic() - t0, 1.5)

    def run_child(self, label):
        p = subprocess.Popen([sys.executable, "-c", CHILD, str(self.proxy.port)],
                             stdout=subprocess.PIPE, text=True)
        self.children[p.pid] = label
        out, _ = p.communicate(timeout=30)
        return out.strip()

    def test_block_by_sender_process(self):
        self.proxy.block(["b"])
        self.assertEqual(self.run_child("a"), "ok")
        self.assertIn(self.run_child("b"), ("fail timeout", "fail TimeoutError"))
        # Our own connections ("self") are not blocked.
        self.assertEqual(roundtrip(self.proxy.port), b"ping")
        self.proxy.block(["a"], how=faultproxy.DROP)
        self.assertIn(self.run_child("a"), ("fail ConnectionResetError", "bad b''",
                                            "fail BrokenPipeError"))
        self.proxy.heal()
        self.assertEqual(self.run_child("b"), "ok")
        self.assertEqual(self.proxy.unresolved, 0)


if __name__ == "__main__":
    harness.main()
