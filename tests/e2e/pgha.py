"""Patroni + PostgreSQL nodes for the e2e tests (Debian's `patroni` 3.0.x with its etcd3 DCS,
Debian's PostgreSQL 15). Used by test_patroni.py.

    node = PatroniNode(tmpdir, "a", scope, etcd_hosts=["127.0.0.1:2379", ...])
    node.start()                          # patroni (as user postgres when we are root)
    node.wait_role("master")              # polls the REST API (GET /patroni)
    node.psql("select 1")                 # psql over TCP (trust auth on 127.0.0.1)
    node.patronictl("list", "-f", "json") # patronictl with this node's config
    node.kill9()                          # kill -9 patroni and all its PostgreSQL processes
    node.cleanup()

Process ownership: PostgreSQL refuses to run as root, so as root Patroni runs as `postgres`
(util-linux setpriv) in a node directory owned by it. Patroni starts the postmaster in a session
of its own through a short-lived helper, so the postmaster is not Patroni's descendant. Every
process of a node is found instead by its working directory: Patroni runs in the node directory
and PostgreSQL's processes in the data directory under it, a path no other process uses. That
is what kill9() and cleanup() kill. (Patroni itself also gets PR_SET_PDEATHSIG=SIGKILL, and a
postmaster whose data directory is removed shuts itself down when it rechecks its lock file.)

Ports: PostgreSQL and the REST API need fixed port numbers in the config; they are random ports
below the kernel's ephemeral range (so no outgoing connection can take one between the check and
the bind), checked free by binding.
"""

import json
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import time
import urllib.request

import harness

PG_BIN = os.environ.get("E2E_PG_BIN", "/usr/lib/postgresql/15/bin")
PATRONI = shutil.which("patroni") or "/usr/bin/patroni"
PATRONICTL = shutil.which("patronictl") or "/usr/bin/patronictl"

# Short timings so a failover takes seconds: Patroni needs loop_wait + 2 * retry_timeout <= ttl.
TTL = int(os.environ.get("E2E_PATRONI_TTL", "10"))
LOOP_WAIT = 1
RETRY_TIMEOUT = 4


def missing_prerequisites():
    """What is not installed (empty when the Patroni tests can run)."""
    missing = []
    if not os.path.exists(PATRONI) or not os.path.exists(PATRONICTL):
        missing.append("patroni (Debian package patroni)")
    for b in ("postgres", "initdb", "pg_basebackup", "psql"):
        if not os.path.exists(os.path.join(PG_BIN, b)):
            missing.append("%s/%s (Debian package postgresql-15)" % (PG_BIN, b))
            break
    if harness.SETPRIV is None:
        missing.append("setpriv (util-linux)")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            missing.append("user postgres (created by Debian's postgresql-common)")
    return missing


def run_as():
    """(uid, gid) Patroni and PostgreSQL run as: postgres when we are root, else ourselves."""
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        return pw.pw_uid, pw.pw_gid
    return os.geteuid(), os.getegid()


def _ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


_taken = set()


def quiet_port():
    """A free port below the ephemeral range, not handed out before in this process."""
    high = _ephemeral_low() - 1
    rng = random.Random()
    for _ in range(1000):
        port = rng.randint(max(1024, high - 12000), high)
        if port in _taken:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _taken.add(port)
        return port
    raise RuntimeError("no free port found")


def make_owned_dir(path):
    """mkdir (or the existing dir), owned by the user PostgreSQL runs as, mode 0700."""
    os.makedirs(path, exist_ok=True)
    uid, gid = run_as()
    os.chown(path, uid, gid)
    os.chmod(path, 0o700)
    return path


def _cwd_of(pid):
    try:
        return os.readlink("/proc/%d/cwd" % pid)
    except OSError:
        return None  # gone, a zombie, or not ours


def pids_under(root):
    """Live processes whose working directory is `root` or below."""
    root = os.path.realpath(root)
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        pid = int(name)
        cwd = _cwd_of(pid)
        if cwd and (cwd == root or cwd.startswith(root + "/")):
            out.append(pid)
    return out


