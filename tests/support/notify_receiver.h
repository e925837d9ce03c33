#pragma once

// A notification webhook receiver on loopback for tests: records the JSON body of every POST to
// /notify, as a Pipeline's or RollbackPolicy's `notify` target would receive it.
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "flywheel/http/server.h"

namespace flywheel::testing {

class NotifyReceiver {
 public:
  NotifyReceiver();
  // Whether it listens; when not, error() says why.
  bool ok() const { return server_ != nullptr; }
  const std::string& error() const { return error_; }
  // http://127.0.0.1:<port>/notify
  std::string url() const;
  // The bodies received so far, in order (a body that is not JSON is recorded as discarded).
  std::vector<nlohmann::json> Received() const;

 private:
  mutable std::mutex mu_;
  std::vector<nlohmann::json> received_;
  std::unique_ptr<http::Server> server_;
  std::string error_;
};

}  // namespace flywheel::testing
