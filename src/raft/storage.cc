#include "raft/storage.h"

#include <cstdlib>
#include <limits>

namespace etcdpp::raft {

namespace {
constexpr char kCompactedMsg[] = "raft: requested index is unavailable due to compaction";
constexpr char kSnapOutOfDateMsg[] = "raft: requested index is older than the existing snapshot";
constexpr char kUnavailableMsg[] = "raft: requested entry at index is unavailable";
constexpr char kSnapTempMsg[] = "raft: snapshot is temporarily unavailable";
}  // namespace

Status ErrCompacted() {
  return Status::OutOfRange(kCompactedMsg);
}
Status ErrSnapOutOfDate() {
  return Status::OutOfRange(kSnapOutOfDateMsg);
}
Status ErrUnavailable() {
  return Status::Unavailable(kUnavailableMsg);
}
Status ErrSnapshotTemporarilyUnavailable() {
  return Status::Unavailable(kSnapTempMsg);
}
bool IsCompacted(const Status& s) {
  return s.message() == kCompactedMsg;
}
bool IsUnavailable(const Status& s) {
  return s.message() == kUnavailableMsg;
}
bool IsSnapOutOfDate(const Status& s) {
  return s.message() == kSnapOutOfDateMsg;
}
bool IsSnapshotTemporarilyUnavailable(const Status& s) {
  return s.message() == kSnapTempMsg;
}

void LimitSize(std::vector<Entry>* ents, uint64_t max_bytes) {
  if (ents->empty()) return;
  uint64_t size = EntrySize((*ents)[0]);
  size_t limit = 1;
  for (; limit < ents->size(); ++limit) {
    size += EntrySize((*ents)[limit]);
    if (size > max_bytes) break;
  }
  ents->resize(limit);
}

MemoryStorage::MemoryStorage() : ents_(1) {}

Result<InitialStateResult> MemoryStorage::InitialState() const {
  return InitialStateResult{hard_state_, snapshot_.metadata.conf_state};
}

Result<std::vector<Entry>> MemoryStorage::Entries(uint64_t lo, uint64_t hi,
                                                  uint64_t max_bytes) const {
  uint64_t offset = ents_[0].index;
  if (lo <= offset) return ErrCompacted();
  if (hi > last_index() + 1) return ErrUnavailable();
  if (lo >= hi) return std::vector<Entry>{};
  std::vector<Entry> out(ents_.begin() + (lo - offset), ents_.begin() + (hi - offset));
  LimitSize(&out, max_bytes);
  return out;
}

Result<uint64_t> MemoryStorage::Term(uint64_t i) const {
  uint64_t offset = ents_[0].index;
  if (i < offset) return ErrCompacted();
  if (i - offset >= ents_.size()) return ErrUnavailable();
  return ents_[i - offset].term;
}

Result<uint64_t> MemoryStorage::FirstIndex() const {
  return first_index();
}
Result<uint64_t> MemoryStorage::LastIndex() const {
  return last_index();
}
Result<raft::Snapshot> MemoryStorage::Snapshot() const {
  return snapshot_;
}

Status MemoryStorage::ApplySnapshot(const raft::Snapshot& snap) {
  if (snapshot_.metadata.index >= snap.metadata.index) return ErrSnapOutOfDate();
  snapshot_ = snap;
  ents_.assign(1, Entry{});
  ents_[0].index = snap.metadata.index;
  ents_[0].term = snap.metadata.term;
  return Status::OK();
}

Result<raft::Snapshot> MemoryStorage::CreateSnapshot(uint64_t i, const ConfState* cs,
                                                     std::string data) {
  if (i <= snapshot_.metadata.index) return ErrSnapOutOfDate();
  if (i > last_index()) std::abort();  // programmer error: snapshot beyond the log
  snapshot_.metadata.index = i;
  snapshot_.metadata.term = ents_[i - ents_[0].index].term;
  if (cs != nullptr) snapshot_.metadata.conf_state = *cs;
  snapshot_.data = std::move(data);
  return snapshot_;
}

Status MemoryStorage::Compact(uint64_t compact_index) {
  uint64_t offset = ents_[0].index;
  if (compact_index <= offset) return ErrCompacted();
  if (compact_index > last_index()) std::abort();  // programmer error
  uint64_t i = compact_index - offset;
  std::vector<Entry> rest;
  rest.reserve(ents_.size() - i);
  rest.push_back(Entry{ents_[i].term, ents_[i].index, EntryType::kNormal, {}});
  for (size_t k = i + 1; k < ents_.size(); ++k)
    rest.push_back(std::move(ents_[k]));
  ents_ = std::move(rest);
  return Status::OK();
}

Status MemoryStorage::Append(const std::vector<Entry>& entries) {
  if (entries.empty()) return Status::OK();
  uint64_t first = first_index();
  uint64_t last = entries.back().index;
  if (last < first) return Status::OK();  // all already compacted
  size_t skip = 0;
  if (first > entries[0].index) skip = first - entries[0].index;  // drop compacted part
  uint64_t start = entries[skip].index;
  uint64_t offset = start - ents_[0].index;
  if (offset > ents_.size()) std::abort();  // programmer error: gap in the log
  ents_.resize(offset);                     // truncate conflicting suffix
  ents_.insert(ents_.end(), entries.begin() + skip, entries.end());
  return Status::OK();
}

}  // namespace etcdpp::raft
