#include "watch/hub.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <set>

#include "fixture.h"

namespace etcdpp::watch::testing {
namespace {

using mvccpb::Event;

class WatchHubTest : public StoreFixture {};

TEST_F(WatchHubTest, CreateEventsCancel) {
  MakeHub();
  TestStream s(hub_.get());
  EXPECT_EQ(hub_->Create(s.sid(), CreateReq("a")), 0);
  Response r = s.MustGet();
  EXPECT_TRUE(r.created());
  EXPECT_EQ(r.watch_id(), 0);
  EXPECT_EQ(r.header().revision(), 1);

  Put("a", "1");  // rev 2
  Put("b", "1");  // rev 3 (not watched)
  Del("a");       // rev 4
  r = s.MustGet();
  ASSERT_EQ(r.events_size(), 1);
  EXPECT_EQ(r.events(0).type(), Event::PUT);
  EXPECT_EQ(r.events(0).kv().value(), "1");
  EXPECT_EQ(r.header().revision(), 2);
  r = s.MustGet();
  ASSERT_EQ(r.events_size(), 1);
  EXPECT_EQ(r.events(0).type(), Event::DELETE);
  EXPECT_EQ(r.events(0).kv().mod_revision(), 4);
  EXPECT_FALSE(r.events(0).has_prev_kv());  // not asked for

  hub_->Cancel(s.sid(), 0);
  r = s.MustGet();
  EXPECT_TRUE(r.canceled());
  EXPECT_EQ(r.watch_id(), 0);
  hub_->Cancel(s.sid(), 42);  // unknown: ignored (etcd)
  Put("a", "2");
  EXPECT_TRUE(s.Idle());
  EXPECT_EQ(hub_->WatcherCount(), 0u);
}

TEST_F(WatchHubTest, IdsAutoAndClientChosenAndDuplicate) {
  MakeHub();
  TestStream s(hub_.get());
  auto req = CreateReq("k");
  req.set_watch_id(1);
  EXPECT_EQ(hub_->Create(s.sid(), req), 1);
  EXPECT_EQ(hub_->Create(s.sid(), CreateReq("k")), 0);
  EXPECT_EQ(hub_->Create(s.sid(), CreateReq("k")), 2);  // 1 is taken
  EXPECT_EQ(hub_->Create(s.sid(), req), -1);
  for (int i = 0; i < 3; i++)
    EXPECT_TRUE(s.MustGet().created());
  Response r = s.MustGet();
  EXPECT_TRUE(r.created());
  EXPECT_TRUE(r.canceled());
  EXPECT_EQ(r.watch_id(), -1);
  EXPECT_EQ(r.cancel_reason(), kErrDuplicateId);
}

TEST_F(WatchHubTest, BadRanges) {
  MakeHub();
  TestStream s(hub_.get());
  EXPECT_EQ(hub_->Create(s.sid(), CreateReq("b", "a")), -1);
  Response r = s.MustGet();
  EXPECT_TRUE(r.created() && r.canceled());
  EXPECT_EQ(r.cancel_reason(), kErrEmptyRange);
  EXPECT_EQ(hub_->Create(s.sid(), CreateReq("a", "", -1)), -1);
  r = s.MustGet();
  EXPECT_EQ(r.cancel_reason(), kErrCompactedCreate);
}

TEST_F(WatchHubTest, RangePrefixFromKeyAndAllKeys) {
  MakeHub();
  TestStream s(hub_.get());
  hub_->Create(s.sid(), CreateReq("foo", "fop"));               // 0: prefix foo
  hub_->Create(s.sid(), CreateReq("b", "d"));                   // 1: [b, d)
  hub_->Create(s.sid(), CreateReq("m", std::string(1, '\0')));  // 2: >= m
  hub_->Create(s.sid(), CreateReq("", std::string(1, '\0')));   // 3: every key
  for (int i = 0; i < 4; i++)
    s.MustGet();
  for (const char* k : {"foo", "foo/x", "fop", "b", "c", "d", "m", "zz", "a"})
    Put(k, "v");
  std::map<int64_t, std::vector<std::string>> got;
  Response r;
  while (s.Get(&r, std::chrono::milliseconds(0))) {
    for (const auto& ev : r.events())
      got[r.watch_id()].push_back(ev.kv().key());
  }
  EXPECT_EQ(got[0], (std::vector<std::string>{"foo", "foo/x"}));
  EXPECT_EQ(got[1], (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(got[2], (std::vector<std::string>{"m", "zz"}));
  EXPECT_EQ(got[3].size(), 9u);
}

TEST_F(WatchHubTest, FiltersAndPrevKv) {
  MakeHub();
  TestStream s(hub_.get());
  auto noput = CreateReq("k");
  noput.add_filters(etcdserverpb::WatchCreateRequest::NOPUT);
  auto nodel = CreateReq("k");
  nodel.add_filters(etcdserverpb::WatchCreateRequest::NODELETE);
  nodel.set_prev_kv(true);
  hub_->Create(s.sid(), noput);  // 0
  hub_->Create(s.sid(), nodel);  // 1
  s.MustGet();
  s.MustGet();
  Put("k", "v1");  // 2
  Put("k", "v2");  // 3
  Del("k");        // 4
  Response r = s.MustGet();
  EXPECT_EQ(r.watch_id(), 1);
  EXPECT_FALSE(r.events(0).has_prev_kv());  // create
  r = s.MustGet();
  EXPECT_EQ(r.watch_id(), 1);
  ASSERT_TRUE(r.events(0).has_prev_kv());
  EXPECT_EQ(r.events(0).prev_kv().value(), "v1");
  r = s.MustGet();
  EXPECT_EQ(r.watch_id(), 0);
  EXPECT_EQ(r.events(0).type(), Event::DELETE);
  EXPECT_FALSE(r.events(0).has_prev_kv());
  EXPECT_TRUE(s.Idle());
}

TEST_F(WatchHubTest, OneTxnOneResponse) {
  MakeHub();
  TestStream s(hub_.get());
  hub_->Create(s.sid(), CreateReq("a", "z"));
  s.MustGet();
  Txn({{"a", "1"}, {"b", "1"}, {"c", "1"}, {"zz", "out"}});
  Txn({{"d", "1"}});
  Response r = s.MustGet();
  ASSERT_EQ(r.events_size(), 3);
  for (const auto& ev : r.events())
    EXPECT_EQ(ev.kv().mod_revision(), 2);
  r = s.MustGet();
  ASSERT_EQ(r.events_size(), 1);
  EXPECT_EQ(r.events(0).kv().mod_revision(), 3);
}

// One shared batch per revision: every watcher still gets only its own
// events, with prev_kv only if it asked, and later mutations of the
// caller's vector do not leak into queued responses.
TEST_F(WatchHubTest, SharedBatchPerWatcherView) {
  MakeHub();
  TestStream s1(hub_.get());
  TestStream s2(hub_.get());
  auto prev = CreateReq("a", "c");
  prev.set_prev_kv(true);
  auto nodel = CreateReq("a", "z");
  nodel.add_filters(etcdserverpb::WatchCreateRequest::NODELETE);
  hub_->Create(s1.sid(), prev);             // s1 #0: [a, c) with prev_kv
  hub_->Create(s1.sid(), CreateReq("b"));   // s1 #1: b only
  hub_->Create(s2.sid(), nodel);            // s2 #0: [a, z) no deletes
  hub_->Create(s2.sid(), CreateReq("zz"));  // s2 #1: never matches
  for (int i = 0; i < 2; i++) {
    s1.MustGet();
    s2.MustGet();
  }
  Txn({{"a", "1"}, {"b", "1"}});                                                // rev 2
  auto evs = Txn({{"a", "2"}, {"b", kDelete}, {"d", "1"}}, /*publish=*/false);  // rev 3
  hub_->Publish(evs);
  evs.clear();  // the hub must hold its own copy

  Response r = s1.MustGet();  // rev 2, #0
  EXPECT_EQ(r.watch_id(), 0);
  EXPECT_EQ(r.header().revision(), 2);
  ASSERT_EQ(r.events_size(), 2);
  EXPECT_FALSE(r.events(0).has_prev_kv());  // created: no previous
  r = s1.MustGet();                         // rev 2, #1
  EXPECT_EQ(r.watch_id(), 1);
  ASSERT_EQ(r.events_size(), 1);
  EXPECT_EQ(r.events(0).kv().key(), "b");
  r = s1.MustGet();  // rev 3, #0: a and the delete of b, both with prev_kv
  EXPECT_EQ(r.watch_id(), 0);
  EXPECT_EQ(r.header().revision(), 3);
  ASSERT_EQ(r.events_size(), 2);
  EXPECT_EQ(r.events(0).prev_kv().value(), "1");
  EXPECT_EQ(r.events(1).type(), Event::DELETE);
  EXPECT_EQ(r.events(1).prev_kv().value(), "1");
  r = s1.MustGet();  // rev 3, #1: the delete, without prev_kv
  EXPECT_EQ(r.watch_id(), 1);
  ASSERT_EQ(r.events_size(), 1);
  EXPECT_EQ(r.events(0).type(), Event::DELETE);
  EXPECT_FALSE(r.events(0).has_prev_kv());
  EXPECT_TRUE(s1.Idle());

  r = s2.MustGet();  // rev 2
  EXPECT_EQ(r.watch_id(), 0);
  ASSERT_EQ(r.events_size(), 2);
  r = s2.MustGet();  // rev 3: a and d, the delete filtered
  EXPECT_EQ(r.watch_id(), 0);
  ASSERT_EQ(r.events_size(), 2);
  EXPECT_EQ(r.events(0).kv().key(), "a");
  EXPECT_FALSE(r.events(0).has_prev_kv());
  EXPECT_EQ(r.events(1).kv().key(), "d");
  EXPECT_TRUE(s2.Idle());
}

TEST_F(WatchHubTest, BatchOfSeveralTxnsPublishedAtOnce) {
  MakeHub();
  TestStream s(hub_.get());
  hub_->Create(s.sid(), CreateReq("k"));
  s.MustGet();
  std::vector<Event> all;
  for (int i = 0; i < 3; i++) {
    auto evs = Txn({{"k", std::to_string(i)}}, /*publish=*/false);
    all.insert(all.end(), evs.begin(), evs.end());
  }
  hub_->Publish(all);  // one applier batch: 3 revisions, 3 responses
  for (int64_t rev = 2; rev <= 4; rev++) {
    Response r = s.MustGet();
    ASSERT_EQ(r.events_size(), 1);
    EXPECT_EQ(r.events(0).kv().mod_revision(), rev);
  }
  hub_->Publish(all);  // replayed batch: ignored (revisions <= Rev())
  EXPECT_TRUE(s.Idle());
}

TEST_F(WatchHubTest, PastStartRevisionReplaysFromStore) {
  MakeHub();
  for (int i = 0; i < 10; i++)
    Put(Cat("k", i % 3), std::to_string(i));  // revs 2..11
  TestStream s(hub_.get());
  auto req = CreateReq("k0", "", 5);
  req.set_prev_kv(true);
  hub_->Create(s.sid(), req);
  Response r = s.MustGet();
  EXPECT_TRUE(r.created());
  EXPECT_EQ(r.header().revision(), 11);
  // k0 written at revs 2, 5, 8, 11; from 5: 5, 8, 11 (one catch-up response)
  std::vector<int64_t> revs;
  while (revs.size() < 3) {
    r = s.MustGet();
    ASSERT_GT(r.events_size(), 0);
    for (const auto& ev : r.events()) {
      revs.push_back(ev.kv().mod_revision());
      EXPECT_TRUE(ev.has_prev_kv());
    }
  }
  EXPECT_EQ(revs, (std::vector<int64_t>{5, 8, 11}));
  // Then live events, no duplicates.
  Put("k0", "live");  // 12
  r = s.MustGet();
  ASSERT_EQ(r.events_size(), 1);
  EXPECT_EQ(r.events(0).kv().mod_revision(), 12);
  EXPECT_EQ(hub_->UnsyncedCount(), 0u);
}

TEST_F(WatchHubTest, FutureStartRevision) {
  MakeHub();
  TestStream s(hub_.get());
  hub_->Create(s.sid(), CreateReq("k", "", 4));
  s.MustGet();
  Put("k", "2");
  Put("k", "3");
  Put("k", "4");
  Response r = s.MustGet();
  EXPECT_EQ(r.events(0).kv().mod_revision(), 4);
}

TEST_F(WatchHubTest, CompactedStartRevision) {
  MakeHub();
  for (int i = 0; i < 5; i++)
    Put("k", std::to_string(i));  // revs 2..6
  Compact(4);
  TestStream s(hub_.get());
  EXPECT_EQ(hub_->Create(s.sid(), CreateReq("k", "", 2)), 0);
  Response r = s.MustGet();
  EXPECT_TRUE(r.created());
  r = s.MustGet();
  EXPECT_TRUE(r.canceled());
  EXPECT_EQ(r.compact_revision(), 4);
  EXPECT_EQ(r.header().revision(), 0);
  EXPECT_EQ(r.cancel_reason(), "");
  EXPECT_EQ(hub_->WatcherCount(), 0u);
  // == compact revision is allowed
  EXPECT_EQ(hub_->Create(s.sid(), CreateReq("k", "", 4)), 1);
  s.MustGet();
  r = s.MustGet();
  ASSERT_GT(r.events_size(), 0);
  EXPECT_EQ(r.events(0).kv().mod_revision(), 4);
}

TEST_F(WatchHubTest, Fragment) {
  HubOptions o;
  o.max_request_bytes = 1000;  // fragment limit = 1000 + 512 KiB
  MakeHub(o);
  TestStream s(hub_.get());
  auto req = CreateReq("k", "l");
  req.set_fragment(true);
  hub_->Create(s.sid(), req);
  hub_->Create(s.sid(), CreateReq("k", "l"));  // no fragment
  s.MustGet();
  s.MustGet();
  std::vector<Op> ops;
  for (int i = 0; i < 10; i++)
    ops.push_back({Cat("k", i), std::string(100 * 1024, 'x')});
  Txn(ops);
  int parts = 0, events = 0;
  for (;;) {
    Response r = s.MustGet();
    if (r.watch_id() == 1) {
      EXPECT_EQ(r.events_size(), 10);
      EXPECT_FALSE(r.fragment());
      continue;
    }
    parts++;
    events += r.events_size();
    EXPECT_LT(r.ByteSizeLong(), 1000u + 512 * 1024);
    if (!r.fragment()) break;
  }
  EXPECT_GE(parts, 2);
  EXPECT_EQ(events, 10);
}

TEST_F(WatchHubTest, FragmentResponseSplitsOnlyBigMultiEvent) {
  Response r;
  *r.add_events()->mutable_kv()->mutable_value() = std::string(5000, 'x');
  EXPECT_EQ(FragmentResponse(r, 100).size(), 1u);  // one event: never split
  *r.add_events()->mutable_kv()->mutable_value() = std::string(5000, 'x');
  *r.add_events()->mutable_kv()->mutable_value() = std::string(5000, 'x');
  auto parts = FragmentResponse(r, 100);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_TRUE(parts[0].fragment() && parts[1].fragment() && !parts[2].fragment());
  EXPECT_EQ(FragmentResponse(r, 1 << 20).size(), 1u);
}

// The heart of the slow-watcher design: Publish never blocks, memory stays
// bounded, and the watcher is caught up from LMDB exactly once per event.
TEST_F(WatchHubTest, SlowConsumerCaughtUpExactly) {
  HubOptions o;
  o.stream_queue_bytes = 16 * 1024;
  o.catchup_max_events = 50;
  MakeHub(o);
  TestStream s(hub_.get());
  hub_->Create(s.sid(), CreateReq("k", "l"));
  const int n = 2000;
  for (int i = 0; i < n; i++)
    Put(Cat("k", i % 7), std::string(200, 'v'));
  // Nobody read: the stream queue is bounded, the watcher went unsynced.
  EXPECT_EQ(hub_->UnsyncedCount(), 1u);
  EXPECT_TRUE(s.MustGet().created());
  int64_t last = 1;
  auto drain_until = [&](int64_t rev) {
    while (last < rev) {
      Response r = s.MustGet();
      ASSERT_GT(r.events_size(), 0) << r.ShortDebugString();
      for (const auto& ev : r.events()) {
        ASSERT_EQ(ev.kv().mod_revision(), last + 1);  // no loss, no dup, in order
        last = ev.kv().mod_revision();
      }
      // Keep writing while the watcher catches up.
      if (last % 500 == 0) Put("k", "during");
    }
  };
  drain_until(hub_->Rev());
  drain_until(hub_->Rev());
  Put("k9", "after");
  drain_until(hub_->Rev());
  EXPECT_EQ(last, hub_->Rev());
  EXPECT_TRUE(s.Idle());
}

TEST_F(WatchHubTest, RequestProgressOrderingAndDeferral) {
  HubOptions o;
  o.stream_queue_bytes = 4 * 1024;
  MakeHub(o);
  TestStream s(hub_.get());
  hub_->RequestProgress(s.sid());  // no watchers: nothing
  EXPECT_TRUE(s.Idle());
  hub_->Create(s.sid(), CreateReq("k"));
  Put("k", "1");
  hub_->RequestProgress(s.sid());
  EXPECT_TRUE(s.MustGet().created());
  Response r = s.MustGet();
  EXPECT_EQ(r.events_size(), 1);
  r = s.MustGet();  // after the event it covers
  EXPECT_EQ(r.watch_id(), -1);
  EXPECT_EQ(r.header().revision(), 2);
  EXPECT_EQ(r.events_size(), 0);
  EXPECT_FALSE(r.created() || r.canceled());

  // Unsynced watcher: the notification waits until it caught up.
  for (int i = 0; i < 200; i++)
    Put("k", std::string(100, 'x'));
  ASSERT_EQ(hub_->UnsyncedCount(), 1u);
  hub_->RequestProgress(s.sid());
  int64_t last_event = 0;
  for (;;) {
    r = s.MustGet();
    if (r.watch_id() == -1) break;
    for (const auto& ev : r.events())
      last_event = ev.kv().mod_revision();
  }
  EXPECT_EQ(last_event, hub_->Rev());
  EXPECT_EQ(r.header().revision(), hub_->Rev());
}

TEST_F(WatchHubTest, DeferredProgressReleasedByCancelingTheUnsyncedWatcher) {
  HubOptions o;
  o.stream_queue_bytes = 2 * 1024;
  MakeHub(o);
  TestStream s(hub_.get());
  hub_->Create(s.sid(), CreateReq("a"));  // 0: falls behind
  hub_->Create(s.sid(), CreateReq("b"));  // 1: stays synced (no events)
  for (int i = 0; i < 100; i++)
    Put("a", std::string(100, 'x'));
  ASSERT_EQ(hub_->UnsyncedCount(), 1u);
  hub_->RequestProgress(s.sid());
  hub_->Cancel(s.sid(), 0);
  // Drain: events of 0 already queued, its cancel, then the progress.
  Response r;
  bool canceled = false;
  for (;;) {
    r = s.MustGet();
    if (r.canceled()) canceled = true;
    if (r.watch_id() == -1) break;
  }
  EXPECT_TRUE(canceled);
  EXPECT_EQ(r.header().revision(), hub_->Rev());
  EXPECT_EQ(hub_->UnsyncedCount(), 0u);
  EXPECT_TRUE(s.Idle());
}

TEST_F(WatchHubTest, UnsyncedWatcherOvertakenByCompactionIsCanceled) {
  HubOptions o;
  o.stream_queue_bytes = 2 * 1024;
  MakeHub(o);
  TestStream s(hub_.get());
  hub_->Create(s.sid(), CreateReq("a"));
  for (int i = 0; i < 100; i++)
    Put("a", std::string(100, 'x'));  // revs 2..101
  ASSERT_EQ(hub_->UnsyncedCount(), 1u);
  Compact(90);  // history the watcher still needs is gone
  Response r;
  int64_t last = 1;
  for (;;) {
    r = s.MustGet();
    if (r.canceled()) break;
    for (const auto& ev : r.events()) {
      ASSERT_EQ(ev.kv().mod_revision(), last + 1);
      last = ev.kv().mod_revision();
    }
  }
  EXPECT_EQ(r.compact_revision(), 90);
  EXPECT_EQ(r.watch_id(), 0);
  EXPECT_LT(last, 90);
  EXPECT_EQ(hub_->WatcherCount(), 0u);
}

TEST_F(WatchHubTest, ProgressNotifyInterval) {
  HubOptions o;
  o.progress_notify_interval = std::chrono::milliseconds(100);
  MakeHub(o);
  TestStream s(hub_.get());
  auto req = CreateReq("k");
  req.set_progress_notify(true);
  hub_->Create(s.sid(), req);
  s.MustGet();
  Put("other", "x");
  Response r = s.MustGet();
  EXPECT_EQ(r.watch_id(), 0);
  EXPECT_EQ(r.events_size(), 0);
  EXPECT_GE(r.header().revision(), 2);
}

TEST_F(WatchHubTest, ResyncAfterUnpublishedCommits) {
  MakeHub();
  TestStream s(hub_.get());
  hub_->Create(s.sid(), CreateReq("k"));
  s.MustGet();
  Put("k", "1");  // 2, published
  EXPECT_EQ(s.MustGet().events(0).kv().mod_revision(), 2);
  Txn({{"k", "2"}}, false);  // 3, not published (e.g. a snapshot restore)
  hub_->Resync();
  Response r = s.MustGet();
  ASSERT_EQ(r.events_size(), 1);
  EXPECT_EQ(r.events(0).kv().mod_revision(), 3);
}

TEST_F(WatchHubTest, ResyncManyWatchersSharedCatchUp) {
  MakeHub();
  std::vector<std::unique_ptr<TestStream>> streams;
  for (int i = 0; i < 20; i++) {
    streams.push_back(std::make_unique<TestStream>(hub_.get()));
    for (int j = 0; j < 100; j++)
      hub_->Create(streams.back()->sid(), CreateReq("p/", "p0"));
    for (int j = 0; j < 100; j++)
      EXPECT_TRUE(streams.back()->MustGet().created());
  }
  for (int i = 0; i < 5; i++)
    Txn({{Cat("p/", i), "v"}}, /*publish=*/false);  // revs 2..6
  hub_->Resync();
  for (auto& st : streams) {
    std::map<int64_t, int64_t> last;  // watch id -> last revision
    size_t events = 0;
    while (events < 100u * 5) {
      Response r = st->MustGet();
      for (const auto& ev : r.events()) {
        ASSERT_EQ(ev.kv().mod_revision(), (last.count(r.watch_id()) ? last[r.watch_id()] : 1) + 1);
        last[r.watch_id()] = ev.kv().mod_revision();
        events++;
      }
    }
    EXPECT_TRUE(st->Idle());
  }
  EXPECT_EQ(hub_->UnsyncedCount(), 0u);
}

TEST_F(WatchHubTest, TenThousandWatchers) {
  MakeHub();
  constexpr int kStreams = 100, kPerStream = 100;
  std::vector<std::unique_ptr<TestStream>> streams;
  for (int i = 0; i < kStreams; i++) {
    streams.push_back(std::make_unique<TestStream>(hub_.get()));
    for (int j = 0; j < kPerStream; j++) {
      const std::string key = Cat("key", (i * kPerStream + j) % 500);
      // Half single-key watchers, half prefix watchers (Kubernetes style).
      if (j % 2 == 0) {
        hub_->Create(streams.back()->sid(), CreateReq(key));
      } else {
        hub_->Create(streams.back()->sid(), CreateReq("pre/", "pre0"));
      }
    }
  }
  EXPECT_EQ(hub_->WatcherCount(), 10000u);
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 200; i++) {
    Put(Cat("key", i), "v");
    Put(Cat("pre/", i), "v");
  }
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  std::printf("400 txns with 10k watchers (5k prefix): %lld ms\n", static_cast<long long>(ms));
  size_t events = 0;
  for (auto& st : streams) {
    Response r;
    while (hub_->Next(st->sid(), &r))
      events += r.events_size();
  }
  // 5000 prefix watchers x 200 puts, plus each key0..199 single watcher (10 each).
  EXPECT_EQ(events + 0u, 5000u * 200 + 200u * 10);
}

}  // namespace
}  // namespace etcdpp::watch::testing
