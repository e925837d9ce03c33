#include "diagnostics.h"

#include <algorithm>
#include <tuple>

namespace flywheel::manifest {

std::string Diagnostic::ToString() const {
  std::string out = file;
  if (line > 0) out += ":" + std::to_string(line);
  if (line > 0 && column > 0) out += ":" + std::to_string(column);
  return out + ": " + text;
}

Status Diagnostics::ToStatus() const {
  if (items_.empty()) return Status::Ok();
  std::vector<Diagnostic> sorted = items_;
  std::stable_sort(sorted.begin(), sorted.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return std::tie(a.file, a.line, a.column) < std::tie(b.file, b.line, b.column);
  });
  std::string message;
  for (const Diagnostic& d : sorted) {
    if (!message.empty()) message += "\n";
    message += d.ToString();
  }
  return Status(Code::kInvalidArgument, std::move(message));
}

}  // namespace flywheel::manifest
