// Transports talking over real loopback sockets.
#include <fstream>
#include <random>
#include <thread>

#include "common/crc32c.h"
#include "etcdpp/peer.grpc.pb.h"
#include "harness.h"
#include "peer/channel.h"
#include "proxy.h"
#include "raft/codec.h"

namespace etcdpp::peer::testing {
namespace {

using Clock = std::chrono::steady_clock;

bool WaitActive(Transport* t, uint64_t id, std::chrono::milliseconds timeout = kWait) {
  // ActiveSince has no notification: poll it (each check is a lock and a state read).
  auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (t->ActiveSince(id)) return true;
    std::this_thread::sleep_for(5ms);
  }
  return false;
}

bool WaitInactive(Transport* t, uint64_t id, std::chrono::milliseconds timeout = kWait) {
  auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (!t->ActiveSince(id)) return true;
    std::this_thread::sleep_for(5ms);
  }
  return false;
}

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s)
    c = static_cast<char>(rng());
  return s;
}

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream f(path, std::ios::binary);
  f.write(data.data(), static_cast<std::streamsize>(data.size()));
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

raft::Message SnapMsg(uint64_t from, uint64_t to, uint64_t term, uint64_t index) {
  raft::Message m;
  m.type = raft::MessageType::kSnap;
  m.from = from;
  m.to = to;
  m.term = term;
  auto s = std::make_shared<raft::Snapshot>();
  s->metadata.term = term;
  s->metadata.index = index;
  s->metadata.conf_state.voters = {1, 2};
  m.snapshot = std::move(s);
  return m;
}

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    out.push_back(e.path().filename().string());
  }
  return out;
}

TEST(TransportTest, Send_10kMessages_ArriveInOrderAcrossBatches) {
  Member a(1), b(2);
  a.opts.max_queued_messages = 20000;  // the test enqueues faster than loopback drains
  a.Serve();
  b.Serve();
  a.transport->AddPeer(2, {b.url()});
  ASSERT_TRUE(WaitActive(a.transport.get(), 2));

  constexpr uint64_t kCount = 10000;
  std::mt19937 rng(7);
  std::vector<raft::Message> chunk;
  for (uint64_t i = 0; i < kCount; ++i) {
    // Mostly small, a few MiB-sized ones to hit the 4 MiB batch bound.
    size_t bytes = i % 1000 == 999 ? (3u << 20) : rng() % 2048;
    chunk.push_back(App(1, 2, i, bytes));
    if (chunk.size() == 100) a.transport->Send(std::move(chunk)), chunk.clear();
  }
  a.transport->Send(std::move(chunk));
  ASSERT_TRUE(b.handler.WaitFor([&] { return b.handler.msgs.size() >= kCount; }))
      << "received " << b.handler.MsgCount();
  std::lock_guard<std::mutex> lk(b.handler.mu);
  ASSERT_EQ(b.handler.msgs.size(), kCount);
  for (uint64_t i = 0; i < kCount; ++i) {
    ASSERT_EQ(b.handler.msgs[i].index, i);
    ASSERT_EQ(b.handler.msgs[i].from, 1u);
    ASSERT_EQ(b.handler.msgs[i].to, 2u);
  }
  EXPECT_EQ(b.handler.msgs[999].entries.at(0).data.size(), 3u << 20);
  {
    std::lock_guard<std::mutex> lk2(a.handler.mu);
    EXPECT_EQ(a.handler.unreachable.count(2), 0u);
  }
  // The sender counts after its write returned, possibly after b already had everything.
  auto received = b.transport->Counters().at(1);
  auto sent = a.transport->Counters().at(2);
  for (auto deadline = Clock::now() + kWait;
       sent.sent_bytes != received.received_bytes && Clock::now() < deadline;) {
    std::this_thread::sleep_for(5ms);
    sent = a.transport->Counters().at(2);
  }
  EXPECT_TRUE(sent.active);
  EXPECT_EQ(sent.sent_failures, 0u);
  EXPECT_GT(sent.sent_bytes, 30u << 20);
  EXPECT_EQ(sent.sent_bytes, received.received_bytes);
  EXPECT_EQ(received.received_failures, 0u);
}

