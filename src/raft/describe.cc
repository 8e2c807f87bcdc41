#include "raft/describe.h"

#include "raft/codec.h"

namespace etcdpp::raft {

namespace {
std::string Ids(const std::vector<uint64_t>& ids) {
  std::string s = "(";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) s += " ";
    s += std::to_string(ids[i]);
  }
  return s + ")";
}
}  // namespace

std::string DescribeEntry(const Entry& e) {
  std::string s = std::to_string(e.term) + "/" + std::to_string(e.index);
  switch (e.type) {
    case EntryType::kNormal:
      s.append(" EntryNormal \"").append(e.data).append("\"");
      break;
    case EntryType::kConfChange:
    case EntryType::kConfChangeV2: {
      s += e.type == EntryType::kConfChange ? " EntryConfChange" : " EntryConfChangeV2";
      auto cc = DecodeConfChangeEntry(e);
      if (!cc.ok()) return s + " <bad>";
      for (const auto& c : cc->changes) {
        static const char* kNames[] = {"v", "r", "u", "l"};
        s.append(" ").append(kNames[static_cast<int>(c.type)]).append(std::to_string(c.node_id));
      }
      break;
    }
  }
  return s;
}

std::string DescribeMessage(const Message& m) {
  std::string s = std::to_string(m.from) + "->" + std::to_string(m.to) + " " +
                  MessageTypeName(m.type) + " Term:" + std::to_string(m.term) +
                  " Log:" + std::to_string(m.log_term) + "/" + std::to_string(m.index);
  if (m.reject) s += " Rejected (Hint: " + std::to_string(m.reject_hint) + ")";
  if (m.commit) s += " Commit:" + std::to_string(m.commit);
  if (!m.context.empty()) s += " Context:" + m.context;
  if (!m.entries.empty()) {
    s += " Entries:[";
    for (size_t i = 0; i < m.entries.size(); ++i) {
      if (i) s += ", ";
      s += DescribeEntry(m.entries[i]);
    }
    s += "]";
  }
  if (m.snapshot) {
    s += " Snapshot: Index:" + std::to_string(m.snapshot->metadata.index) +
         " Term:" + std::to_string(m.snapshot->metadata.term) + " " +
         DescribeConfState(m.snapshot->metadata.conf_state);
  }
  return s;
}

std::string DescribeHardState(const HardState& hs) {
  return "Term:" + std::to_string(hs.term) + " Vote:" + std::to_string(hs.vote) +
         " Commit:" + std::to_string(hs.commit);
}

std::string DescribeConfState(const ConfState& cs) {
  std::string s = "Voters:" + Ids(cs.voters);
  if (!cs.learners.empty()) s += " Learners:" + Ids(cs.learners);
  return s;
}

}  // namespace etcdpp::raft
