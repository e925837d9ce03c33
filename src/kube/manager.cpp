#include "flywheel/kube/manager.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <thread>

namespace flywheel::kube {

namespace {

http::ServerResponse Text(int status, std::string body) {
  http::ServerResponse r;
  r.status = status;
  r.body = std::move(body) + "\n";
  return r;
}

// ":8080" -> "0.0.0.0:8080" (every interface, like Go's net.Listen).
std::string BindAddress(const std::string& address) {
  return !address.empty() && address.front() == ':' ? "0.0.0.0" + address : address;
}

}  // namespace

Manager::Manager(Client client, ManagerOptions options)
    : client_(std::move(client)),
      options_(std::move(options)),
      metrics_(std::make_shared<prometheus::Registry>()),
      on_demand_(client_) {}

Manager::~Manager() = default;

std::vector<Informer*> Manager::Informers(const std::string& api_version, const std::string& kind,
                                          const std::string& label_selector,
                                          std::function<void(nlohmann::json&)> transform) {
  for (auto& k : kinds_) {
    if (k.api_version == api_version && k.kind == kind) {
      std::vector<Informer*> out;
      for (auto& i : k.informers) out.push_back(i.get());
      return out;
    }
  }
  KindInformers k{api_version, kind, {}};
  std::vector<std::string> namespaces = options_.namespaces;
  if (namespaces.empty()) namespaces.push_back("");
  for (const auto& ns : namespaces) {
    k.informers.push_back(
        std::make_unique<Informer>(client_, InformerOptions{.api_version = api_version,
                                                            .kind = kind,
                                                            .namespace_name = ns,
                                                            .label_selector = label_selector,
                                                            .transform = transform}));
  }
  kinds_.push_back(std::move(k));
  return Informers(api_version, kind);
}

void Manager::Watch(const std::string& api_version, const std::string& kind, EventHandler handler) {
  for (Informer* i : Informers(api_version, kind)) i->AddHandler(handler);
}

ObjectPtr Manager::Cached(const std::string& api_version, const std::string& kind,
                          const std::string& key) {
  for (Informer* i : Informers(api_version, kind)) {
    if (auto o = i->store().Get(key)) return o;
  }
  return nullptr;
}

bool Manager::InScope(const std::string& key) const {
  if (options_.namespaces.empty()) return true;
  const std::string ns = key.substr(0, key.find('/'));
  return std::find(options_.namespaces.begin(), options_.namespaces.end(), ns) !=
         options_.namespaces.end();
}

void Manager::AddWebhook(const std::string& path, http::Handler handler) {
  webhooks_[path] = std::move(handler);
}

Controller& Manager::Add(std::unique_ptr<Controller> controller) {
  controllers_.push_back(std::move(controller));
  return *controllers_.back();
}

Status Manager::StartServers() {
  if (options_.metrics_bind_address != "0") {
    auto server = http::Server::Start({.address = BindAddress(options_.metrics_bind_address)},
                                      {{"/metrics", [this](const http::ServerRequest&) {
                                          http::ServerResponse r;
                                          r.content_type =
                                              "text/plain; version=0.0.4; charset=utf-8";
                                          r.body = metrics_.Serialize();
                                          return r;
                                        }}});
    if (!server.ok()) return server.status();
    metrics_server_ = std::move(*server);
    metrics_port_ = metrics_server_->port();
    spdlog::info("serving metrics on {} (port {})", options_.metrics_bind_address,
                 metrics_port_.load());
  }
  if (options_.health_probe_bind_address != "0") {
    auto server = http::Server::Start(
        {.address = BindAddress(options_.health_probe_bind_address)},
        {{"/healthz", [](const http::ServerRequest&) { return Text(200, "ok"); }},
         {"/readyz", [this](const http::ServerRequest&) {
            // Leader and standby are both ready once synced: both serve metrics and webhooks.
            return synced_ ? Text(200, "ok") : Text(503, "informer caches not synced yet");
          }}});
    if (!server.ok()) return server.status();
    health_server_ = std::move(*server);
    health_port_ = health_server_->port();
    spdlog::info("serving health probes on {} (port {})", options_.health_probe_bind_address,
                 health_port_.load());
  }
  if (options_.webhook_bind_address != "0" && !webhooks_.empty()) {
    auto server =
        http::Server::Start({.address = BindAddress(options_.webhook_bind_address)}, webhooks_);
    if (!server.ok()) return server.status();
    webhook_server_ = std::move(*server);
    webhook_port_ = webhook_server_->port();
    spdlog::info("serving webhook receivers on {} (port {})", options_.webhook_bind_address,
                 webhook_port_.load());
  }
  return Status::Ok();
}

Status Manager::Run(std::stop_token stop) {
  if (Status s = StartServers(); !s.ok()) return s;
  std::stop_source caches_stop;
  std::vector<std::jthread> informer_threads;
  for (auto& k : kinds_) {
    for (auto& i : k.informers) {
      informer_threads.emplace_back(
          [inf = i.get(), token = caches_stop.get_token()] { inf->Run(token); });
    }
  }
  std::stop_callback forward(stop, [&caches_stop] { caches_stop.request_stop(); });
  for (auto& k : kinds_) {
    for (auto& i : k.informers) {
      if (!i->WaitForSync(stop)) break;
    }
  }
  Status result;
  if (!stop.stop_requested()) {
    synced_ = true;
    spdlog::info("informer caches synced ({} kinds)", kinds_.size());
    // With leader election, every reconcile first checks that the lease is still certainly
    // ours (a process resumed after a freeze must not act before its elector notices).
    std::function<bool()> may_reconcile;
    if (options_.leader_elect) {
      elector_ = std::make_unique<LeaderElector>(client_, options_.leader_election, &metrics_);
      may_reconcile = [this] { return elector_->leading(); };
    }
    auto run_controllers = [this, &may_reconcile](std::stop_token lead_stop) {
      std::vector<std::jthread> threads;
      for (auto& c : controllers_) {
        threads.emplace_back(
            [c = c.get(), lead_stop, &may_reconcile] { c->Run(lead_stop, may_reconcile); });
      }
    };
    if (elector_) {
      result = elector_->Run(stop, run_controllers, options_.on_leadership_lost);
    } else {
      run_controllers(stop);
    }
  }
  caches_stop.request_stop();
  on_demand_.Stop();
  informer_threads.clear();  // joins
  if (metrics_server_) metrics_server_->Stop();
  if (health_server_) health_server_->Stop();
  if (webhook_server_) webhook_server_->Stop();
  return result;
}

}  // namespace flywheel::kube
