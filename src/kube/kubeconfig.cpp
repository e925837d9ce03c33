// LoadKubeconfig: finding, merging and resolving kubeconfig files the way kubectl and client-go's
// clientcmd do, with errors that name the file, the entry and the field.

#include <pwd.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <charconv>
#include <deque>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "config_util.h"
#include "flywheel/common/base64.h"
#include "flywheel/kube/config.h"

namespace flywheel::kube {
namespace {

namespace fs = std::filesystem;

constexpr const char* kExecApiV1 = "client.authentication.k8s.io/v1";
constexpr const char* kExecApiV1Beta1 = "client.authentication.k8s.io/v1beta1";
constexpr const char* kExecExtension = "client.authentication.k8s.io/exec";

Status Invalid(std::string message) { return Status(Code::kInvalidArgument, std::move(message)); }

std::string Quoted(const std::string& s) { return "\"" + s + "\""; }

// Whether a field is there and not null. Checks IsDefined() first: yaml-cpp throws when asked
// anything else about a missing key.
bool Present(const YAML::Node& node) { return node.IsDefined() && !node.IsNull(); }

std::string LineOf(const YAML::Node& node) {
  return "line " + std::to_string(node.Mark().line + 1);
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

// A kubeconfig file that was read.
struct SourceFile {
  std::string path;  // as given
  fs::path dir;      // its absolute directory: relative paths inside it resolve against this
};

// A cluster, user or context entry and the file it came from.
struct Entry {
  YAML::Node body;  // the `cluster`, `user` or `context` map (may be null)
  const SourceFile* file;
};

// All files merged: for each name, the entry of the first file that has it.
struct Merged {
  std::deque<SourceFile> files;  // a deque: entries point into it
  std::string current_context;
  std::map<std::string, Entry> clusters;
  std::map<std::string, Entry> users;
  std::map<std::string, Entry> contexts;

  std::string FileList() const {
    std::vector<std::string> paths;
    for (const auto& f : files) paths.push_back(f.path);
    return Join(paths);
  }
};

std::string Names(const std::map<std::string, Entry>& entries) {
  std::vector<std::string> names;
  for (const auto& [name, entry] : entries) names.push_back(name);
  return names.empty() ? "none" : Join(names);
}

// Reads the fields of one map node, remembering the first problem so callers can read every
// field and check once. Absent and null fields read as empty.
class Fields {
 public:
  Fields(const YAML::Node& node, std::string where)
      : node_(Present(node) ? node : YAML::Node()), where_(std::move(where)) {
    if (Present(node_) && !node_.IsMap()) Fail("must be a map (" + LineOf(node_) + ")");
  }

  const Status& status() const { return status_; }
  const std::string& where() const { return where_; }

  YAML::Node Node(const char* key) const {
    if (!node_.IsMap()) return YAML::Node();
    return node_[key];
  }

  bool Has(const char* key) const { return Present(Node(key)); }

  std::string String(const char* key) {
    YAML::Node n = Node(key);
    if (!Present(n)) return "";
    if (!n.IsScalar()) {
      Fail(std::string(key) + " must be a string (" + LineOf(n) + ")");
      return "";
    }
    return n.Scalar();
  }

  bool Bool(const char* key) {
    YAML::Node n = Node(key);
    if (!Present(n)) return false;
    bool value = false;
    if (!n.IsScalar() || !YAML::convert<bool>::decode(n, value)) {
      Fail(std::string(key) + " must be true or false (" + LineOf(n) + ")");
    }
    return value;
  }

  std::vector<std::string> StringList(const char* key) {
    YAML::Node n = Node(key);
    std::vector<std::string> out;
    if (!Present(n)) return out;
    if (!n.IsSequence()) {
      Fail(std::string(key) + " must be a list of strings (" + LineOf(n) + ")");
      return out;
    }
    for (const auto& item : n) {
      if (!item.IsScalar()) {
        Fail(std::string(key) + " must be a list of strings (" + LineOf(item) + ")");
        return {};
      }
      out.push_back(item.Scalar());
    }
    return out;
  }

  void Fail(const std::string& message) {
    if (status_.ok()) status_ = Invalid(where_ + ": " + message);
  }

 private:
  YAML::Node node_;
  std::string where_;
  Status status_;
};

// A plain YAML scalar as the JSON value YAML 1.1 would give it.
nlohmann::json ScalarToJson(const YAML::Node& n) {
  const std::string& s = n.Scalar();
  if (n.Tag() == "!") return s;  // quoted: always a string
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  bool b = false;
  if (YAML::convert<bool>::decode(n, b)) return b;
  const char* end = s.data() + s.size();
  long long i = 0;
  if (auto r = std::from_chars(s.data(), end, i); r.ec == std::errc() && r.ptr == end) return i;
  double d = 0;
  if (auto r = std::from_chars(s.data(), end, d); r.ec == std::errc() && r.ptr == end) return d;
  return s;
}

nlohmann::json YamlToJson(const YAML::Node& n) {
  if (!n.IsDefined()) return nullptr;
  switch (n.Type()) {
    case YAML::NodeType::Scalar:
      return ScalarToJson(n);
    case YAML::NodeType::Sequence: {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& item : n) out.push_back(YamlToJson(item));
      return out;
    }
    case YAML::NodeType::Map: {
      nlohmann::json out = nlohmann::json::object();
      for (const auto& kv : n) out[kv.first.Scalar()] = YamlToJson(kv.second);
      return out;
    }
    default:
      return nullptr;
  }
}

std::string ResolvePath(const SourceFile& file, const std::string& path) {
  if (path.empty() || fs::path(path).is_absolute()) return path;
  return (file.dir / path).lexically_normal().string();
}

// Reads one kubeconfig and adds its entries to `merged` where the name is not taken yet.
Status MergeFile(const std::string& path, const std::string& text, Merged& merged) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    // e.msg says what is wrong without quoting the (possibly secret) content.
    return Invalid("kubeconfig " + path + " is not valid YAML: " + e.msg + " at line " +
                   std::to_string(e.mark.line + 1) + ", column " +
                   std::to_string(e.mark.column + 1));
  }
  std::error_code ec;
  fs::path absolute = fs::absolute(path, ec);
  merged.files.push_back({path, (ec ? fs::path(path) : absolute).parent_path()});
  const SourceFile* file = &merged.files.back();
  if (!Present(root)) return Status::Ok();  // an empty file
  Fields top(root, "kubeconfig " + path);
  std::string kind = top.String("kind");
  std::string api_version = top.String("apiVersion");
  std::string current_context = top.String("current-context");
  if (!top.status().ok()) return top.status();
  if (!kind.empty() && kind != "Config") {
    return Invalid("kubeconfig " + path + ": kind is " + Quoted(kind) + ", want Config");
  }
  if (!api_version.empty() && api_version != "v1") {
    return Invalid("kubeconfig " + path + ": apiVersion is " + Quoted(api_version) + ", want v1");
  }
  if (merged.current_context.empty()) merged.current_context = current_context;

