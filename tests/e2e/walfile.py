"""Reads etcdpp WAL segments as docs/wal_format.md (branch `wal`) describes them, for the
corruption tests. etcdpp-specific: real etcd's WAL is a different format.

Layout assumed (all little-endian): records `length u32 | crc u32 | type u8 | payload`, the crc
CRC-32C chained from the previous record over `length | type | payload`; every segment starts
with a crc-seed record (type 5, 4-byte payload = the chain value before the segment); a 9-byte
zero header ends the data; segments `<seq:016x>-<index:016x>.wal` in `<data-dir>/member/wal`.
If etcdpp's format changes, update this file together with docs/wal_format.md.
"""

import glob
import os
import struct

HEADER = struct.Struct("<IIB")
HEADER_SIZE = HEADER.size  # 9
TYPE_METADATA, TYPE_ENTRY, TYPE_HARD_STATE, TYPE_SNAPSHOT, TYPE_CRC_SEED = 1, 2, 3, 4, 5
MAX_RECORD = 256 << 20


class WalLayoutError(AssertionError):
    pass


def _make_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _make_table()


def crc32c_extend(crc, data):
    """CRC-32C (Castagnoli) of `data` continued from `crc` (crc32c_extend(0, d) = crc32c(d))."""
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = _TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def record_crc(prev_crc, length, rtype, payload):
    return crc32c_extend(prev_crc, struct.pack("<IB", length, rtype) + payload)


class Record:
    def __init__(self, offset, length, crc, rtype, payload):
        self.offset = offset
        self.length = length
        self.crc = crc
        self.type = rtype
        self.payload = payload

    @property
    def end(self):
        return self.offset + HEADER_SIZE + self.length

    @property
    def payload_offset(self):
        return self.offset + HEADER_SIZE

    def raw(self):
        return HEADER.pack(self.length, self.crc, self.type) + self.payload

    def __repr__(self):
        return "Record(off=%d, len=%d, type=%d)" % (self.offset, self.length, self.type)


def wal_dir(data_dir):
    return os.path.join(data_dir, "member", "wal")


def segments(data_dir):
    """The segment files in log order (their names sort by sequence number)."""
    return sorted(glob.glob(os.path.join(wal_dir(data_dir), "*.wal")))


def read_segment(path, verify_crc=True, allow_torn_tail=False):
    """Returns (records, end_offset): the records up to the zero header that ends the data.
    Raises WalLayoutError when the file does not follow docs/wal_format.md. With
    allow_torn_tail, a bad record after the header records ends the scan instead (a kill -9 may
    leave one); end_offset is then its offset."""
    with open(path, "rb") as f:
        data = f.read()
    records = []
    off = 0
    crc = None
    while off + HEADER_SIZE <= len(data):
        length, stored_crc, rtype = HEADER.unpack_from(data, off)
        if length == 0 and stored_crc == 0 and rtype == 0:
            break
        bad_header = (not 1 <= rtype <= 5 or length > MAX_RECORD or
                      off + HEADER_SIZE + length > len(data))
        if bad_header and allow_torn_tail and len(records) >= 2:
            break
        if bad_header:
            raise WalLayoutError("%s: unexpected record header at offset %d (len %d, type %d); "
                                 "has docs/wal_format.md changed?" % (path, off, length, rtype))
        payload = data[off + HEADER_SIZE:off + HEADER_SIZE + length]
        if not records:
            if rtype != TYPE_CRC_SEED or length != 4:
                raise WalLayoutError("%s: the first record is not a crc seed" % path)
            crc = struct.unpack("<I", payload)[0]
        if verify_crc:
            want = record_crc(crc, length, rtype, payload)
            if want != stored_crc and allow_torn_tail and len(records) >= 2:
                break
            if want != stored_crc:
                raise WalLayoutError("%s: crc chain broken at offset %d" % (path, off))
        crc = stored_crc
        records.append(Record(off, length, stored_crc, rtype, payload))
        off += HEADER_SIZE + length
    return records, off


def patch(path, offset, data):
    """Overwrites bytes in place (no truncation), then fsyncs."""
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def flip_byte(path, offset):
    with open(path, "rb") as f:
        f.seek(offset)
        b = f.read(1)
    patch(path, offset, bytes([b[0] ^ 0x5A]))


def build_segment(path, records, prev_crc=0, size=1 << 16):
    """Writes a segment per the spec from [(type, payload)] (seed added); for self-tests."""
    out = bytearray()
    crc = prev_crc
    for rtype, payload in [(TYPE_CRC_SEED, struct.pack("<I", prev_crc))] + list(records):
        crc = record_crc(crc, len(payload), rtype, payload)
        out += HEADER.pack(len(payload), crc, rtype) + payload
    out += bytes(max(0, size - len(out)))
    with open(path, "wb") as f:
        f.write(out)
    return crc
