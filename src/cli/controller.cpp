// `flywheel controller`: runs the operator (the Manager with every Flywheel controller).
#include <malloc.h>
#include <pthread.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <csignal>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>
#include <tuple>

#include "flywheel/api/names.h"
#include "flywheel/cli/app.h"
#include "flywheel/cli/flags.h"
#include "flywheel/common/logging.h"
#include "flywheel/common/time.h"
#include "flywheel/git/repository_cache.h"
#include "flywheel/kube/connect.h"
#include "flywheel/kube/events.h"
#include "flywheel/kube/manager.h"
#include "flywheel/notify/notifier.h"
#include "flywheel/pipeline/observe.h"
#include "flywheel/pipeline/reconciler.h"
#include "flywheel/release/reconciler.h"
#include "flywheel/rollback/policies.h"
#include "flywheel/rollback/reconciler.h"
#include "flywheel/webhook/alertmanager.h"
#include "flywheel/webhook/git.h"
#include "flywheel/webhook/push_dispatcher.h"

namespace flywheel::cli {
namespace {

constexpr const char* kUsage =
    "Run the Flywheel operator: watch Pipelines, PipelineRuns, Releases and RollbackPolicies\n"
    "and reconcile them.\n"
    "\n"
    "Usage:\n"
    "  flywheel controller [flags]\n"
    "\n"
    "Flags:\n";

constexpr const char* kApiVersion = "flywheel.dev/v1alpha1";

// The Flywheel kinds whose caches the manager keeps.
const std::vector<std::string> kKinds = {"Pipeline", "PipelineRun", "Release", "RollbackPolicy"};

sigset_t ShutdownSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

// Returns a thread that waits for SIGINT or SIGTERM and requests `stop`; a second signal exits
// at once, as controller-runtime does. The signals must already be blocked in every thread:
// block them before anything (the informers, the git fetch threads) starts a thread.
std::jthread HandleSignals(std::stop_source stop) {
  return std::jthread([set = ShutdownSignals(), stop]() mutable {
    int sig = 0;
    sigwait(&set, &sig);
    spdlog::info("received {}, shutting down (again to exit immediately)",
                 sig == SIGTERM ? "SIGTERM" : "SIGINT");
    stop.request_stop();
    sigwait(&set, &sig);
    std::_Exit(1);
  });
}

// Returns a thread that, every `interval` until it is stopped, closes the API server connections
// unused for that long and gives the heap's free pages back to the kernel.
// - A burst of reconciles (200 Pipelines created at once) grows the connection pool to as many
//   requests as ran at once, about 70 KiB each over TLS, which steady work never needs again
//   (docs/benchmarks.md, "Pipeline").
// - glibc keeps what a thread frees in that thread's arena for reuse, and the controller's
//   garbage (list and watch bodies, the trees each reconcile reads and writes) comes from dozens
//   of threads: without a trim that memory stays resident though free (about 2 MiB with 200
//   Pipelines). A trim walks the free chunks of every arena: milliseconds of CPU, so every 30 s
//   rather than after each reconcile.
std::jthread HousekeepEvery(std::chrono::seconds interval, kube::Client client) {
  return std::jthread([interval, client = std::move(client)](std::stop_token stop) {
    std::mutex mu;
    std::condition_variable_any cv;
    std::unique_lock lock(mu);
    // wait_for returns the predicate: false after `interval`, true once stop is requested.
    while (!cv.wait_for(lock, stop, interval, [&stop] { return stop.stop_requested(); })) {
      client.CloseIdleConnections(interval);
      malloc_trim(0);
    }
  });
}

int RunController(const Invocation& inv) {
  kube::LoadOptions load;
  kube::ManagerOptions mo;
  std::string git_cache_dir = "/tmp/flywheel/git";
  std::string git_webhook_secret_file;
  bool allow_file_sources = false;
  release::ReleaseReconcilerOptions release_options;
  pipeline::PipelineOptions pipeline_options;
  if (const char* image = std::getenv("FLYWHEEL_IMAGE"); image && *image)
    pipeline_options.pod.clone_image = image;
  std::vector<std::string> builder_images;
  std::string image_pull_timeout = FormatDuration(pipeline_options.image_pull_timeout);
  std::string pod_log_timeout = FormatDuration(pipeline_options.log_timeout);
  std::string log_level = "info", log_format = "text";
  double qps = 0;
  int burst = 0;
  FlagSet flags("flywheel controller");
  flags.String("kubeconfig", &load.kubeconfig,
               "Path to a kubeconfig (else $KUBECONFIG, in-cluster, ~/.kube/config)");
  flags.String("context", &load.context, "The kubeconfig context to use");
  flags.Strings("namespace", &mo.namespaces, "Namespace to watch (repeatable; default all)", "n");
  flags.String("metrics-bind-address", &mo.metrics_bind_address,
               "Address of the /metrics endpoint (\"0\" disables)");
  flags.String("health-probe-bind-address", &mo.health_probe_bind_address,
               "Address of /healthz and /readyz (\"0\" disables)");
  flags.String("webhook-bind-address", &mo.webhook_bind_address,
               "Address of the webhook receivers /hooks/git and /hooks/alertmanager/ (\"0\" "
               "disables)");
  flags.String("git-cache-dir", &git_cache_dir,
               "Directory of the bare repository caches (one per source URL and credentials)");
  flags.Bool("allow-file-sources", &allow_file_sources,
             "Allow file:// source URLs (they read the operator's file system; tests and demos)");
  flags.String("default-service-account", &release_options.default_service_account,
               "ServiceAccount to impersonate for Releases that name none (unset: the operator's)");
  flags.String("git-webhook-secret-file", &git_webhook_secret_file,
               "File holding the shared secret of /hooks/git (unset: receiver disabled)");
  flags.String(
      "clone-image", &pipeline_options.pod.clone_image,
      "Image of the clone step of build pods: the operator's own (default $FLYWHEEL_IMAGE)");
  flags.Strings("builder-image", &builder_images,
                "Image of an artifact builder, as <builder>=<image> (buildah, kaniko, buildkit; "
                "repeatable)");
  flags.Strings("insecure-registry", &pipeline_options.pod.insecure_registries,
                "Registry host:port that artifact builders push to over plain HTTP (repeatable)");
  flags.String("image-pull-timeout", &image_pull_timeout,
               "How long a build step may wait for its image (or container) before its run fails");
  flags.String("pod-log-timeout", &pod_log_timeout,
               "Bound on reading a build step's log tail from the API server (then its "
               "termination message is used)");
  flags.Bool("leader-elect", &mo.leader_elect,
             "Elect a leader with a Lease so only one replica reconciles");
  flags.String("leader-election-id", &mo.leader_election.lease_name, "Name of the Lease");
  flags.String("leader-election-namespace", &mo.leader_election.lease_namespace,
               "Namespace of the Lease");
  std::string lease_duration = FormatDuration(mo.leader_election.lease_duration);
  std::string renew_deadline = FormatDuration(mo.leader_election.renew_deadline);
  std::string retry_period = FormatDuration(mo.leader_election.retry_period);
  flags.String("leader-elect-lease-duration", &lease_duration,
               "How long standbys wait after the leader's last renewal before taking the Lease");
  flags.String("leader-elect-renew-deadline", &renew_deadline,
               "How long the leader keeps reconciling without a successful renewal");
  flags.String("leader-elect-retry-period", &retry_period,
               "How often to try to acquire or renew the Lease");
  flags.Int("concurrent", &mo.workers, "Reconciles at once per controller");
  flags.Double("kube-api-qps", &qps, "Client-side QPS limit towards the API server (0 = off)");
  flags.Int("kube-api-burst", &burst, "Client-side burst towards the API server");
  flags.String("log-level", &log_level, "trace, debug, info, warn or error");
  flags.String("log-format", &log_format, "text or json");
  if (auto exit = flags.ParseCommandLine(inv.args, inv, kUsage)) return *exit;
  const bool clone_image_set =
      std::getenv("FLYWHEEL_IMAGE") != nullptr ||
      std::find_if(inv.args.begin(), inv.args.end(), [](const std::string& a) {
        return a.rfind("--clone-image", 0) == 0;
      }) != inv.args.end();
  pipeline_options.pod.builder_images = {{"buildah", "quay.io/buildah/stable:v1.38"},
                                         {"kaniko", "gcr.io/kaniko-project/executor:v1.23.2"},
                                         {"buildkit", "moby/buildkit:v0.18.2-rootless"}};
  for (const auto& b : builder_images) {
    auto eq = b.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == b.size() ||
        !pipeline_options.pod.builder_images.contains(b.substr(0, eq))) {
      inv.err << "flywheel controller: --builder-image " << b
              << ": want <builder>=<image> with builder buildah, kaniko or buildkit\n";
      return kExitUsage;
    }
    pipeline_options.pod.builder_images[b.substr(0, eq)] = b.substr(eq + 1);
  }
  if (auto d = ParseDuration(pod_log_timeout); !d.ok() || d->count() <= 0) {
    inv.err << "flywheel controller: --pod-log-timeout: "
            << (d.ok() ? std::string("must be positive") : d.status().message()) << "\n";
    return kExitUsage;
  } else {
    pipeline_options.log_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(*d);
  }
  if (auto d = ParseDuration(image_pull_timeout); !d.ok() || d->count() <= 0) {
    inv.err << "flywheel controller: --image-pull-timeout: "
            << (d.ok() ? std::string("must be positive") : d.status().message()) << "\n";
    return kExitUsage;
  } else {
    pipeline_options.image_pull_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(*d);
  }
  for (auto [flag, text, target] :
       {std::tuple{"leader-elect-lease-duration", &lease_duration,
                   &mo.leader_election.lease_duration},
        std::tuple{"leader-elect-renew-deadline", &renew_deadline,
                   &mo.leader_election.renew_deadline},
        std::tuple{"leader-elect-retry-period", &retry_period, &mo.leader_election.retry_period}}) {
    auto d = ParseDuration(*text);
    if (!d.ok()) {
      inv.err << "flywheel controller: --" << flag << ": " << d.status().message() << "\n";
      return kExitUsage;
    }
    *target = std::chrono::duration_cast<std::chrono::milliseconds>(*d);
  }
  if (Status s = mo.leader_election.Validate(); !s.ok()) {
    inv.err << "flywheel controller: " << s.message()
            << " (--leader-elect-lease-duration, --leader-elect-renew-deadline, "
               "--leader-elect-retry-period)\n";
    return kExitUsage;
  }
  sigset_t signals_to_block = ShutdownSignals();
  pthread_sigmask(SIG_BLOCK, &signals_to_block, nullptr);
  if (Status s = SetupLogging(log_level, log_format); !s.ok()) {
    inv.err << "flywheel controller: " << s.message() << "\n";
    return kExitUsage;
  }
  if (mo.workers < 1) {
    inv.err << "flywheel controller: --concurrent must be at least 1\n";
    return kExitUsage;
  }