  struct Section {
    const char* list;
    const char* field;
    std::map<std::string, Entry>* entries;
  };
  for (const Section& section :
       {Section{"clusters", "cluster", &merged.clusters}, Section{"users", "user", &merged.users},
        Section{"contexts", "context", &merged.contexts}}) {
    YAML::Node list = top.Node(section.list);
    if (!Present(list)) continue;
    if (!list.IsSequence()) {
      return Invalid("kubeconfig " + path + ": " + section.list + " must be a list (" +
                     LineOf(list) + ")");
    }
    // Within one file a later entry replaces an earlier one of the same name (as in clientcmd);
    // across files the first file wins.
    std::map<std::string, Entry> local;
    for (size_t i = 0; i < list.size(); ++i) {
      Fields item(list[i],
                  "kubeconfig " + path + ": " + section.list + "[" + std::to_string(i) + "]");
      std::string name = item.String("name");
      if (item.status().ok() && name.empty()) item.Fail("has no name (" + LineOf(list[i]) + ")");
      if (!item.status().ok()) return item.status();
      YAML::Node body = item.Node(section.field);
      if (Present(body) && !body.IsMap()) {
        return Invalid("kubeconfig " + path + ": " + section.field + " " + Quoted(name) +
                       " must be a map (" + LineOf(body) + ")");
      }
      local[name] = Entry{body, file};
    }
    for (auto& [name, entry] : local) section.entries->emplace(name, entry);
  }
  return Status::Ok();
}

