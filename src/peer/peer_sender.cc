#include "peer/peer_sender.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/crc32c.h"
#include "common/log.h"
#include "etcdpp/peer.grpc.pb.h"
#include "peer/channel.h"
#include "raft/codec.h"

namespace etcdpp::peer {
namespace {

using Clock = std::chrono::steady_clock;

// An upper bound of the encoded size, cheap enough to compute under the queue lock (the
// codec's varints and tags take less than the fixed allowances here).
size_t EstimateEncodedBytes(const raft::Message& m) {
  size_t n = 96 + m.context.size();
  for (const auto& e : m.entries)
    n += 32 + e.data.size();
  return n;
}

}  // namespace

PeerSender::PeerSender(uint64_t id, std::vector<std::string> targets, Shared* shared)
    : id_(id), shared_(shared), targets_(std::move(targets)), thread_([this] { Run(); }) {}

PeerSender::~PeerSender() {
  Stop();
}

void PeerSender::Enqueue(raft::Message m) {
  std::lock_guard<std::mutex> lk(mu_);
  if (stopping_) return;
  if (state_ == State::kBackoff || queue_.size() >= shared_->opts.max_queued_messages) {
    ++sent_failures_;
    ReportUnreachableLocked();
    return;
  }
  queue_.push_back(std::move(m));
  cv_.notify_all();
}

void PeerSender::ReportUnreachableLocked() {
  auto now = Clock::now();
  if (now - last_unreachable_report_ < kUnreachableReportInterval) return;
  last_unreachable_report_ = now;
  Handler* h = shared_->handler;
  uint64_t id = id_;
  shared_->notifier.Post([h, id] { h->ReportUnreachable(id); });
}

void PeerSender::UpdateTargets(std::vector<std::string> targets) {
  std::lock_guard<std::mutex> lk(mu_);
  if (targets == targets_) return;
  targets_ = std::move(targets);
  ++targets_gen_;
  target_index_ = 0;
  interrupt_ = true;
  if (stream_ctx_ != nullptr) stream_ctx_->TryCancel();
  cv_.notify_all();
}

std::optional<Clock::time_point> PeerSender::ActiveSince() const {
  std::lock_guard<std::mutex> lk(mu_);
  if (!active_since_ || channel_ == nullptr) return std::nullopt;
  // An idle stream to a peer that died is only noticed at the next write; the channel's
  // connectivity (kept current by keepalive) tells earlier.
  if (channel_->GetState(false) != GRPC_CHANNEL_READY) return std::nullopt;
  return active_since_;
}

void PeerSender::Stop() {
  std::list<SnapshotJob> jobs;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (!stopping_) {
      stopping_ = true;
      interrupt_ = true;
      stop_flag_ = true;
      if (stream_ctx_ != nullptr) stream_ctx_->TryCancel();
      for (auto* ctx : snapshot_ctxs_)
        ctx->TryCancel();
      queue_.clear();
      cv_.notify_all();
    }
    jobs.swap(snapshot_jobs_);
  }
  if (thread_.joinable()) thread_.join();
  for (auto& j : jobs)
    j.thread.join();
}

