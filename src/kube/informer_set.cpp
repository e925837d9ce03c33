#include "flywheel/kube/informer_set.h"

namespace flywheel::kube {

InformerSet::InformerSet(Client client) : client_(std::move(client)) {}

InformerSet::~InformerSet() { Stop(); }

Informer* InformerSet::Ensure(const std::string& name, const InformerOptions& options,
                              const EventHandler& handler) {
  std::lock_guard lock(mu_);
  if (stop_.stop_requested()) return nullptr;
  if (auto it = running_.find(name); it != running_.end()) return it->second.informer.get();
  Running& r = running_[name];
  r.informer = std::make_unique<Informer>(client_, options);
  r.informer->AddHandler(handler);
  r.thread = std::jthread(
      [informer = r.informer.get(), token = stop_.get_token()] { informer->Run(token); });
  return r.informer.get();
}

Informer* InformerSet::Find(const std::string& name) const {
  std::lock_guard lock(mu_);
  auto it = running_.find(name);
  return it == running_.end() ? nullptr : it->second.informer.get();
}

size_t InformerSet::size() const {
  std::lock_guard lock(mu_);
  return running_.size();
}

void InformerSet::Stop() {
  std::map<std::string, Running> running;
  {
    std::lock_guard lock(mu_);
    stop_.request_stop();
    running.swap(running_);
  }
  // Joined outside the lock, since a handler on one of these threads may call Find. Each
  // thread (declared after its informer) is joined before its informer is destroyed.
  running.clear();
}

}  // namespace flywheel::kube
