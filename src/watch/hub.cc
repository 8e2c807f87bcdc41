#include "watch/hub.h"

#include <algorithm>
#include <cassert>
#include <tuple>
#include <utility>

namespace etcdpp::watch {

namespace {
// etcd's gRPC overhead allowance on top of --max-request-bytes.
constexpr size_t kGrpcOverheadBytes = 512 * 1024;
// Unsynced watchers handled per background round (bounds time under locks).
constexpr size_t kMaxWatchersPerRound = 500;
}  // namespace

std::vector<Response> FragmentResponse(Response r, size_t limit) {
  std::vector<Response> out;
  if (r.ByteSizeLong() < limit || r.events_size() < 2) {
    out.push_back(std::move(r));
    return out;
  }
  Response base = r;
  base.clear_events();
  Response cur = base;
  for (auto& ev : *r.mutable_events()) {
    // A part always holds at least one event, even an oversized one.
    if (cur.events_size() > 0 && cur.ByteSizeLong() + ev.ByteSizeLong() + 8 >= limit) {
      cur.set_fragment(true);
      out.push_back(std::move(cur));
      cur = base;
    }
    *cur.add_events() = std::move(ev);
  }
  cur.set_fragment(false);
  out.push_back(std::move(cur));
  return out;
}

bool WatchHub::Watcher::Matches(const std::string& k) const {
  if (from_key) return k >= key;
  if (end.empty()) return k == key;
  return k >= key && k < end;
}

bool WatchHub::Watcher::Wants(const mvccpb::Event& ev) const {
  if (ev.type() == mvccpb::Event::PUT && no_put) return false;
  if (ev.type() == mvccpb::Event::DELETE && no_delete) return false;
  return Matches(ev.kv().key());
}

WatchHub::WatchHub(mvcc::Store* store, HubOptions opts)
    : store_(store),
      opts_(opts),
      fragment_limit_(opts.max_request_bytes + kGrpcOverheadBytes),
      rev_(store->CurrentRev()) {
  next_progress_ = std::chrono::steady_clock::now() + opts_.progress_notify_interval;
  thread_ = std::thread([this] { Run(); });
}

WatchHub::~WatchHub() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

int64_t WatchHub::Rev() const {
  std::lock_guard<std::mutex> l(mu_);
  return rev_;
}

size_t WatchHub::WatcherCount() const {
  std::lock_guard<std::mutex> l(mu_);
  size_t n = 0;
  for (auto& [sid, s] : streams_)
    n += s->watchers.size();
  return n;
}

size_t WatchHub::UnsyncedCount() const {
  std::lock_guard<std::mutex> l(mu_);
  return unsynced_.size();
}

void WatchHub::Enqueue(Stream* s, Response r) {
  Entry e;
  e.bytes = r.ByteSizeLong();
  e.resp = std::move(r);
  s->queue_bytes += e.bytes;
  s->queue.push_back(std::move(e));
  to_wake_.insert(s);
}

void WatchHub::EnqueueBatch(const WatcherPtr& w, const std::shared_ptr<const Batch>& b) {
  Entry e;
  e.batch = b;
  e.w = w;
  // The whole batch counts against the stream's bound, as a copy would:
  // the bound is about how far the stream lags, not only about memory.
  e.bytes = b->bytes;
  w->stream->queue_bytes += e.bytes;
  w->stream->queue.push_back(std::move(e));
  w->sent_since_tick = true;
  to_wake_.insert(w->stream);
}

void WatchHub::Materialize(const Entry& e, Response* out) {
  out->Clear();
  out->mutable_header()->set_revision(e.batch->rev);
  out->set_watch_id(e.w->id);
  for (const auto& ev : e.batch->events) {
    if (!e.w->Wants(ev)) continue;
    mvccpb::Event* dst = out->add_events();
    dst->set_type(ev.type());
    *dst->mutable_kv() = ev.kv();
    if (e.w->prev_kv && ev.has_prev_kv()) *dst->mutable_prev_kv() = ev.prev_kv();
  }
}

void WatchHub::EnqueueEvents(Watcher* w, int64_t rev, std::vector<mvccpb::Event> evs) {
  Response r;
  r.mutable_header()->set_revision(rev);
  r.set_watch_id(w->id);
  for (auto& ev : evs)
    *r.add_events() = std::move(ev);
  w->sent_since_tick = true;
  if (!w->fragment) {
    Enqueue(w->stream, std::move(r));
    return;
  }
  for (auto& part : FragmentResponse(std::move(r), fragment_limit_))
    Enqueue(w->stream, std::move(part));
}

void WatchHub::Index(const WatcherPtr& w) {
  if (!w->from_key && w->end.empty()) {
    by_key_[w->key].insert(w);
  } else {
    ranges_.insert(w);
  }
  if (w->progress_notify) progress_watchers_.insert(w);
}

void WatchHub::Unindex(const WatcherPtr& w) {
  if (!w->from_key && w->end.empty()) {
    auto it = by_key_.find(w->key);
    if (it != by_key_.end()) {
      it->second.erase(w);
      if (it->second.empty()) by_key_.erase(it);
    }
  } else {
    ranges_.erase(w);
  }
  progress_watchers_.erase(w);
  if (!w->synced) {
    unsynced_.erase(w);
    w->stream->unsynced--;
  }
  w->removed = true;
}

void WatchHub::MakeUnsynced(const WatcherPtr& w, int64_t min_rev) {
  assert(w->synced);
  w->synced = false;
  w->min_rev = min_rev;
  unsynced_.insert(w);
  w->stream->unsynced++;
  kick_ = true;
}

void WatchHub::MakeSynced(const WatcherPtr& w) {
  assert(!w->synced);
  w->synced = true;
  unsynced_.erase(w);
  w->stream->unsynced--;
  MaybeDeferredProgress(w->stream);
}

void WatchHub::MaybeDeferredProgress(Stream* s) {
  if (!s->progress_pending || s->unsynced > 0) return;
  s->progress_pending = false;
  if (s->watchers.empty()) return;
  Response r;
  r.mutable_header()->set_revision(rev_);
  r.set_watch_id(-1);
  Enqueue(s, std::move(r));
}

// Called with mu_ held; moves the streams to wake into *woken (shared_ptrs
// keep them alive until the callbacks ran outside the lock).
void WatchHub::Wake(std::vector<StreamPtr>* woken) {
  for (Stream* s : to_wake_) {
    auto it = streams_.find(s->sid);
    if (it != streams_.end()) woken->push_back(it->second);
  }
  to_wake_.clear();
}

void WatchHub::Publish(const std::vector<mvccpb::Event>& events) {
  std::vector<StreamPtr> woken;
  bool kick = false;
  {
    std::lock_guard<std::mutex> l(mu_);
    size_t i = 0;
    // Per-revision groups: one txn = one response per watcher.
    std::vector<WatcherPtr> matched;
    while (i < events.size()) {
      const int64_t rev = events[i].kv().mod_revision();
      size_t j = i;
      while (j < events.size() && events[j].kv().mod_revision() == rev)
        j++;
      if (rev <= rev_) {  // already visible to LMDB catch-up (e.g. after Resync)
        i = j;
        continue;
      }
      // Matching only collects watchers; the events are copied once into a
      // shared batch, and each watcher's response is built by its stream's
      // Next() (off the applier thread, outside mu_).
      matched.clear();
      auto add = [&](const WatcherPtr& w, const mvccpb::Event& ev) {
        if (w->matched_rev == rev || !w->synced || rev < w->min_rev || !w->Wants(ev)) return;
        w->matched_rev = rev;
        matched.push_back(w);
      };
      for (size_t k = i; k < j; k++) {
        const mvccpb::Event& ev = events[k];
        auto it = by_key_.find(ev.kv().key());
        if (it != by_key_.end()) {
          for (const auto& w : it->second)
            add(w, ev);
        }
        for (const auto& w : ranges_)
          add(w, ev);
      }
      std::shared_ptr<Batch> batch;
      for (const WatcherPtr& w : matched) {
        if (w->stream->queue_bytes >= opts_.stream_queue_bytes) {
          // Slow stream: stop queueing; the sync thread replays from LMDB.
          MakeUnsynced(w, rev);
          kick = true;
          continue;
        }
        if (w->fragment) {
          // Rare: fragmenting needs the built response now.
          std::vector<mvccpb::Event> evs;
          for (size_t k = i; k < j; k++) {
            if (!w->Wants(events[k])) continue;
            evs.push_back(events[k]);
            if (!w->prev_kv) evs.back().clear_prev_kv();
          }
          EnqueueEvents(w.get(), rev, std::move(evs));
          continue;
        }
        if (!batch) {
          batch = std::make_shared<Batch>();
          batch->rev = rev;
          batch->events.assign(events.begin() + static_cast<long>(i),
                               events.begin() + static_cast<long>(j));
          for (const auto& ev : batch->events)
            batch->bytes += ev.ByteSizeLong();
        }
        EnqueueBatch(w, batch);
      }
      rev_ = rev;
      i = j;
    }
    Wake(&woken);
  }
  if (kick) cv_.notify_all();
  for (auto& s : woken) {
    std::lock_guard<std::mutex> l(s->cb_mu);
    if (s->on_ready) s->on_ready();
  }
}

void WatchHub::Resync() {
  {
    std::lock_guard<std::mutex> l(mu_);
    // Synced watchers got (or filtered) every event up to the old rev_.
    const int64_t next = rev_ + 1;
    rev_ = std::max(rev_, store_->CurrentRev());
    for (auto& [sid, s] : streams_) {
      for (auto& [id, w] : s->watchers) {
        if (w->synced) MakeUnsynced(w, std::max(w->min_rev, next));
      }
    }
  }
  cv_.notify_all();
}

WatchHub::StreamId WatchHub::OpenStream(std::function<void()> on_ready) {
  auto s = std::make_shared<Stream>();
  s->on_ready = std::move(on_ready);
  std::lock_guard<std::mutex> l(mu_);
  s->sid = next_sid_++;
  streams_[s->sid] = s;
  return s->sid;
}

void WatchHub::CloseStream(StreamId sid) {
  StreamPtr s;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = streams_.find(sid);
    if (it == streams_.end()) return;
    s = it->second;
    for (auto& [id, w] : s->watchers)
      Unindex(w);
    s->watchers.clear();
    to_wake_.erase(s.get());
    streams_.erase(it);
  }
  // Waits for a callback in progress; none starts afterwards.
  std::lock_guard<std::mutex> l(s->cb_mu);
  s->on_ready = nullptr;
}

