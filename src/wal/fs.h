// The file-system layer the WAL goes through: the real one (POSIX) in
// production, a wrapper that injects ENOSPC/EIO or counts syncs in tests
// (leveldb's Env idea). Only what the WAL needs, nothing more.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace etcdpp::wal {

// An open file, read/write. Not thread-safe.
class File {
 public:
  virtual ~File() = default;
  // Writes all of `data` at `offset` or returns kIOError (a short write may
  // have stored a prefix).
  virtual Status WriteAt(uint64_t offset, std::string_view data) = 0;
  // Replaces *out with the whole file (sized by fstat, never by file contents).
  virtual Status ReadAll(std::string* out) = 0;
  virtual Status Sync() = 0;  // fdatasync
  virtual Status Truncate(uint64_t size) = 0;
  // Best effort: reserves [0, size) so appends do not hit ENOSPC and leave
  // the size fixed (fallocate; falls back to a sparse ftruncate). An error
  // means "no preallocation", never a half-made file.
  virtual Status Preallocate(uint64_t size) = 0;
  virtual Result<uint64_t> Size() = 0;
};

// Held until destroyed.
class DirLock {
 public:
  virtual ~DirLock() = default;
};

class Fs {
 public:
  virtual ~Fs() = default;
  // Opens `path` read/write; with `create` the file must not exist yet (O_EXCL), mode 0600.
  virtual Result<std::unique_ptr<File>> OpenFile(const std::string& path, bool create) = 0;
  // Names (not paths) of the entries of `dir`; kNotFound if dir does not exist.
  virtual Result<std::vector<std::string>> ListDir(const std::string& dir) = 0;
  // mkdir -p with mode 0700; an existing dir is chmod'ed to 0700.
  virtual Status CreateDir(const std::string& dir) = 0;
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  virtual Status Remove(const std::string& path) = 0;
  virtual Status SyncDir(const std::string& dir) = 0;
  // Exclusive, non-blocking flock on the directory; kFailedPrecondition if taken.
  virtual Result<std::unique_ptr<DirLock>> LockDir(const std::string& dir) = 0;
};

// The process-wide POSIX implementation.
Fs* DefaultFs();

}  // namespace etcdpp::wal
