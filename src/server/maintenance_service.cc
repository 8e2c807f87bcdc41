#include "server/maintenance_service.h"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/log.h"
#include "server/alarms.h"
#include "server/status_map.h"
#include "server/version.h"

namespace etcdpp::server {
namespace {

constexpr char kSnapshotTmpPrefix[] = "maintenance-snapshot-";
constexpr size_t kSha256Bytes = 32;

// Streams one snapshot. A worker thread owns all disk I/O (the copy, then
// the chunk reads) and hands each message to gRPC, one write in flight at a
// time; gRPC threads only signal completions.
class SnapshotReactor final : public grpc::ServerWriteReactor<etcdserverpb::SnapshotResponse> {
 public:
  SnapshotReactor(EtcdServer* s, std::shared_ptr<InFlight> inflight)
      : s_(s), inflight_(std::move(inflight)) {
    inflight_->Add();
    worker_ = std::thread([this] { Run(); });
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard<std::mutex> lock(mu_);
    write_ok_ = ok;
    writing_ = false;
    cv_.notify_all();
  }
  void OnCancel() override {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_ = true;
    cv_.notify_all();
  }
  void OnDone() override {
    worker_.join();  // it called Finish as its last act
    delete this;
  }

 private:
  void Run() {
    auto inflight = inflight_;  // OnDone may delete this reactor once Finish is called
    Finish(Stream());
    inflight->Done();
  }

  grpc::Status Stream() {
    static std::atomic<uint64_t> seq{0};
    path_ = s_->SnapDir() + "/" + kSnapshotTmpPrefix + std::to_string(getpid()) + "-" +
            std::to_string(seq.fetch_add(1)) + ".tmp";
    struct Cleanup {
      const std::string& p;
      ~Cleanup() { ::unlink(p.c_str()); }
    } cleanup{path_};
    // A consistent point-in-time copy in one LMDB read txn: the applier goes
    // on writing meanwhile.
    if (Status st = s_->store()->SnapshotTo(path_); !st.ok()) {
      LOG_WARN("failed to take a database snapshot", {"error", st.ToString()});
      return ToGrpcStatus(st);
    }
    int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          std::string("snapshot: open: ") + std::strerror(errno));
    }
    struct CloseFd {
      int fd;
      ~CloseFd() { ::close(fd); }
    } close_fd{fd};
    struct stat st {};
    ::fstat(fd, &st);
    const uint64_t total = static_cast<uint64_t>(st.st_size);
    const auto start = std::chrono::steady_clock::now();
    LOG_INFO("sending database snapshot to client", {"total-bytes", static_cast<int64_t>(total)},
             {"storage-version", kStorageVersion});
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> sha(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    if (!sha || EVP_DigestInit_ex(sha.get(), EVP_sha256(), nullptr) != 1) {
      return grpc::Status(grpc::StatusCode::INTERNAL, "snapshot: sha256 init failed");
    }
    uint64_t sent = 0;
    std::string buf(kSnapshotChunkBytes, '\0');
    while (sent < total) {
      const size_t want =
          static_cast<size_t>(std::min<uint64_t>(kSnapshotChunkBytes, total - sent));
      size_t got = 0;
      while (got < want) {
        ssize_t n = ::read(fd, buf.data() + got, want - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
          return grpc::Status(grpc::StatusCode::UNAVAILABLE, "snapshot: short read");
        }
        got += static_cast<size_t>(n);
      }
      sent += got;
      EVP_DigestUpdate(sha.get(), buf.data(), got);
      msg_.Clear();
      msg_.set_remaining_bytes(total - sent);
      msg_.set_blob(buf.data(), got);
      msg_.set_version(kStorageVersion);
      if (!Write()) return grpc::Status(grpc::StatusCode::CANCELLED, "snapshot: client went away");
    }
    unsigned char digest[kSha256Bytes];
    unsigned int digest_len = 0;
    EVP_DigestFinal_ex(sha.get(), digest, &digest_len);
    LOG_INFO("sending database sha256 checksum to client",
             {"total-bytes", static_cast<int64_t>(total)},
             {"checksum-size", static_cast<int64_t>(kSha256Bytes)});
    msg_.Clear();
    msg_.set_remaining_bytes(0);
    msg_.set_blob(digest, kSha256Bytes);
    msg_.set_version(kStorageVersion);
    if (!Write()) return grpc::Status(grpc::StatusCode::CANCELLED, "snapshot: client went away");
    LOG_INFO("successfully sent database snapshot to client",
             {"total-bytes", static_cast<int64_t>(total)},
             {"took", std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                         std::chrono::steady_clock::now() - start)
                                         .count()) +
                          "ms"},
             {"storage-version", kStorageVersion});
    return grpc::Status::OK;
  }

  // Sends msg_ and waits for its completion (msg_ must stay alive until then).
  bool Write() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (cancelled_) return false;
      writing_ = true;
    }
    StartWrite(&msg_);
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return !writing_; });
    return write_ok_ && !cancelled_;
  }

  EtcdServer* s_;
  std::shared_ptr<InFlight> inflight_;
  std::string path_;
  etcdserverpb::SnapshotResponse msg_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool writing_ = false;    // guarded by mu_
  bool write_ok_ = true;    // guarded by mu_
  bool cancelled_ = false;  // guarded by mu_
  std::thread worker_;
};

// Runs a full scan of the store (Hash, HashKV) off the gRPC threads, which
// must never wait on disk. The thread's last act is Finish: the server's
// shutdown waits for that, so the EtcdServer outlives the work.
template <typename Fn>
void Offload(const std::shared_ptr<InFlight>& inflight, Fn fn) {
  inflight->Add();
  std::thread([inflight, fn = std::move(fn)]() mutable {
    fn();
    inflight->Done();
  }).detach();
}

