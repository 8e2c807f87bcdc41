// Tests citing the rules of the Raft paper (Ongaro & Ousterhout, "In Search of an
// Understandable Consensus Algorithm"), driven through RawNode.
#include <gtest/gtest.h>

#include "cluster.h"
#include "raft/rawnode.h"

namespace etcdpp::raft {
namespace {

using testing::Cluster;
using testing::NodeOptions;

std::unique_ptr<RawNode> NewNode(MemoryStorage* s, uint64_t id, std::vector<uint64_t> voters,
                                 bool pre_vote = false) {
  Snapshot snap;
  snap.metadata.index = 1;
  snap.metadata.term = 1;
  snap.metadata.conf_state.voters = std::move(voters);
  EXPECT_TRUE(s->ApplySnapshot(snap).ok());
  s->SetHardState(HardState{1, 0, 1});
  Config c;
  c.id = id;
  c.storage = s;
  c.applied = 1;
  c.pre_vote = pre_vote;
  return std::make_unique<RawNode>(c);
}

std::vector<Message> Drain(RawNode& rn, MemoryStorage& s) {
  std::vector<Message> out;
  while (rn.HasReady()) {
    Ready rd = rn.Ready();
    if (!rd.hard_state.empty()) s.SetHardState(rd.hard_state);
    EXPECT_TRUE(s.Append(rd.entries).ok());
    for (auto& m : rd.messages)
      out.push_back(std::move(m));
    rn.Advance(rd);
  }
  return out;
}

Message Vote(uint64_t from, uint64_t to, uint64_t term, uint64_t last_index, uint64_t last_term) {
  Message m;
  m.type = MessageType::kVote;
  m.from = from;
  m.to = to;
  m.term = term;
  m.index = last_index;
  m.log_term = last_term;
  return m;
}

// §5.2: "If a follower receives no communication over a period of time called the election
// timeout, then it assumes there is no viable leader and begins an election ... increments its
// current term ... votes for itself and issues RequestVote RPCs".
TEST(RaftPaper, FollowerStartsElectionAfterTimeout) {
  MemoryStorage s;
  auto rn = NewNode(&s, 1, {1, 2, 3});
  for (int i = 0; i < 20 && rn->raft().state() == StateType::kFollower; ++i)
    rn->Tick();
  EXPECT_EQ(rn->raft().state(), StateType::kCandidate);
  EXPECT_EQ(rn->raft().term(), 2u);  // bootstrapped in term 1
  EXPECT_EQ(rn->raft().vote(), 1u);
  Ready rd = rn->Ready();
  EXPECT_TRUE(rd.must_sync);  // the vote must be durable before the requests go out
  EXPECT_EQ(rd.hard_state.vote, 1u);
  ASSERT_EQ(rd.messages.size(), 2u);
  for (const auto& m : rd.messages)
    EXPECT_EQ(m.type, MessageType::kVote);
}

// §5.2: "Each server will vote for at most one candidate in a given term, on a
// first-come-first-served basis".
TEST(RaftPaper, VotesForAtMostOneCandidatePerTerm) {
  MemoryStorage s;
  auto rn = NewNode(&s, 1, {1, 2, 3});
  ASSERT_TRUE(rn->Step(Vote(2, 1, 5, 1, 1)).ok());
  ASSERT_TRUE(rn->Step(Vote(3, 1, 5, 1, 1)).ok());
  ASSERT_TRUE(rn->Step(Vote(2, 1, 5, 1, 1)).ok());  // a retransmission is granted again
  auto msgs = Drain(*rn, s);
  ASSERT_EQ(msgs.size(), 3u);
  EXPECT_FALSE(msgs[0].reject);
  EXPECT_TRUE(msgs[1].reject);
  EXPECT_FALSE(msgs[2].reject);
  EXPECT_EQ(s.hard_state().vote, 2u);
}

// §5.4.1: "The voter denies its vote if its own log is more up-to-date than that of the
// candidate."
TEST(RaftPaper, VoterRejectsLessUpToDateCandidate) {
  MemoryStorage s;
  auto rn = NewNode(&s, 1, {1, 2, 3});
  ASSERT_TRUE(s.Append({Entry{2, 2, EntryType::kNormal, ""}}).ok());
  auto rn2 = std::make_unique<RawNode>([&] {
    Config c;
    c.id = 1;
    c.storage = &s;
    c.applied = 1;
    return c;
  }());
  ASSERT_TRUE(rn2->Step(Vote(2, 1, 5, 5, 1)).ok());  // longer log but older last term
  ASSERT_TRUE(rn2->Step(Vote(3, 1, 6, 2, 2)).ok());  // as up-to-date: granted
  auto msgs = Drain(*rn2, s);
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_TRUE(msgs[0].reject);
  EXPECT_FALSE(msgs[1].reject);
}

// §5.1: "If a server receives a request with a stale term number, it rejects the request."
TEST(RaftPaper, StaleTermMessagesIgnored) {
  MemoryStorage s;
  auto rn = NewNode(&s, 1, {1, 2, 3});
  ASSERT_TRUE(rn->Step(Vote(2, 1, 5, 1, 1)).ok());
  Drain(*rn, s);
  Message app;
  app.type = MessageType::kApp;
  app.from = 3;
  app.to = 1;
  app.term = 4;
  app.index = 1;
  app.log_term = 1;
  app.entries = {Entry{4, 2, EntryType::kNormal, "x"}};
  ASSERT_TRUE(rn->Step(app).ok());
  Drain(*rn, s);
  EXPECT_EQ(rn->raft().log().LastIndex(), 1u);
  EXPECT_EQ(rn->raft().term(), 5u);
}

// §5.2: "A candidate wins an election if it receives votes from a majority of the servers";
// "If the AppendEntries RPC is from a leader whose term is at least as large as the
// candidate's current term, then the candidate recognizes the leader as legitimate".
TEST(RaftPaper, CandidateWinsWithMajorityAndYieldsToLeader) {
  Cluster cl;
  cl.AddNodes({1, 2, 3}, {1, 2, 3}, {}, 1, NodeOptions{});
  ASSERT_TRUE(cl.node(1).rn->Campaign().ok());
  cl.Stabilize(nullptr);
  EXPECT_EQ(cl.Leader(), 1u);
  // Node 3 campaigns in a higher term while isolated, then hears from the new leader.
  cl.Isolate(3);
  ASSERT_TRUE(cl.node(3).rn->Campaign().ok());
  cl.Stabilize(nullptr);
  EXPECT_EQ(cl.node(3).rn->raft().state(), StateType::kCandidate);
  cl.Heal();
  ASSERT_TRUE(cl.node(2).rn->Campaign().ok());  // term 3 > candidate 3's term 2
  cl.Stabilize(nullptr);
  EXPECT_EQ(cl.Leader(), 2u);
  EXPECT_EQ(cl.node(3).rn->raft().state(), StateType::kFollower);
  EXPECT_EQ(cl.node(3).rn->raft().lead(), 2u);
}

// §5.3: "When sending an AppendEntries RPC, the leader includes the index and term of the
// entry in its log that immediately precedes the new entries. If the follower does not find an
// entry in its log with the same index and term, then it refuses the new entries."
TEST(RaftPaper, FollowerRejectsInconsistentAppendWithHint) {
  MemoryStorage s;
  auto rn = NewNode(&s, 1, {1, 2, 3});
  Message app;
  app.type = MessageType::kApp;
  app.from = 2;
  app.to = 1;
  app.term = 3;
  app.index = 7;
  app.log_term = 3;
  ASSERT_TRUE(rn->Step(app).ok());
  auto msgs = Drain(*rn, s);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].type, MessageType::kAppResp);
  EXPECT_TRUE(msgs[0].reject);
  EXPECT_EQ(msgs[0].reject_hint, 1u);  // our last index: the leader can jump there
}

