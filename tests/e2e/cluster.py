"""Multi-member clusters for the e2e tests: real processes on loopback, optional fault proxies.

    c = Cluster(3, tmpdir)            # ports chosen, nothing started
    c.start()                         # all members spawned, waits until each one serves a
                                      # linearizable Range (what `etcdctl endpoint health` checks)
    c.leader()                        # index of the member that reports itself leader, or None
    c.wait_leader(exclude=(i,))       # polls until a leader (not in `exclude`) exists
    c.kill9(i); c.stop(i); c.restart(i)
    c.add_member("m3", learner=False) # `etcdctl member add` + start with state `existing`
    c.etcdctl(i, "put", "k", "v")     # etcdctl against member i (harness.CmdResult)
    c.isolate(i); c.heal()            # symmetric partition through the fault proxies
    c.cleanup()                       # stops everything, closes proxies

Flags given to every member (see `ClusterMember.args`):
  --name m<i> --data-dir <tmpdir>/m<i>/data
  --listen-client-urls/--advertise-client-urls http://127.0.0.1:<client>
  --listen-peer-urls http://127.0.0.1:<peer>
  --initial-advertise-peer-urls http://127.0.0.1:<proxy port, or peer port without proxy>
  --initial-cluster m0=<adv0>,m1=<adv1>,... --initial-cluster-token <token>
  --initial-cluster-state new|existing
  --heartbeat-interval 50 --election-timeout 500 (E2E_HEARTBEAT_MS / E2E_ELECTION_MS)
  reference etcd 3.4 only: --logger zap --pre-vote=true (3.6's defaults; 3.4 defaults to
  capnslog and pre-vote off)
plus `extra_flags`.

Every member's log (stdout+stderr of every start) is `<tmpdir>/m<i>/member.log`;
`ClusterTestCase` prints the tail of each one when a test fails; E2E_KEEP=1 keeps the cluster's
temp dir (data dirs and logs) after the test. Fault proxies: faultproxy.py.
"""

import atexit
import json
import os
import shutil
import sys
import tempfile
import threading
import time

import faultproxy
import harness
from harness import ServerStartError

HEARTBEAT_MS = int(os.environ.get("E2E_HEARTBEAT_MS", "50"))
ELECTION_MS = int(os.environ.get("E2E_ELECTION_MS", "500"))


# Errors after which an idempotent request may simply be sent again.
TRANSIENT_ERRORS = ("etcdserver: leader changed", "etcdserver: no leader",
                    "etcdserver: request timed out", "context deadline exceeded",
                    "etcdserver: too many requests")


def reference_flags():
    if harness.is_reference_34():
        return ["--logger", "zap", "--pre-vote=true"]
    return []


class ClusterMember(harness.Member):
    """A harness.Member whose flags describe a multi-member cluster."""

    def __init__(self, cluster, index, name, root):
        super().__init__(name=name, extra_args=list(cluster.extra_flags))
        shutil.rmtree(self.root, ignore_errors=True)  # Member made its own temp dir; use ours
        self.cluster = cluster
        self.index = index
        self.root = root
        os.makedirs(root, exist_ok=True)
        self.data_dir = os.path.join(root, "data")
        self.log_path = os.path.join(root, "member.log")
        self.proxy = None
        self.initial_cluster = None  # set by the cluster before the first start
        self.initial_state = "new"
        self.token = cluster.token
        self.learner = False
        self.removed = False

    @property
    def adv_peer_url(self):
        return self.proxy.url if self.proxy else self.peer_url

    def args(self):
        return [self.binary,
                "--name", self.name,
                "--data-dir", self.data_dir,
                "--listen-client-urls", self.client_url,
                "--advertise-client-urls", self.client_url,
                "--listen-peer-urls", self.peer_url,
                "--initial-advertise-peer-urls", self.adv_peer_url,
                "--initial-cluster", self.initial_cluster,
                "--initial-cluster-token", self.token,
                "--initial-cluster-state", self.initial_state,
                "--heartbeat-interval", str(self.cluster.heartbeat_ms),
                "--election-timeout", str(self.cluster.election_ms)] + \
            reference_flags() + self.extra_args

    def pick_ports(self):
        # Only the first start picks ports: peers know our advertised URL from then on.
        if self.client_port is None:
            super().pick_ports()
            if self.proxy:
                self.proxy.target_port = self.peer_port

    def probe(self):
        """Readiness: a linearizable Range (serializable for a learner, which refuses the
        linearizable one); the same check as the first half of `etcdctl endpoint health`."""
        from etcd3 import etcdrpc
        c = self.client(timeout=5)
        try:
            c.kvstub.Range(etcdrpc.RangeRequest(key=b"health", serializable=self.learner), 5)
            return None
        except Exception as e:
            return repr(e)
        finally:
            c.close()

    def status(self, timeout=3):
        """Maintenance.Status over gRPC (a fresh channel), or None when it fails."""
        from etcd3 import etcdrpc
        if not self.alive():
            return None
        c = self.client(timeout=timeout)
        try:
            return c.maintenancestub.Status(etcdrpc.StatusRequest(), timeout)
        except Exception:
            return None
        finally:
            c.close()