void PeerSender::Run() {
  auto backoff = shared_->opts.backoff_min;
  for (;;) {
    std::string target;
    uint64_t gen = 0;
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (stopping_) return;
      // Messages queue again while we dial; they were dropped during the back-off.
      state_ = State::kConnecting;
      interrupt_ = false;
      gen = targets_gen_;
      if (!targets_.empty()) target = targets_[target_index_ % targets_.size()];
    }
    bool connected = false;
    size_t lost = 0;
    Status st = target.empty() ? Status::Unavailable("peer has no valid URL")
                               : RunStream(target, &connected, &lost);

    std::unique_lock<std::mutex> lk(mu_);
    if (stopping_) return;
    active_since_.reset();
    channel_.reset();
    bool retargeted = gen != targets_gen_;
    if (retargeted) {
      // UpdateTargets closed the stream on purpose: redial at once on the new URLs.
      backoff = shared_->opts.backoff_min;
      continue;
    }
    // Whatever is still queued would go to a connection that does not exist; raft
    // retransmits, so drop it (like the back-off drops) and tell raft.
    if (lost > 0 || !queue_.empty()) ReportUnreachableLocked();
    sent_failures_ += lost + queue_.size();
    queue_.clear();
    state_ = State::kBackoff;
    ++target_index_;
    bool rejected = st.Is(Code::kFailedPrecondition);
    if (connected && !rejected) backoff = shared_->opts.backoff_min;
    if (!failing_) {
      failing_ = true;
      LOG_WARN("peer became inactive (message send to peer failed)",
               {"local-member-id", IdToHex(shared_->opts.local_id)},
               {"remote-peer-id", IdToHex(id_)}, {"address", target}, {"error", st.ToString()});
    }
    if (rejected) {
      Handler* h = shared_->handler;
      uint64_t id = id_;
      shared_->notifier.Post([h, id, st] { h->ReportRejected(id, st); });
    }
    auto wait = backoff;
    backoff = std::min(backoff * 2, shared_->opts.backoff_max);
    cv_.wait_for(lk, wait, [&] { return stopping_ || gen != targets_gen_; });
  }
}

Status PeerSender::RunStream(const std::string& target, bool* connected, size_t* lost) {
  auto ch = MakePeerChannel(target, shared_->opts.max_message_bytes);
  uint64_t gen = 0;
  {
    std::lock_guard<std::mutex> lk(mu_);
    channel_ = ch;
    gen = targets_gen_;
  }
  if (!WaitForReady(ch.get(), Clock::now() + shared_->opts.dial_timeout, &interrupt_)) {
    return Status::Unavailable("cannot connect to " + target);
  }
  grpc::ClientContext ctx;
  AddCallMetadata(&ctx, shared_->opts.local_id, id_, shared_->cluster_id.load());
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (stopping_ || gen != targets_gen_) return Status(Code::kCancelled, "stopping");
    stream_ctx_ = &ctx;
  }
  struct Unregister {
    PeerSender* self;
    ~Unregister() {
      std::lock_guard<std::mutex> lk(self->mu_);
      self->stream_ctx_ = nullptr;
    }
  } unregister{this};

  peerpb::Peer::Stub stub(ch);
  auto stream = stub.Stream(&ctx);
  peerpb::StreamAck hello;
  if (!stream->Read(&hello)) {
    grpc::Status gs = stream->Finish();
    return gs.ok() ? Status::Unavailable("peer closed the stream") : FromGrpc(gs);
  }
  *connected = true;
  {
    std::lock_guard<std::mutex> lk(mu_);
    state_ = State::kActive;
    active_since_ = Clock::now();
    failing_ = false;
  }
  LOG_INFO("peer became active", {"local-member-id", IdToHex(shared_->opts.local_id)},
           {"remote-peer-id", IdToHex(id_)}, {"address", target});

  // The receiver sends nothing after the hello, so a Read that returns means the call ended
  // (refused at a batch, receiver stopped, connection lost). This reader notices it while we
  // are idle: the peer goes inactive at once instead of at the next write.
  {
    std::lock_guard<std::mutex> lk(mu_);
    stream_ended_ = false;
  }
  std::thread reader([this, &stream] {
    peerpb::StreamAck ignored;
    while (stream->Read(&ignored)) {
    }
    std::lock_guard<std::mutex> lk(mu_);
    stream_ended_ = true;
    cv_.notify_all();
  });
  bool local_close = false;
  std::vector<raft::Message> msgs;
  peerpb::MessageBatch batch;
  // Room for the batch's own framing; a limit below 4 KiB is treated as 4 KiB.
  const size_t limit = std::max<size_t>(shared_->opts.max_message_bytes, 4096) - 1024;
  for (;;) {
    bool ended = false;
    if (!NextBatch(gen, &msgs, &ended)) {
      local_close = !ended;
      break;
    }
    batch.clear_msgs();
    uint64_t batch_bytes = 0;
    for (const auto& m : msgs) {
      std::string enc = raft::EncodeMessage(m);
      if (enc.size() > limit) {
        LOG_WARN("dropped a raft message larger than the peer message limit",
                 {"remote-peer-id", IdToHex(id_)}, {"type", raft::MessageTypeName(m.type)},
                 {"size", enc.size()}, {"limit", limit});
        ++sent_failures_;
        std::lock_guard<std::mutex> lk(mu_);
        ReportUnreachableLocked();
        continue;
      }
      batch_bytes += enc.size();
      batch.add_msgs(std::move(enc));
    }
    if (batch.msgs_size() == 0) continue;
    if (!stream->Write(batch)) {
      *lost = static_cast<size_t>(batch.msgs_size());
      break;
    }
    sent_bytes_ += batch_bytes;
  }
  if (local_close) ctx.TryCancel();  // stopping or retargeted: no need to say goodbye
  reader.join();                     // returns once the call is over (it is, or cancelled)
  grpc::Status gs = stream->Finish();
  if (local_close) return Status(Code::kCancelled, "stream closed locally");
  return gs.ok() ? Status::Unavailable("peer closed the stream") : FromGrpc(gs);
}

