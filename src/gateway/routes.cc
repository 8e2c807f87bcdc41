#include "gateway/routes.h"

#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/dynamic_message.h>

#include <cstdio>
#include <cstdlib>

#include "etcdserverpb/rpc.pb.h"

namespace etcdpp::gateway {

namespace {

using google::protobuf::Descriptor;
using google::protobuf::DescriptorPool;
using google::protobuf::DescriptorProto;
using google::protobuf::FieldDescriptorProto;
using google::protobuf::FileDescriptorProto;

void AddField(DescriptorProto* m, const char* name, int number, FieldDescriptorProto::Type type,
              const char* type_name = nullptr) {
  FieldDescriptorProto* f = m->add_field();
  f->set_name(name);
  f->set_number(number);
  f->set_type(type);
  f->set_label(FieldDescriptorProto::LABEL_OPTIONAL);
  if (type_name) f->set_type_name(type_name);
}

void AddMethod(google::protobuf::ServiceDescriptorProto* s, const char* name, const char* in,
               const char* out, bool server_streaming = false) {
  auto* m = s->add_method();
  m->set_name(name);
  m->set_input_type(in);
  m->set_output_type(out);
  if (server_streaming) m->set_server_streaming(true);
}

constexpr auto kBytes = FieldDescriptorProto::TYPE_BYTES;
constexpr auto kInt64 = FieldDescriptorProto::TYPE_INT64;
constexpr auto kMessage = FieldDescriptorProto::TYPE_MESSAGE;
constexpr const char* kHeader = ".etcdserverpb.ResponseHeader";

FileDescriptorProto LockFile() {
  FileDescriptorProto f;
  f.set_name("etcdpp_gateway/v3lock.proto");
  f.set_package("v3lockpb");
  f.set_syntax("proto3");
  f.add_dependency(etcdserverpb::ResponseHeader::descriptor()->file()->name());
  auto* m = f.add_message_type();
  m->set_name("LockRequest");
  AddField(m, "name", 1, kBytes);
  AddField(m, "lease", 2, kInt64);
  m = f.add_message_type();
  m->set_name("LockResponse");
  AddField(m, "header", 1, kMessage, kHeader);
  AddField(m, "key", 2, kBytes);
  m = f.add_message_type();
  m->set_name("UnlockRequest");
  AddField(m, "key", 1, kBytes);
  m = f.add_message_type();
  m->set_name("UnlockResponse");
  AddField(m, "header", 1, kMessage, kHeader);
  auto* s = f.add_service();
  s->set_name("Lock");
  AddMethod(s, "Lock", ".v3lockpb.LockRequest", ".v3lockpb.LockResponse");
  AddMethod(s, "Unlock", ".v3lockpb.UnlockRequest", ".v3lockpb.UnlockResponse");
  return f;
}

FileDescriptorProto ElectionFile() {
  FileDescriptorProto f;
  f.set_name("etcdpp_gateway/v3election.proto");
  f.set_package("v3electionpb");
  f.set_syntax("proto3");
  f.add_dependency(etcdserverpb::ResponseHeader::descriptor()->file()->name());
  f.add_dependency(mvccpb::KeyValue::descriptor()->file()->name());
  auto* m = f.add_message_type();
  m->set_name("CampaignRequest");
  AddField(m, "name", 1, kBytes);
  AddField(m, "lease", 2, kInt64);
  AddField(m, "value", 3, kBytes);
  m = f.add_message_type();
  m->set_name("CampaignResponse");
  AddField(m, "header", 1, kMessage, kHeader);
  AddField(m, "leader", 2, kMessage, ".v3electionpb.LeaderKey");
  m = f.add_message_type();
  m->set_name("LeaderKey");
  AddField(m, "name", 1, kBytes);
  AddField(m, "key", 2, kBytes);
  AddField(m, "rev", 3, kInt64);
  AddField(m, "lease", 4, kInt64);
  m = f.add_message_type();
  m->set_name("LeaderRequest");
  AddField(m, "name", 1, kBytes);
  m = f.add_message_type();
  m->set_name("LeaderResponse");
  AddField(m, "header", 1, kMessage, kHeader);
  AddField(m, "kv", 2, kMessage, ".mvccpb.KeyValue");
  m = f.add_message_type();
  m->set_name("ResignRequest");
  AddField(m, "leader", 1, kMessage, ".v3electionpb.LeaderKey");
  m = f.add_message_type();
  m->set_name("ResignResponse");
  AddField(m, "header", 1, kMessage, kHeader);
  m = f.add_message_type();
  m->set_name("ProclaimRequest");
  AddField(m, "leader", 1, kMessage, ".v3electionpb.LeaderKey");
  AddField(m, "value", 2, kBytes);
  m = f.add_message_type();
  m->set_name("ProclaimResponse");
  AddField(m, "header", 1, kMessage, kHeader);
  auto* s = f.add_service();
  s->set_name("Election");
  AddMethod(s, "Campaign", ".v3electionpb.CampaignRequest", ".v3electionpb.CampaignResponse");
  AddMethod(s, "Proclaim", ".v3electionpb.ProclaimRequest", ".v3electionpb.ProclaimResponse");
  AddMethod(s, "Leader", ".v3electionpb.LeaderRequest", ".v3electionpb.LeaderResponse");
  AddMethod(s, "Observe", ".v3electionpb.LeaderRequest", ".v3electionpb.LeaderResponse",
            /*server_streaming=*/true);
  AddMethod(s, "Resign", ".v3electionpb.ResignRequest", ".v3electionpb.ResignResponse");
  return f;
}

// The generated pool underneath, plus the lock/election files when no
// generated code for them is linked in.
struct Pools {
  DescriptorPool pool{DescriptorPool::generated_pool()};
  google::protobuf::DynamicMessageFactory factory{&pool};

