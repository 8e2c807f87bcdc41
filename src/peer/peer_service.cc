#include "peer/peer_service.h"

#include <optional>
#include <string>

#include "common/log.h"
#include "peer/channel.h"
#include "peer/snapshot_file.h"
#include "raft/codec.h"

namespace etcdpp::peer {
namespace {

constexpr char kClusterIdMismatch[] = "etcdserver: cluster ID mismatch";
constexpr char kMemberRemoved[] = "the member has been permanently removed from the cluster";

grpc::Status ToGrpc(const Status& st) {
  if (st.ok()) return grpc::Status::OK;
  grpc::StatusCode code = grpc::StatusCode::INTERNAL;
  if (st.Is(Code::kCorruption)) {
    code = grpc::StatusCode::DATA_LOSS;
  } else if (static_cast<int>(st.code()) <= static_cast<int>(Code::kUnauthenticated)) {
    code = static_cast<grpc::StatusCode>(st.code());
  }
  return grpc::Status(code, st.message());
}

std::optional<uint64_t> MetadataId(grpc::ServerContext* ctx, const char* key) {
  const auto& md = ctx->client_metadata();
  auto it = md.find(key);
  if (it == md.end()) return std::nullopt;
  return ParseHexId(std::string_view(it->second.data(), it->second.size()));
}

}  // namespace

// Registers a call so Stop() can cancel it and wait for it; refused once stopping.
class PeerService::CallGuard {
 public:
  CallGuard(PeerService* s, grpc::ServerContext* ctx) : s_(s), ctx_(ctx) {
    std::lock_guard<std::mutex> lk(s_->mu_);
    entered_ = !s_->stopping_;
    if (entered_) s_->active_.insert(ctx_);
  }
  ~CallGuard() {
    if (!entered_) return;
    std::lock_guard<std::mutex> lk(s_->mu_);
    s_->active_.erase(ctx_);
    s_->cv_.notify_all();
  }
  bool entered() const { return entered_; }

 private:
  PeerService* s_;
  grpc::ServerContext* ctx_;
  bool entered_ = false;
};

void PeerService::Stop() {
  std::unique_lock<std::mutex> lk(mu_);
  stopping_ = true;
  for (auto* ctx : active_)
    ctx->TryCancel();
  cv_.wait(lk, [this] { return active_.empty(); });
}

grpc::Status PeerService::CheckMetadata(grpc::ServerContext* ctx, uint64_t* from) {
  auto f = MetadataId(ctx, kMetaFrom);
  auto t = MetadataId(ctx, kMetaTo);
  auto c = MetadataId(ctx, kMetaClusterId);
  if (!f || !t || !c) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "etcdpp peer call without valid etcdpp-from/-to/-cluster-id metadata");
  }
  *from = *f;
  const uint64_t local = shared_->opts.local_id;
  const uint64_t cluster = shared_->cluster_id.load();
  // 0 on either side: not known yet (a joiner before it learnt the cluster id).
  if (cluster != 0 && *c != 0 && *c != cluster) {
    LOG_WARN("request cluster ID mismatch", {"local-member-id", IdToHex(local)},
             {"local-member-cluster-id", IdToHex(cluster)}, {"remote-peer-id", IdToHex(*f)},
             {"remote-peer-cluster-id", IdToHex(*c)});
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, kClusterIdMismatch);
  }
  if (*t != local) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        "etcdserver: request addressed to member " + IdToHex(*t) +
                            ", this is member " + IdToHex(local));
  }
  if (shared_->handler->IsRemoved(*f)) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, kMemberRemoved);
  }
  return grpc::Status::OK;
}

grpc::Status PeerService::Stream(
    grpc::ServerContext* ctx,
    grpc::ServerReaderWriter<peerpb::StreamAck, peerpb::MessageBatch>* stream) {
  CallGuard guard(this, ctx);
  if (!guard.entered()) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "transport stopping");
  uint64_t from = 0;
  if (grpc::Status st = CheckMetadata(ctx, &from); !st.ok()) return st;
  // Tells the sender it was accepted (it then reports the peer active).
  if (!stream->Write(peerpb::StreamAck())) return grpc::Status::CANCELLED;

  const uint64_t local = shared_->opts.local_id;
  peerpb::MessageBatch batch;
  while (stream->Read(&batch)) {
    uint64_t bytes = 0;
    for (const std::string& enc : batch.msgs())
      bytes += enc.size();
    shared_->CountReceived(from, bytes, false);
    // Checked per batch too: a member removed while its stream is open learns it here.
    if (shared_->handler->IsRemoved(from)) {
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, kMemberRemoved);
    }
    for (const std::string& enc : batch.msgs()) {
      auto m = raft::DecodeMessage(enc);
      if (!m.ok()) {
        shared_->CountReceived(from, 0, true);
        LOG_WARN("failed to decode raft message from peer", {"local-member-id", IdToHex(local)},
                 {"remote-peer-id", IdToHex(from)}, {"error", m.status().ToString()});
        return grpc::Status(grpc::StatusCode::DATA_LOSS,
                            "corrupt raft message: " + m.status().message());
      }
      if (m->to != local) {
        return grpc::Status(
            grpc::StatusCode::INVALID_ARGUMENT,
            "raft message addressed to " + IdToHex(m->to) + " on the stream to " + IdToHex(local));
      }
      shared_->handler->Process(std::move(m).value());
    }
  }
  return grpc::Status::OK;
}

