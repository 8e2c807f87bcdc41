// Receiving a snapshot's db file durably: written to a tmp name, checked, fsynced, renamed.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace etcdpp::peer {

// "<16-hex term>-<16-hex index>.snap.db"
std::string SnapshotDbFileName(uint64_t term, uint64_t index);

class SnapshotFileWriter {
 public:
  // Creates (truncating) <dir>/<index>.snap.db.tmp; `dir` is created if missing.
  static Result<std::unique_ptr<SnapshotFileWriter>> Create(const std::string& dir, uint64_t term,
                                                            uint64_t index);
  ~SnapshotFileWriter();  // deletes the tmp file unless Commit succeeded
  SnapshotFileWriter(const SnapshotFileWriter&) = delete;
  SnapshotFileWriter& operator=(const SnapshotFileWriter&) = delete;

  Status Append(std::string_view data);
  // Checks size and CRC-32C against what was appended, fsyncs, renames to the final name and
  // fsyncs the directory. Returns the final path. On error the tmp file is gone.
  Result<std::string> Commit(uint64_t expected_size, uint32_t expected_crc32c);

 private:
  SnapshotFileWriter(std::string dir, std::string tmp_path, std::string final_path, int fd);
  void Discard();

  std::string dir_, tmp_path_, final_path_;
  int fd_ = -1;
  uint64_t size_ = 0;
  uint32_t crc_ = 0;
  bool committed_ = false;
};

}  // namespace etcdpp::peer
