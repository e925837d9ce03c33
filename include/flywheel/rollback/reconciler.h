#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "flywheel/common/time.h"
#include "flywheel/kube/client.h"
#include "flywheel/kube/controller.h"
#include "flywheel/kube/events.h"
#include "flywheel/notify/notifier.h"
#include "flywheel/prom/client.h"
#include "flywheel/rollback/metrics.h"
#include "flywheel/rollback/spec.h"

namespace flywheel::rollback {

// How the RollbackPolicy controller runs.
struct RollbackPolicyReconcilerOptions {
  // The wall clock the window, interval, `for` and cooldown are timed by (status holds wall
  // times); default: the system clock.
  std::function<Time()> now;
  // Builds the client for a spec.prometheus; default prom::NewClient.
  std::function<Result<std::unique_ptr<prom::Client>>(const prom::ClientOptions&)> new_prom_client;
};

// The RollbackPolicy controller (SPEC.md "RollbackPolicy"): while the Release it guards runs a
// revision inside the policy's window, evaluates the PromQL checks every interval, keeps the
// breach timers in status, and when a check has breached for its `for` (or a matching
// Alertmanager alert arrived) asks the Release to roll back: the Release's rollback annotation
// with a deterministic id naming the bad revision, so one rollback happens per (policy,
// revision) across restarts, replicas and policies. The Release controller carries it out
// through its own apply path and pushes the revert commit.
class RollbackPolicyReconciler : public kube::Reconciler {
 public:
  RollbackPolicyReconciler(kube::Client client,
                           std::function<kube::ObjectPtr(const std::string&)> cached_policy,
                           std::function<kube::ObjectPtr(const std::string&)> cached_release,
                           kube::EventRecorder& events, RollbackMetrics& metrics,
                           notify::Notifier& notifier,
                           RollbackPolicyReconcilerOptions options = {});
  ~RollbackPolicyReconciler() override;

  Result<kube::ReconcileResult> Reconcile(const std::string& key, std::stop_token stop) override;

 private:
  struct Run;
  struct Written;
  Result<kube::ReconcileResult> ReconcilePolicy(Run& run);
  // Queries every metric and updates status.metrics; returns the first metric that fires.
  void EvaluateMetrics(Run& run);
  // Asks the Release to roll back the watched revision (once per policy and revision), or says
  // why it cannot (suspended Release, no target, cooldown, someone else rolled back).
  Status Act(Run& run, const std::string& trigger, const std::string& reason,
             const std::string& value);
  void Blocked(Run& run, const std::string& reason, const std::string& message);
  Result<std::shared_ptr<prom::Client>> PromClient(Run& run);
  Status WriteStatus(Run& run);
  void Notify(Run& run, const std::string& event, const std::string& severity,
              const std::string& text);

  kube::Client client_;
  std::function<kube::ObjectPtr(const std::string&)> cached_policy_;
  std::function<kube::ObjectPtr(const std::string&)> cached_release_;
  kube::EventRecorder& events_;
  RollbackMetrics& metrics_;
  notify::Notifier& notifier_;
  RollbackPolicyReconcilerOptions options_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Written>> written_;  // last status written, by policy
  std::set<std::string> added_;  // policies whose series were made (RollbackMetrics::AddPolicy)
  std::map<std::string, std::shared_ptr<prom::Client>> prom_clients_;  // by URL + credentials
};

}  // namespace flywheel::rollback
