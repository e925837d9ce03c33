#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "flywheel/common/time.h"

// `flywheel timeline`: the deliveries of a Release and the stages of a PipelineRun, assembled
// from what the API server holds (object status, build pods, Events), never from logs. The
// assembly is pure (objects in, timeline out) so every case is a unit test on objects shaped as
// the controllers write them; src/cli/timeline.cpp only fetches, calls and prints.
namespace flywheel::cli {

// One moment of a delivery or a run: its name, when it happened (none when nothing in the API
// says so: it is never guessed) and what it was.
struct TimelineStage {
  std::string name;
  std::optional<Time> at;
  std::string detail;
};

// One delivery: a commit on its way to the cluster. Usually a PipelineRun (build, test, image,
// promotion) joined with the Release's history entry of the commit it promoted, the
// RollbackPolicy's breach and the rollback; a manifest commit the Release applied without a run
// is a delivery of its own. Empty strings mean "not known".
struct Delivery {
  std::string revision;  // the commit: the run's source revision, else the applied revision
  std::string subject;   // its first line
  std::string author;
  std::string pipeline, run;  // the run that built it
  std::string run_phase, run_reason;
  std::string image, digest;          // the artifact
  std::string promotion_commit;       // pushed into the manifest repository
  std::string applied_revision;       // the Release's revision for this delivery
  std::string outcome;                // e.g. Healthy, Failed (StepFailed), RolledBack
  std::vector<TimelineStage> stages;  // every stage, in order, known or not
};

// The stages of every delivery, in this order.
inline const std::vector<std::string> kDeliveryStages = {
    "committed", "run started", "image pushed",       "promoted",    "run finished", "applied",
    "healthy",   "breach",      "rollback requested", "rolled back", "restored"};

// What the API holds about one Release: the Release, and the List objects (or their `items`
// arrays) of the namespace's Pipelines, PipelineRuns, build pods (label
// flywheel.dev/pipeline-run), events.k8s.io/v1 Events and RollbackPolicies.
struct ReleaseTimelineInput {
  nlohmann::json release;
  nlohmann::json pipelines, runs, pods, events, policies;
};

// The deliveries of a Release, oldest first (as `kubectl get events` sorts). A run belongs to
// the Release when its Pipeline promotes into the Release's repository and branch, or when the
// commit it promoted is in the Release's history.
std::vector<Delivery> AssembleReleaseTimeline(const ReleaseTimelineInput& input);

// The stages of one PipelineRun: created, build pod created, scheduled and started, each step's
// start and end, the promotion and the end. `pod` may be null (not created yet, or gone).
std::vector<TimelineStage> AssembleRunTimeline(const nlohmann::json& run,
                                               const nlohmann::json* pod);

// A time as RFC 3339 in UTC: whole seconds when it has no fraction, else microseconds.
std::string FormatTimelineTime(Time t);

// The gap between two stages, signed and short: "+0s", "+1.2s", "+2m5s", "+1h3m", "-1s".
std::string FormatGap(Duration d);

// `-o json`: {"release": {namespace, name}, "deliveries": [...]} with every stage as
// {"stage", "time" (RFC 3339 or null), "sincePrevious" (seconds or null), "detail"}.
nlohmann::json ReleaseTimelineJson(const std::string& ns, const std::string& name,
                                   const std::vector<Delivery>& deliveries);
nlohmann::json RunTimelineJson(const nlohmann::json& run, const std::vector<TimelineStage>& stages);

// Every delivery as one Zipkin v2 trace (the JSON array POSTed to /api/v2/spans, which Zipkin,
// Jaeger and Tempo accept): a root span "delivery <sha7>" from its first known stage to its last,
// with the delivery's fields as tags, and a child span per known stage lasting until the next
// known stage. Ids are derived from the namespace, Release and run (or revision), so exporting
// again sends the same trace and span ids. Deliveries without any known time give no trace.
nlohmann::json ZipkinSpans(const std::string& ns, const std::string& name,
                           const std::vector<Delivery>& deliveries);

// The tables: per delivery a heading line and its stages as aligned rows (STAGE, TIME, SINCE
// the previous known stage, DETAIL), unknown times as "-".
void PrintReleaseTimeline(std::ostream& out, const std::string& ns, const std::string& name,
                          const std::vector<Delivery>& deliveries);
void PrintRunTimeline(std::ostream& out, const nlohmann::json& run,
                      const std::vector<TimelineStage>& stages);

}  // namespace flywheel::cli
