#include "conns.h"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace etcdpp::bench {

namespace {

std::vector<std::string> SplitComma(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    while (!item.empty() && item.front() == ' ')
      item.erase(item.begin());
    while (!item.empty() && item.back() == ' ')
      item.pop_back();
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

bool ReadFile(const std::string& path, std::string* out, std::string* error) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    *error = "cannot read " + path;
    return false;
  }
  std::ostringstream s;
  s << f.rdbuf();
  *out = s.str();
  return true;
}

std::chrono::system_clock::time_point After(double secs) {
  return std::chrono::system_clock::now() +
         std::chrono::microseconds(static_cast<int64_t>(secs * 1e6));
}

}  // namespace

std::string StatusText(const grpc::Status& s) {
  static const char* kNames[] = {
      "OK",       "Canceled",       "Unknown",          "InvalidArgument",   "DeadlineExceeded",
      "NotFound", "AlreadyExists",  "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
      "Aborted",  "OutOfRange",     "Unimplemented",    "Internal",          "Unavailable",
      "DataLoss", "Unauthenticated"};
  int code = s.error_code();
  std::string name = code >= 0 && code <= 16 ? kNames[code] : std::to_string(code);
  return "rpc error: code = " + name + " desc = " + s.error_message();
}

void GlobalOptions::Declare(FlagSet& flags) {
  flags.String("endpoints", "127.0.0.1:2379", "gRPC endpoints (comma-separated)");
  flags.Int("conns", 1, "Total number of gRPC connections");
  flags.Int("clients", 1, "Total number of gRPC clients");
  flags.Bool("target-leader", false, "connect only to the leader node");
  flags.Bool("json", false, "print one JSON object instead of the human summary");
  flags.String("output", "", "Output format for benchmark results (json, as etcd's --output)");
  flags.String("cacert", "", "verify certificates of TLS-enabled servers using this CA bundle");
  flags.String("cert", "", "identify secure client using this TLS certificate file");
  flags.String("key", "", "identify secure client using this TLS key file");
  flags.String("user", "", "username[:password] for authentication");
  flags.Double("dial-timeout", 10, "seconds to wait for each connection to become ready");
  flags.Double("request-timeout", 60,
               "seconds before one request is abandoned and counted as an error (0 = none)");
  // Accepted for compatibility with etcd's benchmark; they change nothing here.
  flags.Bool("precise", false, "(accepted for compatibility; output is always precise)");
  flags.Bool("sample", false, "(accepted for compatibility; ignored)");
}

bool GlobalOptions::Load(const FlagSet& flags, std::string* error) {
  endpoints = SplitComma(flags.GetString("endpoints"));
  conns = static_cast<int>(flags.GetInt("conns"));
  clients = static_cast<int>(flags.GetInt("clients"));
  target_leader = flags.GetBool("target-leader");
  json = flags.GetBool("json") || flags.GetString("output") == "json";
  cacert = flags.GetString("cacert");
  cert = flags.GetString("cert");
  key = flags.GetString("key");
  user = flags.GetString("user");
  dial_timeout_s = flags.GetDouble("dial-timeout");
  request_timeout_s = flags.GetDouble("request-timeout");
  if (endpoints.empty()) *error = "--endpoints is empty";
  if (conns < 1) *error = "--conns must be at least 1";
  if (clients < 1) *error = "--clients must be at least 1";
  return error->empty();
}

