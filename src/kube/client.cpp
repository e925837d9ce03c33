#include "flywheel/kube/client.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <set>

#include "flywheel/kube/api_error.h"
#include "flywheel/kube/rate_limiter.h"

namespace flywheel::kube {

namespace {

// "apps/v1" -> {"apps", "v1"}; "v1" -> {"", "v1"}.
std::pair<std::string, std::string> SplitApiVersion(std::string_view api_version) {
  auto slash = api_version.find('/');
  if (slash == std::string_view::npos) return {"", std::string(api_version)};
  return {std::string(api_version.substr(0, slash)), std::string(api_version.substr(slash + 1))};
}

std::string GroupVersionPath(std::string_view api_version) {
  auto [group, version] = SplitApiVersion(api_version);
  return group.empty() ? "/api/" + version : "/apis/" + group + "/" + version;
}

// Appends `key=value` to a query string under construction.
void AddQuery(std::string& target, std::string_view key, std::string_view value) {
  if (value.empty()) return;
  target += target.find('?') == std::string::npos ? '?' : '&';
  target += key;
  target += '=';
  target += QueryEscape(value);
}

std::string WriteQuery(const WriteOptions& options) {
  std::string q;
  if (options.dry_run) AddQuery(q, "dryRun", "All");
  AddQuery(q, "fieldManager", options.field_manager);
  if (options.force) AddQuery(q, "force", "true");
  return q;
}

const char* ContentType(PatchType type) {
  switch (type) {
    case PatchType::kMerge:
      return "application/merge-patch+json";
    case PatchType::kJson:
      return "application/json-patch+json";
    case PatchType::kStrategicMerge:
      return "application/strategic-merge-patch+json";
    case PatchType::kApply:
      return "application/apply-patch+yaml";
  }
  return "application/json";
}

}  // namespace

std::string MetaString(const json& object, const char* field) {
  auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) return "";
  auto it = meta->find(field);
  return it != meta->end() && it->is_string() ? it->get<std::string>() : "";
}

std::optional<int> CompareResourceVersions(std::string_view a, std::string_view b) {
  auto integer = [](std::string_view v) {
    return !v.empty() && (v.size() == 1 || v[0] != '0') &&
           std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (!integer(a) || !integer(b)) return std::nullopt;
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  const int c = a.compare(b);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

std::string MetaAnnotation(const json& object, const char* name) {
  auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) return "";
  auto annotations = meta->find("annotations");
  if (annotations == meta->end() || !annotations->is_object()) return "";
  auto it = annotations->find(name);
  return it != annotations->end() && it->is_string() ? it->get<std::string>() : "";
}

std::string QueryEscape(std::string_view value) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : value) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string ResourceInfo::ApiVersion() const {
  return group.empty() ? version : group + "/" + version;
}

std::string ResourceInfo::Path(std::string_view ns, std::string_view name,
                               std::string_view subresource) const {
  std::string path = GroupVersionPath(ApiVersion());
  if (namespaced && !ns.empty()) {
    path += "/namespaces/";
    path += ns;
  }
  path += "/" + resource;
  if (!name.empty()) {
    path += "/";
    path += name;
    if (!subresource.empty()) {
      path += "/";
      path += subresource;
    }
  }
  return path;
}

// State shared by a Client and its impersonating copies.
struct Client::Shared {
  std::shared_ptr<http::Client> http;
  ClientOptions options;
  Clock* clock;
  std::unique_ptr<TokenBucket> limiter;  // null when the client-side limit is off

  std::mutex mu;
  std::map<std::string, std::vector<ResourceInfo>> discovery;  // by apiVersion
  std::set<std::string> warnings_seen;
};

Client::Client(std::shared_ptr<http::Client> http, ClientOptions options)
    : shared_(std::make_shared<Shared>()), impersonate_(options.impersonate) {
  shared_->http = std::move(http);
  shared_->clock = options.clock != nullptr ? options.clock : &RealClock::Instance();
  if (options.qps > 0) {
    shared_->limiter =
        std::make_unique<TokenBucket>(options.qps, std::max(options.burst, 1), *shared_->clock);
  }
  shared_->options = std::move(options);
}

