#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "flywheel/common/clock.h"
#include "flywheel/common/status.h"
#include "flywheel/http/client.h"
#include "flywheel/kube/json_stream.h"

namespace flywheel::kube {

using nlohmann::json;

// Where a kind is served: one entry of the API server's discovery documents.
struct ResourceInfo {
  std::string group;     // "" for the core group
  std::string version;   // "v1"
  std::string kind;      // "Deployment"
  std::string resource;  // "deployments"
  bool namespaced = true;

  // "v1" or "apps/v1".
  std::string ApiVersion() const;
  // The REST path of the collection (name empty) or of one object, optionally a subresource:
  // /apis/apps/v1/namespaces/<ns>/deployments/<name>/status. `ns` is ignored when cluster-scoped.
  std::string Path(std::string_view ns, std::string_view name = "",
                   std::string_view subresource = "") const;
};

// metadata.<field> when it is a string, else "" (reads in place, copies nothing else).
std::string MetaString(const nlohmann::json& object, const char* field);
// metadata.annotations[name] of `object`, or "" when absent or not a string.
std::string MetaAnnotation(const nlohmann::json& object, const char* name);

// Orders two resourceVersions of objects of one resource type, as kube-apiserver guarantees
// since Kubernetes 1.35 (they are decimal integers that only grow): <0, 0 or >0 like strcmp.
// std::nullopt when either is not such an integer (an aggregated API server's own scheme):
// then only equality means anything.
std::optional<int> CompareResourceVersions(std::string_view a, std::string_view b);

// What a list selects. `limit` pages through big collections (the result still holds all items).
struct ListOptions {
  std::string label_selector;
  std::string field_selector;
  int64_t limit = 500;
  std::string resource_version;  // "" = most recent (a quorum read)
  // Drop metadata.managedFields while parsing, so they are never allocated (informers do not
  // read them and they are often the largest part of an object).
  bool drop_managed_fields = false;
};

// Options of create/update/patch/apply.
struct WriteOptions {
  bool dry_run = false;       // dryRun=All: validated and defaulted, never stored
  std::string field_manager;  // managedFields owner; required for apply
  bool force = false;         // apply only: take ownership of conflicting fields
  std::string subresource;    // e.g. "status"
  // Parse the server's answer without metadata.managedFields (never allocated): for callers
  // that only read the object's content.
  bool drop_managed_fields = false;
};

enum class PatchType { kMerge, kJson, kStrategicMerge, kApply };

// How a delete cascades and what must still hold for it to happen.
struct DeleteOptions {
  enum class Propagation { kDefault, kBackground, kForeground, kOrphan };
  Propagation propagation = Propagation::kDefault;
  std::optional<std::string> precondition_uid;
  std::optional<std::string> precondition_resource_version;
  bool dry_run = false;
};

// A watch request. The server ends a watch after `timeout_seconds`; callers start a new one from
// the last resourceVersion they saw (see Informer).
struct WatchOptions {
  std::string resource_version;
  std::string label_selector;
  std::string field_selector;
  bool allow_bookmarks = true;
  int timeout_seconds = 300;
};

// Who to act as: sent as Impersonate-User / Impersonate-Group headers.
struct Impersonation {
  std::string user;
  std::vector<std::string> groups;
  std::string uid;                                        // Impersonate-Uid
  std::map<std::string, std::vector<std::string>> extra;  // Impersonate-Extra-<key>
};

// How a Client talks to the API server.
struct ClientOptions {
  // The value of the Authorization header for the next request ("" for none). Called per request
  // so rotated tokens and exec credentials take effect.
  std::function<Result<std::string>()> authorization;
  // Called when the server answers 401: the credentials are stale (a rotated token, an expired
  // exec credential). The request is then sent once more with fresh ones.
  std::function<void()> on_unauthorized;
  std::optional<Impersonation> impersonate;
  double qps = 0;  // client-side rate limit; 0 = off (controller-runtime's default today)
  int burst = 0;
  int max_retries = 5;     // for transient failures of idempotent calls and 429s
  Clock* clock = nullptr;  // nullptr = the real clock
};

// A Kubernetes API client over unstructured JSON objects. Every failure comes back as a Status
// mapped from the server's own answer (see api_error.h). Safe to use from many threads; copies
// share connections, discovery and rate limits.
class Client {
 public:
  Client(std::shared_ptr<http::Client> http, ClientOptions options);

