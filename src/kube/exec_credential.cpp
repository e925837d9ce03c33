// ExecCredentialProvider: the client.authentication.k8s.io exec plugin protocol.

#include "flywheel/kube/exec_credential.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <nlohmann/json.hpp>

#include "config_util.h"
#include "flywheel/common/base64.h"

extern char** environ;

namespace flywheel::kube {
namespace {

constexpr size_t kMaxStdout = 1 << 20;  // an ExecCredential is a few KiB at most
constexpr size_t kStderrKept = 4096;    // the tail kept for error messages
constexpr size_t kStderrShown = 1024;   // the tail shown in an error
constexpr const char* kExecInfoEnv = "KUBERNETES_EXEC_INFO";

// How one plugin run ended.
struct PluginRun {
  int exit_code = -1;  // when it exited
  int signal = 0;      // when a signal killed it
  bool timed_out = false;
  bool too_much_output = false;
  std::string out;
  std::string err;  // the last kStderrKept bytes
};

// Closes the file descriptors it holds when it goes out of scope.
class Fds {
 public:
  ~Fds() {
    for (int fd : fds_) {
      if (fd >= 0) close(fd);
    }
  }
  int& Add(int fd) { return fds_.emplace_back(fd); }
  void Close(int& fd) {
    if (fd >= 0) close(fd);
    fd = -1;
  }

 private:
  std::deque<int> fds_;  // a deque: Add() hands out references that stay valid
};

// Spawns `argv` (no shell) with `env`, stdin on /dev/null, in its own process group with default
// signal handling, and collects its output until it exits or `timeout` passes (then the whole
// group is killed). Errors are spawn failures: kNotFound (no such command), kPermissionDenied
// (not executable), kInternal, with strerror as the message.
Result<PluginRun> RunPlugin(const std::vector<std::string>& argv,
                            const std::vector<std::string>& env,
                            std::chrono::milliseconds timeout) {
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) {
    return Status(Code::kInternal, std::string("pipe: ") + std::strerror(errno));
  }
  Fds fds;
  int& out_read = fds.Add(out_pipe[0]);
  int& out_write = fds.Add(out_pipe[1]);
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    return Status(Code::kInternal, std::string("pipe: ") + std::strerror(errno));
  }
  int& err_read = fds.Add(err_pipe[0]);
  int& err_write = fds.Add(err_pipe[1]);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_write, 1);
  posix_spawn_file_actions_adddup2(&actions, err_write, 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  // The caller may block signals (e.g. a thread waiting for SIGTERM); the plugin must not inherit
  // that, nor ignored signals.
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
  std::vector<char*> cargv, cenv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  for (const auto& e : env) cenv.push_back(const_cast<char*>(e.c_str()));
  cenv.push_back(nullptr);
  pid_t pid = 0;
  const bool is_path = argv[0].find('/') != std::string::npos;
  int rc = is_path ? posix_spawn(&pid, cargv[0], &actions, &attr, cargv.data(), cenv.data())
                   : posix_spawnp(&pid, cargv[0], &actions, &attr, cargv.data(), cenv.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    Code code = rc == ENOENT || rc == ENOTDIR ? Code::kNotFound
                : rc == EACCES                ? Code::kPermissionDenied
                                              : Code::kInternal;
    return Status(code, std::strerror(rc));
  }
  fds.Close(out_write);
  fds.Close(err_write);

  PluginRun run;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[16384];
  while (out_read >= 0 || err_read >= 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      run.timed_out = true;
      break;
    }
    pollfd pfds[2] = {{out_read, POLLIN, 0}, {err_read, POLLIN, 0}};
    int n = poll(pfds, 2, static_cast<int>(std::min<long long>(left.count(), 1000)));
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < 2 && n > 0; ++i) {
      if (pfds[i].fd < 0 || pfds[i].revents == 0) continue;
      ssize_t got = read(pfds[i].fd, buf, sizeof buf);
      if (got <= 0) {
        if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        fds.Close(i == 0 ? out_read : err_read);
      } else if (i == 0) {
        run.out.append(buf, static_cast<size_t>(got));
      } else {
        run.err.append(buf, static_cast<size_t>(got));
        if (run.err.size() > kStderrKept) run.err.erase(0, run.err.size() - kStderrKept);
      }
    }
    if (run.out.size() > kMaxStdout) {
      run.too_much_output = true;
      break;
    }
  }
  if (run.timed_out || run.too_much_output) kill(-pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) run.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) run.signal = WTERMSIG(status);
  return run;
}

