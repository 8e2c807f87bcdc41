// Data-driven scenario tests: each testdata/*.txt file is a script of commands, each followed
// by "----" and the exact expected output, then a blank line:
//
//   campaign 1
//   ----
//   1 becomes StateCandidate at term 2
//
// Run with RAFT_REWRITE=1 to regenerate expected outputs (then review the diff).
// Commands (ids are node ids; key=value options):
//   add-nodes IDS... [voters=1,2,3] [learners=4] [index=1] [pre-vote] [check-quorum]
//                    [max-msg=BYTES] [lease-read]      bootstrap nodes (snapshot at index)
//   add-empty ID [pre-vote] [check-quorum]             a joining node with empty storage
//   campaign ID | tick-election ID | tick ID N | tick-heartbeat ID
//   propose ID DATA | propose-conf-change ID v4|l4|r2 | transfer-leader FROM TO
//   read-index ID CTX | read-states ID
//   stabilize [verbose] | deliver [verbose]            all / one round of messages
//   isolate ID | heal | drop | crash ID | restart ID | compact ID INDEX
//   raft-state | raft-log ID | applied ID | status ID
#include <gtest/gtest.h>

#include <dirent.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "cluster.h"
#include "raft/describe.h"

namespace etcdpp::raft::testing {
namespace {

struct Cmd {
  std::string line;
  std::string name;
  std::vector<std::string> args;            // positional
  std::map<std::string, std::string> opts;  // key=value (or key= "" for flags)
  std::string expected;
};

std::vector<uint64_t> ParseIds(const std::string& s) {
  std::vector<uint64_t> out;
  std::stringstream ss(s);
  std::string tok;
  while (std::getline(ss, tok, ',')) {
    if (!tok.empty()) out.push_back(std::stoull(tok));
  }
  return out;
}

std::vector<Cmd> Parse(const std::string& path) {
  std::ifstream in(path);
  std::vector<Cmd> cmds;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (line[0] == '#') {  // comments are kept (and rewritten) in place
      Cmd c;
      c.line = line;
      c.name = "#";
      cmds.push_back(c);
      continue;
    }
    Cmd c;
    c.line = line;
    std::stringstream ss(line);
    ss >> c.name;
    std::string tok;
    while (ss >> tok) {
      auto eq = tok.find('=');
      if (eq == std::string::npos && tok.find_first_not_of("0123456789") != std::string::npos &&
          (tok == "verbose" || tok == "pre-vote" || tok == "check-quorum" || tok == "lease-read")) {
        c.opts[tok] = "";
      } else if (eq != std::string::npos) {
        c.opts[tok.substr(0, eq)] = tok.substr(eq + 1);
      } else {
        c.args.push_back(tok);
      }
    }
    std::getline(in, line);
    EXPECT_EQ(line, "----") << path << ": expected ---- after " << c.line;
    while (std::getline(in, line) && !line.empty())
      c.expected += line + "\n";
    cmds.push_back(c);
  }
  return cmds;
}

class Runner {
 public:
  std::string Run(const Cmd& c) {
    std::ostringstream out;
    auto id = [&](size_t i) { return std::stoull(c.args.at(i)); };
    bool verbose = c.opts.count("verbose") != 0;
    if (c.name == "add-nodes" || c.name == "add-empty") {
      NodeOptions o;
      o.pre_vote = c.opts.count("pre-vote") != 0;
      o.check_quorum = c.opts.count("check-quorum") != 0;
      if (c.opts.count("lease-read")) {
        o.read_only = ReadOnlyOption::kLeaseBased;
        o.check_quorum = true;
      }
      if (c.opts.count("max-msg")) o.max_size_per_msg = std::stoull(c.opts.at("max-msg"));
      std::vector<uint64_t> ids;
      for (size_t i = 0; i < c.args.size(); ++i)
        ids.push_back(id(i));
      if (c.name == "add-empty") {
        for (uint64_t x : ids)
          cl_.AddEmptyNode(x, o);
      } else {
        auto voters = c.opts.count("voters") ? ParseIds(c.opts.at("voters")) : ids;
        auto learners =
            c.opts.count("learners") ? ParseIds(c.opts.at("learners")) : std::vector<uint64_t>{};
        uint64_t index = c.opts.count("index") ? std::stoull(c.opts.at("index")) : 1;
        cl_.AddNodes(ids, voters, learners, index, o);
      }
    } else if (c.name == "campaign") {
      auto st = cl_.node(id(0)).rn->Campaign();
      if (!st.ok()) out << st.ToString() << "\n";
      cl_.HandleReady(id(0), &out);
    } else if (c.name == "tick-election") {
      cl_.TickElection(id(0), &out);
    } else if (c.name == "tick") {
      cl_.Tick(id(0), std::stoi(c.args.at(1)), &out);
    } else if (c.name == "tick-heartbeat") {
      cl_.Tick(id(0), cl_.node(id(0)).opts.heartbeat_tick, &out);
    } else if (c.name == "propose") {
      auto st = cl_.node(id(0)).rn->Propose(c.args.at(1));
      out << st.ToString() << "\n";
      cl_.HandleReady(id(0), nullptr);
    } else if (c.name == "propose-conf-change") {
      ConfChange cc;
      const std::string& s = c.args.at(1);
      cc.type = s[0] == 'v'   ? ConfChangeType::kAddNode
                : s[0] == 'l' ? ConfChangeType::kAddLearnerNode
                              : ConfChangeType::kRemoveNode;
      cc.node_id = std::stoull(s.substr(1));
      auto st = cl_.node(id(0)).rn->ProposeConfChange(cc);
      out << st.ToString() << "\n";
      cl_.HandleReady(id(0), nullptr);
    } else if (c.name == "transfer-leader") {
      cl_.node(id(0)).rn->TransferLeader(id(1));
      cl_.HandleReady(id(0), &out);
    } else if (c.name == "read-index") {
      auto st = cl_.node(id(0)).rn->ReadIndex(c.args.at(1));
      out << st.ToString() << "\n";
      cl_.HandleReady(id(0), nullptr);
    } else if (c.name == "read-states") {
      auto& rs = cl_.node(id(0)).read_states;
      for (const auto& r : rs)
        out << "ctx=" << r.request_ctx << " index=" << r.index << "\n";
      if (rs.empty()) out << "none\n";
      rs.clear();
    } else if (c.name == "stabilize") {
      cl_.Stabilize(verbose ? &out : nullptr);
    } else if (c.name == "deliver") {
      cl_.DeliverRound(verbose ? &out : nullptr);
    } else if (c.name == "isolate") {
      cl_.Isolate(id(0));
    } else if (c.name == "heal") {
      cl_.Heal();
    } else if (c.name == "drop") {
      cl_.DropQueued();
    } else if (c.name == "crash") {
      cl_.Crash(id(0));
    } else if (c.name == "restart") {
      cl_.Restart(id(0));
    } else if (c.name == "compact") {
      cl_.Compact(id(0), std::stoull(c.args.at(1)));
    } else if (c.name == "raft-state") {
      for (auto& [nid, n] : cl_.nodes()) {
        if (n.down) {
          out << nid << ": down\n";
          continue;
        }
        const Raft& r = n.rn->raft();
        out << nid << ": " << StateTypeName(r.state()) << " term=" << r.term()
            << " lead=" << r.lead() << " commit=" << r.log().committed()
            << " applied=" << n.applied_index << " last=" << r.log().LastIndex() << "\n";
      }
    } else if (c.name == "raft-log") {
      const RaftLog& log = cl_.node(id(0)).rn->raft().log();
      auto ents = log.Slice(log.FirstIndex(), log.LastIndex() + 1, UINT64_MAX);
      if (ents.ok()) {
        for (const auto& e : *ents)
          out << DescribeEntry(e) << "\n";
        if (ents->empty()) out << "log is empty: first index=" << log.FirstIndex() << "\n";
      }
    } else if (c.name == "applied") {
      for (const auto& e : cl_.node(id(0)).applied) {
        if (!e.data.empty()) out << DescribeEntry(e) << "\n";
      }
    } else if (c.name == "status") {
      auto st = cl_.node(id(0)).rn->Status();
      out << DescribeConfState(st.config) << "\n";
      for (const auto& [pid, pr] : st.progress) {
        out << pid << ": " << ProgressStateName(pr.state) << " match=" << pr.match
            << " next=" << pr.next << (pr.is_learner ? " learner" : "") << "\n";
      }
    } else {
      ADD_FAILURE() << "unknown command " << c.line;
    }
    std::string s = out.str();
    return s.empty() ? "ok\n" : s;
  }

