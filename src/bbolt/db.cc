#include "bbolt/db.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace etcdpp::bbolt {
namespace {

constexpr uint16_t kBranchPage = 0x01;
constexpr uint16_t kLeafPage = 0x02;
constexpr uint16_t kMetaPage = 0x04;
constexpr uint32_t kBucketLeafFlag = 0x01;
// bbolt trees are a few levels deep; nested buckets add their own levels.
constexpr int kMaxDepth = 64;
// Meta fields: magic, version, page_size, flags (4 x u32), root, sequence,
// freelist, pgid, txid (5 x u64), then the checksum over those 56 bytes.
constexpr size_t kMetaChecked = 4 * 4 + 5 * 8;

uint16_t Le16(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return static_cast<uint16_t>(u[0] | (u[1] << 8));
}
uint32_t Le32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return static_cast<uint32_t>(u[0]) | (static_cast<uint32_t>(u[1]) << 8) |
         (static_cast<uint32_t>(u[2]) << 16) | (static_cast<uint32_t>(u[3]) << 24);
}
uint64_t Le64(const char* p) {
  return static_cast<uint64_t>(Le32(p)) | (static_cast<uint64_t>(Le32(p + 4)) << 32);
}

uint64_t Fnv1a64(std::string_view s) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

Status Corrupt(std::string_view what) {
  return Status::Corruption("bbolt: " + std::string(what));
}

// Parses and validates the meta at `page` (which holds at least a header and
// kMetaChecked + 8 bytes).
Result<Meta> ParseMeta(std::string_view page) {
  if (page.size() < kPageHeaderBytes + kMetaChecked + 8) return Corrupt("file too short");
  if ((Le16(page.data() + 8) & kMetaPage) == 0) return Corrupt("page is not a meta page");
  const char* m = page.data() + kPageHeaderBytes;
  if (Le32(m) != kMagic) return Corrupt("invalid database (bad magic)");
  if (Le32(m + 4) != kVersion) return Corrupt("version mismatch");
  if (Fnv1a64({m, kMetaChecked}) != Le64(m + kMetaChecked)) return Corrupt("meta checksum error");
  Meta meta;
  meta.page_size = Le32(m + 8);
  meta.flags = Le32(m + 12);
  meta.root = Le64(m + 16);
  meta.freelist = Le64(m + 32);
  meta.pgid = Le64(m + 40);
  meta.txid = Le64(m + 48);
  if (meta.page_size < 512 || meta.page_size > (1u << 20) ||
      (meta.page_size & (meta.page_size - 1)) != 0) {
    return Corrupt("invalid page size " + std::to_string(meta.page_size));
  }
  if (meta.root >= meta.pgid || meta.pgid < 3) return Corrupt("root page above high-water mark");
  return meta;
}

}  // namespace

bool LooksLikeBbolt(std::string_view head) {
  return head.size() >= kPageHeaderBytes + 8 && Le32(head.data() + kPageHeaderBytes) == kMagic &&
         Le32(head.data() + kPageHeaderBytes + 4) == kVersion;
}

Result<Db> Db::Open(std::string_view data) {
  // Meta page 0 is at offset 0; page 1 at the page size that page 0 states
  // (if page 0 is damaged, try the common page sizes for page 1).
  Result<Meta> m0 = ParseMeta(data.substr(0, std::min<size_t>(data.size(), 4096)));
  std::vector<uint32_t> sizes;
  if (m0.ok()) sizes.push_back(m0->page_size);
  for (uint32_t s : {4096u, 8192u, 16384u, 65536u})
    if (sizes.empty() || s != sizes[0]) sizes.push_back(s);
  Result<Meta> m1 = Corrupt("no second meta page");
  for (uint32_t s : sizes) {
    if (data.size() < 2ull * s) continue;
    m1 = ParseMeta(data.substr(s, s));
    if (m1.ok() && m1->page_size == s) break;
    m1 = Corrupt("no valid second meta page");
  }
  if (m0.ok() && m1.ok() && m0->page_size != m1->page_size) m1 = Corrupt("page size differs");
  Meta meta;
  if (m0.ok() && m1.ok()) {
    meta = m0->txid >= m1->txid ? *m0 : *m1;
  } else if (m0.ok()) {
    meta = *m0;
  } else if (m1.ok()) {
    meta = *m1;
  } else {
    return m0.status();
  }
  if (meta.pgid > data.size() / meta.page_size) {
    return Corrupt("file is " + std::to_string(data.size()) + " bytes but the high-water mark is " +
                   std::to_string(meta.pgid) + " pages of " + std::to_string(meta.page_size));
  }
  return Db(data, meta);
}

