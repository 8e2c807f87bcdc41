#include "tools/utl/defrag.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "tools/utl/store_edit.h"

namespace etcdpp::utl {
namespace {

int64_t FileSize(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_size) : -1;
}

}  // namespace

Result<DefragResult> DefragDataDir(const std::string& data_dir) {
  const std::string db_dir = data_dir + "/member/snap/db";
  const std::string data = db_dir + "/data.mdb";
  const std::string tmp = db_dir + "/data.mdb.defrag";
  DefragResult r;
  ETCDPP_ASSIGN_OR_RETURN(auto env, RawEnv::OpenDir(db_dir));
  r.size_before_bytes = FileSize(data);
  ::unlink(tmp.c_str());  // a leftover of an interrupted defrag
  ETCDPP_RETURN_IF_ERROR(CompactCopy(*env, tmp));
  // No LMDB handle may remain on the old file when it is replaced; the
  // directory lock stays held until the swap is durable.
  env->CloseEnvKeepLock();
  if (::rename(tmp.c_str(), data.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return Status::IOError("rename " + tmp + ": " + std::strerror(e));
  }
  ::unlink((db_dir + "/lock.mdb").c_str());
  // The rename is durable only once the directory is synced.
  ETCDPP_RETURN_IF_ERROR(FsyncPath(db_dir));
  r.size_after_bytes = FileSize(data);
  return r;
}

}  // namespace etcdpp::utl
