#include "config_util.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace flywheel::kube::internal {
namespace {

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

}  // namespace

Result<std::string> ReadFileText(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    Code code = err == ENOENT || err == ENOTDIR ? Code::kNotFound
                : err == EACCES                 ? Code::kPermissionDenied
                                                : Code::kInternal;
    return Status(code, "cannot read " + path + ": " + std::strerror(err));
  }
  std::string text;
  char buf[16384];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n > 0) {
      text.append(buf, static_cast<size_t>(n));
    } else if (n == 0) {
      break;
    } else if (errno != EINTR) {
      int err = errno;
      close(fd);
      Code code = err == EISDIR ? Code::kInvalidArgument : Code::kInternal;
      return Status(code, "cannot read " + path + ": " + std::strerror(err));
    }
  }
  close(fd);
  return text;
}

std::string TrimSpace(std::string_view text) {
  size_t begin = 0, end = text.size();
  while (begin < end && IsSpace(text[begin])) ++begin;
  while (end > begin && IsSpace(text[end - 1])) --end;
  return std::string(text.substr(begin, end - begin));
}

bool LooksLikePem(std::string_view text) {
  size_t begin = text.find("-----BEGIN ");
  return begin != std::string_view::npos && text.find("-----END ", begin) != std::string_view::npos;
}

EnvLookup EnvOrProcess(const EnvLookup& env) { return env ? env : ProcessEnv(); }

}  // namespace flywheel::kube::internal
