#include "support/notify_receiver.h"

namespace flywheel::testing {

NotifyReceiver::NotifyReceiver() {
  auto server = http::Server::Start(
      {}, {{"/notify", [this](const http::ServerRequest& req) {
              std::lock_guard lock(mu_);
              received_.push_back(nlohmann::json::parse(req.body, nullptr, false));
              return http::ServerResponse{.status = 200};
            }}});
  if (server.ok()) {
    server_ = std::move(*server);
  } else {
    error_ = server.status().ToString();
  }
}

std::string NotifyReceiver::url() const {
  return "http://127.0.0.1:" + std::to_string(server_ ? server_->port() : 0) + "/notify";
}

std::vector<nlohmann::json> NotifyReceiver::Received() const {
  std::lock_guard lock(mu_);
  return received_;
}

}  // namespace flywheel::testing