// A `*-data` field decoded, or a file field read; both must hold PEM.
Result<std::string> ReadPemField(Fields& f, const SourceFile& file, const char* file_key,
                                 const char* data_key) {
  std::string path = f.String(file_key);
  std::string data = f.String(data_key);
  if (!f.status().ok()) return f.status();
  if (!path.empty() && !data.empty()) {
    return Invalid(f.where() + ": both " + file_key + " and " + data_key + " are set; keep one");
  }
  std::string pem;
  const char* what = data_key;
  if (!data.empty()) {
    std::optional<std::string> decoded = Base64Decode(data);
    if (!decoded) return Invalid(f.where() + ": " + data_key + " is not valid base64");
    pem = std::move(*decoded);
  } else if (!path.empty()) {
    Result<std::string> text = internal::ReadFileText(ResolvePath(file, path));
    if (!text.ok()) {
      return Invalid(f.where() + ": " + file_key + ": " + text.status().message());
    }
    pem = std::move(*text);
    what = file_key;
  } else {
    return std::string();
  }
  if (!internal::LooksLikePem(pem)) {
    return Invalid(f.where() + ": " + what + " does not hold PEM data (-----BEGIN ...)");
  }
  return pem;
}

// Sets the server and trust settings; `exec_cluster_config` gets the cluster's exec extension.
Status ApplyCluster(const std::string& name, const Entry& entry, RestConfig& config,
                    std::string& exec_cluster_config) {
  Fields f(entry.body, "cluster " + Quoted(name) + " in " + entry.file->path);
  config.server = f.String("server");
  config.insecure_skip_tls_verify = f.Bool("insecure-skip-tls-verify");
  config.tls_server_name = f.String("tls-server-name");
  bool proxy = !f.String("proxy-url").empty();
  YAML::Node extensions = f.Node("extensions");
  if (!f.status().ok()) return f.status();
  if (proxy) {
    // The URL itself is not shown: proxy URLs can carry credentials.
    return Invalid(f.where() +
                   ": proxy-url is not supported by flywheel; remove it to connect to " +
                   "the server directly");
  }
  Result<std::string> ca =
      ReadPemField(f, *entry.file, "certificate-authority", "certificate-authority-data");
  if (!ca.ok()) return ca.status();
  config.ca_pem = std::move(*ca);
  if (config.insecure_skip_tls_verify && !config.ca_pem.empty()) {
    return Invalid(f.where() + ": insecure-skip-tls-verify is set together with a certificate " +
                   "authority; keep one");
  }
  if (config.server.empty()) return Invalid(f.where() + " has no server");
  if (Present(extensions)) {
    if (!extensions.IsSequence()) {
      return Invalid(f.where() + ": extensions must be a list (" + LineOf(extensions) + ")");
    }
    for (const auto& ext : extensions) {
      if (ext.IsMap() && Present(ext["name"]) && ext["name"].IsScalar() &&
          ext["name"].Scalar() == kExecExtension) {
        exec_cluster_config = YamlToJson(ext["extension"]).dump();
      }
    }
  }
  return Status::Ok();
}

Result<ExecConfig> ParseExec(const Fields& user, const SourceFile& file) {
  Fields f(user.Node("exec"), user.where() + ": exec");
  ExecConfig exec;
  exec.api_version = f.String("apiVersion");
  exec.command = f.String("command");
  exec.args = f.StringList("args");
  exec.install_hint = f.String("installHint");
  exec.provide_cluster_info = f.Bool("provideClusterInfo");
  std::string mode = f.String("interactiveMode");
  YAML::Node env = f.Node("env");
  if (Present(env) && !env.IsSequence()) {
    f.Fail("env must be a list of {name, value} (" + LineOf(env) + ")");
  } else if (Present(env)) {
    for (size_t i = 0; i < env.size(); ++i) {
      Fields var(env[i], f.where() + ": env[" + std::to_string(i) + "]");
      std::string name = var.String("name");
      std::string value = var.String("value");
      if (var.status().ok() && name.empty()) var.Fail("has no name");
      if (!var.status().ok()) return var.status();
      exec.env.emplace_back(std::move(name), std::move(value));
    }
  }
  if (!f.status().ok()) return f.status();
  if (exec.api_version.empty()) return Invalid(f.where() + ": apiVersion is missing");
  if (exec.api_version != kExecApiV1 && exec.api_version != kExecApiV1Beta1) {
    return Invalid(f.where() + ": apiVersion " + Quoted(exec.api_version) +
                   " is not supported (use " + kExecApiV1 + " or " + kExecApiV1Beta1 + ")");
  }
  if (exec.command.empty()) return Invalid(f.where() + ": command is missing");
  // A command with a '/' is a path (relative to the kubeconfig); a bare name is looked up in PATH.
  if (exec.command.find('/') != std::string::npos) {
    exec.command = ResolvePath(file, exec.command);
  }
  if (mode.empty()) {
    if (exec.api_version == kExecApiV1) {
      return Invalid(f.where() + ": interactiveMode is required with " + kExecApiV1 +
                     " (Never or IfAvailable)");
    }
    mode = "IfAvailable";
  }
  if (mode == "Always") {
    return Invalid(f.where() + ": interactiveMode Always needs a terminal, which flywheel never " +
                   "gives a plugin; use Never or IfAvailable");
  }
  if (mode != "Never" && mode != "IfAvailable") {
    return Invalid(f.where() + ": interactiveMode " + Quoted(mode) +
                   " is not one of Never, IfAvailable, Always");
  }
  exec.interactive_mode = mode;
  return exec;
}

