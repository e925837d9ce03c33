// `flywheel run`, `flywheel cancel` and `flywheel logs`: the Pipeline commands. A run is a
// PipelineRun object the controller carries out; cancel sets its spec.cancelled; logs reads the
// build pod's containers through the API server (pods/log), step by step.
#include <chrono>
#include <thread>

#include "flywheel/api/names.h"
#include "flywheel/cli/app.h"
#include "flywheel/cli/client_flags.h"
#include "flywheel/cli/flags.h"
#include "flywheel/common/time.h"
#include "flywheel/kube/conditions.h"
#include "flywheel/pipeline/reconciler.h"

namespace flywheel::cli {
namespace {

using nlohmann::json;

constexpr const char* kRunUsage =
    "Start a PipelineRun of a Pipeline: a re-run of the commit the controller last saw at the\n"
    "head of its branch, or of --revision (a full SHA, or a prefix of a revision the Pipeline\n"
    "or one of its runs knows).\n"
    "\n"
    "Usage:\n"
    "  flywheel run <pipeline> [--revision <sha>] [--wait <duration>] [flags]\n"
    "\n"
    "Flags:\n";

constexpr const char* kCancelUsage =
    "Cancel a PipelineRun: its build pod is stopped after the log tails of its steps are kept.\n"
    "\n"
    "Usage:\n"
    "  flywheel cancel <pipelinerun> [--wait <duration>] [flags]\n"
    "\n"
    "Flags:\n";

constexpr const char* kLogsUsage =
    "Print the logs of a PipelineRun's steps, in order (from the API server's pods/log).\n"
    "\n"
    "Usage:\n"
    "  flywheel logs <pipelinerun> [--step <name>] [-f] [flags]\n"
    "\n"
    "Flags:\n";

std::string Describe(const json& run) {
  const json status = run.value("status", json::object());
  std::string out = status.value("phase", "Pending");
  const json conditions = status.value("conditions", json::array());
  if (const json* c = kube::FindCondition(conditions, "Succeeded"))
    out += " (" + c->value("reason", "") + "): " + c->value("message", "");
  return out;
}

// Waits for run `name` to finish, printing its phase as it changes. Returns the exit code.
int WaitRun(const Invocation& inv, const kube::Client& client, const std::string& command,
            const std::string& ns, const std::string& name, Duration timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string shown;
  for (;;) {
    auto run = client.Get(api::kGroupVersion, "PipelineRun", ns, name);
    if (run.ok()) {
      const std::string now = run->value("status", json::object()).value("phase", "Pending");
      if (now != shown) {
        inv.out << "pipelinerun " << ns << "/" << name << ": " << Describe(*run) << "\n";
        shown = now;
      }
      if (pipeline::IsFinished(*run)) {
        const std::string phase = run->value("status", json::object()).value("phase", "");
        return phase == "Succeeded" || (command == "flywheel cancel" && phase == "Cancelled")
                   ? kExitOk
                   : kExitFailure;
      }
    } else if (run.status().code() == Code::kNotFound) {
      inv.err << command << ": PipelineRun " << ns << "/" << name << " not found\n";
      return kExitFailure;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      inv.err << command << ": the run did not finish within " << FormatDuration(timeout)
              << " (is `flywheel controller` running?)\n";
      return kExitFailure;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

int RunPipeline(const Invocation& inv) {
  ClientFlags client_flags;
  std::string revision, wait = "0s";
  FlagSet flags("flywheel run");
  client_flags.Register(flags);
  flags.String("revision", &revision, "Commit to build (full SHA or a known prefix)");
  flags.String("wait", &wait, "Wait this long for the run to finish (0 = do not wait)");
  std::vector<std::string> positional;
  if (auto exit = flags.ParseCommandLine(inv.args, inv, kRunUsage, &positional)) return *exit;
  if (positional.size() != 1) {
    inv.err << "flywheel run: expected exactly one Pipeline name\n";
    return kExitUsage;
  }
  auto timeout = ParseDuration(wait);
  if (!timeout.ok()) {
    inv.err << "flywheel run: --wait: " << timeout.status().message() << "\n";
    return kExitUsage;
  }
  std::string ns;
  auto client = client_flags.Connect(inv, "flywheel run", &ns);
  if (!client) return kExitFailure;
  const std::string& name = positional[0];
  auto pipeline = client->Get(api::kGroupVersion, "Pipeline", ns, name);
  if (!pipeline.ok()) {
    inv.err << "flywheel run: " << pipeline.status().message() << "\n";
    return kExitFailure;
  }
  // The revisions this Pipeline knows: the head it last saw and every run's.
  std::vector<std::string> known;
  const std::string seen = pipeline->value("status", json::object()).value("lastSeenRevision", "");
  if (!seen.empty()) known.push_back(seen);
  if (auto runs = client->List(api::kGroupVersion, "PipelineRun", ns); runs.ok()) {
    for (const auto& r : runs->value("items", json::array())) {
      const json spec = r.value("spec", json::object());
      if (spec.value("pipelineRef", json::object()).value("name", "") == name)
        known.push_back(spec.value("revision", ""));
    }
  }
  std::string full;
  if (revision.empty()) {
    if (seen.empty()) {
      inv.err << "flywheel run: Pipeline " << ns << "/" << name
              << " has not seen its branch yet; give --revision <full sha>\n";
      return kExitFailure;
    }
    full = seen;
  } else if (revision.size() == 40 || revision.size() == 64) {
    full = revision;
  } else {
    for (const auto& k : known) {
      if (k.rfind(revision, 0) != 0) continue;
      if (!full.empty() && full != k) {
        inv.err << "flywheel run: --revision " << revision << " is ambiguous (" << full << ", " << k
                << ")\n";
        return kExitUsage;
      }
      full = k;
    }
    if (full.empty()) {
      inv.err << "flywheel run: --revision " << revision
              << " is not a full SHA and matches no revision this Pipeline has seen\n";
      return kExitUsage;
    }
  }
  // A generated name: a re-run of a commit must not collide with the run the controller made.
  std::string prefix = name + "-" + full.substr(0, 7) + "-";
  if (prefix.size() > 58) prefix = name.substr(0, 57) + "-";
  json run = pipeline::NewRunObject(*pipeline, full);
  run["metadata"]["generateName"] = prefix;
  auto created = client->Create(run);
  if (!created.ok()) {
    inv.err << "flywheel run: " << created.status().message() << "\n";
    return kExitFailure;
  }
  const std::string run_name = kube::MetaString(*created, "name");
  inv.out << "pipelinerun " << ns << "/" << run_name << " created for " << full.substr(0, 7)
          << "\n";
  if (timeout->count() == 0) return kExitOk;
  return WaitRun(inv, *client, "flywheel run", ns, run_name, *timeout);
}

int CancelRun(const Invocation& inv) {
  ClientFlags client_flags;
  std::string wait = "1m";
  FlagSet flags("flywheel cancel");
  client_flags.Register(flags);
  flags.String("wait", &wait, "Wait this long for the run to stop (0 = do not wait)");
  std::vector<std::string> positional;
  if (auto exit = flags.ParseCommandLine(inv.args, inv, kCancelUsage, &positional)) return *exit;
  if (positional.size() != 1) {
    inv.err << "flywheel cancel: expected exactly one PipelineRun name\n";
    return kExitUsage;
  }
  auto timeout = ParseDuration(wait);
  if (!timeout.ok()) {
    inv.err << "flywheel cancel: --wait: " << timeout.status().message() << "\n";
    return kExitUsage;
  }
  std::string ns;
  auto client = client_flags.Connect(inv, "flywheel cancel", &ns);
  if (!client) return kExitFailure;
  const std::string& name = positional[0];
  auto run = client->Get(api::kGroupVersion, "PipelineRun", ns, name);
  if (!run.ok()) {
    inv.err << "flywheel cancel: " << run.status().message() << "\n";
    return kExitFailure;
  }
  if (pipeline::IsFinished(*run)) {
    inv.out << "pipelinerun " << ns << "/" << name << " already finished: " << Describe(*run)
            << "\n";
    return kExitOk;
  }
  auto patched = client->Patch(api::kGroupVersion, "PipelineRun", ns, name, kube::PatchType::kMerge,
                               R"({"spec":{"cancelled":true}})");
  if (!patched.ok()) {
    inv.err << "flywheel cancel: " << patched.status().message() << "\n";
    return kExitFailure;
  }
  inv.out << "pipelinerun " << ns << "/" << name << ": cancel requested\n";
  if (timeout->count() == 0) return kExitOk;
  return WaitRun(inv, *client, "flywheel cancel", ns, name, *timeout);
}

int Logs(const Invocation& inv) {
  ClientFlags client_flags;
  std::string step;
  bool follow = false;
  FlagSet flags("flywheel logs");
  client_flags.Register(flags);
  flags.String("step", &step, "Only this step's log");
  flags.Bool("follow", &follow, "Follow the running step's log until the run ends");
  std::string request_timeout = "10s";
  flags.String("request-timeout", &request_timeout,
               "Bound on each log read (a node that does not answer: the tail kept in status)");
  std::vector<std::string> args = inv.args;
  for (auto& a : args) {
    if (a == "-f") a = "--follow";
  }
  std::vector<std::string> positional;
  if (auto exit = flags.ParseCommandLine(args, inv, kLogsUsage, &positional)) return *exit;
  auto log_timeout = ParseDuration(request_timeout);
  if (!log_timeout.ok() || log_timeout->count() <= 0) {
    inv.err << "flywheel logs: --request-timeout: "
            << (log_timeout.ok() ? std::string("must be positive") : log_timeout.status().message())
            << "\n";
    return kExitUsage;
  }
  if (positional.size() != 1) {
    inv.err << "flywheel logs: expected exactly one PipelineRun name\n";
    return kExitUsage;
  }
  std::string ns;
  auto client = client_flags.Connect(inv, "flywheel logs", &ns);
  if (!client) return kExitFailure;
  const std::string& name = positional[0];
  auto run = client->Get(api::kGroupVersion, "PipelineRun", ns, name);
  if (!run.ok()) {
    inv.err << "flywheel logs: " << run.status().message() << "\n";
    return kExitFailure;
  }
  const json status = run->value("status", json::object());
  const std::string pod_name = status.value("podName", "");
  auto pod = pod_name.empty() ? Result<json>(Status(Code::kNotFound, "no build pod yet"))
                              : client->Get("v1", "Pod", ns, pod_name);
  // The steps in order, as the run's status lists them.
  std::vector<std::string> steps;
  for (const auto& s : status.value("steps", json::array())) {
    if (step.empty() || s.value("name", "") == step) steps.push_back(s.value("name", ""));
  }
  if (!step.empty() && steps.empty()) {
    inv.err << "flywheel logs: run " << name << " has no step " << step << "\n";
    return kExitUsage;
  }
  int printed = 0;
  for (const auto& s : status.value("steps", json::array())) {
    const std::string n = s.value("name", "");
    if (std::find(steps.begin(), steps.end(), n) == steps.end()) continue;
    const std::string phase = s.value("phase", "Pending");
    if (phase == "Pending" || phase == "Skipped") continue;
    if (steps.size() > 1) inv.out << "==> " << n << " (" << phase << ") <==\n";
    bool shown = false;
    if (pod.ok()) {
      const std::string path = "/api/v1/namespaces/" + ns + "/pods/" + pod_name +
                               "/log?container=" + n +
                               (follow && phase == "Running" ? "&follow=true" : "");
      if (follow && phase == "Running") {
        Status st = client->StreamText(path, [&](std::string_view chunk) {
          inv.out << chunk;
          inv.out.flush();
          return true;
        });
        shown = st.ok();
      } else if (auto text =
                     client
                         ->WithCallTimeout(
                             std::chrono::duration_cast<std::chrono::milliseconds>(*log_timeout))
                         .GetText(path);
                 text.ok()) {
        inv.out << *text;
        shown = true;
      }
    }
    if (!shown && s.contains("logTail")) {
      // The pod is gone (cancelled, timed out, pruned) or its node does not answer: the tail
      // kept in status.
      inv.out << "(the build pod's log is gone; the last lines kept in status)\n"
              << s.value("logTail", "");
      shown = true;
    }
    if (!shown) inv.out << "(no log available for step " << n << ")\n";
    ++printed;
  }
  if (printed == 0)
    inv.out << "pipelinerun " << ns << "/" << name << ": " << Describe(*run)
            << " (no step has run yet)\n";
  return kExitOk;
}

}  // namespace

Command RunCommand() { return {"run", "Start a PipelineRun of a Pipeline", RunPipeline}; }
Command CancelCommand() { return {"cancel", "Cancel a running PipelineRun", CancelRun}; }
Command LogsCommand() { return {"logs", "Print the logs of a PipelineRun's steps", Logs}; }

}  // namespace flywheel::cli
