#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <string>

#include "flywheel/common/clock.h"
#include "flywheel/common/status.h"
#include "flywheel/common/time.h"
#include "flywheel/kube/config.h"
#include "flywheel/kube/token_source.h"

namespace flywheel::kube {

// What an exec credential plugin returned (ExecCredential.status): a token, a client
// certificate and key, or both.
struct ExecCredential {
  std::string token{};
  std::string client_cert_pem{};
  std::string client_key_pem{};
  std::optional<Time> expiration{};  // status.expirationTimestamp; nullopt = valid until a 401
};

// Runs a kubeconfig's exec credential plugin and caches what it returns until its expiration
// (client-go's exec authenticator). The command runs without a shell, with stdin on /dev/null,
// the process environment plus the configured env and KUBERNETES_EXEC_INFO (apiVersion, kind
// ExecCredential, spec.interactive false, spec.cluster when provideClusterInfo). Its stdout may
// hold secrets and is never logged or put in an error; errors name the command, its exit code and
// the tail of its stderr, or the install hint when it is not installed. One plugin runs at a time.
class ExecCredentialProvider : public TokenSource {
 public:
  static constexpr std::chrono::seconds kDefaultTimeout{60};

  // `config` gives `exec` (which must be set) and, for spec.cluster, the server and TLS settings.
  // Expiry is tracked on `clock`. A plugin still running after `timeout` is killed.
  explicit ExecCredentialProvider(const RestConfig& config, Clock& clock = RealClock::Instance(),
                                  std::chrono::milliseconds timeout = kDefaultTimeout);

  // The cached credential, or a new one from the plugin when there is none, it has expired or it
  // was invalidated. Errors: kFailedPrecondition (not installed or not executable),
  // kUnauthenticated (failed, or returned no usable credential), kDeadlineExceeded (timeout).
  Result<ExecCredential> Get();

  // Get().token.
  Result<std::string> Token() override;

  // Drops the cached credential so the next Get() runs the plugin again.
  void Invalidate() override;

 private:
  Result<ExecCredential> Run();  // one plugin run, mu_ held
  std::string ExecInfoJson() const;

  const ExecConfig exec_;
  const std::string server_;
  const std::string tls_server_name_;
  const bool insecure_skip_tls_verify_;
  const std::string ca_pem_;
  Clock& clock_;
  const std::chrono::milliseconds timeout_;
  std::mutex mu_;
  std::optional<ExecCredential> cached_;
  std::optional<Clock::TimePoint> expires_at_;  // on clock_; nullopt = never
};

}  // namespace flywheel::kube