  auto config = kube::LoadDefault(load);
  if (!config.ok()) {
    spdlog::error("cannot load a Kubernetes configuration: {}", config.status().message());
    return kExitFailure;
  }
  config->qps = qps;
  config->burst = burst;
  config->user_agent = "flywheel-controller";
  spdlog::info("connecting to {}", config->Describe());
  auto client = kube::Connect(*config);
  if (!client.ok()) {
    spdlog::error("{}", client.status().message());
    return kExitFailure;
  }
  // Fail fast, with the server's own words, when the API server or the CRDs are not there.
  if (auto version = client->GetPath("/version"); !version.ok()) {
    spdlog::error("cannot reach the API server: {}", version.status().ToString());
    return kExitFailure;
  } else {
    spdlog::info("API server {}.{} reachable", version->value("major", "?"),
                 version->value("minor", "?"));
  }
  // In a cluster the clone step runs the operator's own image: read it from this pod unless a
  // flag or $FLYWHEEL_IMAGE named one (kustomize's `images:` retags the pod, not an env value).
  if (!clone_image_set) {
    const char* pod = std::getenv("POD_NAME");
    const char* pod_ns = std::getenv("POD_NAMESPACE");
    if (pod && *pod && pod_ns && *pod_ns) {
      auto self = client->Get("v1", "Pod", pod_ns, pod);
      if (self.ok()) {
        for (const auto& c : (*self)["spec"].value("containers", nlohmann::json::array())) {
          if (c.value("name", "") == "controller")
            pipeline_options.pod.clone_image = c.value("image", "");
        }
        spdlog::info("build pods clone with this pod's image {}", pipeline_options.pod.clone_image);
      } else {
        spdlog::warn(
            "cannot read this pod ({}/{}) to learn its image: {}; build pods clone with {}", pod_ns,
            pod, self.status().message(), pipeline_options.pod.clone_image);
      }
    }
  }
  for (const auto& kind : kKinds) {
    if (auto r = client->Resource(kApiVersion, kind); !r.ok()) {
      spdlog::error("{} (install them with `kubectl apply -f crds/`)", r.status().message());
      return kExitFailure;
    }
  }

