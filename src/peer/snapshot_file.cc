#include "peer/snapshot_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "common/crc32c.h"

namespace etcdpp::peer {
namespace {

Status Errno(std::string_view what, const std::string& path) {
  return Status::IOError(std::string(what) + " " + path + ": " + std::strerror(errno));
}

}  // namespace

std::string SnapshotDbFileName(uint64_t term, uint64_t index) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%016" PRIx64 "-%016" PRIx64 ".snap.db", term, index);
  return buf;
}

Result<std::unique_ptr<SnapshotFileWriter>> SnapshotFileWriter::Create(const std::string& dir,
                                                                       uint64_t term,
                                                                       uint64_t index) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::IOError("create snapshot dir " + dir + ": " + ec.message());
  std::string tmp = dir + "/" + std::to_string(index) + ".snap.db.tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Errno("create", tmp);
  return std::unique_ptr<SnapshotFileWriter>(
      new SnapshotFileWriter(dir, tmp, dir + "/" + SnapshotDbFileName(term, index), fd));
}

SnapshotFileWriter::SnapshotFileWriter(std::string dir, std::string tmp_path,
                                       std::string final_path, int fd)
    : dir_(std::move(dir)),
      tmp_path_(std::move(tmp_path)),
      final_path_(std::move(final_path)),
      fd_(fd) {}

SnapshotFileWriter::~SnapshotFileWriter() {
  if (!committed_) Discard();
}

void SnapshotFileWriter::Discard() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  ::unlink(tmp_path_.c_str());
}

Status SnapshotFileWriter::Append(std::string_view data) {
  const char* p = data.data();
  size_t left = data.size();
  while (left > 0) {
    ssize_t n = ::write(fd_, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno("write", tmp_path_);
    p += n;
    left -= static_cast<size_t>(n);
  }
  crc_ = crc32c::Extend(crc_, data.data(), data.size());
  size_ += data.size();
  return Status::OK();
}

Result<std::string> SnapshotFileWriter::Commit(uint64_t expected_size, uint32_t expected_crc32c) {
  if (size_ != expected_size) {
    Discard();
    return Status(Code::kDataLoss, "snapshot size mismatch: received " + std::to_string(size_) +
                                       " bytes, sender says " + std::to_string(expected_size));
  }
  if (crc_ != expected_crc32c) {
    Discard();
    return Status(Code::kDataLoss, "snapshot checksum mismatch");
  }
  // fsync before rename: the final name must never point at a file whose data is not on disk,
  // because raft treats the snapshot as installed once ProcessSnapshot has it; after a crash
  // the member would restore from a torn file.
  if (::fsync(fd_) != 0) {
    Status st = Errno("fsync", tmp_path_);
    Discard();
    return st;
  }
  ::close(fd_);
  fd_ = -1;
  if (::rename(tmp_path_.c_str(), final_path_.c_str()) != 0) {
    Status st = Errno("rename", tmp_path_);
    Discard();
    return st;
  }
  committed_ = true;
  // fsync the directory: makes the rename itself durable, so the file exists under its final
  // name after a crash once we have acknowledged it.
  int dfd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0 || ::fsync(dfd) != 0) {
    Status st = Errno("fsync dir", dir_);
    if (dfd >= 0) ::close(dfd);
    ::unlink(final_path_.c_str());
    return st;
  }
  ::close(dfd);
  return final_path_;
}

}  // namespace etcdpp::peer
