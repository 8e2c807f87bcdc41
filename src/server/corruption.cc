#include "server/corruption.h"

#include <grpcpp/grpcpp.h>

#include <map>
#include <string>

#include "common/log.h"
#include "mvcc/store.h"
#include "peer/channel.h"
#include "server/ids.h"
#include "server/status_map.h"

namespace etcdpp::server {
namespace {

std::string Hex(uint64_t id) {
  return IdToHex(id);
}

// PeerMaintenance on the peer port: this member's HashKV for the others'
// corruption checks.
class PeerMaintenanceService final : public peerpb::PeerMaintenance::CallbackService {
 public:
  PeerMaintenanceService(uint64_t member_id, std::function<uint64_t()> cluster_id,
                         mvcc::Store* store)
      : member_id_(member_id), cluster_id_(std::move(cluster_id)), store_(store) {}

  grpc::ServerUnaryReactor* HashKV(grpc::CallbackServerContext* ctx,
                                   const etcdserverpb::HashKVRequest* req,
                                   etcdserverpb::HashKVResponse* resp) override {
    auto* reactor = ctx->DefaultReactor();
    const uint64_t local = cluster_id_();
    const auto& md = ctx->client_metadata();
    auto it = md.find(peer::kMetaClusterId);
    if (it != md.end() && local != 0) {
      auto theirs = peer::ParseHexId(std::string_view(it->second.data(), it->second.size()));
      if (theirs && *theirs != 0 && *theirs != local) {
        reactor->Finish(
            grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "etcdserver: cluster ID mismatch"));
        return reactor;
      }
    }
    // A full scan of the key table; rare (checks run every minute or so).
    auto h = store_->HashKV(req->revision());
    if (!h.ok()) {
      reactor->Finish(ToGrpcStatus(h.status()));
      return reactor;
    }
    auto* hdr = resp->mutable_header();
    hdr->set_cluster_id(local);
    hdr->set_member_id(member_id_);
    hdr->set_revision(store_->CurrentRev());
    resp->set_hash(h->hash);
    resp->set_compact_revision(h->compact_rev);
    resp->set_hash_revision(h->hash_rev);
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

