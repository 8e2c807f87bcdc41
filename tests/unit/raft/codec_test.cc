#include "raft/codec.h"

#include <gtest/gtest.h>

#include "raft/rand.h"

namespace etcdpp::raft {
namespace {

Message SampleMessage() {
  Message m;
  m.type = MessageType::kApp;
  m.to = 2;
  m.from = 1;
  m.term = 7;
  m.log_term = 6;
  m.index = 1ull << 40;
  m.commit = 99;
  m.reject = true;
  m.reject_hint = 12;
  m.context = "ctx";
  m.entries = {Entry{7, 100, EntryType::kNormal, "hello"},
               Entry{7, 101, EntryType::kConfChange, std::string("\0\1\2", 3)}};
  auto s = std::make_shared<Snapshot>();
  s->data = "state";
  s->metadata.index = 90;
  s->metadata.term = 5;
  s->metadata.conf_state.voters = {1, 2, 3};
  s->metadata.conf_state.learners = {4};
  m.snapshot = s;
  return m;
}

TEST(Codec, ConfChange_roundTrip) {
  ConfChange cc{ConfChangeType::kAddLearnerNode, 42, "member"};
  auto got = DecodeConfChange(EncodeConfChange(cc));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, cc);
  ConfChangeV2 v2;
  v2.transition = ConfChangeTransition::kJointExplicit;
  v2.changes = {{ConfChangeType::kAddNode, 1}, {ConfChangeType::kRemoveNode, 2}};
  v2.context.assign(1, 'x');
  auto got2 = DecodeConfChangeV2(EncodeConfChangeV2(v2));
  ASSERT_TRUE(got2.ok());
  EXPECT_EQ(*got2, v2);
}

TEST(Codec, Message_roundTrip) {
  Message m = SampleMessage();
  auto got = DecodeMessage(EncodeMessage(m));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->type, m.type);
  EXPECT_EQ(got->index, m.index);
  EXPECT_EQ(got->entries, m.entries);
  EXPECT_EQ(got->context, m.context);
  EXPECT_TRUE(got->reject);
  ASSERT_NE(got->snapshot, nullptr);
  EXPECT_EQ(got->snapshot->metadata, m.snapshot->metadata);
  EXPECT_EQ(got->snapshot->data, "state");
  auto snap = DecodeSnapshot(EncodeSnapshot(*m.snapshot));
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(snap->metadata, m.snapshot->metadata);
}

TEST(Codec, Decode_rejectsEveryTruncation) {
  std::string enc = EncodeMessage(SampleMessage());
  for (size_t n = 0; n < enc.size(); ++n) {
    EXPECT_FALSE(DecodeMessage(enc.substr(0, n)).ok()) << n;
  }
  EXPECT_FALSE(DecodeMessage(enc + "x").ok());  // trailing garbage
}

TEST(Codec, Decode_survivesRandomInput) {
  // Fuzz-style: mutated and random inputs must fail cleanly (or decode), never crash or
  // allocate absurd sizes.
  SplitMix64 rng(1);
  std::string base = EncodeMessage(SampleMessage());
  for (int i = 0; i < 20000; ++i) {
    std::string in = base;
    int flips = 1 + static_cast<int>(rng.Uniform(4));
    for (int f = 0; f < flips; ++f)
      in[rng.Uniform(in.size())] = static_cast<char>(rng.Next());
    (void)DecodeMessage(in);
    std::string junk(rng.Uniform(64), '\0');
    for (auto& c : junk)
      c = static_cast<char>(rng.Next());
    if (!junk.empty()) junk[0] = 'M';
    if (junk.size() > 1) junk[1] = 1;
    (void)DecodeMessage(junk);
    (void)DecodeConfChangeV2(junk);
    (void)DecodeConfChange(junk);
  }
  // A huge declared length is rejected without allocating it.
  const char kHuge[] = "M\x01\x03\xff\xff\xff\xff\xff\xff\xff\xff\x7f";
  std::string huge(kHuge, sizeof(kHuge) - 1);
  EXPECT_FALSE(DecodeMessage(huge).ok());
}

}  // namespace
}  // namespace etcdpp::raft
