#include "flywheel/kube/controller.h"

#include <spdlog/spdlog.h>

#include <thread>
#include <vector>

namespace flywheel::kube {

Controller::Controller(std::string name, Reconciler& reconciler, ControllerOptions options)
    : name_(std::move(name)),
      reconciler_(reconciler),
      options_(options),
      clock_(options.clock != nullptr ? *options.clock : RealClock::Instance()) {
  queue_ = std::make_unique<WorkQueue>(
      clock_, nullptr, options_.metrics ? options_.metrics->QueueObserver(name_) : nullptr);
  if (options_.metrics) options_.metrics->AddController(name_, options_.workers);
}

Controller::~Controller() { queue_->ShutDown(); }

void Controller::Enqueue(const std::string& key) { queue_->Add(key); }

EventHandler Controller::EnqueueObject() {
  return {[this](const ObjectPtr& o) { Enqueue(ObjectKey(*o)); },
          [this](const ObjectPtr&, const ObjectPtr& o) { Enqueue(ObjectKey(*o)); },
          [this](const ObjectPtr& o) { Enqueue(ObjectKey(*o)); }};
}

EventHandler Controller::EnqueueOwner(const std::string& owner_kind) {
  auto enqueue_owner = [this, owner_kind](const ObjectPtr& o) {
    const auto& meta = (*o)["metadata"];
    for (const auto& ref : meta.value("ownerReferences", nlohmann::json::array())) {
      if (ref.value("controller", false) && ref.value("kind", "") == owner_kind) {
        std::string ns = meta.value("namespace", "");
        std::string name = ref.value("name", "");
        Enqueue(ns.empty() ? name : ns + "/" + name);
      }
    }
  };
  return {enqueue_owner,
          [enqueue_owner](const ObjectPtr&, const ObjectPtr& o) { enqueue_owner(o); },
          enqueue_owner};
}

void Controller::ProcessOne(const std::string& key, std::stop_token stop) {
  spdlog::debug("controller {}: reconciling {}", name_, key);
  auto start = clock_.Now();
  int active = ++active_;
  if (options_.metrics) options_.metrics->SetWorkers(name_, options_.workers, active);
  std::string outcome;
  try {
    auto result = reconciler_.Reconcile(key, stop);
    if (!result.ok()) {
      outcome = "error";
      // A write that lost a race to a newer version of its object (409 Conflict) is routine
      // with caches: it is retried from a fresh read, so it is not logged as an error.
      if (result.status().code() == Code::kAborted) {
        spdlog::debug("controller {}: reconcile {} retried after a conflict: {}", name_, key,
                      result.status().message());
      } else {
        spdlog::error("controller {}: reconcile {} failed: {}", name_, key,
                      result.status().ToString());
      }
      queue_->AddRateLimited(key);
    } else if (result->requeue_after.count() > 0) {
      outcome = "requeue_after";
      spdlog::debug("controller {}: reconcile {} done, again in {} ms", name_, key,
                    result->requeue_after.count());
      queue_->Forget(key);
      queue_->AddAfter(key, result->requeue_after);
    } else if (result->requeue) {
      outcome = "requeue";
      queue_->AddRateLimited(key);
    } else {
      outcome = "success";
      queue_->Forget(key);
    }
  } catch (const std::exception& e) {
    outcome = "error";
    spdlog::error("controller {}: reconcile {} threw: {}", name_, key, e.what());
    if (options_.metrics) options_.metrics->ObservePanic(name_);
    queue_->AddRateLimited(key);
  }
  active = --active_;
  if (options_.metrics) {
    options_.metrics->SetWorkers(name_, options_.workers, active);
    options_.metrics->ObserveReconcile(name_, outcome,
                                       std::chrono::duration<double>(clock_.Now() - start).count());
  }
  queue_->Done(key);
}

void Controller::Work(std::stop_token stop, const std::function<bool()>& may_reconcile) {
  while (auto key = queue_->Get()) {
    if (stop.stop_requested() || (may_reconcile && !may_reconcile())) {
      queue_->Done(*key);
      return;
    }
    ProcessOne(*key, stop);
  }
}

void Controller::Run(std::stop_token stop, const std::function<bool()>& may_reconcile) {
  spdlog::info("controller {}: starting {} workers", name_, options_.workers);
  std::vector<std::thread> workers;
  for (int i = 0; i < std::max(1, options_.workers); ++i) {
    workers.emplace_back([this, stop, &may_reconcile] { Work(stop, may_reconcile); });
  }
  {
    // Wakes the workers blocked in Get() the moment `stop` is requested.
    std::stop_callback shut_down(stop, [this] { queue_->ShutDown(); });
    while (SleepOrStop(stop, std::chrono::seconds(5))) {
      if (options_.metrics) options_.metrics->ObserveUnfinished(name_, queue_->Unfinished());
    }
  }
  // Again, unconditionally: request_stop() sets the flag before it runs the callbacks, so this
  // thread can see the stop and destroy `shut_down` before it ever ran (a destroyed callback is
  // never invoked), which left the workers waiting in Get() forever.
  queue_->ShutDown();
  spdlog::info("controller {}: stopped taking keys, waiting for in-flight reconciles", name_);
  for (auto& t : workers) t.join();
}

}  // namespace flywheel::kube
