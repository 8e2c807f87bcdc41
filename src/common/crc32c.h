// CRC-32C (Castagnoli), as used by etcd's WAL and HashKV. Hardware (SSE4.2)
// when the CPU has it, a table otherwise; both give identical results.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace etcdpp::crc32c {

// Extend a running CRC (start with 0) over [data, data+n).
uint32_t Extend(uint32_t crc, const void* data, size_t n);
inline uint32_t Value(std::string_view s) {
  return Extend(0, s.data(), s.size());
}

}  // namespace etcdpp::crc32c
