"""Smoke test of the load generator tools/bench (etcdpp-bench) against a real member: every
subcommand with small totals, its --json checked (requests == total, errors == 0), and errors
reported rather than hidden. Timings are not asserted (a busy 2-core machine)."""

import json
import os
import subprocess

import harness

HERE = os.path.dirname(os.path.abspath(__file__))


def bench_binary():
    return os.environ.get("ETCDPP_BENCH_BIN") or os.path.join(
        harness.REPO, "build", "bin", "etcdpp-bench")


def run_bench(args, timeout=180):
    p = subprocess.run([bench_binary()] + args, capture_output=True, text=True, timeout=timeout)
    return p


class BenchTest(harness.SharedMemberTestCase):
    def bench_json(self, args, total, expect_rc=0):
        p = run_bench(["--endpoints", self.m.endpoint, "--clients", "8", "--conns", "2",
                       "--json"] + args)
        self.assertEqual(p.returncode, expect_rc, "rc %d\nstdout: %s\nstderr: %s" % (
            p.returncode, p.stdout, p.stderr))
        result = json.loads(p.stdout.strip().splitlines()[-1])
        for field in ("requests", "errors", "rps", "p50_ms", "p90_ms", "p99_ms", "p999_ms",
                      "total", "first_errors"):
            self.assertIn(field, result)
        self.assertEqual(result["total"], total)
        return result

    def assert_clean(self, result, total):
        self.assertEqual(result["errors"], 0, result["first_errors"])
        self.assertEqual(result["requests"], total)
        self.assertGreater(result["rps"], 0)
        self.assertLessEqual(result["p50_ms"], result["p99_ms"])
        self.assertLessEqual(result["p99_ms"], result["p999_ms"])

    def test_put(self):
        r = self.bench_json(["put", "--total", "200", "--key-size", "8", "--val-size", "64",
                             "--key-space-size", "50", "--sequential-keys"], 200)
        self.assert_clean(r, 200)

    def test_put_rate_limited(self):
        r = self.bench_json(["put", "--total", "20", "--rate", "200"], 20)
        self.assert_clean(r, 20)
        # 20 requests at 200/s take at least ~95 ms whatever the server does.
        self.assertGreaterEqual(r["elapsed_s"], 0.09)

    def test_range_linearizable_and_serializable(self):
        self.ok("put", "bench-range-key", "v")
        for consistency in ("l", "s"):
            r = self.bench_json(["range", "bench-range-key", "--consistency", consistency,
                                 "--total", "200"], 200)
            self.assert_clean(r, 200)

    def test_range_stream(self):
        self.ok("put", "bench-stream-key", "v")
        p = run_bench(["--endpoints", self.m.endpoint, "--json", "range", "bench-stream-key",
                       "--stream", "--total", "20"])
        result = json.loads(p.stdout.strip().splitlines()[-1])
        if result["errors"] and "Unimplemented" in " ".join(result["first_errors"]):
            self.skipTest("server has no KV/RangeStream yet")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assert_clean(result, 20)

    def test_txn_put(self):
        r = self.bench_json(["txn-put", "--total", "100", "--txn-ops", "3",
                             "--key-space-size", "30"], 100)
        self.assert_clean(r, 100)

    def test_watch(self):
        # 2 streams x 5 watchers, all on 1 key; 10 puts -> 100 events.
        r = self.bench_json(["watch", "--streams", "2", "--watch-per-stream", "5",
                             "--watched-key-total", "1", "--put-total", "10"], 100)
        self.assert_clean(r, 100)
        self.assertEqual(r["watchers"], 10)
        self.assertEqual(r["create"]["requests"], 10)
        self.assertEqual(r["create"]["errors"], 0)
        self.assertEqual(r["put"]["requests"], 10)

    def test_lease_keepalive(self):
        r = self.bench_json(["lease-keepalive", "--total", "200"], 200)
        self.assert_clean(r, 200)

    def test_mixed(self):
        r = self.bench_json(["mixed", "--total", "200", "--rw-ratio", "1",
                             "--key-space-size", "20", "--limit", "10"], 200)
        self.assert_clean(r, 200)
        self.assertEqual(r["read"]["requests"] + r["write"]["requests"], 200)
        r = self.bench_json(["txn-mixed", "--total", "100", "--key-space-size", "20"], 100)
        self.assert_clean(r, 100)

    def test_errors_are_reported(self):
        # Values far above the request size limit: every put fails, and the tool says so.
        r = self.bench_json(["put", "--total", "5", "--val-size", str(4 * 1024 * 1024)], 5,
                            expect_rc=2)
        self.assertEqual(r["errors"], 5)
        self.assertEqual(r["requests"], 5)
        self.assertTrue(r["first_errors"])

    def test_unreachable_endpoint_fails_fast(self):
        port = harness.free_port()
        p = run_bench(["--endpoints", "127.0.0.1:%d" % port, "--dial-timeout", "1", "put",
                       "--total", "1"])
        self.assertEqual(p.returncode, 1)
        self.assertIn("cannot connect", p.stderr)


class MockServerTest(harness.MemberTestCase):
    """The in-memory mock server used to show the tool is not the bottleneck."""

    def test_put_and_range_against_mock(self):
        proc = subprocess.Popen([bench_binary(), "mock-server", "--listen", "127.0.0.1:0"],
                                stdout=subprocess.PIPE, text=True)
        try:
            line = proc.stdout.readline()
            self.assertIn("listening on", line)
            endpoint = line.split()[-1]
            for args in (["put", "--total", "300", "--sequential-keys", "--key-space-size",
                          "300"],
                         ["range", "k", "--total", "300"],
                         ["lease-keepalive", "--total", "300"]):
                p = run_bench(["--endpoints", endpoint, "--clients", "8", "--conns", "2",
                               "--json"] + args)
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
                r = json.loads(p.stdout)
                self.assertEqual((r["requests"], r["errors"]), (300, 0))
            # Keys 1..299 (etcd's varint keys; key 0 starts with a NUL byte) in [\x01, \xff):
            # unary and streamed (the mock sends chunks of 100) must return the same keys.
            for extra in ([], ["--stream"]):
                p = run_bench(["--endpoints", endpoint, "--json", "range", b"\x01", b"\xff",
                               "--total", "10"] + extra)
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
                r = json.loads(p.stdout)
                self.assertEqual((r["requests"], r["errors"], r["kvs_received"]),
                                 (10, 0, 2990), extra)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            proc.stdout.close()


if __name__ == "__main__":
    harness.main()