  std::string webhook_secret;
  if (!git_webhook_secret_file.empty()) {
    std::ifstream in(git_webhook_secret_file);
    std::stringstream text;
    if (in) text << in.rdbuf();
    webhook_secret = text.str();
    while (!webhook_secret.empty() &&
           std::isspace(static_cast<unsigned char>(webhook_secret.back()))) {
      webhook_secret.pop_back();
    }
    // The Secret is optional in the install manifests: a missing file turns the receiver off.
    if (webhook_secret.empty()) {
      spdlog::warn("--git-webhook-secret-file {} is missing or empty", git_webhook_secret_file);
    }
  }

  // A lost Lease ends the process at once: another replica may already be reconciling, and
  // nothing this one still holds (reconciles in flight, watches) is worth waiting for.
  mo.on_leadership_lost = [] {
    spdlog::error("leader election lost: exiting");
    spdlog::default_logger()->flush();
    std::_Exit(kExitFailure);
  };
  std::stop_source stop;
  auto signals = HandleSignals(stop);
  kube::Manager manager(*client, mo);
  for (const auto& kind : kKinds) manager.Informers(kApiVersion, kind);

  char host[256] = {};
  gethostname(host, sizeof host - 1);
  kube::EventRecorder events(*client, "flywheel-controller", host);
  auto git_cache =
      git::NewRepositoryCache({.root = git_cache_dir, .allow_file_urls = allow_file_sources});
  release::ReleaseMetrics release_metrics(manager.metrics());
  release_options.informers = &manager.OnDemandInformers();
  release::ReleaseReconciler releases(
      *client,
      [&manager](const std::string& key) { return manager.Cached(kApiVersion, "Release", key); },
      *git_cache, events, release_metrics, release_options);
  kube::Controller& release_controller = manager.Add(std::make_unique<kube::Controller>(
      "release", releases,
      kube::ControllerOptions{.workers = mo.workers, .metrics = &manager.metrics()}));
  // Objects the Releases applied are watched in every namespace (a Release may target any);
  // their changes wake only the Releases this process watches.
  releases.SetEnqueue([&release_controller, &manager](const std::string& key) {
    if (manager.InScope(key)) release_controller.Enqueue(key);
  });
  manager.Watch(kApiVersion, "Release", release_controller.EnqueueObject());
  // RollbackPolicies: woken by their own changes and by the Release each guards.
  notify::Notifier notifier({.registry = &manager.metrics().registry()});
  rollback::RollbackMetrics rollback_metrics(manager.metrics());
  auto cached_policy = [&manager](const std::string& key) {
    return manager.Cached(kApiVersion, "RollbackPolicy", key);
  };
  rollback::RollbackPolicyReconciler policies(
      *client, cached_policy,
      [&manager](const std::string& key) { return manager.Cached(kApiVersion, "Release", key); },
      events, rollback_metrics, notifier);
  kube::Controller& policy_controller = manager.Add(std::make_unique<kube::Controller>(
      "rollbackpolicy", policies,
      kube::ControllerOptions{.workers = mo.workers, .metrics = &manager.metrics()}));
  kube::EventHandler enqueue_policy = policy_controller.EnqueueObject();
  manager.Watch(
      kApiVersion, "RollbackPolicy",
      {.on_add = enqueue_policy.on_add,
       .on_update =
           [enqueue_policy](const kube::ObjectPtr& old_policy, const kube::ObjectPtr& new_policy) {
             if (rollback::PolicyChangeMatters(*old_policy, *new_policy)) {
               enqueue_policy.on_update(old_policy, new_policy);
             }
           },
       .on_delete = enqueue_policy.on_delete});
  auto wake_policies = [&manager, &policy_controller](const kube::ObjectPtr& release) {
    std::vector<kube::ObjectPtr> all;
    for (kube::Informer* i : manager.Informers(kApiVersion, "RollbackPolicy")) {
      auto items = i->store().ByNamespace(kube::MetaString(*release, "namespace"));
      all.insert(all.end(), items.begin(), items.end());
    }
    for (const auto& key : rollback::PoliciesGuarding(*release, all))
      policy_controller.Enqueue(key);
  };
  manager.Watch(kApiVersion, "Release",
                {.on_add = wake_policies,
                 .on_update = [wake_policies](const kube::ObjectPtr&,
                                              const kube::ObjectPtr& now) { wake_policies(now); },
                 .on_delete = wake_policies});
  manager.AddWebhook("/hooks/alertmanager/",
                     webhook::AlertmanagerWebhookHandler(
                         {}, rollback::AlertPolicyLookupFor(*client, cached_policy),
                         webhook::AlertDispatcher(*client)));

