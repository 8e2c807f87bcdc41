"""End-to-end harness: runs the server binary as a real process on random loopback ports.

Binary under test (first that is set):
  ETCDPP_BIN           explicit path, e.g. /usr/bin/etcd to validate the suite against real etcd
  ETCDPP_DEFAULT_BIN   set by CMake to the built etcdpp (so ETCDPP_BIN can still override it)
  <repo>/build/bin/etcdpp

Reference mode: when the binary is real etcd (not etcdpp), the few assertions where etcd 3.4 and
3.6 differ observably are relaxed. ETCD_REFERENCE=<major.minor> forces it; by default it is
detected from `<bin> --version` for binaries whose output does not mention etcdpp. See
docs/testing.md for the list of relaxed cases.

Clients: ETCDCTL_BIN (default /usr/bin/etcdctl, Debian's etcd-client 3.4) and python3-etcd3,
which Debian installs for /usr/bin/python3 only.
"""

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

READY_TIMEOUT = float(os.environ.get("E2E_READY_TIMEOUT", "60"))
# etcdctl's own deadline per command; generous because the CI machine is small and busy.
COMMAND_TIMEOUT = "30s"


def server_binary():
    for var in ("ETCDPP_BIN", "ETCDPP_DEFAULT_BIN"):
        path = os.environ.get(var)
        if path:
            return path
    return os.path.join(REPO, "build", "bin", "etcdpp")


def etcdctl_binary():
    return os.environ.get("ETCDCTL_BIN", "/usr/bin/etcdctl")


_version_cache = {}


def binary_version_text(binary=None):
    binary = binary or server_binary()
    if binary not in _version_cache:
        try:
            out = subprocess.run([binary, "--version"], capture_output=True, text=True,
                                 timeout=30)
            _version_cache[binary] = out.stdout + out.stderr
        except OSError as e:
            _version_cache[binary] = "cannot run %s: %s" % (binary, e)
    return _version_cache[binary]


def reference_version():
    """Returns "3.4" etc. when the binary under test is real etcd, None for etcdpp."""
    forced = os.environ.get("ETCD_REFERENCE")
    if forced:
        return forced
    text = binary_version_text()
    if "etcdpp" in text.lower() or "etcdpp" in os.path.basename(server_binary()):
        return None
    for line in text.splitlines():
        if line.startswith("etcd Version:"):
            parts = line.split(":", 1)[1].strip().split(".")
            return ".".join(parts[:2])
    return None


def is_etcdpp():
    return reference_version() is None


def is_reference_34():
    """True when validating against etcd 3.4 (Debian etcd-server): relax 3.6-only assertions."""
    ref = reference_version()
    return ref is not None and ref.startswith("3.4")


def skip_unless_etcdpp(reason):
    return unittest.skipUnless(is_etcdpp(), "etcdpp-specific: " + reason)


# Servers are started through util-linux's setpriv with PR_SET_PDEATHSIG=SIGKILL, so that no
# server outlives its test process (e.g. one killed by a ctest timeout). Not preexec_fn: running
# Python between fork and exec can deadlock when other threads (gRPC's) hold locks. The signal
# fires when the thread that started the server exits: start servers from the main thread only.
SETPRIV = shutil.which("setpriv")