int64_t WatchHub::Create(StreamId sid, const etcdserverpb::WatchCreateRequest& req) {
  std::unique_lock<std::mutex> l(mu_);
  auto sit = streams_.find(sid);
  if (sit == streams_.end()) return -1;
  Stream* s = sit->second.get();

  auto w = std::make_shared<Watcher>();
  w->stream = s;
  // etcd: an empty key means "\0"; range_end "\0" means every key >= key.
  w->key = req.key().empty() ? std::string(1, '\0') : req.key();
  if (req.range_end().size() == 1 && req.range_end()[0] == '\0') {
    w->from_key = true;
  } else {
    w->end = req.range_end();
  }
  w->prev_kv = req.prev_kv();
  w->progress_notify = req.progress_notify();
  w->fragment = req.fragment();
  for (int f : req.filters()) {
    if (f == etcdserverpb::WatchCreateRequest::NOPUT) w->no_put = true;
    if (f == etcdserverpb::WatchCreateRequest::NODELETE) w->no_delete = true;
  }

  Response created;
  created.mutable_header()->set_revision(rev_);
  created.set_created(true);
  std::string_view err;
  if (req.start_revision() < 0) {
    err = kErrCompactedCreate;
  } else if (!w->end.empty() && w->key >= w->end) {
    err = kErrEmptyRange;
  } else if (req.watch_id() != 0 && s->watchers.count(req.watch_id()) != 0) {
    err = kErrDuplicateId;
  }
  if (!err.empty()) {
    created.set_watch_id(-1);
    created.set_canceled(true);
    created.set_cancel_reason(std::string(err));
    Enqueue(s, std::move(created));
    to_wake_.erase(s);
    return -1;
  }
  if (req.watch_id() != 0) {
    w->id = req.watch_id();
  } else {
    while (s->watchers.count(s->next_id) != 0)
      s->next_id++;
    w->id = s->next_id++;
  }
  created.set_watch_id(w->id);
  Enqueue(s, std::move(created));
  to_wake_.erase(s);

  const int64_t start = req.start_revision();
  const int64_t compact = store_->CompactRev();
  if (start > 0 && start < compact) {
    // etcd: created, then canceled with the compact revision (header rev 0).
    Response c;
    c.mutable_header()->set_revision(0);
    c.set_watch_id(w->id);
    c.set_canceled(true);
    c.set_compact_revision(compact);
    Enqueue(s, std::move(c));
    to_wake_.erase(s);
    return w->id;
  }
  s->watchers[w->id] = w;
  Index(w);
  if (start == 0 || start > rev_) {
    w->synced = true;
    w->min_rev = start == 0 ? rev_ + 1 : start;
  } else {
    w->synced = true;  // MakeUnsynced expects a synced watcher
    MakeUnsynced(w, start);
    l.unlock();
    cv_.notify_all();
  }
  return w->id;
}