 private:
  uint64_t member_id_;
  std::function<uint64_t()> cluster_id_;
  mvcc::Store* store_;
};

}  // namespace

int CountInitialMismatches(uint64_t local_id, const mvcc::HashKVResult& local,
                           const std::vector<PeerHash>& peers) {
  int mismatch = 0;
  for (const auto& p : peers) {
    if (p.resp) {
      if (p.resp->hash() == local.hash) continue;
      const bool same_compact = p.resp->compact_revision() == local.compact_rev;
      LOG_WARN(same_compact ? "found different hash values from remote peer"
                            : "found different compact revision values from remote peer",
               {"local-member-id", Hex(local_id)}, {"local-member-revision", local.hash_rev},
               {"local-member-compact-revision", local.compact_rev},
               {"local-member-hash", local.hash}, {"remote-peer-id", Hex(p.id)},
               {"remote-peer-revision", p.resp->header().revision()},
               {"remote-peer-compact-revision", p.resp->compact_revision()},
               {"remote-peer-hash", p.resp->hash()});
      if (same_compact) mismatch++;
      continue;
    }
    const std::string& msg = p.err.message();
    if (msg == mvcc::kErrFutureRev) {
      LOG_WARN("cannot fetch hash from slow remote peer", {"local-member-id", Hex(local_id)},
               {"local-member-revision", local.hash_rev}, {"remote-peer-id", Hex(p.id)},
               {"error", msg});
    } else if (msg == mvcc::kErrCompacted) {
      LOG_WARN("cannot fetch hash from remote peer; local member is behind",
               {"local-member-id", Hex(local_id)}, {"local-member-revision", local.hash_rev},
               {"remote-peer-id", Hex(p.id)}, {"error", msg});
    } else if (msg == "etcdserver: cluster ID mismatch") {
      LOG_WARN("cluster ID mismatch", {"local-member-id", Hex(local_id)},
               {"remote-peer-id", Hex(p.id)}, {"error", msg});
    } else {
      LOG_WARN("failed hash kv request", {"local-member-id", Hex(local_id)},
               {"remote-peer-id", Hex(p.id)}, {"error", p.err.ToString()});
    }
  }
  return mismatch;
}

std::vector<uint64_t> JudgePeriodic(uint64_t leader_id, const mvcc::HashKVResult& h,
                                    const mvcc::HashKVResult& h2, int64_t rev2,
                                    const std::vector<PeerHash>& peers) {
  std::vector<uint64_t> out;
  auto mismatch = [&](uint64_t id) {
    if (out.empty()) out.push_back(id);  // etcd raises one alarm per check
  };
  // The leader's own data changed under the same revision: it is the suspect.
  if (h2.hash != h.hash && h2.hash_rev == h.hash_rev && h.compact_rev == h2.compact_rev) {
    LOG_WARN("found hash mismatch", {"revision-1", h.hash_rev},
             {"compact-revision-1", h.compact_rev}, {"hash-1", h.hash}, {"revision-2", h2.hash_rev},
             {"compact-revision-2", h2.compact_rev}, {"hash-2", h2.hash});
    mismatch(leader_id);
  }
  int checked = 0;
  for (const auto& p : peers) {
    if (!p.resp) continue;
    checked++;
    const auto& r = *p.resp;
    const uint64_t id = r.header().member_id() != 0 ? r.header().member_id() : p.id;
    if (r.header().revision() > rev2) {
      LOG_WARN("revision from follower must be less than or equal to leader's",
               {"leader-revision", rev2}, {"follower-revision", r.header().revision()},
               {"follower-peer-id", Hex(id)});
      mismatch(id);
    }
    if (r.compact_revision() > h2.compact_rev) {
      LOG_WARN("compact revision from follower must be less than or equal to leader's",
               {"leader-compact-revision", h2.compact_rev},
               {"follower-compact-revision", r.compact_revision()}, {"follower-peer-id", Hex(id)});
      mismatch(id);
    }
    if (r.compact_revision() == h.compact_rev && r.hash() != h.hash) {
      LOG_WARN("same compact revision then hashes must match",
               {"leader-compact-revision", h2.compact_rev}, {"leader-hash", h.hash},
               {"follower-compact-revision", r.compact_revision()}, {"follower-hash", r.hash()},
               {"follower-peer-id", Hex(id)});
      mismatch(id);
    }
  }
  LOG_INFO("finished peer corruption check", {"number-of-peers-checked", checked});
  return out;
}

CompactJudgement JudgeCompact(uint64_t leader_id, const mvcc::HashKVResult& leader,
                              const std::vector<PeerHash>& peers) {
  CompactJudgement j;
  std::map<uint32_t, std::vector<uint64_t>> by_hash{{leader.hash, {leader_id}}};
  size_t checked = 0;
  for (const auto& p : peers) {
    std::string reason;
    if (!p.resp) {
      reason = "no response";
    } else if (p.resp->compact_revision() != leader.compact_rev) {
      reason = "the peer's CompactRevision " + std::to_string(p.resp->compact_revision()) +
               " doesn't match leader's CompactRevision " + std::to_string(leader.compact_rev);
    }
    if (!reason.empty()) {
      LOG_WARN("Skipped peer's hash", {"number-of-peers", static_cast<uint64_t>(peers.size())},
               {"leader-id", Hex(leader_id)}, {"peer-id", Hex(p.id)}, {"reason", reason});
      continue;
    }
    checked++;
    by_hash[p.resp->hash()].push_back(p.id);
  }
  if (by_hash.size() == 1) {
    j.checked_all = checked == peers.size();
    if (j.checked_all) {
      LOG_INFO("successfully checked hash on whole cluster",
               {"number-of-peers-checked", static_cast<uint64_t>(checked)},
               {"revision", leader.hash_rev}, {"compactRevision", leader.compact_rev});
    } else {
      LOG_WARN("skipped revision in compaction hash check; was not able to check all peers",
               {"number-of-peers-checked", static_cast<uint64_t>(checked)},
               {"number-of-peers", static_cast<uint64_t>(peers.size())},
               {"revision", leader.hash_rev});
    }
    return j;
  }
  // A mismatch: the majority's hash is taken as the truth.
  const size_t quorum = (peers.size() + 1) / 2 + 1;
  bool quorum_exists = false;
  for (auto it = by_hash.begin(); it != by_hash.end(); ++it) {
    if (it->second.size() >= quorum) {
      quorum_exists = true;
      by_hash.erase(it);
      break;
    }
  }
  if (!quorum_exists) {
    LOG_ERROR(
        "Detected compaction hash mismatch but cannot identify the corrupted members, so "
        "intentionally set the memberID as 0",
        {"leader-id", Hex(leader_id)}, {"compact-revision", leader.hash_rev});
    j.corrupt.push_back(0);
  }
  for (const auto& [hash, ids] : by_hash) {
    std::string list;
    for (uint64_t id : ids) {
      if (!list.empty()) list.push_back(',');
      list.append(Hex(id));
      if (quorum_exists) j.corrupt.push_back(id);
    }
    LOG_ERROR("Detected compaction hash mismatch", {"leader-id", Hex(leader_id)},
              {"leader-hash", leader.hash}, {"peer-hash", hash}, {"peer-ids", list},
              {"compact-revision", leader.hash_rev});
  }
  j.checked_all = true;
  return j;
}

CorruptionChecker::CorruptionChecker(Hooks hooks, Options opts)
    : hooks_(std::move(hooks)), opts_(opts) {
  service_ =
      std::make_unique<PeerMaintenanceService>(hooks_.member_id, hooks_.cluster_id, hooks_.store);
}

CorruptionChecker::~CorruptionChecker() {
  Stop();
}

grpc::Service* CorruptionChecker::service() {
  return service_.get();
}

std::vector<PeerHash> CorruptionChecker::PeerHashes(int64_t rev) {
  std::vector<PeerHash> out;
  for (const auto& [id, urls] : hooks_.peers()) {
    PeerHash ph;
    ph.id = id;
    ph.err = Status::Unavailable("no peer URL answered");
    for (const auto& url : urls) {
      auto target = peer::PeerUrlToTarget(url);
      if (!target.ok()) continue;
      auto ch = peer::MakePeerChannel(*target, 4 << 20);
      auto stub = peerpb::PeerMaintenance::NewStub(ch);
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + opts_.peer_timeout);
      peer::AddCallMetadata(&ctx, hooks_.member_id, id, hooks_.cluster_id());
      etcdserverpb::HashKVRequest req;
      req.set_revision(rev);
      etcdserverpb::HashKVResponse resp;
      grpc::Status st = stub->HashKV(&ctx, req, &resp);
      if (st.ok()) {
        ph.resp = std::move(resp);
        ph.err = Status::OK();
        break;
      }
      ph.err = peer::FromGrpc(st);
      // etcd's answers (compacted, future revision, cluster mismatch) are
      // final; only a transport failure tries the next URL.
      if (st.error_code() != grpc::StatusCode::UNAVAILABLE &&
          st.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED) {
        break;
      }
    }
    out.push_back(std::move(ph));
  }
  return out;
}

