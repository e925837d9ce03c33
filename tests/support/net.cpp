#include "net.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

#include "flywheel/http/client.h"

namespace flywheel::testing {

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (fd >= 0) close(fd);
    throw std::runtime_error("FreePort: cannot bind a loopback socket");
  }
  close(fd);
  return ntohs(addr.sin_port);
}

std::string LoopbackGet(int port, const std::string& path) {
  auto client = http::NewClient({.base_url = "http://127.0.0.1:" + std::to_string(port)});
  if (!client.ok()) return "";
  auto resp = (*client)->Send({.target = path, .timeout = std::chrono::seconds(5)});
  if (!resp.ok()) return "";
  return std::to_string(resp->status) + " " + resp->body;
}

}  // namespace flywheel::testing
