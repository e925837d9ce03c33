#include "flywheel/release/applier.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "flywheel/common/clock.h"
#include "flywheel/manifest/order.h"

namespace flywheel::release {

using nlohmann::json;

namespace {

json WithoutVolatile(json object) {
  if (auto meta = object.find("metadata"); meta != object.end() && meta->is_object()) {
    meta->erase("managedFields");
    meta->erase("resourceVersion");
  }
  return object;
}

// The namespaces and CRD-defined kinds ("group/Kind") a revision creates itself.
struct Created {
  std::set<std::string> namespaces;
  std::map<std::string, bool> kinds;  // "group/Kind" -> namespaced
};

Created CreatedBy(const std::vector<manifest::Manifest>& manifests) {
  Created created;
  for (const auto& m : manifests) {
    const json& o = m.object;
    std::string kind = o.value("kind", "");
    std::string api_version = o.value("apiVersion", "");
    if (kind == "Namespace" && api_version == "v1") {
      created.namespaces.insert(o["metadata"].value("name", ""));
    } else if (kind == "CustomResourceDefinition" &&
               api_version.starts_with("apiextensions.k8s.io/")) {
      const json spec = o.value("spec", json::object());
      const json names = spec.value("names", json::object());
      created.kinds[spec.value("group", "") + "/" + names.value("kind", "")] =
          spec.value("scope", "Namespaced") != "Cluster";
    }
  }
  return created;
}

}  // namespace

bool SameObject(const json& dry_run, const json& live) {
  return WithoutVolatile(dry_run) == WithoutVolatile(live);
}

// One object on its way to the server.
struct Applier::Item {
  const manifest::Manifest* source = nullptr;
  json object;  // prepared: namespace defaulted, labelled
  ObjectRef ref;
  size_t phase = 0;
  bool deferred = false;  // validated right before its phase (its CRD/namespace comes first)
  json dry_run;           // the server's dry-run answer
  std::string Where() const { return source->Where() + ": " + ref.Display(); }
};

Applier::Applier(kube::Client client, ApplyOptions options)
    : client_(std::move(client)), options_(std::move(options)) {}

void Applier::ForEach(const std::vector<size_t>& which, const std::function<void(size_t)>& fn) {
  std::atomic<size_t> next{0};
  int n = std::max(1, std::min<int>(options_.concurrency, static_cast<int>(which.size())));
  auto work = [&] {
    for (size_t i; (i = next.fetch_add(1)) < which.size();) {
      if (options_.stop.stop_requested()) return;
      fn(which[i]);
    }
  };
  std::vector<std::jthread> threads;
  for (int t = 1; t < n; ++t) threads.emplace_back(work);
  work();
}

Status Applier::Prepare(const std::vector<manifest::Manifest>& manifests,
                        std::vector<Item>& items) {
  Created created = CreatedBy(manifests);
  std::vector<std::string> failures;
  std::map<std::string, bool> namespace_exists;
  for (const auto& m : manifests) {
    Item item;
    item.source = &m;
    item.object = m.object;
    std::string api_version = item.object.value("apiVersion", "");
    std::string kind = item.object.value("kind", "");
    json& meta = item.object["metadata"];
    auto info = client_.Resource(api_version, kind);
    bool namespaced = true;
    if (info.ok()) {
      namespaced = info->namespaced;
    } else {
      ObjectRef ref = ObjectRef::Of(item.object);
      if (info.status().code() != Code::kNotFound) return info.status();
      auto defined = created.kinds.find(ref.group + "/" + kind);
      if (defined == created.kinds.end()) {
        failures.push_back(m.Where() + ": " + kind + " (" + api_version +
                           ") is not served by the cluster and no CustomResourceDefinition in "
                           "the cluster or the repository defines it");
        continue;
      }
      item.deferred = true;  // custom resources of a CRD this revision installs
      namespaced = defined->second;
    }
    if (namespaced) {
      if (meta.value("namespace", "").empty()) meta["namespace"] = options_.default_namespace;
      std::string ns = meta["namespace"];
      if (created.namespaces.count(ns)) {
        auto it = namespace_exists.find(ns);
        if (it == namespace_exists.end()) {
          auto live = client_.Get("v1", "Namespace", "", ns);
          if (!live.ok() && live.status().code() != Code::kNotFound) return live.status();
          it = namespace_exists.emplace(ns, live.ok()).first;
        }
        if (!it->second) item.deferred = true;
      }
    } else {
      meta.erase("namespace");
    }
    if (!meta.contains("labels") || !meta["labels"].is_object()) meta["labels"] = json::object();
    meta["labels"][api::kReleaseLabel] = options_.release_label;
    item.ref = ObjectRef::Of(item.object);
    item.phase = static_cast<size_t>(manifest::PhaseOf(item.object));
    items.push_back(std::move(item));
  }
  if (!failures.empty()) {
    std::string message;
    for (const auto& f : failures) message += (message.empty() ? "" : "\n") + f;
    return Status(Code::kInvalidArgument, message);
  }
  return Status::Ok();
}

void Applier::DryRun(std::vector<Item>& items, const std::vector<size_t>& which,
                     std::vector<std::string>& failures) {
  std::mutex mu;
  ForEach(which, [&](size_t i) {
    Item& item = items[i];
    auto result = client_.Apply(item.object, {.dry_run = true,
                                              .field_manager = api::kFieldManager,
                                              .force = true,
                                              .drop_managed_fields = true});
    if (result.ok()) {
      item.dry_run = std::move(*result);
      return;
    }
    std::lock_guard lock(mu);
    failures.push_back(item.Where() + ": " + result.status().message());
  });
}

Result<json> Applier::Live(const Item& item) {
  if (options_.live) {
    if (auto cached = options_.live(item.ref)) return *cached;
  }
  return client_.Get(item.ref.ApiVersion(), item.ref.kind, item.ref.ns, item.ref.name);
}

Result<std::vector<std::string>> Applier::NotEstablished(const std::vector<Item>& items,
                                                         size_t phase) {
  std::vector<std::string> waiting;
  for (const auto& item : items) {
    if (item.phase != phase || item.ref.kind != "CustomResourceDefinition") continue;
    auto crd = client_.Get(item.ref.ApiVersion(), item.ref.kind, "", item.ref.name);
    if (!crd.ok() && !crd.status().IsTransient() && crd.status().code() != Code::kNotFound) {
      return crd.status();
    }
    bool established = false;
    if (crd.ok()) {
      for (const auto& c :
           crd->value("status", json::object()).value("conditions", json::array())) {
        if (c.value("type", "") == "Established" && c.value("status", "") == "True") {
          established = true;
        }
      }
    }
    if (!established) waiting.push_back(item.Where());
  }
  return waiting;
}

Result<ApplyReport> Applier::Apply(const std::vector<manifest::Manifest>& manifests) {
  std::vector<Item> items;
  if (Status s = Prepare(manifests, items); !s.ok()) return s;
  std::stable_sort(items.begin(), items.end(),
                   [](const Item& a, const Item& b) { return a.phase < b.phase; });

  // Validate everything that can be validated before anything is written.
  std::vector<size_t> now;
  for (size_t i = 0; i < items.size(); ++i) {
    if (!items[i].deferred) now.push_back(i);
  }
  std::vector<std::string> failures;
  const auto t0 = std::chrono::steady_clock::now();
  DryRun(items, now, failures);
  const auto t1 = std::chrono::steady_clock::now();
  if (options_.stop.stop_requested()) return Status(Code::kCancelled, "stopped");
  if (!failures.empty()) {
    std::sort(failures.begin(), failures.end());
    std::string message = "dry run failed for " + std::to_string(failures.size()) + " of " +
                          std::to_string(items.size()) + " objects, nothing was applied:";
    for (const auto& f : failures) message += "\n" + f;
    return Status(Code::kInvalidArgument, message);
  }

  ApplyReport report;
  report.dry_run_seconds = std::chrono::duration<double>(t1 - t0).count();
  std::mutex mu;
  for (size_t phase = 0; phase < static_cast<size_t>(manifest::kApplyPhaseCount); ++phase) {
    std::vector<size_t> in_phase, deferred;
    for (size_t i = 0; i < items.size(); ++i) {
      if (items[i].phase != phase) continue;
      in_phase.push_back(i);
      if (items[i].deferred) deferred.push_back(i);
    }
    if (in_phase.empty()) continue;
    DryRun(items, deferred, failures);
    if (!failures.empty()) {
      std::string message =
          "dry run failed for objects that depend on CRDs or Namespaces of "
          "this revision (the objects before them were applied):";
      for (const auto& f : failures) message += "\n" + f;
      return Status(Code::kInvalidArgument, message);
    }
    std::vector<std::string> errors;
    ForEach(in_phase, [&](size_t i) {
      Item& item = items[i];
      // A dry run of an object that does not exist yet answers without a resourceVersion: no
      // need to read it before creating it.
      const bool exists = !kube::MetaString(item.dry_run, "resourceVersion").empty();
      Result<json> live = exists ? Live(item) : Result<json>(Status(Code::kNotFound, ""));
      std::string rv;
      if (live.ok() && SameObject(item.dry_run, *live)) {
        std::lock_guard lock(mu);
        report.unchanged++;
        report.results[item.ref.Id()] = std::move(*live);
        return;
      }
      if (!live.ok() && live.status().code() != Code::kNotFound) {
        std::lock_guard lock(mu);
        errors.push_back(item.Where() + ": " + live.status().message());
        return;
      }
      auto applied = client_.Apply(
          item.object,
          {.field_manager = api::kFieldManager, .force = true, .drop_managed_fields = true});
      std::lock_guard lock(mu);
      if (!applied.ok()) {
        errors.push_back(item.Where() + ": " + applied.status().message());
        return;
      }
      (live.ok() ? report.configured : report.created)++;
      report.results[item.ref.Id()] = std::move(*applied);
    });
    if (options_.stop.stop_requested()) return Status(Code::kCancelled, "stopped");
    if (!errors.empty()) {
      std::sort(errors.begin(), errors.end());
      std::string message = "apply failed:";
      for (const auto& e : errors) message += "\n" + e;
      return Status(Code::kUnavailable, message);
    }
    if (phase == static_cast<size_t>(manifest::ApplyPhase::kDefinitions)) {
      auto waiting = NotEstablished(items, phase);
      if (!waiting.ok()) return waiting.status();
      if (!waiting->empty()) {
        report.waiting_for = std::move(*waiting);
        return report;
      }
    }
  }
  for (const auto& item : items) report.inventory.push_back(item.ref);
  report.apply_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
  return report;
}

Result<std::vector<ObjectRef>> Applier::Prune(const std::vector<ObjectRef>& previous,
                                              const std::vector<ObjectRef>& current) {
  std::set<std::string> keep;
  for (const auto& ref : current) keep.insert(ref.Id());
  std::vector<ObjectRef> pruned, candidates;
  for (const auto& ref : previous) {
    if (!keep.count(ref.Id())) candidates.push_back(ref);
  }
  // Delete in reverse apply order: custom resources before their CRDs, workloads before their
  // namespaces.
  std::reverse(candidates.begin(), candidates.end());
  std::vector<std::string> errors;
  for (const auto& ref : candidates) {
    auto live = client_.Get(ref.ApiVersion(), ref.kind, ref.ns, ref.name);
    if (!live.ok()) {
      if (live.status().code() != Code::kNotFound) {
        errors.push_back(ref.Display() + ": " + live.status().message());
      }
      continue;
    }
    const json meta = live->value("metadata", json::object());
    const json labels = meta.value("labels", json::object());
    const json annotations = meta.value("annotations", json::object());
    if (labels.value(api::kReleaseLabel, "") != options_.release_label) {
      spdlog::info("not pruning {}: it no longer carries {}={}", ref.Display(), api::kReleaseLabel,
                   options_.release_label);
      continue;
    }
    if (annotations.value(api::kPruneAnnotation, "") == "disabled") {
      spdlog::info("not pruning {}: annotated {}: disabled", ref.Display(), api::kPruneAnnotation);
      continue;
    }
    kube::DeleteOptions del;
    del.propagation = kube::DeleteOptions::Propagation::kBackground;
    del.precondition_uid = meta.value("uid", "");
    Status s = client_.Delete(ref.ApiVersion(), ref.kind, ref.ns, ref.name, del);
    if (s.ok() || s.code() == Code::kNotFound) {
      pruned.push_back(ref);
    } else {
      errors.push_back(ref.Display() + ": " + s.message());
    }
  }
  if (!errors.empty()) {
    std::string message = "prune failed:";
    for (const auto& e : errors) message += "\n" + e;
    return Status(Code::kUnavailable, message);
  }
  return pruned;
}

}  // namespace flywheel::release
