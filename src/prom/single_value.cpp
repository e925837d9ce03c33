// ReduceToSingleValue: what one instant-query answer means for a threshold check.
#include <cmath>
#include <string>

#include "flywheel/prom/client.h"

namespace flywheel::prom {
namespace {

// A series' labels as PromQL writes a selector: {__name__="x", code="500"} (sorted by name,
// values escaped as Go's %q does for the characters a label value can hold).
std::string FormatLabels(const std::map<std::string, std::string>& labels) {
  std::string out = "{";
  for (const auto& [name, value] : labels) {
    if (out.size() > 1) out += ", ";
    out += name + "=\"";
    for (char c : value) {
      if (c == '"' || c == '\\') {
        out += '\\';
        out += c;
      } else if (c == '\n') {
        out += "\\n";
      } else {
        out += c;
      }
    }
    out += '"';
  }
  return out + "}";
}

SingleValue FromSample(const Sample& sample) {
  return {.no_data = std::isnan(sample.value), .value = sample.value, .text = sample.text};
}

}  // namespace

Result<SingleValue> ReduceToSingleValue(const QueryResult& result) {
  switch (result.type) {
    case QueryResult::Type::kScalar:
      if (result.samples.size() != 1) {
        return Status(Code::kInternal, "a scalar result without exactly one value");
      }
      return FromSample(result.samples.front());
    case QueryResult::Type::kVector:
      if (result.samples.empty()) return SingleValue{.no_data = true};
      if (result.samples.size() > 1) {
        return Status(Code::kInvalidArgument,
                      "the query returned " + std::to_string(result.samples.size()) +
                          " series, the first " + FormatLabels(result.samples.front().labels) +
                          "; a check needs one value: aggregate them (sum, max, ...) or select "
                          "one series");
      }
      return FromSample(result.samples.front());
    case QueryResult::Type::kMatrix:
      return Status(Code::kInvalidArgument,
                    "the query returned a range vector (matrix) of " +
                        std::to_string(result.matrix_series) +
                        " series; a check needs an instant value: wrap the range selector [...] "
                        "in a function such as rate() or avg_over_time()");
    case QueryResult::Type::kString:
      return Status(Code::kInvalidArgument,
                    "the query returned a string (\"" + result.string_value + "\"), not a number");
  }
  return Status(Code::kInternal, "unknown result type");
}

}  // namespace flywheel::prom
