#include "peer/transport.h"

#include <unistd.h>

#include <map>
#include <mutex>

#include <grpcpp/grpcpp.h>

#include "common/log.h"
#include "etcdpp/peer.grpc.pb.h"
#include "peer/channel.h"
#include "peer/peer_sender.h"
#include "peer/peer_service.h"
#include "peer/shared.h"

namespace etcdpp::peer {
namespace {

std::vector<std::string> ParseTargets(uint64_t id, const std::vector<std::string>& urls) {
  std::vector<std::string> targets;
  for (const auto& u : urls) {
    auto t = PeerUrlToTarget(u);
    if (!t.ok()) {
      LOG_WARN("ignoring invalid peer URL", {"remote-peer-id", IdToHex(id)}, {"url", u},
               {"error", t.status().ToString()});
      continue;
    }
    targets.push_back(std::move(t).value());
  }
  return targets;
}

}  // namespace

class Transport::Impl {
 public:
  Impl(Options opts, Handler* h) : shared_(std::move(opts), h), service_(&shared_) {}

  Shared shared_;
  PeerService service_;
  mutable std::mutex mu_;
  bool stopped_ = false;
  // shared_ptr: Send/ActiveSince use a sender outside mu_ while RemovePeer may drop it.
  std::map<uint64_t, std::shared_ptr<PeerSender>> peers_;

  std::shared_ptr<PeerSender> Find(uint64_t id) const {
    std::lock_guard<std::mutex> lk(mu_);
    auto it = peers_.find(id);
    return it == peers_.end() ? nullptr : it->second;
  }
};

Transport::Transport(Options opts, Handler* h)
    : impl_(std::make_unique<Impl>(std::move(opts), h)) {}

Transport::~Transport() {
  Stop();
}

grpc::Service* Transport::service() {
  return &impl_->service_;
}

void Transport::AddPeer(uint64_t id, std::vector<std::string> urls) {
  std::lock_guard<std::mutex> lk(impl_->mu_);
  if (impl_->stopped_ || id == impl_->shared_.opts.local_id) return;
  if (impl_->peers_.count(id) != 0) return;
  impl_->peers_[id] = std::make_shared<PeerSender>(id, ParseTargets(id, urls), &impl_->shared_);
}

void Transport::UpdatePeer(uint64_t id, std::vector<std::string> urls) {
  if (auto p = impl_->Find(id)) p->UpdateTargets(ParseTargets(id, urls));
}

void Transport::RemovePeer(uint64_t id) {
  std::shared_ptr<PeerSender> p;
  {
    std::lock_guard<std::mutex> lk(impl_->mu_);
    auto it = impl_->peers_.find(id);
    if (it == impl_->peers_.end()) return;
    p = std::move(it->second);
    impl_->peers_.erase(it);
  }
  p->Stop();  // outside mu_: joins threads
}

void Transport::SetClusterId(uint64_t cluster_id) {
  impl_->shared_.cluster_id = cluster_id;
}

void Transport::Send(std::vector<raft::Message> msgs) {
  // Consecutive messages usually go to the same peer: look it up once per run.
  std::shared_ptr<PeerSender> p;
  uint64_t p_id = raft::kNone;
  for (auto& m : msgs) {
    if (m.type == raft::MessageType::kSnap) {
      LOG_ERROR("kSnap given to Transport::Send (use SendSnapshot); dropped",
                {"remote-peer-id", IdToHex(m.to)});
      Handler* h = impl_->shared_.handler;
      uint64_t to = m.to;
      impl_->shared_.notifier.Post([h, to] { h->ReportSnapshot(to, false); });
      continue;
    }
    if (m.to != p_id || p == nullptr) {
      p_id = m.to;
      p = impl_->Find(m.to);
    }
    if (p != nullptr) p->Enqueue(std::move(m));  // unknown/removed peer: dropped silently
  }
}

void Transport::SendSnapshot(raft::Message m, std::string db_path) {
  uint64_t to = m.to;
  if (auto p = impl_->Find(to)) {
    p->SendSnapshot(std::move(m), std::move(db_path));
    return;
  }
  ::unlink(db_path.c_str());
  Handler* h = impl_->shared_.handler;
  impl_->shared_.notifier.Post([h, to] { h->ReportSnapshot(to, false); });
}

std::optional<std::chrono::steady_clock::time_point> Transport::ActiveSince(uint64_t id) const {
  auto p = impl_->Find(id);
  return p ? p->ActiveSince() : std::nullopt;
}

std::map<uint64_t, PeerCounters> Transport::Counters() const {
  std::map<uint64_t, PeerCounters> out;
  {
    std::lock_guard<std::mutex> lk(impl_->shared_.counters_mu);
    out = impl_->shared_.received;
  }
  std::lock_guard<std::mutex> lk(impl_->mu_);
  for (const auto& [id, p] : impl_->peers_) {
    auto& c = out[id];
    c.sent_bytes = p->sent_bytes();
    c.sent_failures = p->sent_failures();
    c.active = p->ActiveSince().has_value();
  }
  return out;
}

void Transport::Stop() {
  std::map<uint64_t, std::shared_ptr<PeerSender>> peers;
  {
    std::lock_guard<std::mutex> lk(impl_->mu_);
    if (impl_->stopped_) return;
    impl_->stopped_ = true;
    peers.swap(impl_->peers_);
  }
  // Cancel everything first so the joins below do not wait on each other's peers.
  for (auto& [id, p] : peers)
    p->Stop();
  impl_->service_.Stop();
  // Last: delivers what the senders posted, then no Handler call happens any more.
  impl_->shared_.notifier.Stop();
}

Result<peerpb::MembersResponse> FetchMembers(const std::vector<std::string>& peer_urls,
                                             std::chrono::milliseconds timeout) {
  std::string errors;
  for (const auto& url : peer_urls) {
    auto target = PeerUrlToTarget(url);
    Status st;
    if (!target.ok()) {
      st = target.status();
    } else {
      auto ch = MakePeerChannel(*target, Options{}.max_message_bytes);
      peerpb::Peer::Stub stub(ch);
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + timeout);
      // The joiner knows neither its id nor the cluster id yet; the call ignores them.
      AddCallMetadata(&ctx, 0, 0, 0);
      peerpb::MembersResponse resp;
      grpc::Status gs = stub.Members(&ctx, peerpb::MembersRequest(), &resp);
      if (gs.ok()) return resp;
      st = FromGrpc(gs);
    }
    if (!errors.empty()) errors += "; ";
    errors += url + ": " + st.ToString();
  }
  return Status::Unavailable("could not retrieve cluster information from the given URLs: " +
                             errors);
}

void ConfigurePeerServerBuilder(grpc::ServerBuilder& builder, size_t max_message_bytes) {
  // Accept the senders' keepalive pings (every kKeepaliveTimeMs, also on idle connections);
  // gRPC's defaults would answer them with GOAWAY "too_many_pings".
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                             kKeepaliveTimeMs / 2);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
  // Our own pings find senders that vanished, which frees their server threads.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, kKeepaliveTimeMs);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, kKeepaliveTimeoutMs);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  builder.SetMaxReceiveMessageSize(MessageLimitArg(max_message_bytes));
  builder.SetMaxSendMessageSize(MessageLimitArg(max_message_bytes));
}

}  // namespace etcdpp::peer
