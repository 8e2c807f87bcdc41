#include "mvcc/range_stream.h"

#include <algorithm>
#include <utility>

#include "mvcc/reader.h"

namespace etcdpp::mvcc {

namespace {
// A kv's share of a serialized RangeResponse: field tag + length varint.
constexpr size_t kKvFraming = 6;
}  // namespace

RangeStreamCursor::RangeStreamCursor(RangeStreamOptions opts) : opts_(std::move(opts)) {
  if (opts_.limit < 0) opts_.limit = 0;
  if (opts_.first_chunk_kvs < 1) opts_.first_chunk_kvs = 1;
  if (opts_.max_chunk_kvs < opts_.first_chunk_kvs) opts_.max_chunk_kvs = opts_.first_chunk_kvs;
  chunk_limit_ = opts_.first_chunk_kvs;
  next_key_ = opts_.key;
}

Result<RangeStreamChunk> RangeStreamCursor::Next(
    const ReadTxn& txn, google::protobuf::RepeatedPtrField<mvccpb::KeyValue>* kvs) {
  const Reader* reader = txn.RawReader();
  if (reader == nullptr) return Status::Internal("mvcc: RangeStream needs an LMDB snapshot");
  if (!started_) {
    // Range's checks, in etcd's order (kvstore_txn.go rangeKeys): future first.
    if (opts_.rev > txn.Rev()) return Status::OutOfRange(kErrFutureRev);
    pinned_rev_ = opts_.rev <= 0 ? txn.Rev() : opts_.rev;
    header_rev_ = txn.Rev();
    started_ = true;
  }
  // Every chunk, not only the first: this snapshot may be newer than the
  // compaction that the previous chunk's snapshot predated (== is allowed).
  if (pinned_rev_ < txn.CompactRev()) return Status::OutOfRange(kErrCompacted);

  RangeStreamChunk chunk;
  int64_t taken = 0;    // kvs in this chunk
  int64_t visited = 0;  // keys this call looked at
  const int64_t visit_budget =
      std::max<int64_t>(1, calls_++ == 0 ? opts_.first_call_visits : opts_.visits_per_call);
  // Why the chunk ended early (next_key_ is then where the next one starts).
  enum class Stop { kNo, kCount, kBytes, kVisits } stop = Stop::kNo;
  Status st;
  const bool single = opts_.end.empty();  // one key: one chunk
  auto limit_reached = [&] { return opts_.limit > 0 && emitted_ >= opts_.limit; };
  auto stop_at = [&](const ScanItem& it, Stop why) {
    next_key_ = std::string(it.user_key);
    stop = why;
    return false;
  };

  ETCDPP_RETURN_IF_ERROR(reader->Scan(next_key_, opts_.end, pinned_rev_, [&](const ScanItem& it) {
    if (visited >= visit_budget) return stop_at(it, Stop::kVisits);
    ++visited;
    // Past the limit (or count_only) the rest of the range is only counted:
    // an index walk, no value reads, and the last chunk needs the count.
    if (opts_.count_only || limit_reached()) {
      ++counted_;
      return true;
    }
    if (taken >= chunk_limit_) return stop_at(it, Stop::kCount);
    mvccpb::KeyValue kv;
    st = reader->GetKV(it.entry.rev, &kv);
    if (!st.ok()) return false;
    if (opts_.keys_only) kv.clear_value();
    const size_t size = kv.ByteSizeLong() + kKvFraming;
    if (taken > 0 && chunk.bytes + size > opts_.byte_budget) return stop_at(it, Stop::kBytes);
    *kvs->Add() = std::move(kv);
    chunk.bytes += size;
    ++taken;
    ++emitted_;
    ++counted_;
    return true;
  }));
  ETCDPP_RETURN_IF_ERROR(st);

  if (stop != Stop::kNo && !single) {
    // Grow toward the byte budget (etcd 3.7: start at 10, adapt to the
    // serialized size): double while a full-count chunk used < half of it;
    // a chunk cut by bytes keeps the count that fitted.
    if (stop == Stop::kCount && chunk.bytes < opts_.byte_budget / 2) {
      chunk_limit_ = std::min(chunk_limit_ * 2, opts_.max_chunk_kvs);
    } else if (stop == Stop::kBytes) {
      chunk_limit_ = std::max<int64_t>(taken, 1);
    }
    return chunk;
  }
  chunk.last = true;
  chunk.header_rev = header_rev_;
  chunk.count = counted_;
  // As Range: count_only returns no kvs, so nothing was cut off by the limit.
  chunk.more = !opts_.count_only && opts_.limit > 0 && counted_ > opts_.limit;
  return chunk;
}

}  // namespace etcdpp::mvcc