Status CorruptionChecker::InitialCheck() {
  if (!opts_.initial) return Status::OK();
  LOG_INFO("starting initial corruption check", {"local-member-id", Hex(hooks_.member_id)},
           {"timeout", std::to_string(opts_.peer_timeout.count()) + "ms"});
  auto h = hooks_.store->HashKV(0);
  if (!h.ok()) {
    return Status::Internal(Hex(hooks_.member_id) + " failed to fetch hash (" +
                            h.status().ToString() + ")");
  }
  auto peers = PeerHashes(h->hash_rev);
  if (CountInitialMismatches(hooks_.member_id, *h, peers) > 0) {
    LOG_ERROR("initial corruption check failed", {"local-member-id", Hex(hooks_.member_id)},
              {"local-member-hash", h->hash}, {"local-member-revision", h->hash_rev});
    return Status(Code::kDataLoss, Hex(hooks_.member_id) + " found data inconsistency with peers");
  }
  LOG_INFO("initial corruption checking passed; no corruption",
           {"local-member-id", Hex(hooks_.member_id)});
  return Status::OK();
}

void CorruptionChecker::PeriodicCheck() {
  if (!hooks_.is_leader()) return;
  auto h = hooks_.store->HashKV(0);
  if (!h.ok()) {
    LOG_WARN("failed to compute hash for the corruption check", {"error", h.status().ToString()});
    return;
  }
  auto peers = PeerHashes(h->hash_rev);
  if (Status st = hooks_.barrier(); !st.ok()) {
    LOG_WARN("corruption check: linearizable barrier failed", {"error", st.ToString()});
    return;
  }
  const int64_t rev2 = hooks_.store->CurrentRev();
  auto h2 = hooks_.store->HashKV(0);
  if (!h2.ok()) return;
  for (uint64_t id : JudgePeriodic(hooks_.member_id, *h, *h2, rev2, peers)) {
    hooks_.raise_corrupt(id);
  }
}

void CorruptionChecker::CompactHashCheck() {
  if (!hooks_.is_leader()) return;
  const int64_t compact = hooks_.store->CompactRev();
  if (compact <= latest_checked_rev_ || compact == 0) return;
  LOG_INFO("starting compact hash check", {"local-member-id", Hex(hooks_.member_id)},
           {"timeout", std::to_string(opts_.peer_timeout.count()) + "ms"});
  auto h = hooks_.store->HashKV(compact);
  if (!h.ok()) return;  // compacted again meanwhile: next round
  auto peers = PeerHashes(compact);
  if (peers.empty()) return;
  CompactJudgement j = JudgeCompact(hooks_.member_id, *h, peers);
  for (uint64_t id : j.corrupt)
    hooks_.raise_corrupt(id);
  if (j.checked_all) latest_checked_rev_ = compact;
  LOG_INFO("finished compaction hash check", {"number-of-hashes-checked", 1});
}

void CorruptionChecker::Start() {
  if (opts_.periodic.count() > 0) {
    LOG_INFO("enabled corruption checking", {"local-member-id", Hex(hooks_.member_id)},
             {"interval", std::to_string(opts_.periodic.count() / 1000000) + "ms"});
    threads_.emplace_back([this] { Loop(opts_.periodic, &CorruptionChecker::PeriodicCheck); });
  }
  if (opts_.compact) {
    LOG_INFO("enabled compact hash check", {"local-member-id", Hex(hooks_.member_id)},
             {"interval", std::to_string(opts_.compact_interval.count() / 1000000) + "ms"});
    threads_.emplace_back(
        [this] { Loop(opts_.compact_interval, &CorruptionChecker::CompactHashCheck); });
  }
}

void CorruptionChecker::Loop(std::chrono::nanoseconds every, void (CorruptionChecker::*check)()) {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (cv_.wait_for(lock, every, [&] { return stopping_; })) return;
    }
    (this->*check)();
  }
}

void CorruptionChecker::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
}

}  // namespace etcdpp::server