_live_clusters = []


@atexit.register
def _cleanup_live_clusters():
    # Last resort (a test that forgot cleanup, an exception in setUp): servers also die with us
    # through setpriv's pdeathsig, this removes their temp dirs and closes the proxies.
    for c in list(_live_clusters):
        c.cleanup()


class Cluster:
    def __init__(self, n, tmpdir=None, extra_flags=(), proxy=True, token=None,
                 heartbeat_ms=HEARTBEAT_MS, election_ms=ELECTION_MS):
        _live_clusters.append(self)
        self.own_tmpdir = tmpdir is None
        self.tmpdir = tmpdir or tempfile.mkdtemp(prefix="etcdpp-e2e-cluster-")
        self.extra_flags = list(extra_flags)
        self.use_proxy = proxy
        self.token = token or "e2e-%d-%d" % (os.getpid(), int(time.time() * 1000) % 1000000)
        self.heartbeat_ms = heartbeat_ms
        self.election_ms = election_ms
        self.members = []
        for _ in range(n):
            self._new_member()
        initial = self.initial_cluster()
        for m in self.members:
            m.initial_cluster = initial

    # ---- construction ----

    def _new_member(self, name=None):
        i = len(self.members)
        name = name or "m%d" % i
        m = ClusterMember(self, i, name, os.path.join(self.tmpdir, name))
        m.pick_ports()
        if self.use_proxy:
            m.proxy = faultproxy.FaultProxy(m.peer_port, name="proxy-" + name,
                                            resolve_sender=self._resolve_sender)
        self.members.append(m)
        return m

    def initial_cluster(self, members=None):
        members = members if members is not None else [
            m for m in self.members if not m.removed]
        return ",".join("%s=%s" % (m.name, m.adv_peer_url) for m in members)

    def _resolve_sender(self, peer_addr, proxy_addr):
        """Index of the member process that opened the connection peer_addr -> proxy_addr."""
        pids = {m.proc.pid: m.index for m in self.members if m.proc is not None and m.alive()}
        pid = faultproxy.socket_owner_pid(peer_addr, proxy_addr, list(pids))
        return pids.get(pid)

    # ---- process control ----

    def start(self, timeout=harness.READY_TIMEOUT):
        """Spawns every (stopped) member, then waits until each one is ready. Also restarts a
        whole stopped cluster (same flags; --initial-cluster-state is ignored once a data dir
        is initialised)."""
        offsets = {}
        for m in self.members:
            offsets[m.index] = self._log_size(m)
            m.spawn()
        deadline = time.monotonic() + timeout
        for m in self.members:
            self._wait_ready_or_repick(m, offsets[m.index], deadline)
        # A member serves clients only after its name and client URLs are committed (etcd
        # publishes first). One more linearizable read through each member makes it apply
        # everything committed so far, so every member's `member list` is complete.
        for m in self.members:
            m.wait_ready(max(1.0, deadline - time.monotonic()))
        return self

    @staticmethod
    def _log_size(m):
        return os.path.getsize(m.log_path) if os.path.exists(m.log_path) else 0

    def _wait_ready_or_repick(self, m, log_offset, deadline):
        """Waits for a spawned member; if it died on "address already in use", picks new real
        ports and spawns it again. Ports come from bind-to-0-and-release, so another process
        (any outgoing connection uses the same ephemeral range) may take one meanwhile. Only
        behind a proxy: the advertised peer URL is the proxy's and stays; the new client URL is
        published again by the member at start."""
        for attempt in range(5):
            try:
                m.wait_ready(max(1.0, deadline - time.monotonic()))
                return
            except ServerStartError:
                clash = "address already in use" in m.log_text()[log_offset:].lower()
                if not (clash and self.use_proxy and attempt < 4):
                    raise
                m._reap()
                m.client_port = None
                m.pick_ports()
                log_offset = self._log_size(m)
                m.spawn()

    def wait_ready(self, indexes, timeout=harness.READY_TIMEOUT):
        deadline = time.monotonic() + timeout
        for i in indexes:
            self.members[i].wait_ready(max(1.0, deadline - time.monotonic()))

    def spawn(self, i):
        return self.members[i].spawn()

    def kill9(self, i):
        return self.members[i].kill9()

    def stop(self, i, timeout=20):
        return self.members[i].stop(timeout)

    def restart(self, i, clean=True, wait=True, timeout=harness.READY_TIMEOUT):
        """Stops member i if running (SIGTERM, or kill -9 when clean=False) and starts it again
        with the same flags and ports."""
        m = self.members[i]
        if m.alive():
            m.stop() if clean else m.kill9()
        offset = self._log_size(m)
        m.spawn()
        if wait:
            self._wait_ready_or_repick(m, offset, time.monotonic() + timeout)
        return m

    def alive_indexes(self):
        return [m.index for m in self.members if m.alive()]

    def cleanup(self):
        for m in self.members:
            try:
                m.kill9()
            except Exception:
                pass
            if m.proxy:
                m.proxy.close()
        if os.environ.get("E2E_KEEP") == "1":
            # Debugging: keep data dirs and logs.
            sys.stderr.write("e2e: E2E_KEEP=1, cluster files kept in %s\n" % self.tmpdir)
        elif self.own_tmpdir:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
        if self in _live_clusters:
            _live_clusters.remove(self)

    def log_tails(self, n=120):
        return "\n".join(m.log_tail(n) for m in self.members)

    # ---- clients ----

    def etcdctl(self, i, *args, **kw):
        return self.members[i].etcdctl(*args, **kw)

    def etcdctl_retry(self, i, *args, timeout=60, **kw):
        """etcdctl against member i, retried while it fails with a transient error (a leader
        change: spurious elections happen on a busy machine with a 500 ms election timeout).
        Only for idempotent commands (put of a fixed value, get)."""
        deadline = time.monotonic() + timeout
        while True:
            r = self.etcdctl(i, *args, **kw)
            if r.rc == 0 or time.monotonic() > deadline or \
                    not any(t in r.err for t in TRANSIENT_ERRORS):
                return r
            time.sleep(0.1)  # pacing between retries

    def etcdctl_json(self, i, *args, **kw):
        return self.members[i].etcdctl_json(*args, **kw)

    def endpoints(self, indexes=None):
        indexes = self.alive_indexes() if indexes is None else indexes
        return ",".join(self.members[i].endpoint for i in indexes)

    def client(self, i, timeout=30):
        return self.members[i].client(timeout)

    # ---- leadership ----

    def statuses(self, indexes=None):
        """{index: StatusResponse} of every (alive) member that answers."""
        indexes = self.alive_indexes() if indexes is None else indexes
        out = {}
        for i in indexes:
            s = self.members[i].status()
            if s is not None:
                out[i] = s
        return out

    def member_index(self, member_id):
        for m in self.members:
            if getattr(m, "member_id", None) == member_id:
                return m.index
        return None

    def learn_ids(self):
        """Records each alive member's ID (header.member_id of its Status)."""
        for i, s in self.statuses().items():
            self.members[i].member_id = s.header.member_id

    def leader(self, indexes=None):
        """Index of a member that reports itself as leader (Status.leader == its member_id),
        or None. With several self-reported leaders (an isolated old leader that has not stepped
        down yet), the one with the highest term."""
        best = None
        for i, s in self.statuses(indexes).items():
            self.members[i].member_id = s.header.member_id
            if s.leader != 0 and s.leader == s.header.member_id:
                if best is None or s.raftTerm > best[1]:
                    best = (i, s.raftTerm)
        return best[0] if best else None

    def leader_etcdctl(self, i):
        """Leader as seen by `etcdctl endpoint status -w json` on member i: the index of the
        member whose ID equals the reported leader ID (None if unknown)."""
        r = self.etcdctl(i, "endpoint", "status", "-w", "json")
        if r.rc != 0:
            return None
        st = json.loads(r.stdout)[0]["Status"]
        return self.member_index(st["leader"])

    def wait_leader(self, timeout=30, exclude=(), indexes=None):
        """Polls until a member not in `exclude` reports itself leader; returns its index."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            cand = [i for i in (indexes if indexes is not None else self.alive_indexes())
                    if i not in exclude]
            ld = self.leader(cand)
            if ld is not None:
                return ld
            time.sleep(0.05)  # polling interval
        raise AssertionError("no leader among %r after %.0fs\n%s" % (
            [i for i in self.alive_indexes() if i not in exclude], timeout, self.log_tails(60)))

    # ---- faults (need proxy=True) ----

    def isolate(self, i, how=faultproxy.BLACKHOLE):
        """Symmetric partition of member i from everyone: proxy i refuses every sender, every
        other proxy refuses connections that member i opened."""
        assert self.use_proxy
        others = [m.index for m in self.members if m.index != i]
        self.members[i].proxy.block(others, how)
        for j in others:
            self.members[j].proxy.block([i], how)

    def partition(self, group_a, group_b, how=faultproxy.BLACKHOLE):
        assert self.use_proxy
        for a in group_a:
            self.members[a].proxy.block(group_b, how)
        for b in group_b:
            self.members[b].proxy.block(group_a, how)

    def heal(self):
        for m in self.members:
            if m.proxy:
                m.proxy.heal()

    # ---- membership ----

    def wait_listed(self, peer_url, timeout=30):
        """Waits until every running member's `member list` has a member with peer_url.

        A joining member fetches the member list from any peer; one that has not applied the
        addition yet makes it exit with "member count is unequal". Each member answers from its
        own applied state, so ask each."""
        deadline = time.monotonic() + timeout
        for i in self.alive_indexes():
            while True:
                r = self.etcdctl(i, "member", "list", "-w", "json")
                if r.rc == 0 and any(x.get("peerURLs") == [peer_url] for x in
                                     json.loads(r.stdout).get("members", [])):
                    break
                if time.monotonic() > deadline:
                    raise AssertionError("member %d does not list %s: %r" % (i, peer_url, r))
                time.sleep(0.1)  # polling interval

    def add_member(self, name=None, learner=False, via=0, start=True, extra_flags=()):
        """`etcdctl member add` through member `via`, then starts the new member with
        --initial-cluster-state existing and the ETCD_INITIAL_CLUSTER etcdctl printed.
        Returns (member, CmdResult of member add)."""
        m = self._new_member(name)
        m.extra_args += list(extra_flags)
        args = ["member", "add", m.name, "--peer-urls=" + m.adv_peer_url]
        if learner:
            args.append("--learner")
        # etcd refuses a voter (strict reconfig check) until every member has been connected
        # for a while (5 s in etcd): "etcdserver: unhealthy cluster"; retry that one.
        deadline = time.monotonic() + 60
        while True:
            r = self.etcdctl(via, *args)
            if r.rc == 0 or "unhealthy cluster" not in r.err or time.monotonic() > deadline:
                break
            time.sleep(0.2)  # polling interval
        if r.rc != 0:
            m.removed = True
            raise AssertionError("member add failed: %r" % r)
        env = parse_member_add_env(r.out)
        m.initial_cluster = env["ETCD_INITIAL_CLUSTER"]
        m.initial_state = env.get("ETCD_INITIAL_CLUSTER_STATE", "existing")
        m.learner = learner
        self.wait_listed(m.adv_peer_url)
        if start:
            offset = self._log_size(m)
            m.spawn()
            self._wait_ready_or_repick(m, offset, time.monotonic() + harness.READY_TIMEOUT)
        return m, r


def parse_member_add_env(text):
    """The ETCD_X="..." lines that `etcdctl member add` prints for the new member."""
    env = {}
    for line in text.splitlines():
        if line.startswith("ETCD_") and "=" in line:
            k, v = line.split("=", 1)
            env[k] = v.strip().strip('"')
    return env


class ClusterTestCase(harness.MemberTestCase):
    """A MemberTestCase that also owns clusters: new_cluster() ones are cleaned up after the
    test, and every member's log tail is printed when the test fails or errors."""

    def new_cluster(self, n, start=True, **kw):
        c = Cluster(n, **kw)
        self._clusters.append(c)
        if start:
            c.start()
        return c

    def setUp(self):
        super().setUp()
        self._clusters = []
        self.addCleanup(self._cleanup_clusters)

    def _cleanup_clusters(self):
        for c in self._clusters:
            self._log_snapshots.append(c.log_tails(150))
            c.cleanup()
        self._clusters = []


