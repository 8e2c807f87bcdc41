#include "tools/utl/snapshot_file.h"

#include <openssl/evp.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

namespace etcdpp::utl {
namespace {

// LMDB's meta page: a 16-byte page header, then MDB_meta whose first field
// is the magic number.
constexpr uint32_t kLmdbMagic = 0xBEEFC0DE;
constexpr size_t kLmdbMetaOffset = 16;

uint32_t Le32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return static_cast<uint32_t>(u[0]) | (static_cast<uint32_t>(u[1]) << 8) |
         (static_cast<uint32_t>(u[2]) << 16) | (static_cast<uint32_t>(u[3]) << 24);
}

// Go's fmt %v of a []byte: "[1 2 3]".
std::string GoBytes(std::string_view b) {
  std::string out = "[";
  for (size_t i = 0; i < b.size(); i++) {
    if (i) out += ' ';
    out += std::to_string(static_cast<unsigned char>(b[i]));
  }
  return out + "]";
}

}  // namespace

const char* FormatName(SnapshotFormat f) {
  switch (f) {
    case SnapshotFormat::kLmdb:
      return "etcdpp (LMDB)";
    case SnapshotFormat::kBbolt:
      return "etcd (bbolt)";
    default:
      return "unknown";
  }
}

std::string Sha256(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), md, &n, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<char*>(md), n);
}

Result<SnapshotFile> OpenSnapshotFile(const std::string& path) {
  SnapshotFile f;
  f.path = path;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    // Go's os.Stat error text, as etcdutl prints it.
    const std::string err = errno == ENOENT ? "no such file or directory" : std::strerror(errno);
    return Status::NotFound("stat " + path + ": " + err);
  }
  auto m = bbolt::MappedFile::Open(path);
  if (!m.ok()) return m.status();
  f.map = std::move(m).value();
  std::string_view all = f.map->data();
  f.payload = all;
  if (HasChecksum(all.size())) {
    f.payload = all.substr(0, all.size() - kSha256Bytes);
    f.digest = all.substr(all.size() - kSha256Bytes);
  }
  if (bbolt::LooksLikeBbolt(f.payload)) {
    f.format = SnapshotFormat::kBbolt;
  } else if (f.payload.size() >= kLmdbMetaOffset + 4 &&
             Le32(f.payload.data() + kLmdbMetaOffset) == kLmdbMagic) {
    f.format = SnapshotFormat::kLmdb;
  }
  return f;
}

Status VerifyHash(const SnapshotFile& f, bool skip_hash_check) {
  if (skip_hash_check) return Status::OK();
  if (f.digest.empty()) {
    return Status::InvalidArgument("snapshot missing hash but --skip-hash-check=false");
  }
  std::string got = Sha256(f.payload);
  if (got != f.digest) {
    return Status::Corruption("expected sha256 " + GoBytes(f.digest) + ", got " + GoBytes(got));
  }
  return Status::OK();
}

}  // namespace etcdpp::utl
