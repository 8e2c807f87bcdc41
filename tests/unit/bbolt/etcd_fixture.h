// A real etcd 3.4 (Debian's /usr/bin/etcd) run once per test binary to make
// a bbolt snapshot with a known history, plus what etcd served for it (the
// ground truth the reader and the importer are compared with).
//
// History (one member, random loopback ports, a temp dir removed at exit):
// many keys in multi-put txns (branch pages), overwrites (versions), single
// and range deletes (tombstones), values of 20 KB and 200 KB (overflow
// pages), a 1000-byte key (etcdpp's long-key path), leases with keys and a
// revoked one, a compaction, more writes after it; then `etcdctl snapshot
// save` and `etcdctl snapshot status -w json`.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "etcdserverpb/rpc.pb.h"

namespace etcdpp::testing {

struct EtcdSnapshot {
  bool available = false;  // false: no etcd binary (tests skip)
  std::string error;       // set when generation failed
  std::string path;        // the snapshot file (with its SHA-256 trailer)
  int64_t revision = 0;    // current revision when the snapshot was taken
  int64_t compact_rev = 0;
  // Range of everything at each revision from compact_rev to revision.
  std::map<int64_t, std::vector<mvccpb::KeyValue>> kvs_at;
  // Live leases: id -> granted TTL.
  std::map<int64_t, int64_t> leases;
  // `etcdctl snapshot status -w json`.
  uint32_t status_hash = 0;
  int64_t status_revision = 0;
  int64_t status_total_key = 0;
  int64_t status_total_size = 0;
};

// Generated on first use (takes a few seconds); the same object afterwards.
const EtcdSnapshot& GetEtcdSnapshot();

}  // namespace etcdpp::testing
