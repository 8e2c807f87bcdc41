// The watch hub: etcd's watchable store (synced / unsynced watchers) over the
// LMDB MVCC store, independent of gRPC.
//
// Flow: the applier calls Publish() after each LMDB commit with that batch's
// events. Synced watchers get them at once, one response per revision (one
// txn is never split unless the watcher asked for `fragment`). A watcher whose
// stream queue is over its byte bound is moved to the unsynced set instead of
// queueing more (Publish never blocks and memory stays bounded); a background
// thread replays history for unsynced watchers from LMDB (ReadTxn::Events)
// while their stream has room, then moves them back to synced.
//
// Each gRPC stream is a hub Stream: an ordered queue of WatchResponses. Every
// response for a stream (created, events, canceled, progress) goes through
// that one FIFO, which gives etcd's ordering rules for free (created before
// events; a progress notification after every event already queued).
//
// "Current revision" for the hub is the last revision Published (not the
// store's), so a progress notification never claims a revision whose events
// are still on their way from the applier.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "etcdserverpb/rpc.pb.h"
#include "mvcc/store.h"
#include "mvccpb/kv.pb.h"

namespace etcdpp::watch {

// etcd's texts (ETCD-FACTS §4 "Watch create failures").
inline constexpr std::string_view kErrEmptyRange = "mvcc: watcher range is empty";
inline constexpr std::string_view kErrDuplicateId =
    "mvcc: duplicate watch ID provided on the WatchStream";
inline constexpr std::string_view kErrCompactedCreate =
    "etcdserver: mvcc: required revision has been compacted";

struct HubOptions {
  // --watch-progress-notify-interval (etcd 3.6 default 10 min).
  std::chrono::milliseconds progress_notify_interval{std::chrono::minutes(10)};
  // --max-request-bytes; responses of at least this + 512 KiB are fragmented
  // for watchers that asked for it (etcd's MaxRequestBytesWithOverhead).
  size_t max_request_bytes = 1572864;
  // Soft bound of one stream's queued responses: beyond it, new events for
  // the stream's watchers are not queued (they go unsynced).
  size_t stream_queue_bytes = 4u << 20;
  // Events per LMDB catch-up read (never splits a revision).
  size_t catchup_max_events = 1000;
  // How often the background thread looks at unsynced watchers even when not
  // woken (a safety net; it is normally woken by Publish/drain).
  std::chrono::milliseconds sync_interval{100};
};

// A response for a stream. header.revision is set; the rest of the header
// (cluster_id, member_id, raft_term) is the caller's.
using Response = etcdserverpb::WatchResponse;

class WatchHub {
 public:
  using StreamId = uint64_t;

  // store must outlive the hub. Starts the background sync thread.
  WatchHub(mvcc::Store* store, HubOptions opts = {});
  ~WatchHub();
  WatchHub(const WatchHub&) = delete;
  WatchHub& operator=(const WatchHub&) = delete;

  // Applier thread, after the LMDB commit that made `events` visible: every
  // event of the batch, in revision order (mod_revision = revision; PUTs and
  // DELETEs carry prev_kv when the key existed, as TxnWrite::Changes()).
  // Events at or below Rev() are ignored (already visible to catch-up).
  // Never blocks on a client.
  void Publish(const std::vector<mvccpb::Event>& events);
  // After the store content was replaced (snapshot restore) or revisions were
  // committed without Publish: every watcher is caught up from LMDB again.
  void Resync();
  // The last published revision (the hub's "current revision").
  int64_t Rev() const;

  // Streams. on_ready is called (from the Publish caller or the hub's thread,
  // never under hub locks) when responses may be waiting; after CloseStream
  // returns it is never called again. Create/Cancel/RequestProgress do not
  // call it: the caller pulls with Next() afterwards.
  StreamId OpenStream(std::function<void()> on_ready);
  void CloseStream(StreamId sid);  // frees its watchers and queue
  // etcd's WatchCreateRequest handling; queues the created (or failed)
  // response, then events. Returns the watch id (-1 on failure).
  int64_t Create(StreamId sid, const etcdserverpb::WatchCreateRequest& req);
  // Queues canceled=true for a known id; an unknown id is ignored (etcd).
  void Cancel(StreamId sid, int64_t watch_id);
  // WatchProgressRequest: if every watcher of the stream is synced, queues
  // one response with watch_id -1 and header.revision = Rev(); otherwise the
  // notification is deferred until they are (etcd 3.6). No watchers: nothing.
  void RequestProgress(StreamId sid);
  // Pops the next queued response of the stream; false when empty. *more
  // (if given) tells whether another response is queued behind it.
  bool Next(StreamId sid, Response* out, bool* more = nullptr);

