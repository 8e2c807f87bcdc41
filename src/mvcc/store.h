// The MVCC key-value store on LMDB: etcd's revisioned keyspace.
//
// One LMDB environment at <dir> (ARCHITECTURE.md §5) with named databases:
//   key    revision (8B BE main | '_' | 8B BE sub [| 't' tombstone]) -> mvccpb.KeyValue
//   index  user key (order-preserving encoding; keys longer than LMDB's limit
//          included) -> that key's revisions. No RAM index proportional to keys.
//   meta   consistent index + term, current and compacted revisions, ...
//   members          member id (8B BE) -> serialized etcdserverpb.Member
//   members_removed  member id (8B BE) -> "" (etcd's members_removed bucket)
//   lease            lease id (8B BE) -> encoded by src/lease (etcd's lease bucket)
//   alarm            raised alarm (the server's encoding: a serialized AlarmMember, as
//                    etcd's alarm bucket) -> ""
// plus, for later issues, aux tables (lease, auth, alarm, ...). Tables missing
// from an older data dir are created at open.
//
// Revision rules are etcd's (ETCD-FACTS.md §5.1): an empty store is at rev 1;
// each logical write txn that changes something gets one new revision, its
// changes sub-revisions 0,1,2...; a txn that changes nothing bumps nothing.
//
// Concurrency: any number of readers (any thread; LMDB MDB_NOTLS read txns),
// one writer (the applier thread). Readers see committed batches only.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "mvccpb/kv.pb.h"

namespace etcdpp::mvcc {

class Reader;  // mvcc/reader.h

// etcd's exact error texts (gRPC code OutOfRange).
inline constexpr std::string_view kErrCompacted =
    "etcdserver: mvcc: required revision has been compacted";
inline constexpr std::string_view kErrFutureRev =
    "etcdserver: mvcc: required revision is a future revision";

struct Options {
  uint64_t map_size_bytes = 8ull << 30;  // LMDB map size (virtual; grows on demand up to this)
  // Map size at open (or the data file's size if larger); doubled on demand.
  uint64_t initial_map_size_bytes = 256ull << 20;
  bool unsafe_no_fsync = false;
};

struct RangeOptions {
  int64_t limit = 0;  // 0 = no limit; count still counts every key in range
  int64_t rev = 0;    // <= 0: the view's current revision
  bool count_only = false;
};

struct RangeResult {
  std::vector<mvccpb::KeyValue> kvs;  // key order
  int64_t rev = 0;                    // the view's current revision (etcd: header revision)
  int64_t count = 0;                  // keys in range at rev (ignores limit)
};

// A consistent view of the store.
//   key/end follow etcd: end empty = the single key; end == "\0" = every key >= key;
//   otherwise [key, end).
// Errors: OutOfRange kErrCompacted if rev < compacted revision (== is allowed),
//         OutOfRange kErrFutureRev if rev > current revision.
class ReadView {
 public:
  virtual ~ReadView() = default;
  virtual Result<RangeResult> Range(std::string_view key, std::string_view end,
                                    const RangeOptions& opts) = 0;
  virtual int64_t Rev() const = 0;         // current revision of this view
  virtual int64_t CompactRev() const = 0;  // compacted revision (0 = none)
};

// A read-only LMDB snapshot; cheap; hold briefly (readers pin pages, and the
// writer waits for all of them before growing the map). Never hold one on the
// applier thread while it writes a Batch.
class ReadTxn : public ReadView {
 public:
  struct EventsResult {
    std::vector<mvccpb::Event> events;  // revision order, then sub-revision
    int64_t next_rev = 0;               // first revision not returned
  };
  // The history as watch events (for catching up slow watchers from LMDB):
  // every write with main revision in [from, to] (to <= 0 or > Rev(): up to
  // Rev()). Stops before a new revision once max_events are collected (never
  // splits a revision). Deletes carry kv{key, mod_revision}. With prev_kv,
  // each event gets the key's previous version (absent for creates, or when
  // that revision is compacted, as etcd). OutOfRange kErrCompacted if
  // from < CompactRev() (what compaction removed cannot be replayed).
  virtual Result<EventsResult> Events(int64_t from, int64_t to, size_t max_events,
                                      bool prev_kv) = 0;

  // Cluster membership as stored (src/membership owns the encoding): rows of
  // `members` as (id, serialized etcdserverpb.Member) and the ids in
  // `members_removed`, both in ascending id order.
  virtual Result<std::vector<std::pair<uint64_t, std::string>>> Members() = 0;
  virtual Result<std::vector<uint64_t>> RemovedMembers() = 0;

