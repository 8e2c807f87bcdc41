#!/usr/bin/python3
"""e2e: raw Watch streams (RawWatch, also used by test_watch_scale.py and test_watch_checker.py)
and etcd's answers to bad watch input:
- a cancel of an unknown watch id is ignored: no response, the stream and its other watches go
  on (etcd 3.6 and 3.4);
- a watch with range_end < key (neither empty nor "\\0") is created and canceled at once:
  created=true, canceled=true, watch_id=-1, cancel_reason "mvcc: watcher range is empty" and
  the current revision in the header (etcd 3.6 and 3.4 alike);
- range_end == key is the same empty range.

Debian's python3-etcd3 protos predate WatchProgressRequest and WatchCreateRequest.watch_id, so
RawWatch sends hand-encoded requests on the plain gRPC method."""

import os
import queue
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402


def _varint(n):
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _field_bytes(num, data):
    return _varint((num << 3) | 2) + _varint(len(data)) + data


def _field_varint(num, value):
    return _varint(num << 3) + _varint(value)


def create_request(key, range_end=b"", start_revision=0, progress_notify=False, prev_kv=False,
                   watch_id=0, filters=()):
    """An encoded WatchRequest{create_request} (ETCD-FACTS §2.3 field numbers)."""
    body = b""
    if key:
        body += _field_bytes(1, key)
    if range_end:
        body += _field_bytes(2, range_end)
    if start_revision:
        body += _field_varint(3, start_revision)
    if progress_notify:
        body += _field_varint(4, 1)
    for f in filters:
        body += _field_varint(5, f)
    if prev_kv:
        body += _field_varint(6, 1)
    if watch_id:
        body += _field_varint(7, watch_id)
    return _field_bytes(1, body)


def cancel_request(watch_id):
    return _field_bytes(2, _field_varint(1, watch_id) if watch_id else b"")


PROGRESS_REQUEST = _field_bytes(3, b"")


class RawWatch:
    """One Watch stream on `channel`. Requests (encoded bytes) go out in order; every response is
    appended to `responses` (WatchResponse) by a reader thread and handed to `on_response` if
    given. `method`/`response_type` open another bidi stream the same way (LeaseKeepAlive)."""

    def __init__(self, channel, metadata=None, on_response=None,
                 method="/etcdserverpb.Watch/Watch", response_type=None):
        from etcd3 import etcdrpc
        response_type = response_type or etcdrpc.WatchResponse
        self._q = queue.Queue()
        self.responses = []
        self.error = None
        self.done = threading.Event()
        self._cond = threading.Condition()
        self._on_response = on_response
        call = channel.stream_stream(method, request_serializer=lambda b: b,
                                     response_deserializer=response_type.FromString)
        self._call = call(self._requests(), metadata=metadata)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _requests(self):
        while True:
            item = self._q.get()
            if item is None:
                return
            yield item

    def _read(self):
        try:
            for resp in self._call:
                if self._on_response is not None:
                    self._on_response(resp)
                with self._cond:
                    self.responses.append(resp)
                    self._cond.notify_all()
        except Exception as e:  # grpc.RpcError when the stream ends with a status
            self.error = e
        finally:
            self.done.set()
            with self._cond:
                self._cond.notify_all()

    def send(self, raw):
        self._q.put(raw)

    def create(self, key, **kw):
        self.send(create_request(key.encode() if isinstance(key, str) else key, **kw))

    def cancel(self, watch_id):
        self.send(cancel_request(watch_id))

    def progress(self):
        self.send(PROGRESS_REQUEST)

    def status(self):
        """(grpc.StatusCode, details) once the stream ended with an error, else None."""
        if self.error is None:
            return None
        return self.error.code(), self.error.details()

    def wait_for(self, pred, timeout=30):
        """Waits until pred(responses) is true; returns it, or raises AssertionError."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                v = pred(self.responses)
                if v:
                    return v
                left = deadline - time.monotonic()
                if left <= 0 or (self.done.is_set() and not pred(self.responses)):
                    raise AssertionError("watch stream: condition not met (error %r), got %r" % (
                        self.error, self.responses[-20:]))
                self._cond.wait(min(left, 1.0))

    def close(self):
        self._q.put(None)
        self._call.cancel()
        self._thread.join(30)


def keepalive_stream(channel, metadata=None):
    """A raw LeaseKeepAlive stream; send(keepalive_request(id))."""
    from etcd3 import etcdrpc
    return RawWatch(channel, metadata=metadata, method="/etcdserverpb.Lease/LeaseKeepAlive",
                    response_type=etcdrpc.LeaseKeepAliveResponse)


def keepalive_request(lease_id):
    return _field_varint(1, lease_id) if lease_id else b""


def channel_to(member):
    import grpc
    return grpc.insecure_channel(member.endpoint)


class WatchBadInputTest(harness.SharedMemberTestCase):

    def setUp(self):
        super().setUp()
        self.ch = channel_to(self.m)
        self.addCleanup(self.ch.close)

    def test_cancel_of_unknown_watch_id_is_ignored(self):
        w = RawWatch(self.ch)
        self.addCleanup(w.close)
        w.create("bi/cancel/k")
        w.wait_for(lambda rs: len(rs) >= 1)
        wid = w.responses[0].watch_id
        self.assertTrue(w.responses[0].created)
        w.cancel(wid + 1000)  # never created on this stream
        w.cancel(-5)
        # The stream and the existing watch go on; no canceled response for the unknown ids.
        self.ok("put", "bi/cancel/k", "v")
        w.wait_for(lambda rs: any(r.events for r in rs))
        self.assertIsNone(w.error)
        self.assertEqual([(r.watch_id, r.canceled) for r in w.responses if r.canceled], [])
        ev = [r for r in w.responses if r.events][0]
        self.assertEqual(ev.watch_id, wid)
        self.assertEqual(ev.events[0].kv.key, b"bi/cancel/k")
        # A real cancel is answered.
        w.cancel(wid)
        w.wait_for(lambda rs: any(r.canceled for r in rs))
        c = [r for r in w.responses if r.canceled]
        self.assertEqual([(r.watch_id, r.cancel_reason) for r in c], [(wid, "")])

    def check_empty_range(self, key, range_end):
        w = RawWatch(self.ch)
        self.addCleanup(w.close)
        w.create(key, range_end=range_end)
        w.wait_for(lambda rs: len(rs) >= 1)
        r = w.responses[0]
        self.assertTrue(r.created, r)
        self.assertTrue(r.canceled, r)
        self.assertGreater(r.header.revision, 0)
        self.assertEqual(r.watch_id, -1)
        self.assertEqual(r.cancel_reason, "mvcc: watcher range is empty")
        # The stream stays usable.
        w.create("bi/range/ok")
        w.wait_for(lambda rs: len(rs) >= 2)
        self.assertTrue(w.responses[1].created)
        self.assertFalse(w.responses[1].canceled)

    def test_range_end_before_key(self):
        self.check_empty_range(b"bi/range/z", b"bi/range/a")

    def test_range_end_equal_to_key(self):
        self.check_empty_range(b"bi/range/k", b"bi/range/k")


if __name__ == "__main__":
    harness.main()
