#!/usr/bin/python3
"""e2e: bad requests and bad start-up input. The server must answer with etcd's error (gRPC code
and exact message) and keep serving; bad flags and bad data dirs must fail cleanly at start."""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import assert_etcdctl_error  # noqa: E402

import grpc  # noqa: E402
from etcd3 import etcdrpc  # noqa: E402

MAX_REQUEST_BYTES = 1024
MAX_TXN_OPS = 4


def put_op(key, value=b""):
    return etcdrpc.RequestOp(request_put=etcdrpc.PutRequest(key=key, value=value))


class LimitsTest(harness.MemberTestCase):
    """One member started with small --max-request-bytes and --max-txn-ops."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.m = cls.new_class_member(extra_args=[
            "--max-request-bytes", str(MAX_REQUEST_BYTES), "--max-txn-ops", str(MAX_TXN_OPS)])
        cls.c = cls.m.client()

    @classmethod
    def tearDownClass(cls):
        cls.c.close()
        super().tearDownClass()

    def assertGrpcError(self, code, message, fn, *args):
        with self.assertRaises(grpc.RpcError) as cm:
            fn(*args, 30)
        self.assertEqual(cm.exception.code(), code, cm.exception)
        if message is not None:
            self.assertEqual(cm.exception.details(), message)

    def assertStillServing(self, key):
        value = ("alive-" + key).encode()
        self.c.put(key, value)
        self.assertEqual(self.c.get(key)[0], value)
        r = self.m.etcdctl("endpoint", "health")
        self.assertEqual(r.rc, 0, r)

    def test_request_too_large(self):
        # Clearly above the limit once marshalled, but below the gRPC limit (limit + 512 KiB).
        big = b"x" * (2 * MAX_REQUEST_BYTES)
        self.assertGrpcError(grpc.StatusCode.INVALID_ARGUMENT, "etcdserver: request is too large",
                             self.c.kvstub.Put, etcdrpc.PutRequest(key=b"big", value=big))
        r = self.m.etcdctl("put", "big", input=big)
        assert_etcdctl_error(self, r, "InvalidArgument", "etcdserver: request is too large")
        self.assertGrpcError(grpc.StatusCode.INVALID_ARGUMENT, "etcdserver: request is too large",
                             self.c.kvstub.Txn,
                             etcdrpc.TxnRequest(success=[put_op(b"t1", big[:800]),
                                                         put_op(b"t2", big[:800])]))
        self.assertEqual(self.c.get("big"), (None, None))
        # A request well under the limit still works.
        self.c.put("small", b"y" * (MAX_REQUEST_BYTES // 2))
        self.assertStillServing("after-too-large")

    def test_request_above_grpc_limit(self):
        # Past max-request-bytes + 512 KiB gRPC itself refuses the message: ResourceExhausted
        # (the message text is gRPC's own and differs between gRPC implementations).
        huge = b"z" * (MAX_REQUEST_BYTES + 512 * 1024 + 4096)
        self.assertGrpcError(grpc.StatusCode.RESOURCE_EXHAUSTED, None,
                             self.c.kvstub.Put, etcdrpc.PutRequest(key=b"huge", value=huge))
        self.assertStillServing("after-huge")

    def test_too_many_txn_ops(self):
        msg = "etcdserver: too many operations in txn request"
        ops = [put_op(b"op%d" % i) for i in range(MAX_TXN_OPS + 1)]
        self.assertGrpcError(grpc.StatusCode.INVALID_ARGUMENT, msg, self.c.kvstub.Txn,
                             etcdrpc.TxnRequest(success=ops))
        self.assertGrpcError(grpc.StatusCode.INVALID_ARGUMENT, msg, self.c.kvstub.Txn,
                             etcdrpc.TxnRequest(failure=ops))
        cmp = etcdrpc.Compare(key=b"c", target=etcdrpc.Compare.VERSION)
        self.assertGrpcError(grpc.StatusCode.INVALID_ARGUMENT, msg, self.c.kvstub.Txn,
                             etcdrpc.TxnRequest(compare=[cmp] * (MAX_TXN_OPS + 1)))
        # Exactly max ops in each of compare/success/failure is fine.
        resp = self.c.kvstub.Txn(etcdrpc.TxnRequest(compare=[cmp] * MAX_TXN_OPS,
                                                    success=ops[:MAX_TXN_OPS],
                                                    failure=ops[:MAX_TXN_OPS]), 30)
        self.assertTrue(resp.succeeded)
        self.assertEqual(len(resp.responses), MAX_TXN_OPS)
        # The same through etcdctl.
        script = "\n" + "\n".join("put e%d v" % i for i in range(MAX_TXN_OPS + 1)) + "\n\n\n"
        assert_etcdctl_error(self, self.m.etcdctl("txn", input=script), "InvalidArgument", msg)
        self.assertStillServing("after-too-many-ops")

    def test_duplicate_key_in_txn(self):
        msg = "etcdserver: duplicate key given in txn request"
        script = "\nput dup v1\nput dup v2\n\n\n"
        assert_etcdctl_error(self, self.m.etcdctl("txn", input=script), "InvalidArgument", msg)
        script = "\nput dup2 v1\ndel dup\n\n\n"
        r = self.m.etcdctl("txn", input=script)
        self.assertEqual(r.rc, 0, r)
        # A put inside a range deleted by the same branch is a duplicate too.
        delete_range = etcdrpc.RequestOp(request_delete_range=etcdrpc.DeleteRangeRequest(
            key=b"dr/a", range_end=b"dr/z"))
        self.assertGrpcError(grpc.StatusCode.INVALID_ARGUMENT, msg, self.c.kvstub.Txn,
                             etcdrpc.TxnRequest(success=[put_op(b"dr/k"), delete_range]))
        self.assertEqual(self.c.get("dup"), (None, None))
        self.assertStillServing("after-duplicate")

    def test_put_flag_conflicts_and_empty_ops(self):
        self.c.put("pf/k", "v")
        self.assertGrpcError(grpc.StatusCode.INVALID_ARGUMENT, "etcdserver: value is provided",
                             self.c.kvstub.Put,
                             etcdrpc.PutRequest(key=b"pf/k", value=b"v", ignore_value=True))
        self.assertGrpcError(grpc.StatusCode.INVALID_ARGUMENT, "etcdserver: lease is provided",
                             self.c.kvstub.Put,
                             etcdrpc.PutRequest(key=b"pf/k", lease=5, ignore_lease=True))
        self.assertGrpcError(grpc.StatusCode.INVALID_ARGUMENT, "etcdserver: key is not provided",
                             self.c.kvstub.Txn,
                             etcdrpc.TxnRequest(compare=[etcdrpc.Compare(key=b"")]))
        self.assertGrpcError(grpc.StatusCode.INVALID_ARGUMENT, "etcdserver: key is not provided",
                             self.c.kvstub.DeleteRange, etcdrpc.DeleteRangeRequest(key=b""))
        # An empty RequestOp inside a txn.
        self.assertGrpcError(grpc.StatusCode.INVALID_ARGUMENT, "etcdserver: key not found",
                             self.c.kvstub.Txn, etcdrpc.TxnRequest(success=[etcdrpc.RequestOp()]))
        self.assertStillServing("after-conflicts")


class StartupTest(harness.MemberTestCase):
    """Bad flags and bad data dirs: the process must exit non-zero, promptly, with a message."""

    def run_binary(self, args, cwd, env_extra=None, timeout=30):
        env = dict(os.environ)
        for k in list(env):
            if k.startswith("ETCD_"):
                del env[k]
        env.update(env_extra or {})
        p = subprocess.run([harness.server_binary()] + args, capture_output=True, env=env,
                           cwd=cwd, timeout=timeout)
        return p.returncode, (p.stdout + p.stderr).decode(errors="replace")

    def assertBadInvocation(self, args, mention, env_extra=None, etcdpp_rc=2):
        root = self.new_member(start=False).root  # only for its temp dir
        data_dir = os.path.join(root, "never-created")
        rc, out = self.run_binary(["--data-dir", data_dir] + args, root, env_extra)
        if harness.is_etcdpp() and etcdpp_rc is not None:
            self.assertEqual(rc, etcdpp_rc, out)  # etcdpp contract: usage errors exit 2
        else:
            self.assertNotEqual(rc, 0, out)  # etcd 3.4 exits 2 for flags, 1 for env values
        self.assertIn(mention, out)
        # Nothing was touched: the data dir does not exist (nor default.etcd in the cwd).
        self.assertFalse(os.path.exists(data_dir), out)
        self.assertFalse(os.path.exists(os.path.join(root, "default.etcd")), out)

    def test_unknown_flag(self):
        self.assertBadInvocation(["--bogus-flag"], "bogus-flag")

    def test_bad_flag_value(self):
        self.assertBadInvocation(["--max-txn-ops", "abc"], "max-txn-ops")
        self.assertBadInvocation(["--max-request-bytes=-1x"], "max-request-bytes")

    def test_bad_env_value(self):
        self.assertBadInvocation([], "ETCD_MAX_TXN_OPS", {"ETCD_MAX_TXN_OPS": "abc"})

    def test_flag_and_env_conflict(self):
        # etcd refuses an option given both ways; the exit code is not part of the contract.
        self.assertBadInvocation(["--max-txn-ops", "6"], "ETCD_MAX_TXN_OPS",
                                 {"ETCD_MAX_TXN_OPS": "5"}, etcdpp_rc=None)

    def test_env_settings_apply(self):
        m = self.new_member(env={"ETCD_MAX_TXN_OPS": "2"})
        c = m.client()
        self.addCleanup(c.close)
        ops = [put_op(b"env%d" % i) for i in range(3)]
        with self.assertRaises(grpc.RpcError) as cm:
            c.kvstub.Txn(etcdrpc.TxnRequest(success=ops), 30)
        self.assertEqual(cm.exception.details(), "etcdserver: too many operations in txn request")
        self.assertTrue(c.kvstub.Txn(etcdrpc.TxnRequest(success=ops[:2]), 30).succeeded)

    def test_unexpected_positional_argument(self):
        self.assertBadInvocation(["extra-positional"], "extra-positional")

    def expect_start_failure(self, m, mention):
        m.spawn()
        try:
            rc = m.proc.wait(60)
        except subprocess.TimeoutExpired:
            m.kill9()
            self.fail("server kept running\n" + m.log_tail())
        m._reap()
        # A normal exit with an error code: dying of a signal is not a clean refusal.
        self.assertGreater(rc, 0, "exit status %d\n%s" % (rc, m.log_tail()))
        out = m.server_output()
        self.assertIn(mention, out, "the message must name the path\n" + m.log_tail())
        return out

    def read_only_mount(self, m, make_data_dir):
        """A read-only tmpfs in the member's temp dir (root only; skips where not allowed)."""
        mnt = os.path.join(m.root, "ro")
        os.makedirs(mnt)
        if os.geteuid() != 0:
            self.skipTest("mounting needs root")
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt],
                           capture_output=True, text=True)
        if r.returncode != 0:
            self.skipTest("cannot mount a tmpfs here: " + r.stderr.strip())

        def unmount():
            m.kill9()
            subprocess.run(["umount", "-l", mnt], capture_output=True)

        self.addCleanup(unmount)
        m.data_dir = os.path.join(mnt, "data")
        if make_data_dir:
            os.makedirs(m.data_dir)
        r = subprocess.run(["mount", "-o", "remount,ro", mnt], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_data_dir_on_read_only_file_system(self):
        m = self.new_member(start=False)
        self.read_only_mount(m, make_data_dir=False)
        out = self.expect_start_failure(m, m.data_dir)
        self.assertIn("read-only file system", out.lower())

    def test_existing_data_dir_not_writable(self):
        m = self.new_member(start=False)
        self.read_only_mount(m, make_data_dir=True)
        out = self.expect_start_failure(m, m.data_dir)
        self.assertIn("read-only file system", out.lower())

    def test_data_dir_is_a_regular_file(self):
        m = self.new_member(start=False)
        with open(m.data_dir, "w") as f:
            f.write("not a directory\n")
        self.expect_start_failure(m, m.data_dir)
        with open(m.data_dir) as f:
            self.assertEqual(f.read(), "not a directory\n")

    def test_member_dir_is_a_regular_file(self):
        m = self.new_member(start=False)
        os.makedirs(m.data_dir)
        with open(os.path.join(m.data_dir, "member"), "w") as f:
            f.write("x")
        self.expect_start_failure(m, os.path.join(m.data_dir, "member"))


if __name__ == "__main__":
    harness.main()