def free_port():
    """A port that was free a moment ago (bind to 0, then release). Callers retry on a clash."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def b64(s):
    if isinstance(s, str):
        s = s.encode()
    return base64.b64encode(s).decode()


def unb64(s):
    return base64.b64decode(s) if s else b""


class CmdResult:
    def __init__(self, args, rc, stdout, stderr):
        self.args = args
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr

    @property
    def out(self):
        return self.stdout.decode(errors="replace")

    @property
    def err(self):
        return self.stderr.decode(errors="replace")

    def __repr__(self):
        return "CmdResult(args=%r, rc=%d, stdout=%r, stderr=%r)" % (
            self.args, self.rc, self.out[:2000], self.err[:2000])


class ServerStartError(Exception):
    pass


class Member:
    """One server process with its own temp dir, data dir, ports and log file."""

    def __init__(self, name="e2e", extra_args=(), binary=None, data_dir=None, env=None):
        self.name = name
        self.extra_args = list(extra_args)
        self.env = dict(env or {})  # extra environment (e.g. ETCD_* settings)
        self.binary = binary or server_binary()
        self.root = tempfile.mkdtemp(prefix="etcdpp-e2e-")
        self.data_dir = data_dir or os.path.join(self.root, "data")
        self.log_path = os.path.join(self.root, "member.log")
        self.client_port = None
        self.peer_port = None
        self.proc = None
        self._log = None
        self.starts = 0

    # ---- addresses ----
    @property
    def client_url(self):
        return "http://127.0.0.1:%d" % self.client_port

    @property
    def peer_url(self):
        return "http://127.0.0.1:%d" % self.peer_port

    @property
    def endpoint(self):
        return "127.0.0.1:%d" % self.client_port

    def args(self):
        return [self.binary,
                "--name", self.name,
                "--data-dir", self.data_dir,
                "--listen-client-urls", self.client_url,
                "--advertise-client-urls", self.client_url,
                "--listen-peer-urls", self.peer_url,
                "--initial-advertise-peer-urls", self.peer_url,
                "--initial-cluster", "%s=%s" % (self.name, self.peer_url)] + self.extra_args

    # ---- process control ----
    def pick_ports(self):
        self.client_port = free_port()
        self.peer_port = free_port()
        while self.peer_port == self.client_port:
            self.peer_port = free_port()

    def spawn(self, args=None):
        """Starts the process without waiting for readiness (used for bad-flag tests too)."""
        if self.client_port is None:
            self.pick_ports()
        if not os.path.exists(self.binary):
            raise ServerStartError("server binary %s does not exist (build it, or set ETCDPP_BIN)"
                                   % self.binary)
        self._log = open(self.log_path, "ab")
        self.starts += 1
        self._log.write(("\n===== e2e harness: start #%d: %s\n" % (
            self.starts, " ".join(args or self.args()))).encode())
        self._log.flush()
        # The server sees only our ETCD_* settings, never the caller's.
        env = {k: v for k, v in os.environ.items() if not k.startswith("ETCD_")}
        env.update(self.env)
        cmd = args or self.args()
        if SETPRIV:
            cmd = [SETPRIV, "--pdeathsig", "KILL", "--"] + cmd
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=self.root, env=env,
                                     start_new_session=True)
        return self.proc

    def start(self, timeout=READY_TIMEOUT, new_ports=True):
        """Starts and waits until `etcdctl endpoint health` passes; retries on a port clash."""
        last_error = None
        for attempt in range(5):
            if new_ports or self.client_port is None or attempt > 0:
                self.pick_ports()
            log_offset = os.path.getsize(self.log_path) if os.path.exists(self.log_path) else 0
            self.spawn()
            try:
                self.wait_ready(timeout)
                return self
            except ServerStartError as e:
                last_error = e
                self._reap()
                log = self.log_text()[log_offset:]
                if "address already in use" not in log.lower():
                    raise
        raise last_error

    def wait_ready(self, timeout=READY_TIMEOUT):
        """Polls a linearizable Range until it succeeds (so a leader exists and the KV path
        works). Not `etcdctl endpoint health`: that also needs Maintenance.Alarm, which is
        tested on its own rather than gating every test."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerStartError("server exited with code %s before becoming ready\n%s" % (
                    self.proc.returncode, self.log_tail()))
            last = self.probe()
            if last is None:
                return
            time.sleep(0.1)  # polling interval, not synchronisation
        self.kill9()
        raise ServerStartError("server not ready after %.0fs; last probe: %s\n%s" % (
            timeout, last, self.log_tail()))

    def probe(self):
        """One readiness probe; returns None when ready, else the error."""
        from etcd3 import etcdrpc
        # A fresh channel each time: a long-lived one backs off its reconnects for many seconds.
        c = self.client(timeout=5)
        try:
            c.kvstub.Range(etcdrpc.RangeRequest(key=b"health"), 5)
            return None
        except Exception as e:  # grpc.RpcError, mostly UNAVAILABLE while starting
            return repr(e)
        finally:
            c.close()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=20):
        """SIGTERM, then SIGKILL after `timeout` seconds. Returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self._reap()

    def kill9(self):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        return self._reap()

    def _reap(self):
        rc = self.proc.wait() if self.proc else None
        if self._log:
            self._log.write(("\n===== e2e harness: exited with %s\n" % rc).encode())
            self._log.close()
            self._log = None
        return rc

    def restart(self, timeout=READY_TIMEOUT, clean=True):
        """Stops (clean=SIGTERM, else kill -9) and starts again on the same data dir and ports."""
        if self.alive():
            self.stop() if clean else self.kill9()
        return self.start(timeout, new_ports=False)

    def cleanup(self):
        try:
            self.kill9()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    # ---- logs ----
    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def server_output(self):
        """What the server itself wrote during its latest start (no harness lines)."""
        last = self.log_text().split("\n===== e2e harness: start #%d: " % self.starts)[-1]
        return "\n".join(line for line in last.splitlines()[1:]
                         if not line.startswith("===== e2e harness"))

    def log_tail(self, n=80):
        lines = self.log_text().splitlines()
        return "----- server log (%s, last %d lines) -----\n%s\n----- end of server log -----" % (
            self.log_path, min(n, len(lines)), "\n".join(lines[-n:]))

    # ---- clients ----
    def etcdctl(self, *args, input=None, timeout=90, endpoints=None):
        """Runs etcdctl (v3 API) against this member; returns CmdResult (never raises on rc)."""
        cmd = [etcdctl_binary(), "--endpoints", endpoints or self.endpoint,
               "--dial-timeout=5s", "--command-timeout=" + COMMAND_TIMEOUT]
        # A later flag wins in etcdctl's flag parser, so callers may override the timeouts.
        cmd += [str(a) for a in args]
        env = dict(os.environ, ETCDCTL_API="3")
        for k in list(env):
            if k.startswith("ETCDCTL_") and k != "ETCDCTL_API":
                del env[k]
        if isinstance(input, str):
            input = input.encode()
        p = subprocess.run(cmd, input=input, capture_output=True, env=env, timeout=timeout)
        return CmdResult(cmd[1:], p.returncode, p.stdout, p.stderr)

    def etcdctl_json(self, *args, input=None):
        r = self.etcdctl("-w", "json", *args, input=input)
        if r.rc != 0:
            raise AssertionError("etcdctl failed: %r" % r)
        return json.loads(r.stdout)

    def client(self, timeout=30):
        import etcd3  # python3-etcd3 (Debian); only visible to /usr/bin/python3
        return etcd3.client(host="127.0.0.1", port=self.client_port, timeout=timeout)


class MemberTestCase(unittest.TestCase):
    """Base class: members are always cleaned up (per test, or per class for class members), and
    the logs of every member involved are printed when a test failed or errored."""

    class_members = []

    @classmethod
    def new_class_member(cls, **kw):
        m = Member(**kw)
        cls.class_members = cls.class_members + [m]
        try:
            m.start()
        except BaseException:
            # tearDownClass does not run when setUpClass fails; the exception text has the log.
            m.cleanup()
            cls.class_members.remove(m)
            raise
        return m

    @classmethod
    def setUpClass(cls):
        cls.class_members = []

    @classmethod
    def tearDownClass(cls):
        for m in cls.class_members:
            m.cleanup()
        cls.class_members = []

    def new_member(self, start=True, **kw):
        m = Member(**kw)
        self._members.append(m)
        if start:
            m.start()
        return m

    def setUp(self):
        self._members = []
        self._log_snapshots = []
        # addCleanup runs even when setUp or the test fails.
        self.addCleanup(self._cleanup_members)

    def _cleanup_members(self):
        for m in self._members:
            self._log_snapshots.append(m.log_tail(200))
            m.cleanup()
        self._members = []

    def run(self, result=None):
        # The outcome is only known from the result object, so hook run() to print logs.
        if result is None:
            return super().run(result)
        before = len(result.failures) + len(result.errors)
        self._log_snapshots = []
        out = super().run(result)
        if len(result.failures) + len(result.errors) > before:
            for tail in self._log_snapshots:
                sys.stderr.write("\n" + tail + "\n")
            for m in type(self).class_members:
                sys.stderr.write("\n" + m.log_tail(200) + "\n")
        return out


class SharedMemberTestCase(MemberTestCase):
    """One member for the whole class (`self.m`); each test works under its own key prefix.
    `ok(...)` runs etcdctl against it and asserts success."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.m = cls.new_class_member()

    def ok(self, *args, **kw):
        r = self.m.etcdctl(*args, **kw)
        self.assertEqual(r.rc, 0, r)
        return r