// The last lines of a plugin's stderr, for an error message.
std::string StderrTail(const std::string& err) {
  std::string tail = internal::TrimSpace(err);
  if (tail.size() > kStderrShown) tail = "..." + tail.substr(tail.size() - kStderrShown);
  return tail;
}

// The process environment with `overrides` (name, value) set on top, later ones winning.
std::vector<std::string> PluginEnvironment(
    const std::vector<std::pair<std::string, std::string>>& overrides) {
  auto overridden = [&](std::string_view entry, size_t from) {
    std::string_view name = entry.substr(0, entry.find('='));
    for (size_t i = from; i < overrides.size(); ++i) {
      if (overrides[i].first == name) return true;
    }
    return false;
  };
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    if (!overridden(*e, 0)) env.emplace_back(*e);
  }
  for (size_t i = 0; i < overrides.size(); ++i) {
    std::string entry = overrides[i].first + "=" + overrides[i].second;
    if (!overridden(entry, i + 1)) env.push_back(std::move(entry));
  }
  return env;
}

std::string Clip(std::string s) {
  constexpr size_t kMax = 80;
  if (s.size() > kMax) s = s.substr(0, kMax) + "...";
  return s;
}

// Decodes the plugin's stdout (an ExecCredential). Messages never quote the output: only
// apiVersion and kind, which are not secret.
Result<ExecCredential> ParseExecCredential(const std::string& out, const std::string& api_version,
                                           const std::string& who) {
  auto bad = [&](const std::string& why) {
    return Status(Code::kUnauthenticated, who + " " + why);
  };
  nlohmann::json doc = nlohmann::json::parse(out, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return bad("printed something that is not an ExecCredential JSON object");
  }
  auto string_field = [](const nlohmann::json& obj, const char* key) -> std::optional<std::string> {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return std::string();
    if (!it->is_string()) return std::nullopt;
    return it->get<std::string>();
  };
  std::optional<std::string> version = string_field(doc, "apiVersion");
  std::optional<std::string> kind = string_field(doc, "kind");
  if (!version || *version != api_version) {
    return bad("is configured to use API version " + api_version + ", plugin returned version \"" +
               Clip(version.value_or("")) + "\"");
  }
  if (!kind || *kind != "ExecCredential") {
    return bad("returned kind \"" + Clip(kind.value_or("")) + "\", want ExecCredential");
  }
  auto status = doc.find("status");
  if (status == doc.end() || !status->is_object()) return bad("didn't return a status field");
  ExecCredential cred;
  std::optional<std::string> token = string_field(*status, "token");
  std::optional<std::string> cert = string_field(*status, "clientCertificateData");
  std::optional<std::string> key = string_field(*status, "clientKeyData");
  std::optional<std::string> expiration = string_field(*status, "expirationTimestamp");
  if (!token || !cert || !key || !expiration) {
    return bad(
        "returned a status whose token, clientCertificateData, clientKeyData or "
        "expirationTimestamp is not a string");
  }
  cred.token = std::move(*token);
  cred.client_cert_pem = std::move(*cert);
  cred.client_key_pem = std::move(*key);
  if (cred.token.empty() && cred.client_cert_pem.empty() && cred.client_key_pem.empty()) {
    return bad("didn't return a token or cert/key pair");
  }
  if (cred.client_cert_pem.empty() != cred.client_key_pem.empty()) {
    return bad("returned only certificate or key, not both");
  }
  if (!cred.client_cert_pem.empty() && (!internal::LooksLikePem(cred.client_cert_pem) ||
                                        !internal::LooksLikePem(cred.client_key_pem))) {
    return bad("returned clientCertificateData or clientKeyData that is not PEM");
  }
  if (!expiration->empty()) {
    Result<Time> when = ParseRfc3339(*expiration);
    if (!when.ok())
      return bad("returned a bad status.expirationTimestamp: " + when.status().message());
    cred.expiration = *when;
  }
  return cred;
}

}  // namespace