TEST(TransportTest, Send_BothDirectionsAndThreeMembers) {
  Member a(1), b(2), c(3);
  a.Serve();
  b.Serve();
  c.Serve();
  for (Member* m : {&a, &b, &c}) {
    for (Member* p : {&a, &b, &c}) {
      // The own id is ignored by AddPeer; AddPeer twice is a no-op.
      m->transport->AddPeer(p->opts.local_id, {p->url()});
      m->transport->AddPeer(p->opts.local_id, {p->url()});
    }
  }
  for (Member* m : {&a, &b, &c}) {
    std::vector<raft::Message> msgs;
    for (uint64_t to : {1, 2, 3}) {
      if (to == m->opts.local_id) continue;
      for (uint64_t i = 0; i < 50; ++i)
        msgs.push_back(App(m->opts.local_id, to, i));
    }
    m->transport->Send(std::move(msgs));
  }
  for (Member* m : {&a, &b, &c}) {
    ASSERT_TRUE(m->handler.WaitFor([&] { return m->handler.msgs.size() >= 100; }));
    std::lock_guard<std::mutex> lk(m->handler.mu);
    std::map<uint64_t, uint64_t> next;  // per sender, order kept
    for (const auto& msg : m->handler.msgs) {
      EXPECT_EQ(msg.index, next[msg.from]++);
      EXPECT_EQ(msg.to, m->opts.local_id);
    }
  }
}

TEST(TransportTest, DownPeer_SendNeverBlocks_ReportsUnreachable_ThenRecovers) {
  Member a(1), b(2), c(3);
  ReservedPort c_port;  // c is down: connections refused
  a.Serve();
  b.Serve();
  a.transport->AddPeer(2, {b.url()});
  a.transport->AddPeer(3, {c_port.url()});

  // While c is down: Send returns at once, b still gets its messages, c is reported.
  auto worst = Clock::duration::zero();
  for (uint64_t i = 0; i < 2000; ++i) {
    auto t0 = Clock::now();
    a.transport->Send({App(1, 3, i), App(1, 2, i)});
    worst = std::max(worst, Clock::now() - t0);
  }
  EXPECT_LT(worst, 200ms) << "Send blocked";
  ASSERT_TRUE(a.handler.WaitFor([&] { return a.handler.unreachable[3] > 0; }));
  ASSERT_TRUE(b.handler.WaitFor([&] { return b.handler.msgs.size() >= 2000; }));
  EXPECT_FALSE(a.transport->ActiveSince(3).has_value());
  {
    std::lock_guard<std::mutex> lk(a.handler.mu);
    EXPECT_EQ(a.handler.unreachable.count(2), 0u);
    // Rate-limited: far fewer reports than dropped messages.
    EXPECT_LT(a.handler.unreachable[3], 500);
  }

  // c comes up on its port: the sender's next dial succeeds.
  c.Create();
  c.Serve(c_port.port());
  c_port.Release();
  ASSERT_TRUE(WaitActive(a.transport.get(), 3));
  size_t before = c.handler.MsgCount();
  std::vector<raft::Message> msgs;
  for (uint64_t i = 10000; i < 10100; ++i)
    msgs.push_back(App(1, 3, i));
  a.transport->Send(std::move(msgs));
  ASSERT_TRUE(c.handler.WaitFor([&] { return c.handler.msgs.size() >= before + 100; }));
  std::lock_guard<std::mutex> lk(c.handler.mu);
  for (size_t i = 0; i < 100; ++i)
    EXPECT_EQ(c.handler.msgs[before + i].index, 10000 + i);
}

TEST(TransportTest, PeerRestart_ActiveSinceDropsAndStreamReconnects) {
  Member a(1), b(2);
  a.Serve();
  b.Serve();
  a.transport->AddPeer(2, {b.url()});
  ASSERT_TRUE(WaitActive(a.transport.get(), 2));
  auto first = *a.transport->ActiveSince(2);
  int port = b.port;

  b.Shutdown();
  // The stream's end is noticed without any write; the next message is then dropped.
  ASSERT_TRUE(WaitInactive(a.transport.get(), 2));
  a.transport->Send({App(1, 2, 0)});
  ASSERT_TRUE(a.handler.WaitFor([&] { return a.handler.unreachable[2] > 0; }));

  b.Create();
  b.Serve(port);
  ASSERT_TRUE(WaitActive(a.transport.get(), 2));
  EXPECT_GT(*a.transport->ActiveSince(2), first);
  a.transport->Send({App(1, 2, 42)});
  ASSERT_TRUE(b.handler.WaitFor([&] { return !b.handler.msgs.empty(); }));
}

