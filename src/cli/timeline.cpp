// `flywheel timeline <release>` and `flywheel timeline run <pipelinerun>`: fetch the objects the
// timeline is made of, assemble it (timeline_model.cpp) and print it as tables or JSON.
#include "flywheel/cli/timeline.h"

#include "flywheel/api/names.h"
#include "flywheel/cli/app.h"
#include "flywheel/cli/client_flags.h"
#include "flywheel/cli/flags.h"
#include "flywheel/http/client.h"

namespace flywheel::cli {
namespace {

using nlohmann::json;

constexpr const char* kUsage =
    "Show every delivery of a Release, oldest first: the commit, its PipelineRun (start, image,\n"
    "promotion, end), when the Release applied it and found it healthy, and the breach, rollback\n"
    "and restore that followed, with the time between consecutive stages. Or the stages of one\n"
    "PipelineRun: its pod, each step's start and end, the promotion. Everything comes from the\n"
    "API (status, build pods, Events); a stage nothing records is shown as \"-\".\n"
    "\n"
    "Usage:\n"
    "  flywheel timeline [release] <release> [-o table|json] [--zipkin-url <url>] [flags]\n"
    "  flywheel timeline run <pipelinerun> [-o table|json] [flags]\n"
    "\n"
    "Flags:\n";

// What the timeline reads besides the Release or run is optional: a reader who may not list it
// (RBAC) or a failed read gets the stages it would have told as "-" and a warning, not an error.
void Warn(const Invocation& inv, const char* what, const Status& why) {
  inv.err << "flywheel timeline: warning: cannot read " << what
          << " (the stages only they record are shown as \"-\"): " << why.message() << "\n";
}

// Where traces go: the base URL the HTTP client connects to and the path it POSTs to.
struct SpanEndpoint {
  std::string base;    // scheme://host:port
  std::string target;  // path and query, "/" when none
};

std::optional<SpanEndpoint> ParseSpanEndpoint(const std::string& url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string::npos) return std::nullopt;
  const std::string name = url.substr(0, scheme);
  if (name != "http" && name != "https") return std::nullopt;
  const size_t path = url.find('/', scheme + 3);
  SpanEndpoint e{url.substr(0, path), path == std::string::npos ? "/" : url.substr(path)};
  // A host is needed; user info is not sent (the HTTP client has no basic auth) nor printed.
  if (e.base.size() == scheme + 3 || e.base.find('@') != std::string::npos) return std::nullopt;
  return e;
}

// POSTs the spans; a transport failure or an answer other than 2xx is an error naming the
// collector's base URL.
Status SendSpans(const SpanEndpoint& to, const json& spans) {
  auto client = http::NewClient({.base_url = to.base, .timeout = std::chrono::seconds(10)});
  if (!client.ok()) return client.status();
  auto answer = (*client)->Send({.method = "POST",
                                 .target = to.target,
                                 .headers = {{"Content-Type", "application/json"}},
                                 .body = spans.dump()});
  if (!answer.ok()) {
    std::string why = answer.status().message();
    // The path may carry a token (as Slack-style URLs do): only the base URL is named.
    for (size_t at = 0; to.target != "/" && (at = why.find(to.target, at)) != std::string::npos;
         at += 4)
      why.replace(at, to.target.size(), "/...");
    return Status(answer.status().code(), "cannot send the traces to " + to.base + ": " + why);
  }
  if (answer->status < 200 || answer->status > 299) {
    return Status(Code::kUnavailable, "the trace collector at " + to.base + " answered " +
                                          std::to_string(answer->status) + ": " +
                                          answer->body.substr(0, 200));
  }
  return Status::Ok();
}

int Fail(const Invocation& inv, const Status& s) {
  inv.err << "flywheel timeline: " << s.message() << "\n";
  return kExitFailure;
}

int ReleaseTimeline(const Invocation& inv, const kube::Client& client, const std::string& ns,
                    const std::string& name, bool as_json,
                    const std::optional<SpanEndpoint>& zipkin) {
  auto release = client.Get(api::kGroupVersion, "Release", ns, name);
  if (!release.ok()) return Fail(inv, release.status());
  ReleaseTimelineInput input;
  input.release = std::move(*release);
  struct Wanted {
    json* into;
    const char* api_version;
    const char* kind;
    const char* plural;
    kube::ListOptions options;
  };
  const std::vector<Wanted> wanted = {
      {&input.pipelines, api::kGroupVersion, "Pipeline", "Pipelines", {}},
      {&input.runs, api::kGroupVersion, "PipelineRun", "PipelineRuns", {}},
      {&input.pods, "v1", "Pod", "build pods", {.label_selector = api::kPipelineRunLabel}},
      {&input.events, "events.k8s.io/v1", "Event", "Events", {}},
      {&input.policies, api::kGroupVersion, "RollbackPolicy", "RollbackPolicies", {}}};
  for (const auto& w : wanted) {
    auto list = client.List(w.api_version, w.kind, ns, w.options);
    if (list.ok()) {
      *w.into = list->value("items", json::array());
    } else {
      Warn(inv, w.plural, list.status());
      *w.into = json::array();
    }
  }
  const auto deliveries = AssembleReleaseTimeline(input);
  if (as_json) {
    inv.out << ReleaseTimelineJson(ns, name, deliveries).dump(2) << "\n";
  } else {
    PrintReleaseTimeline(inv.out, ns, name, deliveries);
  }
  if (zipkin) {
    const json spans = ZipkinSpans(ns, name, deliveries);
    if (Status s = SendSpans(*zipkin, spans); !s.ok()) return Fail(inv, s);
    inv.err << "flywheel timeline: sent " << spans.size() << " spans to " << zipkin->base << "\n";
  }
  return kExitOk;
}

int RunTimeline(const Invocation& inv, const kube::Client& client, const std::string& ns,
                const std::string& name, bool as_json) {
  auto run = client.Get(api::kGroupVersion, "PipelineRun", ns, name);
  if (!run.ok()) return Fail(inv, run.status());
  const std::string pod_name = run->value("status", json::object()).value("podName", "");
  std::optional<json> pod;
  if (!pod_name.empty()) {
    auto got = client.Get("v1", "Pod", ns, pod_name);
    if (got.ok()) {
      pod = std::move(*got);
    } else if (got.status().code() != Code::kNotFound) {
      Warn(inv, "the build pod", got.status());
    }
  }
  const auto stages = AssembleRunTimeline(*run, pod ? &*pod : nullptr);
  if (as_json) {
    inv.out << RunTimelineJson(*run, stages).dump(2) << "\n";
  } else {
    PrintRunTimeline(inv.out, *run, stages);
  }
  return kExitOk;
}

int Timeline(const Invocation& inv) {
  ClientFlags client_flags;
  std::string output = "table";
  FlagSet flags("flywheel timeline");
  client_flags.Register(flags);
  flags.String("output", &output, "table or json", "o");
  std::string zipkin_url;
  flags.String("zipkin-url", &zipkin_url,
               "Also send each delivery as a trace (Zipkin v2 JSON, e.g. "
               "http://127.0.0.1:9411/api/v2/spans)");
  std::vector<std::string> positional;
  if (auto exit = flags.ParseCommandLine(inv.args, inv, kUsage, &positional)) return *exit;
  if (output != "table" && output != "json") {
    inv.err << "flywheel timeline: --output must be table or json, not \"" << output << "\"\n";
    return kExitUsage;
  }
  std::string kind = "release";
  if (positional.size() == 2 && (positional[0] == "run" || positional[0] == "release")) {
    kind = positional[0];
    positional.erase(positional.begin());
  }
  if (positional.size() != 1) {
    inv.err << "flywheel timeline: expected a Release name, or run and a PipelineRun name\n";
    return kExitUsage;
  }
  std::optional<SpanEndpoint> zipkin;
  if (!zipkin_url.empty()) {
    zipkin = ParseSpanEndpoint(zipkin_url);
    if (!zipkin || kind == "run") {
      inv.err << "flywheel timeline: --zipkin-url "
              << (zipkin ? "exports a Release's deliveries, not a run"
                         : "must be an http:// or https:// URL with a host and no user info")
              << "\n";
      return kExitUsage;
    }
  }
  std::string ns;
  auto client = client_flags.Connect(inv, "flywheel timeline", &ns);
  if (!client) return kExitFailure;
  return kind == "run" ? RunTimeline(inv, *client, ns, positional[0], output == "json")
                       : ReleaseTimeline(inv, *client, ns, positional[0], output == "json", zipkin);
}

}  // namespace

Command TimelineCommand() {
  return {"timeline", "Show the deliveries of a Release, or the stages of a PipelineRun", Timeline};
}

}  // namespace flywheel::cli