ExecCredentialProvider::ExecCredentialProvider(const RestConfig& config, Clock& clock,
                                               std::chrono::milliseconds timeout)
    : exec_(config.exec.value_or(ExecConfig{})),
      server_(config.server),
      tls_server_name_(config.tls_server_name),
      insecure_skip_tls_verify_(config.insecure_skip_tls_verify),
      ca_pem_(config.ca_pem),
      clock_(clock),
      timeout_(timeout) {}

Result<ExecCredential> ExecCredentialProvider::Get() {
  std::lock_guard lock(mu_);
  if (cached_ && (!expires_at_ || clock_.Now() < *expires_at_)) return *cached_;
  Result<ExecCredential> cred = Run();
  if (!cred.ok()) return cred;
  cached_ = *cred;
  expires_at_.reset();
  if (cred->expiration) {
    // Track the expiry on our clock, so a wall-clock step does not stretch or cut it.
    expires_at_ = clock_.Now() + std::chrono::duration_cast<Clock::Duration>(
                                     *cred->expiration - std::chrono::system_clock::now());
  }
  return cred;
}

Result<std::string> ExecCredentialProvider::Token() {
  Result<ExecCredential> cred = Get();
  if (!cred.ok()) return cred.status();
  return std::move(cred->token);
}

void ExecCredentialProvider::Invalidate() {
  std::lock_guard lock(mu_);
  cached_.reset();
}

std::string ExecCredentialProvider::ExecInfoJson() const {
  nlohmann::json spec = {{"interactive", false}};
  if (exec_.provide_cluster_info) {
    nlohmann::json cluster = {{"server", server_}};
    if (!tls_server_name_.empty()) cluster["tls-server-name"] = tls_server_name_;
    if (insecure_skip_tls_verify_) cluster["insecure-skip-tls-verify"] = true;
    if (!ca_pem_.empty()) cluster["certificate-authority-data"] = Base64Encode(ca_pem_);
    if (!exec_.cluster_config_json.empty()) {
      cluster["config"] = nlohmann::json::parse(exec_.cluster_config_json, nullptr, false);
    }
    spec["cluster"] = std::move(cluster);
  }
  nlohmann::json info = {
      {"apiVersion", exec_.api_version}, {"kind", "ExecCredential"}, {"spec", std::move(spec)}};
  return info.dump();
}

Result<ExecCredential> ExecCredentialProvider::Run() {
  const std::string who = "exec plugin \"" + exec_.command + "\"";
  if (exec_.command.empty()) return Status(Code::kFailedPrecondition, "exec plugin: no command");
  std::vector<std::string> argv = {exec_.command};
  argv.insert(argv.end(), exec_.args.begin(), exec_.args.end());
  auto overrides = exec_.env;
  overrides.emplace_back(kExecInfoEnv, ExecInfoJson());
  Result<PluginRun> run = RunPlugin(argv, PluginEnvironment(overrides), timeout_);
  if (!run.ok()) {
    if (run.status().code() == Code::kNotFound) {
      std::string message = who + " not found: the client-go credential plugin is not installed";
      if (!exec_.install_hint.empty()) message += ". " + internal::TrimSpace(exec_.install_hint);
      return Status(Code::kFailedPrecondition, message);
    }
    if (run.status().code() == Code::kPermissionDenied) {
      return Status(Code::kFailedPrecondition, who + " cannot be run: permission denied");
    }
    return Status(Code::kInternal, who + " cannot be started: " + run.status().message());
  }
  if (run->timed_out) {
    return Status(Code::kDeadlineExceeded,
                  who + " did not finish within " + std::to_string(timeout_.count()) + "ms");
  }
  if (run->too_much_output) {
    return Status(Code::kUnauthenticated, who + " printed more than 1 MiB");
  }
  std::string tail = StderrTail(run->err);
  std::string with_stderr = tail.empty() ? "" : ": " + tail;
  if (run->signal != 0) {
    return Status(Code::kUnauthenticated,
                  who + " was killed by signal " + std::to_string(run->signal) + with_stderr);
  }
  if (run->exit_code != 0) {
    return Status(Code::kUnauthenticated,
                  who + " failed with exit code " + std::to_string(run->exit_code) + with_stderr);
  }
  return ParseExecCredential(run->out, exec_.api_version, who);
}

}  // namespace flywheel::kube
