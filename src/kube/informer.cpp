#include "flywheel/kube/informer.h"

#include <spdlog/spdlog.h>

#include <random>
#include <thread>

namespace flywheel::kube {

namespace {

using nlohmann::json;

void DropManagedFields(json& object) {
  auto m = object.find("metadata");
  if (m != object.end() && m->is_object()) m->erase("managedFields");
}

// A watch that ends sooner than this without delivering an event counts as a failure.
constexpr auto kShortWatch = std::chrono::seconds(1);

// Jittered exponential backoff for reconnects: 800 ms doubling to 30 s, +-25%.
class Backoff {
 public:
  std::chrono::milliseconds Next() {
    std::uniform_real_distribution<double> jitter(0.75, 1.25);
    auto d = std::chrono::milliseconds(static_cast<int64_t>(current_ms_ * jitter(rng_)));
    current_ms_ = std::min(current_ms_ * 2, 30000.0);
    return d;
  }
  void Reset() { current_ms_ = 800; }

 private:
  double current_ms_ = 800;
  std::mt19937 rng_{std::random_device{}()};
};

}  // namespace

std::string ObjectKey(const json& object) {
  std::string ns = MetaString(object, "namespace");
  std::string name = MetaString(object, "name");
  return ns.empty() ? name : ns + "/" + name;
}

// --- Store ---------------------------------------------------------------------------------

ObjectPtr Store::Unpack(const Entry& entry) {
  return std::make_shared<const json>(
      json::from_msgpack(entry.packed.get(), entry.packed.get() + entry.size));
}

void Store::IndexLocked(const Node* node, const json& object, bool add) {
  auto apply = [&](Index& index, std::string value) {
    if (add) {
      index[std::move(value)].insert(node);
    } else if (auto it = index.find(value); it != index.end()) {
      it->second.erase(node);
      if (it->second.empty()) index.erase(it);
    }
  };
  apply(by_namespace_, MetaString(object, "namespace"));
  auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) return;
  if (auto refs = meta->find("ownerReferences"); refs != meta->end() && refs->is_array()) {
    for (const auto& ref : *refs) {
      if (ref.is_object()) apply(by_owner_, ref.value("uid", ""));
    }
  }
  if (auto labels = meta->find("labels"); labels != meta->end() && labels->is_object()) {
    for (auto it = labels->begin(); it != labels->end(); ++it) {
      if (it->is_string()) apply(by_label_, it.key() + "=" + it->get<std::string>());
    }
  }
}

ObjectPtr Store::Upsert(const json& object) {
  std::string key = ObjectKey(object);
  Entry entry;
  {
    // Packed outside the lock, into an exact-size block.
    static thread_local std::vector<uint8_t> buffer;
    buffer.clear();
    json::to_msgpack(object, buffer);
    entry.size = static_cast<uint32_t>(buffer.size());
    entry.packed = std::make_unique_for_overwrite<uint8_t[]>(buffer.size());
    std::copy(buffer.begin(), buffer.end(), entry.packed.get());
    if (buffer.capacity() > (1u << 20)) buffer = {};  // do not keep a huge object's buffer
  }
  entry.resource_version = MetaString(object, "resourceVersion");
  std::unique_lock lock(mu_);
  ObjectPtr old;
  auto [it, inserted] = objects_.try_emplace(std::move(key));
  if (!inserted) {
    old = Unpack(it->second);
    IndexLocked(&*it, *old, false);
  }
  it->second = std::move(entry);
  IndexLocked(&*it, object, true);
  return old;
}

ObjectPtr Store::Remove(const std::string& key) {
  std::unique_lock lock(mu_);
  auto it = objects_.find(key);
  if (it == objects_.end()) return nullptr;
  ObjectPtr old = Unpack(it->second);
  IndexLocked(&*it, *old, false);
  objects_.erase(it);
  return old;
}

ObjectPtr Store::Get(const std::string& key) const {
  std::shared_lock lock(mu_);
  auto it = objects_.find(key);
  return it == objects_.end() ? nullptr : Unpack(it->second);
}

std::string Store::ResourceVersion(const std::string& key) const {
  std::shared_lock lock(mu_);
  auto it = objects_.find(key);
  return it == objects_.end() ? "" : it->second.resource_version;
}

