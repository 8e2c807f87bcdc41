// Helpers for the WAL tests: temp dirs, raw file surgery in leveldb
// log_test.cc style, and FaultFs, a file layer that injects ENOSPC/EIO and
// counts syncs.
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "wal/fs.h"
#include "wal/record.h"
#include "wal/segment_name.h"
#include "wal/wal.h"

namespace etcdpp::wal::testing {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/wal_test.XXXXXX";
    char* p = ::mkdtemp(tmpl);
    EXPECT_NE(p, nullptr);
    root_ = p;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  const std::string& root() const { return root_; }
  std::string wal() const { return root_ + "/wal"; }

 private:
  std::string root_;
};

inline raft::Entry MakeEntry(uint64_t term, uint64_t index, std::string data,
                             raft::EntryType type = raft::EntryType::kNormal) {
  return raft::Entry{term, index, type, std::move(data)};
}

inline std::string ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void WriteFileBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Paths of the segments in dir, oldest first.
inline std::vector<std::string> SegmentPaths(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    names.push_back(e.path().filename().string());
  }
  std::vector<std::string> out;
  for (const auto& id : SegmentsIn(names))
    out.push_back(dir + "/" + SegmentName(id));
  return out;
}

struct RecordPos {
  uint64_t offset;
  uint64_t size;  // header + payload
  uint8_t type;
};

// Walks the records of a well-formed segment up to its zero tail.
inline std::vector<RecordPos> RecordsOf(const std::string& path) {
  std::string b = ReadFileBytes(path);
  std::vector<RecordPos> out;
  uint64_t off = 0;
  while (off + kHeaderSize <= b.size()) {
    RecordHeader h = DecodeHeader(b.data() + off);
    if (h.type == 0) break;
    out.push_back({off, kHeaderSize + h.length, h.type});
    off += kHeaderSize + h.length;
  }
  return out;
}

inline void FlipByte(const std::string& path, uint64_t offset, uint8_t mask = 0x40) {
  std::string b = ReadFileBytes(path);
  ASSERT_LT(offset, b.size());
  b[offset] = static_cast<char>(b[offset] ^ mask);
  WriteFileBytes(path, b);
}

inline void SetBytes(const std::string& path, uint64_t offset, const std::string& bytes) {
  std::string b = ReadFileBytes(path);
  ASSERT_LE(offset + bytes.size(), b.size());
  b.replace(offset, bytes.size(), bytes);
  WriteFileBytes(path, b);
}

inline void TruncateFile(const std::string& path, uint64_t size) {
  std::filesystem::resize_file(path, size);
}

// Opens dir at snap and reads it all.
inline Result<ReadResult> ReadBack(const std::string& dir, WalSnapshot snap = {},
                                   const Options& opts = {}) {
  auto w = Wal::Open(dir, snap, opts);
  if (!w.ok()) return w.status();
  auto r = (*w)->ReadAll();
  (void)(*w)->Close();
  return r;
}

// Copies a WAL dir (to replay damage from the same starting point).
inline void CopyDir(const std::string& from, const std::string& to) {
  std::filesystem::remove_all(to);
  std::filesystem::copy(from, to);
}

// --- Fault injection ---------------------------------------------------------

class FaultFs;

class FaultFile final : public File {
 public:
  FaultFile(std::unique_ptr<File> base, FaultFs* fs) : base_(std::move(base)), fs_(fs) {}
  Status WriteAt(uint64_t offset, std::string_view data) override;
  Status ReadAll(std::string* out) override { return base_->ReadAll(out); }
  Status Sync() override;
  Status Truncate(uint64_t size) override;
  Status Preallocate(uint64_t size) override;
  Result<uint64_t> Size() override { return base_->Size(); }

 private:
  std::unique_ptr<File> base_;
  FaultFs* fs_;
};

class FaultFs final : public Fs {
 public:
  // Bytes that may still be written; a write beyond stores the prefix that fits
  // and fails with ENOSPC (a short write). Negative: unlimited.
  int64_t write_budget = -1;
  bool fail_sync = false;      // fdatasync returns EIO
  bool fail_truncate = false;  // the roll-back cannot truncate
  bool no_prealloc = false;    // preallocation unsupported (files grow on append)
  int syncs = 0;
  int dir_syncs = 0;
  int writes = 0;

  Result<std::unique_ptr<File>> OpenFile(const std::string& path, bool create) override {
    auto f = base_->OpenFile(path, create);
    if (!f.ok()) return f.status();
    return std::unique_ptr<File>(new FaultFile(std::move(f).value(), this));
  }
  Result<std::vector<std::string>> ListDir(const std::string& dir) override {
    return base_->ListDir(dir);
  }
  Status CreateDir(const std::string& dir) override { return base_->CreateDir(dir); }
  Status Rename(const std::string& from, const std::string& to) override {
    return base_->Rename(from, to);
  }
  Status Remove(const std::string& path) override { return base_->Remove(path); }
  Status SyncDir(const std::string& dir) override {
    ++dir_syncs;
    return base_->SyncDir(dir);
  }
  Result<std::unique_ptr<DirLock>> LockDir(const std::string& dir) override {
    return base_->LockDir(dir);
  }

 private:
  Fs* base_ = DefaultFs();
};

inline Status FaultFile::WriteAt(uint64_t offset, std::string_view data) {
  ++fs_->writes;
  if (fs_->write_budget >= 0 && static_cast<int64_t>(data.size()) > fs_->write_budget) {
    std::string_view prefix = data.substr(0, static_cast<size_t>(fs_->write_budget));
    fs_->write_budget = 0;
    if (!prefix.empty()) (void)base_->WriteAt(offset, prefix);
    return Status::IOError("write: No space left on device (injected)");
  }
  if (fs_->write_budget >= 0) fs_->write_budget -= static_cast<int64_t>(data.size());
  return base_->WriteAt(offset, data);
}

inline Status FaultFile::Sync() {
  ++fs_->syncs;
  if (fs_->fail_sync) return Status::IOError("fdatasync: Input/output error (injected)");
  return base_->Sync();
}

inline Status FaultFile::Truncate(uint64_t size) {
  if (fs_->fail_truncate) return Status::IOError("ftruncate: Input/output error (injected)");
  return base_->Truncate(size);
}

inline Status FaultFile::Preallocate(uint64_t size) {
  if (fs_->no_prealloc) return Status::IOError("fallocate: not supported (injected)");
  return base_->Preallocate(size);
}

}  // namespace etcdpp::wal::testing
