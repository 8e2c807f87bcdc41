#include "raft/raft_log.h"

#include "raft/fatal.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace etcdpp::raft {

namespace {
[[noreturn]] void Fatal(const char* what, uint64_t a, uint64_t b) {
  char buf[200];
  std::snprintf(buf, sizeof(buf), "raft log: %s (%llu, %llu)", what,
                static_cast<unsigned long long>(a), static_cast<unsigned long long>(b));
  ::etcdpp::raft::Fatal(buf);
}
}  // namespace

RaftLog::RaftLog(Storage* storage, uint64_t max_applying_bytes)
    : storage_(storage), max_applying_bytes_(max_applying_bytes) {
  auto first = storage_->FirstIndex();
  auto last = storage_->LastIndex();
  if (!first.ok() || !last.ok()) Fatal("storage index lookup failed", 0, 0);
  offset_ = *last + 1;
  // The log starts right after the last snapshot: everything up to it is committed+applied.
  committed_ = *first - 1;
  applied_ = *first - 1;
}

uint64_t RaftLog::FirstIndex() const {
  if (unstable_snapshot_) return unstable_snapshot_->metadata.index + 1;
  auto r = storage_->FirstIndex();
  if (!r.ok()) Fatal("storage FirstIndex failed", 0, 0);
  return *r;
}

uint64_t RaftLog::LastIndex() const {
  if (!unstable_.empty()) return offset_ + unstable_.size() - 1;
  if (unstable_snapshot_) return unstable_snapshot_->metadata.index;
  auto r = storage_->LastIndex();
  if (!r.ok()) Fatal("storage LastIndex failed", 0, 0);
  return *r;
}

uint64_t RaftLog::LastTerm() const {
  auto t = Term(LastIndex());
  if (!t.ok()) Fatal("term of last index unavailable", LastIndex(), 0);
  return *t;
}

Result<uint64_t> RaftLog::Term(uint64_t i) const {
  // Unstable tail and snapshot first: they shadow storage.
  if (!unstable_.empty() && i >= offset_) {
    if (i - offset_ < unstable_.size()) return unstable_[i - offset_].term;
    return ErrUnavailable();
  }
  if (unstable_snapshot_ && i == unstable_snapshot_->metadata.index) {
    return unstable_snapshot_->metadata.term;
  }
  uint64_t dummy = FirstIndex() - 1;
  if (i < dummy) return ErrCompacted();
  if (i > LastIndex()) return ErrUnavailable();
  auto t = storage_->Term(i);
  if (t.ok()) return t;
  if (IsCompacted(t.status()) || IsUnavailable(t.status())) return t;
  Fatal("storage Term failed", i, 0);
}

uint64_t RaftLog::ZeroTermOnError(uint64_t i) const {
  auto t = Term(i);
  return t.ok() ? *t : 0;
}

bool RaftLog::MatchTerm(uint64_t i, uint64_t term) const {
  auto t = Term(i);
  return t.ok() && *t == term;
}

bool RaftLog::IsUpToDate(uint64_t last_index, uint64_t term) const {
  uint64_t lt = LastTerm();
  return term > lt || (term == lt && last_index >= LastIndex());
}

std::optional<uint64_t> RaftLog::MaybeAppend(uint64_t index, uint64_t log_term, uint64_t committed,
                                             const std::vector<Entry>& ents) {
  if (!MatchTerm(index, log_term)) return std::nullopt;
  uint64_t last_new = index + ents.size();
  uint64_t ci = FindConflict(ents);
  if (ci != 0) {
    // Never overwrite committed entries: that would be a safety bug on the leader's side.
    if (ci <= committed_) Fatal("entry conflicts with committed entry", ci, committed_);
    std::vector<Entry> tail(ents.begin() + (ci - index - 1), ents.end());
    Append(tail);
  }
  CommitTo(std::min(committed, last_new));
  return last_new;
}

uint64_t RaftLog::Append(const std::vector<Entry>& ents) {
  if (ents.empty()) return LastIndex();
  uint64_t after = ents[0].index - 1;
  if (after < committed_) Fatal("append would truncate committed entries", after, committed_);
  if (after + 1 == offset_ + unstable_.size()) {
    // Directly after the unstable tail (or the stable log when the tail is empty).
    if (unstable_.empty()) offset_ = after + 1;
    unstable_.insert(unstable_.end(), ents.begin(), ents.end());
  } else if (after + 1 <= offset_) {
    // Replaces the whole unstable tail; the stable suffix after `after` is truncated when the
    // application persists these entries (Storage::Append truncates).
    offset_ = after + 1;
    unstable_ = ents;
  } else {
    // Truncate the unstable tail at `after` then append; the kept part may come from storage.
    std::vector<Entry> kept(unstable_.begin(), unstable_.begin() + (after + 1 - offset_));
    kept.insert(kept.end(), ents.begin(), ents.end());
    unstable_ = std::move(kept);
  }
  return LastIndex();
}