std::vector<ObjectPtr> Store::List() const {
  std::shared_lock lock(mu_);
  std::vector<ObjectPtr> out;
  out.reserve(objects_.size());
  for (const auto& [k, v] : objects_) out.push_back(Unpack(v));
  return out;
}

std::vector<std::string> Store::Keys() const {
  std::shared_lock lock(mu_);
  std::vector<std::string> out;
  out.reserve(objects_.size());
  for (const auto& [k, v] : objects_) out.push_back(k);
  return out;
}

size_t Store::Size() const {
  std::shared_lock lock(mu_);
  return objects_.size();
}

std::vector<ObjectPtr> Store::FromIndex(const Index& index, const std::string& value) const {
  std::shared_lock lock(mu_);
  std::vector<ObjectPtr> out;
  auto it = index.find(value);
  if (it == index.end()) return out;
  out.reserve(it->second.size());
  for (const Node* node : it->second) out.push_back(Unpack(node->second));
  return out;
}

std::vector<ObjectPtr> Store::ByNamespace(const std::string& ns) const {
  return FromIndex(by_namespace_, ns);
}
std::vector<ObjectPtr> Store::ByOwner(const std::string& uid) const {
  return FromIndex(by_owner_, uid);
}
std::vector<ObjectPtr> Store::ByLabel(const std::string& key, const std::string& value) const {
  return FromIndex(by_label_, key + "=" + value);
}

// --- Informer ------------------------------------------------------------------------------

Informer::Informer(Client client, InformerOptions options, Clock* clock)
    : client_(std::move(client)),
      options_(std::move(options)),
      clock_(clock != nullptr ? clock : &RealClock::Instance()) {
  if (!options_.transform) options_.transform = DropManagedFields;
}

void Informer::AddHandler(EventHandler handler) { handlers_.push_back(std::move(handler)); }

std::string Informer::LastSyncResourceVersion() const {
  std::lock_guard lock(progress_mu_);
  return progress_;
}

void Informer::Progressed(const std::string& resource_version) {
  if (resource_version.empty()) return;
  std::lock_guard lock(progress_mu_);
  progress_ = resource_version;
}

bool Informer::WaitForSync(std::stop_token stop) const {
  std::unique_lock lock(sync_mu_);
  std::stop_callback wake(stop, [this] {
    std::lock_guard l(sync_mu_);
    sync_cv_.notify_all();
  });
  sync_cv_.wait(lock, [&] { return synced_.load() || stop.stop_requested(); });
  return synced_.load();
}

void Informer::Deliver(json object, bool deleted) {
  std::lock_guard lock(deliver_mu_);
  if (deleted) {
    ObjectPtr old = store_.Remove(ObjectKey(object));
    ObjectPtr gone = old ? old : std::make_shared<const json>(std::move(object));
    for (const auto& h : handlers_) {
      if (h.on_delete) h.on_delete(gone);
    }
    return;
  }
  options_.transform(object);
  auto now = std::make_shared<const json>(std::move(object));
  ObjectPtr old = store_.Upsert(*now);
  for (const auto& h : handlers_) {
    if (old == nullptr) {
      if (h.on_add) h.on_add(now);
    } else if (h.on_update) {
      h.on_update(old, now);
    }
  }
}

void Informer::Resync() {
  std::lock_guard lock(deliver_mu_);
  for (const auto& obj : store_.List()) {
    for (const auto& h : handlers_) {
      if (h.on_update) h.on_update(obj, obj);
    }
  }
}