Client::Client(std::shared_ptr<Shared> shared, std::optional<Impersonation> impersonate,
               std::chrono::milliseconds call_timeout)
    : shared_(std::move(shared)),
      impersonate_(std::move(impersonate)),
      call_timeout_(call_timeout) {}

Client Client::Impersonating(Impersonation who) const {
  return Client(shared_, std::move(who), call_timeout_);
}

Client Client::WithCallTimeout(std::chrono::milliseconds timeout) const {
  return Client(shared_, impersonate_, timeout);
}

Status Client::AddHeaders(http::Request& request) const {
  request.headers.emplace_back("Accept", "application/json");
  if (shared_->options.authorization) {
    auto auth = shared_->options.authorization();
    if (!auth.ok()) return auth.status();
    if (!auth->empty()) request.headers.emplace_back("Authorization", *auth);
  }
  if (impersonate_) {
    request.headers.emplace_back("Impersonate-User", impersonate_->user);
    for (const auto& g : impersonate_->groups) {
      request.headers.emplace_back("Impersonate-Group", g);
    }
    if (!impersonate_->uid.empty()) {
      request.headers.emplace_back("Impersonate-Uid", impersonate_->uid);
    }
    for (const auto& [key, values] : impersonate_->extra) {
      for (const auto& v : values) {
        request.headers.emplace_back("Impersonate-Extra-" + QueryEscape(key), v);
      }
    }
  }
  return Status::Ok();
}

Result<http::Response> Client::Do(http::Request request, bool idempotent) const {
  Clock& clock = *shared_->clock;
  const bool bounded = call_timeout_.count() > 0;
  const Clock::TimePoint deadline = bounded ? clock.Now() + call_timeout_ : Clock::TimePoint::max();
  if (bounded && (request.timeout.count() == 0 || request.timeout > call_timeout_)) {
    request.timeout = call_timeout_;
  }
  http::Request original = request;
  if (Status s = AddHeaders(request); !s.ok()) return s;
  bool refreshed = false;
  auto backoff = std::chrono::milliseconds(200);
  for (int attempt = 0;; ++attempt) {
    if (shared_->limiter) shared_->limiter->Accept();
    auto resp = shared_->http->Send(request);
    Status status;
    if (!resp.ok()) {
      status = resp.status();
    } else {
      for (const auto& [k, v] : resp->headers) {
        if (strcasecmp(k.c_str(), "Warning") != 0) continue;
        std::lock_guard lock(shared_->mu);
        if (shared_->warnings_seen.insert(v).second) {
          spdlog::warn("API server warning: {}", v);
        }
      }
      if (resp->status >= 200 && resp->status < 300) return resp;
      status = StatusFromResponse(resp->status, resp->body,
                                  http::FindHeader(resp->headers, "Retry-After"));
    }
    if (status.code() == Code::kUnauthenticated && !refreshed && shared_->options.on_unauthorized) {
      // Stale credentials: the server did nothing; refresh them and send once more.
      refreshed = true;
      shared_->options.on_unauthorized();
      request = original;
      if (Status s = AddHeaders(request); !s.ok()) return s;
      continue;
    }
    // Idempotent calls retry any transient failure; others only a 429, which the server
    // answered without doing anything.
    bool retry = idempotent ? status.IsTransient() : status.code() == Code::kResourceExhausted;
    if (!retry || attempt >= shared_->options.max_retries) return status;
    auto delay = status.retry_after().value_or(backoff);
    if (clock.Now() + delay >= deadline) return status;  // no time left for another attempt
    spdlog::debug("retrying {} {} in {} ms: {}", request.method, request.target, delay.count(),
                  status.ToString());
    clock.SleepFor(delay);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(10000));
  }
}

