#pragma once

#include <map>
#include <memory>
#include <string>

#include "flywheel/http/server.h"
#include "flywheel/kube/client.h"

namespace flywheel::testing {

// An HTTP server on loopback serving `routes` (answers shaped like kube-apiserver's, written by
// the test) and a kube::Client pointed at it: for tests of client-side machinery (informers,
// leader election) in states a real API server cannot be driven into on demand. Fails the test
// if the server cannot start.
class LoopbackApi {
 public:
  explicit LoopbackApi(std::map<std::string, http::Handler> routes,
                       http::ServerOptions options = {}, kube::ClientOptions client_options = {});
  ~LoopbackApi();
  LoopbackApi(const LoopbackApi&) = delete;
  LoopbackApi& operator=(const LoopbackApi&) = delete;

  const kube::Client& client() const { return *client_; }

 private:
  std::unique_ptr<http::Server> server_;
  std::unique_ptr<kube::Client> client_;
};

// A 200 answer with a JSON body.
http::ServerResponse JsonAnswer(std::string body, int status = 200);

}  // namespace flywheel::testing