Status Db::WalkPage(uint64_t pgid, int depth, const Visitor& fn) const {
  if (depth > kMaxDepth) return Corrupt("tree too deep (a cycle?)");
  if (pgid < 2 || pgid >= meta_.pgid) {
    return Corrupt("page " + std::to_string(pgid) + " out of range");
  }
  const size_t ps = meta_.page_size;
  std::string_view page = data_.substr(pgid * ps, ps);
  if (Le64(page.data()) != pgid) return Corrupt("page " + std::to_string(pgid) + " has another id");
  const uint64_t overflow = Le32(page.data() + 12);
  if (pgid + 1 + overflow > meta_.pgid) {
    return Corrupt("page " + std::to_string(pgid) + " overflows the high-water mark");
  }
  std::string_view span = data_.substr(pgid * ps, (1 + overflow) * ps);
  return WalkNode(span, "page " + std::to_string(pgid), depth, fn);
}

Status Db::WalkNode(std::string_view span, std::string_view where, int depth,
                    const Visitor& fn) const {
  if (span.size() < kPageHeaderBytes) return Corrupt(std::string(where) + ": short page");
  const uint16_t flags = Le16(span.data() + 8);
  const size_t count = Le16(span.data() + 10);
  if (kPageHeaderBytes + count * kElementBytes > span.size()) {
    return Corrupt(std::string(where) + ": element array exceeds the page");
  }
  for (size_t i = 0; i < count; i++) {
    const size_t elem = kPageHeaderBytes + i * kElementBytes;
    const char* e = span.data() + elem;
    if (flags == kBranchPage) {
      const size_t pos = Le32(e), ksize = Le32(e + 4);
      if (elem + pos + ksize > span.size()) {
        return Corrupt(std::string(where) + ": branch key exceeds the page");
      }
      ETCDPP_RETURN_IF_ERROR(WalkPage(Le64(e + 8), depth + 1, fn));
    } else if (flags == kLeafPage) {
      const uint32_t eflags = Le32(e);
      const size_t pos = Le32(e + 4), ksize = Le32(e + 8), vsize = Le32(e + 12);
      if (elem + pos + ksize + vsize > span.size()) {
        return Corrupt(std::string(where) + ": leaf element exceeds the page");
      }
      std::string_view key = span.substr(elem + pos, ksize);
      std::string_view value = span.substr(elem + pos + ksize, vsize);
      ETCDPP_RETURN_IF_ERROR(fn(key, value, (eflags & kBucketLeafFlag) != 0));
    } else {
      return Corrupt(std::string(where) + ": unexpected page flags " + std::to_string(flags));
    }
  }
  return Status::OK();
}

Status Db::WalkBucketValue(std::string_view v, const Visitor& fn) const {
  if (v.size() < kBucketHeaderBytes) return Corrupt("short bucket header");
  const uint64_t root = Le64(v.data());
  if (root != 0) return WalkPage(root, 1, fn);
  // Inline bucket: its only (leaf) page is stored after the header.
  return WalkNode(v.substr(kBucketHeaderBytes), "inline bucket", 1, fn);
}

Status Db::ForEachRoot(const Visitor& fn) const {
  return WalkPage(meta_.root, 0, fn);
}

Status Db::ForEach(std::string_view name, const Visitor& fn) const {
  bool found = false;
  Status st = ForEachRoot([&](std::string_view k, std::string_view v, bool is_bucket) -> Status {
    if (!is_bucket || k != name) return Status::OK();
    found = true;
    return WalkBucketValue(v, fn);
  });
  if (!st.ok()) return st;
  if (!found) return Status::NotFound("bbolt: bucket " + std::string(name) + " not found");
  return Status::OK();
}

Result<std::vector<std::string>> Db::Buckets() const {
  std::vector<std::string> out;
  ETCDPP_RETURN_IF_ERROR(ForEachRoot([&](std::string_view k, std::string_view, bool is_bucket) {
    if (is_bucket) out.emplace_back(k);
    return Status::OK();
  }));
  return out;
}

bool Db::HasBucket(std::string_view name) const {
  auto b = Buckets();
  if (!b.ok()) return false;
  for (const auto& n : *b)
    if (n == name) return true;
  return false;
}

Result<std::string> Db::Get(std::string_view name, std::string_view key) const {
  std::string out;
  bool found = false;
  ETCDPP_RETURN_IF_ERROR(ForEach(name, [&](std::string_view k, std::string_view v, bool) {
    if (k == key) {
      out.assign(v);
      found = true;
    }
    return Status::OK();
  }));
  if (!found) return Status::NotFound("bbolt: key not found in bucket " + std::string(name));
  return out;
}

Result<std::unique_ptr<MappedFile>> MappedFile::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::IOError("open " + path + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    return Status::IOError("stat " + path + ": " + std::strerror(e));
  }
  size_t size = static_cast<size_t>(st.st_size);
  void* addr = nullptr;
  if (size > 0) {
    addr = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (addr == MAP_FAILED) {
      int e = errno;
      ::close(fd);
      return Status::IOError("mmap " + path + ": " + std::strerror(e));
    }
  }
  ::close(fd);  // the mapping stays valid
  return std::unique_ptr<MappedFile>(new MappedFile(addr, size));
}

MappedFile::~MappedFile() {
  if (addr_ != nullptr) ::munmap(addr_, size_);
}

}  // namespace etcdpp::bbolt
