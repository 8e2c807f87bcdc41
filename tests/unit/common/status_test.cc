#include "common/status.h"

#include <gtest/gtest.h>

namespace etcdpp {
namespace {

Result<int> Half(int x) {
  if (x % 2 != 0) return Status::InvalidArgument("odd");
  return x / 2;
}

Status Quarter(int x, int* out) {
  ETCDPP_ASSIGN_OR_RETURN(int h, Half(x));
  ETCDPP_ASSIGN_OR_RETURN(int q, Half(h));
  *out = q;
  return Status::OK();
}

TEST(Status, OkIsDefaultAndCheap) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), Code::kOk);
  EXPECT_EQ(s.ToString(), "OK");
}

TEST(Status, CarriesCodeAndMessage) {
  Status s = Status::OutOfRange("etcdserver: mvcc: required revision is a future revision");
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(s.Is(Code::kOutOfRange));
  EXPECT_EQ(s.message(), "etcdserver: mvcc: required revision is a future revision");
  Status copy = s;
  EXPECT_EQ(copy.message(), s.message());
}

TEST(Result, ValueOrStatusPropagates) {
  int out = 0;
  EXPECT_TRUE(Quarter(8, &out).ok());
  EXPECT_EQ(out, 2);
  Status st = Quarter(6, &out);
  EXPECT_TRUE(st.Is(Code::kInvalidArgument));
  EXPECT_EQ(st.message(), "odd");
}

}  // namespace
}  // namespace etcdpp
