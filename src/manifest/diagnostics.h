#pragma once

#include <string>
#include <vector>

#include "flywheel/common/status.h"

namespace flywheel::manifest {

// One problem found in a repository file, reported as "file:line: text" (or "file:line:col:
// text" when the column is known).
struct Diagnostic {
  std::string file;
  int line = 0;    // 1-based; 0 = unknown (the message then names only the file)
  int column = 0;  // 1-based; 0 = unknown
  std::string text;

  std::string ToString() const;
};

// Collects every problem of one Load or parse so that all of them are reported at once.
class Diagnostics {
 public:
  void Add(std::string file, int line, std::string text) {
    items_.push_back({std::move(file), line, 0, std::move(text)});
  }
  void Add(Diagnostic d) { items_.push_back(std::move(d)); }
  bool empty() const { return items_.empty(); }
  size_t size() const { return items_.size(); }

  // InvalidArgument with one line per problem, sorted by file, then line, then column (stable
  // for problems at the same place).
  Status ToStatus() const;

 private:
  std::vector<Diagnostic> items_;
};

}  // namespace flywheel::manifest