Status ApplyUser(const std::string& name, const Entry& entry, RestConfig& config) {
  Fields f(entry.body, "user " + Quoted(name) + " in " + entry.file->path);
  const SourceFile& file = *entry.file;
  config.bearer_token = f.String("token");
  std::string token_file = f.String("tokenFile");
  config.username = f.String("username");
  config.password = f.String("password");
  config.impersonate_user = f.String("as");
  config.impersonate_uid = f.String("as-uid");
  config.impersonate_groups = f.StringList("as-groups");
  YAML::Node extra = f.Node("as-user-extra");
  if (Present(extra)) {
    Fields extra_fields(extra, f.where() + ": as-user-extra");
    for (const auto& kv : extra.IsMap() ? extra : YAML::Node()) {
      std::string key = kv.first.Scalar();
      config.impersonate_extra[key] = extra_fields.StringList(key.c_str());
    }
    if (!extra_fields.status().ok()) return extra_fields.status();
  }
  if (!f.status().ok()) return f.status();
  if (f.Has("auth-provider")) {
    Fields provider(f.Node("auth-provider"), f.where() + ": auth-provider");
    std::string provider_name = provider.String("name");
    return Invalid(f.where() + ": auth-provider" +
                   (provider_name.empty() ? "" : " " + Quoted(provider_name)) +
                   " is not supported by flywheel (client-go removed it too); use an exec " +
                   "credential plugin instead, e.g. kubelogin or gke-gcloud-auth-plugin");
  }
  bool has_token = !config.bearer_token.empty() || !token_file.empty();
  bool has_basic = !config.username.empty() || !config.password.empty();
  if (has_token && has_basic) {
    return Invalid(f.where() + ": more than one authentication method (token and " +
                   "username/password); only one is allowed");
  }
  if ((!config.impersonate_groups.empty() || !config.impersonate_extra.empty() ||
       !config.impersonate_uid.empty()) &&
      config.impersonate_user.empty()) {
    return Invalid(f.where() + ": as-groups, as-uid or as-user-extra is set without as (the user " +
                   "to impersonate)");
  }
  Result<std::string> cert = ReadPemField(f, file, "client-certificate", "client-certificate-data");
  if (!cert.ok()) return cert.status();
  Result<std::string> key = ReadPemField(f, file, "client-key", "client-key-data");
  if (!key.ok()) return key.status();
  if (!cert->empty() && key->empty()) {
    return Invalid(f.where() + ": client-certificate is set without client-key or " +
                   "client-key-data");
  }
  if (cert->empty() && !key->empty()) {
    return Invalid(f.where() + ": client-key is set without client-certificate or " +
                   "client-certificate-data");
  }
  config.client_cert_pem = std::move(*cert);
  config.client_key_pem = std::move(*key);
  if (!token_file.empty()) {
    config.token_file = ResolvePath(file, token_file);
    // As in clientcmd, a `token` wins at load time; the file is still re-read for rotation.
    if (config.bearer_token.empty()) {
      Result<std::string> text = internal::ReadFileText(config.token_file);
      if (!text.ok()) {
        return Invalid(f.where() + ": tokenFile: " + text.status().message());
      }
      config.bearer_token = internal::TrimSpace(*text);
      if (config.bearer_token.empty()) {
        return Invalid(f.where() + ": tokenFile " + config.token_file + " is empty");
      }
    }
  }
  if (f.Has("exec")) {
    Result<ExecConfig> exec = ParseExec(f, file);
    if (!exec.ok()) return exec.status();
    // client-go only runs the plugin when the user has no other credentials.
    bool has_static = has_token || has_basic || !config.client_cert_pem.empty();
    if (!has_static) config.exec = std::move(*exec);
  }
  return Status::Ok();
}