class PatroniNode:
    def __init__(self, tmpdir, name, scope, etcd_hosts, use_proxies=False, tags=None):
        self.name = name
        self.scope = scope
        self.etcd_hosts = list(etcd_hosts)
        self.use_proxies = use_proxies
        self.tags = dict(tags or {})
        self.root = make_owned_dir(os.path.join(tmpdir, name))
        self.data_dir = os.path.join(self.root, "data")
        self.config_path = os.path.join(self.root, "patroni.yml")
        self.log_path = os.path.join(self.root, "patroni.log")
        self.pg_port = quiet_port()
        self.api_port = quiet_port()
        self.proc = None
        self._log = None

    # ---- configuration ----

    def config(self):
        hba = ["local all all trust",
               "host all all 127.0.0.1/32 trust",
               "host replication all 127.0.0.1/32 trust"]
        # fsync off: the tests are about the DCS, not PostgreSQL's durability; it saves seconds
        # of initdb/checkpoint fsyncs on a busy machine.
        params = {"unix_socket_directories": self.root, "max_connections": 20,
                  "shared_buffers": "16MB", "fsync": "off", "synchronous_commit": "off",
                  "full_page_writes": "off", "wal_level": "replica", "hot_standby": "on",
                  "max_wal_senders": 5, "max_replication_slots": 5, "wal_keep_size": "64MB"}
        return {
            "scope": self.scope,
            "namespace": "/service/",
            "name": self.name,
            "log": {"level": os.environ.get("E2E_PATRONI_LOG_LEVEL", "INFO")},
            "restapi": {"listen": "127.0.0.1:%d" % self.api_port,
                        "connect_address": "127.0.0.1:%d" % self.api_port},
            "etcd3": dict({"hosts": self.etcd_hosts, "protocol": "http"},
                          **({"use_proxies": True} if self.use_proxies else {})),
            "bootstrap": {
                "dcs": {"ttl": TTL, "loop_wait": LOOP_WAIT, "retry_timeout": RETRY_TIMEOUT,
                        "maximum_lag_on_failover": 1048576,
                        "postgresql": {"use_pg_rewind": False, "use_slots": True,
                                       "parameters": params}},
                "initdb": [{"encoding": "UTF8"}, {"locale": "C.UTF-8"}, "no-sync"],
            },
            "postgresql": {
                "listen": "127.0.0.1:%d" % self.pg_port,
                "connect_address": "127.0.0.1:%d" % self.pg_port,
                "data_dir": self.data_dir,
                "bin_dir": PG_BIN,
                "pgpass": os.path.join(self.root, "pgpass"),
                "use_unix_socket": False,
                "authentication": {
                    "superuser": {"username": "postgres", "password": "e2e-super"},
                    "replication": {"username": "replicator", "password": "e2e-repl"},
                },
                "parameters": params,
                "pg_hba": hba,
                "basebackup": [{"checkpoint": "fast"}],
            },
            "watchdog": {"mode": "off"},
            "tags": dict({"nofailover": False, "noloadbalance": False, "clonefrom": False,
                          "nosync": False}, **self.tags),
        }

    def write_config(self):
        # JSON is YAML: Patroni reads it with yaml.safe_load.
        with open(self.config_path, "w") as f:
            json.dump(self.config(), f, indent=2)
        uid, gid = run_as()
        os.chown(self.config_path, uid, gid)

    # ---- process control ----

    def env(self):
        return {"PATH": PG_BIN + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "HOME": self.root, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
                "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"}

    def start(self):
        self.write_config()
        cmd = [harness.SETPRIV]
        if os.geteuid() == 0:
            cmd += ["--reuid", "postgres", "--regid", "postgres", "--init-groups"]
        cmd += ["--pdeathsig", "KILL", "--", "/usr/bin/python3", PATRONI, self.config_path]
        self._log = open(self.log_path, "ab")
        self._log.write(("===== e2e: start %s\n" % " ".join(cmd)).encode())
        self._log.flush()
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=self.root, env=self.env(),
                                     start_new_session=True)
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=60):
        """SIGTERM to Patroni (it shuts PostgreSQL down and, as primary, deletes its leader
        key); kill -9 of whatever is left after `timeout` seconds. Returns Patroni's exit code."""
        rc = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                rc = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        self.kill9()
        return rc

    def kill9(self, timeout=30):
        """kill -9 of Patroni and every PostgreSQL process of this node (a crash of the node).
        Patroni goes first so that it cannot restart PostgreSQL meanwhile."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        if self.proc is not None:
            self.proc.wait()
        deadline = time.monotonic() + timeout
        while True:
            pids = pids_under(self.root)
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            if time.monotonic() > deadline:
                raise AssertionError("processes of node %s survive kill -9: %r" % (
                    self.name, pids))
            time.sleep(0.05)  # until the kernel has torn them down
        if self._log:
            self._log.write(b"===== e2e: killed\n")
            self._log.close()
            self._log = None

    def cleanup(self):
        try:
            self.kill9()
        finally:
            if self._log:
                self._log.close()
                self._log = None

    # ---- observation ----

    def api(self, path="/patroni", timeout=3):
        """GET on the REST API: (status, parsed JSON) or (None, error text)."""
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.api_port, path),
                                        timeout=timeout) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            try:
                return e.code, json.loads(e.read() or b"null")
            except ValueError:
                return e.code, None
        except (OSError, ValueError) as e:
            return None, repr(e)

    def wait_role(self, roles, timeout=120):
        """Polls GET /patroni until state is running with a role in `roles`; returns the JSON."""
        if isinstance(roles, str):
            roles = (roles,)
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if not self.alive():
                raise AssertionError("patroni %s exited with %s\n%s" % (
                    self.name, self.proc.returncode, self.log_tail()))
            _, last = self.api()
            if isinstance(last, dict) and last.get("state") == "running" and \
                    last.get("role") in roles:
                return last
            time.sleep(0.2)  # polling interval
        raise AssertionError("patroni %s: not running as %s after %ds; last /patroni: %r\n%s" %
                             (self.name, "/".join(roles), timeout, last, self.log_tail()))

    def psql(self, sql, timeout=30):
        cmd = [os.path.join(PG_BIN, "psql"), "-h", "127.0.0.1", "-p", str(self.pg_port),
               "-U", "postgres", "-d", "postgres", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
               "-c", sql]
        env = dict(self.env(), PGCONNECT_TIMEOUT="5")
        p = subprocess.run(cmd, capture_output=True, env=env, timeout=timeout,
                           stdin=subprocess.DEVNULL)
        return harness.CmdResult(cmd, p.returncode, p.stdout, p.stderr)

    def patronictl(self, *args, timeout=60):
        cmd = ["/usr/bin/python3", PATRONICTL, "-c", self.config_path] + list(args)
        p = subprocess.run(cmd, capture_output=True, env=self.env(), timeout=timeout,
                           stdin=subprocess.DEVNULL, cwd=self.root)
        return harness.CmdResult(cmd, p.returncode, p.stdout, p.stderr)

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def log_tail(self, n=60):
        lines = self.log_text().splitlines()
        return "----- patroni %s log (%s, last %d lines) -----\n%s\n----- end -----" % (
            self.name, self.log_path, min(n, len(lines)), "\n".join(lines[-n:]))