  // Introspection (tests, metrics).
  size_t WatcherCount() const;
  size_t UnsyncedCount() const;

 private:
  struct Stream;
  struct Watcher {
    int64_t id = 0;
    Stream* stream = nullptr;
    std::string key, end;  // end empty: single key
    bool from_key = false;
    bool prev_kv = false, progress_notify = false, fragment = false;
    bool no_put = false, no_delete = false;
    int64_t min_rev = 0;  // next revision this watcher needs
    bool synced = false;
    bool removed = false;
    bool sent_since_tick = false;
    int64_t matched_rev = 0;  // Publish: dedup of matches within one revision
    bool Matches(const std::string& k) const;
    bool Wants(const mvccpb::Event& ev) const;
  };
  using WatcherPtr = std::shared_ptr<Watcher>;
  // One published revision's events, shared read-only by every watcher it
  // matched (one copy per revision, not one per watcher).
  struct Batch {
    int64_t rev = 0;
    std::vector<mvccpb::Event> events;
    size_t bytes = 0;
  };
  // A queued response: either built (batch null) or a reference to a shared
  // batch that Next() turns into the watcher's response outside mu_.
  struct Entry {
    Response resp;
    std::shared_ptr<const Batch> batch;
    WatcherPtr w;  // with batch: its filters, prev_kv and id (immutable)
    size_t bytes = 0;
  };
  struct Stream {
    StreamId sid = 0;
    std::unordered_map<int64_t, WatcherPtr> watchers;
    int64_t next_id = 0;
    std::vector<Entry> queue;  // FIFO from queue_head
    size_t queue_head = 0;
    size_t queue_bytes = 0;
    size_t unsynced = 0;
    bool progress_pending = false;
    std::mutex cb_mu;  // guards on_ready against CloseStream
    std::function<void()> on_ready;
  };
  using StreamPtr = std::shared_ptr<Stream>;

  void Run();
  bool SyncRound();  // true if more work is pending right away
  void ProgressTick();
  // All below: mu_ held.
  void Enqueue(Stream* s, Response r);
  void EnqueueEvents(Watcher* w, int64_t rev, std::vector<mvccpb::Event> evs);
  void EnqueueBatch(const WatcherPtr& w, const std::shared_ptr<const Batch>& b);
  // Without mu_: the watcher's response for a batch entry.
  static void Materialize(const Entry& e, Response* out);
  void Index(const WatcherPtr& w);
  void Unindex(const WatcherPtr& w);
  void MakeUnsynced(const WatcherPtr& w, int64_t min_rev);
  void MakeSynced(const WatcherPtr& w);
  void MaybeDeferredProgress(Stream* s);
  void Wake(std::vector<StreamPtr>* woken);

  mvcc::Store* store_;
  HubOptions opts_;
  size_t fragment_limit_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool kick_ = false;
  int64_t rev_ = 0;
  StreamId next_sid_ = 1;
  std::unordered_map<StreamId, StreamPtr> streams_;
  std::unordered_map<std::string, std::unordered_set<WatcherPtr>> by_key_;
  std::unordered_set<WatcherPtr> ranges_;
  std::unordered_set<WatcherPtr> unsynced_;
  std::unordered_set<WatcherPtr> progress_watchers_;
  std::unordered_set<Stream*> to_wake_;  // streams with new responses since last Wake
  std::chrono::steady_clock::time_point next_progress_;
  std::thread thread_;
};

// etcd's fragmenting (v3rpc sendFragments): a response of at least `limit`
// bytes with >= 2 events is split; every part but the last has fragment=true.
std::vector<Response> FragmentResponse(Response r, size_t limit);

}  // namespace etcdpp::watch
