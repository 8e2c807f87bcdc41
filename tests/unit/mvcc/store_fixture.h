// A store in a temp dir, reopenable, for the mvcc table tests: Read(fn)
// runs one ReadTxn accessor (Members, Leases, ...) and unwraps its Result.
#pragma once

#include <gtest/gtest.h>

#include <memory>

#include "mvcc/store.h"
#include "temp_dir.h"

namespace etcdpp::mvcc {

class StoreFixture : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }
  void Reopen() {
    store_.reset();
    auto s = Store::Open(dir_.path() + "/db");
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }
  std::unique_ptr<Batch> Begin() {
    auto b = store_->BeginBatch();
    EXPECT_TRUE(b.ok()) << b.status().ToString();
    return b.ok() ? std::move(*b) : nullptr;
  }
  // ReadAll(&ReadTxn::Leases): the accessor's rows in a fresh read txn.
  template <typename T>
  T ReadAll(Result<T> (ReadTxn::*accessor)()) {
    auto r = store_->Read();
    EXPECT_TRUE(r.ok());
    if (!r.ok()) return T{};
    auto m = ((**r).*accessor)();
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    return m.ok() ? std::move(*m) : T{};
  }

  etcdpp::testing::TempDir dir_;
  std::unique_ptr<Store> store_;
};

}  // namespace etcdpp::mvcc