void RemoveStaleSnapshotFiles(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.rfind(kSnapshotTmpPrefix, 0) == 0) ::unlink((dir + "/" + name).c_str());
  }
  ::closedir(d);
}

}  // namespace

MaintenanceService::MaintenanceService(EtcdServer* s) : s_(s) {
  RemoveStaleSnapshotFiles(s_->SnapDir());
}

grpc::ServerUnaryReactor* MaintenanceService::Status(grpc::CallbackServerContext* ctx,
                                                     const etcdserverpb::StatusRequest*,
                                                     etcdserverpb::StatusResponse* resp) {
  auto* reactor = ctx->DefaultReactor();
  s_->FillHeader(resp->mutable_header());
  resp->mutable_header()->set_revision(s_->store()->CurrentRev());
  // The server binary version clients gate features on (ETCD-FACTS §5.11).
  resp->set_version(kEtcdVersion);
  resp->set_dbsize(s_->store()->DbSizeBytes());
  resp->set_dbsizeinuse(s_->store()->DbSizeInUseBytes());
  resp->set_leader(s_->Leader());
  resp->set_raftindex(s_->CommitIndex());
  resp->set_raftterm(s_->Term());
  resp->set_raftappliedindex(s_->AppliedIndex());
  resp->set_islearner(s_->IsLearner());
  if (s_->Leader() == 0) resp->add_errors("etcdserver: no leader");
  for (const auto& a : s_->ActiveAlarms())
    resp->add_errors(AlarmString(a));
  resp->set_storageversion(kStorageVersion);
  resp->set_dbsizequota(s_->QuotaBytes());
  resp->mutable_downgradeinfo();  // always present, empty: no downgrade job
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* MaintenanceService::Alarm(grpc::CallbackServerContext* ctx,
                                                    const etcdserverpb::AlarmRequest* req,
                                                    etcdserverpb::AlarmResponse* resp) {
  auto* reactor = ctx->DefaultReactor();
  // Every action goes through raft (etcd: GET too), so a GET reflects every
  // alarm committed before it.
  internalpb::InternalRequest ir;
  *ir.mutable_alarm() = *req;
  s_->Propose(
      std::move(ir),
      [this, reactor, resp](const etcdpp::Status& st, internalpb::InternalResponse* r) {
        if (!st.ok()) {
          reactor->Finish(ToGrpcStatus(st));
          return;
        }
        resp->Swap(r->mutable_alarm());
        s_->FillHeader(resp->mutable_header());
        if (resp->header().revision() == 0) {
          resp->mutable_header()->set_revision(s_->store()->CurrentRev());
        }
        reactor->Finish(grpc::Status::OK);
      },
      ctx->deadline());
  return reactor;
}

grpc::ServerUnaryReactor* MaintenanceService::MoveLeader(grpc::CallbackServerContext* ctx,
                                                         const etcdserverpb::MoveLeaderRequest* req,
                                                         etcdserverpb::MoveLeaderResponse*) {
  auto* reactor = ctx->DefaultReactor();
  s_->MoveLeader(req->targetid(), [reactor](const etcdpp::Status& st) {
    if (!st.ok()) {
      reactor->Finish(ToGrpcStatus(st));
      return;
    }
    // etcd answers an empty message, no header (gateway: "{}").
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerWriteReactor<etcdserverpb::SnapshotResponse>* MaintenanceService::Snapshot(
    grpc::CallbackServerContext*, const etcdserverpb::SnapshotRequest*) {
  return new SnapshotReactor(s_, inflight_);
}

grpc::ServerUnaryReactor* MaintenanceService::Defragment(grpc::CallbackServerContext* ctx,
                                                         const etcdserverpb::DefragmentRequest*,
                                                         etcdserverpb::DefragmentResponse*) {
  auto* reactor = ctx->DefaultReactor();
  s_->Defragment([reactor](const etcdpp::Status& st) {
    if (!st.ok()) {
      reactor->Finish(ToGrpcStatus(st));
      return;
    }
    // etcd answers an empty message, no header (gateway: "{}").
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerUnaryReactor* MaintenanceService::Hash(grpc::CallbackServerContext* ctx,
                                                   const etcdserverpb::HashRequest*,
                                                   etcdserverpb::HashResponse* resp) {
  auto* reactor = ctx->DefaultReactor();
  Offload(inflight_, [s = s_, reactor, resp] {
    auto h = s->store()->Hash();
    if (!h.ok()) {
      reactor->Finish(ToGrpcStatus(h.status()));
      return;
    }
    s->FillHeader(resp->mutable_header());
    resp->mutable_header()->set_revision(h->rev);
    resp->set_hash(h->hash);
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerUnaryReactor* MaintenanceService::HashKV(grpc::CallbackServerContext* ctx,
                                                     const etcdserverpb::HashKVRequest* req,
                                                     etcdserverpb::HashKVResponse* resp) {
  auto* reactor = ctx->DefaultReactor();
  Offload(inflight_, [s = s_, reactor, rev = req->revision(), resp] {
    auto h = s->store()->HashKV(rev);
    if (!h.ok()) {
      reactor->Finish(ToGrpcStatus(h.status()));
      return;
    }
    s->FillHeader(resp->mutable_header());
    // etcd: header.revision is the store's current revision; hash_revision
    // the one hashed.
    resp->mutable_header()->set_revision(s->store()->CurrentRev());
    resp->set_hash(h->hash);
    resp->set_compact_revision(h->compact_rev);
    resp->set_hash_revision(h->hash_rev);
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

}  // namespace etcdpp::server
