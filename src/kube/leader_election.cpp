#include "flywheel/kube/leader_election.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

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

LeaderElector::LeaderElector(Client client, LeaderElectionOptions options, RuntimeMetrics* metrics,
                             Clock* clock)
    : client_(std::move(client)),
      options_(std::move(options)),
      metrics_(metrics),
      clock_(clock != nullptr ? *clock : RealClock::Instance()) {
  if (options_.identity.empty()) options_.identity = DefaultIdentity();
}

bool LeaderElector::TryAcquireOrRenew() {
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
      return false;
    }
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
    if (!created.ok()) return false;
    observed_record_ = (*created)["spec"].dump();
    observed_at_ = clock_.Now();
    return true;
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
  if (!holder.empty() && !mine && clock_.Now() < observed_at_ + held_for) {
    return false;  // someone else holds an unexpired lease
  }
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
    return false;
  }
  observed_record_ = (*updated)["spec"].dump();
  observed_at_ = clock_.Now();
  return true;
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

Status LeaderElector::Run(std::stop_token stop, const std::function<void(std::stop_token)>& lead) {
  const std::string lease = options_.lease_namespace + "/" + options_.lease_name;
  spdlog::info("leader election: {} campaigning for lease {}", options_.identity, lease);
  if (metrics_) metrics_->SetLeader(options_.lease_name, false);
  while (!stop.stop_requested()) {
    if (!TryAcquireOrRenew()) {
      if (!SleepOrStop(stop, options_.retry_period)) break;
      continue;
    }
    spdlog::info("leader election: {} became leader of {}", options_.identity, lease);
    leading_ = true;
    if (metrics_) metrics_->SetLeader(options_.lease_name, true);
    std::stop_source lost;
    std::stop_callback forward(stop, [&lost] { lost.request_stop(); });
    std::jthread leader([&lead, token = lost.get_token()] { lead(token); });
    auto last_renew = clock_.Now();
    while (!lost.stop_requested()) {
      if (!SleepOrStop(lost.get_token(), options_.retry_period)) break;
      if (TryAcquireOrRenew()) {
        last_renew = clock_.Now();
      } else if (clock_.Now() - last_renew >= options_.renew_deadline) {
        spdlog::error("leader election: {} lost lease {} (no renewal for {} ms)", options_.identity,
                      lease, options_.renew_deadline.count());
        lost.request_stop();
      }
    }
    leader.join();
    leading_ = false;
    if (metrics_) metrics_->SetLeader(options_.lease_name, false);
    if (!stop.stop_requested()) {
      return Status(Code::kAborted, "lost leadership of lease " + lease);
    }
    if (options_.release_on_cancel) Release();
    break;
  }
  return Status::Ok();
}

}  // namespace flywheel::kube
