// The Wal implementation: segment management, group-commit Save, recovery.
// The format and the recovery rules are specified in docs/wal_format.md.
#include "wal/wal.h"

#include <algorithm>
#include <cassert>

#include "metrics/etcd_metrics.h"
#include "wal/fs.h"
#include "wal/record.h"
#include "wal/segment_name.h"
#include "wal/segment_reader.h"

namespace etcdpp::wal {
namespace {

constexpr const char* kTmpSuffix = ".tmp";

std::string Join(const std::string& dir, const std::string& name) {
  return dir + "/" + name;
}

std::string ParentDir(const std::string& dir) {
  size_t p = dir.find_last_of('/');
  if (p == std::string::npos) return ".";
  if (p == 0) return "/";
  return dir.substr(0, p);
}

bool EndsWith(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Header records of a new segment (seed, metadata, hard state); returns the chain value after them.
uint32_t BuildSegmentHeader(uint32_t prev_crc, std::string_view metadata, const raft::HardState& hs,
                            std::string* out) {
  uint32_t crc = AppendRecord(out, prev_crc, RecordType::kCrcSeed, EncodeCrcSeed(prev_crc));
  crc = AppendRecord(out, crc, RecordType::kMetadata, metadata);
  if (!hs.empty()) crc = AppendRecord(out, crc, RecordType::kHardState, EncodeHardState(hs));
  return crc;
}

// Removes *.wal.tmp left by a segment creation that a crash interrupted.
void RemoveStaleTmp(Fs* fs, const std::string& dir, const std::vector<std::string>& names) {
  for (const auto& n : names) {
    if (EndsWith(n, std::string(".wal") + kTmpSuffix)) (void)fs->Remove(Join(dir, n));
  }
}

class WalImpl final : public Wal {
 public:
  WalImpl(std::string dir, const Options& opts, std::unique_ptr<DirLock> lock)
      : dir_(std::move(dir)), opts_(opts), fs_(opts.fs), lock_(std::move(lock)) {}

  ~WalImpl() override { (void)Close(); }

  Status InitCreate(std::string_view metadata);
  Status InitOpen(std::vector<SegmentId> segs, WalSnapshot snap);

  Result<ReadResult> ReadAll() override;
  Status Save(const raft::HardState& hs, const std::vector<raft::Entry>& entries,
              bool sync) override;
  Status SaveSnapshot(WalSnapshot snap) override;
  Status PurgeTo(uint64_t index) override;
  uint64_t LastIndex() const override { return last_index_; }
  Status Close() override;

 private:
  enum class Mode { kNeedRead, kReady, kClosed };

  // Where a Save/SaveSnapshot started: what a failure rolls back to.
  struct Mark {
    size_t segments;
    uint64_t offset;
  };

  std::string PathOf(const SegmentId& id) const { return Join(dir_, SegmentName(id)); }
  Status SyncFile(File* f) {
    if (opts_.unsafe_no_fsync) return Status::OK();
    metrics::ScopedTimer t(metrics::Etcd().wal_fsync_duration_seconds);
    return f->Sync();
  }
  Status SyncDirectory() { return opts_.unsafe_no_fsync ? Status::OK() : fs_->SyncDir(dir_); }
  Status CheckWritable() const;
  Status NewSegment(const SegmentId& id, uint32_t prev_crc);
  Status Cut();
  // One record to append: an entry (by reference, encoded in place) or a small payload.
  struct Rec {
    RecordType type;
    const raft::Entry* entry = nullptr;
    std::string payload;
    uint64_t bytes() const {
      return entry ? EntryRecordBytes(*entry) : kHeaderSize + payload.size();
    }
  };
  Status AppendRecords(const std::vector<Rec>& recs, bool sync);
  Status Fail(const Mark& mark, Status st);
  Status ReadSegment(size_t i, const std::optional<uint32_t>& chain, ReadResult* r, bool* found,
                     SegmentScan* scan);

  const std::string dir_;
  const Options opts_;
  Fs* const fs_;
  std::unique_ptr<DirLock> lock_;

  Mode mode_ = Mode::kNeedRead;
  std::vector<SegmentId> segments_;  // on disk, consecutive seq, oldest first
  size_t start_ = 0;                 // ReadAll starts here (Open's snapshot)
  WalSnapshot start_snap_;

  // Append state: the last segment.
  std::unique_ptr<File> tail_;
  uint64_t tail_offset_ = 0;  // next write goes here
  uint64_t header_end_ = 0;   // end of the tail's header records
  uint32_t crc_ = 0;          // chain value after the last record written
  uint64_t last_index_ = 0;
  uint64_t last_marker_index_ = 0;  // newest snapshot marker known (purge limit)
  raft::HardState hard_state_;      // last written: copied into each new segment
  std::string metadata_;
  bool metadata_seen_ = false;
  uint64_t tail_header_end_ = 0;  // ReadAll: end of the metadata record of the last segment read
  Status failed_;                 // sticky write error
};

Status WalImpl::CheckWritable() const {
  if (mode_ == Mode::kClosed) return Status::FailedPrecondition("wal: closed");
  if (mode_ == Mode::kNeedRead) return Status::FailedPrecondition("wal: ReadAll not called");
  return failed_;
}

// Writes <name>.tmp with the header records, syncs it, renames it into place
// and syncs the directory (etcd #6368): a segment with its final name always
// starts with durable header records.
Status WalImpl::NewSegment(const SegmentId& id, uint32_t prev_crc) {
  const std::string path = PathOf(id);
  const std::string tmp = path + kTmpSuffix;
  (void)fs_->Remove(tmp);  // a leftover of an earlier failed attempt, if any
  ETCDPP_ASSIGN_OR_RETURN(std::unique_ptr<File> f, fs_->OpenFile(tmp, /*create=*/true));
  // Best effort: without preallocation appends grow the file and may meet ENOSPC,
  // which Save handles.
  (void)f->Preallocate(opts_.segment_bytes);
  std::string header;
  uint32_t crc = BuildSegmentHeader(prev_crc, metadata_, hard_state_, &header);
  Status st = f->WriteAt(0, header);
  // The header must be durable before the name exists (see above).
  if (st.ok()) st = SyncFile(f.get());
  if (st.ok()) st = fs_->Rename(tmp, path);
  if (!st.ok()) {
    (void)fs_->Remove(tmp);
    return st;
  }
  // From here the segment exists: record it first, so that a failure below
  // makes Fail() delete it (its seed chains from records being rolled back).
  tail_ = std::move(f);
  tail_offset_ = header_end_ = header.size();
  crc_ = crc;
  segments_.push_back(id);
  // Directory entry durable: after a crash the segment exists or it does not.
  return SyncDirectory();
}

Status WalImpl::InitCreate(std::string_view metadata) {
  if (metadata.size() > kMaxRecordBytes) return Status::InvalidArgument("wal: metadata too large");
  metadata_ = std::string(metadata);
  ETCDPP_RETURN_IF_ERROR(NewSegment(SegmentId{0, 0}, 0));
  // dir may have just been made: its own entry must be durable too.
  ETCDPP_RETURN_IF_ERROR(opts_.unsafe_no_fsync ? Status::OK() : fs_->SyncDir(ParentDir(dir_)));
  mode_ = Mode::kReady;
  return Status::OK();
}

Status WalImpl::InitOpen(std::vector<SegmentId> segs, WalSnapshot snap) {
  segments_ = std::move(segs);
  // Start at the last segment named <= snap.index: every entry after the
  // snapshot and its marker are there or later (docs/wal_format.md, "Reading").
  std::optional<size_t> start;
  for (size_t i = 0; i < segments_.size(); ++i) {
    if (segments_[i].index <= snap.index) start = i;
  }
  if (!start) {
    return Status::NotFound("wal: no segment in " + dir_ + " covers snapshot index " +
                            std::to_string(snap.index));
  }
  start_ = *start;
  start_snap_ = snap;
  last_index_ = snap.index;
  last_marker_index_ = snap.index;
  return Status::OK();
}

// Reads segment i, applying its records to *r.
Status WalImpl::ReadSegment(size_t i, const std::optional<uint32_t>& chain, ReadResult* r,
                            bool* found, SegmentScan* scan) {
  const SegmentId& id = segments_[i];
  const std::string path = PathOf(id);
  const bool is_last = i + 1 == segments_.size();
  ETCDPP_ASSIGN_OR_RETURN(std::unique_ptr<File> f, fs_->OpenFile(path, /*create=*/false));
  std::string buf;
  ETCDPP_RETURN_IF_ERROR(f->ReadAll(&buf));

  bool first = true;
  const WalSnapshot snap = start_snap_;
  auto visit = [&](RecordType type, std::string_view p, uint64_t offset) -> Status {
    bool was_first = first;
    first = false;
    if (was_first != (type == RecordType::kMetadata)) {
      return Status::Corruption(was_first ? "segment does not start with metadata"
                                          : "metadata record inside a segment");
    }
    if (was_first) tail_header_end_ = offset + kHeaderSize + p.size();
    switch (type) {
      case RecordType::kMetadata:
        if (metadata_seen_ && p != r->metadata) return Status::Corruption("conflicting metadata");
        metadata_seen_ = true;
        r->metadata.assign(p);
        return Status::OK();
      case RecordType::kEntry: {
        raft::Entry e;
        if (!DecodeEntry(p, &e)) return Status::Corruption("malformed entry record");
        last_index_ = e.index;
        if (e.index <= snap.index) return Status::OK();
        // Raft log truncation: index i replaces i and everything after it.
        uint64_t pos = e.index - snap.index - 1;
        if (pos > r->entries.size()) {
          return Status::Corruption("entry index gap: got " + std::to_string(e.index) + " after " +
                                    std::to_string(snap.index + r->entries.size()));
        }
        r->entries.resize(pos);
        r->entries.push_back(std::move(e));
        return Status::OK();
      }
      case RecordType::kHardState:
        if (!DecodeHardState(p, &r->hard_state)) {
          return Status::Corruption("malformed hard state record");
        }
        return Status::OK();
      case RecordType::kSnapshot: {
        uint64_t index, term;
        if (!DecodeSnapshot(p, &index, &term)) {
          return Status::Corruption("malformed snapshot record");
        }
        if (index == snap.index) {
          if (term != snap.term) {
            return Status::Corruption("snapshot marker term " + std::to_string(term) +
                                      " does not match " + std::to_string(snap.term));
          }
          *found = true;
        }
        last_index_ = std::max(last_index_, index);
        last_marker_index_ = std::max(last_marker_index_, index);
        return Status::OK();
      }
      default:
        return Status::Corruption("unexpected record type");
    }
  };
  ETCDPP_ASSIGN_OR_RETURN(*scan, ScanSegment(buf, path, is_last, chain, visit));
  if (is_last) tail_ = std::move(f);
  return Status::OK();
}

Result<ReadResult> WalImpl::ReadAll() {
  if (mode_ != Mode::kNeedRead) {
    return Status::FailedPrecondition("wal: ReadAll is allowed once, after Open");
  }
  ReadResult r;
  bool found = start_snap_ == WalSnapshot{};
  std::optional<uint32_t> chain;
  SegmentScan scan;
  for (size_t i = start_; i < segments_.size(); ++i) {
    if (i > start_ && segments_[i].seq != segments_[i - 1].seq + 1) {
      return Status::Corruption("wal: missing segment before " + PathOf(segments_[i]));
    }
    ETCDPP_RETURN_IF_ERROR(ReadSegment(i, chain, &r, &found, &scan));
    chain = scan.last_crc;
  }
  // Append state continues from the last good record of the last segment.
  tail_offset_ = scan.end_offset;
  header_end_ = tail_header_end_;
  crc_ = scan.last_crc;
  hard_state_ = r.hard_state;
  metadata_ = r.metadata;
  if (scan.torn) {
    // Cut the torn write off for good (truncate, preallocate again, sync) so
    // that the next append starts on zeros and the damage can never resurface
    // behind new records.
    const std::string path = PathOf(segments_.back());
    ETCDPP_RETURN_IF_ERROR(tail_->Truncate(scan.torn->offset));
    (void)tail_->Preallocate(opts_.segment_bytes);
    ETCDPP_RETURN_IF_ERROR(SyncFile(tail_.get()));
    r.repaired = TailRepair{path, scan.torn->offset, scan.torn->dropped_bytes, scan.torn->reason};
  }
  if (!found) {
    return Status::NotFound("wal: snapshot marker {index " + std::to_string(start_snap_.index) +
                            ", term " + std::to_string(start_snap_.term) + "} not found in " +
                            dir_);
  }
  mode_ = Mode::kReady;
  return r;
}

// Closes the tail segment (synced) and starts the next one.
Status WalImpl::Cut() {
  // The old segment must be durable before a newer one exists: once it is not
  // the last segment, a torn write in it would read as corruption.
  ETCDPP_RETURN_IF_ERROR(SyncFile(tail_.get()));
  SegmentId next{segments_.back().seq + 1, last_index_ + 1};
  return NewSegment(next, crc_);
}

// Writes `recs` in order, cutting segments as needed, then one fdatasync.
Status WalImpl::AppendRecords(const std::vector<Rec>& recs, bool sync) {
  std::string pending;
  uint64_t total = 0;
  for (const auto& r : recs)
    total += r.bytes();
  pending.reserve(std::min<uint64_t>(total, opts_.segment_bytes));
  auto flush = [&]() -> Status {
    if (pending.empty()) return Status::OK();
    {
      metrics::ScopedTimer t(metrics::Etcd().wal_write_duration_seconds);
      ETCDPP_RETURN_IF_ERROR(tail_->WriteAt(tail_offset_, pending));
    }
    metrics::Etcd().wal_write_bytes_total.Add(static_cast<double>(pending.size()));
    tail_offset_ += pending.size();
    pending.clear();
    return Status::OK();
  };
  for (const auto& r : recs) {
    const uint64_t size = r.bytes();
    const uint64_t used = tail_offset_ + pending.size();
    // A record that does not fit goes to a fresh segment, unless this one holds
    // only its header (then the record is bigger than a segment: let it grow).
    if (used + size > opts_.segment_bytes && used > header_end_) {
      ETCDPP_RETURN_IF_ERROR(flush());
      ETCDPP_RETURN_IF_ERROR(Cut());
    }
    if (r.entry != nullptr) {
      crc_ = AppendEntryRecord(&pending, crc_, *r.entry);
      last_index_ = r.entry->index;
    } else {
      crc_ = AppendRecord(&pending, crc_, r.type, r.payload);
      if (r.type == RecordType::kSnapshot) {
        last_index_ = std::max(last_index_, GetFixed64(r.payload.data()));
      }
    }
  }
  ETCDPP_RETURN_IF_ERROR(flush());
  // Group commit: one fdatasync makes every record of this call durable.
  if (sync) ETCDPP_RETURN_IF_ERROR(SyncFile(tail_.get()));
  return Status::OK();
}

// A write or sync failed: undo this call's records on disk (best effort) and
// refuse every later append. If the undo fails too, a partial record left at
// the tail is what the torn-tail rule drops on the next Open.
Status WalImpl::Fail(const Mark& mark, Status st) {
  failed_ = st;
  bool removed = false;
  while (segments_.size() > mark.segments) {
    tail_.reset();
    (void)fs_->Remove(PathOf(segments_.back()));
    segments_.pop_back();
    removed = true;
  }
  if (removed) {
    auto f = fs_->OpenFile(PathOf(segments_.back()), /*create=*/false);
    if (!f.ok()) return st;
    tail_ = std::move(f).value();
  }
  if (tail_ && tail_->Truncate(mark.offset).ok()) {
    (void)tail_->Preallocate(opts_.segment_bytes);
    (void)SyncFile(tail_.get());
  }
  if (removed) (void)SyncDirectory();
  return st;
}

Status WalImpl::Save(const raft::HardState& hs, const std::vector<raft::Entry>& entries,
                     bool sync) {
  ETCDPP_RETURN_IF_ERROR(CheckWritable());
  if (hs.empty() && entries.empty()) return Status::OK();
  // Programmer errors in the caller, refused before anything is written.
  for (size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].data.size() > kMaxRecordBytes - kEntryFixedBytes) {
      return Status::InvalidArgument("wal: entry too large");
    }
    if (i > 0 && entries[i].index != entries[i - 1].index + 1) {
      return Status::InvalidArgument("wal: entries not consecutive");
    }
  }
  if (!entries.empty() && (entries[0].index == 0 || entries[0].index > last_index_ + 1)) {
    return Status::InvalidArgument("wal: entry " + std::to_string(entries[0].index) +
                                   " would leave a gap after " + std::to_string(last_index_));
  }
  std::vector<Rec> recs;
  recs.reserve(entries.size() + 1);
  for (const auto& e : entries) {
    recs.push_back(Rec{RecordType::kEntry, &e, {}});
  }
  if (!hs.empty()) recs.push_back(Rec{RecordType::kHardState, nullptr, EncodeHardState(hs)});