  // The same client acting as someone else (a tenant's ServiceAccount).
  Client Impersonating(Impersonation who) const;
  // The same client with every call (Watch excepted) bounded in time, as a request under a
  // context with a timeout is in client-go: each attempt ends after `timeout` without an answer,
  // and no retry starts once its backoff would reach past `timeout` from the call's start (the
  // last failure is returned instead). For work that must end by a deadline: a leader's renewal.
  Client WithCallTimeout(std::chrono::milliseconds timeout) const;

  // Closes the connections to the API server unused for at least `idle_for`, for every copy of
  // this client (http::Client::CloseIdle): memory a burst of requests left behind.
  void CloseIdleConnections(std::chrono::milliseconds idle_for) const;

  // Discovery: which resource serves `kind` in `api_version`. Cached; a miss refreshes that
  // group-version once (a CRD may just have been installed).
  Result<ResourceInfo> Resource(std::string_view api_version, std::string_view kind) const;

  Result<json> Get(std::string_view api_version, std::string_view kind, std::string_view ns,
                   std::string_view name) const;
  // All items, paging with `limit`/`continue`; when a continue token expires mid-way the list
  // starts over without paging. The result is a List with `metadata.resourceVersion`.
  Result<json> List(std::string_view api_version, std::string_view kind, std::string_view ns,
                    const ListOptions& options = {}) const;
  // The same list delivered item by item as each page arrives, so a big collection is never
  // held at once. If a continue token expires, `on_restart` runs and the list starts over
  // without paging (items seen before are delivered again). The result is the List without
  // `items`, with `metadata.resourceVersion`.
  Result<json> ListEach(std::string_view api_version, std::string_view kind, std::string_view ns,
                        const ListOptions& options, const std::function<void(json&&)>& on_item,
                        const std::function<void()>& on_restart = {}) const;
  Result<json> Create(const json& object, const WriteOptions& options = {}) const;
  // PUT; the object's metadata.resourceVersion makes it conditional (Aborted on a conflict).
  Result<json> Update(const json& object, const WriteOptions& options = {}) const;
  Result<json> UpdateStatus(const json& object, const WriteOptions& options = {}) const;
  Result<json> Patch(std::string_view api_version, std::string_view kind, std::string_view ns,
                     std::string_view name, PatchType type, const std::string& body,
                     const WriteOptions& options = {}) const;
  // Server-side apply of `object` (which names itself) with options.field_manager.
  Result<json> Apply(const json& object, const WriteOptions& options) const;
  Status Delete(std::string_view api_version, std::string_view kind, std::string_view ns,
                std::string_view name, const DeleteOptions& options = {}) const;

  // Streams watch events to `on_event` until the server ends the watch (Ok), an error (an ERROR
  // event with 410 becomes kOutOfRange), `on_event` returns false (Ok) or `stop` (kCancelled).
  Status Watch(std::string_view api_version, std::string_view kind, std::string_view ns,
               const WatchOptions& options, const std::function<bool(WatchEvent)>& on_event,
               std::stop_token stop) const;

  // A raw GET of a path such as /version or /readyz, with the same auth and error mapping.
  Result<json> GetPath(const std::string& path) const;
  // GET of a path whose answer is text, not JSON (e.g. a pod's log:
  // /api/v1/namespaces/<ns>/pods/<name>/log?container=<c>&tailLines=<n>).
  Result<std::string> GetText(const std::string& path) const;
  // GET of a path whose answer is streamed text (a pod's log with follow=true): each chunk goes
  // to `on_data` as it arrives, until the server ends the answer (Ok), `on_data` returns false
  // (Ok) or `stop` (kCancelled). A non-200 answer is the API server's error.
  Status StreamText(const std::string& path, const std::function<bool(std::string_view)>& on_data,
                    std::stop_token stop = {}) const;

 private:
  struct Shared;
  Client(std::shared_ptr<Shared> shared, std::optional<Impersonation> impersonate,
         std::chrono::milliseconds call_timeout);

  Result<http::Response> Do(http::Request request, bool idempotent) const;
  // Where DoJson drops metadata.managedFields while parsing.
  enum class DropManagedFields { kNo, kFromItems, kFromObject };
  Result<json> DoJson(http::Request request, bool idempotent,
                      DropManagedFields drop = DropManagedFields::kNo) const;
  Result<json> Write(const std::string& method, const json& object, const WriteOptions& options,
                     bool name_in_path) const;
  Result<ResourceInfo> ResourceOf(const json& object) const;
  Status AddHeaders(http::Request& request) const;

  std::shared_ptr<Shared> shared_;
  std::optional<Impersonation> impersonate_;
  std::chrono::milliseconds call_timeout_{0};  // 0 = calls are not bounded (see WithCallTimeout)
};

// Percent-encodes a query parameter value.
std::string QueryEscape(std::string_view value);

}  // namespace flywheel::kube