bool PeerSender::NextBatch(uint64_t gen, std::vector<raft::Message>* out, bool* ended) {
  out->clear();
  std::unique_lock<std::mutex> lk(mu_);
  cv_.wait(lk,
           [&] { return stopping_ || gen != targets_gen_ || stream_ended_ || !queue_.empty(); });
  if (stopping_ || gen != targets_gen_) return false;
  if (stream_ended_) {
    *ended = true;
    return false;
  }
  size_t bytes = 0;
  // Always at least one message, so a single large one still goes (alone).
  while (!queue_.empty()) {
    size_t n = EstimateEncodedBytes(queue_.front());
    if (!out->empty() && bytes + n > kMaxBatchBytes) break;
    bytes += n;
    out->push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  return true;
}

// ---- Snapshots ----

void PeerSender::SendSnapshot(raft::Message m, std::string db_path) {
  std::lock_guard<std::mutex> lk(mu_);
  ReapSnapshotJobsLocked();
  if (stopping_) {
    ::unlink(db_path.c_str());
    Handler* h = shared_->handler;
    uint64_t id = id_;
    shared_->notifier.Post([h, id] { h->ReportSnapshot(id, false); });
    return;
  }
  auto done = std::make_shared<std::atomic<bool>>(false);
  snapshot_jobs_.push_back(
      SnapshotJob{std::thread([this, m = std::move(m), p = std::move(db_path), done]() mutable {
                    RunSnapshot(std::move(m), std::move(p), done);
                  }),
                  done});
}

void PeerSender::ReapSnapshotJobsLocked() {
  for (auto it = snapshot_jobs_.begin(); it != snapshot_jobs_.end();) {
    if (it->done->load()) {
      it->thread.join();  // done is its last action: this returns at once
      it = snapshot_jobs_.erase(it);
    } else {
      ++it;
    }
  }
}

void PeerSender::RunSnapshot(raft::Message m, std::string db_path,
                             std::shared_ptr<std::atomic<bool>> done) {
  auto start = Clock::now();
  Status st = DoSendSnapshot(m, db_path);
  ::unlink(db_path.c_str());  // ours either way (the contract of SendSnapshot)
  uint64_t index = m.snapshot ? m.snapshot->metadata.index : 0;
  if (st.ok()) {
    LOG_INFO(
        "sent database snapshot to peer", {"remote-peer-id", IdToHex(id_)},
        {"snapshot-index", index},
        {"took-ms",
         static_cast<int64_t>(
             std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count())});
  } else {
    LOG_WARN("failed to send database snapshot to peer", {"remote-peer-id", IdToHex(id_)},
             {"snapshot-index", index}, {"error", st.ToString()});
  }
  Handler* h = shared_->handler;
  uint64_t id = id_;
  bool ok = st.ok();
  if (!ok) ++sent_failures_;
  shared_->notifier.Post([h, id, ok] { h->ReportSnapshot(id, ok); });
  if (st.Is(Code::kFailedPrecondition)) {
    shared_->notifier.Post([h, id, st] { h->ReportRejected(id, st); });
  }
  done->store(true);
}

Status PeerSender::DoSendSnapshot(const raft::Message& m, const std::string& db_path) {
  if (m.type != raft::MessageType::kSnap || m.snapshot == nullptr) {
    return Status::InvalidArgument("SendSnapshot needs a kSnap message with a snapshot");
  }
  std::string target;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (targets_.empty()) return Status::Unavailable("peer has no valid URL");
    target = targets_[target_index_ % targets_.size()];
  }
  int fd = ::open(db_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::IOError("open " + db_path + ": " + std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};

  // The raft message carries the metadata only; the data is the file that follows.
  raft::Message head = m;
  if (!head.snapshot->data.empty()) {
    auto meta_only = std::make_shared<raft::Snapshot>();
    meta_only->metadata = m.snapshot->metadata;
    head.snapshot = std::move(meta_only);
  }

  // A connection of its own: a large snapshot does not hold up the message stream.
  auto ch = MakePeerChannel(target, shared_->opts.max_message_bytes);
  if (!WaitForReady(ch.get(), Clock::now() + shared_->opts.dial_timeout, &stop_flag_)) {
    return Status::Unavailable("cannot connect to " + target);
  }
  grpc::ClientContext ctx;
  AddCallMetadata(&ctx, shared_->opts.local_id, id_, shared_->cluster_id.load());
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (stopping_) return Status(Code::kCancelled, "stopping");
    snapshot_ctxs_.insert(&ctx);
  }
  struct Unregister {
    PeerSender* self;
    grpc::ClientContext* ctx;
    ~Unregister() {
      std::lock_guard<std::mutex> lk(self->mu_);
      self->snapshot_ctxs_.erase(ctx);
    }
  } unregister{this, &ctx};

  peerpb::Peer::Stub stub(ch);
  peerpb::SnapshotAck ack;
  auto writer = stub.Snapshot(&ctx, &ack);
  peerpb::SnapshotChunk chunk;
  chunk.set_message(raft::EncodeMessage(head));
  bool ok = writer->Write(chunk);
  Status read_error;
  uint64_t size = 0;
  uint32_t crc = 0;
  std::string buf(kSnapshotChunkBytes, '\0');
  while (ok) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      read_error = Status::IOError("read " + db_path + ": " + std::strerror(errno));
      ctx.TryCancel();  // the receiver must not keep a partial file
      break;
    }
    if (n == 0) break;
    crc = crc32c::Extend(crc, buf.data(), static_cast<size_t>(n));
    size += static_cast<uint64_t>(n);
    chunk.set_data(buf.data(), static_cast<size_t>(n));
    ok = writer->Write(chunk);
    if (ok) sent_bytes_ += static_cast<uint64_t>(n);
  }
  if (ok && read_error.ok()) {
    chunk.mutable_trailer()->set_size(size);
    chunk.mutable_trailer()->set_crc32c(crc);
    ok = writer->Write(chunk);
    if (ok) writer->WritesDone();
  }
  grpc::Status gs = writer->Finish();
  if (!read_error.ok()) return read_error;
  if (!gs.ok()) return FromGrpc(gs);
  if (!ok) return Status::Unavailable("snapshot stream broke");
  return Status::OK();
}

}  // namespace etcdpp::peer
