#pragma once

#include <chrono>
#include <functional>
#include <stop_token>
#include <string>

#include "flywheel/common/clock.h"
#include "flywheel/kube/client.h"
#include "flywheel/kube/metrics.h"

namespace flywheel::kube {

// Leader election settings; the defaults are client-go's and controller-runtime's.
struct LeaderElectionOptions {
  std::string lease_namespace = "flywheel-system";
  std::string lease_name = "flywheel-leader";
  std::string identity;  // empty = <hostname>_<random uuid>
  std::chrono::milliseconds lease_duration{std::chrono::seconds(15)};
  std::chrono::milliseconds renew_deadline{std::chrono::seconds(10)};
  std::chrono::milliseconds retry_period{std::chrono::seconds(2)};
  bool release_on_cancel = true;
};

// Takes and keeps a coordination.k8s.io/v1 Lease so that only one replica runs controllers.
// Expiry is judged by the local clock from when this process last saw the lease record change,
// never by comparing the server's timestamps with the local clock (clocks differ between
// machines). Writes are conditional on resourceVersion, so two candidates never both win.
class LeaderElector {
 public:
  LeaderElector(Client client, LeaderElectionOptions options, RuntimeMetrics* metrics = nullptr,
                Clock* clock = nullptr);

  // Campaigns until `stop`. While leading, `lead` runs with a stop token that is requested when
  // leadership is lost (renewals failed for renew_deadline) or `stop` is requested. Returns Ok
  // after `stop` (with release_on_cancel, once the lease is released), or kAborted when
  // leadership was lost: like controller-runtime, the process should then exit and start over.
  Status Run(std::stop_token stop, const std::function<void(std::stop_token)>& lead);

  const std::string& identity() const { return options_.identity; }
  bool leading() const { return leading_.load(); }

 private:
  // One attempt to acquire or renew. True when this process holds the lease afterwards.
  bool TryAcquireOrRenew();
  void Release();

  Client client_;
  LeaderElectionOptions options_;
  RuntimeMetrics* metrics_;
  Clock& clock_;
  std::atomic<bool> leading_{false};
  // What this process last saw of the lease, and when (local clock) it last changed.
  std::string observed_record_;
  Clock::TimePoint observed_at_{};
};

// "<hostname>_<random uuid>".
std::string DefaultIdentity();

}  // namespace flywheel::kube