std::unique_ptr<Connections> Connections::Open(const GlobalOptions& opts, std::string* error) {
  auto c = std::make_unique<Connections>();
  c->request_timeout_s_ = opts.request_timeout_s;

  bool tls = !opts.cacert.empty() || !opts.cert.empty();
  std::shared_ptr<grpc::ChannelCredentials> creds = grpc::InsecureChannelCredentials();
  std::vector<std::string> targets;
  for (std::string ep : opts.endpoints) {
    if (ep.rfind("https://", 0) == 0) {
      tls = true;
      ep = ep.substr(8);
    } else if (ep.rfind("http://", 0) == 0) {
      ep = ep.substr(7);
    }
    while (!ep.empty() && ep.back() == '/')
      ep.pop_back();
    targets.push_back(ep);
  }
  if (tls) {
    grpc::SslCredentialsOptions ssl;
    if (!opts.cacert.empty() && !ReadFile(opts.cacert, &ssl.pem_root_certs, error)) return nullptr;
    if (!opts.cert.empty() && !ReadFile(opts.cert, &ssl.pem_cert_chain, error)) return nullptr;
    if (!opts.key.empty() && !ReadFile(opts.key, &ssl.pem_private_key, error)) return nullptr;
    creds = grpc::SslCredentials(ssl);
  }

  auto dial = [&](const std::string& target, int id) {
    grpc::ChannelArguments args;
    // Each connection must be its own TCP connection: gRPC would otherwise share one
    // subchannel between channels with equal arguments.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt("etcdpp.bench.connection", id);
    args.SetMaxReceiveMessageSize(-1);
    args.SetMaxSendMessageSize(-1);
    return grpc::CreateCustomChannel(target, creds, args);
  };

  if (opts.target_leader && targets.size() > 1) {
    // Ask each endpoint for its status: the leader is the one whose member id is the leader.
    std::string leader;
    for (const auto& t : targets) {
      auto ch = dial(t, -1);
      auto stub = etcdserverpb::Maintenance::NewStub(ch);
      grpc::ClientContext ctx;
      ctx.set_deadline(After(opts.dial_timeout_s));
      etcdserverpb::StatusRequest req;
      etcdserverpb::StatusResponse resp;
      if (stub->Status(&ctx, req, &resp).ok() && resp.leader() != 0 &&
          resp.leader() == resp.header().member_id()) {
        leader = t;
        break;
      }
    }
    if (leader.empty()) {
      *error = "--target-leader: no endpoint reports itself as the leader";
      return nullptr;
    }
    targets = {leader};
    std::fprintf(stderr, "etcdpp-bench: --target-leader: using %s\n", leader.c_str());
  }
  c->endpoints_ = targets;

  for (int i = 0; i < opts.conns; ++i) {
    auto ch = dial(targets[i % targets.size()], i);
    if (!ch->WaitForConnected(After(opts.dial_timeout_s))) {
      char secs[32];
      std::snprintf(secs, sizeof secs, "%.1f", opts.dial_timeout_s);
      *error = "cannot connect to " + targets[i % targets.size()] + " within " + secs + " s";
      return nullptr;
    }
    c->channels_.push_back(ch);
    c->kv_.push_back(etcdserverpb::KV::NewStub(ch));
    c->lease_.push_back(etcdserverpb::Lease::NewStub(ch));
    c->watch_.push_back(etcdserverpb::Watch::NewStub(ch));
    c->generic_.push_back(std::make_unique<grpc::GenericStub>(ch));
  }

  if (!opts.user.empty()) {
    auto colon = opts.user.find(':');
    etcdserverpb::AuthenticateRequest req;
    req.set_name(opts.user.substr(0, colon));
    if (colon != std::string::npos) req.set_password(opts.user.substr(colon + 1));
    etcdserverpb::AuthenticateResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(After(opts.dial_timeout_s));
    auto st = etcdserverpb::Auth::NewStub(c->channels_[0])->Authenticate(&ctx, req, &resp);
    if (!st.ok()) {
      *error = "authenticate: " + StatusText(st);
      return nullptr;
    }
    c->token_ = resp.token();
  }
  return c;
}

void Connections::PrepareStream(grpc::ClientContext* ctx) const {
  if (!token_.empty()) ctx->AddMetadata("token", token_);
}

void Connections::Prepare(grpc::ClientContext* ctx) const {
  PrepareStream(ctx);
  if (request_timeout_s_ > 0) ctx->set_deadline(After(request_timeout_s_));
}

}  // namespace etcdpp::bench
