// The timeline of a Release's deliveries and of one PipelineRun, assembled from the objects the
// API server holds (see include/flywheel/cli/timeline.h and docs/release.md "Timeline").
#include <algorithm>
#include <iomanip>
#include <map>
#include <set>
#include <sstream>

#include "flywheel/cli/timeline.h"
#include "flywheel/common/sha256.h"
#include "flywheel/git/url.h"
#include "flywheel/kube/conditions.h"
#include "flywheel/rollback/policies.h"

namespace flywheel::cli {
namespace {

using nlohmann::json;

std::string Short(const std::string& sha) { return sha.substr(0, 7); }

// A List's items, or an array as it is.
json Items(const json& list) {
  if (list.is_array()) return list;
  if (list.is_object() && list.contains("items") && list["items"].is_array()) return list["items"];
  return json::array();
}

std::string Str(const json& object, const char* field) {
  if (!object.is_object()) return "";
  auto it = object.find(field);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

json Obj(const json& object, const char* field) {
  if (!object.is_object()) return json::object();
  auto it = object.find(field);
  return it != object.end() && it->is_object() ? *it : json::object();
}

json Arr(const json& object, const char* field) {
  if (!object.is_object()) return json::array();
  auto it = object.find(field);
  return it != object.end() && it->is_array() ? *it : json::array();
}

std::optional<Time> TimeOf(const json& object, const char* field) {
  const std::string text = Str(object, field);
  if (text.empty()) return std::nullopt;
  auto t = ParseRfc3339(text);
  if (!t.ok()) return std::nullopt;
  return *t;
}

// When an events.k8s.io/v1 Event first happened (an Event made through core/v1 has only the
// deprecated timestamps).
std::optional<Time> EventTime(const json& event) {
  for (const char* field : {"eventTime", "deprecatedFirstTimestamp", "firstTimestamp"}) {
    if (auto t = TimeOf(event, field)) return t;
  }
  return TimeOf(Obj(event, "metadata"), "creationTimestamp");
}

std::string EventNote(const json& event) {
  std::string note = Str(event, "note");
  return note.empty() ? Str(event, "message") : note;
}

// The earliest Event with `reason` about `kind` `name` whose note contains `needle`.
std::optional<TimelineStage> FirstEvent(const json& events, const std::string& kind,
                                        const std::string& name, const std::string& reason,
                                        const std::string& needle) {
  std::optional<TimelineStage> first;
  for (const json& e : Items(events)) {
    json about = Obj(e, "regarding");
    if (about.empty()) about = Obj(e, "involvedObject");
    if (Str(about, "kind") != kind || Str(about, "name") != name || Str(e, "reason") != reason)
      continue;
    const std::string note = EventNote(e);
    if (note.find(needle) == std::string::npos) continue;
    auto at = EventTime(e);
    if (!at) continue;
    if (!first || *at < *first->at) first = TimelineStage{"", at, note};
  }
  return first;
}

// The build pod's clone step writes the commit it checked out as JSON into its termination
// message (docs/pipeline.md "Clone"): author, committedAt, subject.
json CloneCommit(const json* pod) {
  if (pod == nullptr) return json::object();
  const json status = Obj(*pod, "status");
  for (const char* list : {"initContainerStatuses", "containerStatuses"}) {
    for (const json& c : Arr(status, list)) {
      if (Str(c, "name") != "clone") continue;
      for (const char* state : {"state", "lastState"}) {
        const std::string message = Str(Obj(Obj(c, state), "terminated"), "message");
        json commit = json::parse(message, nullptr, false);
        if (commit.is_object()) return commit;
      }
    }
  }
  return json::object();
}

const json* PodOf(const json& pods, const json& run) {
  const std::string name = Str(Obj(run, "status"), "podName");
  const std::string run_name = Str(Obj(run, "metadata"), "name");
  const std::string run_uid = Str(Obj(run, "metadata"), "uid");
  for (const json& p : pods) {
    const json meta = Obj(p, "metadata");
    bool owned = run_uid.empty();
    for (const json& ref : Arr(meta, "ownerReferences"))
      owned = owned || Str(ref, "uid") == run_uid;
    if (!owned) continue;
    if ((!name.empty() && Str(meta, "name") == name) ||
        Str(Obj(meta, "labels"), "flywheel.dev/pipeline-run") == run_name)
      return &p;
  }
  return nullptr;
}

json StepOf(const json& run, const std::string& name) {
  for (const json& s : Arr(Obj(run, "status"), "steps")) {
    if (Str(s, "name") == name) return s;
  }
  return json::object();
}

// "Failed (StepFailed): step "test" failed with exit code 1 (Error)", or "Succeeded".
std::string RunResult(const json& run) {
  const json status = Obj(run, "status");
  const std::string phase = Str(status, "phase");
  const json conditions = Arr(status, "conditions");
  const json* c = kube::FindCondition(conditions, "Succeeded");
  if (c == nullptr || phase == "Succeeded") return phase;
  const std::string reason = Str(*c, "reason");
  std::string out = phase;
  if (!reason.empty() && reason != phase) out += " (" + reason + ")";
  const std::string message = Str(*c, "message");
  if (!message.empty()) out += ": " + message;
  return out;
}

std::string RunReason(const json& run) {
  const json conditions = Arr(Obj(run, "status"), "conditions");
  const json* c = kube::FindCondition(conditions, "Succeeded");
  return c == nullptr ? "" : Str(*c, "reason");
}

// Whether two Git URLs name the same repository (as /hooks/git matches them).
bool SameRepo(const std::string& a, const std::string& b) {
  const std::string ka = git::RepoKey(a);
  return !ka.empty() && ka == git::RepoKey(b);
}

using Stages = std::map<std::string, TimelineStage>;

void Put(Stages& stages, const std::string& name, std::optional<Time> at, std::string detail) {
  stages[name] = TimelineStage{name, at, std::move(detail)};
}

// The run's part of a delivery: commit, start, image, promotion, end.
void AddRun(Delivery& d, Stages& stages, const json& run, const json* pod) {
  const json spec = Obj(run, "spec");
  const json status = Obj(run, "status");
  d.revision = Str(spec, "revision");
  d.pipeline = Str(Obj(spec, "pipelineRef"), "name");
  d.run = Str(Obj(run, "metadata"), "name");
  d.run_phase = Str(status, "phase");
  d.run_reason = RunReason(run);
  const json commit = CloneCommit(pod);
  d.subject = Str(commit, "subject");
  d.author = Str(commit, "author");
  std::string what = Short(d.revision);
  if (!d.subject.empty()) what += " " + d.subject;
  if (!d.author.empty()) what += " (" + d.author + ")";
  Put(stages, "committed", TimeOf(commit, "committedAt"), what);
  Put(stages, "run started", TimeOf(status, "startTime"), d.pipeline + "/" + d.run);
  const json artifact = Obj(status, "artifact");
  if (!artifact.empty()) {
    d.image = Str(artifact, "image");
    d.digest = Str(artifact, "digest");
    Put(stages, "image pushed", TimeOf(StepOf(run, "build-image"), "finishedAt"),
        d.image + (d.digest.empty() ? "" : "@" + d.digest));
  }
  const json promotion = Obj(status, "promotion");
  if (!promotion.empty()) {
    d.promotion_commit = Str(promotion, "commit");
    std::string detail = "commit " + Short(d.promotion_commit);
    if (!Str(promotion, "branch").empty()) detail += " on " + Str(promotion, "branch");
    if (Str(StepOf(run, "promote"), "reason") == "AlreadyPromoted") detail += " (already there)";
    Put(stages, "promoted", TimeOf(promotion, "pushedAt"), detail);
  } else if (Str(StepOf(run, "promote"), "phase") == "Failed") {
    Put(stages, "promoted", std::nullopt, "failed");
  }
  Put(stages, "run finished", TimeOf(status, "completionTime"), RunResult(run));
}

// The RollbackPolicies guarding the Release (as the controller finds them).
std::vector<json> Guarding(const json& release, const json& policies) {
  std::vector<kube::ObjectPtr> all;
  for (const json& p : Items(policies)) all.push_back(std::make_shared<const json>(p));
  const std::vector<std::string> keys = rollback::PoliciesGuarding(release, all);
  std::vector<json> out;
  for (const auto& p : all) {
    const json meta = Obj(*p, "metadata");
    const std::string key = Str(meta, "namespace") + "/" + Str(meta, "name");
    if (std::find(keys.begin(), keys.end(), key) != keys.end()) out.push_back(*p);
  }
  return out;
}

// The Release's part of a delivery whose applied revision is `entry`'s: applied, healthy, and
// what the RollbackPolicies and the Release say about a breach, a rollback and the restore.
void AddRelease(Delivery& d, Stages& stages, const json& entry, const ReleaseTimelineInput& in) {
  const std::string rev = Str(entry, "revision");
  const std::string release_name = Str(Obj(in.release, "metadata"), "name");
  const json rstatus = Obj(in.release, "status");
  const std::string result = Str(entry, "result");
  d.applied_revision = rev;
  d.outcome = result;
  if (result == "Failed") {
    d.outcome = "SyncFailed";
    Put(stages, "applied", std::nullopt,
        "revision " + Short(rev) + " failed: " + Str(entry, "reason"));
  } else {
    Put(stages, "applied", TimeOf(entry, "appliedAt"), "revision " + Short(rev));
  }
  std::string health_detail;
  if (result == "Degraded") health_detail = "Degraded: " + Str(entry, "reason");
  Put(stages, "healthy", TimeOf(entry, "healthyAt"), health_detail);

  // Breach start and the rollback request: the policy's status while it still watches this
  // revision (it keeps both after a rollback until the next revision), else its Events.
  std::optional<TimelineStage> breach, requested;
  for (const json& p : Guarding(in.release, in.policies)) {
    const std::string pname = Str(Obj(p, "metadata"), "name");
    const json ps = Obj(p, "status");
    if (Str(ps, "watchedRevision") == rev) {
      for (const json& m : Arr(ps, "metrics")) {
        auto since = TimeOf(m, "breachingSince");
        if (!since || (breach && *breach->at <= *since)) continue;
        breach = TimelineStage{"", since,
                               pname + ": " + Str(m, "name") + " " + Str(m, "state") +
                                   (Str(m, "value").empty() ? "" : " at " + Str(m, "value"))};
      }
    }
    if (!breach)
      breach = FirstEvent(in.events, "RollbackPolicy", pname, "Breaching",
                          "(revision " + Short(rev) + ")");
    const json last = Obj(ps, "lastRollback");
    if (Str(last, "fromRevision") == rev && !requested) {
      const bool dry = last.value("dryRun", false);
      requested = TimelineStage{"", TimeOf(last, "at"),
                                pname + (dry ? " (dry run, not sent)" : "") + ": " +
                                    Str(last, "trigger") + ": " + Str(last, "reason")};
    }
  }
  if (breach) Put(stages, "breach", breach->at, breach->detail);
  if (requested) Put(stages, "rollback requested", requested->at, requested->detail);

  // The rollback the Release carried out: status.lastRollback (the newest), else the rejection
  // it recorded, else its RolledBack Event.
  const json last = Obj(rstatus, "lastRollback");
  bool rolled_back = result == "RolledBack";
  if (Str(last, "fromRevision") == rev) {
    rolled_back = true;
    std::string detail = "to " + Short(Str(last, "toRevision"));
    if (!Str(last, "by").empty()) detail += " by " + Str(last, "by");
    if (!Str(last, "reason").empty()) detail += ": " + Str(last, "reason");
    if (!Str(last, "revertCommit").empty()) {
      detail += "; revert commit " + Short(Str(last, "revertCommit"));
    } else if (!Str(last, "revertMessage").empty()) {
      detail += "; " + Str(last, "revertMessage");
    }
    Put(stages, "rolled back", TimeOf(last, "at"), detail);
    const std::string now_runs =
        Str(last, "revertCommit").empty() ? Str(last, "toRevision") : Str(last, "revertCommit");
    auto restored = TimeOf(last, "restoredAt");
    Put(stages, "restored", restored, restored ? "healthy on " + Short(now_runs) : "");
  } else if (rolled_back) {
    std::optional<TimelineStage> rollback;
    for (const json& r : Arr(rstatus, "rejectedRevisions")) {
      if (Str(r, "revision") == rev)
        rollback = TimelineStage{"", TimeOf(r, "rejectedAt"), Str(r, "reason")};
    }
    if (!rollback)
      rollback = FirstEvent(in.events, "Release", release_name, "RolledBack",
                            "rolled back from " + Short(rev) + " ");
    if (!rollback) rollback = TimelineStage{"", std::nullopt, Str(entry, "reason")};
    Put(stages, "rolled back", rollback->at, rollback->detail);
    if (auto restored = FirstEvent(in.events, "Release", release_name, "Restored",
                                   "after the rollback from " + Short(rev))) {
      Put(stages, "restored", restored->at, restored->detail);
    }
  }
  if (rolled_back) {
    d.outcome = "RolledBack";
    if (stages.count("restored") && stages["restored"].at) d.outcome += ", restored";
  }
}

std::string RunOutcome(const Delivery& d) {
  if (d.run_phase == "Succeeded") return d.promotion_commit.empty() ? "Built" : "Promoted";
  if (d.run_phase.empty()) return "Pending";
  if (d.run_reason.empty() || d.run_reason == d.run_phase) return d.run_phase;
  return d.run_phase + " (" + d.run_reason + ")";
}

std::optional<Time> SortKey(const json* run, const json* entry) {
  if (run != nullptr) {
    if (auto t = TimeOf(Obj(*run, "metadata"), "creationTimestamp")) return t;
    if (auto t = TimeOf(Obj(*run, "status"), "startTime")) return t;
  }
  if (entry != nullptr) {
    if (auto t = TimeOf(*entry, "appliedAt")) return t;
    if (auto t = TimeOf(*entry, "committedAt")) return t;
  }
  return std::nullopt;
}

std::vector<TimelineStage> InOrder(const Stages& stages, const std::vector<std::string>& order) {
  std::vector<TimelineStage> out;
  for (const auto& name : order) {
    auto it = stages.find(name);
    out.push_back(it != stages.end() ? it->second : TimelineStage{name, std::nullopt, ""});
  }
  return out;
}

json Nullable(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }

// Each stage with the seconds since the previous stage that has a time.
json StagesJson(const std::vector<TimelineStage>& stages) {
  json out = json::array();
  std::optional<Time> previous;
  for (const auto& s : stages) {
    json since = nullptr;
    if (s.at && previous) since = std::chrono::duration<double>(*s.at - *previous).count();
    out.push_back({{"stage", s.name},
                   {"time", s.at ? json(FormatTimelineTime(*s.at)) : json(nullptr)},
                   {"sincePrevious", since},
                   {"detail", Nullable(s.detail)}});
    if (s.at) previous = s.at;
  }
  return out;
}

void PrintStages(std::ostream& out, const std::vector<TimelineStage>& stages) {
  std::vector<std::vector<std::string>> rows = {{"STAGE", "TIME", "SINCE", "DETAIL"}};
  std::optional<Time> previous;
  for (const auto& s : stages) {
    std::string gap = "-";
    if (s.at && previous) gap = FormatGap(*s.at - *previous);
    std::string detail = s.detail.empty() ? "-" : s.detail;
    std::replace(detail.begin(), detail.end(), '\n', ' ');  // one row per stage
    rows.push_back({s.name, s.at ? FormatTimelineTime(*s.at) : "-", gap, detail});
    if (s.at) previous = s.at;
  }
  std::vector<size_t> width(4, 0);
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  for (const auto& r : rows) {
    out << "  ";
    for (size_t i = 0; i + 1 < r.size(); ++i)
      out << std::left << std::setw(static_cast<int>(width[i] + 2)) << r[i];
    out << r.back() << "\n";
  }
}

}  // namespace

std::vector<Delivery> AssembleReleaseTimeline(const ReleaseTimelineInput& in) {
  const json rspec = Obj(in.release, "spec");
  const json source = Obj(rspec, "source");
  const std::string url = Str(source, "url");
  const std::string branch = Str(source, "branch").empty() ? "main" : Str(source, "branch");
  const json history = Arr(Obj(in.release, "status"), "history");

  // Pipelines that promote into the Release's repository and branch.
  std::set<std::string> feeding;
  for (const json& p : Items(in.pipelines)) {
    const json promote = Obj(Obj(p, "spec"), "promote");
    const std::string pb = Str(promote, "branch").empty() ? "main" : Str(promote, "branch");
    if (SameRepo(Str(promote, "url"), url) && pb == branch)
      feeding.insert(Str(Obj(p, "metadata"), "name"));
  }
  auto entry_of = [&](const std::string& rev) -> const json* {
    if (rev.empty()) return nullptr;
    for (const json& e : history) {
      if (Str(e, "revision") == rev) return &e;
    }
    return nullptr;
  };

  struct Keyed {
    std::optional<Time> key;
    std::string tie;
    Delivery d;
  };
  std::vector<Keyed> all;
  std::set<std::string> matched;  // history revisions a run delivered
  const json pods = Items(in.pods);
  for (const json& run : Items(in.runs)) {
    const std::string pipeline = Str(Obj(Obj(run, "spec"), "pipelineRef"), "name");
    const std::string promoted = Str(Obj(Obj(run, "status"), "promotion"), "commit");
    const json* entry = entry_of(promoted);
    if (!feeding.count(pipeline) && entry == nullptr) continue;
    Delivery d;
    Stages stages;
    AddRun(d, stages, run, PodOf(pods, run));
    d.outcome = RunOutcome(d);
    if (entry != nullptr) {
      AddRelease(d, stages, *entry, in);
      matched.insert(promoted);
    }
    d.stages = InOrder(stages, kDeliveryStages);
    all.push_back({SortKey(&run, entry), d.run, std::move(d)});
  }
  for (const json& e : history) {
    const std::string rev = Str(e, "revision");
    if (matched.count(rev)) continue;
    Delivery d;
    Stages stages;
    d.revision = rev;
    d.subject = Str(e, "message");
    d.author = Str(e, "author");
    std::string what = Short(rev);
    if (!d.subject.empty()) what += " " + d.subject;
    if (!d.author.empty()) what += " (" + d.author + ")";
    Put(stages, "committed", TimeOf(e, "committedAt"), what);
    AddRelease(d, stages, e, in);
    d.stages = InOrder(stages, kDeliveryStages);
    all.push_back({SortKey(nullptr, &e), rev, std::move(d)});
  }
  std::stable_sort(all.begin(), all.end(), [](const Keyed& a, const Keyed& b) {
    if (a.key != b.key) return a.key < b.key;  // unknown times first
    return a.tie < b.tie;
  });
  std::vector<Delivery> out;
  for (auto& k : all) out.push_back(std::move(k.d));
  return out;
}

std::vector<TimelineStage> AssembleRunTimeline(const json& run, const json* pod) {
  const json meta = Obj(run, "metadata");
  const json spec = Obj(run, "spec");
  const json status = Obj(run, "status");
  std::vector<TimelineStage> out;
  out.push_back({"created", TimeOf(meta, "creationTimestamp"),
                 Str(Obj(spec, "pipelineRef"), "name") + " at " + Short(Str(spec, "revision"))});
  const json pmeta = pod ? Obj(*pod, "metadata") : json::object();
  const json pstatus = pod ? Obj(*pod, "status") : json::object();
  const std::string pod_name = Str(status, "podName");
  // The run's startTime is when the controller created the pod.
  auto pod_created = TimeOf(pmeta, "creationTimestamp");
  out.push_back({"pod created", pod_created ? pod_created : TimeOf(status, "startTime"), pod_name});
  std::optional<Time> scheduled;
  std::string node = pod ? Str(Obj(*pod, "spec"), "nodeName") : "";
  for (const json& c : Arr(pstatus, "conditions")) {
    if (Str(c, "type") == "PodScheduled" && Str(c, "status") == "True")
      scheduled = TimeOf(c, "lastTransitionTime");
  }
  out.push_back({"pod scheduled", scheduled, node.empty() ? "" : "on " + node});
  out.push_back({"pod started", TimeOf(pstatus, "startTime"), ""});
  for (const json& s : Arr(status, "steps")) {
    const std::string name = Str(s, "name");
    const std::string phase = Str(s, "phase");
    out.push_back({name + " started", TimeOf(s, "startedAt"), ""});
    std::string detail = phase;
    if (s.contains("exitCode") && s["exitCode"].is_number_integer())
      detail += ", exit code " + std::to_string(s["exitCode"].get<int>());
    if (!Str(s, "reason").empty()) detail += " (" + Str(s, "reason") + ")";
    if (name == "promote" && !Str(Obj(status, "promotion"), "commit").empty())
      detail += ": commit " + Short(Str(Obj(status, "promotion"), "commit"));
    if (name == "build-image" && !Str(Obj(status, "artifact"), "image").empty()) {
      const json a = Obj(status, "artifact");
      detail += ": " + Str(a, "image") + (Str(a, "digest").empty() ? "" : "@" + Str(a, "digest"));
    }
    out.push_back({name + " finished", TimeOf(s, "finishedAt"), detail});
  }
  out.push_back({"finished", TimeOf(status, "completionTime"), RunResult(run)});
  return out;
}

std::string FormatTimelineTime(Time t) {
  return t == std::chrono::floor<std::chrono::seconds>(t) ? FormatRfc3339(t)
                                                          : FormatRfc3339Micro(t);
}

std::string FormatGap(Duration d) {
  const std::string sign = d < Duration::zero() ? "-" : "+";
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(d < Duration::zero() ? -d : d).count();
  std::ostringstream out;
  out << sign;
  if (ms < 60'000) {
    out << ms / 1000;
    const auto tenths = (ms % 1000) / 100;
    if (ms % 1000 != 0 && ms < 10'000) out << "." << tenths;
    out << "s";
  } else if (ms < 3'600'000) {
    out << ms / 60'000 << "m" << (ms % 60'000) / 1000 << "s";
  } else {
    out << ms / 3'600'000 << "h" << (ms % 3'600'000) / 60'000 << "m";
  }
  return out.str();
}

json ReleaseTimelineJson(const std::string& ns, const std::string& name,
                         const std::vector<Delivery>& deliveries) {
  json list = json::array();
  for (const auto& d : deliveries) {
    list.push_back({{"revision", Nullable(d.revision)},
                    {"shortRevision", Nullable(Short(d.revision))},
                    {"subject", Nullable(d.subject)},
                    {"author", Nullable(d.author)},
                    {"pipeline", Nullable(d.pipeline)},
                    {"run", Nullable(d.run)},
                    {"runPhase", Nullable(d.run_phase)},
                    {"runReason", Nullable(d.run_reason)},
                    {"image", Nullable(d.image)},
                    {"digest", Nullable(d.digest)},
                    {"promotionCommit", Nullable(d.promotion_commit)},
                    {"appliedRevision", Nullable(d.applied_revision)},
                    {"outcome", Nullable(d.outcome)},
                    {"stages", StagesJson(d.stages)}});
  }
  return {{"release", {{"namespace", ns}, {"name", name}}}, {"deliveries", list}};
}

json RunTimelineJson(const json& run, const std::vector<TimelineStage>& stages) {
  const json meta = Obj(run, "metadata");
  const json spec = Obj(run, "spec");
  return {{"run",
           {{"namespace", Str(meta, "namespace")},
            {"name", Str(meta, "name")},
            {"pipeline", Nullable(Str(Obj(spec, "pipelineRef"), "name"))},
            {"revision", Nullable(Str(spec, "revision"))},
            {"phase", Nullable(Str(Obj(run, "status"), "phase"))}}},
          {"stages", StagesJson(stages)}};
}

json ZipkinSpans(const std::string& ns, const std::string& name,
                 const std::vector<Delivery>& deliveries) {
  auto micros = [](Time t) {
    return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  };
  const json endpoint = {{"serviceName", "flywheel"}};
  json spans = json::array();
  for (const Delivery& d : deliveries) {
    std::vector<const TimelineStage*> known;
    for (const auto& s : d.stages) {
      if (s.at) known.push_back(&s);
    }
    if (known.empty()) continue;
    const std::string trace =
        Sha256Hex(ns + "/" + name + "/" + (d.run.empty() ? d.revision : d.run)).substr(0, 32);
    const std::string root_id = trace.substr(0, 16);
    Time first = *known.front()->at, last = first;
    for (const auto* s : known) {
      first = std::min(first, *s->at);
      last = std::max(last, *s->at);
    }
    json tags = {{"release", ns + "/" + name}};
    const std::vector<std::pair<std::string, std::string>> fields = {
        {"revision", d.revision},
        {"subject", d.subject},
        {"author", d.author},
        {"pipelinerun", d.run},
        {"image", d.image},
        {"digest", d.digest},
        {"promotion.commit", d.promotion_commit},
        {"applied.revision", d.applied_revision},
        {"outcome", d.outcome}};
    for (const auto& [key, value] : fields) {
      if (!value.empty()) tags[key] = value;
    }
    json root = {{"traceId", trace},
                 {"id", root_id},
                 {"name", "delivery " + (d.revision.empty() ? "-" : Short(d.revision))},
                 {"timestamp", micros(first)},
                 {"localEndpoint", endpoint},
                 {"tags", tags}};
    if (last > first) root["duration"] = micros(last) - micros(first);
    spans.push_back(root);
    for (size_t i = 0; i < known.size(); ++i) {
      json span = {{"traceId", trace},
                   {"parentId", root_id},
                   {"id", Sha256Hex(trace + "/" + known[i]->name).substr(0, 16)},
                   {"name", known[i]->name},
                   {"timestamp", micros(*known[i]->at)},
                   {"localEndpoint", endpoint}};
      if (i + 1 < known.size() && *known[i + 1]->at > *known[i]->at)
        span["duration"] = micros(*known[i + 1]->at) - micros(*known[i]->at);
      if (!known[i]->detail.empty()) span["tags"] = {{"detail", known[i]->detail}};
      spans.push_back(span);
    }
  }
  return spans;
}

void PrintReleaseTimeline(std::ostream& out, const std::string& ns, const std::string& name,
                          const std::vector<Delivery>& deliveries) {
  if (deliveries.empty()) {
    out << "Release " << ns << "/" << name
        << " has no deliveries yet (no history, and no PipelineRun promoting into its "
           "repository).\n";
    return;
  }
  out << "Release " << ns << "/" << name << ": " << deliveries.size()
      << (deliveries.size() == 1 ? " delivery" : " deliveries") << ", oldest first\n";
  for (size_t i = 0; i < deliveries.size(); ++i) {
    const Delivery& d = deliveries[i];
    out << "\nDELIVERY " << i + 1 << "  " << (d.revision.empty() ? "-" : Short(d.revision));
    if (!d.subject.empty()) out << "  " << d.subject;
    out << "  [" << (d.outcome.empty() ? "-" : d.outcome) << "]\n";
    PrintStages(out, d.stages);
  }
}

void PrintRunTimeline(std::ostream& out, const json& run,
                      const std::vector<TimelineStage>& stages) {
  const json meta = Obj(run, "metadata");
  const json spec = Obj(run, "spec");
  out << "PipelineRun " << Str(meta, "namespace") << "/" << Str(meta, "name") << "  "
      << Short(Str(spec, "revision")) << "  [" << Str(Obj(run, "status"), "phase") << "]\n";
  PrintStages(out, stages);
}

}  // namespace flywheel::cli