  const Mark mark{segments_.size(), tail_offset_};
  Status st = AppendRecords(recs, sync && !opts_.unsafe_no_fsync);
  if (!st.ok()) return Fail(mark, st);
  if (!hs.empty()) hard_state_ = hs;
  return Status::OK();
}

Status WalImpl::SaveSnapshot(WalSnapshot snap) {
  ETCDPP_RETURN_IF_ERROR(CheckWritable());
  const Mark mark{segments_.size(), tail_offset_};
  Status st =
      AppendRecords({Rec{RecordType::kSnapshot, nullptr, EncodeSnapshot(snap.index, snap.term)}},
                    /*sync=*/!opts_.unsafe_no_fsync);
  if (!st.ok()) return Fail(mark, st);
  last_marker_index_ = std::max(last_marker_index_, snap.index);
  return Status::OK();
}

Status WalImpl::PurgeTo(uint64_t index) {
  if (mode_ != Mode::kReady) return Status::FailedPrecondition("wal: not open for writing");
  // Never past the newest snapshot marker: Open at it must find its segment.
  const uint64_t limit = std::min(index, last_marker_index_);
  size_t keep_from = 0;
  for (size_t i = 0; i < segments_.size(); ++i) {
    if (segments_[i].index <= limit) keep_from = i;
  }
  keep_from = std::min(keep_from, segments_.size() - 1);  // never the last segment
  if (keep_from == 0) return Status::OK();
  // Oldest first, so what remains is always a consecutive run.
  size_t removed = 0;
  Status st;
  for (; removed < keep_from; ++removed) {
    st = fs_->Remove(PathOf(segments_[removed]));
    if (!st.ok()) break;
  }
  segments_.erase(segments_.begin(), segments_.begin() + static_cast<ptrdiff_t>(removed));
  start_ = 0;
  ETCDPP_RETURN_IF_ERROR(st);
  return SyncDirectory();
}

Status WalImpl::Close() {
  if (mode_ == Mode::kClosed) return Status::OK();
  Status st;
  if (mode_ == Mode::kReady && failed_.ok() && tail_) st = SyncFile(tail_.get());
  mode_ = Mode::kClosed;
  tail_.reset();
  lock_.reset();
  return st;
}

}  // namespace