uint64_t RaftLog::FindConflict(const std::vector<Entry>& ents) const {
  for (const auto& e : ents) {
    if (!MatchTerm(e.index, e.term)) return e.index;
  }
  return 0;
}

std::pair<uint64_t, uint64_t> RaftLog::FindConflictByTerm(uint64_t index, uint64_t term) const {
  for (; index > 0; --index) {
    auto t = Term(index);
    if (!t.ok()) return {index, 0};  // compacted or unavailable: let the leader probe there
    if (*t <= term) return {index, *t};
  }
  return {0, 0};
}

Status RaftLog::MustCheckOutOfBounds(uint64_t lo, uint64_t hi) const {
  if (lo > hi) Fatal("invalid slice", lo, hi);
  uint64_t fi = FirstIndex();
  if (lo < fi) return ErrCompacted();
  if (hi > LastIndex() + 1) Fatal("slice out of bound", hi, LastIndex());
  return Status::OK();
}

Result<std::vector<Entry>> RaftLog::Slice(uint64_t lo, uint64_t hi, uint64_t max_bytes) const {
  ETCDPP_RETURN_IF_ERROR(MustCheckOutOfBounds(lo, hi));
  std::vector<Entry> out;
  if (lo == hi) return out;
  if (lo < offset_) {
    auto stored = storage_->Entries(lo, std::min(hi, offset_), max_bytes);
    if (!stored.ok()) {
      if (IsCompacted(stored.status())) return stored.status();
      if (IsUnavailable(stored.status())) Fatal("entries unavailable from storage", lo, hi);
      Fatal("storage Entries failed", lo, hi);
    }
    out = std::move(*stored);
    // Storage stopped early (size limit): don't add unstable entries after a gap.
    if (out.size() < std::min(hi, offset_) - lo) return out;
  }
  if (hi > offset_) {
    uint64_t from = std::max(lo, offset_);
    for (uint64_t i = from; i < hi; ++i)
      out.push_back(unstable_[i - offset_]);
  }
  LimitSize(&out, max_bytes);
  return out;
}

Result<std::vector<Entry>> RaftLog::EntriesFrom(uint64_t i, uint64_t max_bytes) const {
  if (i > LastIndex()) return std::vector<Entry>{};
  return Slice(i, LastIndex() + 1, max_bytes);
}

void RaftLog::CommitTo(uint64_t to) {
  if (to <= committed_) return;  // never decrease commit
  if (LastIndex() < to)
    Fatal("commit out of range (log corrupted, truncated or lost?)", to, LastIndex());
  committed_ = to;
}

bool RaftLog::MaybeCommit(uint64_t max_index, uint64_t term, bool ignore_term) {
  // Raft §5.4.2: only entries of the current term are committed by counting replicas.
  if (max_index > committed_ && (ignore_term || ZeroTermOnError(max_index) == term)) {
    CommitTo(max_index);
    return true;
  }
  return false;
}

void RaftLog::AppliedTo(uint64_t i) {
  if (i == 0) return;
  if (committed_ < i || i < applied_) Fatal("applied out of range", i, committed_);
  applied_ = i;
}

void RaftLog::StableTo(uint64_t index, uint64_t term) {
  if (unstable_.empty() || index < offset_) return;
  uint64_t k = index - offset_;
  if (k >= unstable_.size()) return;
  // Only if the entry was not replaced in the meantime (a newer leader's entries).
  if (unstable_[k].term != term) return;
  unstable_.erase(unstable_.begin(), unstable_.begin() + k + 1);
  offset_ = index + 1;
}

void RaftLog::StableSnapTo(uint64_t index) {
  if (unstable_snapshot_ && unstable_snapshot_->metadata.index == index) {
    unstable_snapshot_.reset();
  }
}

bool RaftLog::HasNextCommittedEnts() const {
  if (unstable_snapshot_) return false;  // the snapshot must be applied first
  return committed_ > applied_;
}

std::vector<Entry> RaftLog::NextCommittedEnts() const {
  if (!HasNextCommittedEnts()) return {};
  uint64_t lo = std::max(applied_ + 1, FirstIndex());
  auto ents = Slice(lo, committed_ + 1, max_applying_bytes_);
  if (!ents.ok()) Fatal("unexpected error reading committed entries", lo, committed_);
  return std::move(*ents);
}

Result<Snapshot> RaftLog::GetSnapshot() const {
  if (unstable_snapshot_) return *unstable_snapshot_;
  return storage_->Snapshot();
}

void RaftLog::Restore(const Snapshot& s) {
  committed_ = s.metadata.index;
  unstable_.clear();
  offset_ = s.metadata.index + 1;
  unstable_snapshot_ = s;
}

}  // namespace etcdpp::raft