  // Leases as stored (src/lease owns the encoding): (id, encoded), in
  // ascending order of the id as uint64 (the key is its 8-byte big-endian).
  virtual Result<std::vector<std::pair<int64_t, std::string>>> Leases() = 0;
  // Every live key at Rev() whose lease != 0, as (lease, key), in key order:
  // a full scan, for rebuilding the lease->keys map at start-up or after a
  // snapshot restore.
  virtual Result<std::vector<std::pair<int64_t, std::string>>> LeasedKeys() = 0;

  // This snapshot's LMDB-level reader, for src/mvcc's own chunked reads
  // (range_stream.h); nullptr for a view that is not an LMDB snapshot.
  virtual const Reader* RawReader() const { return nullptr; }
  // The alarm table's keys (the server's encoding), in key order.
  virtual Result<std::vector<std::string>> Alarms() = 0;
};

// One logical etcd transaction (one revision) inside a write Batch. Ranges see
// this txn's own earlier writes (etcd: reads inside a write txn read at rev+1
// once it has changes).
class TxnWrite : public ReadView {
 public:
  // Returns the previous KeyValue if the key existed. create_revision/version
  // follow etcd (version 1 on create, +1 per put, reset by delete).
  virtual Result<std::optional<mvccpb::KeyValue>> Put(std::string_view key, std::string_view value,
                                                      int64_t lease) = 0;
  // Deletes every live key in the range (rules as Range); returns them (prev kvs).
  virtual Result<std::vector<mvccpb::KeyValue>> DeleteRange(std::string_view key,
                                                            std::string_view end) = 0;
  // Events produced so far by this txn, in order (for the watch hub): take
  // them before End(), which clears them. PUT events carry prev_kv when the
  // key existed; DELETE events carry kv{key, mod_revision} and prev_kv.
  virtual const std::vector<mvccpb::Event>& Changes() const = 0;
  // Ends the txn: bumps the store revision iff there were changes.
  virtual Status End() = 0;
  // Discards every change made so far by this txn (it stays open; End() then
  // bumps nothing). For errors found after writes started (etcd panics there).
  // Costly (the batch is replayed); never needed on the normal path.
  virtual Status Abort() = 0;
};

// One LMDB write transaction holding many logical txns (the applier's batch).
class Batch {
 public:
  virtual ~Batch() = default;
  // At most one TxnWrite open at a time; the previous must be End()ed.
  virtual Result<std::unique_ptr<TxnWrite>> BeginTxn() = 0;
  // Validates and records a compaction at rev (etcd: rev <= compacted ->
  // kErrCompacted, rev > current -> kErrFutureRev). History below rev is freed
  // by Store::RunCompaction (or at once); reads below rev fail from now on.
  virtual Status Compact(int64_t rev) = 0;
  // The raft index/term of the last applied entry, stored in this same LMDB
  // transaction so replay after a crash is exact (etcd #13766).
  virtual void SetConsistentIndex(uint64_t index, uint64_t term) = 0;
  // Cluster membership, written in this same LMDB transaction as the
  // consistent index (so a conf change is applied exactly once). Only between
  // logical txns (no TxnWrite open). Creates no revision. On a full map that
  // cannot grow: ResourceExhausted, the batch keeps everything before.
  virtual Status PutMember(uint64_t id, std::string_view encoded) = 0;
  virtual Status DeleteMember(uint64_t id) = 0;  // OK if absent
  virtual Status PutRemovedMember(uint64_t id) = 0;
  // The tables as this batch sees them (its own writes included).
  virtual Result<std::vector<std::pair<uint64_t, std::string>>> Members() = 0;
  virtual Result<std::vector<uint64_t>> RemovedMembers() = 0;

  // The lease table (etcd's `lease` bucket), same rules as the members
  // tables: only between logical txns, no revision, ResourceExhausted on a
  // full map. `encoded` is src/lease's business.
  virtual Status PutLease(int64_t id, std::string_view encoded) = 0;
  virtual Status DeleteLease(int64_t id) = 0;  // OK if absent
  virtual Result<std::vector<std::pair<int64_t, std::string>>> Leases() = 0;

  // The alarm table (etcd's `alarm` bucket): same rules as the lease table.
  virtual Status PutAlarm(std::string_view key) = 0;
  virtual Status DeleteAlarm(std::string_view key) = 0;  // OK if absent