// Checks the server URL and puts it in canonical form: scheme://host[:port][/path]. Without a
// scheme, https is assumed when TLS settings are present and http otherwise (client-go's rule).
Result<std::string> NormalizeServer(const std::string& where, std::string server, bool has_tls) {
  size_t scheme_end = server.find("://");
  if (scheme_end == std::string::npos) {
    server = (has_tls ? "https://" : "http://") + server;
    scheme_end = server.find("://");
  }
  std::string scheme = server.substr(0, scheme_end);
  for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string rest = server.substr(scheme_end + 3);
  rest = rest.substr(0, rest.find_first_of("?#"));
  size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  std::string path = slash == std::string::npos ? "" : rest.substr(slash);
  while (!path.empty() && path.back() == '/') path.pop_back();
  if (authority.find('@') != std::string::npos) {
    return Invalid(where + ": server must not contain credentials (user:password@)");
  }
  auto bad = [&](const std::string& why) {
    return Invalid(where + ": server " + Quoted(server) + " is not valid: " + why);
  };
  if (scheme != "https" && scheme != "http") return bad("the scheme must be https or http");
  std::string host = authority, port;
  if (!authority.empty() && authority[0] == '[') {
    size_t close = authority.find(']');
    if (close == std::string::npos) return bad("unclosed '[' in the host");
    host = authority.substr(0, close + 1);
    std::string after = authority.substr(close + 1);
    if (!after.empty() && after[0] != ':') return bad("unexpected text after ']'");
    if (!after.empty()) port = after.substr(1);
  } else if (size_t colon = authority.find(':'); colon != std::string::npos) {
    if (authority.find(':', colon + 1) != std::string::npos) {
      return bad("an IPv6 address must be in brackets, e.g. https://[::1]:6443");
    }
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty() || host == "[]") return bad("the host is missing");
  if (authority.back() == ':') return bad("the port is empty");
  if (!port.empty()) {
    int value = 0;
    auto r = std::from_chars(port.data(), port.data() + port.size(), value);
    if (r.ec != std::errc() || r.ptr != port.data() + port.size() || value < 1 || value > 65535) {
      return bad("the port must be a number from 1 to 65535");
    }
  }
  return scheme + "://" + authority + path;
}

Result<RestConfig> Resolve(const Merged& merged, const LoadOptions& options) {
  const std::string files = merged.FileList();
  const std::string context_name =
      options.context.empty() ? merged.current_context : options.context;
  if (context_name.empty()) {
    return Invalid("no context: " + files + " sets no current-context and no --context was " +
                   "given (contexts: " + Names(merged.contexts) + ")");
  }
  auto context_it = merged.contexts.find(context_name);
  if (context_it == merged.contexts.end()) {
    return Invalid("context " + Quoted(context_name) + " not found in " + files +
                   " (contexts: " + Names(merged.contexts) + ")");
  }
  const Entry& context = context_it->second;
  Fields f(context.body, "context " + Quoted(context_name) + " in " + context.file->path);
  std::string cluster_name = f.String("cluster");
  std::string user_name = f.String("user");
  std::string namespace_name = f.String("namespace");
  if (!f.status().ok()) return f.status();
  if (cluster_name.empty()) return Invalid(f.where() + " names no cluster");
  auto cluster_it = merged.clusters.find(cluster_name);
  if (cluster_it == merged.clusters.end()) {
    return Invalid(f.where() + ": cluster " + Quoted(cluster_name) + " not found in " + files +
                   " (clusters: " + Names(merged.clusters) + ")");
  }
  RestConfig config;
  std::string exec_cluster_config;
  if (Status s = ApplyCluster(cluster_name, cluster_it->second, config, exec_cluster_config);
      !s.ok()) {
    return s;
  }
  // A context without a user is anonymous, as in kubectl.
  if (!user_name.empty()) {
    auto user_it = merged.users.find(user_name);
    if (user_it == merged.users.end()) {
      return Invalid(f.where() + ": user " + Quoted(user_name) + " not found in " + files +
                     " (users: " + Names(merged.users) + ")");
    }
    if (Status s = ApplyUser(user_name, user_it->second, config); !s.ok()) return s;
  }
  if (config.exec) config.exec->cluster_config_json = std::move(exec_cluster_config);
  bool has_tls = !config.ca_pem.empty() || config.insecure_skip_tls_verify ||
                 !config.client_cert_pem.empty() || !config.tls_server_name.empty();
  Result<std::string> server =
      NormalizeServer("cluster " + Quoted(cluster_name) + " in " + cluster_it->second.file->path,
                      config.server, has_tls);
  if (!server.ok()) return server.status();
  config.server = std::move(*server);
  config.namespace_name = !options.namespace_override.empty() ? options.namespace_override
                          : !namespace_name.empty()           ? namespace_name
                                                              : "default";
  config.source = f.where();
  return config;
}

