#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "diagnostics.h"

namespace flywheel::manifest {

// One document of a manifest file, converted to JSON.
struct Document {
  nlohmann::json value;
  int line = 1;                 // 1-based line where the document starts
  std::vector<int> item_lines;  // line of each element of a top-level "items" array (Lists)
};

// Parses `content` of repository file `file`: JSON when the name ends in ".json" (one value),
// YAML otherwise (any number of documents; empty and null documents are skipped). Problems are
// added to `diags` as "file:line[:col]: ..." and the documents that could not be read are left
// out.
//
// YAML plain scalars are resolved with the YAML 1.2 core schema: null/Null/NULL/~/empty, true/
// false (and True/TRUE, False/FALSE), integers (decimal, 0o octal, 0x hex), floats; everything
// else, and every quoted or block scalar, is a string ("on", "yes", "0123abc" stay strings,
// unlike YAML 1.1). Floats with an integral value (1.0, 1e3) become JSON integers, as they do
// through sigs.k8s.io/yaml; .inf and .nan are errors (JSON has no such numbers). Duplicate keys
// in a mapping are errors, as in Kubernetes. Anchors and aliases work, merge keys ("<<") too.
std::vector<Document> ParseDocuments(const std::string& file, const std::string& content,
                                     Diagnostics& diags);

}  // namespace flywheel::manifest