void WatchHub::Cancel(StreamId sid, int64_t watch_id) {
  std::lock_guard<std::mutex> l(mu_);
  auto sit = streams_.find(sid);
  if (sit == streams_.end()) return;
  Stream* s = sit->second.get();
  auto it = s->watchers.find(watch_id);
  if (it == s->watchers.end()) return;  // etcd ignores unknown ids
  Unindex(it->second);
  s->watchers.erase(it);
  Response r;
  r.mutable_header()->set_revision(rev_);
  r.set_watch_id(watch_id);
  r.set_canceled(true);
  Enqueue(s, std::move(r));
  to_wake_.erase(s);
  MaybeDeferredProgress(s);
  to_wake_.erase(s);
}

void WatchHub::RequestProgress(StreamId sid) {
  std::lock_guard<std::mutex> l(mu_);
  auto sit = streams_.find(sid);
  if (sit == streams_.end()) return;
  Stream* s = sit->second.get();
  if (s->watchers.empty()) return;
  s->progress_pending = true;
  MaybeDeferredProgress(s);
  to_wake_.erase(s);
}

bool WatchHub::Next(StreamId sid, Response* out, bool* more) {
  bool kick = false;
  Entry e;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto sit = streams_.find(sid);
    if (sit == streams_.end()) return false;
    Stream* s = sit->second.get();
    if (s->queue_head == s->queue.size()) return false;
    e = std::move(s->queue[s->queue_head++]);
    if (more != nullptr) *more = s->queue_head < s->queue.size();
    s->queue_bytes -= std::min(s->queue_bytes, e.bytes);
    if (s->queue_head == s->queue.size()) {
      s->queue.clear();
      s->queue_head = 0;
      s->queue_bytes = 0;
    } else if (s->queue_head > 64 && s->queue_head * 2 > s->queue.size()) {
      s->queue.erase(s->queue.begin(), s->queue.begin() + static_cast<long>(s->queue_head));
      s->queue_head = 0;
    }
    // Room again: let the sync thread catch this stream's watchers up.
    if (s->unsynced > 0 && s->queue_bytes < opts_.stream_queue_bytes / 2) {
      kick_ = true;
      kick = true;
    }
  }
  if (kick) cv_.notify_all();
  // Outside mu_: the batch and the watcher's filter fields are immutable.
  if (e.batch) {
    Materialize(e, out);
  } else {
    *out = std::move(e.resp);
  }
  return true;
}

