#include "tools/utl/restore.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "etcdpp/internal.pb.h"
#include "membership/initial_cluster.h"
#include "membership/member.h"
#include "mvcc/store.h"
#include "server/bootstrap.h"
#include "server/ids.h"
#include "tools/utl/store_edit.h"
#include "wal/wal.h"

namespace etcdpp::utl {
namespace {

constexpr mode_t kDirMode = 0700;  // etcd: data dirs are private

std::vector<std::string> SplitComma(const std::string& s) {
  std::vector<std::string> out;
  size_t pos = 0;
  for (;;) {
    size_t c = s.find(',', pos);
    out.push_back(s.substr(pos, c == std::string::npos ? std::string::npos : c - pos));
    if (c == std::string::npos) break;
    pos = c + 1;
  }
  return out;
}

bool Exists(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0;
}

// etcd fileutil.DirEmpty: true if the directory has no entries (or cannot be read: false).
bool DirEmpty(const std::string& p) {
  DIR* d = opendir(p.c_str());
  if (d == nullptr) return false;
  bool empty = true;
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") {
      empty = false;
      break;
    }
  }
  closedir(d);
  return empty;
}

// mkdir -p with private permissions; records the directories it created.
Status MakeDirs(const std::string& dir, std::vector<std::string>* created) {
  std::string path;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = dir.find('/', pos + 1);
    path = dir.substr(0, pos);
    if (path.empty() || Exists(path)) continue;
    if (::mkdir(path.c_str(), kDirMode) != 0 && errno != EEXIST) {
      return Status::IOError("mkdir " + path + ": " + std::strerror(errno));
    }
    created->push_back(path);
  }
  return Status::OK();
}

// Copies `data` into a new file at `path` and fsyncs it.
Status WriteFileSynced(const std::string& path, std::string_view data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IOError("create " + path + ": " + std::strerror(errno));
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, std::min<size_t>(data.size() - off, 1 << 20));
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      return Status::IOError("write " + path + ": " + std::strerror(e));
    }
    off += static_cast<size_t>(n);
  }
  // The store is opened from this file next; it must be durable before the
  // WAL that points at it is written.
  if (::fsync(fd) != 0) {
    int e = errno;
    ::close(fd);
    return Status::IOError("fsync " + path + ": " + std::strerror(e));
  }
  ::close(fd);
  return Status::OK();
}

struct Membership {
  server::Identity id;
  std::vector<membership::Member> members;
};

Result<Membership> BuildMembership(const RestoreConfig& cfg) {
  config::ServerConfig sc;
  sc.name = cfg.name;
  sc.initial_cluster = cfg.initial_cluster;
  sc.initial_cluster_token = cfg.initial_cluster_token;
  sc.initial_advertise_peer_urls = SplitComma(cfg.initial_advertise_peer_urls);
  ETCDPP_ASSIGN_OR_RETURN(auto urls, membership::ParseInitialCluster(cfg.initial_cluster));
  ETCDPP_RETURN_IF_ERROR(membership::CheckHasLocalMember(urls, cfg.name));
  Membership m;
  // Checks --initial-cluster against --initial-advertise-peer-urls (etcd
  // VerifyBootstrap) and derives the ids as etcd does.
  ETCDPP_ASSIGN_OR_RETURN(m.id, server::BootstrapIdentity(sc));
  const std::string token = cfg.initial_cluster_token;
  ETCDPP_ASSIGN_OR_RETURN(
      m.members, membership::BuildInitialMembers(urls, [&](const std::vector<std::string>& u) {
        return server::ComputeMemberId(u, token);
      }));
  return m;
}

// The store part: membership replaced, consistent index = N at term 1.
Status FinishStore(const std::string& db_dir, const Membership& m, uint64_t bump,
                   RestoreResult* res) {
  ETCDPP_RETURN_IF_ERROR(PrepareRestoredStore(db_dir, bump));
  ETCDPP_ASSIGN_OR_RETURN(auto store, mvcc::Store::Open(db_dir));
  {
    ETCDPP_ASSIGN_OR_RETURN(auto batch, store->BeginBatch());
    ETCDPP_ASSIGN_OR_RETURN(auto old, batch->Members());
    for (const auto& [id, enc] : old)
      ETCDPP_RETURN_IF_ERROR(batch->DeleteMember(id));
    for (const auto& mem : m.members)
      ETCDPP_RETURN_IF_ERROR(batch->PutMember(mem.id, membership::Encode(mem)));
    batch->SetConsistentIndex(m.members.size(), 1);
    ETCDPP_RETURN_IF_ERROR(batch->Commit());
  }
  // --bump-revision: what the mark made compacted is freed now rather than
  // at the server's first start.
  ETCDPP_RETURN_IF_ERROR(store->RunCompaction());
  ETCDPP_RETURN_IF_ERROR(store->Sync());
  res->revision = store->CurrentRev();
  res->consistent_index = store->ConsistentIndex();
  return Status::OK();
}

