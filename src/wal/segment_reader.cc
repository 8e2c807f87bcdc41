#include "wal/segment_reader.h"

#include <algorithm>
#include <cstring>

namespace etcdpp::wal {
namespace {

bool IsZero(const char* p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (p[i] != 0) return false;
  }
  return true;
}

// One past the last non-zero byte (the preallocated tail is zeros).
uint64_t DataEnd(std::string_view buf) {
  size_t n = buf.size();
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, buf.data() + n - 8, 8);
    if (w != 0) break;
    n -= 8;
  }
  while (n > 0 && buf[n - 1] == 0)
    --n;
  return n;
}

Status Corrupt(const std::string& name, uint64_t offset, std::string_view what) {
  return Status::Corruption("wal: " + name + ": " + std::string(what) + " at offset " +
                            std::to_string(offset));
}

// What the scanner knows about a record that failed its checks.
struct Damage {
  uint64_t offset = 0;
  std::string reason;
};

class Scanner {
 public:
  explicit Scanner(std::string_view buf) : buf_(buf) {}

  uint64_t data_end() {
    if (!data_end_) data_end_ = DataEnd(buf_);
    return *data_end_;
  }

  // Checks the record at off chained from prev. Returns the damage reason or
  // nullopt (and fills h) if the record is good.
  std::optional<std::string> Check(uint64_t off, uint32_t prev, RecordHeader* h) {
    const uint64_t n = buf_.size();
    if (n - off < kHeaderSize) return "short header";
    *h = DecodeHeader(buf_.data() + off);
    if (!IsValidType(h->type)) return "bad record type " + std::to_string(h->type);
    if (h->length > kMaxRecordBytes)
      return "record length " + std::to_string(h->length) + " too big";
    if (h->length > n - off - kHeaderSize) return "short record";
    if (RecordCrc(prev, static_cast<RecordType>(h->type), Payload(off, *h)) != h->crc) {
      return "crc mismatch";
    }
    return std::nullopt;
  }

  std::string_view Payload(uint64_t off, const RecordHeader& h) const {
    return buf_.substr(off + kHeaderSize, h.length);
  }

  // Rule 1 of the torn-tail test: a sector overlapping the damaged record never
  // received this write. Unwritten space reads as zeros, so that is: a zero
  // header; or zeros from x to the end of x's sector (the sector kept the
  // version of the previous, synced Save, which ended at x); or an aligned
  // all-zero sector that overlaps the record and lies before the end of data.
  bool HasUnwrittenSector(uint64_t x, std::optional<uint64_t> rec_end) {
    const uint64_t n = buf_.size();
    const uint64_t d = data_end();
    if (n - x >= kHeaderSize && IsZero(buf_.data() + x, kHeaderSize)) return true;
    uint64_t s = (x + kSectorBytes - 1) / kSectorBytes * kSectorBytes;  // first aligned sector
    if (s != x && s <= n && IsZero(buf_.data() + x, s - x)) return true;
    const uint64_t limit = rec_end.value_or(d);
    for (; s < limit && s + kSectorBytes <= d; s += kSectorBytes) {
      if (IsZero(buf_.data() + s, kSectorBytes)) return true;
    }
    return false;
  }

  enum class Successor { kNone, kFound, kGaveUp };

  // Rule 2: is there a valid record after the damaged one at x? It may be
  // chained from the damaged record's stored crc (its payload/type/length was
  // hit) or from the crc it should have had (its crc field was hit).
  Successor FindSuccessor(uint64_t x, uint32_t prev) {
    const uint64_t n = buf_.size();
    const uint64_t d = data_end();
    if (n - x < kHeaderSize) return Successor::kNone;  // nothing fits after a short header
    RecordHeader dh = DecodeHeader(buf_.data() + x);
    const uint32_t stored = dh.crc;
    std::optional<uint64_t> e;
    std::optional<uint32_t> computed;
    if (dh.length <= kMaxRecordBytes && dh.length <= n - x - kHeaderSize) {
      e = x + kHeaderSize + dh.length;
      computed = RecordCrc(prev, static_cast<RecordType>(dh.type), Payload(x, dh));
    }
    uint64_t budget = kResyncBudgetBytes;
    auto valid_at = [&](uint64_t y, uint32_t seed) -> std::optional<bool> {
      RecordHeader h = DecodeHeader(buf_.data() + y);
      if (!IsValidType(h.type) || h.length > kMaxRecordBytes || h.length > n - y - kHeaderSize) {
        return false;
      }
      if (h.length > budget) return std::nullopt;
      budget -= h.length;
      return RecordCrc(seed, static_cast<RecordType>(h.type), Payload(y, h)) == h.crc;
    };
    bool gave_up = false;
    auto probe = [&](uint64_t y, uint32_t seed) {
      std::optional<bool> r = valid_at(y, seed);
      if (!r) gave_up = true;
      return r.value_or(false);
    };
    // The likely successor first: right after the damaged record's stated length.
    if (e && *e + kHeaderSize <= d) {
      if (probe(*e, stored) || probe(*e, *computed)) return Successor::kFound;
    }
    // A successor's header ends with a non-zero type byte, so it ends by d.
    for (uint64_t y = x + 1; y + kHeaderSize <= d; ++y) {
      if (e && y == *e) continue;
      if (probe(y, stored)) return Successor::kFound;
    }
    return gave_up ? Successor::kGaveUp : Successor::kNone;
  }

