// e2e helper: corrupts a stopped etcdpp member's store the way a bad disk or a
// bug would, without breaking LMDB itself: the value bytes of the newest row
// of the `key` table are changed in place (same length, still a parseable
// KeyValue). The member then starts fine but its HashKV differs from its
// peers', which the corruption checks must notice.
//
//   corrupt_store <data-dir>        (the member's --data-dir; it must be stopped)
#include <lmdb.h>

#include <cstdio>
#include <string>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <data-dir>\n", argv[0]);
    return 2;
  }
  const std::string dir = std::string(argv[1]) + "/member/snap/db";
  MDB_env* env = nullptr;
  MDB_txn* txn = nullptr;
  MDB_dbi dbi;
  MDB_cursor* cur = nullptr;
  MDB_val k, v;
  int rc = mdb_env_create(&env);
  if (rc == 0) rc = mdb_env_set_maxdbs(env, 32);
  if (rc == 0) rc = mdb_env_set_mapsize(env, size_t{8} << 30);
  if (rc == 0) rc = mdb_env_open(env, dir.c_str(), 0, 0600);
  if (rc == 0) rc = mdb_txn_begin(env, nullptr, 0, &txn);
  if (rc == 0) rc = mdb_dbi_open(txn, "key", 0, &dbi);
  if (rc == 0) rc = mdb_cursor_open(txn, dbi, &cur);
  if (rc == 0) rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
  if (rc != 0) {
    std::fprintf(stderr, "corrupt_store: %s: %s\n", dir.c_str(), mdb_strerror(rc));
    return 1;
  }
  std::string value(static_cast<const char*>(v.mv_data), v.mv_size);
  // The serialized KeyValue ends with its value bytes (field 5) for a put
  // without a lease: flipping the last byte keeps the encoding valid.
  value.back() = static_cast<char>(value.back() ^ 0x01);
  std::string key(static_cast<const char*>(k.mv_data), k.mv_size);
  mdb_cursor_close(cur);
  MDB_val nk{key.size(), key.data()}, nv{value.size(), value.data()};
  rc = mdb_put(txn, dbi, &nk, &nv, 0);
  if (rc == 0) rc = mdb_txn_commit(txn);
  mdb_env_close(env);
  if (rc != 0) {
    std::fprintf(stderr, "corrupt_store: write: %s\n", mdb_strerror(rc));
    return 1;
  }
  std::printf("corrupted the row of revision key of %zu bytes in %s\n", key.size(), dir.c_str());
  return 0;
}
