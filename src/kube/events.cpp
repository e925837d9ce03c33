#include "flywheel/kube/events.h"

#include <spdlog/spdlog.h>

#include <random>

#include "flywheel/common/time.h"

namespace flywheel::kube {

namespace {

using nlohmann::json;

constexpr size_t kMaxNoteBytes = 1024;  // the API server's limit for Event.note

std::string RandomSuffix() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(rng()));
  return buf;
}

}  // namespace

EventRecorder::EventRecorder(Client client, std::string reporting_controller,
                             std::string reporting_instance, Clock* clock)
    : client_(std::move(client)),
      controller_(std::move(reporting_controller)),
      instance_(std::move(reporting_instance)),
      clock_(clock != nullptr ? *clock : RealClock::Instance()) {}

void EventRecorder::Emit(const json& regarding, const std::string& type, const std::string& reason,
                         const std::string& action, const std::string& note_in) {
  const json& meta = regarding.value("metadata", json::object());
  const std::string ns = meta.value("namespace", "default");
  const std::string name = meta.value("name", "");
  std::string note =
      note_in.size() > kMaxNoteBytes ? note_in.substr(0, kMaxNoteBytes - 3) + "..." : note_in;
  const std::string key =
      ns + "/" + meta.value("uid", name) + "/" + type + "/" + reason + "/" + action + "/" + note;
  const std::string now = FormatRfc3339Micro(std::chrono::system_clock::now());

  std::unique_lock lock(mu_);
  auto it = series_.find(key);
  if (it != series_.end() && clock_.Now() - it->second.last < series_window) {
    Series& s = it->second;
    s.count++;
    s.last = clock_.Now();
    json patch = {{"series", {{"count", s.count}, {"lastObservedTime", now}}}};
    std::string event_name = s.name;
    lock.unlock();
    auto r =
        client_.Patch("events.k8s.io/v1", "Event", ns, event_name, PatchType::kMerge, patch.dump());
    if (r.ok()) return;
    spdlog::debug("event series {} could not be updated ({}); recording a new event", event_name,
                  r.status().ToString());
    lock.lock();
    series_.erase(key);
  }
  if (series_.size() > 4096) {  // bound memory: drop series that can no longer grow
    for (auto i = series_.begin(); i != series_.end();) {
      i = clock_.Now() - i->second.last >= series_window ? series_.erase(i) : std::next(i);
    }
  }
  std::string event_name = name + "." + RandomSuffix();
  series_[key] = Series{event_name, 1, clock_.Now()};
  lock.unlock();

  json regarding_ref = {{"apiVersion", regarding.value("apiVersion", "")},
                        {"kind", regarding.value("kind", "")},
                        {"name", name},
                        {"namespace", ns}};
  if (meta.contains("uid")) regarding_ref["uid"] = meta["uid"];
  if (meta.contains("resourceVersion")) {
    regarding_ref["resourceVersion"] = meta["resourceVersion"];
  }
  json event = {{"apiVersion", "events.k8s.io/v1"},
                {"kind", "Event"},
                {"metadata", {{"name", event_name}, {"namespace", ns}}},
                {"eventTime", now},
                {"reportingController", controller_},
                {"reportingInstance", instance_},
                {"action", action},
                {"reason", reason},
                {"type", type},
                {"note", note},
                {"regarding", regarding_ref}};
  auto r = client_.Create(event);
  if (!r.ok()) {
    spdlog::warn("could not record event {} {} on {}/{}: {}", type, reason, ns, name,
                 r.status().ToString());
  }
}

}  // namespace flywheel::kube
