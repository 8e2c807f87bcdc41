// Human-readable one-line descriptions (traces, scenario tests, logs).
#pragma once

#include <string>

#include "raft/rawnode.h"
#include "raft/types.h"

namespace etcdpp::raft {

std::string DescribeEntry(const Entry& e);
std::string DescribeMessage(const Message& m);
std::string DescribeHardState(const HardState& hs);
std::string DescribeConfState(const ConfState& cs);

}  // namespace etcdpp::raft
