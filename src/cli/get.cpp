// `flywheel get`: the Flywheel objects of a namespace (or all) as a table, like
// `kubectl get flywheel`, with the state a user looks for first.
#include <iomanip>
#include <sstream>

#include "flywheel/api/names.h"
#include "flywheel/cli/app.h"
#include "flywheel/cli/client_flags.h"
#include "flywheel/cli/flags.h"
#include "flywheel/common/time.h"

namespace flywheel::cli {
namespace {

using nlohmann::json;

constexpr const char* kUsage =
    "List Flywheel objects.\n"
    "\n"
    "Usage:\n"
    "  flywheel get [pipelines|pipelineruns|releases|rollbackpolicies|all] [flags]\n"
    "\n"
    "Flags:\n";

struct KindInfo {
  std::string kind, plural, short_name;
};

const std::vector<KindInfo> kKinds = {{"Pipeline", "pipelines", "pl"},
                                      {"PipelineRun", "pipelineruns", "plr"},
                                      {"Release", "releases", "rel"},
                                      {"RollbackPolicy", "rollbackpolicies", "rbp"}};

std::string ConditionStatus(const json& obj, const std::string& type) {
  for (const auto& c : obj.value("status", json::object()).value("conditions", json::array())) {
    if (c.value("type", "") == type) return c.value("status", "Unknown");
  }
  return "-";
}

// The one-word state of an object: a run's phase, a release's health, a policy's phase.
std::string State(const json& obj) {
  const json status = obj.value("status", json::object());
  for (const char* field : {"phase", "health"}) {
    if (status.contains(field) && status[field].is_string()) return status[field];
  }
  return "-";
}

std::string Age(const json& obj) {
  auto created = ParseRfc3339(obj["metadata"].value("creationTimestamp", ""));
  if (!created.ok()) return "-";
  auto secs =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now() - *created)
          .count();
  if (secs < 120) return std::to_string(secs) + "s";
  if (secs < 7200) return std::to_string(secs / 60) + "m";
  if (secs < 172800) return std::to_string(secs / 3600) + "h";
  return std::to_string(secs / 86400) + "d";
}

int RunGet(const Invocation& inv) {
  ClientFlags client_flags;
  std::string output = "table";
  bool all_namespaces = false;
  FlagSet flags("flywheel get");
  client_flags.Register(flags);
  flags.Bool("all-namespaces", &all_namespaces, "List across all namespaces (also -A)");
  flags.String("output", &output, "table or json", "o");
  std::vector<std::string> args = inv.args;
  for (auto& a : args) {
    if (a == "-A") a = "--all-namespaces";
  }
  std::vector<std::string> positional;
  if (auto exit = flags.ParseCommandLine(args, inv, kUsage, &positional)) return *exit;
  if (output != "table" && output != "json") {
    inv.err << "flywheel get: --output must be table or json, not \"" << output << "\"\n";
    return kExitUsage;
  }
  std::vector<KindInfo> kinds;
  std::string what = positional.empty() ? "all" : positional[0];
  for (const auto& k : kKinds) {
    if (what == "all" || what == k.plural || what == k.short_name || what == k.kind) {
      kinds.push_back(k);
    }
  }
  if (kinds.empty() || positional.size() > 1) {
    inv.err << "flywheel get: unknown resource \"" << what
            << "\" (pipelines, pipelineruns, releases, rollbackpolicies or all)\n";
    return kExitUsage;
  }
  std::string context_ns;
  auto client = client_flags.Connect(inv, "flywheel get", &context_ns);
  if (!client) return kExitFailure;
  const std::string list_ns = all_namespaces ? "" : context_ns;
  json all = json::array();
  for (const auto& k : kinds) {
    auto list = client->List(api::kGroupVersion, k.kind, list_ns);
    if (!list.ok()) {
      inv.err << "flywheel get " << k.plural << ": " << list.status().message() << "\n";
      return kExitFailure;
    }
    for (auto& item : (*list)["items"]) {
      item["kind"] = k.kind;
      all.push_back(std::move(item));
    }
  }
  if (output == "json") {
    inv.out << json{{"items", all}}.dump(2) << "\n";
    return kExitOk;
  }
  if (all.empty()) {
    inv.err << "No Flywheel objects found in "
            << (all_namespaces ? std::string("any namespace") : "namespace " + list_ns) << ".\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> header = {"KIND", "NAME", "READY", "STATE", "AGE"};
  if (all_namespaces) header.insert(header.begin(), "NAMESPACE");
  rows.push_back(header);
  for (const auto& obj : all) {
    std::vector<std::string> row = {
        obj["kind"], obj["metadata"].value("name", ""),
        ConditionStatus(obj, obj["kind"] == "PipelineRun" ? "Succeeded" : "Ready"), State(obj),
        Age(obj)};
    if (all_namespaces) row.insert(row.begin(), obj["metadata"].value("namespace", ""));
    rows.push_back(row);
  }
  std::vector<size_t> width(header.size(), 0);
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i) {
      inv.out << std::left << std::setw(static_cast<int>(i + 1 < r.size() ? width[i] + 3 : 0))
              << r[i];
    }
    inv.out << "\n";
  }
  return kExitOk;
}

}  // namespace

Command GetCommand() { return {"get", "List Flywheel objects and their state", RunGet}; }

}  // namespace flywheel::cli