grpc::Status PeerService::Snapshot(grpc::ServerContext* ctx,
                                   grpc::ServerReader<peerpb::SnapshotChunk>* reader,
                                   peerpb::SnapshotAck* /*ack*/) {
  CallGuard guard(this, ctx);
  if (!guard.entered()) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "transport stopping");
  uint64_t from = 0;
  if (grpc::Status st = CheckMetadata(ctx, &from); !st.ok()) return st;
  grpc::Status st = ReceiveSnapshot(ctx, reader, from);
  shared_->CountReceived(from, 0, !st.ok());
  if (!st.ok()) {
    LOG_WARN("failed to receive database snapshot from peer",
             {"local-member-id", IdToHex(shared_->opts.local_id)},
             {"remote-peer-id", IdToHex(from)}, {"error", st.error_message()});
  }
  return st;
}

grpc::Status PeerService::ReceiveSnapshot(grpc::ServerContext* ctx,
                                          grpc::ServerReader<peerpb::SnapshotChunk>* reader,
                                          uint64_t from) {
  peerpb::SnapshotChunk chunk;
  if (!reader->Read(&chunk)) return grpc::Status::CANCELLED;
  if (chunk.part_case() != peerpb::SnapshotChunk::kMessage) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "snapshot stream must start with the raft message");
  }
  auto decoded = raft::DecodeMessage(chunk.message());
  if (!decoded.ok()) {
    return grpc::Status(grpc::StatusCode::DATA_LOSS,
                        "corrupt raft snapshot message: " + decoded.status().message());
  }
  raft::Message m = std::move(decoded).value();
  if (m.type != raft::MessageType::kSnap || m.snapshot == nullptr || m.snapshot->empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "snapshot stream must start with a kSnap message with metadata");
  }
  if (m.to != shared_->opts.local_id) {
    return grpc::Status(
        grpc::StatusCode::INVALID_ARGUMENT,
        "snapshot addressed to " + IdToHex(m.to) + ", this is " + IdToHex(shared_->opts.local_id));
  }
  const uint64_t index = m.snapshot->metadata.index;
  const uint64_t term = m.snapshot->metadata.term;
  {
    // Two senders (an old and a new leader) could send the same index at once; both would
    // write the same tmp file.
    std::lock_guard<std::mutex> lk(mu_);
    if (!receiving_indexes_.insert(index).second) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          "a snapshot at this index is being received already");
    }
  }
  struct Unregister {
    PeerService* s;
    uint64_t index;
    ~Unregister() {
      std::lock_guard<std::mutex> lk(s->mu_);
      s->receiving_indexes_.erase(index);
    }
  } unregister{this, index};

  auto writer = SnapshotFileWriter::Create(shared_->opts.snap_dir, term, index);
  if (!writer.ok()) return ToGrpc(writer.status());
  bool have_trailer = false;
  peerpb::SnapshotTrailer trailer;
  while (reader->Read(&chunk)) {
    if (chunk.part_case() == peerpb::SnapshotChunk::kData) {
      if (Status st = (*writer)->Append(chunk.data()); !st.ok()) return ToGrpc(st);
      shared_->CountReceived(from, chunk.data().size(), false);
    } else if (chunk.part_case() == peerpb::SnapshotChunk::kTrailer) {
      trailer = chunk.trailer();
      have_trailer = true;
      break;
    } else {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "unexpected snapshot chunk");
    }
  }
  if (!have_trailer) {
    // The writer's destructor removes the tmp file.
    if (ctx->IsCancelled()) return grpc::Status::CANCELLED;
    return grpc::Status(grpc::StatusCode::DATA_LOSS, "snapshot stream ended before its trailer");
  }
  if (reader->Read(&chunk)) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "data after the snapshot trailer");
  }
  auto path = (*writer)->Commit(trailer.size(), trailer.crc32c());
  if (!path.ok()) return ToGrpc(path.status());
  LOG_INFO("received and saved database snapshot",
           {"local-member-id", IdToHex(shared_->opts.local_id)},
           {"remote-snapshot-sender-id", IdToHex(from)}, {"incoming-snapshot-index", index},
           {"incoming-snapshot-size", trailer.size()}, {"path", *path});
  // The ack (our return) goes out only after the handler has the file: the sender's
  // ReportSnapshot(ok) then means the snapshot reached the receiver's raft loop.
  shared_->handler->ProcessSnapshot(std::move(m), std::move(path).value());
  return grpc::Status::OK;
}

grpc::Status PeerService::Members(grpc::ServerContext* ctx, const peerpb::MembersRequest*,
                                  peerpb::MembersResponse* resp) {
  CallGuard guard(this, ctx);
  if (!guard.entered()) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "transport stopping");
  shared_->handler->FillMembers(resp);
  return grpc::Status::OK;
}

}  // namespace etcdpp::peer