 private:
  std::string_view buf_;
  std::optional<uint64_t> data_end_;
};

}  // namespace

Result<SegmentScan> ScanSegment(std::string_view buf, const std::string& name, bool is_last,
                                std::optional<uint32_t> chain_in, const RecordVisitor& visit) {
  Scanner sc(buf);
  RecordHeader h;

  // The crc seed was synced before the segment got its name: damage here is
  // never a torn write.
  uint32_t seed_prev = 0;
  if (buf.size() < kHeaderSize || IsZero(buf.data(), kHeaderSize)) {
    return Corrupt(name, 0, "missing crc seed record");
  }
  {
    RecordHeader sh = DecodeHeader(buf.data());
    if (sh.type != static_cast<uint8_t>(RecordType::kCrcSeed) || sh.length != kCrcSeedBytes ||
        buf.size() < kHeaderSize + kCrcSeedBytes) {
      return Corrupt(name, 0, "bad crc seed record");
    }
    DecodeCrcSeed(buf.substr(kHeaderSize, kCrcSeedBytes), &seed_prev);
    if (chain_in && *chain_in != seed_prev) {
      return Corrupt(name, 0, "crc chain broken between segments");
    }
  }
  if (auto bad = sc.Check(0, seed_prev, &h)) return Corrupt(name, 0, "crc seed record: " + *bad);

  SegmentScan out;
  uint32_t crc = h.crc;
  const uint64_t seed_end = kHeaderSize + h.length;
  uint64_t off = seed_end;
  std::optional<Damage> damage;
  while (off < buf.size()) {
    if (buf.size() - off >= kHeaderSize && IsZero(buf.data() + off, kHeaderSize)) {
      if (sc.data_end() <= off) break;  // clean end of the log
      damage = Damage{off, "zero header followed by data"};
      break;
    }
    if (buf.size() - off < kHeaderSize && IsZero(buf.data() + off, buf.size() - off)) break;
    if (auto bad = sc.Check(off, crc, &h)) {
      damage = Damage{off, *bad};
      break;
    }
    if (h.type == static_cast<uint8_t>(RecordType::kCrcSeed)) {
      return Corrupt(name, off, "crc seed record inside a segment");
    }
    Status st = visit(static_cast<RecordType>(h.type), sc.Payload(off, h), off);
    if (!st.ok()) {
      if (st.Is(Code::kCorruption)) return Corrupt(name, off, st.message());
      return st;
    }
    crc = h.crc;
    off += kHeaderSize + h.length;
  }

  out.end_offset = off;
  out.last_crc = crc;
  if (!damage) return out;

  // A damaged record: only the last segment may end in a torn write, and never
  // in its metadata record (always right after the seed, synced with it).
  if (!is_last) return Corrupt(name, damage->offset, damage->reason);
  if (damage->offset == seed_end) {
    return Corrupt(name, damage->offset, "metadata record: " + damage->reason);
  }
  std::optional<uint64_t> rec_end;
  const uint64_t x = damage->offset;
  if (buf.size() - x >= kHeaderSize) {
    RecordHeader dh = DecodeHeader(buf.data() + x);
    if (dh.length <= kMaxRecordBytes && dh.length <= buf.size() - x - kHeaderSize) {
      rec_end = x + kHeaderSize + dh.length;
    }
  }
  if (!sc.HasUnwrittenSector(x, rec_end)) {
    switch (sc.FindSuccessor(x, crc)) {
      case Scanner::Successor::kFound:
        return Corrupt(name, x, damage->reason + " followed by valid records");
      case Scanner::Successor::kGaveUp:
        return Corrupt(name, x, damage->reason + " (cannot tell a torn write from corruption)");
      case Scanner::Successor::kNone:
        break;
    }
  }
  uint64_t d = sc.data_end();
  out.torn = TornTail{x, d > x ? d - x : 0, damage->reason};
  return out;
}

}  // namespace etcdpp::wal
