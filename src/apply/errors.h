// etcd's KV error texts (ETCD-FACTS.md §4); the gRPC code is given per use.
#pragma once

#include <string_view>

namespace etcdpp::apply {

inline constexpr std::string_view kErrEmptyKey = "etcdserver: key is not provided";
inline constexpr std::string_view kErrKeyNotFound = "etcdserver: key not found";
inline constexpr std::string_view kErrValueProvided = "etcdserver: value is provided";
inline constexpr std::string_view kErrLeaseProvided = "etcdserver: lease is provided";
inline constexpr std::string_view kErrTooManyOps = "etcdserver: too many operations in txn request";
inline constexpr std::string_view kErrDuplicateKey =
    "etcdserver: duplicate key given in txn request";
inline constexpr std::string_view kErrInvalidSortOption = "etcdserver: invalid sort option";
inline constexpr std::string_view kErrLeaseNotFound = "etcdserver: requested lease not found";

}  // namespace etcdpp::apply
