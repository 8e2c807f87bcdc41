// EtcdServer: one etcdpp member. Owns the data dir, the WAL, the MVCC store,
// the raft loop, the applier and the gRPC listeners, wired as
// ARCHITECTURE.md §2 draws it:
//   gRPC handler -> Propose (encoded InternalRequest, request id)
//     -> raft loop: WAL append + one fdatasync per batch
//     -> applier: LMDB batch (+ consistent index) -> reply by request id.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "config/config.h"
#include "etcdpp/internal.pb.h"
#include "etcdserverpb/rpc.pb.h"
#include "mvcc/store.h"
#include "server/wait.h"
#include "wal/wal.h"

namespace etcdpp::server {

class Applier;
class RaftNode;
class Listeners;
class ReadPool;
class IdGenerator;

// What the gRPC services need from the member.
class EtcdServer {
 public:
  // Creates/opens the data dir, recovers (LMDB + WAL replay), starts raft,
  // the applier and the listeners. Returns once it is ready to serve.
  static Result<std::unique_ptr<EtcdServer>> Start(const config::ServerConfig& cfg);
  ~EtcdServer();

  // Graceful stop: stops accepting, finishes in-flight requests, stops the
  // raft loop and the applier (everything proposed is applied), closes the
  // WAL and the store. Idempotent.
  void Stop();

  // --- for the services ---
  // Proposes a write; cb runs once it is applied (or failed). Never blocks on disk.
  void Propose(internalpb::InternalRequest req, WaitRegistry::Callback cb);
  // Calls cb once a linearizable read may run (ReadIndex + wait for apply).
  void WaitLinearizable(std::function<void(const Status&)> cb);
  mvcc::Store* store() { return store_.get(); }
  void FillHeader(etcdserverpb::ResponseHeader* h) const;
  const config::ServerConfig& config() const { return cfg_; }

  uint64_t MemberId() const { return member_id_; }
  uint64_t ClusterId() const { return cluster_id_; }
  uint64_t Term() const;
  uint64_t CommitIndex() const;
  uint64_t AppliedIndex() const;
  // Actual bound client addresses ("127.0.0.1:2379"), after port 0 resolution.
  const std::vector<std::string>& ClientAddresses() const { return client_addrs_; }
  const std::vector<std::string>& PeerAddresses() const { return peer_addrs_; }

 private:
  explicit EtcdServer(const config::ServerConfig& cfg);
  Status Init();
  Status PrepareDirs();
  Status OpenStorage();
  Status StartServing();

  config::ServerConfig cfg_;
  std::string member_dir_, wal_dir_, snap_dir_;
  uint64_t member_id_ = 0;
  uint64_t cluster_id_ = 0;

  std::unique_ptr<mvcc::Store> store_;
  std::unique_ptr<wal::Wal> wal_;
  WaitRegistry wait_;
  std::unique_ptr<IdGenerator> ids_;
  std::unique_ptr<ReadPool> read_pool_;  // declared before applier_: outlives it
  std::unique_ptr<Applier> applier_;
  std::unique_ptr<RaftNode> raft_;
  std::unique_ptr<Listeners> listeners_;
  std::vector<std::string> client_addrs_, peer_addrs_;
  std::atomic<bool> stopped_{false};
};

}  // namespace etcdpp::server