TEST(TransportTest, ClusterIdMismatch_ReportedAsRejected) {
  Member a(1, 0xaaa), b(2, 0xbbb);
  a.Serve();
  b.Serve();
  a.transport->AddPeer(2, {b.url()});
  ASSERT_TRUE(a.handler.WaitFor([&] { return !a.handler.rejected.empty(); }));
  {
    std::lock_guard<std::mutex> lk(a.handler.mu);
    EXPECT_EQ(a.handler.rejected[0].first, 2u);
    EXPECT_TRUE(a.handler.rejected[0].second.Is(Code::kFailedPrecondition));
    EXPECT_EQ(a.handler.rejected[0].second.message(), "etcdserver: cluster ID mismatch");
  }
  EXPECT_FALSE(a.transport->ActiveSince(2).has_value());
  a.transport->Send({App(1, 2, 0)});

  // Once a learns the right cluster id, its next attempt is accepted.
  a.transport->SetClusterId(0xbbb);
  ASSERT_TRUE(WaitActive(a.transport.get(), 2));
  a.transport->Send({App(1, 2, 1)});
  ASSERT_TRUE(b.handler.WaitFor([&] { return !b.handler.msgs.empty(); }));
  std::lock_guard<std::mutex> lk(b.handler.mu);
  EXPECT_EQ(b.handler.msgs.back().index, 1u);
}

TEST(TransportTest, RemovedSender_ReportedAsRejected) {
  Member a(1), b(2);
  a.Serve();
  b.Serve();
  b.handler.removed.insert(1);
  a.transport->AddPeer(2, {b.url()});
  ASSERT_TRUE(a.handler.WaitFor([&] { return !a.handler.rejected.empty(); }));
  std::lock_guard<std::mutex> lk(a.handler.mu);
  EXPECT_TRUE(a.handler.rejected[0].second.Is(Code::kFailedPrecondition));
  EXPECT_EQ(a.handler.rejected[0].second.message(),
            "the member has been permanently removed from the cluster");
}

TEST(TransportTest, RemovedWhileStreaming_RefusedAtNextBatch) {
  Member a(1), b(2);
  a.Serve();
  b.Serve();
  a.transport->AddPeer(2, {b.url()});
  ASSERT_TRUE(WaitActive(a.transport.get(), 2));
  {
    std::lock_guard<std::mutex> lk(b.handler.mu);
    b.handler.removed.insert(1);
  }
  a.transport->Send({App(1, 2, 0)});
  ASSERT_TRUE(a.handler.WaitFor([&] { return !a.handler.rejected.empty(); }));
  EXPECT_TRUE(WaitInactive(a.transport.get(), 2));
  std::lock_guard<std::mutex> lk(a.handler.mu);
  EXPECT_EQ(a.handler.rejected[0].second.message(),
            "the member has been permanently removed from the cluster");
}

TEST(TransportTest, RemovedMember_StopsFromReportRejected) {
  Member a(1), b(2);
  a.Serve();
  b.Serve();
  b.handler.removed.insert(1);
  // What the server does when it learns it was removed: stop the transport, from the callback.
  a.handler.on_rejected = [&](uint64_t, const Status&) { a.transport->Stop(); };
  a.transport->AddPeer(2, {b.url()});
  ASSERT_TRUE(a.handler.WaitFor([&] { return !a.handler.rejected.empty(); }));
  a.transport->Send({App(1, 2, 0)});  // ignored after Stop
}

TEST(TransportTest, ReceiverWithoutClusterId_AcceptsAny) {
  Member a(1, 0xaaa), j(2, 0);  // j: a joiner that has not learnt the cluster id yet
  a.Serve();
  j.Serve();
  a.transport->AddPeer(2, {j.url()});
  a.transport->Send({App(1, 2, 0)});
  ASSERT_TRUE(j.handler.WaitFor([&] { return !j.handler.msgs.empty(); }));
}

TEST(TransportTest, WrongReceiverId_ReportedAsRejected) {
  Member a(1), b(2);
  a.Serve();
  b.Serve();
  a.transport->AddPeer(9, {b.url()});  // b's URL under a wrong id
  ASSERT_TRUE(a.handler.WaitFor([&] { return !a.handler.rejected.empty(); }));
  std::lock_guard<std::mutex> lk(a.handler.mu);
  EXPECT_EQ(a.handler.rejected[0].first, 9u);
  EXPECT_TRUE(a.handler.rejected[0].second.Is(Code::kFailedPrecondition));
  EXPECT_NE(a.handler.rejected[0].second.message().find("addressed to member 0000000000000009"),
            std::string::npos)
      << a.handler.rejected[0].second.message();
}

