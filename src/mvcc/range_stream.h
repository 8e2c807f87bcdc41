// A chunked range read at one pinned revision: the storage side of etcd 3.7's
// KV.RangeStream (docs/rangestream.md).
//
// Each chunk is read inside ONE LMDB read transaction, straight from the
// `index` cursor into the caller's output (no copy of the whole result), and
// the caller should take a fresh ReadTxn per chunk: a read txn held while a
// slow client drains the previous chunk would pin LMDB pages (db growth) and
// hold off map growth (Store's resize lock), so etcd's model applies — short
// read txns, consistency from the pinned MVCC revision. A compaction past the
// pinned revision is seen by the next chunk's txn and fails it with
// kErrCompacted (etcd 3.7: ErrCompacted mid-stream).
#pragma once

#include <google/protobuf/repeated_field.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/status.h"
#include "mvcc/store.h"
#include "mvccpb/kv.pb.h"

namespace etcdpp::mvcc {

struct RangeStreamOptions {
  std::string key;  // etcd rules (store.h): end empty = the single key; "\0" = every key >= key
  std::string end;
  int64_t rev = 0;    // <= 0: the current revision of the first chunk's snapshot (then pinned)
  int64_t limit = 0;  // total over the stream; <= 0 = none (etcd: a negative limit means none)
  bool keys_only = false;
  bool count_only = false;
  // A chunk stops before the kv that would take it past this many bytes (a
  // chunk always holds at least one kv), so a chunk is at most
  // max(byte_budget, one kv). The server passes --max-request-bytes.
  size_t byte_budget = 1572864;
  // etcd 3.7 starts with 10 kvs and grows the count toward the byte budget.
  int64_t first_chunk_kvs = 10;
  int64_t max_chunk_kvs = 1 << 20;
  // Keys visited (taken or only counted) per call, which bounds both how
  // long one call holds its read txn and how long it occupies the calling
  // thread. The first call is small: the server makes it from the thread
  // that completes the ReadIndex wait (possibly the raft loop). A call that
  // runs out of visits while only counting returns a chunk without kvs.
  int64_t first_call_visits = 1024;
  int64_t visits_per_call = 1 << 17;
};

struct RangeStreamChunk {
  bool last = false;       // the final chunk: header_rev/count/more are meaningful
  int64_t header_rev = 0;  // the first snapshot's current revision (etcd: header.revision)
  int64_t count = 0;       // keys in range at the pinned revision (ignores limit)
  bool more = false;       // the limit cut keys off
  size_t bytes = 0;        // serialized size of this chunk's kvs (approximate framing)
};

class RangeStreamCursor {
 public:
  explicit RangeStreamCursor(RangeStreamOptions opts);

  // Appends the next chunk's kvs to *kvs, read from `txn` (any snapshot taken
  // after the previous call's). The first call pins the revision, with
  // Range's checks: OutOfRange kErrFutureRev / kErrCompacted. Later calls fail
  // with kErrCompacted once txn's compacted revision passed the pinned one.
  // After a chunk with last=true, or any error, do not call again.
  Result<RangeStreamChunk> Next(const ReadTxn& txn,
                                google::protobuf::RepeatedPtrField<mvccpb::KeyValue>* kvs);

  int64_t pinned_rev() const { return pinned_rev_; }
  int64_t chunk_limit() const { return chunk_limit_; }

 private:
  RangeStreamOptions opts_;
  bool started_ = false;
  int64_t pinned_rev_ = 0;
  int64_t header_rev_ = 0;
  std::string next_key_;  // the first key not yet visited (inclusive resume point)
  int64_t emitted_ = 0;   // kvs handed out so far
  int64_t counted_ = 0;   // keys visited so far (count = counted_ once the scan ends)
  int64_t chunk_limit_ = 0;
  int64_t calls_ = 0;
};

}  // namespace etcdpp::mvcc