Result<json> Client::DoJson(http::Request request, bool idempotent, DropManagedFields drop) const {
  auto resp = Do(std::move(request), idempotent);
  if (!resp.ok()) return resp.status();
  if (resp->body.empty()) return json::object();
  json::parser_callback_t skip_managed_fields = nullptr;
  if (drop != DropManagedFields::kNo) {
    // An object's own keys are at depth 1 and its metadata's at depth 2; in a List,
    // items[].metadata's keys are at depth 4 and the item's own keys at depth 3. Returning false
    // for a key discards the key and its whole value before it is built.
    const int object_depth = drop == DropManagedFields::kFromItems ? 3 : 1;
    auto object_key = std::make_shared<std::string>();
    skip_managed_fields = [object_key, object_depth](int depth, json::parse_event_t event,
                                                     json& parsed) {
      if (event != json::parse_event_t::key) return true;
      if (depth == object_depth) *object_key = parsed.get<std::string>();
      return !(depth == object_depth + 1 && *object_key == "metadata" && parsed == "managedFields");
    };
  }
  auto parsed = json::parse(resp->body, skip_managed_fields, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    return Status(Code::kInternal, "the API server answered with invalid JSON (" +
                                       std::to_string(resp->body.size()) + " bytes)");
  }
  return parsed;
}

void Client::CloseIdleConnections(std::chrono::milliseconds idle_for) const {
  shared_->http->CloseIdle(idle_for);
}

Result<json> Client::GetPath(const std::string& path) const {
  http::Request req;
  req.target = path;
  return DoJson(std::move(req), true);
}

Result<std::string> Client::GetText(const std::string& path) const {
  http::Request req;
  req.target = path;
  auto resp = Do(std::move(req), true);
  if (!resp.ok()) return resp.status();
  return std::move(resp->body);
}

Result<ResourceInfo> Client::Resource(std::string_view api_version, std::string_view kind) const {
  const std::string key(api_version);
  auto find = [&]() -> std::optional<ResourceInfo> {
    std::lock_guard lock(shared_->mu);
    auto it = shared_->discovery.find(key);
    if (it == shared_->discovery.end()) return std::nullopt;
    for (const auto& r : it->second) {
      if (r.kind == kind) return r;
    }
    return std::nullopt;
  };
  if (auto hit = find()) return *hit;

  auto doc = GetPath(GroupVersionPath(api_version));
  if (!doc.ok()) {
    if (doc.status().code() == Code::kNotFound) {
      return Status(Code::kNotFound, "the server does not serve " + key +
                                         " (is the CRD that defines " + std::string(kind) +
                                         " installed?)");
    }
    return doc.status();
  }
  auto [group, version] = SplitApiVersion(api_version);
  std::vector<ResourceInfo> infos;
  for (const auto& r : doc->value("resources", json::array())) {
    std::string name = r.value("name", "");
    if (name.find('/') != std::string::npos) continue;  // subresources
    infos.push_back({group, version, r.value("kind", ""), name, r.value("namespaced", true)});
  }
  {
    std::lock_guard lock(shared_->mu);
    shared_->discovery[key] = std::move(infos);
  }
  if (auto hit = find()) return *hit;
  return Status(Code::kNotFound, "the server has no kind " + std::string(kind) + " in " + key);
}

Result<ResourceInfo> Client::ResourceOf(const json& object) const {
  std::string api_version = object.value("apiVersion", "");
  std::string kind = object.value("kind", "");
  if (api_version.empty() || kind.empty()) {
    return Status(Code::kInvalidArgument, "object has no apiVersion or kind");
  }
  return Resource(api_version, kind);
}

Result<json> Client::Get(std::string_view api_version, std::string_view kind, std::string_view ns,
                         std::string_view name) const {
  auto info = Resource(api_version, kind);
  if (!info.ok()) return info.status();
  http::Request req;
  req.target = info->Path(ns, name);
  return DoJson(std::move(req), true);
}

