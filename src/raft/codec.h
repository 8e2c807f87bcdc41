// Compact binary codec for raft's own types: conf changes (the data of conf-change entries)
// and messages/snapshots (for the peer transport).
//
// Format: a one-byte tag, a one-byte version, then fields as unsigned LEB128 varints, single
// bytes for enums/bools, and length-prefixed byte strings. Decoding checks every length against
// the remaining input and every enum against its range, and never allocates more than the input
// can justify, so arbitrary (fuzzed) input yields kCorruption, never a crash.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"
#include "raft/types.h"

namespace etcdpp::raft {

std::string EncodeConfChange(const ConfChange& cc);
Result<ConfChange> DecodeConfChange(std::string_view in);

std::string EncodeConfChangeV2(const ConfChangeV2& cc);
Result<ConfChangeV2> DecodeConfChangeV2(std::string_view in);

std::string EncodeSnapshot(const Snapshot& s);
Result<Snapshot> DecodeSnapshot(std::string_view in);

std::string EncodeMessage(const Message& m);
Result<Message> DecodeMessage(std::string_view in);

// Decodes either conf change flavour of a committed entry into a ConfChangeV2.
Result<ConfChangeV2> DecodeConfChangeEntry(const Entry& e);

}  // namespace etcdpp::raft