TEST(TransportTest, UpdatePeer_RedialsOnNewUrl_RemovePeerDropsSilently) {
  Member a(1), b(2);
  ReservedPort dead;
  a.Serve();
  b.Serve();
  a.transport->AddPeer(2, {dead.url()});
  a.transport->Send({App(1, 2, 0)});  // queued for the dial, or dropped in the back-off
  ASSERT_TRUE(a.handler.WaitFor([&] { return a.handler.unreachable[2] > 0; }));
  a.transport->UpdatePeer(2, {"not a url", b.url()});
  ASSERT_TRUE(WaitActive(a.transport.get(), 2));
  a.transport->Send({App(1, 2, 5)});
  ASSERT_TRUE(b.handler.WaitFor([&] { return !b.handler.msgs.empty(); }));

  a.transport->RemovePeer(2);
  a.transport->RemovePeer(2);
  EXPECT_FALSE(a.transport->ActiveSince(2).has_value());
  a.transport->Send({App(1, 2, 6), App(1, 7, 6)});  // removed and unknown: dropped
}

TEST(TransportTest, Snapshot_MultiMiB_ArrivesIdentical) {
  Member a(1), b(2);
  a.Serve();
  b.Serve();
  a.transport->AddPeer(2, {b.url()});
  std::string data = RandomBytes((5u << 20) + 12345, 1);
  std::string src = a.snap_dir + ".out.db";
  WriteFile(src, data);

  a.transport->SendSnapshot(SnapMsg(1, 2, 7, 0x1234), src);
  ASSERT_TRUE(a.handler.WaitFor([&] { return !a.handler.snap_reports.empty(); }));
  {
    std::lock_guard<std::mutex> lk(a.handler.mu);
    EXPECT_EQ(a.handler.snap_reports[0], std::make_pair(uint64_t{2}, true));
  }
  EXPECT_FALSE(std::filesystem::exists(src)) << "sender must delete the db file";
  std::lock_guard<std::mutex> lk(b.handler.mu);
  ASSERT_EQ(b.handler.snaps.size(), 1u);  // before the ack: ProcessSnapshot ran already
  const auto& [m, path] = b.handler.snaps[0];
  EXPECT_EQ(path, b.snap_dir + "/0000000000000007-0000000000001234.snap.db");
  EXPECT_EQ(m.type, raft::MessageType::kSnap);
  ASSERT_NE(m.snapshot, nullptr);
  EXPECT_EQ(m.snapshot->metadata.index, 0x1234u);
  EXPECT_EQ(m.snapshot->metadata.conf_state.voters, (std::vector<uint64_t>{1, 2}));
  EXPECT_TRUE(m.snapshot->data.empty());
  EXPECT_TRUE(ReadFile(path) == data);
  EXPECT_EQ(ListDir(b.snap_dir).size(), 1u);  // no tmp file left
}

TEST(TransportTest, Snapshot_ToDeadOrUnknownPeer_ReportsFailureAndDeletesFile) {
  Member a(1);
  ReservedPort dead;
  a.Serve();
  a.transport->AddPeer(2, {dead.url()});
  std::string src1 = a.snap_dir + ".1.db", src2 = a.snap_dir + ".2.db";
  WriteFile(src1, "abc");
  WriteFile(src2, "abc");
  a.transport->SendSnapshot(SnapMsg(1, 2, 1, 10), src1);
  a.transport->SendSnapshot(SnapMsg(1, 5, 1, 10), src2);  // unknown peer
  ASSERT_TRUE(a.handler.WaitFor([&] { return a.handler.snap_reports.size() >= 2; }));
  std::lock_guard<std::mutex> lk(a.handler.mu);
  for (const auto& [id, ok] : a.handler.snap_reports)
    EXPECT_FALSE(ok) << id;
  EXPECT_FALSE(std::filesystem::exists(src1));
  EXPECT_FALSE(std::filesystem::exists(src2));
}

// A hand-written sender, to feed the receiver broken snapshot streams.
grpc::Status RawSnapshot(const Member& to, const std::vector<peerpb::SnapshotChunk>& chunks) {
  auto ch = MakePeerChannel("127.0.0.1:" + std::to_string(to.port), 64 << 20);
  peerpb::Peer::Stub stub(ch);
  grpc::ClientContext ctx;
  AddCallMetadata(&ctx, 1, to.opts.local_id, to.opts.cluster_id);
  peerpb::SnapshotAck ack;
  auto w = stub.Snapshot(&ctx, &ack);
  for (const auto& c : chunks) {
    if (!w->Write(c)) break;
  }
  w->WritesDone();
  return w->Finish();
}

