#include "flywheel/kube/connect.h"

#include "flywheel/common/base64.h"
#include "flywheel/kube/token_source.h"

namespace flywheel::kube {

Result<Client> Connect(const RestConfig& config, Clock* clock) {
  if (!config.tls_server_name.empty()) {
    return Status(Code::kInvalidArgument,
                  "tls-server-name is not supported yet (" + config.source + ")");
  }
  http::ClientOptions ho;
  ho.base_url = config.server;
  ho.tls.ca_pem = config.ca_pem;
  ho.tls.client_cert_pem = config.client_cert_pem;
  ho.tls.client_key_pem = config.client_key_pem;
  ho.tls.insecure_skip_verify = config.insecure_skip_tls_verify;
  ho.user_agent = config.user_agent;
  auto http = http::NewClient(ho);
  if (!http.ok()) return http.status();

  ClientOptions co;
  co.qps = config.qps;
  co.burst = config.burst;
  co.clock = clock;
  if (!config.impersonate_user.empty()) {
    co.impersonate = Impersonation{config.impersonate_user, config.impersonate_groups,
                                   config.impersonate_uid, config.impersonate_extra};
  }
  if (auto tokens = NewTokenSource(config, clock != nullptr ? *clock : RealClock::Instance())) {
    co.authorization = [tokens]() -> Result<std::string> {
      auto token = tokens->Token();
      if (!token.ok()) return token.status();
      return token->empty() ? std::string() : "Bearer " + *token;
    };
    co.on_unauthorized = [tokens] { tokens->Invalidate(); };
  } else if (!config.username.empty()) {
    std::string basic = "Basic " + Base64Encode(config.username + ":" + config.password);
    co.authorization = [basic]() -> Result<std::string> { return basic; };
  }
  return Client(std::shared_ptr<http::Client>(std::move(*http)), std::move(co));
}

}  // namespace flywheel::kube
