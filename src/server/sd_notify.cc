#include "server/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace etcdpp::server {

Status SdNotifyTo(const std::string& socket_name, const std::string& state) {
  if (socket_name.empty()) return Status::OK();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  // Only absolute paths and abstract names are valid (sd_notify ignores the rest).
  if (socket_name[0] != '/' && socket_name[0] != '@')
    return Status::InvalidArgument("NOTIFY_SOCKET is neither a path nor an abstract name: " +
                                   socket_name);
  if (socket_name.size() >= sizeof(addr.sun_path))
    return Status::InvalidArgument("NOTIFY_SOCKET name too long");
  std::memcpy(addr.sun_path, socket_name.data(), socket_name.size());
  if (socket_name[0] == '@') addr.sun_path[0] = '\0';
  // Abstract names are not NUL-terminated: the length says where they end.
  socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket_name.size());

  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::IOError(std::string("sd_notify socket: ") + std::strerror(errno));
  ssize_t n = sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                     reinterpret_cast<const sockaddr*>(&addr), len);
  int err = errno;
  close(fd);
  if (n < 0) return Status::IOError(std::string("sd_notify send: ") + std::strerror(err));
  return Status::OK();
}

Status SdNotify(const std::string& state) {
  const char* name = std::getenv("NOTIFY_SOCKET");
  return SdNotifyTo(name == nullptr ? std::string() : std::string(name), state);
}

}  // namespace etcdpp::server