std::string HomeDir(const EnvLookup& env) {
  if (std::optional<std::string> home = env("HOME"); home && !home->empty()) return *home;
  // As controller-runtime does when HOME is unset: the user database.
  long size = sysconf(_SC_GETPW_R_SIZE_MAX);
  std::vector<char> buf(size > 0 ? static_cast<size_t>(size) : 16384);
  passwd pw{};
  passwd* result = nullptr;
  if (getpwuid_r(getuid(), &pw, buf.data(), buf.size(), &result) == 0 && result != nullptr) {
    return result->pw_dir;
  }
  return "";
}

// Splits KUBECONFIG on ':' into distinct, non-empty paths, keeping their order.
std::vector<std::string> SplitPathList(const std::string& list) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  size_t start = 0;
  while (start <= list.size()) {
    size_t end = list.find(':', start);
    if (end == std::string::npos) end = list.size();
    std::string item = list.substr(start, end - start);
    if (!item.empty() && seen.insert(item).second) out.push_back(item);
    start = end + 1;
  }
  return out;
}

}  // namespace

Result<RestConfig> LoadKubeconfig(const LoadOptions& options) {
  EnvLookup env = internal::EnvOrProcess(options.env);
  std::vector<std::string> paths;
  if (!options.kubeconfig.empty()) {
    paths.push_back(options.kubeconfig);
  } else if (std::optional<std::string> list = env("KUBECONFIG"); list && !list->empty()) {
    for (const std::string& path : SplitPathList(*list)) {
      std::error_code ec;
      if (!fs::exists(path, ec) && !ec) continue;  // missing files in KUBECONFIG are skipped
      paths.push_back(path);
    }
    if (paths.empty()) {
      return Status(Code::kNotFound, "no kubeconfig: none of the files in KUBECONFIG exist (" +
                                         Join(SplitPathList(*list)) + ")");
    }
  } else {
    std::string home = HomeDir(env);
    std::string path = home.empty() ? "" : (fs::path(home) / ".kube" / "config").string();
    std::error_code ec;
    if (path.empty() || (!fs::exists(path, ec) && !ec)) {
      return Status(Code::kNotFound,
                    "no kubeconfig: --kubeconfig and KUBECONFIG are not set and " +
                        (path.empty() ? std::string("the home directory is unknown")
                                      : path + " does not exist"));
    }
    paths.push_back(path);
  }

  Merged merged;
  try {
    for (const std::string& path : paths) {
      Result<std::string> text = internal::ReadFileText(path);
      if (!text.ok()) {
        const bool flag = !options.kubeconfig.empty();
        return Status(text.status().code(),
                      (flag ? "--kubeconfig: " : "kubeconfig: ") + text.status().message());
      }
      if (Status s = MergeFile(path, *text, merged); !s.ok()) return s;
    }
    return Resolve(merged, options);
  } catch (const YAML::Exception& e) {
    // The checks above should leave yaml-cpp nothing to throw about; never let it escape.
    return Invalid("kubeconfig " + Join(paths) + ": " + e.msg + " at line " +
                   std::to_string(e.mark.line + 1));
  }
}

}  // namespace flywheel::kube
