// Pipeline benchmark (issue 11): a real `flywheel controller` process against the testenv and
// local git repositories (tests/support). Prints one JSON line per measurement on stdout;
// bench/pipeline.sh runs it and writes docs/benchmarks.md.
//
//   flywheel_bench_pipeline push [--pushes N]
//   flywheel_bench_pipeline scale [--pipelines N] [--poll S] [--duration S]
//   flywheel_bench_pipeline promote [--runs N]
//
// push: a signed push webhook for a new commit → its PipelineRun exists (GET seen), per push;
//   baseline: the same driver creating a ConfigMap and reading it back (the API floor).
// scale: the controller with no Pipeline, then with N Pipelines polling every S seconds: CPU
//   and RSS; baseline: the same number of polls done by `git ls-remote` processes.
// promote: a build pod set Succeeded → the promotion commit in the GitOps repository → the
//   Release following it applied that commit; baseline: `git push` of an equivalent commit.
#include <sys/resource.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "support.h"
#include "support/eventually.h"
#include "support/git_server.h"

namespace {

using namespace flywheel::bench;
using nlohmann::json;

constexpr const char* kApi = "flywheel.dev/v1alpha1";
constexpr const char* kSecret = "bench-webhook-secret";

struct Flags {
  std::string mode;
  int pushes = 100;
  int pipelines = 200;
  int poll = 60;
  int duration = 180;
  int runs = 5;
};

[[noreturn]] void Usage(int code) {
  (code == 0 ? std::cout : std::cerr)
      << "usage: flywheel_bench_pipeline push [--pushes N]\n"
         "       flywheel_bench_pipeline scale [--pipelines N] [--poll S] [--duration S]\n"
         "       flywheel_bench_pipeline promote [--runs N]\n";
  std::exit(code);
}

Flags ParseFlags(int argc, char** argv) {
  Flags f;
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) Usage(2);
  if (args[0] == "-h" || args[0] == "--help") Usage(0);
  f.mode = args[0];
  if (f.mode != "push" && f.mode != "scale" && f.mode != "promote") Usage(2);
  std::map<std::string, int*> ints{{"--pushes", &f.pushes},
                                   {"--pipelines", &f.pipelines},
                                   {"--poll", &f.poll},
                                   {"--duration", &f.duration},
                                   {"--runs", &f.runs}};
  for (size_t i = 1; i < args.size(); i += 2) {
    auto it = ints.find(args[i]);
    if (it == ints.end() || i + 1 >= args.size() || std::atoi(args[i + 1].c_str()) <= 0) {
      std::cerr << "bad flag: " << args[i] << "\n";
      Usage(2);
    }
    *it->second = std::atoi(args[i + 1].c_str());
  }
  return f;
}

json PipelineObject(const std::string& ns, const std::string& name, const std::string& url,
                    const std::string& poll) {
  return {{"apiVersion", kApi},
          {"kind", "Pipeline"},
          {"metadata", {{"name", name}, {"namespace", ns}}},
          {"spec",
           {{"source", {{"url", url}, {"pollInterval", poll}}},
            {"steps",
             {{{"name", "test"},
               {"image", "registry.example.invalid/tools:1"},
               {"script", "make test"}}}}}}};
}

bool Exists(const flywheel::kube::Client& client, const std::string& kind, const std::string& ns,
            const std::string& name) {
  return client.Get(kind == "ConfigMap" || kind == "Pod" ? "v1" : kApi, kind, ns, name).ok();
}

// Waits (polling every 2 ms) until the object exists; returns the steady-clock instant.
double WaitExists(const flywheel::kube::Client& client, const std::string& kind,
                  const std::string& ns, const std::string& name, double limit_s = 60) {
  const double start = SteadyNow();
  while (!Exists(client, kind, ns, name)) {
    Require(SteadyNow() - start < limit_s, kind + " " + name + " never appeared");
    std::this_thread::sleep_for(2ms);
  }
  return SteadyNow();
}

