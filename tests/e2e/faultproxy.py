"""A loopback TCP fault proxy for the peer traffic of e2e clusters (stdlib only, threads).

Placement: one FaultProxy in front of each member's peer listener. Member i listens on its real
peer port and *advertises* the proxy's port (`--initial-advertise-peer-urls` and its entry in
`--initial-cluster`), so every connection INTO member i's peer port passes through proxy i.

Why per-proxy modes are not enough to partition a member
---------------------------------------------------------
The connections member i opens itself go through the OTHER members' proxies, and both etcd and a
gRPC transport carry traffic in both directions over one connection:
  * etcd's rafthttp: member i's stream *reader* dials j (`GET /raft/stream/...`) and j writes its
    messages for i onto that connection; i's messages for j travel on the stream j dialled into i,
    or on i's own `POST /raft` pipeline requests to j (also used for snapshots).
  * etcdpp: a bidirectional gRPC stream per peer pair, opened by one side.
So blackholing only proxy i (inbound into i) leaves i talking both ways over the connections it
opened itself: that is not a partition.

Design chosen: identify the SENDING MEMBER of every accepted connection
-------------------------------------------------------------------------
Every member runs as a local process, so the proxy can ask the kernel who opened a connection:
the accepted socket's peer address (127.0.0.1:<ephemeral port>) is the local address of the
client's socket; /proc/net/tcp maps that address pair to a socket inode, and the owner is the
process among the members' pids whose /proc/<pid>/fd has `socket:[inode]`. Each proxy is given
a `resolve_sender(peer_addr, proxy_addr)` callable (see `socket_owner_pid`) that returns a label
(the cluster uses the member index; `unresolved` counts connections it could not attribute). Then a rule "block connections from sender s" gives a per-link fault
independent of the transport (HTTP/1.1, HTTP/2, TLS), with no cooperation from the server:
  isolate(i)   = proxy i blocks every sender, and every other proxy blocks sender i
  partition(A|B) = proxy of each member in A blocks senders of B, and vice versa
which cuts every connection in both directions between the groups: a real symmetric partition.
Alternatives rejected: distinct loopback source addresses per member (etcd 3.4 has no flag for
the dialing address; 3.6's SetMemberLocalAddr gate is alpha and off by default), parsing
etcd's `X-Server-From` header (not possible for gRPC's HPACK-coded metadata), per-pair
proxies (a member has one set of peer URLs, replicated to everyone through raft).
Limitation: Linux only (/proc), servers must run as a user whose /proc/<pid>/fd we can read
(the same user, as the e2e harness does).

Modes (whole proxy, or per sender through `block`):
  pass       forward both ways
  blackhole  accept, keep every socket open, forward nothing either way (TCP buffers fill up; data
             already buffered is delivered after healing, as after a real partition heals)
  drop       close current connections (RST) and reset new ones right after accept
  delay      forward both ways after `delay_ms` (each chunk is held that long, order preserved)
"""

import collections
import os
import select
import socket
import struct
import threading
import time

PASS, BLACKHOLE, DROP, DELAY = "pass", "blackhole", "drop", "delay"
_MODES = (PASS, BLACKHOLE, DROP, DELAY)


# ---- who opened this connection? ----

def _hex_addr_v4(host, port):
    # /proc/net/tcp prints the IPv4 address as the 32-bit value in host (little-endian) order.
    packed = socket.inet_aton(host)
    return "%08X:%04X" % (struct.unpack("<I", packed)[0], port)


def _hex_addr_v6_mapped(host, port):
    # A dual-stack (AF_INET6) client socket - gRPC's default - shows an IPv4 peer as
    # ::ffff:a.b.c.d in /proc/net/tcp6: four 32-bit words, each in host order.
    packed = b"\0" * 10 + b"\xff\xff" + socket.inet_aton(host)
    words = struct.unpack("<4I", packed)
    return "".join("%08X" % w for w in words) + ":%04X" % port


