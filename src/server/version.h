// Versions, passed in by CMake (top-level CMakeLists.txt) as compile
// definitions of etcdpp_server. Clients see the etcd-compatible ones.
#pragma once

#ifndef ETCDPP_ETCD_VERSION
#error "ETCDPP_ETCD_VERSION must come from CMake"
#endif
#ifndef ETCDPP_CLUSTER_VERSION
#error "ETCDPP_CLUSTER_VERSION must come from CMake"
#endif
#ifndef ETCDPP_STORAGE_VERSION
#error "ETCDPP_STORAGE_VERSION must come from CMake"
#endif
#ifndef ETCDPP_VERSION
#error "ETCDPP_VERSION must come from CMake"
#endif

namespace etcdpp::server {

inline constexpr const char* kEtcdVersion = ETCDPP_ETCD_VERSION;        // "3.6.14"
inline constexpr const char* kClusterVersion = ETCDPP_CLUSTER_VERSION;  // "3.6.0"
inline constexpr const char* kStorageVersion = ETCDPP_STORAGE_VERSION;  // "3.6.0"
inline constexpr const char* kEtcdppVersion = ETCDPP_VERSION;           // "0.1.0"
// Defined in the generated git_sha.cc only: a new commit recompiles that one
// file, not every user of this header (ccache stays warm in CI).
extern const char* const kGitSha;

}  // namespace etcdpp::server