Result<json> Client::ListEach(std::string_view api_version, std::string_view kind,
                              std::string_view ns, const ListOptions& options,
                              const std::function<void(json&&)>& on_item,
                              const std::function<void()>& on_restart) const {
  auto info = Resource(api_version, kind);
  if (!info.ok()) return info.status();
  json list;
  std::string cont;
  bool paging = options.limit > 0;
  for (;;) {
    http::Request req;
    req.target = info->Path(ns);
    AddQuery(req.target, "labelSelector", options.label_selector);
    AddQuery(req.target, "fieldSelector", options.field_selector);
    if (paging) AddQuery(req.target, "limit", std::to_string(options.limit));
    AddQuery(req.target, "continue", cont);
    if (cont.empty()) AddQuery(req.target, "resourceVersion", options.resource_version);
    auto page = DoJson(
        std::move(req), true,
        options.drop_managed_fields ? DropManagedFields::kFromItems : DropManagedFields::kNo);
    if (!page.ok()) {
      if (page.status().code() == Code::kOutOfRange && !cont.empty()) {
        // The continue token expired: list everything in one go, as client-go's pager does.
        spdlog::debug("continue token for {} expired; listing without paging", info->resource);
        paging = false;
        cont.clear();
        if (on_restart) on_restart();
        continue;
      }
      return page.status();
    }
    if (auto items = page->find("items"); items != page->end() && items->is_array()) {
      for (auto& item : *items) on_item(std::move(item));
      page->erase("items");
    }
    list = std::move(*page);
    cont = list["metadata"].value("continue", "");
    if (cont.empty()) break;
  }
  list["metadata"].erase("continue");
  return list;
}

Result<json> Client::List(std::string_view api_version, std::string_view kind, std::string_view ns,
                          const ListOptions& options) const {
  json items = json::array();
  auto list = ListEach(
      api_version, kind, ns, options, [&](json&& item) { items.push_back(std::move(item)); },
      [&] { items = json::array(); });
  if (!list.ok()) return list;
  (*list)["items"] = std::move(items);
  return list;
}

Result<json> Client::Write(const std::string& method, const json& object,
                           const WriteOptions& options, bool name_in_path) const {
  auto info = ResourceOf(object);
  if (!info.ok()) return info.status();
  std::string name = MetaString(object, "name");
  if (name_in_path && name.empty()) {
    return Status(Code::kInvalidArgument, "object has no metadata.name");
  }
  http::Request req;
  req.method = method;
  req.target =
      info->Path(MetaString(object, "namespace"), name_in_path ? name : "", options.subresource) +
      WriteQuery(options);
  req.body = object.dump();
  return DoJson(
      std::move(req), false,
      options.drop_managed_fields ? DropManagedFields::kFromObject : DropManagedFields::kNo);
}

Result<json> Client::Create(const json& object, const WriteOptions& options) const {
  return Write("POST", object, options, false);
}

Result<json> Client::Update(const json& object, const WriteOptions& options) const {
  return Write("PUT", object, options, true);
}

Result<json> Client::UpdateStatus(const json& object, const WriteOptions& options) const {
  WriteOptions o = options;
  o.subresource = "status";
  return Write("PUT", object, o, true);
}

Result<json> Client::Patch(std::string_view api_version, std::string_view kind, std::string_view ns,
                           std::string_view name, PatchType type, const std::string& body,
                           const WriteOptions& options) const {
  auto info = Resource(api_version, kind);
  if (!info.ok()) return info.status();
  http::Request req;
  req.method = "PATCH";
  req.target = info->Path(ns, name, options.subresource) + WriteQuery(options);
  req.headers.emplace_back("Content-Type", ContentType(type));
  req.body = body;
  // An apply patch is idempotent by definition; the others may not be.
  return DoJson(
      std::move(req), type == PatchType::kApply,
      options.drop_managed_fields ? DropManagedFields::kFromObject : DropManagedFields::kNo);
}

Result<json> Client::Apply(const json& object, const WriteOptions& options) const {
  if (options.field_manager.empty()) {
    return Status(Code::kInvalidArgument, "server-side apply needs a field manager");
  }
  json body = object;
  if (body.contains("metadata")) body["metadata"].erase("managedFields");
  return Patch(object.value("apiVersion", ""), object.value("kind", ""),
               MetaString(object, "namespace"), MetaString(object, "name"), PatchType::kApply,
               body.dump(), options);
}