 private:
  Cluster cl_;
};

std::vector<std::string> ScenarioFiles() {
  std::vector<std::string> files;
  if (DIR* d = opendir(RAFT_TESTDATA_DIR)) {
    while (dirent* e = readdir(d)) {
      std::string n = e->d_name;
      if (n.size() > 4 && n.substr(n.size() - 4) == ".txt") files.push_back(n);
    }
    closedir(d);
  }
  std::sort(files.begin(), files.end());
  return files;
}

class ScenarioTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ScenarioTest, Script) {
  std::string path = std::string(RAFT_TESTDATA_DIR) + "/" + GetParam();
  auto cmds = Parse(path);
  ASSERT_FALSE(cmds.empty()) << path;
  Runner r;
  bool rewrite = std::getenv("RAFT_REWRITE") != nullptr;
  std::string rewritten;
  for (const auto& c : cmds) {
    if (c.name == "#") {
      if (!rewritten.empty() && rewritten.back() != '\n') rewritten += "\n";
      rewritten += c.line + "\n";
      continue;
    }
    std::string got = r.Run(c);
    if (!rewrite) {
      EXPECT_EQ(c.expected, got) << path << ": " << c.line;
    }
    rewritten += c.line + "\n----\n" + got + "\n";
  }
  if (rewrite) {
    while (rewritten.size() > 1 && rewritten.substr(rewritten.size() - 2) == "\n\n") {
      rewritten.pop_back();
    }
    std::ofstream(path) << rewritten;
  }
}

INSTANTIATE_TEST_SUITE_P(Raft, ScenarioTest, ::testing::ValuesIn(ScenarioFiles()),
                         [](const ::testing::TestParamInfo<std::string>& p) {
                           std::string n = p.param.substr(0, p.param.size() - 4);
                           for (char& ch : n) {
                             if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return n;
                         });

}  // namespace
}  // namespace etcdpp::raft::testing