  // Pipelines and their runs; build pods are watched by label only.
  auto list_kind = [&manager](const std::string& kind) {
    std::vector<kube::ObjectPtr> all;
    for (kube::Informer* i : manager.Informers(kApiVersion, kind)) {
      auto items = i->store().List();
      all.insert(all.end(), items.begin(), items.end());
    }
    return all;
  };
  // A verified push, or a promotion this operator pushed, wakes what follows the repository.
  auto wake_releases = webhook::PushDispatcher(
      *client, {release::ReleasePushTarget([list_kind] { return list_kind("Release"); })});
  pipeline_options.wake_releases = wake_releases;
  pipeline_options.git.allow_file_urls = allow_file_sources;
  // Build pods are cached without what the controllers never read (pipeline::TrimCachedPod):
  // their annotations (which carry the steps' scripts), managedFields, most of the spec.
  manager.Informers("v1", "Pod", api::kPipelineRunLabel, pipeline::TrimCachedPod);
  pipeline::Caches pipeline_caches{
      .pipeline =
          [&manager](const std::string& key) {
            return manager.Cached(kApiVersion, "Pipeline", key);
          },
      .run =
          [&manager](const std::string& key) {
            return manager.Cached(kApiVersion, "PipelineRun", key);
          },
      .pod = [&manager](const std::string& key) { return manager.Cached("v1", "Pod", key); },
      .runs =
          [&manager](const std::string& ns, const std::string& pipeline) {
            std::vector<kube::ObjectPtr> all;
            for (kube::Informer* i : manager.Informers(kApiVersion, "PipelineRun")) {
              for (auto& r : i->store().ByLabel(api::kPipelineLabel, pipeline)) {
                if (kube::MetaString(*r, "namespace") == ns) all.push_back(std::move(r));
              }
            }
            return all;
          }};
  pipeline::PipelineMetrics pipeline_metrics(manager.metrics());
  pipeline::PipelineReconciler pipelines(*client, pipeline_caches, events, pipeline_metrics,
                                         pipeline_options);
  pipeline::PipelineRunReconciler runs(*client, pipeline_caches, *git_cache, events,
                                       pipeline_metrics, notifier, pipeline_options);
  kube::Controller& pipeline_controller = manager.Add(std::make_unique<kube::Controller>(
      "pipeline", pipelines,
      kube::ControllerOptions{.workers = mo.workers, .metrics = &manager.metrics()}));
  kube::Controller& run_controller = manager.Add(std::make_unique<kube::Controller>(
      "pipelinerun", runs,
      kube::ControllerOptions{.workers = mo.workers, .metrics = &manager.metrics()}));
  manager.Watch(kApiVersion, "Pipeline", pipeline_controller.EnqueueObject());
  manager.Watch("v1", "Pod", run_controller.EnqueueOwner("PipelineRun"));
  // A run's change wakes its Pipeline (summaries, pruning) and the Pipeline's unfinished runs
  // (a Queue waits for the older ones to end; Replace cancels the older ones).
  auto run_changed = [&pipeline_controller, &run_controller,
                      runs_of = pipeline_caches.runs](const kube::ObjectPtr& run) {
    const std::string ns = kube::MetaString(*run, "namespace");
    const std::string pipeline =
        (*run)["spec"].value("pipelineRef", nlohmann::json::object()).value("name", "");
    run_controller.Enqueue(ns + "/" + kube::MetaString(*run, "name"));
    if (pipeline.empty()) return;
    pipeline_controller.Enqueue(ns + "/" + pipeline);
    for (const auto& sibling : pipeline::RunsOf(runs_of(ns, pipeline), pipeline)) {
      if (!pipeline::IsFinished(*sibling))
        run_controller.Enqueue(ns + "/" + kube::MetaString(*sibling, "name"));
    }
  };
  manager.Watch(kApiVersion, "PipelineRun",
                {.on_add = run_changed,
                 .on_update = [run_changed](const kube::ObjectPtr&,
                                            const kube::ObjectPtr& now) { run_changed(now); },
                 .on_delete = run_changed});

