// `defrag --data-dir`: offline defragmentation of a stopped member's store.
// A compacting LMDB copy of <data-dir>/member/snap/db/data.mdb is written
// next to it and fsynced, then renamed over it and the directory fsynced, all
// under the store's lock (a running etcdpp holds it: kUnavailable). LMDB's
// lock.mdb (reader table of the old file) is removed; the next opener
// recreates it. A crash leaves either the old file or the new one.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace etcdpp::utl {

struct DefragResult {
  int64_t size_before_bytes = 0;
  int64_t size_after_bytes = 0;
};

Result<DefragResult> DefragDataDir(const std::string& data_dir);

}  // namespace etcdpp::utl
