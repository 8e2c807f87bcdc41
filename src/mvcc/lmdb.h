// Thin RAII wrappers over the LMDB C API that report errors as Status.
//
// Only what src/mvcc needs: a write/read transaction guard and a cursor guard.
// MDB_val <-> std::string_view conversions live here too.
#pragma once

#include <lmdb.h>

#include <string>
#include <string_view>

#include "common/status.h"

namespace etcdpp::mvcc::lmdb {

inline MDB_val Val(std::string_view s) {
  return MDB_val{s.size(), const_cast<char*>(s.data())};  // LMDB never writes through mv_data
}
inline std::string_view View(const MDB_val& v) {
  return {static_cast<const char*>(v.mv_data), v.mv_size};
}

// Maps an LMDB return code to a Status. MDB_MAP_FULL becomes ResourceExhausted
// (callers that can grow the map check for it before calling this).
inline Status ToStatus(int rc, std::string_view what) {
  if (rc == MDB_SUCCESS) return Status::OK();
  std::string msg = "lmdb: " + std::string(what) + ": " + mdb_strerror(rc);
  if (rc == MDB_MAP_FULL) return Status::ResourceExhausted(msg);
  if (rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND || rc == MDB_INVALID ||
      rc == MDB_VERSION_MISMATCH) {
    return Status::Corruption(msg);
  }
  return Status::IOError(msg);
}

// Owns an MDB_txn: aborts in the destructor unless committed or released.
class Txn {
 public:
  Txn() = default;
  explicit Txn(MDB_txn* t) : txn_(t) {}
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;
  Txn(Txn&& o) noexcept : txn_(o.txn_) { o.txn_ = nullptr; }
  Txn& operator=(Txn&& o) noexcept {
    if (this != &o) {
      Abort();
      txn_ = o.txn_;
      o.txn_ = nullptr;
    }
    return *this;
  }
  ~Txn() { Abort(); }

  static int Begin(MDB_env* env, unsigned flags, Txn* out) {
    MDB_txn* t = nullptr;
    int rc = mdb_txn_begin(env, nullptr, flags, &t);
    if (rc == MDB_SUCCESS) *out = Txn(t);
    return rc;
  }
  MDB_txn* get() const { return txn_; }
  explicit operator bool() const { return txn_ != nullptr; }
  void Abort() {
    if (txn_ != nullptr) mdb_txn_abort(txn_);
    txn_ = nullptr;
  }
  int Commit() {
    int rc = mdb_txn_commit(txn_);  // frees the handle even on failure
    txn_ = nullptr;
    return rc;
  }

 private:
  MDB_txn* txn_ = nullptr;
};

// Owns an MDB_cursor (closed in the destructor; valid only while its txn is).
class Cursor {
 public:
  Cursor() = default;
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;
  ~Cursor() {
    if (c_ != nullptr) mdb_cursor_close(c_);
  }
  int Open(MDB_txn* txn, MDB_dbi dbi) { return mdb_cursor_open(txn, dbi, &c_); }
  MDB_cursor* get() const { return c_; }
  int Get(MDB_val* k, MDB_val* v, MDB_cursor_op op) { return mdb_cursor_get(c_, k, v, op); }

 private:
  MDB_cursor* c_ = nullptr;
};

}  // namespace etcdpp::mvcc::lmdb