  if (!webhook_secret.empty()) {
    manager.AddWebhook(
        "/hooks/git",
        webhook::GitWebhookHandler(
            {.secret = webhook_secret},
            webhook::PushDispatcher(
                *client,
                {release::ReleasePushTarget([list_kind] { return list_kind("Release"); }),
                 pipeline::PipelinePushTarget([list_kind] { return list_kind("Pipeline"); })})));
  } else {
    spdlog::info("git webhook receiver /hooks/git disabled (no --git-webhook-secret-file)");
  }
  spdlog::info(
      "flywheel controller starting (namespaces: {}, leader election: {})",
      mo.namespaces.empty() ? std::string("all") : fmt::format("{}", fmt::join(mo.namespaces, ",")),
      mo.leader_elect ? "on" : "off");
  std::jthread housekeeping = HousekeepEvery(std::chrono::seconds(30), *client);
  Status result = manager.Run(stop.get_token());
  releases.Stop();
  // The signal thread waits in sigwait(), which a stop request cannot end: leave it behind on
  // every way out (joining it would hang the exit, e.g. after a lost Lease).
  signals.request_stop();
  signals.detach();
  if (!result.ok()) {
    spdlog::error("controller stopped: {}", result.ToString());
    return kExitFailure;
  }
  spdlog::info("controller stopped cleanly");
  return kExitOk;
}

}  // namespace

Command ControllerCommand() {
  return {"controller", "Run the operator (controllers, probes, metrics)", RunController};
}

}  // namespace flywheel::cli
