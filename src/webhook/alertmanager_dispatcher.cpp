#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>

#include "flywheel/api/names.h"
#include "flywheel/common/background_queue.h"
#include "flywheel/common/time.h"
#include "flywheel/webhook/alertmanager.h"

namespace flywheel::webhook {

namespace {

// Alerts waiting for the dispatcher; a flood beyond this is dropped.
constexpr size_t kMaxQueued = 1000;

// A matched alert and when it was received.
struct ReceivedAlert {
  MatchedAlert alert;
  Time received_at;
};

// Writes matched alerts onto their RollbackPolicy on a background thread, so the receiver
// answers at once.
class Dispatcher {
 public:
  explicit Dispatcher(kube::Client client) : client_(std::move(client)) {}

  void Push(const MatchedAlert& alert) {
    if (!queue_.Push({alert, std::chrono::system_clock::now()})) {
      spdlog::warn(
          "alertmanager webhook: {} alerts queued already; alert {} for RollbackPolicy "
          "{}/{} dropped",
          kMaxQueued, alert.id, alert.ns, alert.policy);
    }
  }

 private:
  void Handle(const ReceivedAlert& received) {
    const MatchedAlert& m = received.alert;
    auto name = m.alert.labels.find("alertname");
    nlohmann::json value = {
        {"id", m.id},
        {"fingerprint", m.alert.fingerprint},
        {"startsAt", m.alert.starts_at},
        {"alertname", name == m.alert.labels.end() ? "" : name->second},
        {"labels", m.alert.labels},
        {"receivedAt", FormatRfc3339(received.received_at)},
    };
    nlohmann::json patch = {
        {"metadata", {{"annotations", {{api::kAlertAnnotation, value.dump()}}}}}};
    auto r = client_.Patch(api::kGroupVersion, "RollbackPolicy", m.ns, m.policy,
                           kube::PatchType::kMerge, patch.dump());
    if (!r.ok()) {
      spdlog::warn("alertmanager webhook: cannot record alert {} on RollbackPolicy {}/{}: {}", m.id,
                   m.ns, m.policy, r.status().ToString());
    } else {
      spdlog::info("alertmanager webhook: alert {} recorded on RollbackPolicy {}/{}", m.id, m.ns,
                   m.policy);
    }
  }

  kube::Client client_;
  BackgroundQueue<ReceivedAlert> queue_{
      kMaxQueued, [this](ReceivedAlert& alert, std::stop_token) { Handle(alert); }};
};

}  // namespace

std::function<void(const MatchedAlert&)> AlertDispatcher(kube::Client client) {
  auto dispatcher = std::make_shared<Dispatcher>(std::move(client));
  return [dispatcher](const MatchedAlert& alert) { dispatcher->Push(alert); };
}

}  // namespace flywheel::webhook
