#!/usr/bin/python3
"""e2e: one client port, two protocols (ARCHITECTURE.md §7). gRPC (etcdctl, python3-etcd3) and
HTTP/1.1 share --listen-client-urls; --listen-client-http-urls moves HTTP away from it and
--listen-metrics-urls adds an HTTP-only listener; unix:// client URLs work too. Malformed HTTP
gets Go's 400, unknown paths Go's 404, and neither silent nor misbehaving clients disturb others."""

import http.client
import os
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402

GO_404 = b"404 page not found\n"


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=30):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def raw_exchange(port, data, timeout=30):
    """Sends raw bytes, returns everything the server sends until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            out += chunk
        return out


def http_get(port, path, host="127.0.0.1"):
    c = http.client.HTTPConnection(host, port, timeout=30)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read()
    finally:
        c.close()


class PortsMember(harness.Member):
    """A member with extra listeners: a unix client socket, --listen-client-http-urls and
    --listen-metrics-urls on ports picked at start."""

    def __init__(self, unix=False, client_http=False, metrics=False, **kw):
        super().__init__(**kw)
        self.unix_path = os.path.join(self.root, "client.sock") if unix else None
        self.want_http, self.want_metrics = client_http, metrics
        self.http_port = self.metrics_port = None

    def pick_ports(self):
        super().pick_ports()
        taken = {self.client_port, self.peer_port}
        for attr, want in (("http_port", self.want_http), ("metrics_port", self.want_metrics)):
            if want:
                p = harness.free_port()
                while p in taken:
                    p = harness.free_port()
                taken.add(p)
                setattr(self, attr, p)

    def args(self):
        a = super().args()
        i = a.index("--listen-client-urls")
        if self.unix_path:
            a[i + 1] += ",unix://" + self.unix_path
        if self.http_port:
            a += ["--listen-client-http-urls", "http://127.0.0.1:%d" % self.http_port]
        if self.metrics_port:
            a += ["--listen-metrics-urls", "http://127.0.0.1:%d" % self.metrics_port]
        return a


class SharedPortTest(harness.MemberTestCase):
    """gRPC and HTTP on the same client URL (plus a unix socket client URL)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        m = PortsMember(unix=True)
        cls.class_members = cls.class_members + [m]
        m.start()
        cls.m = m
        cls.port = m.client_port

    def ok(self, *args, **kw):
        r = self.m.etcdctl(*args, **kw)
        self.assertEqual(r.rc, 0, r)
        return r

    def assertServing(self, key):
        self.ok("put", key, "v-" + key)
        self.assertEqual(self.ok("get", key, "--print-value-only").out, "v-%s\n" % key)
        status, _, body = http_get(self.port, "/no/such/path")
        self.assertEqual((status, body), (404, GO_404))

    def test_etcdctl_and_python_client(self):
        self.assertServing("/cp/etcdctl")
        c = self.m.client()
        try:
            c.put("/cp/py", "1")
            self.assertEqual(c.get("/cp/py")[0], b"1")
            # A stream over a handed-over connection: a watch sees a later put.
            events, cancel = c.watch("/cp/w")
            c.put("/cp/w", "x")
            ev = next(events)
            self.assertEqual(ev.value, b"x")
            cancel()
        finally:
            c.close()

    def test_unknown_path_gets_go_404(self):
        status, headers, body = http_get(self.port, "/nope")
        self.assertEqual(status, 404)
        self.assertEqual(body, GO_404)
        self.assertEqual(headers["content-type"], "text/plain; charset=utf-8")
        self.assertEqual(headers["x-content-type-options"], "nosniff")
        # Keep-alive: several requests on one connection.
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        for _ in range(3):
            c.request("GET", "/nope")
            r = c.getresponse()
            self.assertEqual((r.status, r.read()), (404, GO_404))
        c.close()
        # HTTP/1.0 without Host: answered, then closed.
        out = raw_exchange(self.port, b"GET /nope HTTP/1.0\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.0 404 Not Found\r\n"), out)
        self.assertTrue(out.endswith(GO_404), out)

    def test_malformed_http_gets_400_and_member_keeps_serving(self):
        cases = [
            b"garbage\r\n\r\n",
            b"GET / HTTP/1.1\r\n\r\n",  # no Host
            b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
            b"POST /v3/kv/put HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
            b"GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n",
            b"\x00\x01\x02\x03\xff\xfe\r\n\r\n",
        ]
        for data in cases:
            out = raw_exchange(self.port, data)
            self.assertTrue(out.startswith(b"HTTP/1.1 400 Bad Request"), (data, out))
        # Unsupported transfer coding: Go's 501.
        out = raw_exchange(self.port, b"POST /x HTTP/1.1\r\nHost: x\r\n"
                                      b"Transfer-Encoding: gzip\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 501 Not Implemented"), out)
        # A body far above --max-request-bytes: 413 before it is read.
        out = raw_exchange(self.port, b"POST /v3/kv/put HTTP/1.1\r\nHost: x\r\n"
                                      b"Content-Length: 1000000000\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 413"), out)
        # Half a request, then the client goes away.
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as s:
            s.sendall(b"POST /v3/kv/put HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab")
        # Half an HTTP/2 preface, then gone.
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as s:
            s.sendall(b"PRI * HTTP/2.0\r\n")
        self.assertServing("/cp/after-malformed")

    def test_expect_100_continue_from_curl(self):
        # curl sends "Expect: 100-continue" for bodies > 1 KiB and waits for the 100.
        body = "k" * 4096
        t0 = time.monotonic()
        p = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
                            "--expect100-timeout", "20", "-X", "POST", "--data-binary", body,
                            "http://127.0.0.1:%d/no/such/path" % self.port],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p)
        self.assertEqual(p.stdout, "404")
        # Without our 100 Continue curl would wait the full 20 s.
        self.assertLess(time.monotonic() - t0, 15)
        # Chunked upload.
        p = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-H",
                            "Transfer-Encoding: chunked", "--data-binary", "@-",
                            "http://127.0.0.1:%d/no/such/path" % self.port],
                           input="x" * 3000, capture_output=True, text=True, timeout=60)
        self.assertEqual((p.returncode, p.stdout), (0, "404"), p)

    def test_silent_clients_do_not_block_others(self):
        silent = [socket.create_connection(("127.0.0.1", self.port), timeout=30)
                  for _ in range(30)]
        try:
            self.assertServing("/cp/silent")
            c = self.m.client()
            try:
                c.put("/cp/silent-py", "1")
            finally:
                c.close()
        finally:
            for s in silent:
                s.close()

    def test_many_concurrent_http_and_grpc_connections(self):
        errors = []

        def http_worker():
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                for _ in range(5):
                    c.request("GET", "/nope")
                    r = c.getresponse()
                    if (r.status, r.read()) != (404, GO_404):
                        errors.append("http: %d" % r.status)
                c.close()
            except Exception as e:  # noqa: BLE001 - collected and asserted below
                errors.append("http: %r" % e)

        def grpc_worker(i):
            try:
                c = self.m.client(timeout=60)
                try:
                    for j in range(5):
                        key = "/cp/conc/%d/%d" % (i, j)
                        c.put(key, str(j))
                        if c.get(key)[0] != str(j).encode():
                            errors.append("grpc: wrong value for " + key)
                finally:
                    c.close()
            except Exception as e:  # noqa: BLE001
                errors.append("grpc: %r" % e)

        threads = [threading.Thread(target=http_worker) for _ in range(25)]
        threads += [threading.Thread(target=grpc_worker, args=(i,)) for i in range(25)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual(errors, [])
        resp = self.m.etcdctl_json("get", "/cp/conc/", "--prefix", "--keys-only")
        self.assertEqual(resp.get("count"), 125, resp)

    def test_unix_socket_client_url(self):
        r = self.m.etcdctl("put", "/cp/unix", "u", endpoints="unix://" + self.m.unix_path)
        self.assertEqual(r.rc, 0, r)
        r = self.m.etcdctl("get", "/cp/unix", "--print-value-only",
                           endpoints="unix://" + self.m.unix_path)
        self.assertEqual((r.rc, r.out), (0, "u\n"), r)
        c = UnixHTTPConnection(self.m.unix_path)
        c.request("GET", "/nope")
        r = c.getresponse()
        self.assertEqual((r.status, r.read()), (404, GO_404))
        c.close()

    def test_version_on_client_and_peer_ports(self):
        status, headers, body = http_get(self.port, "/version")
        if status == 404:
            self.skipTest("no /version route registered yet (src/server/http_routes.cc)")
        self.assertEqual(status, 200)
        self.assertIn(b'"etcdserver"', body)
        status, _, body = http_get(self.m.peer_port, "/version")
        self.assertEqual(status, 200)
        self.assertIn(b'"etcdserver"', body)

    def test_peer_port_speaks_http_too(self):
        status, _, body = http_get(self.m.peer_port, "/no/such/path")
        self.assertEqual((status, body), (404, GO_404))


class SplitListenersTest(harness.MemberTestCase):
    """--listen-client-http-urls: HTTP only there, gRPC only on the client URL;
    --listen-metrics-urls: an HTTP-only listener for metrics and health."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        m = PortsMember(client_http=True, metrics=True)
        cls.class_members = cls.class_members + [m]
        m.start()
        cls.m = m

    def etcdctl_fails(self, port):
        r = self.m.etcdctl("get", "k", "--dial-timeout=2s", "--command-timeout=5s",
                           endpoints="127.0.0.1:%d" % port)
        self.assertNotEqual(r.rc, 0, r)

    def test_client_url_serves_grpc_only(self):
        r = self.m.etcdctl("put", "/split/k", "v")
        self.assertEqual(r.rc, 0, r)
        out = raw_exchange(self.m.client_port, b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertFalse(out.startswith(b"HTTP/1."), out)

    def test_client_http_url_serves_http_only(self):
        status, _, body = http_get(self.m.http_port, "/nope")
        self.assertEqual((status, body), (404, GO_404))
        self.etcdctl_fails(self.m.http_port)

    def test_metrics_url_serves_http_only(self):
        status, _, body = http_get(self.m.metrics_port, "/nope")
        self.assertEqual((status, body), (404, GO_404))
        self.etcdctl_fails(self.m.metrics_port)
        # The gateway is never on the metrics listener.
        c = http.client.HTTPConnection("127.0.0.1", self.m.metrics_port, timeout=30)
        c.request("POST", "/v3/kv/range", body=b"{}")
        self.assertEqual(c.getresponse().status, 404)
        c.close()

    def test_metrics_and_health_routes_when_wired(self):
        status, _, body = http_get(self.m.metrics_port, "/health")
        if status == 404:
            self.skipTest("no health route registered yet (src/server/http_routes.cc)")
        self.assertIn(status, (200, 503))
        status, _, _ = http_get(self.m.http_port, "/health")
        self.assertIn(status, (200, 503))


class ShutdownTest(harness.MemberTestCase):
    def test_sigterm_with_open_http_and_silent_connections(self):
        m = self.new_member()
        idle = http.client.HTTPConnection("127.0.0.1", m.client_port, timeout=30)
        idle.request("GET", "/nope")
        idle.getresponse().read()  # now an idle keep-alive connection
        silent = socket.create_connection(("127.0.0.1", m.client_port), timeout=30)
        half = socket.create_connection(("127.0.0.1", m.client_port), timeout=30)
        half.sendall(b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab")
        t0 = time.monotonic()
        rc = m.stop(timeout=30)
        self.assertEqual(rc, 0)
        self.assertLess(time.monotonic() - t0, 20)
        for s in (silent, half):
            s.settimeout(10)
            try:
                self.assertEqual(s.recv(10), b"")  # closed by the server
            except ConnectionResetError:
                pass  # closed with unread input: a reset is a close too
            s.close()
        idle.close()


if __name__ == "__main__":
    harness.main()