def main():
    # A hang must not eat the whole ctest timeout silently: dump every thread's stack and exit
    # (the servers then die with us, see SETPRIV).
    import faulthandler
    faulthandler.dump_traceback_later(float(os.environ.get("E2E_WATCHDOG", "280")), exit=True)
    if os.environ.get("E2E_VERBOSE", "1") != "0":
        sys.stderr.write("e2e: server binary %s (%s)\n" % (
            server_binary(), "etcdpp" if is_etcdpp() else "reference etcd " + reference_version()))
    unittest.main(verbosity=2)


# ---- assertion helpers shared by the test files ----

def assert_etcdctl_error(tc, r, code, message):
    """etcdctl failed with gRPC `code` (e.g. "InvalidArgument") and exactly etcd's `message`.

    etcdctl 3.4 prints `Error: <message>` and, through its retry interceptor, a warn line holding
    `code = <Code> desc = <message>`."""
    tc.assertNotEqual(r.rc, 0, r)
    tc.assertIn("Error: " + message + "\n", r.err, r)
    tc.assertIn("code = %s desc = %s" % (code, message), r.err, r)


def kvs_of(resp):
    """The kvs of an etcdctl -w json range response: [(key, value, create, mod, version)]."""
    return [(unb64(kv.get("key")), unb64(kv.get("value")), kv.get("create_revision", 0),
             kv.get("mod_revision", 0), kv.get("version", 0)) for kv in resp.get("kvs", [])]


def keys_of(resp):
    return [unb64(kv.get("key")) for kv in resp.get("kvs", [])]


def revision_of(resp):
    return resp["header"]["revision"]