void WatchHub::Run() {
  std::unique_lock<std::mutex> l(mu_);
  while (!stop_) {
    auto now = std::chrono::steady_clock::now();
    if (now >= next_progress_) {
      l.unlock();
      ProgressTick();
      l.lock();
      next_progress_ = std::chrono::steady_clock::now() + opts_.progress_notify_interval;
      continue;
    }
    if (!kick_) {
      auto until = std::min(next_progress_, now + opts_.sync_interval);
      cv_.wait_until(l, until, [this] { return stop_ || kick_; });
      if (stop_) break;
    }
    kick_ = false;
    if (unsynced_.empty()) continue;
    l.unlock();
    bool more = SyncRound();
    l.lock();
    if (more) kick_ = true;
  }
}

void WatchHub::ProgressTick() {
  std::vector<StreamPtr> woken;
  {
    std::lock_guard<std::mutex> l(mu_);
    for (const auto& w : progress_watchers_) {
      // etcd: only idle, synced watchers get a notification, and only if the
      // stream is not backed up.
      if (w->synced && !w->sent_since_tick && w->stream->queue_bytes < opts_.stream_queue_bytes) {
        Response r;
        r.mutable_header()->set_revision(rev_);
        r.set_watch_id(w->id);
        Enqueue(w->stream, std::move(r));
      }
      w->sent_since_tick = false;
    }
    Wake(&woken);
  }
  for (auto& s : woken) {
    std::lock_guard<std::mutex> l(s->cb_mu);
    if (s->on_ready) s->on_ready();
  }
}