TEST(TransportTest, Snapshot_CorruptOrShortStream_RejectedAndNoFileLeft) {
  Member b(2);
  b.Serve();
  std::string data = RandomBytes(3u << 20, 2);
  peerpb::SnapshotChunk head, body, trailer;
  head.set_message(raft::EncodeMessage(SnapMsg(1, 2, 4, 99)));
  body.set_data(data);
  trailer.mutable_trailer()->set_size(data.size());
  trailer.mutable_trailer()->set_crc32c(crc32c::Value(data));

  // Bad checksum.
  peerpb::SnapshotChunk bad_trailer = trailer;
  bad_trailer.mutable_trailer()->set_crc32c(trailer.trailer().crc32c() ^ 1);
  grpc::Status st = RawSnapshot(b, {head, body, bad_trailer});
  EXPECT_EQ(st.error_code(), grpc::StatusCode::DATA_LOSS) << st.error_message();
  EXPECT_TRUE(ListDir(b.snap_dir).empty());

  // Short: the trailer promises more than was sent.
  peerpb::SnapshotChunk short_body;
  short_body.set_data(data.substr(0, data.size() - 1));
  st = RawSnapshot(b, {head, short_body, trailer});
  EXPECT_EQ(st.error_code(), grpc::StatusCode::DATA_LOSS) << st.error_message();
  EXPECT_TRUE(ListDir(b.snap_dir).empty());

  // Stream ends without a trailer.
  st = RawSnapshot(b, {head, body});
  EXPECT_EQ(st.error_code(), grpc::StatusCode::DATA_LOSS) << st.error_message();
  EXPECT_TRUE(ListDir(b.snap_dir).empty());

  // No raft message first; a corrupt raft message.
  st = RawSnapshot(b, {body, trailer});
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
  peerpb::SnapshotChunk garbage;
  garbage.set_message("\xff\x01garbage");
  st = RawSnapshot(b, {garbage, body, trailer});
  EXPECT_EQ(st.error_code(), grpc::StatusCode::DATA_LOSS) << st.error_message();
  EXPECT_TRUE(ListDir(b.snap_dir).empty());

  // The good stream still works after all that.
  st = RawSnapshot(b, {head, body, trailer});
  EXPECT_TRUE(st.ok()) << st.error_message();
  std::lock_guard<std::mutex> lk(b.handler.mu);
  ASSERT_EQ(b.handler.snaps.size(), 1u);
  EXPECT_TRUE(ReadFile(b.handler.snaps[0].second) == data);
}

TEST(TransportTest, Stream_CorruptMessage_FailsStream) {
  Member b(2);
  b.Serve();
  auto ch = MakePeerChannel("127.0.0.1:" + std::to_string(b.port), 64 << 20);
  peerpb::Peer::Stub stub(ch);
  grpc::ClientContext ctx;
  AddCallMetadata(&ctx, 1, 2, b.opts.cluster_id);
  auto s = stub.Stream(&ctx);
  peerpb::StreamAck hello;
  ASSERT_TRUE(s->Read(&hello));
  peerpb::MessageBatch batch;
  batch.add_msgs(raft::EncodeMessage(App(1, 2, 0)));
  batch.add_msgs("\x01\x02 not a message");
  s->Write(batch);
  s->WritesDone();
  grpc::Status st = s->Finish();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::DATA_LOSS) << st.error_message();
  EXPECT_EQ(b.handler.MsgCount(), 1u);  // the good one before it was delivered
}

TEST(TransportTest, FetchMembers_FirstLiveUrlAnswers_DeadUrlsFailCleanly) {
  Member b(2, 0xc1);
  b.handler.members.set_cluster_id(0xc1);
  auto* mem = b.handler.members.add_members();
  mem->set_id(2);
  mem->set_name("b");
  mem->add_peerurls("http://127.0.0.1:1");
  b.Serve();
  ReservedPort dead;
  BlackholeListener hole;

  auto r = FetchMembers({dead.url(), "bogus://x", hole.url(), b.url()}, 500ms);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->cluster_id(), 0xc1u);
  ASSERT_EQ(r->members_size(), 1);
  EXPECT_EQ(r->members(0).name(), "b");

  auto t0 = Clock::now();
  auto bad = FetchMembers({dead.url(), hole.url()}, 300ms);
  EXPECT_LT(Clock::now() - t0, 10s);
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(bad.status().Is(Code::kUnavailable));
  EXPECT_NE(bad.status().message().find("could not retrieve cluster information"),
            std::string::npos);
}

