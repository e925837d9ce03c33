#include "flywheel/kube/secret.h"

#include "flywheel/common/base64.h"

namespace flywheel::kube {

Result<std::string> SecretValue(const nlohmann::json& secret, std::string_view key,
                                const std::string& what) {
  auto data = secret.find("data");
  if (data == secret.end() || !data->is_object()) return std::string();
  auto it = data->find(key);
  if (it == data->end() || !it->is_string()) return std::string();
  auto decoded = Base64Decode(it->get<std::string>());
  if (!decoded) {
    return Status(Code::kInvalidArgument,
                  what + ": key " + std::string(key) + " is not valid base64");
  }
  return *decoded;
}

}  // namespace flywheel::kube