class Writer(threading.Thread):
    """Puts `<prefix><n>` = `v<n>` in a loop through one member and records the acknowledged
    keys; errors (leader loss, member down) are counted and the loop goes on until stop()."""

    def __init__(self, member, prefix="load/", timeout=3, max_keys=None):
        super().__init__(daemon=True, name="writer-" + prefix)
        self.member = member
        self.prefix = prefix
        self.timeout = timeout
        self.max_keys = max_keys
        self.acked = []
        self.errors = 0
        self.attempts = 0
        self._stop_ev = threading.Event()
        self.progress = threading.Condition()

    def run(self):
        from etcd3 import etcdrpc
        c = None
        n = 0
        while not self._stop_ev.is_set():
            if self.max_keys is not None and n >= self.max_keys:
                break
            if c is None:
                c = self.member.client(timeout=self.timeout)
            key = "%s%06d" % (self.prefix, n)
            n += 1
            self.attempts += 1
            try:
                c.kvstub.Put(etcdrpc.PutRequest(key=key.encode(), value=("v" + key).encode()),
                             self.timeout)
                with self.progress:
                    self.acked.append(key)
                    self.progress.notify_all()
            except Exception:
                self.errors += 1
                # A long-lived channel backs off its reconnects; start over with a new one.
                c.close()
                c = None
                self._stop_ev.wait(0.05)  # pacing after an error, not synchronisation
        if c is not None:
            c.close()

    def wait_acked(self, count, timeout=60):
        deadline = time.monotonic() + timeout
        with self.progress:
            while len(self.acked) < count:
                left = deadline - time.monotonic()
                if left <= 0 or not self.is_alive():
                    raise AssertionError("writer: only %d of %d writes acknowledged (%d errors)"
                                         % (len(self.acked), count, self.errors))
                self.progress.wait(min(left, 0.5))

    def stop(self):
        self._stop_ev.set()
        self.join(60)
        return list(self.acked)


def get_keys(member, prefix, serializable=False, timeout=10):
    """Keys under prefix on one member (python gRPC), as a set of str; raises on error."""
    from etcd3 import etcdrpc
    import etcd3.utils
    c = member.client(timeout=timeout)
    try:
        req = etcdrpc.RangeRequest(key=prefix.encode(),
                                   range_end=etcd3.utils.increment_last_byte(prefix.encode()),
                                   keys_only=True, serializable=serializable)
        resp = c.kvstub.Range(req, timeout)
        return {kv.key.decode() for kv in resp.kvs}, resp.header
    finally:
        c.close()


def wait_keys(member, prefix, expected, serializable=True, timeout=60):
    """Polls until `expected` (a set of keys) is a subset of the keys under prefix on member."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            keys, _ = get_keys(member, prefix, serializable=serializable)
            missing = set(expected) - keys
            if not missing:
                return keys
            last = "%d of %d keys missing, e.g. %r" % (len(missing), len(expected),
                                                       sorted(missing)[:5])
        except Exception as e:
            last = repr(e)
        time.sleep(0.1)  # polling interval
    raise AssertionError("member %s: keys under %r not complete after %.0fs: %s\n%s" % (
        member.name, prefix, timeout, last, member.log_tail(60)))