Status Informer::ListAndReplace(std::string* resource_version) {
  ListOptions lo;
  lo.label_selector = options_.label_selector;
  lo.field_selector = options_.field_selector;
  lo.limit = options_.page_size;
  lo.drop_managed_fields = options_.drop_managed_fields;
  // Each page goes into the Store as it arrives: the whole list is never held at once.
  std::set<std::string> seen;
  auto list = client_.ListEach(
      options_.api_version, options_.kind, options_.namespace_name, lo,
      [&](json&& item) {
        // List items carry no apiVersion/kind; restore them so handlers see whole objects.
        item["apiVersion"] = options_.api_version;
        item["kind"] = options_.kind;
        std::string key = ObjectKey(item);
        std::string rv = MetaString(item, "resourceVersion");
        bool unchanged = !rv.empty() && store_.ResourceVersion(key) == rv;
        seen.insert(std::move(key));
        if (!unchanged) Deliver(std::move(item), false);
      },
      [&] { seen.clear(); });
  if (!list.ok()) return list.status();
  relists_.fetch_add(1);
  // Objects deleted while we were not watching: deliver their deletes from the cache.
  for (const auto& key : store_.Keys()) {
    if (seen.count(key) == 0) {
      if (auto old = store_.Get(key)) Deliver(*old, true);
    }
  }
  *resource_version = (*list)["metadata"].value("resourceVersion", "");
  Progressed(*resource_version);
  if (!synced_.exchange(true)) {
    std::lock_guard lock(sync_mu_);
    sync_cv_.notify_all();
  }
  return Status::Ok();
}

Status Informer::WatchFrom(std::string* resource_version, int64_t* events, std::stop_token stop) {
  static thread_local std::mt19937 rng{std::random_device{}()};
  WatchOptions wo;
  wo.resource_version = *resource_version;
  wo.label_selector = options_.label_selector;
  wo.field_selector = options_.field_selector;
  wo.timeout_seconds = std::uniform_int_distribution<int>(300, 600)(rng);
  return client_.Watch(
      options_.api_version, options_.kind, options_.namespace_name, wo,
      [&](WatchEvent event) {
        ++*events;
        std::string rv = MetaString(event.object, "resourceVersion");
        if (!rv.empty()) *resource_version = rv;
        switch (event.type) {
          case WatchEventType::kBookmark:
          case WatchEventType::kError:
            break;
          case WatchEventType::kAdded:
          case WatchEventType::kModified:
            Deliver(std::move(event.object), false);
            break;
          case WatchEventType::kDeleted:
            Deliver(std::move(event.object), true);
            break;
        }
        // Only now, with the Store updated: a reader that sees this version finds the event's
        // effect in the Store.
        if (event.type != WatchEventType::kError) Progressed(rv);
        return true;
      },
      stop);
}

void Informer::Run(std::stop_token stop) {
  std::jthread resync;
  if (options_.resync.count() > 0) {
    // Stopped by its own token when Run returns (the jthread's destructor).
    resync = std::jthread([this](std::stop_token own) {
      while (clock_->SleepFor(options_.resync, own)) {
        if (synced_.load()) Resync();
      }
    });
  }
  const std::string what =
      options_.kind + (options_.namespace_name.empty() ? std::string(" (all namespaces)")
                                                       : " in " + options_.namespace_name);
  Backoff backoff;
  std::string rv;
  bool listed = false;
  while (!stop.stop_requested()) {
    Status s;
    if (!listed) {
      s = ListAndReplace(&rv);
      listed = s.ok();
      if (listed) backoff.Reset();
    } else {
      const Clock::TimePoint started = clock_->Now();
      int64_t events = 0;
      s = WatchFrom(&rv, &events, stop);
      if (s.code() == Code::kOutOfRange) {
        spdlog::debug("watch of {} expired at resourceVersion {}; relisting", what, rv);
        listed = false;
        continue;
      }
      const Clock::Duration lived = clock_->Now() - started;
      if (events > 0 || lived >= kShortWatch) {
        backoff.Reset();
      } else if (s.ok()) {
        // Ended at once with nothing: the server (or a proxy) keeps closing it. Resuming at
        // once would loop; back off as for any failure (client-go's "very short watch").
        s = Status(Code::kUnavailable,
                   "the watch ended after " +
                       std::to_string(
                           std::chrono::duration_cast<std::chrono::milliseconds>(lived).count()) +
                       " ms without an event");
      }
    }
    if (stop.stop_requested() || s.ok()) continue;
    auto delay = backoff.Next();
    spdlog::warn("{} of {} failed, retrying in {} ms: {}", listed ? "watch" : "list", what,
                 delay.count(), s.ToString());
    clock_->SleepFor(delay, stop);
  }
}

}  // namespace flywheel::kube