  // Commits (one fdatasync unless unsafe_no_fsync). After OK, readers see it.
  virtual Status Commit() = 0;
  // Dropping a Batch without Commit aborts it.
};

struct HashResult {
  uint32_t hash = 0;
  int64_t rev = 0;  // the store's current revision at the time of the hash
};

struct HashKVResult {
  uint32_t hash = 0;
  int64_t compact_rev = 0;
  int64_t hash_rev = 0;
};

class Store {
 public:
  virtual ~Store() = default;
  // Opens or creates the environment in dir (created 0700).
  static Result<std::unique_ptr<Store>> Open(const std::string& dir, const Options& opts = {});

  virtual Result<std::unique_ptr<ReadTxn>> Read() = 0;
  // Only one Batch at a time (the applier thread owns writing).
  virtual Result<std::unique_ptr<Batch>> BeginBatch() = 0;

  // Physically frees history made obsolete by the last Compact (bounded work
  // per call is fine; returns OK when done). Safe to call from the writer thread.
  virtual Status RunCompaction() = 0;
  // One bounded piece of that work (about 1000 index keys, one LMDB commit);
  // true when the compaction is complete. Lets the applier interleave
  // compaction with batches; same thread rules as RunCompaction (no Batch
  // open). Also call it (or RunCompaction) after Open: an interrupted
  // compaction is resumed from the start (it is idempotent).
  virtual Result<bool> CompactionStep() = 0;

  // etcd's HashKV: CRC32C over the revisions <= rev, where a revision at or
  // below the compact revision counts only if it is its key's live version at
  // rev (etcd kvindex.Keep(rev); at the compact revision if no key is live at
  // rev); rev 0 = current. Equal on any two stores with the same history,
  // independent of LMDB page layout and of physical compaction progress.
  // Bit-for-bit etcd's value for the same history: the CRC starts with the
  // table name "key", then every counted row's revision key and serialized
  // KeyValue in revision order. Errors: kErrFutureRev (rev > current),
  // kErrCompacted (rev < compacted; == is allowed, as etcd 3.6).
  virtual Result<HashKVResult> HashKV(int64_t rev) = 0;
  // etcd's Maintenance.Hash: CRC32C over every table (by name order: the
  // name, then each row's key and value), except meta's consistent index and
  // term. Logical rows only (LMDB page layout never counts), but unlike HashKV
  // it sees physical compaction progress, exactly as etcd's does.
  virtual Result<HashResult> Hash() = 0;

  // Defragmentation: writes a compacting copy of the environment next to it
  // (<dir>/data.mdb.defrag, fsynced; taken in a read txn, so readers go on),
  // then waits for every read txn to end, closes the environment, renames the
  // copy over data.mdb (fsyncs the dir) and reopens. Writer thread only, no
  // Batch open (the applier runs it between batches: writes queue meanwhile,
  // none is lost). Afterwards DbSizeBytes() is about DbSizeInUseBytes(). A
  // crash at any point leaves either the old file or the new one (a leftover
  // copy is deleted at Open). Error after the rename: the store is unusable
  // (Internal) and the caller must stop.
  virtual Status Defrag() = 0;

  // Committed state (cheap; no txn needed).
  virtual uint64_t ConsistentIndex() const = 0;
  virtual uint64_t ConsistentTerm() const = 0;
  virtual int64_t CurrentRev() const = 0;
  virtual int64_t CompactRev() const = 0;
  virtual int64_t DbSizeBytes() const = 0;       // file size of data.mdb
  virtual int64_t DbSizeInUseBytes() const = 0;  // pages in use * page size

  // --- raft snapshots (docs/server.md "Snapshots") ---
  // Writes a consistent, compacted copy of the whole store to `path` (one
  // LMDB file, fsynced): taken in one read txn, so it never blocks the
  // applier and reflects exactly one consistent index.
  virtual Status SnapshotTo(const std::string& path) = 0;
  // Replaces the whole content by the LMDB file at `path` (as SnapshotTo
  // wrote it) in ONE write txn: concurrent readers see the old state or the
  // new one, never a mix, and a crash leaves one of the two. Writer thread
  // only, no Batch open.
  virtual Status RestoreFrom(const std::string& path) = 0;
  // Forces every committed page and the meta page to disk (the env runs with
  // MDB_NOMETASYNC); called before the WAL is purged behind the consistent index.
  virtual Status Sync() = 0;
};

// What a snapshot file written by Store::SnapshotTo holds (read without
// opening it as a Store).
struct SnapshotFileInfo {
  uint64_t consistent_index = 0;
  uint64_t term = 0;
  int64_t revision = 0;
  // The `members` table, raw (id, encoded etcdserverpb::Member), by id.
  std::vector<std::pair<uint64_t, std::string>> members;
  int64_t size_bytes = 0;
};
Result<SnapshotFileInfo> InspectSnapshotFile(const std::string& path);

}  // namespace etcdpp::mvcc
