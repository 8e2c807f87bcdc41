// Records the largest single heap allocation while armed: proves that a huge
// length field never turns into a huge allocation (CVE-2020-15106).
#pragma once

#include <cstddef>

namespace etcdpp::wal::testing {

void StartAllocTracking();
size_t StopAllocTracking();  // the largest allocation seen since Start

}  // namespace etcdpp::wal::testing
