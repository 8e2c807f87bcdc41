#include "membership/member.h"

#include <gtest/gtest.h>

#include "membership/errors.h"
#include "membership/urls.h"

namespace etcdpp::membership {
namespace {

TEST(MemberTest, EncodeDecodeRoundTrip) {
  Member m{0x8e9e05c52164694dull,
           "infra1",
           {"http://10.0.0.1:2380", "http://10.0.0.1:2381"},
           {"http://10.0.0.1:2379"},
           true};
  auto d = Decode(Encode(m));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, m);
  etcdserverpb::Member pb = ToProto(m);
  EXPECT_EQ(pb.id(), m.id);
  EXPECT_EQ(pb.peerurls_size(), 2);
  EXPECT_TRUE(pb.islearner());
  EXPECT_EQ(FromProto(pb), m);
}

TEST(MemberTest, DecodeGarbageIsCorruption) {
  auto d = Decode(std::string("\xff\xff\xff\xff\xff", 5));
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), Code::kCorruption);
}

TEST(MemberTest, IsStartedMeansNamed) {
  Member m;
  EXPECT_FALSE(m.IsStarted());
  m.name = "a";
  EXPECT_TRUE(m.IsStarted());
}

TEST(MemberTest, IdStringIsLowerHex) {
  EXPECT_EQ(IdString(0x8e9e05c52164694dull), "8e9e05c52164694d");
  EXPECT_EQ(IdString(0x1), "1");
}

TEST(URLsTest, AcceptsAndSorts) {
  auto r = ParseURLs({" http://b:2380 ", "https://a:2380", "unix://x", "http://[::1]:2380"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, (std::vector<std::string>{"http://[::1]:2380", "http://b:2380", "https://a:2380",
                                          "unix://x"}));
}

TEST(URLsTest, EtcdErrorTexts) {
  auto r = ParseURLs({});
  EXPECT_EQ(r.status().message(), "no valid URLs given");
  r = ParseURLs({"localhost:2380"});
  EXPECT_EQ(r.status().message(), "URL scheme must be http, https, unix, or unixs: localhost:2380");
  r = ParseURLs({"ftp://a:1"});
  EXPECT_EQ(r.status().message(), "URL scheme must be http, https, unix, or unixs: ftp://a:1");
  r = ParseURLs({"http://a"});
  EXPECT_EQ(r.status().message(), "URL address does not have the form \"host:port\": http://a");
  r = ParseURLs({"http://a:1/p"});
  EXPECT_EQ(r.status().message(), "URL must not contain a path: http://a:1/p");
  r = ParseURLs({"http://a:1/"});
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
}

TEST(URLsTest, StringsEqualIgnoresOrder) {
  EXPECT_TRUE(URLStringsEqual({"http://a:1", "http://b:1"}, {"http://b:1", " http://a:1"}));
  EXPECT_FALSE(URLStringsEqual({"http://a:1"}, {"http://a:1", "http://b:1"}));
  EXPECT_FALSE(URLStringsEqual({"http://a:1"}, {"http://a:2"}));
}

TEST(ErrorsTest, ToClientErrorMatchesRpctypes) {
  struct Case {
    Status in;
    Code code;
    std::string msg;
  } cases[] = {
      {ErrIDRemoved(), Code::kNotFound, "etcdserver: member not found"},
      {ErrIDNotFound(), Code::kNotFound, "etcdserver: member not found"},
      {ErrIDExists(), Code::kFailedPrecondition, "etcdserver: member ID already exist"},
      {ErrPeerURLExists(), Code::kFailedPrecondition, "etcdserver: Peer URLs already exists"},
      {ErrMemberNotLearner(), Code::kFailedPrecondition,
       "etcdserver: can only promote a learner member"},
      {ErrTooManyLearners(), Code::kFailedPrecondition,
       "etcdserver: too many learner members in cluster"},
      {Status::FailedPrecondition(kErrNotEnoughStartedMembers), Code::kFailedPrecondition,
       "etcdserver: re-configuration failed due to not enough started members"},
      {Status::FailedPrecondition(kErrLearnerNotReady), Code::kFailedPrecondition,
       "etcdserver: can only promote a learner member which is in sync with leader"},
      {Status::Unavailable(kErrUnhealthy), Code::kUnavailable, "etcdserver: unhealthy cluster"},
      {ErrBadURLs(), Code::kInvalidArgument, "etcdserver: given member URLs are invalid"},
  };
  for (const auto& c : cases) {
    Status out = ToClientError(c.in);
    EXPECT_EQ(out.code(), c.code) << c.in.message();
    EXPECT_EQ(out.message(), c.msg);
  }
  EXPECT_TRUE(ToClientError(Status::OK()).ok());
  Status other = Status::Internal("x");
  EXPECT_EQ(ToClientError(other).message(), "x");
}

}  // namespace
}  // namespace etcdpp::membership