void Push(const Flags& f, const ft::TestEnv& env) {
  ft::ScopedNamespace ns(env, "bench-pl-push");
  auto client = env.Client();
  const std::string dir = ft::TempDir("flywheel-bench-pl");
  ft::GitRepo app(dir, "app");
  std::string sha = app.Commit({{"a", "0"}}, "c0");
  std::ofstream(dir + "/secret") << kSecret << "\n";
  Controller controller(env, ns.name(), {"--git-webhook-secret-file", dir + "/secret"});
  Require(client.Create(PipelineObject(ns.name(), "web", app.FileUrl(), "1h")).ok(), "pipeline");
  WaitExists(client, "PipelineRun", ns.name(), "web-" + sha.substr(0, 7));
  for (int i = 1; i <= f.pushes; ++i) {
    sha = app.Commit({{"a", std::to_string(i)}}, "c" + std::to_string(i));
    const std::string body =
        json{{"ref", "refs/heads/main"},
             {"after", sha},
             {"repository", {{"clone_url", app.FileUrl()}, {"full_name", "bench/app"}}}}
            .dump();
    const double t0 = SteadyNow();
    const int code =
        ft::PostGitHubPush(controller.webhook_port(), kSecret, body, "d-" + std::to_string(i));
    Require(code == 202, "webhook answered " + std::to_string(code));
    const double t1 = WaitExists(client, "PipelineRun", ns.name(), "web-" + sha.substr(0, 7));
    // The floor: one API write and the polling read that sees it.
    const std::string cm = "floor-" + std::to_string(i);
    const double b0 = SteadyNow();
    Require(client
                .Create({{"apiVersion", "v1"},
                         {"kind", "ConfigMap"},
                         {"metadata", {{"name", cm}, {"namespace", ns.name()}}},
                         {"data", {{"v", "1"}}}})
                .ok(),
            "configmap");
    const double b1 = WaitExists(client, "ConfigMap", ns.name(), cm);
    std::cout << json{{"scenario", "push"}, {"latency_s", t1 - t0}, {"floor_s", b1 - b0}}.dump()
              << std::endl;
  }
  std::cout << json{{"scenario", "push-controller"},
                    {"cpu_s", CpuSeconds(controller.pid())},
                    {"complaints", controller.Complaints()}}
                   .dump()
            << std::endl;
  std::filesystem::remove_all(dir);
}

struct Phase {
  double wall = 0, cpu = 0;
  int64_t rss = 0;
  double reconciles = 0;
};

Phase Measure(const Controller& c, int duration) {
  const double w0 = SteadyNow(), c0 = CpuSeconds(c.pid());
  const double r0 =
      SumSamples(c.Metrics(), "controller_runtime_reconcile_total", "controller=\"pipeline\"");
  std::this_thread::sleep_for(std::chrono::seconds(duration));
  return {SteadyNow() - w0, CpuSeconds(c.pid()) - c0, StatusKiB(c.pid(), "VmRSS"),
          SumSamples(c.Metrics(), "controller_runtime_reconcile_total", "controller=\"pipeline\"") -
              r0};
}