  Pools() {
    // Generated types stay generated classes (faster, and the same as the server's).
    factory.SetDelegateToGeneratedFactory(true);
    const DescriptorPool* gen = DescriptorPool::generated_pool();
    if (!gen->FindServiceByName("v3lockpb.Lock")) Build(LockFile());
    if (!gen->FindServiceByName("v3electionpb.Election")) Build(ElectionFile());
  }
  void Build(const FileDescriptorProto& f) {
    if (!pool.BuildFile(f)) {
      std::fprintf(stderr, "gateway: cannot describe %s\n", f.name().c_str());
      std::abort();  // a programming error in the descriptions above
    }
  }
};

Pools& GetPools() {
  static Pools* pools = new Pools();  // never destroyed: handlers may run during exit
  return *pools;
}

struct PathMethod {
  const char* path;
  const char* method;  // full method name "etcdserverpb.KV.Range"
};

// ETCD-FACTS.md §3's table, one row per path (aliases included).
constexpr PathMethod kTable[] = {
    {"/v3/kv/range", "etcdserverpb.KV.Range"},
    {"/v3/kv/put", "etcdserverpb.KV.Put"},
    {"/v3/kv/deleterange", "etcdserverpb.KV.DeleteRange"},
    {"/v3/kv/txn", "etcdserverpb.KV.Txn"},
    {"/v3/kv/compaction", "etcdserverpb.KV.Compact"},
    {"/v3/watch", "etcdserverpb.Watch.Watch"},
    {"/v3/lease/grant", "etcdserverpb.Lease.LeaseGrant"},
    {"/v3/lease/revoke", "etcdserverpb.Lease.LeaseRevoke"},
    {"/v3/kv/lease/revoke", "etcdserverpb.Lease.LeaseRevoke"},
    {"/v3/lease/keepalive", "etcdserverpb.Lease.LeaseKeepAlive"},
    {"/v3/lease/timetolive", "etcdserverpb.Lease.LeaseTimeToLive"},
    {"/v3/kv/lease/timetolive", "etcdserverpb.Lease.LeaseTimeToLive"},
    {"/v3/lease/leases", "etcdserverpb.Lease.LeaseLeases"},
    {"/v3/kv/lease/leases", "etcdserverpb.Lease.LeaseLeases"},
    {"/v3/cluster/member/add", "etcdserverpb.Cluster.MemberAdd"},
    {"/v3/cluster/member/remove", "etcdserverpb.Cluster.MemberRemove"},
    {"/v3/cluster/member/update", "etcdserverpb.Cluster.MemberUpdate"},
    {"/v3/cluster/member/list", "etcdserverpb.Cluster.MemberList"},
    {"/v3/cluster/member/promote", "etcdserverpb.Cluster.MemberPromote"},
    {"/v3/maintenance/alarm", "etcdserverpb.Maintenance.Alarm"},
    {"/v3/maintenance/status", "etcdserverpb.Maintenance.Status"},
    {"/v3/maintenance/defragment", "etcdserverpb.Maintenance.Defragment"},
    {"/v3/maintenance/hash", "etcdserverpb.Maintenance.Hash"},
    {"/v3/maintenance/hashkv", "etcdserverpb.Maintenance.HashKV"},
    {"/v3/maintenance/snapshot", "etcdserverpb.Maintenance.Snapshot"},
    {"/v3/maintenance/transfer-leadership", "etcdserverpb.Maintenance.MoveLeader"},
    {"/v3/maintenance/downgrade", "etcdserverpb.Maintenance.Downgrade"},
    {"/v3/auth/enable", "etcdserverpb.Auth.AuthEnable"},
    {"/v3/auth/disable", "etcdserverpb.Auth.AuthDisable"},
    {"/v3/auth/status", "etcdserverpb.Auth.AuthStatus"},
    {"/v3/auth/authenticate", "etcdserverpb.Auth.Authenticate"},
    {"/v3/auth/user/add", "etcdserverpb.Auth.UserAdd"},
    {"/v3/auth/user/get", "etcdserverpb.Auth.UserGet"},
    {"/v3/auth/user/list", "etcdserverpb.Auth.UserList"},
    {"/v3/auth/user/delete", "etcdserverpb.Auth.UserDelete"},
    {"/v3/auth/user/changepw", "etcdserverpb.Auth.UserChangePassword"},
    {"/v3/auth/user/grant", "etcdserverpb.Auth.UserGrantRole"},
    {"/v3/auth/user/revoke", "etcdserverpb.Auth.UserRevokeRole"},
    {"/v3/auth/role/add", "etcdserverpb.Auth.RoleAdd"},
    {"/v3/auth/role/get", "etcdserverpb.Auth.RoleGet"},
    {"/v3/auth/role/list", "etcdserverpb.Auth.RoleList"},
    {"/v3/auth/role/delete", "etcdserverpb.Auth.RoleDelete"},
    {"/v3/auth/role/grant", "etcdserverpb.Auth.RoleGrantPermission"},
    {"/v3/auth/role/revoke", "etcdserverpb.Auth.RoleRevokePermission"},
    {"/v3/lock/lock", "v3lockpb.Lock.Lock"},
    {"/v3/lock/unlock", "v3lockpb.Lock.Unlock"},
    {"/v3/election/campaign", "v3electionpb.Election.Campaign"},
    {"/v3/election/proclaim", "v3electionpb.Election.Proclaim"},
    {"/v3/election/leader", "v3electionpb.Election.Leader"},
    {"/v3/election/observe", "v3electionpb.Election.Observe"},
    {"/v3/election/resign", "v3electionpb.Election.Resign"},
};

std::vector<Route> BuildRoutes() {
  // Touch the generated file so the static library's registration is linked in.
  (void)etcdserverpb::RangeRequest::descriptor();
  Pools& pools = GetPools();
  std::vector<Route> routes;
  for (const auto& row : kTable) {
    const auto* m = pools.pool.FindMethodByName(row.method);
    if (!m) {
      std::fprintf(stderr, "gateway: no method %s\n", row.method);
      std::abort();  // the table and the .proto disagree: a programming error
    }
    Route r;
    r.path = row.path;
    r.grpc_method = "/" + m->service()->full_name() + "/" + m->name();
    r.request = m->input_type();
    r.response = m->output_type();
    r.kind = m->client_streaming()   ? CallKind::kBidiStream
             : m->server_streaming() ? CallKind::kServerStream
                                     : CallKind::kUnary;
    routes.push_back(std::move(r));
  }
  return routes;
}

}  // namespace

const std::vector<Route>& Routes() {
  static const std::vector<Route>* routes = new std::vector<Route>(BuildRoutes());
  return *routes;
}

std::unique_ptr<google::protobuf::Message> NewMessage(const Descriptor* type) {
  return std::unique_ptr<google::protobuf::Message>(GetPools().factory.GetPrototype(type)->New());
}

}  // namespace etcdpp::gateway
