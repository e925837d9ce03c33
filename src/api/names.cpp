#include "flywheel/api/names.h"

#include <cctype>

#include "flywheel/common/sha256.h"

namespace flywheel::api {

std::string OwnerLabelValue(const std::string& ns, const std::string& name) {
  std::string value = ns + "." + name;
  if (value.size() <= 63) return value;
  std::string prefix = value.substr(0, 52);
  // A label value ends with an alphanumeric character before the "-<hash>" suffix too.
  while (!prefix.empty() && !std::isalnum(static_cast<unsigned char>(prefix.back())))
    prefix.pop_back();
  return prefix + "-" + Sha256Hex(ns + "/" + name).substr(0, 10);
}

}  // namespace flywheel::api
