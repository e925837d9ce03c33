#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "flywheel/common/clock.h"
#include "flywheel/kube/client.h"

namespace flywheel::kube {

// Records events.k8s.io/v1 Events about objects, as `kubectl events` and `kubectl describe` show
// them. Repeats of the same event (same object, type, reason, action and note) within
// `series_window` are aggregated into one Event whose `series.count` grows, instead of a new
// object each time (client-go's event series). Failures to record are logged, never returned:
// an Event must not fail a reconcile.
class EventRecorder {
 public:
  EventRecorder(Client client, std::string reporting_controller, std::string reporting_instance,
                Clock* clock = nullptr);

  // `regarding` is the object the event is about (needs apiVersion, kind, metadata).
  // `type` is "Normal" or "Warning"; `reason` is UpperCamelCase; `action` says what was done.
  void Emit(const nlohmann::json& regarding, const std::string& type, const std::string& reason,
            const std::string& action, const std::string& note);

  std::chrono::minutes series_window{6};

 private:
  struct Series {
    std::string name;  // the Event object's name
    int count = 1;
    Clock::TimePoint last;
  };

  Client client_;
  std::string controller_;
  std::string instance_;
  Clock& clock_;
  std::mutex mu_;
  std::map<std::string, Series> series_;  // by namespace/uid/type/reason/action/note
};

}  // namespace flywheel::kube
