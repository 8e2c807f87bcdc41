// systemd Type=notify without libsystemd: one datagram ("READY=1",
// "STOPPING=1") to the unix socket named by $NOTIFY_SOCKET. A name starting
// with '@' is in the abstract namespace (the '@' becomes a NUL byte), as
// sd_notify(3) documents. etcd sends READY=1 once the member serves clients
// (etcdmain notifySystemd, after the server is ready); we also send
// STOPPING=1 when a graceful stop begins, which systemd shows as
// "deactivating".
#pragma once

#include <string>

#include "common/status.h"

namespace etcdpp::server {

// Sends `state` to $NOTIFY_SOCKET. OK (and nothing sent) when the variable is
// unset or empty: not running under systemd is not an error.
Status SdNotify(const std::string& state);

// Same, to an explicit socket name (tests).
Status SdNotifyTo(const std::string& socket_name, const std::string& state);

}  // namespace etcdpp::server