TEST(TransportTest, Stop_IsPromptWithBlackholedAndDeadPeers) {
  BlackholeListener hole;
  ReservedPort dead;
  Member a(1), b(2);
  a.opts.dial_timeout = 5s;  // Stop must not wait for it
  a.Serve();
  b.Serve();
  a.transport->AddPeer(2, {b.url()});
  a.transport->AddPeer(3, {hole.url()});
  a.transport->AddPeer(4, {dead.url()});
  ASSERT_TRUE(WaitActive(a.transport.get(), 2));
  // b also has an incoming stream from a; make b stream to the blackhole too.
  b.transport->AddPeer(3, {hole.url()});
  for (uint64_t i = 0; i < 100; ++i)
    a.transport->Send({App(1, 2, i), App(1, 3, i), App(1, 4, i)});
  std::string src = a.snap_dir + ".db";
  WriteFile(src, RandomBytes(1 << 20, 3));
  a.transport->SendSnapshot(SnapMsg(1, 3, 1, 5), src);

  auto t0 = Clock::now();
  a.transport->Stop();
  b.transport->Stop();
  EXPECT_LT(Clock::now() - t0, 2s);
  a.transport->Stop();  // idempotent
  // After Stop: calls are ignored, nothing is delivered.
  a.transport->Send({App(1, 2, 1000)});
  a.transport->AddPeer(5, {b.url()});
  EXPECT_FALSE(a.transport->ActiveSince(2).has_value());
}

// The path to b goes dark mid-stream (no RST, no FIN): keepalive must notice, Send must
// keep returning at once, the peer must come back when the path does, and Stop must be
// prompt even with a write stuck on HTTP/2 flow control.
TEST(TransportTest, Blackhole_MidStream_DetectedByKeepalive_StopPrompt) {
  Member a(1), b(2);
  a.Serve();
  b.Serve();
  FreezableProxy proxy(b.port);
  a.transport->AddPeer(2, {proxy.url()});
  ASSERT_TRUE(WaitActive(a.transport.get(), 2));
  a.transport->Send({App(1, 2, 0)});
  ASSERT_TRUE(b.handler.WaitFor([&] { return b.handler.msgs.size() == 1; }));

  proxy.Freeze();
  a.transport->Send({App(1, 2, 1)});  // written into the void
  // Keepalive: a ping every 1 s, 2 s to answer; generous for a busy machine.
  ASSERT_TRUE(WaitInactive(a.transport.get(), 2, 15s));
  auto worst = Clock::duration::zero();
  for (uint64_t i = 2; i < 3000; ++i) {
    auto t0 = Clock::now();
    a.transport->Send({App(1, 2, i, 1024)});
    worst = std::max(worst, Clock::now() - t0);
  }
  EXPECT_LT(worst, 200ms) << "Send blocked";
  ASSERT_TRUE(a.handler.WaitFor([&] { return a.handler.unreachable[2] > 0; }));

  proxy.Thaw();
  ASSERT_TRUE(WaitActive(a.transport.get(), 2));
  // Delivery resumes: 5000 arrives (messages still queued from before the
  // reconnect may arrive ahead of it; raft tolerates both loss and delay).
  a.transport->Send({App(1, 2, 5000)});
  ASSERT_TRUE(b.handler.WaitFor(
      [&] { return !b.handler.msgs.empty() && b.handler.msgs.back().index == 5000u; }));

  // Dark again, with far more bytes in flight than the socket buffers hold: the writer is
  // stuck in an endpoint write that cancelling the call does not abort (gRPC completes it
  // only when the connection dies), so Stop is bounded by the keepalive timeout here.
  proxy.Freeze();
  for (uint64_t i = 0; i < 64; ++i) {
    a.transport->Send({App(1, 2, 6000 + i, 1 << 20)});
  }
  auto t0 = Clock::now();
  a.transport->Stop();
  b.transport->Stop();
  auto bound = std::chrono::milliseconds(kKeepaliveTimeMs + kKeepaliveTimeoutMs) + 2s;
  EXPECT_LT(Clock::now() - t0, bound);
}

}  // namespace
}  // namespace etcdpp::peer::testing