void Scale(const Flags& f, const ft::TestEnv& env) {
  ft::ScopedNamespace ns(env, "bench-pl-scale");
  auto client = env.Client();
  const std::string dir = ft::TempDir("flywheel-bench-pl");
  ft::GitRepo app(dir, "app");
  const std::string sha = app.Commit({{"a", "0"}}, "c0");
  Controller controller(env, ns.name());
  Log("baseline phase: no Pipeline, " + std::to_string(f.duration) + " s");
  const Phase base = Measure(controller, f.duration);
  const std::string poll = std::to_string(f.poll) + "s";
  for (int i = 0; i < f.pipelines; ++i) {
    Require(
        client.Create(PipelineObject(ns.name(), "p" + std::to_string(i), app.FileUrl(), poll)).ok(),
        "pipeline");
  }
  // Every Pipeline saw the head once and made its run.
  for (int i = 0; i < f.pipelines; ++i)
    WaitExists(client, "PipelineRun", ns.name(), "p" + std::to_string(i) + "-" + sha.substr(0, 7),
               300);
  std::this_thread::sleep_for(std::chrono::seconds(f.poll));
  Log("measured phase: " + std::to_string(f.pipelines) + " Pipelines polling every " + poll);
  const Phase with = Measure(controller, f.duration);
  // The same polls as `git ls-remote` processes, one after another.
  const int polls = static_cast<int>(f.pipelines * with.wall / f.poll);
  struct rusage before {};
  getrusage(RUSAGE_CHILDREN, &before);
  const double g0 = SteadyNow();
  for (int i = 0; i < polls; ++i) {
    auto r = ft::RunProcess({"git", "ls-remote", app.FileUrl(), "refs/heads/main"});
    Require(r.exit_code == 0 && r.out.rfind(sha, 0) == 0, "git ls-remote: " + r.err);
  }
  const double g1 = SteadyNow();
  struct rusage after {};
  getrusage(RUSAGE_CHILDREN, &after);
  auto secs = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  const double git_cpu =
      secs(after.ru_utime) - secs(before.ru_utime) + secs(after.ru_stime) - secs(before.ru_stime);
  std::cout << json{{"scenario", "scale"},
                    {"pipelines", f.pipelines},
                    {"poll_s", f.poll},
                    {"baseline",
                     {{"wall_s", base.wall}, {"cpu_s", base.cpu}, {"rss_kib", base.rss}}},
                    {"with",
                     {{"wall_s", with.wall},
                      {"cpu_s", with.cpu},
                      {"rss_kib", with.rss},
                      {"reconciles", with.reconciles}}},
                    {"git", {{"polls", polls}, {"cpu_s", git_cpu}, {"wall_s", g1 - g0}}},
                    {"vmhwm_kib", StatusKiB(controller.pid(), "VmHWM")},
                    {"complaints", controller.Complaints()}}
                   .dump()
            << std::endl;
  std::filesystem::remove_all(dir);
}

// The kubelet's part for the bench: the build pod's every container terminated with exit 0.
void SucceedPod(const flywheel::kube::Client& client, const std::string& ns,
                const std::string& pod) {
  WaitExists(client, "Pod", ns, pod);
  const std::string at = flywheel::FormatRfc3339(std::chrono::system_clock::now());
  auto done = [&](const std::string& name) {
    return json{
        {"name", name},
        {"ready", false},
        {"restartCount", 0},
        {"image", "registry.example.invalid/tools:1"},
        {"imageID", ""},
        {"started", false},
        {"state",
         {{"terminated",
           {{"exitCode", 0}, {"reason", "Completed"}, {"startedAt", at}, {"finishedAt", at}}}}}};
  };
  json status{{"phase", "Succeeded"},
              {"initContainerStatuses", {done("clone"), done("test")}},
              {"containerStatuses", {done("build-image")}}};
  for (int attempt = 0; attempt < 100; ++attempt) {
    auto p = client.Patch("v1", "Pod", ns, pod, flywheel::kube::PatchType::kMerge,
                          json{{"status", status}}.dump(), {.subresource = "status"});
    if (p.ok()) return;
    std::this_thread::sleep_for(50ms);
  }
  throw std::runtime_error("cannot set pod " + pod + " Succeeded");
}