// §5.4.2: "Raft never commits log entries from previous terms by counting replicas. Only log
// entries from the leader's current term are committed by counting replicas".
TEST(RaftPaper, LeaderCommitsOnlyCurrentTermEntriesByCounting) {
  MemoryStorage s;
  RaftLog log(&s, UINT64_MAX);
  log.Append({Entry{2, 1, EntryType::kNormal, ""}, Entry{2, 2, EntryType::kNormal, ""}});
  EXPECT_FALSE(log.MaybeCommit(2, 4, /*ignore_term=*/false));
  EXPECT_TRUE(log.MaybeCommit(2, 4, /*ignore_term=*/true));  // the injected bug
}

// §5.3: "the leader must find the latest log entry where the two logs agree, delete any entries
// in the follower's log after that point, and send the follower all of the leader's entries".
TEST(RaftPaper, LeaderRepairsDivergentFollowerLog) {
  Cluster cl;
  cl.AddNodes({1, 2, 3}, {1, 2, 3}, {}, 1, NodeOptions{});
  ASSERT_TRUE(cl.node(1).rn->Campaign().ok());
  cl.Stabilize(nullptr);
  cl.Isolate(1);
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(cl.node(1).rn->Propose("lost").ok());
  cl.Stabilize(nullptr);
  cl.Heal();
  cl.Isolate(1);
  ASSERT_TRUE(cl.node(2).rn->Campaign().ok());
  cl.Stabilize(nullptr);
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(cl.node(2).rn->Propose("kept").ok());
  cl.Stabilize(nullptr);
  cl.Heal();
  cl.Tick(2, 1, nullptr);  // heartbeat: node 1 steps down and gets repaired
  cl.Stabilize(nullptr);
  const RaftLog& l1 = cl.node(1).rn->raft().log();
  const RaftLog& l2 = cl.node(2).rn->raft().log();
  ASSERT_EQ(l1.LastIndex(), l2.LastIndex());
  for (uint64_t i = 2; i <= l2.LastIndex(); ++i)
    EXPECT_EQ(*l1.Term(i), *l2.Term(i)) << i;
  for (const auto& e : cl.node(1).applied)
    EXPECT_NE(e.data, "lost");
}

TEST(RaftPaper, ProposalWithoutLeaderIsReportedDropped) {
  MemoryStorage s;
  auto rn = NewNode(&s, 1, {1, 2, 3});
  Status st = rn->Propose("x");
  EXPECT_TRUE(IsProposalDropped(st)) << st.ToString();
  EXPECT_EQ(st.code(), Code::kUnavailable);
  EXPECT_FALSE(rn->HasReady() && !rn->Ready().entries.empty());
}

}  // namespace
}  // namespace etcdpp::raft