bool WatchHub::SyncRound() {
  struct Job {
    WatcherPtr w;
    int64_t from = 0;
    int64_t to = 0;
    bool prev_kv = false;
  };
  std::vector<Job> jobs;
  bool more = false;
  {
    std::lock_guard<std::mutex> l(mu_);
    for (const auto& w : unsynced_) {
      if (w->stream->queue_bytes >= opts_.stream_queue_bytes) continue;  // still slow
      if (jobs.size() == kMaxWatchersPerRound) {
        more = true;
        break;
      }
      jobs.push_back(Job{w, w->min_rev, rev_, w->prev_kv});
    }
  }
  // Watchers needing the same history share one LMDB read (as etcd batches
  // its unsynced watchers): after a Resync or a burst, most are at one rev.
  std::sort(jobs.begin(), jobs.end(), [](const Job& x, const Job& y) {
    return std::tie(x.from, x.prev_kv) < std::tie(y.from, y.prev_kv);
  });
  size_t g = 0;
  while (g < jobs.size()) {
    size_t h = g;
    while (h < jobs.size() && jobs[h].from == jobs[g].from && jobs[h].prev_kv == jobs[g].prev_kv)
      h++;
    const int64_t from = jobs[g].from;
    const int64_t to = jobs[g].to;
    mvcc::ReadTxn::EventsResult res;
    res.next_rev = from;
    bool compacted = false;
    int64_t compact_rev = 0;
    if (from <= to) {
      auto txn = store_->Read();
      if (!txn.ok()) {
        more = true;
        g = h;
        continue;
      }
      auto r = (*txn)->Events(from, to, opts_.catchup_max_events, jobs[g].prev_kv);
      compact_rev = (*txn)->CompactRev();
      if (r.ok()) {
        res = std::move(*r);
      } else if (r.status().Is(Code::kOutOfRange)) {
        compacted = true;
      } else {
        more = true;
        g = h;
        continue;
      }
    }
    for (size_t k = g; k < h; k++) {
      const Job& job = jobs[k];
      std::vector<mvccpb::Event> evs;
      for (const auto& ev : res.events) {
        if (job.w->Wants(ev)) evs.push_back(ev);
      }
      std::lock_guard<std::mutex> l(mu_);
      Watcher* w = job.w.get();
      if (w->removed || w->synced || w->min_rev != from) continue;
      Stream* s = w->stream;
      if (compacted) {
        // etcd: canceled with compact_revision, header revision 0.
        Response r;
        r.mutable_header()->set_revision(0);
        r.set_watch_id(w->id);
        r.set_canceled(true);
        r.set_compact_revision(compact_rev);
        Unindex(job.w);
        s->watchers.erase(w->id);  // job.w keeps the watcher alive until here
        Enqueue(s, std::move(r));
        MaybeDeferredProgress(s);
        continue;
      }
      if (s->queue_bytes >= opts_.stream_queue_bytes) continue;  // filled meanwhile: retry later
      if (!evs.empty()) EnqueueEvents(w, to, std::move(evs));
      w->min_rev = std::max(res.next_rev, from);
      if (w->min_rev > rev_) {
        MakeSynced(job.w);  // later revisions arrive through Publish
      } else {
        more = true;
      }
    }
    g = h;
  }
  std::vector<StreamPtr> woken;
  {
    std::lock_guard<std::mutex> l(mu_);
    Wake(&woken);
  }
  for (auto& s : woken) {
    std::lock_guard<std::mutex> l(s->cb_mu);
    if (s->on_ready) s->on_ready();
  }
  return more;
}

}  // namespace etcdpp::watch