void Promote(const Flags& f, const ft::TestEnv& env) {
  ft::ScopedNamespace ns(env, "bench-pl-promote");
  auto client = env.Client();
  const std::string dir = ft::TempDir("flywheel-bench-pl");
  ft::GitRepo app(dir, "app");
  ft::GitRepo deploy(dir, "deploy");
  deploy.Commit({{"web/config.yaml",
                  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n"
                  "data:\n  image: registry.local:5000/acme/web:old\n"}},
                "init");
  std::string sha = app.Commit({{"a", "0"}}, "c0");
  Controller controller(env, ns.name());
  json pipeline = PipelineObject(ns.name(), "web", app.FileUrl(), "1h");
  pipeline["spec"]["concurrency"] = "Allow";
  pipeline["spec"]["artifact"] = {{"image", "registry.local:5000/acme/web"}};
  pipeline["spec"]["promote"] = {{"url", deploy.FileUrl()}, {"paths", {"web"}}};
  Require(client.Create(pipeline).ok(), "pipeline");
  json release = ft::ReleaseObject(ns.name(), "web", deploy.FileUrl(),
                                   {{"source", {{"path", "web"}, {"pollInterval", "1h"}}}});
  release["spec"]["source"]["url"] = deploy.FileUrl();
  Require(client.Create(release).ok(), "release");
  for (int i = 0; i < f.runs; ++i) {
    if (i > 0) {
      sha = app.Commit({{"a", std::to_string(i)}}, "c" + std::to_string(i));
      Require(client
                  .Create({{"apiVersion", kApi},
                           {"kind", "PipelineRun"},
                           {"metadata",
                            {{"name", "web-" + sha.substr(0, 7)},
                             {"namespace", ns.name()},
                             {"labels", {{"flywheel.dev/pipeline", "web"}}}}},
                           {"spec", {{"pipelineRef", {{"name", "web"}}}, {"revision", sha}}}})
                  .ok(),
              "run");
    }
    const std::string run = "web-" + sha.substr(0, 7);
    const std::string before = deploy.Head();
    const double t0 = SteadyNow();
    SucceedPod(client, ns.name(), run);
    const double t_set = SteadyNow();
    // The promotion commit lands in the repository, then the Release applies it.
    std::string promoted;
    double t_pushed = 0, t_applied = 0;
    while (SteadyNow() - t0 < 120) {
      if (t_pushed == 0 && deploy.Head() != before) {
        t_pushed = SteadyNow();
        promoted = deploy.Head();
      }
      if (t_pushed != 0) {
        auto r = client.Get(kApi, "Release", ns.name(), "web");
        if (r.ok() && S(*r).value("lastAppliedRevision", "") == promoted) {
          t_applied = SteadyNow();
          break;
        }
      }
      std::this_thread::sleep_for(5ms);
    }
    Require(t_applied != 0, "the promotion was not applied: " + controller.Log());
    // Baseline: a git push of an equivalent one-line commit from a clone.
    const std::string clone = dir + "/clone-" + std::to_string(i);
    Require(ft::RunProcess({"git", "clone", "-q", deploy.FileUrl(), clone}).exit_code == 0,
            "clone");
    std::ofstream(clone + "/bench.txt") << i << "\n";
    ft::RunProcess({"git", "-C", clone, "add", "bench.txt"});
    ft::RunProcess({"git", "-C", clone, "-c", "user.name=b", "-c", "user.email=b@x", "commit",
                    "-qm", "bench"});
    const double p0 = SteadyNow();
    Require(ft::RunProcess({"git", "-C", clone, "push", "-q", "origin",
                            "HEAD:refs/heads/bench-" + std::to_string(i)})
                    .exit_code == 0,
            "push");
    const double p1 = SteadyNow();
    std::cout << json{{"scenario", "promote"},           {"set_s", t_set - t0},
                      {"to_pushed_s", t_pushed - t_set}, {"to_applied_s", t_applied - t_pushed},
                      {"total_s", t_applied - t_set},    {"git_push_s", p1 - p0}}
                     .dump()
              << std::endl;
  }
  std::filesystem::remove_all(dir);
}

}  // namespace

int main(int argc, char** argv) {
  const Flags f = ParseFlags(argc, argv);
  return RunAgainstTestEnv([&](const ft::TestEnv& env) {
    if (f.mode == "push") Push(f, env);
    if (f.mode == "scale") Scale(f, env);
    if (f.mode == "promote") Promote(f, env);
    return 0;
  });
}
