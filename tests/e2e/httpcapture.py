"""A loopback TCP proxy that records the HTTP/1.1 traffic it forwards (stdlib only, threads).

Used to see exactly which JSON-gateway requests a client (Patroni, etcd3gw) sends and what the
server answers:

    p = CaptureProxy(member.client_port)    # listens on 127.0.0.1:<random>
    ... point the client at p.url ...
    p.close()
    for x in p.exchanges(): x["method"], x["path"], x["body"], x["status"], x["response"]
    print(summarize([p]))

The proxy forwards bytes unchanged in both directions and keeps a copy of each direction of
each connection (capped at MAX_BYTES per direction); the HTTP parsing happens afterwards on the
copies, so it never affects the traffic. Requests and responses of one connection are paired in
order (HTTP/1.1 without pipelining, as urllib3 does). Chunked (streamed) bodies are de-chunked;
a stream that was still open when the proxy closed yields the chunks seen so far.
"""

import json
import socket
import threading

MAX_BYTES = 8 << 20


class _Conn:
    def __init__(self, client, upstream):
        self.client = client
        self.upstream = upstream
        self.sent = bytearray()      # client -> server
        self.received = bytearray()  # server -> client
        self.threads = []


class CaptureProxy:
    def __init__(self, target_port, host="127.0.0.1"):
        self.target = (host, target_port)
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((host, 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.conns = []
        self.lock = threading.Lock()
        self.closed = False
        self.thread = threading.Thread(target=self._accept_loop, daemon=True,
                                       name="capture-%d" % self.port)
        self.thread.start()

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    @property
    def hostport(self):
        return "127.0.0.1:%d" % self.port

    def _accept_loop(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # listener closed
            try:
                upstream = socket.create_connection(self.target, timeout=10)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            c = _Conn(client, upstream)
            with self.lock:
                if self.closed:
                    client.close()
                    upstream.close()
                    return
                self.conns.append(c)
            for src, dst, buf in ((client, upstream, c.sent), (upstream, client, c.received)):
                t = threading.Thread(target=self._pump, args=(src, dst, buf), daemon=True)
                c.threads.append(t)
                t.start()

    def _pump(self, src, dst, buf):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                with self.lock:
                    if len(buf) < MAX_BYTES:
                        buf += data[:MAX_BYTES - len(buf)]
                dst.sendall(data)
        except OSError:
            pass
        # Pass the half-close on (a client may end its request body with a FIN).
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def close(self):
        with self.lock:
            self.closed = True
            conns = list(self.conns)
        try:
            self.listener.close()
        except OSError:
            pass
        for c in conns:
            for s in (c.client, c.upstream):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
        for c in conns:
            for t in c.threads:
                t.join(5)
        self.thread.join(5)

    def exchanges(self):
        """Every request seen, in connection order, with the response paired to it."""
        out = []
        with self.lock:
            copies = [(bytes(c.sent), bytes(c.received)) for c in self.conns]
        for n, (sent, received) in enumerate(copies):
            requests = _parse_messages(sent, request=True)
            responses = _parse_messages(received, request=False)
            for i, req in enumerate(requests):
                resp = responses[i] if i < len(responses) else None
                out.append({
                    "conn": n,
                    "method": req["start"].split(" ")[0],
                    "path": req["start"].split(" ")[1] if " " in req["start"] else "",
                    "headers": req["headers"],
                    "body": req["body"],
                    "status": int(resp["start"].split(" ")[1]) if resp else None,
                    "response_headers": resp["headers"] if resp else {},
                    "response": resp["body"] if resp else b"",
                    "chunked": bool(resp and resp["chunked"]),
                    "complete": bool(resp and resp["complete"]),
                })
        return out


def _parse_messages(data, request):
    """Splits one direction of an HTTP/1.1 connection into messages: {start, headers (lower-case
    names), body (de-chunked), chunked, complete}. Stops at the first thing that does not parse
    (or at the end of a truncated message)."""
    msgs = []
    pos = 0
    while pos < len(data):
        end = data.find(b"\r\n\r\n", pos)
        if end < 0:
            break
        head = data[pos:end].decode("latin-1").split("\r\n")
        start, headers = head[0], {}
        for line in head[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        pos = end + 4
        body = b""
        complete = True
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        if chunked:
            body, pos, complete = _dechunk(data, pos)
        elif "content-length" in headers:
            n = int(headers["content-length"])
            body = data[pos:pos + n]
            complete = len(body) == n
            pos += n
        elif not request and not start.split(" ")[1:2] in (["204"], ["304"]):
            body = data[pos:]  # response delimited by connection close
            pos = len(data)
        msgs.append({"start": start, "headers": headers, "body": body, "chunked": chunked,
                     "complete": complete})
        if not complete:
            break
    return msgs


def _dechunk(data, pos):
    body = bytearray()
    while True:
        eol = data.find(b"\r\n", pos)
        if eol < 0:
            return bytes(body), len(data), False
        try:
            size = int(data[pos:eol].split(b";")[0], 16)
        except ValueError:
            return bytes(body), len(data), False
        pos = eol + 2
        if size == 0:
            # Trailers (none expected), then the final CRLF.
            fin = data.find(b"\r\n", pos)
            return bytes(body), (fin + 2 if fin >= 0 else len(data)), fin >= 0
        body += data[pos:pos + size]
        if pos + size > len(data):
            return bytes(body), len(data), False
        pos += size + 2


def _short(b, limit):
    text = b.decode("utf-8", errors="replace") if isinstance(b, bytes) else str(b)
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + "...(%d bytes)" % len(b)


def summarize(proxies, limit=400):
    """Text report: every distinct (method, path) with its count, status codes seen, the
    request headers that matter and one example request and response body."""
    by_route = {}
    for p in proxies:
        for x in p.exchanges():
            key = (x["method"], x["path"])
            r = by_route.setdefault(key, {"count": 0, "statuses": set(), "examples": []})
            r["count"] += 1
            r["statuses"].add(x["status"])
            # Keep one example per distinct request shape (JSON keys), up to 3.
            try:
                shape = json.dumps(_shape(json.loads(x["body"] or b"null")), sort_keys=True)
            except ValueError:
                shape = "non-json"
            if shape not in [e[0] for e in r["examples"]] and len(r["examples"]) < 3:
                r["examples"].append((shape, x))
    lines = []
    for (method, path), r in sorted(by_route.items()):
        lines.append("%s %s  x%d  status %s" % (method, path, r["count"],
                                                sorted(s for s in r["statuses"] if s) or "-"))
        for _, x in r["examples"]:
            hdrs = {k: v for k, v in x["headers"].items()
                    if k in ("content-type", "authorization", "transfer-encoding", "connection",
                             "accept", "accept-encoding", "user-agent")}
            lines.append("    request headers: %s" % json.dumps(hdrs, sort_keys=True))
            lines.append("    request:  %s" % _short(x["body"], limit))
            lines.append("    response%s: %s" % (" (chunked%s)" % ("" if x["complete"] else
                                                                    ", open") if x["chunked"]
                                                 else "", _short(x["response"], limit)))
    return "\n".join(lines)


def _shape(v):
    if isinstance(v, dict):
        return {k: _shape(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_shape(x) for x in v[:1]]
    return type(v).__name__


def dump_jsonl(proxies, path):
    """Every exchange as one JSON line (bodies as UTF-8 text with replacement), for diffing
    what two servers answered to the same client."""
    with open(path, "w") as f:
        for p in proxies:
            for x in p.exchanges():
                rec = dict(x)
                for k in ("body", "response"):
                    rec[k] = x[k].decode("utf-8", errors="replace")
                rec["proxy_port"] = p.port
                f.write(json.dumps(rec, sort_keys=True) + "\n")
