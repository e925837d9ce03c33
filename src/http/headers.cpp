#include <strings.h>

#include "flywheel/http/client.h"

namespace flywheel::http {

std::string_view FindHeader(const Headers& headers, std::string_view name) {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() && strncasecmp(k.data(), name.data(), k.size()) == 0) return v;
  }
  return {};
}

}  // namespace flywheel::http
