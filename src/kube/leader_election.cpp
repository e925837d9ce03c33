#include "flywheel/kube/leader_election.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <random>
#include <thread>

#include "flywheel/common/time.h"

namespace flywheel::kube {

namespace {

using nlohmann::json;

std::string RandomUuid() {
  std::random_device rd;
  std::uniform_int_distribution<int> hex(0, 15);
  std::string out = "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx";
  for (char& c : out) {
    if (c == 'x') c = "0123456789abcdef"[hex(rd)];
    if (c == 'y') c = "89ab"[hex(rd) & 3];
  }
  return out;
}

}  // namespace

std::string DefaultIdentity() {
  char host[256] = "unknown";
  gethostname(host, sizeof host - 1);
  return std::string(host) + "_" + RandomUuid();
}

Status LeaderElectionOptions::Validate() const {
  auto d = [](std::chrono::milliseconds v) { return FormatDuration(v); };
  if (retry_period.count() <= 0) {
    return Status(Code::kInvalidArgument,
                  "the leader election retry period must be positive, not " + d(retry_period));
  }
  if (renew_deadline * 5 <= retry_period * 6) {
    return Status(Code::kInvalidArgument,
                  "the leader election renew deadline (" + d(renew_deadline) +
                      ") must be longer than 1.2 x the retry period (" + d(retry_period) + ")");
  }
  if (lease_duration <= renew_deadline) {
    return Status(Code::kInvalidArgument,
                  "the leader election lease duration (" + d(lease_duration) +
                      ") must be longer than the renew deadline (" + d(renew_deadline) + ")");
  }
  return Status::Ok();
}

LeaderElector::LeaderElector(Client client, LeaderElectionOptions options, RuntimeMetrics* metrics,
                             Clock* clock)
    // A renewal is a GET and a PUT: each gets half the renew deadline.
    : client_(client.WithCallTimeout(
          std::max(options.renew_deadline / 2, std::chrono::milliseconds(1)))),
      options_(std::move(options)),
      metrics_(metrics),
      clock_(clock != nullptr ? *clock : RealClock::Instance()) {
  if (options_.identity.empty()) options_.identity = DefaultIdentity();
}

bool LeaderElector::leading() const {
  const auto until = leading_until_.load();
  return until != 0 && clock_.Now().time_since_epoch().count() < until;
}

LeaderElector::Attempt LeaderElector::TryAcquireOrRenew(bool renewing, Clock::TimePoint deadline) {
  const auto now_wall = std::chrono::system_clock::now();
  const std::string now = FormatRfc3339Micro(now_wall);
  const int duration_s = static_cast<int>(
      std::chrono::duration_cast<std::chrono::seconds>(options_.lease_duration).count());
  auto lease =
      client_.Get("coordination.k8s.io/v1", "Lease", options_.lease_namespace, options_.lease_name);
  if (!lease.ok()) {
    if (lease.status().code() != Code::kNotFound) {
      spdlog::warn("leader election: reading lease {}/{}: {}", options_.lease_namespace,
                   options_.lease_name, lease.status().ToString());
      return Attempt::kFailed;
    }
    if (clock_.Now() >= deadline) return Attempt::kFailed;
    json fresh = {
        {"apiVersion", "coordination.k8s.io/v1"},
        {"kind", "Lease"},
        {"metadata", {{"name", options_.lease_name}, {"namespace", options_.lease_namespace}}},
        {"spec",
         {{"holderIdentity", options_.identity},
          {"leaseDurationSeconds", duration_s},
          {"acquireTime", now},
          {"renewTime", now},
          {"leaseTransitions", 0}}}};
    auto created = client_.Create(fresh);
    if (!created.ok()) return Attempt::kFailed;
    observed_record_ = (*created)["spec"].dump();
    observed_at_ = clock_.Now();
    return Attempt::kHeld;
  }
  json& spec = (*lease)["spec"];
  std::string record = spec.dump();
  if (record != observed_record_) {
    observed_record_ = record;
    observed_at_ = clock_.Now();
  }
  const std::string holder = spec.value("holderIdentity", "");
  const auto held_for = std::chrono::seconds(spec.value("leaseDurationSeconds", duration_s));
  const bool mine = holder == options_.identity;
  // A leader that finds the lease in other hands lost it, whatever the other's expiry.
  if (renewing && !mine) return Attempt::kHeldByOther;
  if (!holder.empty() && !mine && clock_.Now() < observed_at_ + held_for) {
    return Attempt::kHeldByOther;  // someone else holds an unexpired lease
  }
  if (clock_.Now() >= deadline) return Attempt::kFailed;
  if (!mine) {
    spec["acquireTime"] = now;
    spec["leaseTransitions"] = spec.value("leaseTransitions", 0) + 1;
  }
  spec["holderIdentity"] = options_.identity;
  spec["leaseDurationSeconds"] = duration_s;
  spec["renewTime"] = now;
  auto updated = client_.Update(*lease);  // conditional on resourceVersion
  if (!updated.ok()) {
    if (updated.status().code() != Code::kAborted) {
      spdlog::warn("leader election: updating lease: {}", updated.status().ToString());
    }
    return Attempt::kFailed;
  }
  observed_record_ = (*updated)["spec"].dump();
  observed_at_ = clock_.Now();
  return Attempt::kHeld;
}

void LeaderElector::Release() {
  auto lease =
      client_.Get("coordination.k8s.io/v1", "Lease", options_.lease_namespace, options_.lease_name);
  if (!lease.ok() || (*lease)["spec"].value("holderIdentity", "") != options_.identity) return;
  json& spec = (*lease)["spec"];
  spec["holderIdentity"] = nullptr;
  spec["leaseDurationSeconds"] = 1;
  spec["renewTime"] = FormatRfc3339Micro(std::chrono::system_clock::now());
  auto updated = client_.Update(*lease);
  if (updated.ok()) {
    spdlog::info("leader election: released lease {}/{}", options_.lease_namespace,
                 options_.lease_name);
  } else {
    spdlog::warn("leader election: releasing lease: {}", updated.status().ToString());
  }
}

bool LeaderElector::KeepLeading(std::stop_source& lost, const std::string& lease,
                                const std::function<void()>& on_lost) {
  while (clock_.SleepFor(options_.retry_period, lost.get_token())) {
    const Clock::TimePoint until{Clock::Duration(leading_until_.load())};
    const Clock::TimePoint attempt = clock_.Now();
    // Past the deadline (a frozen process wakes up here) nothing is sent: the lease may already
    // be someone else's.
    const Attempt result =
        attempt < until ? TryAcquireOrRenew(/*renewing=*/true, until) : Attempt::kFailed;
    const bool in_time = clock_.Now() < until;
    if (result == Attempt::kHeld && in_time) {
      leading_until_ = (attempt + options_.renew_deadline).time_since_epoch().count();
      continue;
    }
    if (result != Attempt::kHeldByOther && in_time) continue;  // try again before the deadline
    leading_until_ = 0;
    lost.request_stop();
    if (result == Attempt::kHeldByOther) {
      spdlog::error("leader election: {} lost lease {}: another replica holds it",
                    options_.identity, lease);
    } else {
      spdlog::error("leader election: {} lost lease {}: no successful renewal within {}",
                    options_.identity, lease, FormatDuration(options_.renew_deadline));
    }
    if (on_lost) on_lost();
    return true;
  }
  return false;
}

Status LeaderElector::Run(std::stop_token stop, const std::function<void(std::stop_token)>& lead,
                          const std::function<void()>& on_lost) {
  const std::string lease = options_.lease_namespace + "/" + options_.lease_name;
  spdlog::info("leader election: {} campaigning for lease {}", options_.identity, lease);
  if (metrics_) metrics_->SetLeader(options_.lease_name, false);
  while (!stop.stop_requested()) {
    const Clock::TimePoint attempt = clock_.Now();
    if (TryAcquireOrRenew(/*renewing=*/false, attempt + options_.renew_deadline) !=
        Attempt::kHeld) {
      if (!clock_.SleepFor(options_.retry_period, stop)) break;
      continue;
    }
    leading_until_ = (attempt + options_.renew_deadline).time_since_epoch().count();
    spdlog::info("leader election: {} became leader of {}", options_.identity, lease);
    if (metrics_) metrics_->SetLeader(options_.lease_name, true);
    std::stop_source lost;
    std::stop_callback forward(stop, [&lost] { lost.request_stop(); });
    std::jthread leader([&lead, token = lost.get_token()] { lead(token); });
    const bool lost_lease = KeepLeading(lost, lease, on_lost);
    leader.join();
    leading_until_ = 0;
    if (metrics_) metrics_->SetLeader(options_.lease_name, false);
    if (lost_lease) return Status(Code::kAborted, "lost leadership of lease " + lease);
    if (options_.release_on_cancel) Release();
    break;
  }
  return Status::Ok();
}

}  // namespace flywheel::kube