Status Client::Delete(std::string_view api_version, std::string_view kind, std::string_view ns,
                      std::string_view name, const DeleteOptions& options) const {
  auto info = Resource(api_version, kind);
  if (!info.ok()) return info.status();
  json body = {{"apiVersion", "v1"}, {"kind", "DeleteOptions"}};
  switch (options.propagation) {
    case DeleteOptions::Propagation::kDefault:
      break;
    case DeleteOptions::Propagation::kBackground:
      body["propagationPolicy"] = "Background";
      break;
    case DeleteOptions::Propagation::kForeground:
      body["propagationPolicy"] = "Foreground";
      break;
    case DeleteOptions::Propagation::kOrphan:
      body["propagationPolicy"] = "Orphan";
      break;
  }
  if (options.precondition_uid) body["preconditions"]["uid"] = *options.precondition_uid;
  if (options.precondition_resource_version) {
    body["preconditions"]["resourceVersion"] = *options.precondition_resource_version;
  }
  if (options.dry_run) body["dryRun"] = json::array({"All"});
  http::Request req;
  req.method = "DELETE";
  req.target = info->Path(ns, name);
  req.body = body.dump();
  auto resp = Do(std::move(req), true);
  return resp.ok() ? Status::Ok() : resp.status();
}

Status Client::Watch(std::string_view api_version, std::string_view kind, std::string_view ns,
                     const WatchOptions& options, const std::function<bool(WatchEvent)>& on_event,
                     std::stop_token stop) const {
  auto info = Resource(api_version, kind);
  if (!info.ok()) return info.status();
  http::Request req;
  req.target = info->Path(ns) + "?watch=1";
  if (options.allow_bookmarks) req.target += "&allowWatchBookmarks=true";
  AddQuery(req.target, "timeoutSeconds", std::to_string(options.timeout_seconds));
  AddQuery(req.target, "resourceVersion", options.resource_version);
  AddQuery(req.target, "labelSelector", options.label_selector);
  AddQuery(req.target, "fieldSelector", options.field_selector);
  // The inactivity timeout must outlast the server's own end of the watch.
  req.timeout = std::chrono::seconds(options.timeout_seconds + 30);
  if (Status s = AddHeaders(req); !s.ok()) return s;
  if (shared_->limiter) shared_->limiter->Accept();

  int http_status = 0;
  std::string error_body;
  JsonStreamDecoder decoder;
  std::vector<std::string> docs;
  Status result;
  http::StreamHandler handler;
  handler.on_headers = [&](int code, const http::Headers&) { http_status = code; };
  handler.on_data = [&](std::string_view chunk) {
    if (http_status != 200) {
      if (error_body.size() < 65536) error_body.append(chunk);
      return true;
    }
    docs.clear();
    if (Status s = decoder.Feed(chunk, &docs); !s.ok()) {
      result = s;
      return false;
    }
    for (const auto& doc : docs) {
      auto event = ParseWatchEvent(doc);
      if (!event.ok()) {
        result = event.status();
        return false;
      }
      if (event->type == WatchEventType::kError) {
        auto err = ApiErrorFromStatusObject(event->object);
        result = err.status;
        return false;
      }
      if (!on_event(std::move(*event))) return false;
    }
    return true;
  };
  Status stream = shared_->http->Stream(req, handler, stop);
  if (!stream.ok()) return stream;
  if (http_status != 200) return StatusFromResponse(http_status, error_body, "");
  return result;
}

Status Client::StreamText(const std::string& path,
                          const std::function<bool(std::string_view)>& on_data,
                          std::stop_token stop) const {
  http::Request req;
  req.target = path;
  req.timeout = std::chrono::hours(24);  // a followed log may be quiet for long
  if (Status s = AddHeaders(req); !s.ok()) return s;
  if (shared_->limiter) shared_->limiter->Accept();
  int http_status = 0;
  std::string error_body;
  http::StreamHandler handler;
  handler.on_headers = [&](int code, const http::Headers&) { http_status = code; };
  handler.on_data = [&](std::string_view chunk) {
    if (http_status != 200) {
      if (error_body.size() < 65536) error_body.append(chunk);
      return true;
    }
    return on_data(chunk);
  };
  Status stream = shared_->http->Stream(req, handler, stop);
  if (!stream.ok()) return stream;
  if (http_status != 200) return StatusFromResponse(http_status, error_body, "");
  return Status::Ok();
}

}  // namespace flywheel::kube
