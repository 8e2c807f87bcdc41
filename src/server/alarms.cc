#include "server/alarms.h"

#include <string>

#include "common/log.h"
#include "server/ids.h"

namespace etcdpp::server {
namespace {

// etcd's cost constants (storage/quota.go).
constexpr int64_t kKvOverhead = 256;
constexpr int64_t kLeaseOverhead = 64;

int64_t CostPut(const etcdserverpb::PutRequest& p) {
  return kKvOverhead + static_cast<int64_t>(p.key().size() + p.value().size());
}

int64_t CostBranch(const google::protobuf::RepeatedPtrField<etcdserverpb::RequestOp>& ops) {
  int64_t cost = 0;
  for (const auto& op : ops)
    if (op.has_request_put()) cost += CostPut(op.request_put());
  return cost;
}

std::string AlarmKey(const etcdserverpb::AlarmMember& m) {
  // Deterministic: proto3 writes fields in number order; equal on every member.
  return m.SerializeAsString();
}

etcdserverpb::AlarmMember Member(int type, uint64_t id) {
  etcdserverpb::AlarmMember m;
  m.set_memberid(id);
  m.set_alarm(static_cast<etcdserverpb::AlarmType>(type));
  return m;
}

}  // namespace

int64_t QuotaCost(const internalpb::InternalRequest& req) {
  switch (req.request_case()) {
    case internalpb::InternalRequest::kPut:
      return CostPut(req.put());
    case internalpb::InternalRequest::kTxn:
      return std::max(CostBranch(req.txn().success()), CostBranch(req.txn().failure()));
    case internalpb::InternalRequest::kLeaseGrant:
      return kLeaseOverhead;
    default:
      return 0;
  }
}

std::string AlarmString(const etcdserverpb::AlarmMember& m) {
  // Go's compact text form: zero fields omitted, each "name:value ".
  std::string out;
  if (m.memberid() != 0) out += "memberID:" + std::to_string(m.memberid()) + " ";
  if (m.alarm() != etcdserverpb::NONE) {
    out += "alarm:" + etcdserverpb::AlarmType_Name(m.alarm()) + " ";
  }
  return out;
}

Status AlarmStore::Load(mvcc::ReadTxn& txn) {
  auto rows = txn.Alarms();
  if (!rows.ok()) return rows.status();
  alarms_.clear();
  for (const std::string& key : *rows) {
    etcdserverpb::AlarmMember m;
    if (!m.ParseFromString(key)) return Status::Corruption("alarm: unparsable row in alarm table");
    alarms_.emplace(static_cast<int>(m.alarm()), m.memberid());
  }
  return Status::OK();
}

Status AlarmStore::Apply(mvcc::Batch& batch, const etcdserverpb::AlarmRequest& req,
                         etcdserverpb::AlarmResponse* resp, bool* changed) {
  *changed = false;
  const std::pair<int, uint64_t> a{static_cast<int>(req.alarm()), req.memberid()};
  switch (req.action()) {
    case etcdserverpb::AlarmRequest::GET:
      for (const auto& m : Get(req.alarm()))
        *resp->add_alarms() = m;
      return Status::OK();
    case etcdserverpb::AlarmRequest::ACTIVATE: {
      if (req.alarm() == etcdserverpb::NONE) return Status::OK();
      etcdserverpb::AlarmMember m = Member(a.first, a.second);
      if (alarms_.count(a) == 0) {
        ETCDPP_RETURN_IF_ERROR(batch.PutAlarm(AlarmKey(m)));
        const bool first_of_type = !Has(req.alarm());
        alarms_.insert(a);
        *changed = true;
        if (first_of_type) {
          LOG_WARN("alarm raised", {"alarm", etcdserverpb::AlarmType_Name(req.alarm())},
                   {"from", IdToHex(req.memberid())});
        }
      }
      *resp->add_alarms() = m;
      return Status::OK();
    }
    case etcdserverpb::AlarmRequest::DEACTIVATE: {
      if (alarms_.count(a) == 0) return Status::OK();
      etcdserverpb::AlarmMember m = Member(a.first, a.second);
      ETCDPP_RETURN_IF_ERROR(batch.DeleteAlarm(AlarmKey(m)));
      alarms_.erase(a);
      *changed = true;
      if (!Has(req.alarm())) {
        LOG_INFO("alarm disarmed", {"alarm", etcdserverpb::AlarmType_Name(req.alarm())},
                 {"from", IdToHex(req.memberid())});
      }
      *resp->add_alarms() = m;
      return Status::OK();
    }
    default:
      return Status::OK();  // etcd answers an unknown action with nothing
  }
}

Status AlarmStore::Admit(const internalpb::InternalRequest& req) const {
  using R = internalpb::InternalRequest;
  if (Has(etcdserverpb::CORRUPT)) {
    switch (req.request_case()) {
      case R::kRange:
      case R::kPut:
      case R::kDeleteRange:
      case R::kTxn:
      case R::kCompaction:
      case R::kLeaseGrant:
      case R::kLeaseRevoke:
        return ErrCorrupt();
      default:
        break;
    }
  }
  if (Has(etcdserverpb::NOSPACE)) {
    switch (req.request_case()) {
      case R::kPut:
      case R::kLeaseGrant:
        return ErrNoSpace();
      case R::kTxn:
        if (QuotaCost(req) > 0) return ErrNoSpace();
        break;
      default:
        break;
    }
  }
  return Status::OK();
}

std::vector<etcdserverpb::AlarmMember> AlarmStore::Get(etcdserverpb::AlarmType t) const {
  std::vector<etcdserverpb::AlarmMember> out;
  for (const auto& [type, id] : alarms_) {
    if (t == etcdserverpb::NONE || type == static_cast<int>(t)) out.push_back(Member(type, id));
  }
  return out;
}

bool AlarmStore::Has(etcdserverpb::AlarmType t) const {
  auto it = alarms_.lower_bound({static_cast<int>(t), 0});
  return it != alarms_.end() && it->first == static_cast<int>(t);
}

}  // namespace etcdpp::server