bool Wal::Exists(const std::string& dir) {
  auto names = DefaultFs()->ListDir(dir);
  return names.ok() && !SegmentsIn(*names).empty();
}

Result<std::vector<WalSnapshot>> Wal::ValidSnapshots(const std::string& dir,
                                                     const Options& opts_in) {
  Fs* fs = opts_in.fs != nullptr ? opts_in.fs : DefaultFs();
  ETCDPP_ASSIGN_OR_RETURN(std::vector<std::string> names, fs->ListDir(dir));
  std::vector<SegmentId> segs = SegmentsIn(names);
  if (segs.empty()) return Status::NotFound("wal: no WAL in " + dir);
  // {0,0} is usable while Open({0,0}) still finds a segment to start from.
  std::vector<WalSnapshot> snaps;
  if (segs[0].index == 0) snaps.push_back(WalSnapshot{});
  raft::HardState hs;
  std::optional<uint32_t> chain;
  std::string buf;
  for (size_t i = 0; i < segs.size(); ++i) {
    const std::string path = Join(dir, SegmentName(segs[i]));
    if (i > 0 && segs[i].seq != segs[i - 1].seq + 1) {
      return Status::Corruption("wal: missing segment before " + path);
    }
    ETCDPP_ASSIGN_OR_RETURN(std::unique_ptr<File> f, fs->OpenFile(path, /*create=*/false));
    ETCDPP_RETURN_IF_ERROR(f->ReadAll(&buf));
    auto visit = [&](RecordType type, std::string_view p, uint64_t) -> Status {
      if (type == RecordType::kHardState && !DecodeHardState(p, &hs)) {
        return Status::Corruption("malformed hard state record");
      }
      if (type == RecordType::kSnapshot) {
        WalSnapshot s;
        if (!DecodeSnapshot(p, &s.index, &s.term)) {
          return Status::Corruption("malformed snapshot record");
        }
        snaps.push_back(s);
      }
      return Status::OK();
    };
    ETCDPP_ASSIGN_OR_RETURN(SegmentScan scan,
                            ScanSegment(buf, path, i + 1 == segs.size(), chain, visit));
    chain = scan.last_crc;
  }
  // A marker past the commit index may name a snapshot that was never
  // completed (etcd drops those too).
  std::erase_if(snaps, [&](const WalSnapshot& s) { return s.index > hs.commit; });
  return snaps;
}

