#include "support/loopback_api.h"

#include <gtest/gtest.h>

#include "flywheel/http/client.h"

namespace flywheel::testing {

LoopbackApi::LoopbackApi(std::map<std::string, http::Handler> routes, http::ServerOptions options,
                         kube::ClientOptions client_options) {
  auto server = http::Server::Start(options, std::move(routes));
  if (!server.ok()) {
    ADD_FAILURE() << "loopback API server: " << server.status().ToString();
    return;
  }
  server_ = std::move(*server);
  auto http = http::NewClient({.base_url = "http://127.0.0.1:" + std::to_string(server_->port())});
  if (!http.ok()) {
    ADD_FAILURE() << "loopback API client: " << http.status().ToString();
    return;
  }
  client_ = std::make_unique<kube::Client>(std::shared_ptr<http::Client>(std::move(*http)),
                                           std::move(client_options));
}

LoopbackApi::~LoopbackApi() {
  if (server_) server_->Stop();
}

http::ServerResponse JsonAnswer(std::string body, int status) {
  http::ServerResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = std::move(body);
  return r;
}

}  // namespace flywheel::testing