Status WriteWal(const std::string& wal_dir, const Membership& m) {
  internalpb::WalMetadata md;
  md.set_node_id(m.id.member_id);
  md.set_cluster_id(m.id.cluster_id);
  ETCDPP_ASSIGN_OR_RETURN(auto w, wal::Wal::Create(wal_dir, md.SerializeAsString()));
  auto entries = server::InitialConfChangeEntries(m.members);
  const uint64_t n = entries.size();
  // Save fdatasyncs; SaveSnapshot fsyncs the marker.
  ETCDPP_RETURN_IF_ERROR(w->Save(raft::HardState{1, 0, n}, entries, /*sync=*/true));
  ETCDPP_RETURN_IF_ERROR(w->SaveSnapshot(wal::WalSnapshot{n, 1}));
  return w->Close();
}

Status RestoreInto(const RestoreConfig& cfg, const Membership& m, const SnapshotFile& snap,
                   RestoreResult* res, std::vector<std::string>* created) {
  const std::string member_dir = res->data_dir + "/member";
  const std::string snap_dir = member_dir + "/snap";
  const std::string db_dir = snap_dir + "/db";
  ETCDPP_RETURN_IF_ERROR(MakeDirs(db_dir, created));
  if (snap.format == SnapshotFormat::kLmdb) {
    ETCDPP_RETURN_IF_ERROR(WriteFileSynced(db_dir + "/data.mdb", snap.payload));
  } else {
    ETCDPP_ASSIGN_OR_RETURN(bbolt::Db db, bbolt::Db::Open(snap.payload));
    ETCDPP_RETURN_IF_ERROR(ImportBbolt(db, db_dir, &res->import));
  }
  // The new directory entries must survive a crash too.
  for (const auto& d : {db_dir, snap_dir, member_dir, res->data_dir})
    ETCDPP_RETURN_IF_ERROR(FsyncPath(d));
  ETCDPP_RETURN_IF_ERROR(FinishStore(db_dir, m, cfg.bump_revision, res));
  if (!cfg.wal_dir.empty()) {
    std::string parent = std::filesystem::path(res->wal_dir).parent_path().string();
    if (!parent.empty()) ETCDPP_RETURN_IF_ERROR(MakeDirs(parent, created));
  }
  if (cfg.wal_dir.empty() || !Exists(res->wal_dir)) created->push_back(res->wal_dir);
  return WriteWal(res->wal_dir, m);
}

}  // namespace

Result<RestoreResult> Restore(const RestoreConfig& cfg) {
  if ((cfg.bump_revision == 0 && cfg.mark_compacted) ||
      (cfg.bump_revision > 0 && !cfg.mark_compacted)) {
    return Status::InvalidArgument("--mark-compacted required if --revision-bump > 0");
  }
  ETCDPP_ASSIGN_OR_RETURN(Membership m, BuildMembership(cfg));
  RestoreResult res;
  res.member_id = m.id.member_id;
  res.cluster_id = m.id.cluster_id;
  res.data_dir = cfg.data_dir.empty() ? cfg.name + ".etcd" : cfg.data_dir;
  if (Exists(res.data_dir) && !DirEmpty(res.data_dir)) {
    return Status::FailedPrecondition("data-dir \"" + res.data_dir +
                                      "\" not empty or could not be read");
  }
  res.wal_dir = cfg.wal_dir.empty() ? res.data_dir + "/member/wal" : cfg.wal_dir;
  if (!cfg.wal_dir.empty() && Exists(cfg.wal_dir)) {
    return Status::FailedPrecondition("wal-dir \"" + cfg.wal_dir + "\" exists");
  }
  ETCDPP_ASSIGN_OR_RETURN(SnapshotFile snap, OpenSnapshotFile(cfg.snapshot_path));
  ETCDPP_RETURN_IF_ERROR(VerifyHash(snap, cfg.skip_hash_check));
  if (snap.format == SnapshotFormat::kUnknown) {
    return Status::InvalidArgument("file " + cfg.snapshot_path +
                                   " is neither an etcdpp (LMDB) nor an etcd (bbolt) snapshot");
  }
  res.format = snap.format;
  std::vector<std::string> created;
  const bool data_dir_existed = Exists(res.data_dir);
  Status st = RestoreInto(cfg, m, snap, &res, &created);
  if (!st.ok()) {
    // Leave nothing half-made behind: a later server start must not find it.
    std::error_code ec;
    if (data_dir_existed) {
      std::filesystem::remove_all(res.data_dir + "/member", ec);
    }
    for (auto it = created.rbegin(); it != created.rend(); ++it)
      std::filesystem::remove_all(*it, ec);
    return st;
  }
  return res;
}

}  // namespace etcdpp::utl