Result<std::unique_ptr<Wal>> Wal::Create(const std::string& dir, std::string_view metadata,
                                         const Options& opts_in) {
  Options opts = opts_in;
  if (opts.fs == nullptr) opts.fs = DefaultFs();
  ETCDPP_RETURN_IF_ERROR(opts.fs->CreateDir(dir));
  ETCDPP_ASSIGN_OR_RETURN(std::unique_ptr<DirLock> lock, opts.fs->LockDir(dir));
  ETCDPP_ASSIGN_OR_RETURN(std::vector<std::string> names, opts.fs->ListDir(dir));
  if (!SegmentsIn(names).empty()) return Status(Code::kAlreadyExists, "wal: " + dir + " exists");
  RemoveStaleTmp(opts.fs, dir, names);
  auto w = std::make_unique<WalImpl>(dir, opts, std::move(lock));
  ETCDPP_RETURN_IF_ERROR(w->InitCreate(metadata));
  return std::unique_ptr<Wal>(std::move(w));
}

Result<std::unique_ptr<Wal>> Wal::Open(const std::string& dir, WalSnapshot snap,
                                       const Options& opts_in) {
  Options opts = opts_in;
  if (opts.fs == nullptr) opts.fs = DefaultFs();
  ETCDPP_ASSIGN_OR_RETURN(std::vector<std::string> names, opts.fs->ListDir(dir));
  std::vector<SegmentId> segs = SegmentsIn(names);
  if (segs.empty()) return Status::NotFound("wal: no WAL in " + dir);
  ETCDPP_ASSIGN_OR_RETURN(std::unique_ptr<DirLock> lock, opts.fs->LockDir(dir));
  RemoveStaleTmp(opts.fs, dir, names);
  auto w = std::make_unique<WalImpl>(dir, opts, std::move(lock));
  ETCDPP_RETURN_IF_ERROR(w->InitOpen(std::move(segs), snap));
  return std::unique_ptr<Wal>(std::move(w));
}

}  // namespace etcdpp::wal