def _socket_inode(local, remote):
    """Inode of the TCP socket whose local address is `local` and remote is `remote`.
    Looks in /proc/net/tcp (AF_INET sockets, etcd's) and /proc/net/tcp6 (dual-stack AF_INET6
    sockets with IPv4-mapped addresses, as gRPC opens them)."""
    for path, fmt in (("/proc/net/tcp", _hex_addr_v4), ("/proc/net/tcp6", _hex_addr_v6_mapped)):
        want_local = fmt(*local)
        want_remote = fmt(*remote)
        try:
            with open(path) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if fields[1] == want_local and fields[2] == want_remote:
                        return fields[9]
        except OSError:
            pass
    return None


def socket_owner_pid(local, remote, pids):
    """Which of `pids` owns the TCP socket local->remote (both (host, port)); None if unknown."""
    inode = _socket_inode(local, remote)
    if inode is None or inode == "0":
        return None
    target = "socket:[%s]" % inode
    for pid in pids:
        if pid is None:
            continue
        fd_dir = "/proc/%d/fd" % pid
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(os.path.join(fd_dir, fd)) == target:
                    return pid
            except OSError:
                continue
    return None


# ---- the proxy ----

class _Conn:
    def __init__(self, proxy, client, upstream, sender):
        self.proxy = proxy
        self.client = client
        self.upstream = upstream
        self.sender = sender
        self.closed = False
        self.lock = threading.Lock()

    def start(self):
        for src, dst, name in ((self.client, self.upstream, "c2u"),
                               (self.upstream, self.client, "u2c")):
            queue = collections.deque()
            cond = threading.Condition()
            threading.Thread(target=self._reader, args=(src, queue, cond), daemon=True,
                             name="proxy-%d-%s-r" % (self.proxy.port, name)).start()
            threading.Thread(target=self._writer, args=(dst, queue, cond), daemon=True,
                             name="proxy-%d-%s-w" % (self.proxy.port, name)).start()

    def close(self):
        with self.lock:
            if self.closed:
                return
            self.closed = True
        for s in (self.client, self.upstream):
            try:
                # RST rather than FIN: like a network that lost the connection state.
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                s.close()
            except OSError:
                pass
        self.proxy._forget(self)

    def _reader(self, src, queue, cond):
        try:
            while not self.closed:
                mode, delay = self.proxy.mode_for(self.sender)
                if mode == DROP:
                    break
                if mode == BLACKHOLE:
                    self.proxy.wait_change(0.2)
                    continue
                r, _, _ = select.select([src], [], [], 0.1)
                if not r:
                    continue
                data = src.recv(65536)
                if not data:
                    break
                due = time.monotonic() + (delay / 1000.0 if mode == DELAY else 0)
                with cond:
                    queue.append((due, data))
                    cond.notify()
        except (OSError, ValueError):
            pass
        with cond:
            queue.append((0, None))  # end of stream: the writer closes the connection
            cond.notify()

    def _writer(self, dst, queue, cond):
        try:
            while True:
                with cond:
                    while not queue:
                        cond.wait(0.2)
                        if self.closed:
                            return
                    due, data = queue[0]
                if data is None:
                    break
                mode, _ = self.proxy.mode_for(self.sender)
                if mode == DROP:
                    break
                if mode == BLACKHOLE:
                    self.proxy.wait_change(0.2)
                    continue
                now = time.monotonic()
                if due > now:
                    # Simulated latency, not synchronisation.
                    time.sleep(min(due - now, 0.1))
                    continue
                with cond:
                    queue.popleft()
                dst.sendall(data)
        except (OSError, ValueError):
            pass
        self.close()


