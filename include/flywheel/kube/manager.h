#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <stop_token>
#include <string>
#include <vector>

#include "flywheel/http/server.h"
#include "flywheel/kube/client.h"
#include "flywheel/kube/controller.h"
#include "flywheel/kube/informer.h"
#include "flywheel/kube/informer_set.h"
#include "flywheel/kube/leader_election.h"
#include "flywheel/kube/metrics.h"

namespace flywheel::kube {

// What a Manager serves and how it elects a leader; named after controller-runtime's flags.
struct ManagerOptions {
  std::string metrics_bind_address = ":8080";       // "0" disables
  std::string health_probe_bind_address = ":8081";  // "0" disables
  std::string webhook_bind_address = ":9443";       // "0" disables the webhook receivers
  bool leader_elect = false;
  LeaderElectionOptions leader_election;
  std::vector<std::string> namespaces;  // watched namespaces; empty = all
  int workers = 4;                      // per controller
  // Runs the moment the Lease is lost, once the controllers were told to stop and before anything
  // is waited for. `flywheel controller` exits there (code 1), as controller-runtime does with no
  // graceful wait after a lost election; unset, Run waits for the reconciles in flight and the
  // caches, then returns kAborted.
  std::function<void()> on_leadership_lost;
};

// Owns everything a controller process runs (controller-runtime's Manager): the shared informer
// caches, the controllers, leader election, and the /metrics, /healthz and /readyz endpoints.
// Caches run on every replica; controllers only on the leader.
class Manager {
 public:
  Manager(Client client, ManagerOptions options);
  ~Manager();

  Client& client() { return client_; }
  RuntimeMetrics& metrics() { return metrics_; }
  const ManagerOptions& options() const { return options_; }

  // The informers of a kind (one per watched namespace), created on first use. Add handlers
  // before Run(). `label_selector` (used when they are created) limits the cache to the
  // objects it selects, e.g. only build pods among all pods; `transform` (likewise) replaces
  // the default one (InformerOptions::transform) to drop more of each object before it is cached.
  std::vector<Informer*> Informers(const std::string& api_version, const std::string& kind,
                                   const std::string& label_selector = "",
                                   std::function<void(nlohmann::json&)> transform = {});
  // Delivers the kind's events to `handler`.
  void Watch(const std::string& api_version, const std::string& kind, EventHandler handler);
  // Informers started while the manager runs, for kinds learned of on the way (those the
  // Releases applied); stopped and joined when Run ends, with the other caches.
  InformerSet& OnDemandInformers() { return on_demand_; }

  // Finds a cached object by key across the kind's informers.
  ObjectPtr Cached(const std::string& api_version, const std::string& kind, const std::string& key);

  // Whether the object with `key` ("namespace/name") lies in a watched namespace. Wake-ups that
  // do not come from the manager's informers (objects a controller applied, which may live in any
  // namespace) pass through it, so a controller restricted to some namespaces never reconciles
  // another namespace's objects.
  bool InScope(const std::string& key) const;

  // Serves `handler` at `path` on the webhook address (every replica serves webhooks, so a
  // handler must record its work where the leader sees it). Add before Run().
  void AddWebhook(const std::string& path, http::Handler handler);

  // The manager runs the controller while this process leads.
  Controller& Add(std::unique_ptr<Controller> controller);

  // Serves the endpoints, starts the caches, waits for them to sync, then runs the controllers
  // (after winning the election when enabled) until `stop`. Returns Ok on a clean stop, or the
  // error that ended the run (a bind failure, lost leadership). On either, the controllers stop
  // taking keys at once and only the reconciles in flight are waited for; with leader election
  // no reconcile starts once the lease is no longer certainly ours (see LeaderElector).
  Status Run(std::stop_token stop);

  // Bound ports of the endpoints (0 when disabled or not started); useful with port 0.
  int metrics_port() const { return metrics_port_; }
  int health_port() const { return health_port_; }
  int webhook_port() const { return webhook_port_; }

 private:
  Status StartServers();

  Client client_;
  ManagerOptions options_;
  RuntimeMetrics metrics_;
  struct KindInformers {
    std::string api_version, kind;
    std::vector<std::unique_ptr<Informer>> informers;
  };
  std::vector<KindInformers> kinds_;
  InformerSet on_demand_;
  std::vector<std::unique_ptr<Controller>> controllers_;
  std::map<std::string, http::Handler> webhooks_;
  std::unique_ptr<http::Server> metrics_server_, health_server_, webhook_server_;
  std::atomic<int> metrics_port_{0}, health_port_{0}, webhook_port_{0};
  std::atomic<bool> synced_{false};
  std::unique_ptr<LeaderElector> elector_;
};

}  // namespace flywheel::kube
