#!/usr/bin/python3
"""e2e: Watch driven by the real etcdctl (3.4) and python3-etcd3: key, prefix, --rev replay of
history, --prev-kv, all events of a txn in order, a watch started from a compacted revision
(etcd's compacted error), a lease revoke seen as deletes; and in a 3-member cluster, a watcher on
a follower sees writes made through another member, and resumes exactly after a kill -9 of its
member (start_revision = last seen + 1)."""

import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cluster  # noqa: E402
import harness  # noqa: E402


def watch_lines(member, args, until, timeout=30):
    """Runs `etcdctl watch <args>` until its output contains `until` (or timeout); returns the
    output lines. The watch process is always stopped."""
    cmd = [harness.etcdctl_binary(), "--endpoints", member.endpoint, "watch"] + list(args)
    env = dict(os.environ, ETCDCTL_API="3")
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    out = []
    done = threading.Event()

    def reader():
        for line in p.stdout:
            out.append(line.rstrip("\n"))
            if until(out):
                done.set()
                return
        done.set()

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    try:
        done.wait(timeout)
    finally:
        p.kill()
        p.wait()
        p.stdout.close()
        p.stderr.close()
    return out


class WatchTest(harness.SharedMemberTestCase):

    def rev(self):
        return self.m.etcdctl_json("get", "nonexistent-key")["header"]["revision"]

    def test_history_replay_prev_kv_and_txn_order(self):
        start = self.rev() + 1
        self.ok("put", "wh/a", "1")
        self.ok("put", "wh/a", "2")
        self.ok("txn", input="\nput wh/b 3\nput wh/c 4\n\n\n")
        self.ok("del", "wh/a")
        out = watch_lines(self.m, ["--prefix", "wh/", "--rev", str(start), "--prev-kv"],
                          until=lambda o: o.count("DELETE") >= 1 and len(o) >= 17)
        self.assertEqual(out[:17], [
            "PUT", "wh/a", "1",
            "PUT", "wh/a", "1", "wh/a", "2",
            "PUT", "wh/b", "3",
            "PUT", "wh/c", "4",
            "DELETE", "wh/a", "2",
        ][:17], out)

    def test_live_key_watch(self):
        got = []

        def run():
            got.extend(watch_lines(self.m, ["wl/k"], until=lambda o: len(o) >= 3))

        t = threading.Thread(target=run)
        t.start()
        # Until the watch is created nothing guarantees delivery: write until it shows up.
        deadline = time.monotonic() + 20
        while t.is_alive() and time.monotonic() < deadline:
            self.ok("put", "wl/k", "live")
            self.ok("put", "wl/other", "x")
            time.sleep(0.2)  # pacing until the watcher is in place
        t.join()
        self.assertEqual(got[:3], ["PUT", "wl/k", "live"], got)

    def test_compacted_revision_is_refused(self):
        self.ok("put", "wc/k", "1")
        self.ok("put", "wc/k", "2")
        rev = self.rev()
        self.ok("compact", str(rev))
        import etcd3
        c = etcd3.client(host="127.0.0.1", port=self.m.client_port)
        try:
            with self.assertRaises(Exception) as ctx:
                events, cancel = c.watch("wc/k", start_revision=1)
                for _ in events:
                    break
            # python-etcd3 raises RevisionCompactedError for etcd's canceled response with
            # compact_revision.
            self.assertIn("Compacted", type(ctx.exception).__name__, repr(ctx.exception))
        finally:
            c.close()

    def test_python_watch_prefix_and_lease_revoke(self):
        import etcd3
        c = etcd3.client(host="127.0.0.1", port=self.m.client_port)
        try:
            lease = c.lease(60)
            start = self.rev() + 1
            c.put("wp/x", "1", lease=lease)
            c.put("wp/y", "2", lease=lease)
            lease.revoke()
            events, cancel = c.watch_prefix("wp/", start_revision=start)
            seen = []
            for ev in events:
                seen.append((type(ev).__name__, ev.key.decode(), ev.mod_revision))
                if len(seen) == 4:
                    cancel()
                    break
            kinds = [s[0] for s in seen]
            self.assertEqual(kinds, ["PutEvent", "PutEvent", "DeleteEvent", "DeleteEvent"], seen)
            # The revoke deletes both keys at one revision.
            self.assertEqual(seen[2][2], seen[3][2], seen)
        finally:
            c.close()


class ClusterWatchTest(cluster.ClusterTestCase):

    def test_follower_watch_resumes_after_kill9(self):
        c = self.new_cluster(3, proxy=False)
        leader = c.wait_leader()
        f = (leader + 1) % 3
        writer = (leader + 2) % 3
        start = c.members[f].etcdctl_json("get", "x")["header"]["revision"] + 1
        for i in range(20):
            self.assertEqual(c.etcdctl_retry(writer, "put", "cw/k%02d" % i, "v").rc, 0)
        out = watch_lines(c.members[f], ["--prefix", "cw/", "--rev", str(start)],
                          until=lambda o: len(o) >= 30)
        keys = [out[i + 1] for i in range(0, len(out) - 2, 3) if out[i] == "PUT"]
        self.assertEqual(keys[:10], ["cw/k%02d" % i for i in range(10)], out)
        # kill -9 the watcher's member; resume from the revision after the last one seen.
        c.kill9(f)
        for i in range(20, 30):
            self.assertEqual(c.etcdctl_retry(writer, "put", "cw/k%02d" % i, "v").rc, 0)
        c.restart(f)
        resume = start + 10  # 10 events seen, one revision each
        out = watch_lines(c.members[f], ["--prefix", "cw/", "--rev", str(resume)],
                          until=lambda o: len(o) >= 60)
        keys = [out[i + 1] for i in range(0, len(out) - 2, 3) if out[i] == "PUT"]
        self.assertEqual(keys[:20], ["cw/k%02d" % i for i in range(10, 30)], out)


if __name__ == "__main__":
    harness.main()
