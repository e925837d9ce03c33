#pragma once

#include <chrono>
#include <iosfwd>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace flywheel::cli {

// How long ago something happened as kubectl's AGE column says it (apimachinery's
// HumanDuration): "45s", "5m12s", "17m", "5h3m", "10h", "2d3h", "12d", "2y14d"; "0s" for a
// moment in the future by up to a second, "<invalid>" further in the future.
std::string HumanDuration(std::chrono::milliseconds d);

// Rows of cells printed as kubectl prints a table: each column as wide as its widest cell plus
// three spaces (at least six), the last column not padded. rows[0] is the header.
void PrintTable(const std::vector<std::vector<std::string>>& rows, std::ostream& out);

// `value` as the YAML `kubectl -o yaml` prints: block style, keys in order, sequences in a
// mapping not indented, strings quoted only when a YAML 1.1 or 1.2 reader would take them for
// something else (double quotes) or they cannot be plain (single quotes), multi-line strings as
// literal blocks. Ends with a newline.
std::string ToYaml(const nlohmann::json& value);

}  // namespace flywheel::cli
