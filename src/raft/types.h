// The data types Raft persists and exchanges. Plain structs: src/raft has no
// protobuf dependency; codecs for the WAL and the peer transport live beside
// their users. The raft module may add fields/types; existing ones are a
// contract with src/wal and src/server.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace etcdpp::raft {

enum class EntryType : uint8_t {
  kNormal = 0,        // data = an opaque proposal (the server's request)
  kConfChange = 1,    // data = an encoded ConfChange
  kConfChangeV2 = 2,  // data = an encoded ConfChangeV2 (joint consensus)
};

struct Entry {
  uint64_t term = 0;
  uint64_t index = 0;
  EntryType type = EntryType::kNormal;
  std::string data;

  bool operator==(const Entry&) const = default;
};

// What must be on stable storage before any message that depends on it is sent.
struct HardState {
  uint64_t term = 0;
  uint64_t vote = 0;
  uint64_t commit = 0;

  bool operator==(const HardState&) const = default;
  bool empty() const { return term == 0 && vote == 0 && commit == 0; }
};

struct ConfState {
  std::vector<uint64_t> voters;
  std::vector<uint64_t> learners;
  std::vector<uint64_t> voters_outgoing;  // joint consensus: the old configuration
  std::vector<uint64_t> learners_next;
  bool auto_leave = false;

  bool operator==(const ConfState&) const = default;
};

struct SnapshotMetadata {
  ConfState conf_state;
  uint64_t index = 0;
  uint64_t term = 0;

  bool operator==(const SnapshotMetadata&) const = default;
};

struct Snapshot {
  std::string data;
  SnapshotMetadata metadata;

  bool empty() const { return metadata.index == 0; }
};

}  // namespace etcdpp::raft
