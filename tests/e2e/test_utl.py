#!/usr/bin/python3
"""e2e: etcdpp-utl (tools/utl, docs/etcdpp-utl.md) with real processes.

- snapshot of a member -> `snapshot restore` into 3 new data dirs with a new --initial-cluster ->
  a 3-member cluster starts from them and serves every key with its revisions, versions and
  leases; the snapshot comes from `etcdctl snapshot save` when the server streams one, else
  from the stopped member's LMDB file plus its SHA-256 (the same bytes the stream carries);
- import of a real etcd 3.4 snapshot (Debian's /usr/bin/etcd, `etcdctl snapshot save`): an
  etcdpp member restored from it serves what etcd served; `snapshot status` equals etcdctl's;
- bad input: tampered / hash-less / unknown files, a non-empty data dir: etcdutl's errors;
- `defrag --data-dir` on a stopped member (refused while it runs).

etcdpp only (the restored data dirs are etcdpp's format): skipped with ETCDPP_BIN=etcd."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cluster  # noqa: E402
import harness  # noqa: E402

ETCD = "/usr/bin/etcd"


def utl_binary():
    if os.environ.get("ETCDPP_UTL_BIN"):
        return os.environ["ETCDPP_UTL_BIN"]
    return os.path.join(os.path.dirname(harness.server_binary()), "etcdpp-utl")


def utl(*args, timeout=120):
    p = subprocess.run([utl_binary()] + [str(a) for a in args], capture_output=True,
                       timeout=timeout)
    return harness.CmdResult([utl_binary()] + list(args), p.returncode, p.stdout, p.stderr)


def all_kvs(member, consistency="l"):
    r = member.etcdctl("get", "", "--from-key", "-w", "json", "--consistency=" + consistency)
    assert r.rc == 0, r
    return json.loads(r.stdout)


def kv_tuples(resp):
    """(key, value, create, mod, version, lease) of every kv."""
    return [(harness.unb64(kv.get("key")), harness.unb64(kv.get("value")),
             kv.get("create_revision", 0), kv.get("mod_revision", 0), kv.get("version", 0),
             kv.get("lease", 0)) for kv in resp.get("kvs", [])]


def lease_ttls(member):
    r = member.etcdctl("lease", "list")
    assert r.rc == 0, r
    out = {}
    for line in r.out.splitlines()[1:]:
        lid = line.strip()
        if not lid:
            continue
        t = member.etcdctl("lease", "timetolive", lid, "-w", "json")
        assert t.rc == 0, t
        out[int(lid, 16)] = json.loads(t.stdout)["granted-ttl"]
    return out


def make_history(member):
    """Puts (with overwrites and deletes), a leased key, a large value; returns lease ids."""
    for i in range(30):
        assert member.etcdctl("put", "key%02d" % (i % 12), "v%d" % i).rc == 0
    assert member.etcdctl("del", "key03").rc == 0
    assert member.etcdctl("put", "big", input="B" * 150000).rc == 0
    r = member.etcdctl("lease", "grant", "900")
    assert r.rc == 0, r
    lease = r.out.split()[1]
    assert member.etcdctl("put", "leased", "x", "--lease=" + lease).rc == 0
    return [lease]


def snapshot_from_data_dir(data_dir, path):
    """What Maintenance.Snapshot streams: the LMDB file, then the SHA-256 of it."""
    with open(os.path.join(data_dir, "member", "snap", "db", "data.mdb"), "rb") as f:
        payload = f.read()
    assert len(payload) % 512 == 0, len(payload)
    with open(path, "wb") as f:
        f.write(payload + hashlib.sha256(payload).digest())


class UtlTest(cluster.ClusterTestCase):
    def setUp(self):
        super().setUp()
        if not harness.is_etcdpp():
            self.skipTest("etcdpp-utl writes etcdpp data dirs")
        if not os.path.exists(utl_binary()):
            self.fail("%s does not exist (build it)" % utl_binary())
        self.tmp = tempfile.mkdtemp(prefix="etcdpp-e2e-utl-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def take_snapshot(self, member, path):
        """`etcdctl snapshot save` if the server streams snapshots, else the stopped member's
        LMDB file plus its digest. The member is stopped either way."""
        r = member.etcdctl("snapshot", "save", path)
        member.stop()
        if r.rc != 0:
            snapshot_from_data_dir(member.data_dir, path)
            return "data-dir"
        return "stream"

    def test_restore_into_new_three_member_cluster(self):
        src = self.new_member()
        make_history(src)
        want = all_kvs(src)
        want_leases = lease_ttls(src)
        self.assertEqual(len(want_leases), 1)
        snap = os.path.join(self.tmp, "snapshot.db")
        how = self.take_snapshot(src, snap)
        sys.stderr.write("e2e: snapshot taken by %s\n" % how)

        st = utl("snapshot", "status", snap, "-w", "json")
        self.assertEqual(st.rc, 0, st)
        status = json.loads(st.stdout)
        self.assertEqual(status["revision"], want["header"]["revision"])
        self.assertEqual(status["totalSize"], os.path.getsize(snap) - 32)

        c = self.new_cluster(3, start=False, proxy=False)
        for m in c.members:
            r = utl("snapshot", "restore", snap, "--name", m.name, "--data-dir", m.data_dir,
                    "--initial-cluster", c.initial_cluster(),
                    "--initial-cluster-token", c.token,
                    "--initial-advertise-peer-urls", m.adv_peer_url)
            self.assertEqual(r.rc, 0, r)
            self.assertIn("restored snapshot", r.err)
        # The same logical history everywhere: etcdpp-utl hashkv (Maintenance.HashKV's hash).
        h0 = utl("hashkv", src.data_dir, "-w", "json")
        self.assertEqual(h0.rc, 0, h0)
        for m in c.members:
            h = utl("hashkv", m.data_dir, "-w", "json")
            self.assertEqual(h.rc, 0, h)
            self.assertEqual(json.loads(h.stdout), json.loads(h0.stdout))
        c.start()
        for m in c.members:
            got = all_kvs(m)
            self.assertEqual(kv_tuples(got), kv_tuples(want), "member %s" % m.name)
            self.assertEqual(got["header"]["revision"], want["header"]["revision"])
            self.assertEqual(lease_ttls(m), want_leases)
        # The membership is the new one, and the cluster takes writes.
        ml = c.etcdctl_json(0, "member", "list")
        self.assertEqual(sorted(x["peerURLs"][0] for x in ml["members"]),
                         sorted(m.adv_peer_url for m in c.members))
        r = c.etcdctl_retry(1, "put", "after-restore", "1", "-w", "json")
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(json.loads(r.stdout)["header"]["revision"],
                         want["header"]["revision"] + 1)
        # A restored member restarts from its own data dir like any other.
        c.restart(2)
        after = [kv for kv in kv_tuples(all_kvs(c.members[2])) if kv[0] != b"after-restore"]
        self.assertEqual(after, kv_tuples(want))

    def test_import_etcd34_snapshot(self):
        if not os.access(ETCD, os.X_OK):
            self.skipTest("no %s" % ETCD)
        etcd = self.new_member(start=False, binary=ETCD, name="etcd34",
                               extra_args=["--logger", "zap"])
        etcd.start()
        make_history(etcd)
        for i in range(3):  # a compaction, then more history
            self.assertEqual(etcd.etcdctl("put", "pre%d" % i, "p").rc, 0)
        rev = all_kvs(etcd)["header"]["revision"]
        self.assertEqual(etcd.etcdctl("compaction", str(rev - 2)).rc, 0)
        self.assertEqual(etcd.etcdctl("put", "key00", "latest").rc, 0)
        want = all_kvs(etcd)
        want_leases = lease_ttls(etcd)
        snap = os.path.join(self.tmp, "etcd34.db")
        r = etcd.etcdctl("snapshot", "save", snap)
        self.assertEqual(r.rc, 0, r)
        ref = etcd.etcdctl("snapshot", "status", snap, "-w", "json")
        etcd.stop()

        st = utl("snapshot", "status", snap, "-w", "json")
        self.assertEqual(st.rc, 0, st)
        mine = json.loads(st.stdout)
        ref_status = json.loads(ref.stdout)
        for k in ("hash", "revision", "totalKey", "totalSize"):
            self.assertEqual(mine[k], ref_status[k], k)

        m = self.new_member(start=False, name="imported")
        m.pick_ports()
        r = utl("snapshot", "restore", snap, "--name", m.name, "--data-dir", m.data_dir,
                "--initial-cluster", "%s=%s" % (m.name, m.peer_url),
                "--initial-advertise-peer-urls", m.peer_url)
        self.assertEqual(r.rc, 0, r)
        self.assertIn("imported etcd (bbolt) snapshot", r.err)
        m.start(new_ports=False)
        got = all_kvs(m)
        self.assertEqual(kv_tuples(got), kv_tuples(want))
        self.assertEqual(got["header"]["revision"], want["header"]["revision"])
        self.assertEqual(lease_ttls(m), want_leases)
        # History since the compaction is there, before it is compacted, as on etcd.
        old = m.etcdctl("get", "key00", "-w", "json", "--rev=%d" % (rev - 2))
        self.assertEqual(old.rc, 0, old)
        # key00 was last written by make_history (i = 24) before the compaction point.
        self.assertEqual(harness.unb64(json.loads(old.stdout)["kvs"][0]["value"]), b"v24")
        gone = m.etcdctl("get", "key00", "--rev=%d" % (rev - 3))
        self.assertIn("required revision has been compacted", gone.err)

    def test_bad_input(self):
        src = self.new_member()
        self.assertEqual(src.etcdctl("put", "a", "1").rc, 0)
        src.stop()
        snap = os.path.join(self.tmp, "good.db")
        snapshot_from_data_dir(src.data_dir, snap)
        with open(snap, "rb") as f:
            data = f.read()

        def restore(path, d, *extra):
            return utl("snapshot", "restore", path, "--data-dir", os.path.join(self.tmp, d),
                       *extra)

        bad = os.path.join(self.tmp, "tampered.db")
        with open(bad, "wb") as f:
            f.write(data[:100] + bytes([data[100] ^ 1]) + data[101:])
        r = restore(bad, "d1")
        self.assertEqual(r.rc, 1, r)
        self.assertIn("Error: expected sha256 [", r.err)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "d1")))

        nohash = os.path.join(self.tmp, "nohash.db")
        with open(nohash, "wb") as f:
            f.write(data[:-32])
        r = restore(nohash, "d2")
        self.assertIn("Error: snapshot missing hash but --skip-hash-check=false", r.err)
        self.assertEqual(restore(nohash, "d2", "--skip-hash-check").rc, 0)
        r = restore(snap, "d2")
        self.assertIn('Error: data-dir "%s" not empty or could not be read'
                      % os.path.join(self.tmp, "d2"), r.err)

        r = restore(snap, "d3", "--bump-revision", "10")
        self.assertIn("Error: --mark-compacted required if --revision-bump > 0", r.err)
        r = utl("snapshot", "status", os.path.join(self.tmp, "missing.db"))
        self.assertEqual(r.rc, 1, r)
        self.assertIn("no such file or directory", r.err)
        r = utl("snapshot", "restore", snap)
        self.assertIn('Error: required flag(s) "data-dir" not set', r.err)
        r = utl("snapshot", "status", snap, "-w", "xml")
        self.assertIn("Error: unsupported output format", r.err)

    def test_defrag_offline(self):
        m = self.new_member()
        c = m.client()
        for i in range(300):
            c.put("k%d" % (i % 20), "x" * 3000)
        rev = all_kvs(m)["header"]["revision"]
        self.assertEqual(m.etcdctl("compaction", "--physical", str(rev)).rc, 0)
        r = utl("defrag", "--data-dir", m.data_dir)
        self.assertEqual(r.rc, 1, r)
        self.assertIn("Error: Failed to defragment etcd data[%s]" % m.data_dir, r.err)
        want = kv_tuples(all_kvs(m))
        m.stop()
        db = os.path.join(m.data_dir, "member", "snap", "db", "data.mdb")
        before = os.path.getsize(db)
        r = utl("defrag", "--data-dir", m.data_dir)
        self.assertEqual(r.rc, 0, r)
        self.assertLess(os.path.getsize(db), before)
        m.start(new_ports=False)
        self.assertEqual(kv_tuples(all_kvs(m)), want)

    def test_version(self):
        r = utl("version")
        self.assertEqual(r.rc, 0, r)
        self.assertIn("etcdutl version: 3.6.", r.out)
        self.assertIn("API version: 3.6", r.out)


if __name__ == "__main__":
    harness.main()
