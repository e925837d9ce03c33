#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <shared_mutex>
#include <stop_token>
#include <string>
#include <vector>

#include "flywheel/common/clock.h"
#include "flywheel/kube/client.h"

namespace flywheel::kube {

// An object as the cache holds it: immutable and shared with every reader.
using ObjectPtr = std::shared_ptr<const nlohmann::json>;

// The cache key of an object: "namespace/name", or "name" when cluster-scoped.
std::string ObjectKey(const nlohmann::json& object);

// A thread-safe cache of objects by key, with secondary indexes by namespace, by owner UID
// (metadata.ownerReferences[].uid) and by label ("key=value").
//
// Objects are held packed (MessagePack, one allocation per object, about 0.9x their compact
// JSON) rather than as DOM trees (about 4x), and unpacked on every read: each read returns a
// fresh tree the caller owns through the shared pointer. Reads are rare next to the number of
// objects a cache holds (see docs/benchmarks.md, "Informer start-up").
class Store {
 public:
  Store() = default;
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  ObjectPtr Get(const std::string& key) const;
  // The cached object's metadata.resourceVersion ("" if absent), without unpacking it.
  std::string ResourceVersion(const std::string& key) const;
  std::vector<ObjectPtr> List() const;
  std::vector<ObjectPtr> ByNamespace(const std::string& ns) const;
  std::vector<ObjectPtr> ByOwner(const std::string& owner_uid) const;
  std::vector<ObjectPtr> ByLabel(const std::string& key, const std::string& value) const;
  size_t Size() const;

  // Inserts or replaces; returns the previous object (null if none).
  ObjectPtr Upsert(const nlohmann::json& object);
  // Removes by key; returns the removed object (null if none).
  ObjectPtr Remove(const std::string& key);
  // Every key currently stored.
  std::vector<std::string> Keys() const;

 private:
  struct Entry {
    std::unique_ptr<uint8_t[]> packed;
    uint32_t size = 0;
    std::string resource_version;
  };
  using Objects = std::map<std::string, Entry, std::less<>>;
  using Node = Objects::value_type;
  // Index sets point at the nodes of `objects_` (map nodes never move): a key is stored once and
  // an indexed read needs no second lookup.
  struct NodeLess {
    bool operator()(const Node* a, const Node* b) const { return a->first < b->first; }
  };
  using Index = std::map<std::string, std::set<const Node*, NodeLess>, std::less<>>;

  static ObjectPtr Unpack(const Entry& entry);
  void IndexLocked(const Node* node, const nlohmann::json& object, bool add);
  std::vector<ObjectPtr> FromIndex(const Index& index, const std::string& value) const;

  mutable std::shared_mutex mu_;
  Objects objects_;
  Index by_namespace_, by_owner_, by_label_;
};

// Callbacks for changes seen by an Informer. Never called concurrently, and in event order.
struct EventHandler {
  std::function<void(const ObjectPtr&)> on_add;
  std::function<void(const ObjectPtr& old_object, const ObjectPtr& new_object)> on_update;
  std::function<void(const ObjectPtr&)> on_delete;
};

// What an Informer watches.
struct InformerOptions {
  std::string api_version;
  std::string kind;
  std::string namespace_name;  // "" = all namespaces
  std::string label_selector;
  std::string field_selector;
  // Every `resync` (0 = never) each cached object is delivered again as an update.
  std::chrono::milliseconds resync{0};
  // Applied to each object before it is cached, to drop what controllers never read. Defaults
  // to dropping metadata.managedFields.
  std::function<void(nlohmann::json&)> transform;
  // Lists skip metadata.managedFields while parsing (never allocated). Turn off together with a
  // transform that keeps them.
  bool drop_managed_fields = true;
  int64_t page_size = 500;
};

// Keeps a Store equal to the server's state of one kind: list, then watch from the list's
// resourceVersion; a watch that ends is resumed from the last version seen (bookmarks included);
// 410 Expired relists, delivering deletes for objects that vanished in between (no ghosts);
// other failures back off 800 ms -> 30 s with jitter, and so does a watch that ends within a
// second without an event (a server or proxy that keeps closing it); the backoff resets after a
// list, or a watch that delivered events or lived that long. The watch state machine of kube-rs.
class Informer {
 public:
  // `clock` times the resync period, the backoff and how long a watch lived (nullptr = the real
  // clock).
  Informer(Client client, InformerOptions options, Clock* clock = nullptr);

  // Handlers must be added before Run().
  void AddHandler(EventHandler handler);

  // Lists and watches until `stop`. Blocks.
  void Run(std::stop_token stop);

  // True once the first list has been delivered.
  bool HasSynced() const { return synced_.load(); }
  // Blocks until synced (true) or `stop` (false).
  bool WaitForSync(std::stop_token stop) const;

  const Store& store() const { return store_; }
  const InformerOptions& options() const { return options_; }

  // How many times the informer had to list from scratch (1 after start).
  int64_t relists() const { return relists_.load(); }

  // The resourceVersion up to which the Store shows the server's state of the watched objects:
  // that of the last list, or of the last watch event or bookmark once delivered ("" before the
  // first list). client-go's LastSyncResourceVersion. A write that returned a version at or
  // below it is in the Store, or its object is gone from there since.
  std::string LastSyncResourceVersion() const;

 private:
  Status ListAndReplace(std::string* resource_version);
  // Watches from *resource_version (kept up to date), counting the events delivered in *events.
  Status WatchFrom(std::string* resource_version, int64_t* events, std::stop_token stop);
  void Deliver(nlohmann::json object, bool deleted);
  // Sets LastSyncResourceVersion (ignores "").
  void Progressed(const std::string& resource_version);
  void Resync();

  Client client_;
  InformerOptions options_;
  Clock* clock_;
  Store store_;
  std::vector<EventHandler> handlers_;
  std::atomic<bool> synced_{false};
  std::atomic<int64_t> relists_{0};
  mutable std::mutex progress_mu_;
  std::string progress_;   // LastSyncResourceVersion
  std::mutex deliver_mu_;  // serializes handler calls (watch thread and resync thread)
  mutable std::mutex sync_mu_;
  mutable std::condition_variable sync_cv_;
};

}  // namespace flywheel::kube
