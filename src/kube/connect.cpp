#include "flywheel/kube/connect.h"

#include "flywheel/common/base64.h"
#include "flywheel/kube/exec_credential.h"
#include "flywheel/kube/token_source.h"

namespace flywheel::kube {
namespace {

// Authenticates with an exec plugin's credential, as client-go does: a token goes in the
// Authorization header; a client certificate is presented on new connections. Each request asks
// the plugin's cache, which runs the plugin again once the credential expired or was rejected
// (401), so a rotated certificate replaces the old one before the request is sent.
void UseExecPlugin(const RestConfig& config, Clock& clock,
                   const std::shared_ptr<http::Client>& http, ClientOptions& co) {
  auto plugin = std::make_shared<ExecCredentialProvider>(config, clock);
  co.authorization = [plugin, http, command = config.exec->command]() -> Result<std::string> {
    auto credential = plugin->Get();
    if (!credential.ok()) return credential.status();
    if (!credential->client_cert_pem.empty()) {
      Status s =
          http->SetClientCertificate(credential->client_cert_pem, credential->client_key_pem);
      if (!s.ok()) {
        return Status(Code::kUnauthenticated,
                      "exec plugin " + command + " returned " + s.message());
      }
    }
    return credential->token.empty() ? std::string() : "Bearer " + credential->token;
  };
  co.on_unauthorized = [plugin] { plugin->Invalidate(); };
}

}  // namespace

Result<Client> Connect(const RestConfig& config, Clock* clock) {
  http::ClientOptions ho;
  ho.base_url = config.server;
  ho.tls.ca_pem = config.ca_pem;
  ho.tls.client_cert_pem = config.client_cert_pem;
  ho.tls.client_key_pem = config.client_key_pem;
  ho.tls.insecure_skip_verify = config.insecure_skip_tls_verify;
  ho.tls.server_name = config.tls_server_name;
  ho.user_agent = config.user_agent;
  auto created = http::NewClient(ho);
  if (!created.ok()) {
    return Status(created.status().code(), created.status().message() + " (" + config.source + ")");
  }
  std::shared_ptr<http::Client> http(std::move(*created));

  ClientOptions co;
  co.qps = config.qps;
  co.burst = config.burst;
  co.clock = clock;
  if (!config.impersonate_user.empty()) {
    co.impersonate = Impersonation{config.impersonate_user, config.impersonate_groups,
                                   config.impersonate_uid, config.impersonate_extra};
  }
  Clock& real_or_fake = clock != nullptr ? *clock : RealClock::Instance();
  if (config.exec) {
    UseExecPlugin(config, real_or_fake, http, co);
  } else if (auto tokens = NewTokenSource(config, real_or_fake)) {
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
  return Client(std::move(http), std::move(co));
}

}  // namespace flywheel::kube
