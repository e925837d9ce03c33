#include "flywheel/pipeline/spec.h"

#include <algorithm>
#include <set>

#include "flywheel/api/names.h"

namespace flywheel::pipeline {

using nlohmann::json;

namespace {

Result<Duration> DurationField(const json& object, const std::string& path, const char* field,
                               Duration fallback) {
  auto it = object.find(field);
  if (it == object.end() || it->is_null()) return fallback;
  if (!it->is_string())
    return Status(Code::kInvalidArgument, path + "." + field + ": must be a duration string");
  auto d = ParseDuration(it->get<std::string>());
  if (!d.ok())
    return Status(Code::kInvalidArgument, path + "." + field + ": " + d.status().message());
  if (d->count() < 0)
    return Status(Code::kInvalidArgument, path + "." + field + ": must not be negative");
  return *d;
}

std::string SecretName(const json& parent) {
  auto ref = parent.find("secretRef");
  if (ref == parent.end() || !ref->is_object()) return "";
  return ref->value("name", "");
}

}  // namespace

Result<PipelineSpec> PipelineSpec::Parse(const json& pipeline) {
  PipelineSpec s;
  const json spec = pipeline.value("spec", json::object());
  const json source = spec.value("source", json::object());
  s.url = source.value("url", "");
  if (s.url.empty()) return Status(Code::kInvalidArgument, "spec.source.url is required");
  s.branch = source.value("branch", "main");
  if (s.branch.empty()) s.branch = "main";
  s.secret = SecretName(source);
  auto poll = DurationField(source, "spec.source", "pollInterval", s.poll_interval);
  if (!poll.ok()) return poll.status();
  // 0 disables polling (webhooks and manual runs only); anything else is at least a second.
  s.poll_interval =
      poll->count() == 0 ? Duration(0) : std::max<Duration>(*poll, std::chrono::seconds(1));

  const json steps = spec.value("steps", json::array());
  if (!steps.is_array() || steps.empty())
    return Status(Code::kInvalidArgument, "spec.steps: at least one step is required");
  std::set<std::string> names;
  for (size_t i = 0; i < steps.size(); ++i) {
    const json& step = steps[i];
    std::string at = "spec.steps[" + std::to_string(i) + "]";
    std::string name = step.is_object() ? step.value("name", "") : "";
    if (name.empty()) return Status(Code::kInvalidArgument, at + ".name is required");
    if (name == kCloneStep || name == kBuildImageStep || name == kPromoteStep) {
      return Status(Code::kInvalidArgument,
                    at + ".name: \"" + name +
                        "\" is the name of a built-in step (clone, build-image, promote); "
                        "choose another");
    }
    if (!names.insert(name).second)
      return Status(Code::kInvalidArgument, at + ".name: \"" + name + "\" is used twice");
    if (step.value("image", "").empty())
      return Status(Code::kInvalidArgument, at + ".image is required");
    bool script = step.contains("script"), command = step.contains("command");
    if (script == command) {
      return Status(Code::kInvalidArgument,
                    at + ": set exactly one of script or command (step \"" + name + "\")");
    }
    if (step.contains("args") && !command)
      return Status(Code::kInvalidArgument, at + ".args is only allowed together with command");
    s.steps.push_back(step);
  }

  if (auto a = spec.find("artifact"); a != spec.end() && a->is_object()) {
    ArtifactSpec art;
    art.image = a->value("image", "");
    if (art.image.empty()) return Status(Code::kInvalidArgument, "spec.artifact.image is required");
    // A tag or digest is an error: the run adds the tag itself ("host:5000/x" keeps its port).
    auto slash = art.image.rfind('/');
    auto colon = art.image.rfind(':');
    if (art.image.find('@') != std::string::npos ||
        (colon != std::string::npos && (slash == std::string::npos || colon > slash))) {
      return Status(Code::kInvalidArgument,
                    "spec.artifact.image: \"" + art.image +
                        "\" has a tag or digest; name the repository only (the run pushes "
                        "<image>:<sha7>)");
    }
    art.context = a->value("context", ".");
    art.dockerfile = a->value("dockerfile", "Dockerfile");
    art.builder = a->value("builder", "buildah");
    if (art.builder != "buildah" && art.builder != "kaniko" && art.builder != "buildkit") {
      return Status(Code::kInvalidArgument, "spec.artifact.builder: \"" + art.builder +
                                                "\" is not one of buildah, kaniko, buildkit");
    }
    if (auto ref = a->find("pushSecretRef"); ref != a->end() && ref->is_object())
      art.push_secret = ref->value("name", "");
    s.artifact = art;
  }

  if (auto p = spec.find("promote"); p != spec.end() && p->is_object()) {
    if (!s.artifact) {
      return Status(Code::kInvalidArgument,
                    "spec.promote needs spec.artifact (the image whose tag it writes)");
    }
    PromoteSpec pr;
    pr.url = p->value("url", "");
    if (pr.url.empty()) return Status(Code::kInvalidArgument, "spec.promote.url is required");
    pr.branch = p->value("branch", "main");
    if (pr.branch.empty()) pr.branch = "main";
    pr.secret = SecretName(*p);
    for (const auto& path : p->value("paths", json::array())) {
      if (path.is_string() && !path.get<std::string>().empty())
        pr.paths.push_back(path.get<std::string>());
    }
    if (pr.paths.empty())
      return Status(Code::kInvalidArgument, "spec.promote.paths: at least one path is required");
    json author = p->value("author", json::object());
    if (author.is_object()) {
      pr.author_name = author.value("name", pr.author_name);
      pr.author_email = author.value("email", pr.author_email);
    }
    s.promote = pr;
  }

  std::string concurrency = spec.value("concurrency", "Replace");
  if (concurrency == "Replace") {
    s.concurrency = Concurrency::kReplace;
  } else if (concurrency == "Queue") {
    s.concurrency = Concurrency::kQueue;
  } else if (concurrency == "Allow") {
    s.concurrency = Concurrency::kAllow;
  } else {
    return Status(Code::kInvalidArgument,
                  "spec.concurrency: \"" + concurrency + "\" is not one of Replace, Queue, Allow");
  }
  auto timeout = DurationField(spec, "spec", "timeout", s.timeout);
  if (!timeout.ok()) return timeout.status();
  if (timeout->count() == 0)
    return Status(Code::kInvalidArgument, "spec.timeout: must be greater than 0");
  s.timeout = std::max<Duration>(*timeout, std::chrono::seconds(1));
  json limits = spec.value("historyLimit", json::object());
  if (limits.is_object()) {
    s.keep_succeeded = std::clamp(limits.value("succeeded", 10), 1, 1000);
    s.keep_failed = std::clamp(limits.value("failed", 10), 1, 1000);
  }
  s.pod_template = spec.value("podTemplate", json::object());
  if (!s.pod_template.is_object()) s.pod_template = json::object();
  s.notify = spec.value("notify", json::array());
  if (!s.notify.is_array()) s.notify = json::array();
  s.suspend = spec.value("suspend", false);
  return s;
}

std::vector<std::string> PipelineSpec::PodStepNames() const {
  std::vector<std::string> names{kCloneStep};
  for (const auto& step : steps) names.push_back(step.value("name", ""));
  if (artifact) names.push_back(kBuildImageStep);
  return names;
}

Result<RunSpec> RunSpec::Parse(const json& run) {
  RunSpec r;
  const json spec = run.value("spec", json::object());
  r.pipeline = spec.value("pipelineRef", json::object()).value("name", "");
  if (r.pipeline.empty())
    return Status(Code::kInvalidArgument, "spec.pipelineRef.name is required");
  r.revision = spec.value("revision", "");
  bool hex = !r.revision.empty() && std::all_of(r.revision.begin(), r.revision.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  });
  if (!hex || (r.revision.size() != 40 && r.revision.size() != 64)) {
    return Status(Code::kInvalidArgument,
                  "spec.revision: \"" + r.revision +
                      "\" is not a full commit SHA (40 or 64 lower-case hex characters)");
  }
  r.cancelled = spec.value("cancelled", false);
  return r;
}

std::string ShortRevision(const std::string& revision) { return revision.substr(0, 7); }

json NewRunObject(const json& pipeline, const std::string& revision) {
  const json meta = pipeline.value("metadata", json::object());
  const std::string name = meta.value("name", "");
  return {{"apiVersion", api::kGroupVersion},
          {"kind", "PipelineRun"},
          {"metadata",
           {{"namespace", meta.value("namespace", "")},
            {"labels", {{api::kPipelineLabel, name}}},
            {"ownerReferences", json::array({{{"apiVersion", api::kGroupVersion},
                                              {"kind", "Pipeline"},
                                              {"name", name},
                                              {"uid", meta.value("uid", "")},
                                              {"controller", true},
                                              {"blockOwnerDeletion", true}}})}}},
          {"spec", {{"pipelineRef", {{"name", name}}}, {"revision", revision}}}};
}

}  // namespace flywheel::pipeline
