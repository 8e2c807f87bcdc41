#!/usr/bin/python3
"""e2e: the server logs zap-style JSON lines by default and emits etcd's start-up milestones,
which operators' scripts and test containers wait for."""

import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402

# The gRPC library's own logging, which the server does not format: C++ gRPC's absl/gpr format
# ("E1125 04:47:35.1 123 file.cc:10] ...") and, in reference etcd, grpc-go's
# ("WARNING: 2026/11/25 04:48:48 [core] grpc: ...").
GRPC_LINE = re.compile(r"^([EWIF]\d{4} \d\d:\d\d:\d\d|(INFO|WARNING|ERROR): \d{4}/\d\d/\d\d )")
LEVELS = {"debug", "info", "warn", "error", "dpanic", "panic", "fatal"}


class LoggingTest(harness.MemberTestCase):

    def server_lines(self, m):
        return [line for line in m.server_output().splitlines() if line.strip()]

    def test_json_lines_and_milestones(self):
        # etcd 3.4 defaults to capnslog; 3.6 (and etcdpp) default to zap JSON.
        args = ["--logger", "zap"] if harness.is_reference_34() else []
        m = self.new_member(extra_args=args)
        r = m.etcdctl("put", "k", "v")
        self.assertEqual(r.rc, 0, r)
        m.stop()
        records = []
        for line in self.server_lines(m):
            if GRPC_LINE.match(line):
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                self.fail("not a JSON log line: %r" % line)
            self.assertIsInstance(rec, dict, line)
            for key in ("level", "ts", "caller", "msg"):
                self.assertIn(key, rec, line)
            self.assertIn(rec["level"], LEVELS, line)
            self.assertIsInstance(rec["msg"], str)
            records.append(rec)
        msgs = [rec["msg"] for rec in records]
        self.assertIn("published local member to cluster through raft", msgs)
        self.assertIn("enabled capabilities for version", msgs)
        if not harness.is_reference_34():  # etcd 3.4's zap logger has no such line
            self.assertIn("ready to serve client requests", msgs)

    def test_version_flag(self):
        out = harness.binary_version_text()
        first = out.splitlines()[0] if out else ""
        if harness.is_reference_34():
            self.assertTrue(first.startswith("etcd Version: 3.4."), out)
        else:
            self.assertTrue(first.startswith("etcd Version: 3.6."), out)
            self.assertIn("etcdpp", out.lower())
        self.assertIn("Git SHA:", out)


if __name__ == "__main__":
    harness.main()
