#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>

#include "flywheel/kube/client.h"
#include "flywheel/kube/informer.h"

namespace flywheel::kube {

// Informers started on demand while a process runs, for the kinds a controller only learns of as
// it works (those a Release applied): each runs on its own thread from the moment it is asked
// for, and all stop and are joined together. The Manager owns one (Manager::OnDemandInformers),
// so they live and end with the process's other caches.
class InformerSet {
 public:
  explicit InformerSet(Client client);
  ~InformerSet();  // Stop()
  InformerSet(const InformerSet&) = delete;
  InformerSet& operator=(const InformerSet&) = delete;

  // The informer named `name`; unless there is one, it is made with `options`, given `handler`
  // and started. nullptr once the set is stopped.
  Informer* Ensure(const std::string& name, const InformerOptions& options,
                   const EventHandler& handler);
  // The informer named `name`, or nullptr.
  Informer* Find(const std::string& name) const;
  // How many informers run.
  size_t size() const;

  // Stops every informer and joins their threads. Idempotent; Ensure starts nothing afterwards.
  void Stop();

 private:
  struct Running {
    std::unique_ptr<Informer> informer;
    std::jthread thread;
  };

  Client client_;
  mutable std::mutex mu_;
  std::map<std::string, Running> running_;
  std::stop_source stop_;
};

}  // namespace flywheel::kube
