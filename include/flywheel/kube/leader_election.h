#pragma once

#include <atomic>
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
  // How long others wait, from when they last saw the lease change, before taking it over.
  std::chrono::milliseconds lease_duration{std::chrono::seconds(15)};
  // How long the leader keeps acting without a successful renewal before it gives up. Shorter
  // than lease_duration, so the leader stops before anyone else may start.
  std::chrono::milliseconds renew_deadline{std::chrono::seconds(10)};
  // How often a candidate tries to acquire, and the leader to renew.
  std::chrono::milliseconds retry_period{std::chrono::seconds(2)};
  bool release_on_cancel = true;

  // InvalidArgument unless lease_duration > renew_deadline > 1.2 x retry_period > 0 (client-go's
  // rules), naming the offending durations.
  Status Validate() const;
};

// Takes and keeps a coordination.k8s.io/v1 Lease so that only one replica runs controllers.
// Expiry is judged by the local clock from when this process last saw the lease record change,
// never by comparing the server's timestamps with the local clock (clocks differ between
// machines). Writes are conditional on resourceVersion, so two candidates never both win.
//
// Leadership is bounded in time: each request of a renewal carries a timeout of half the renew
// deadline (no retries past it), and the leader counts as leading only until renew_deadline after
// the start of its last successful renewal. A leader that was frozen (SIGSTOP, a stalled node)
// wakes up no longer leading and stops without another request.
class LeaderElector {
 public:
  LeaderElector(Client client, LeaderElectionOptions options, RuntimeMetrics* metrics = nullptr,
                Clock* clock = nullptr);

  // Campaigns until `stop`. While leading, `lead` runs with a stop token that is requested the
  // moment leadership is lost (no successful renewal within renew_deadline, or the lease seen
  // held by another) or `stop` is requested. Returns Ok after `stop` (with release_on_cancel,
  // once the lease is released), or kAborted when leadership was lost: like controller-runtime,
  // the process should then exit and start over. `on_lost`, when set, runs the moment leadership
  // is lost, after `lead`'s token is stopped and before `lead` is waited for.
  Status Run(std::stop_token stop, const std::function<void(std::stop_token)>& lead,
             const std::function<void()>& on_lost = {});

  const std::string& identity() const { return options_.identity; }
  // True while this process holds the lease and its last successful renewal started less than
  // renew_deadline ago. Work that must only happen on the leader checks it just before acting.
  bool leading() const;

 private:
  enum class Attempt { kHeld, kHeldByOther, kFailed };
  // One attempt to acquire or renew, giving up before the PUT once `deadline` has passed.
  Attempt TryAcquireOrRenew(bool renewing, Clock::TimePoint deadline);
  // Renews every retry_period until leadership is lost (returns true) or `lost` is requested.
  bool KeepLeading(std::stop_source& lost, const std::string& lease,
                   const std::function<void()>& on_lost);
  void Release();

  Client client_;
  LeaderElectionOptions options_;
  RuntimeMetrics* metrics_;
  Clock& clock_;
  // While leading: until when (clock_'s time since epoch) this process may act as leader.
  std::atomic<Clock::Duration::rep> leading_until_{0};
  // What this process last saw of the lease, and when (local clock) it last changed.
  std::string observed_record_;
  Clock::TimePoint observed_at_{};
};

// "<hostname>_<random uuid>".
std::string DefaultIdentity();

}  // namespace flywheel::kube
