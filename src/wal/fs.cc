#include "wal/fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace etcdpp::wal {
namespace {

Status Errno(std::string_view what, const std::string& path, int err) {
  return Status::IOError(std::string(what) + " " + path + ": " + std::strerror(err));
}

class PosixFile final : public File {
 public:
  PosixFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~PosixFile() override { ::close(fd_); }

  Status WriteAt(uint64_t offset, std::string_view data) override {
    while (!data.empty()) {
      ssize_t n = ::pwrite(fd_, data.data(), data.size(), static_cast<off_t>(offset));
      if (n < 0) {
        if (errno == EINTR) continue;
        return Errno("write", path_, errno);
      }
      if (n == 0) return Errno("write", path_, ENOSPC);
      data.remove_prefix(static_cast<size_t>(n));
      offset += static_cast<uint64_t>(n);
    }
    return Status::OK();
  }

  Status ReadAll(std::string* out) override {
    ETCDPP_ASSIGN_OR_RETURN(uint64_t size, Size());
    out->assign(size, '\0');
    uint64_t done = 0;
    while (done < size) {
      ssize_t n = ::pread(fd_, out->data() + done, size - done, static_cast<off_t>(done));
      if (n < 0) {
        if (errno == EINTR) continue;
        return Errno("read", path_, errno);
      }
      if (n == 0) break;  // shrank under us: what we have is the file
      done += static_cast<uint64_t>(n);
    }
    out->resize(done);
    return Status::OK();
  }

  Status Sync() override {
    if (::fdatasync(fd_) != 0) return Errno("fdatasync", path_, errno);
    return Status::OK();
  }

  Status Truncate(uint64_t size) override {
    if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) return Errno("ftruncate", path_, errno);
    return Status::OK();
  }

  Status Preallocate(uint64_t size) override {
    // Mode 0 extends the file size too, so later writes inside [0, size) never
    // change it and fdatasync has no size to flush.
    if (::fallocate(fd_, 0, 0, static_cast<off_t>(size)) == 0) return Status::OK();
    int err = errno;
    if (err == EOPNOTSUPP || err == ENOSYS || err == EINVAL) {
      // No fallocate on this file system (etcd does the same): a sparse extension
      // still reads as zeros, which is all the reader relies on.
      ETCDPP_ASSIGN_OR_RETURN(uint64_t cur, Size());
      if (cur >= size) return Status::OK();
      return Truncate(size);
    }
    return Errno("fallocate", path_, err);
  }

  Result<uint64_t> Size() override {
    struct stat st;
    if (::fstat(fd_, &st) != 0) return Errno("fstat", path_, errno);
    return static_cast<uint64_t>(st.st_size);
  }

 private:
  int fd_;
  std::string path_;
};

class PosixDirLock final : public DirLock {
 public:
  explicit PosixDirLock(int fd) : fd_(fd) {}
  ~PosixDirLock() override { ::close(fd_); }  // closing drops the flock

 private:
  int fd_;
};

class PosixFs final : public Fs {
 public:
  Result<std::unique_ptr<File>> OpenFile(const std::string& path, bool create) override {
    int flags = O_RDWR | O_CLOEXEC | (create ? O_CREAT | O_EXCL : 0);
    int fd = ::open(path.c_str(), flags, 0600);
    if (fd < 0) {
      if (errno == ENOENT) return Status::NotFound("open " + path + ": no such file");
      return Errno("open", path, errno);
    }
    return std::unique_ptr<File>(new PosixFile(fd, path));
  }

  Result<std::vector<std::string>> ListDir(const std::string& dir) override {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) {
      if (errno == ENOENT) return Status::NotFound("no such directory " + dir);
      return Errno("opendir", dir, errno);
    }
    std::vector<std::string> names;
    while (struct dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") names.push_back(std::move(n));
    }
    ::closedir(d);
    return names;
  }

  Status CreateDir(const std::string& dir) override {
    // mkdir -p: create each missing component.
    for (size_t pos = 1; pos <= dir.size(); ++pos) {
      if (pos != dir.size() && dir[pos] != '/') continue;
      std::string part = dir.substr(0, pos);
      if (::mkdir(part.c_str(), 0700) != 0 && errno != EEXIST) return Errno("mkdir", part, errno);
    }
    struct stat st;
    if (::stat(dir.c_str(), &st) != 0) return Errno("stat", dir, errno);
    if (!S_ISDIR(st.st_mode)) return Status::FailedPrecondition(dir + " is not a directory");
    if (::chmod(dir.c_str(), 0700) != 0) return Errno("chmod", dir, errno);
    return Status::OK();
  }

  Status Rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return Errno("rename", from, errno);
    return Status::OK();
  }

  Status Remove(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return Errno("unlink", path, errno);
    return Status::OK();
  }

  Status SyncDir(const std::string& dir) override {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return Errno("open", dir, errno);
    int rc = ::fsync(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0) return Errno("fsync", dir, err);
    return Status::OK();
  }

  Result<std::unique_ptr<DirLock>> LockDir(const std::string& dir) override {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return Errno("open", dir, errno);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int err = errno;
      ::close(fd);
      if (err == EWOULDBLOCK) {
        return Status::FailedPrecondition("wal: " + dir + " is locked by another user");
      }
      return Errno("flock", dir, err);
    }
    return std::unique_ptr<DirLock>(new PosixDirLock(fd));
  }
};

}  // namespace

Fs* DefaultFs() {
  static PosixFs* fs = new PosixFs();  // never destroyed: usable during static teardown
  return fs;
}

}  // namespace etcdpp::wal