class FaultProxy:
    """Listens on 127.0.0.1:<port> (random) and forwards to 127.0.0.1:<target_port>."""

    def __init__(self, target_port, name="proxy", resolve_sender=None, host="127.0.0.1"):
        self.name = name
        self.host = host
        self.target_port = target_port
        self.resolve_sender = resolve_sender
        self._lock = threading.Condition()
        self._mode = PASS
        self._delay_ms = 0
        self._blocked = {}  # sender label -> BLACKHOLE or DROP
        self._conns = set()
        self._stopped = False
        self.accepted = 0
        self.unresolved = 0
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, 0))
        self._listener.listen(128)
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept_loop, daemon=True,
                                        name="proxy-%d-accept" % self.port)
        self._thread.start()

    @property
    def url(self):
        return "http://%s:%d" % (self.host, self.port)

    def __repr__(self):
        return "FaultProxy(%s :%d -> :%d mode=%s blocked=%r)" % (
            self.name, self.port, self.target_port, self._mode, self._blocked)

    # ---- fault control ----

    def set_mode(self, mode, delay_ms=0):
        assert mode in _MODES, mode
        with self._lock:
            self._mode = mode
            self._delay_ms = delay_ms
            self._lock.notify_all()
        if mode == DROP:
            self._close_matching(lambda c: True)

    def block(self, senders, how=BLACKHOLE):
        """Connections opened by any of `senders` (labels from resolve_sender) get `how`."""
        assert how in (BLACKHOLE, DROP), how
        senders = set(senders)
        with self._lock:
            for s in senders:
                self._blocked[s] = how
            self._lock.notify_all()
        if how == DROP:
            self._close_matching(lambda c: c.sender in senders)

    def heal(self):
        """Back to pass for everyone."""
        with self._lock:
            self._mode = PASS
            self._delay_ms = 0
            self._blocked.clear()
            self._lock.notify_all()

    def mode_for(self, sender):
        with self._lock:
            if self._stopped:
                return DROP, 0
            if self._mode in (BLACKHOLE, DROP):
                return self._mode, 0
            if sender in self._blocked:
                return self._blocked[sender], 0
            return self._mode, self._delay_ms

    def wait_change(self, timeout):
        with self._lock:
            self._lock.wait(timeout)

    def close(self):
        with self._lock:
            self._stopped = True
            self._lock.notify_all()
        try:
            self._listener.close()
        except OSError:
            pass
        self._close_matching(lambda c: True)

    # ---- internals ----

    def _forget(self, conn):
        with self._lock:
            self._conns.discard(conn)

    def _close_matching(self, pred):
        with self._lock:
            victims = [c for c in self._conns if pred(c)]
        for c in victims:
            c.close()

    def _accept_loop(self):
        while True:
            try:
                client, addr = self._listener.accept()
            except OSError:
                return  # closed
            self.accepted += 1
            threading.Thread(target=self._setup, args=(client, addr), daemon=True,
                             name="proxy-%d-setup" % self.port).start()

    def _resolve(self, addr):
        if self.resolve_sender is None:
            return None
        # The client's socket is established before accept() returns, but give /proc a moment
        # on a busy machine (the fd is installed before connect() starts, so this rarely loops).
        deadline = time.monotonic() + 1.0
        while True:
            sender = self.resolve_sender(addr, (self.host, self.port))
            if sender is not None or time.monotonic() > deadline:
                return sender
            time.sleep(0.01)  # polling interval

    def _setup(self, client, addr):
        sender = self._resolve(addr)
        if sender is None:
            self.unresolved += 1
        mode, _ = self.mode_for(sender)
        if mode == DROP:
            _reset(client)
            return
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            upstream.settimeout(None)
        except OSError:
            # The member behind us is down: refuse like it would.
            _reset(client)
            return
        for s in (client, upstream):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = _Conn(self, client, upstream, sender)
        with self._lock:
            if self._stopped:
                conn.closed = True
            else:
                self._conns.add(conn)
        if conn.closed:
            _reset(client)
            _reset(upstream)
            return
        conn.start()


def _reset(s):
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    except OSError:
        pass
