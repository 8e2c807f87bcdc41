// The wire contract: full gRPC method paths, streaming kinds and the field
// numbers clients depend on (ETCD-FACTS.md §1-§2), read from the compiled
// descriptors, so a typo or renumbering in proto/ fails here.
#include <google/protobuf/descriptor.h>
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "authpb/auth.pb.h"
#include "etcdserverpb/rpc.grpc.pb.h"
#include "mvccpb/kv.pb.h"

namespace {

using google::protobuf::DescriptorPool;

// Static libraries link an object file only when a symbol of it is used: touch
// one message of each proto file so its descriptors register in the pool.
const DescriptorPool* Pool() {
  (void)etcdserverpb::ResponseHeader::descriptor();
  (void)mvccpb::KeyValue::descriptor();
  (void)authpb::Role::descriptor();
  return DescriptorPool::generated_pool();
}

// kind: U unary, S server stream, B bidirectional.
const std::map<std::string, char>& ExpectedMethods() {
  static const std::map<std::string, char> m = {
      {"/etcdserverpb.KV/Range", 'U'},
      {"/etcdserverpb.KV/Put", 'U'},
      {"/etcdserverpb.KV/DeleteRange", 'U'},
      {"/etcdserverpb.KV/Txn", 'U'},
      {"/etcdserverpb.KV/Compact", 'U'},
      {"/etcdserverpb.KV/RangeStream", 'S'},  // etcd 3.7, served ahead of 3.6
      {"/etcdserverpb.Watch/Watch", 'B'},
      {"/etcdserverpb.Lease/LeaseGrant", 'U'},
      {"/etcdserverpb.Lease/LeaseRevoke", 'U'},
      {"/etcdserverpb.Lease/LeaseKeepAlive", 'B'},
      {"/etcdserverpb.Lease/LeaseTimeToLive", 'U'},
      {"/etcdserverpb.Lease/LeaseLeases", 'U'},
      {"/etcdserverpb.Cluster/MemberAdd", 'U'},
      {"/etcdserverpb.Cluster/MemberRemove", 'U'},
      {"/etcdserverpb.Cluster/MemberUpdate", 'U'},
      {"/etcdserverpb.Cluster/MemberList", 'U'},
      {"/etcdserverpb.Cluster/MemberPromote", 'U'},
      {"/etcdserverpb.Maintenance/Alarm", 'U'},
      {"/etcdserverpb.Maintenance/Status", 'U'},
      {"/etcdserverpb.Maintenance/Defragment", 'U'},
      {"/etcdserverpb.Maintenance/Hash", 'U'},
      {"/etcdserverpb.Maintenance/HashKV", 'U'},
      {"/etcdserverpb.Maintenance/Snapshot", 'S'},
      {"/etcdserverpb.Maintenance/MoveLeader", 'U'},
      {"/etcdserverpb.Maintenance/Downgrade", 'U'},
      {"/etcdserverpb.Auth/AuthEnable", 'U'},
      {"/etcdserverpb.Auth/AuthDisable", 'U'},
      {"/etcdserverpb.Auth/AuthStatus", 'U'},
      {"/etcdserverpb.Auth/Authenticate", 'U'},
      {"/etcdserverpb.Auth/UserAdd", 'U'},
      {"/etcdserverpb.Auth/UserGet", 'U'},
      {"/etcdserverpb.Auth/UserList", 'U'},
      {"/etcdserverpb.Auth/UserDelete", 'U'},
      {"/etcdserverpb.Auth/UserChangePassword", 'U'},
      {"/etcdserverpb.Auth/UserGrantRole", 'U'},
      {"/etcdserverpb.Auth/UserRevokeRole", 'U'},
      {"/etcdserverpb.Auth/RoleAdd", 'U'},
      {"/etcdserverpb.Auth/RoleGet", 'U'},
      {"/etcdserverpb.Auth/RoleList", 'U'},
      {"/etcdserverpb.Auth/RoleDelete", 'U'},
      {"/etcdserverpb.Auth/RoleGrantPermission", 'U'},
      {"/etcdserverpb.Auth/RoleRevokePermission", 'U'},
  };
  return m;
}

TEST(Proto, EveryEtcdMethodPathAndStreamingKind) {
  const auto* pool = Pool();
  std::map<std::string, char> found;
  for (const char* svc : {"KV", "Watch", "Lease", "Cluster", "Maintenance", "Auth"}) {
    const auto* sd = pool->FindServiceByName(std::string("etcdserverpb.") + svc);
    ASSERT_NE(sd, nullptr) << svc;
    for (int i = 0; i < sd->method_count(); ++i) {
      const auto* md = sd->method(i);
      char kind = md->client_streaming() ? 'B' : (md->server_streaming() ? 'S' : 'U');
      if (md->client_streaming()) {
        EXPECT_TRUE(md->server_streaming()) << md->full_name();
      }
      found["/" + sd->full_name() + "/" + md->name()] = kind;
    }
  }
  EXPECT_EQ(found, ExpectedMethods());
}

TEST(Proto, RequestAndResponseMessageNames) {
  const auto* pool = Pool();
  const auto* kv = pool->FindServiceByName("etcdserverpb.KV");
  ASSERT_NE(kv, nullptr);
  EXPECT_EQ(kv->FindMethodByName("Compact")->input_type()->full_name(),
            "etcdserverpb.CompactionRequest");
  const auto* auth = pool->FindServiceByName("etcdserverpb.Auth");
  EXPECT_EQ(auth->FindMethodByName("UserAdd")->input_type()->full_name(),
            "etcdserverpb.AuthUserAddRequest");
  EXPECT_EQ(auth->FindMethodByName("RoleGrantPermission")->output_type()->full_name(),
            "etcdserverpb.AuthRoleGrantPermissionResponse");
}

struct FieldFact {
  const char* message;
  const char* field;
  int number;
};

TEST(Proto, FieldNumbersClientsDependOn) {
  const std::vector<FieldFact> facts = {
      {"mvccpb.KeyValue", "lease", 6},
      {"mvccpb.Event", "prev_kv", 3},
      {"authpb.Permission", "permType", 1},
      {"authpb.Role", "keyPermission", 2},
      {"etcdserverpb.ResponseHeader", "raft_term", 4},
      {"etcdserverpb.RangeRequest", "max_create_revision", 13},
      {"etcdserverpb.Compare", "lease", 8},
      {"etcdserverpb.Compare", "range_end", 64},
      {"etcdserverpb.WatchCreateRequest", "fragment", 8},
      {"etcdserverpb.WatchResponse", "events", 11},
      {"etcdserverpb.WatchResponse", "fragment", 7},
      {"etcdserverpb.LeaseTimeToLiveResponse", "grantedTTL", 4},
      {"etcdserverpb.Member", "isLearner", 5},
      {"etcdserverpb.StatusResponse", "downgradeInfo", 13},
      {"etcdserverpb.StatusResponse", "dbSizeQuota", 12},
      {"etcdserverpb.HashKVResponse", "hash_revision", 4},
      {"etcdserverpb.SnapshotResponse", "version", 4},
      {"etcdserverpb.AuthUserAddRequest", "hashedPassword", 4},
      {"etcdserverpb.AuthUserGrantRoleRequest", "user", 1},
      {"etcdserverpb.AuthRoleRevokePermissionRequest", "range_end", 3},
  };
  const auto* pool = Pool();
  for (const auto& f : facts) {
    const auto* md = pool->FindMessageTypeByName(f.message);
    ASSERT_NE(md, nullptr) << f.message;
    const auto* fd = md->FindFieldByName(f.field);
    ASSERT_NE(fd, nullptr) << f.message << "." << f.field;
    EXPECT_EQ(fd->number(), f.number) << f.message << "." << f.field;
  }
  // WatchResponse leaves 8-10 unused.
  const auto* wr = pool->FindMessageTypeByName("etcdserverpb.WatchResponse");
  for (int n = 8; n <= 10; ++n)
    EXPECT_EQ(wr->FindFieldByNumber(n), nullptr) << n;
}

TEST(Proto, EnumValues) {
  const auto* pool = Pool();
  const auto* alarm = pool->FindEnumTypeByName("etcdserverpb.AlarmType");
  ASSERT_NE(alarm, nullptr);
  EXPECT_EQ(alarm->FindValueByName("CORRUPT")->number(), 2);
  const auto* cmp = pool->FindEnumTypeByName("etcdserverpb.Compare.CompareResult");
  ASSERT_NE(cmp, nullptr);
  EXPECT_EQ(cmp->FindValueByName("NOT_EQUAL")->number(), 3);
  const auto* tgt = pool->FindEnumTypeByName("etcdserverpb.RangeRequest.SortTarget");
  EXPECT_EQ(tgt->FindValueByName("VALUE")->number(), 4);
  const auto* dg = pool->FindEnumTypeByName("etcdserverpb.DowngradeRequest.DowngradeAction");
  EXPECT_EQ(dg->FindValueByName("CANCEL")->number(), 2);
}

}  // namespace
