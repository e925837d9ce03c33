// `flywheel get`: Flywheel objects printed as `kubectl get` prints them: the CRDs' printer
// columns (the same table, -o wide adds the priority-1 columns), -A with a NAMESPACE column,
// -l, and -o json|yaml|name (one named object prints alone, anything else as a List).
#include <algorithm>
#include <cctype>
#include <chrono>
#include <sstream>

#include "flywheel/api/names.h"
#include "flywheel/cli/app.h"
#include "flywheel/cli/client_flags.h"
#include "flywheel/cli/flags.h"
#include "flywheel/cli/output.h"
#include "flywheel/common/time.h"

namespace flywheel::cli {
namespace {

using nlohmann::json;

constexpr const char* kUsage =
    "List Flywheel objects, as kubectl get does.\n"
    "\n"
    "Usage:\n"
    "  flywheel get [KIND[,KIND...] [NAME...] | KIND/NAME...] [flags]\n"
    "\n"
    "Kinds: pipelines (pl), pipelineruns (plr), releases (rel), rollbackpolicies (rbp), all\n"
    "(the default; also \"flywheel\"), singular or qualified names (release.flywheel.dev) too.\n"
    "\n"
    "Examples:\n"
    "  flywheel get releases -A\n"
    "  flywheel get plr -l flywheel.dev/pipeline=web -o wide\n"
    "  flywheel get release web -o yaml\n"
    "\n"
    "Flags:\n";

// One column of `kubectl get`: a CRD's additionalPrinterColumns entry (crds/*.yaml).
struct Column {
  std::string name, type, json_path;
  int priority = 0;
};

struct KindInfo {
  std::string kind, plural, singular, short_name;
  std::vector<Column> columns;
};

const std::vector<KindInfo>& Kinds() {
  // The same columns, in the same order, as crds/*.yaml (the integration test compares the
  // tables with kubectl's, which the API server renders from the installed CRDs). The kinds in
  // the order kubectl lists the `flywheel` category: by plural.
  static const std::string kReady = ".status.conditions[?(@.type==\"Ready\")]";
  static const std::string kSucceeded = ".status.conditions[?(@.type==\"Succeeded\")]";
  static const Column kAge{"Age", "date", ".metadata.creationTimestamp"};
  static const std::vector<KindInfo> kinds = {
      {"PipelineRun",
       "pipelineruns",
       "pipelinerun",
       "plr",
       {{"Pipeline", "string", ".spec.pipelineRef.name"},
        {"Revision", "string", ".status.shortRevision"},
        {"Phase", "string", ".status.phase"},
        {"Reason", "string", kSucceeded + ".reason"},
        {"Started", "date", ".status.startTime"},
        {"Completed", "date", ".status.completionTime"},
        kAge,
        {"Succeeded", "string", kSucceeded + ".status", 1},
        {"Pod", "string", ".status.podName", 1},
        {"Message", "string", kSucceeded + ".message", 1}}},
      {"Pipeline",
       "pipelines",
       "pipeline",
       "pl",
       {{"Ready", "string", kReady + ".status"},
        {"Last Run", "string", ".status.lastRun.name"},
        {"Phase", "string", ".status.lastRun.phase"},
        {"Revision", "string", ".status.lastRun.shortRevision"},
        kAge,
        {"URL", "string", ".spec.source.url", 1},
        {"Branch", "string", ".spec.source.branch", 1},
        {"Suspended", "boolean", ".spec.suspend", 1},
        {"Message", "string", kReady + ".message", 1}}},
      {"Release",
       "releases",
       "release",
       "rel",
       {{"Ready", "string", kReady + ".status"},
        {"Health", "string", ".status.health"},
        {"Revision", "string", ".status.lastAppliedShortRevision"},
        {"Stable", "string", ".status.stableShortRevision"},
        kAge,
        {"Target", "string", ".spec.targetNamespace", 1},
        {"Suspended", "boolean", ".spec.suspend", 1},
        {"Message", "string", kReady + ".message", 1}}},
      {"RollbackPolicy",
       "rollbackpolicies",
       "rollbackpolicy",
       "rbp",
       {{"Release", "string", ".spec.releaseRef.name"},
        {"Phase", "string", ".status.phase"},
        {"Value", "string", ".status.metrics[0].value"},
        {"State", "string", ".status.metrics[0].state"},
        {"Dry Run", "boolean", ".spec.dryRun"},
        {"Last Rollback", "date", ".status.lastRollback.at"},
        kAge,
        {"Ready", "string", kReady + ".status", 1},
        {"Revision", "string", ".status.watchedRevision", 1},
        {"Message", "string", kReady + ".message", 1}}}};
  return kinds;
}

constexpr const char* kGroup = "flywheel.dev";

const KindInfo* FindKind(const std::string& word) {
  for (const auto& k : Kinds()) {
    for (const std::string& name : {k.plural, k.singular, k.short_name}) {
      if (word == name || word == name + "." + kGroup) return &k;
    }
    if (word == k.kind) return &k;
  }
  return nullptr;
}

// The value at a printer column's JSONPath: `.field`, `[index]` and `[?(@.field=="value")]`
// steps, the forms the CRDs use. nullptr when absent.
const json* Lookup(const json& object, const std::string& path) {
  const json* at = &object;
  size_t i = 0;
  while (i < path.size() && at != nullptr) {
    if (path[i] == '.') {
      const size_t end = path.find_first_of(".[", i + 1);
      const std::string field = path.substr(i + 1, end - i - 1);
      at = at->is_object() && at->contains(field) ? &(*at)[field] : nullptr;
      i = end == std::string::npos ? path.size() : end;
      continue;
    }
    const size_t close = path.find(']', i);
    const std::string step = path.substr(i + 1, close - i - 1);
    i = close == std::string::npos ? path.size() : close + 1;
    if (!at->is_array()) return nullptr;
    if (step.rfind("?(@.", 0) == 0) {
      // ?(@.type=="Ready")
      const size_t eq = step.find("==");
      const std::string field = step.substr(4, eq - 4);
      const std::string want = step.substr(eq + 3, step.size() - eq - 5);
      const json* match = nullptr;
      for (const auto& item : *at) {
        if (item.is_object() && item.value(field, json()) == want) {
          match = &item;
          break;
        }
      }
      at = match;
    } else {
      const size_t index = std::stoul(step);
      at = index < at->size() ? &(*at)[index] : nullptr;
    }
  }
  return at;
}

// A cell as the API server renders a printer column and kubectl prints it: dates as ages,
// strings cut at their first line break with "...", absent values blank.
std::string Cell(const json& object, const Column& column, Time now) {
  const json* v = Lookup(object, column.json_path);
  if (v == nullptr || v->is_null()) return "";
  if (column.type == "date") {
    if (!v->is_string()) return "";
    auto t = ParseRfc3339(v->get<std::string>());
    if (!t.ok()) return "<invalid>";
    return HumanDuration(std::chrono::duration_cast<std::chrono::milliseconds>(now - *t));
  }
  if (column.type == "boolean" && !v->is_boolean()) return "";
  std::string text = v->is_string() ? v->get<std::string>() : v->dump();
  if (const size_t cut = text.find_first_of("\r\n\f"); cut != std::string::npos) {
    text = text.substr(0, cut) + "...";
  }
  return text;
}

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// The objects of one kind to print.
struct Found {
  const KindInfo* kind;
  std::vector<json> items;
};

std::string QualifiedName(const KindInfo& kind, const json& object) {
  std::string singular = kind.singular;
  return singular + "." + kGroup + "/" + object["metadata"].value("name", "");
}

void PrintTables(const std::vector<Found>& found, bool wide, bool all_namespaces, bool no_headers,
                 std::ostream& out) {
  const Time now = std::chrono::system_clock::now();
  bool first_table = true;
  for (const auto& f : found) {
    if (f.items.empty()) continue;
    if (!first_table) out << "\n";
    first_table = false;
    std::vector<std::vector<std::string>> rows;
    std::vector<std::string> header = {"NAME"};
    if (all_namespaces) header.insert(header.begin(), "NAMESPACE");
    for (const auto& c : f.kind->columns) {
      if (wide || c.priority == 0) header.push_back(Upper(c.name));
    }
    if (!no_headers) rows.push_back(header);
    for (const auto& item : f.items) {
      std::vector<std::string> row;
      if (all_namespaces) row.push_back(item["metadata"].value("namespace", ""));
      row.push_back(found.size() > 1 ? QualifiedName(*f.kind, item)
                                     : item["metadata"].value("name", ""));
      for (const auto& c : f.kind->columns) {
        if (wide || c.priority == 0) row.push_back(Cell(item, c, now));
      }
      rows.push_back(std::move(row));
    }
    PrintTable(rows, out);
  }
}

// kubectl shows objects without metadata.managedFields unless asked.
json WithoutManagedFields(json object) {
  if (object.contains("metadata") && object["metadata"].is_object()) {
    object["metadata"].erase("managedFields");
  }
  return object;
}

// The kinds and names the positional arguments ask for: `KIND[,KIND] [NAME...]` or
// `KIND/NAME...`. Returns "" or what is wrong.
std::string ParseTargets(const std::vector<std::string>& positional,
                         std::vector<std::pair<const KindInfo*, std::vector<std::string>>>* out) {
  auto unknown = [](const std::string& word) {
    return "unknown resource \"" + word +
           "\" (pipelines, pipelineruns, releases, rollbackpolicies or all)";
  };
  if (!positional.empty() && positional[0].find('/') != std::string::npos) {
    for (const auto& arg : positional) {
      const size_t slash = arg.find('/');
      if (slash == std::string::npos || slash + 1 == arg.size()) {
        return "\"" + arg + "\" is not KIND/NAME (do not mix KIND/NAME with KIND NAME)";
      }
      const KindInfo* k = FindKind(arg.substr(0, slash));
      if (k == nullptr) return unknown(arg.substr(0, slash));
      auto it = std::find_if(out->begin(), out->end(), [&](const auto& t) { return t.first == k; });
      if (it == out->end()) it = out->insert(out->end(), {k, {}});
      it->second.push_back(arg.substr(slash + 1));
    }
    return "";
  }
  const std::string what = positional.empty() ? "all" : positional[0];
  std::stringstream words(what);
  for (std::string word; std::getline(words, word, ',');) {
    if (word == "all" || word == "flywheel") {
      for (const auto& k : Kinds()) out->push_back({&k, {}});
    } else if (const KindInfo* k = FindKind(word)) {
      out->push_back({k, {}});
    } else {
      return unknown(word);
    }
  }
  if (positional.size() > 1) {
    if (out->size() != 1) return "names need exactly one kind (or KIND/NAME arguments)";
    out->front().second.assign(positional.begin() + 1, positional.end());
  }
  return "";
}

int RunGet(const Invocation& inv) {
  ClientFlags client_flags;
  std::string output;
  std::string selector;
  bool all_namespaces = false;
  bool no_headers = false;
  FlagSet flags("flywheel get");
  client_flags.Register(flags);
  flags.Bool("all-namespaces", &all_namespaces, "List across all namespaces", "A");
  flags.String("selector", &selector, "Label selector, e.g. app=web,tier!=db", "l");
  flags.String("output", &output, "Output format: wide, json, yaml or name (default a table)", "o");
  flags.Bool("no-headers", &no_headers, "Print tables without their header line");
  std::vector<std::string> positional;
  if (auto exit = flags.ParseCommandLine(inv.args, inv, kUsage, &positional)) return *exit;
  if (output != "" && output != "wide" && output != "json" && output != "yaml" &&
      output != "name") {
    inv.err << "flywheel get: --output must be wide, json, yaml or name, not \"" << output
            << "\"\n";
    return kExitUsage;
  }
  std::vector<std::pair<const KindInfo*, std::vector<std::string>>> targets;
  if (std::string wrong = ParseTargets(positional, &targets); !wrong.empty()) {
    inv.err << "flywheel get: " << wrong << "\n";
    return kExitUsage;
  }
  const bool by_name = !targets.front().second.empty();
  if (by_name && !selector.empty()) {
    inv.err << "flywheel get: --selector cannot be combined with names\n";
    return kExitUsage;
  }
  std::string context_ns;
  auto client = client_flags.Connect(inv, "flywheel get", &context_ns);
  if (!client) return kExitFailure;
  const std::string list_ns = all_namespaces ? "" : context_ns;

  std::vector<Found> found;
  int exit_code = kExitOk;
  for (const auto& [kind, names] : targets) {
    Found f{kind, {}};
    if (names.empty()) {
      kube::ListOptions options;
      options.label_selector = selector;
      options.drop_managed_fields = true;
      auto list = client->List(api::kGroupVersion, kind->kind, list_ns, options);
      if (!list.ok()) {
        inv.err << "flywheel get " << kind->plural << ": " << list.status().message() << "\n";
        return kExitFailure;
      }
      for (auto& item : (*list)["items"]) f.items.push_back(std::move(item));
    }
    for (const auto& name : names) {
      auto object = client->Get(api::kGroupVersion, kind->kind, context_ns, name);
      if (!object.ok()) {
        // As kubectl: report each missing object, print the others, fail at the end.
        inv.err << "flywheel get: " << object.status().message() << "\n";
        exit_code = kExitFailure;
        continue;
      }
      f.items.push_back(WithoutManagedFields(std::move(*object)));
    }
    for (auto& item : f.items) {
      item["apiVersion"] = api::kGroupVersion;
      item["kind"] = kind->kind;
    }
    found.push_back(std::move(f));
  }

  size_t count = 0;
  for (const auto& f : found) count += f.items.size();
  if (output == "json" || output == "yaml") {
    json printed;
    if (by_name && targets.size() == 1 && targets.front().second.size() == 1) {
      if (count == 0) return exit_code;
      printed = found.front().items.front();
    } else {
      printed = {{"apiVersion", "v1"},
                 {"kind", "List"},
                 {"metadata", {{"resourceVersion", ""}}},
                 {"items", json::array()}};
      for (const auto& f : found) {
        for (const auto& item : f.items) printed["items"].push_back(item);
      }
    }
    inv.out << (output == "json" ? printed.dump(4) + "\n" : ToYaml(printed));
    return exit_code;
  }
  if (output == "name") {
    for (const auto& f : found) {
      for (const auto& item : f.items) inv.out << QualifiedName(*f.kind, item) << "\n";
    }
    return exit_code;
  }
  if (count == 0 && !by_name) {
    inv.err << (all_namespaces ? std::string("No resources found")
                               : "No resources found in " + list_ns + " namespace.")
            << "\n";
    return exit_code;
  }
  PrintTables(found, output == "wide", all_namespaces, no_headers, inv.out);
  return exit_code;
}

}  // namespace

std::string FlywheelKind(const std::string& word) {
  const KindInfo* kind = FindKind(word);
  return kind == nullptr ? "" : kind->kind;
}

Command GetCommand() { return {"get", "List Flywheel objects as kubectl get does", RunGet}; }

}  // namespace flywheel::cli
