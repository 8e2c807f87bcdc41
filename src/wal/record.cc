#include "wal/record.h"

#include <cassert>
#include <cstring>

#include "common/crc32c.h"

namespace etcdpp::wal {

void PutFixed32(std::string* out, uint32_t v) {
  char b[4];
  for (int i = 0; i < 4; ++i)
    b[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  out->append(b, 4);
}

void PutFixed64(std::string* out, uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i)
    b[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  out->append(b, 8);
}

uint32_t GetFixed32(const char* p) {
  const auto* u = reinterpret_cast<const uint8_t*>(p);
  return static_cast<uint32_t>(u[0]) | (static_cast<uint32_t>(u[1]) << 8) |
         (static_cast<uint32_t>(u[2]) << 16) | (static_cast<uint32_t>(u[3]) << 24);
}

uint64_t GetFixed64(const char* p) {
  return static_cast<uint64_t>(GetFixed32(p)) | (static_cast<uint64_t>(GetFixed32(p + 4)) << 32);
}

RecordHeader DecodeHeader(const char* p) {
  RecordHeader h;
  h.length = GetFixed32(p);
  h.crc = GetFixed32(p + 4);
  h.type = static_cast<uint8_t>(p[8]);
  return h;
}

uint32_t RecordCrc(uint32_t prev, RecordType type, std::string_view payload) {
  char head[5];
  uint32_t len = static_cast<uint32_t>(payload.size());
  for (int i = 0; i < 4; ++i)
    head[i] = static_cast<char>((len >> (8 * i)) & 0xff);
  head[4] = static_cast<char>(type);
  uint32_t crc = crc32c::Extend(prev, head, sizeof(head));
  return crc32c::Extend(crc, payload.data(), payload.size());
}

uint32_t AppendRecord(std::string* out, uint32_t prev_crc, RecordType type,
                      std::string_view payload) {
  assert(payload.size() <= kMaxRecordBytes);
  assert(type != RecordType::kZero);
  uint32_t crc = RecordCrc(prev_crc, type, payload);
  PutFixed32(out, static_cast<uint32_t>(payload.size()));
  PutFixed32(out, crc);
  out->push_back(static_cast<char>(type));
  out->append(payload);
  return crc;
}

uint32_t AppendEntryRecord(std::string* out, uint32_t prev_crc, const raft::Entry& e) {
  assert(e.data.size() <= kMaxRecordBytes - kEntryFixedBytes);
  const uint32_t len = static_cast<uint32_t>(kEntryFixedBytes + e.data.size());
  const size_t start = out->size();
  PutFixed32(out, len);
  PutFixed32(out, 0);  // crc, patched below
  out->push_back(static_cast<char>(RecordType::kEntry));
  PutFixed64(out, e.term);
  PutFixed64(out, e.index);
  out->push_back(static_cast<char>(e.type));
  // crc over len | type | term | index | entry type, then the data.
  char head[5];
  std::memcpy(head, out->data() + start, 4);
  head[4] = static_cast<char>(RecordType::kEntry);
  uint32_t crc = crc32c::Extend(prev_crc, head, sizeof(head));
  crc = crc32c::Extend(crc, out->data() + start + kHeaderSize, kEntryFixedBytes);
  crc = crc32c::Extend(crc, e.data.data(), e.data.size());
  out->append(e.data);
  for (int i = 0; i < 4; ++i)
    (*out)[start + 4 + i] = static_cast<char>((crc >> (8 * i)) & 0xff);
  return crc;
}

std::string EncodeEntry(const raft::Entry& e) {
  std::string p;
  p.reserve(kEntryFixedBytes + e.data.size());
  PutFixed64(&p, e.term);
  PutFixed64(&p, e.index);
  p.push_back(static_cast<char>(e.type));
  p.append(e.data);
  return p;
}

bool DecodeEntry(std::string_view p, raft::Entry* e) {
  if (p.size() < kEntryFixedBytes) return false;
  uint8_t t = static_cast<uint8_t>(p[16]);
  if (t > static_cast<uint8_t>(raft::EntryType::kConfChangeV2)) return false;
  e->term = GetFixed64(p.data());
  e->index = GetFixed64(p.data() + 8);
  e->type = static_cast<raft::EntryType>(t);
  e->data.assign(p.substr(kEntryFixedBytes));  // bounded by the segment size already read
  return true;
}

std::string EncodeHardState(const raft::HardState& hs) {
  std::string p;
  PutFixed64(&p, hs.term);
  PutFixed64(&p, hs.vote);
  PutFixed64(&p, hs.commit);
  return p;
}

bool DecodeHardState(std::string_view p, raft::HardState* hs) {
  if (p.size() != kHardStateBytes) return false;
  hs->term = GetFixed64(p.data());
  hs->vote = GetFixed64(p.data() + 8);
  hs->commit = GetFixed64(p.data() + 16);
  return true;
}

std::string EncodeSnapshot(uint64_t index, uint64_t term) {
  std::string p;
  PutFixed64(&p, index);
  PutFixed64(&p, term);
  return p;
}

bool DecodeSnapshot(std::string_view p, uint64_t* index, uint64_t* term) {
  if (p.size() != kSnapshotBytes) return false;
  *index = GetFixed64(p.data());
  *term = GetFixed64(p.data() + 8);
  return true;
}

std::string EncodeCrcSeed(uint32_t prev_crc) {
  std::string p;
  PutFixed32(&p, prev_crc);
  return p;
}

bool DecodeCrcSeed(std::string_view p, uint32_t* prev_crc) {
  if (p.size() != kCrcSeedBytes) return false;
  *prev_crc = GetFixed32(p.data());
  return true;
}

}  // namespace etcdpp::wal
