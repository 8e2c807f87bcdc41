// WAL record framing and payload codecs (docs/wal_format.md, "Records").
// Pure functions over bytes: no I/O, so the reader, the writer, the tests
// and a future waldump share them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "raft/types.h"

namespace etcdpp::wal {

enum class RecordType : uint8_t {
  kZero = 0,  // reserved: preallocated space, never written
  kMetadata = 1,
  kEntry = 2,
  kHardState = 3,
  kSnapshot = 4,
  kCrcSeed = 5,
};

constexpr size_t kHeaderSize = 9;                 // u32 length | u32 crc | u8 type
constexpr uint32_t kMaxRecordBytes = 256u << 20;  // payload cap, checked on write and read
constexpr size_t kEntryFixedBytes = 17;           // term u64 | index u64 | type u8
constexpr size_t kHardStateBytes = 24;
constexpr size_t kSnapshotBytes = 16;
constexpr size_t kCrcSeedBytes = 4;

inline bool IsValidType(uint8_t t) {
  return t >= 1 && t <= 5;
}

struct RecordHeader {
  uint32_t length = 0;
  uint32_t crc = 0;
  uint8_t type = 0;
};

// Decodes the 9 header bytes at p (caller checked they are there).
RecordHeader DecodeHeader(const char* p);

// The chained crc of a record: crc32c over le32(length) | type | payload, from prev.
uint32_t RecordCrc(uint32_t prev, RecordType type, std::string_view payload);

// Appends one framed record to *out and returns its crc (the next record's prev).
uint32_t AppendRecord(std::string* out, uint32_t prev_crc, RecordType type,
                      std::string_view payload);

// Appends an entry record without an intermediate payload copy (the hot
// path); identical bytes to AppendRecord(out, prev, kEntry, EncodeEntry(e)).
uint32_t AppendEntryRecord(std::string* out, uint32_t prev_crc, const raft::Entry& e);
inline uint64_t EntryRecordBytes(const raft::Entry& e) {
  return kHeaderSize + kEntryFixedBytes + e.data.size();
}

// Payload codecs. Decoders return false on a malformed payload.
std::string EncodeEntry(const raft::Entry& e);
bool DecodeEntry(std::string_view p, raft::Entry* e);
std::string EncodeHardState(const raft::HardState& hs);
bool DecodeHardState(std::string_view p, raft::HardState* hs);
std::string EncodeSnapshot(uint64_t index, uint64_t term);
bool DecodeSnapshot(std::string_view p, uint64_t* index, uint64_t* term);
std::string EncodeCrcSeed(uint32_t prev_crc);
bool DecodeCrcSeed(std::string_view p, uint32_t* prev_crc);

// Little-endian helpers.
void PutFixed32(std::string* out, uint32_t v);
void PutFixed64(std::string* out, uint64_t v);
uint32_t GetFixed32(const char* p);
uint64_t GetFixed64(const char* p);

}  // namespace etcdpp::wal
