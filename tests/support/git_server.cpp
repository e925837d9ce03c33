#include "git_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <sstream>
#include <stdexcept>

#include "net.h"

namespace flywheel::testing {
namespace {

namespace fs = std::filesystem;

constexpr char kHttpBackend[] = "/usr/lib/git-core/git-http-backend";
// Readiness polling: at most kReadyAttempts tries, kReadyPollMs apart (10 s in all).
constexpr int kReadyAttempts = 200;
constexpr int kReadyPollMs = 50;
// A free port can be taken by someone else before the server binds it: try a few.
constexpr int kStartAttempts = 3;
// Stopping: at most kStopAttempts polls, kReadyPollMs apart, for open connections to finish.
constexpr int kStopAttempts = 40;

// The full path of an executable `name` found in PATH or the sbin directories ("" if none).
std::string FindProgram(const std::string& name) {
  if (name.find('/') != std::string::npos) return access(name.c_str(), X_OK) == 0 ? name : "";
  const char* path = std::getenv("PATH");
  std::stringstream dirs(std::string(path != nullptr ? path : "") + ":/usr/sbin:/sbin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) continue;
    std::string full = dir + "/" + name;
    if (access(full.c_str(), X_OK) == 0) return full;
  }
  return "";
}

std::string Program(const std::string& name) {
  std::string full = FindProgram(name);
  if (full.empty()) throw std::runtime_error(name + " is not installed (see hack/deps.sh)");
  return full;
}

std::string MakeTempDir(const std::string& prefix) {
  std::string pattern = (fs::temp_directory_path() / (prefix + "-XXXXXX")).string();
  if (mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("mkdtemp " + pattern + ": " + std::strerror(errno));
  }
  return pattern;
}

void RemoveDir(const std::string& dir) {
  std::error_code ec;
  if (!dir.empty()) fs::remove_all(dir, ec);
}

void WriteFile(const std::string& path, const std::string& content) {
  fs::path p(path);
  if (p.has_parent_path()) fs::create_directories(p.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  if (!out.flush()) throw std::runtime_error("cannot write " + path);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string Join(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) out += (out.empty() ? "" : " ") + a;
  return out;
}

// Runs a program and returns its stdout; throws with its output when it fails.
std::string Run(const std::vector<std::string>& argv, const std::string& input = "") {
  ProcessResult r = RunProcess(argv, input);
  if (r.exit_code != 0) {
    throw std::runtime_error("`" + Join(argv) + "` exited " + std::to_string(r.exit_code) + ":\n" +
                             r.err + r.out);
  }
  return r.out;
}

std::string TrimNewline(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

// Whether something accepts connections at `addr`.
bool CanConnect(int family, const sockaddr* addr, socklen_t len) {
  int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  bool ok = connect(fd, addr, len) == 0;
  close(fd);
  return ok;
}

// Whether something accepts TCP connections on `port` of the IPv4 `address`.
bool TcpAccepts(int port, const std::string& address = "127.0.0.1") {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  if (inet_pton(AF_INET, address.c_str(), &addr.sin_addr) != 1) return false;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  return CanConnect(AF_INET, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
}

bool UnixAccepts(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path)
    throw std::runtime_error("socket path too long: " + path);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return CanConnect(AF_UNIX, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
}

// Polls `ready` until it holds while `process` runs. Throws with the process's log when it
// exits or does not get ready in time.
void WaitReady(BackgroundProcess& process, const std::string& what,
               const std::function<bool()>& ready) {
  for (int attempt = 0; attempt < kReadyAttempts; ++attempt) {
    if (!process.Running()) {
      throw std::runtime_error(what + " exited before it was ready:\n" + process.Log());
    }
    if (ready()) return;
    usleep(kReadyPollMs * 1000);
  }
  throw std::runtime_error(what + " was not ready after " +
                           std::to_string(kReadyAttempts * kReadyPollMs) + " ms:\n" +
                           process.Log());
}

// The processes whose parent is `pid` (zombies included), from /proc.
std::vector<int> Children(int pid) {
  std::vector<int> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string stat;
    try {  // a process that exits while it is read fails the read (ESRCH): skip it
      std::ifstream in(entry.path() / "stat");
      stat.assign(std::istreambuf_iterator<char>(in), {});
    } catch (const std::ios_base::failure&) {
      continue;
    }
    auto paren = stat.rfind(')');  // after "pid (comm)": " state ppid ..."
    if (paren == std::string::npos) continue;
    std::stringstream fields(stat.substr(paren + 1));
    char state = 0;
    int ppid = 0;
    if (fields >> state >> ppid && ppid == pid) out.push_back(std::stoi(name));
  }
  return out;
}

void KillDescendants(int pid) {
  for (int child : Children(pid)) {
    KillDescendants(child);
    kill(child, SIGKILL);
  }
}

// Stops a server. It first gets a bounded time to finish the connections it still serves, so
// their processes exit and are reaped by it rather than orphaned; then it and whatever it still
// runs are killed.
void Stop(std::unique_ptr<BackgroundProcess>& server) {
  if (server == nullptr) return;
  for (int attempt = 0; attempt < kStopAttempts && server->Running(); ++attempt) {
    if (Children(server->pid()).empty()) break;
    usleep(kReadyPollMs * 1000);
  }
  if (server->Running()) KillDescendants(server->pid());
  server.reset();
}

// Starts a server on a free port: `start(port)` spawns it, then this waits until the port
// accepts connections. Retries on another port when the server exits (e.g. the port was taken
// in the meantime); returns the port. `address` is where it listens.
int StartOnFreePort(const std::string& what, std::unique_ptr<BackgroundProcess>& process,
                    const std::function<std::unique_ptr<BackgroundProcess>(int port)>& start,
                    const std::string& address = "127.0.0.1") {
  std::string last_error;
  for (int attempt = 0; attempt < kStartAttempts; ++attempt) {
    int port = FreePort();
    process = start(port);
    try {
      WaitReady(*process, what, [port, &address] { return TcpAccepts(port, address); });
      return port;
    } catch (const std::runtime_error& e) {
      last_error = e.what();
      Stop(process);
    }
  }
  throw std::runtime_error(last_error);
}

// Runs `git args...` with a fixed identity and no signing; returns stdout, throws on failure.
std::string Git(const std::string& dir, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"git",
                                   "-C",
                                   dir,
                                   "-c",
                                   "user.name=Test",
                                   "-c",
                                   "user.email=test@example.com",
                                   "-c",
                                   "commit.gpgSign=false",
                                   "-c",
                                   "tag.gpgSign=false"};
  argv.insert(argv.end(), args.begin(), args.end());
  return Run(argv);
}

bool GitSucceeds(const std::string& dir, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"git", "-C", dir};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunProcess(argv).exit_code == 0;
}

std::string CurrentUser() {
  passwd* pw = getpwuid(getuid());
  if (pw == nullptr) throw std::runtime_error("the current user has no passwd entry");
  return pw->pw_name;
}

}  // namespace

// --- GitRepo ---------------------------------------------------------------------------------

GitRepo::GitRepo(const std::string& dir, const std::string& name) {
  fs::create_directories(dir);
  bare_ = (fs::absolute(dir) / (name + ".git")).lexically_normal().string();
  Run({"git", "init", "-q", "--bare", "-b", "main", bare_});
  Git(bare_, {"config", "http.receivepack", "true"});
  work_ = MakeTempDir("flywheel-gitwork");
  try {
    Git(work_, {"init", "-q", "-b", "main"});
    Git(work_, {"remote", "add", "origin", bare_});
  } catch (...) {
    RemoveDir(work_);
    throw;
  }
}

GitRepo::~GitRepo() { RemoveDir(work_); }

namespace {

// Puts the work tree on `branch` at the bare repository's head of it; a new branch starts from
// main, or empty when main does not exist yet either.
void CheckoutFresh(const std::string& work, const std::string& branch) {
  Git(work, {"fetch", "-q", "--prune", "--force", "origin"});
  const std::string remote = "refs/remotes/origin/" + branch;
  if (GitSucceeds(work, {"rev-parse", "-q", "--verify", remote})) {
    Git(work, {"checkout", "-q", "-f", "-B", branch, remote});
  } else if (GitSucceeds(work, {"rev-parse", "-q", "--verify", "refs/remotes/origin/main"})) {
    Git(work, {"checkout", "-q", "-f", "-B", branch, "refs/remotes/origin/main"});
  } else {
    if (GitSucceeds(work, {"rev-parse", "-q", "--verify", "HEAD"})) {
      Git(work, {"checkout", "-q", "-f", "--orphan", branch});
      Git(work, {"rm", "-q", "-r", "-f", "--ignore-unmatch", "."});
    } else {
      Git(work, {"symbolic-ref", "HEAD", "refs/heads/" + branch});
    }
  }
  Git(work, {"clean", "-q", "-f", "-d", "-x"});
}

// Commits everything staged in the work tree and pushes it to `branch`; returns the SHA.
std::string CommitAndPush(const std::string& work, const std::string& branch,
                          const std::string& message) {
  Git(work, {"commit", "-q", "--allow-empty", "-m", message});
  Git(work, {"push", "-q", "origin", "HEAD:refs/heads/" + branch});
  return TrimNewline(Git(work, {"rev-parse", "HEAD"}));
}

}  // namespace

std::string GitRepo::Commit(const std::map<std::string, std::string>& files,
                            const std::string& message, const std::string& branch) {
  CheckoutFresh(work_, branch);
  for (const auto& [path, content] : files) WriteFile(work_ + "/" + path, content);
  Git(work_, {"add", "-A"});
  return CommitAndPush(work_, branch, message);
}

std::string GitRepo::Remove(const std::vector<std::string>& paths, const std::string& message,
                            const std::string& branch) {
  CheckoutFresh(work_, branch);
  std::vector<std::string> args = {"rm", "-q", "-r", "--"};
  args.insert(args.end(), paths.begin(), paths.end());
  Git(work_, args);
  return CommitAndPush(work_, branch, message);
}

void GitRepo::Tag(const std::string& name, const std::string& sha) {
  Git(work_, {"fetch", "-q", "--force", "origin"});
  Git(work_, {"tag", "-f", name, sha});
  Git(work_, {"push", "-q", "--force", "origin", "refs/tags/" + name});
}

std::vector<std::pair<std::string, std::string>> GitRepo::Log(const std::string& branch) {
  std::vector<std::pair<std::string, std::string>> out;
  if (Head(branch).empty()) return out;
  std::stringstream lines(Git(bare_, {"log", "--format=%H %s", "refs/heads/" + branch, "--"}));
  std::string line;
  while (std::getline(lines, line)) {
    auto space = line.find(' ');
    out.emplace_back(line.substr(0, space),
                     space == std::string::npos ? "" : line.substr(space + 1));
  }
  return out;
}

std::string GitRepo::Show(const std::string& path, const std::string& branch) {
  const std::string object = "refs/heads/" + branch + ":" + path;
  if (!GitSucceeds(bare_, {"cat-file", "-e", object})) return "";
  return Git(bare_, {"cat-file", "blob", object});
}

std::string GitRepo::Head(const std::string& branch) {
  const std::string ref = "refs/heads/" + branch;
  if (!GitSucceeds(bare_, {"rev-parse", "-q", "--verify", ref})) return "";
  return TrimNewline(Git(bare_, {"rev-parse", ref}));
}

// --- GitDaemon -------------------------------------------------------------------------------

GitDaemon::GitDaemon(const std::string& base_dir, const std::string& address) : address_(address) {
  const std::string base = fs::absolute(base_dir).lexically_normal().string();
  // git-daemon itself, not `git daemon`: the `git` wrapper runs it as a child that would
  // outlive a kill of the wrapper.
  const std::string daemon = TrimNewline(Run({Program("git"), "--exec-path"})) + "/git-daemon";
  tmp_ = MakeTempDir("flywheel-gitdaemon");
  try {
    port_ = StartOnFreePort(
        "git daemon", process_,
        [&](int port) {
          return std::make_unique<BackgroundProcess>(
              std::vector<std::string>{daemon, "--reuseaddr", "--verbose", "--informative-errors",
                                       "--export-all", "--base-path=" + base,
                                       "--listen=" + address_, "--port=" + std::to_string(port),
                                       base},
              tmp_ + "/daemon.log");
        },
        address_);
  } catch (...) {
    RemoveDir(tmp_);
    throw;
  }
}

GitDaemon::~GitDaemon() {
  Stop(process_);
  RemoveDir(tmp_);
}

std::string GitDaemon::Url(const std::string& repo_name) const {
  return "git://" + address_ + ":" + std::to_string(port_) + "/" + repo_name + ".git";
}

// --- GitHttpServer ---------------------------------------------------------------------------

namespace {

std::string NginxConf(const std::string& tmp, int port, const std::string& project_root,
                      const std::string& socket) {
  std::string conf = "daemon off;\nmaster_process off;\nworker_processes 1;\n";
  // nginx switches to `user` only with a master process; say root so it never tries nobody.
  if (getuid() == 0) conf += "user root;\n";
  conf += "pid " + tmp + "/nginx.pid;\nerror_log stderr info;\n";
  conf += "events { worker_connections 64; }\n";
  conf += "http {\n";
  conf += "  access_log " + tmp + "/access.log;\n";
  for (const char* kind : {"client_body", "proxy", "fastcgi", "uwsgi", "scgi"}) {
    conf += std::string("  ") + kind + "_temp_path " + tmp + "/" + kind + ";\n";
  }
  conf += "  client_max_body_size 0;\n";  // no limit: pushes of any size
  conf += "  server {\n";
  conf += "    listen 127.0.0.1:" + std::to_string(port) + ";\n";
  conf += "    location / {\n";
  conf += "      auth_basic \"git\";\n";
  conf += "      auth_basic_user_file " + tmp + "/htpasswd;\n";
  conf += "      fastcgi_pass unix:" + socket + ";\n";
  const std::vector<std::pair<std::string, std::string>> params = {
      {"SCRIPT_FILENAME", kHttpBackend},
      {"GIT_PROJECT_ROOT", project_root},
      {"GIT_HTTP_EXPORT_ALL", "1"},
      {"PATH_INFO", "$uri"},
      {"REMOTE_USER", "$remote_user"},
      {"REMOTE_ADDR", "$remote_addr"},
      {"QUERY_STRING", "$query_string"},
      {"REQUEST_METHOD", "$request_method"},
      {"CONTENT_TYPE", "$content_type"},
      {"CONTENT_LENGTH", "$content_length"},
      {"GATEWAY_INTERFACE", "CGI/1.1"},
      {"SERVER_PROTOCOL", "$server_protocol"},
      {"HTTP_GIT_PROTOCOL", "$http_git_protocol"},
  };
  for (const auto& [name, value] : params) {
    conf += "      fastcgi_param " + name + " \"" + value + "\";\n";
  }
  conf += "    }\n  }\n}\n";
  return conf;
}

}  // namespace

GitHttpServer::GitHttpServer(const std::string& base_dir, const std::string& user,
                             const std::string& password)
    : dir_(fs::absolute(base_dir).lexically_normal().string()) {
  const std::string nginx = Program("nginx");
  const std::string fcgiwrap = Program("fcgiwrap");
  tmp_ = MakeTempDir("flywheel-githttp");
  try {
    std::string hash =
        TrimNewline(Run({Program("openssl"), "passwd", "-apr1", "-stdin"}, password));
    WriteFile(tmp_ + "/htpasswd", user + ":" + hash + "\n");

    const std::string socket = tmp_ + "/fcgiwrap.sock";
    fcgiwrap_ = std::make_unique<BackgroundProcess>(
        std::vector<std::string>{fcgiwrap, "-s", "unix:" + socket}, tmp_ + "/fcgiwrap.log");
    WaitReady(*fcgiwrap_, "fcgiwrap", [&] { return UnixAccepts(socket); });

    port_ = StartOnFreePort("nginx", nginx_, [&](int port) {
      WriteFile(tmp_ + "/nginx.conf", NginxConf(tmp_, port, dir_, socket));
      return std::make_unique<BackgroundProcess>(
          std::vector<std::string>{nginx, "-e", "stderr", "-p", tmp_, "-c", tmp_ + "/nginx.conf"},
          tmp_ + "/nginx.log");
    });
  } catch (...) {
    Stop(nginx_);
    Stop(fcgiwrap_);
    RemoveDir(tmp_);
    throw;
  }
}

void GitHttpServer::Pause() { Stop(nginx_); }

void GitHttpServer::Resume() {
  nginx_ = std::make_unique<BackgroundProcess>(
      std::vector<std::string>{Program("nginx"), "-e", "stderr", "-p", tmp_, "-c",
                               tmp_ + "/nginx.conf"},
      tmp_ + "/nginx.log");
  WaitReady(*nginx_, "nginx", [this] { return TcpAccepts(port_); });
}

GitHttpServer::~GitHttpServer() {
  Stop(nginx_);
  Stop(fcgiwrap_);
  RemoveDir(tmp_);
}

std::string GitHttpServer::Url(const std::string& repo_name) const {
  return "http://127.0.0.1:" + std::to_string(port_) + "/" + repo_name + ".git";
}

// --- GitSshServer ----------------------------------------------------------------------------

GitSshServer::GitSshServer(const std::string& base_dir)
    : dir_(fs::absolute(base_dir).lexically_normal().string()), user_(CurrentUser()) {
  const std::string sshd = Program("/usr/sbin/sshd");
  const std::string keygen = Program("ssh-keygen");
  tmp_ = MakeTempDir("flywheel-gitssh");
  try {
    // The privilege separation directory sshd insists on when started as root.
    if (getuid() == 0) fs::create_directories("/run/sshd");
    Run({keygen, "-q", "-t", "ed25519", "-N", "", "-C", "flywheel-test-host", "-f",
         tmp_ + "/host_key"});
    Run({keygen, "-q", "-t", "ed25519", "-N", "", "-C", "flywheel-test-client", "-f",
         tmp_ + "/client_key"});
    client_key_ = ReadFile(tmp_ + "/client_key");
    WriteFile(tmp_ + "/authorized_keys", ReadFile(tmp_ + "/client_key.pub"));
    std::stringstream host_pub(ReadFile(tmp_ + "/host_key.pub"));
    std::string key_type, key_data;
    host_pub >> key_type >> key_data;

    port_ = StartOnFreePort("sshd", sshd_, [&](int port) {
      std::string conf;
      conf += "ListenAddress 127.0.0.1:" + std::to_string(port) + "\n";
      conf += "HostKey " + tmp_ + "/host_key\n";
      conf += "AuthorizedKeysFile " + tmp_ + "/authorized_keys\n";
      conf += "PidFile " + tmp_ + "/sshd.pid\n";
      conf += "AllowUsers " + user_ + "\n";
      conf +=
          "PermitRootLogin prohibit-password\nPubkeyAuthentication yes\n"
          "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
          "StrictModes no\nUseDNS no\nPrintMotd no\nPermitUserEnvironment no\n"
          "AllowTcpForwarding no\nX11Forwarding no\nMaxStartups 100\nLogLevel VERBOSE\n";
      WriteFile(tmp_ + "/sshd_config", conf);
      return std::make_unique<BackgroundProcess>(
          std::vector<std::string>{sshd, "-D", "-e", "-f", tmp_ + "/sshd_config"},
          tmp_ + "/sshd.log");
    });
    known_hosts_ = "[127.0.0.1]:" + std::to_string(port_) + " " + key_type + " " + key_data + "\n";
  } catch (...) {
    Stop(sshd_);
    RemoveDir(tmp_);
    throw;
  }
}

GitSshServer::~GitSshServer() {
  Stop(sshd_);
  RemoveDir(tmp_);
}

std::string GitSshServer::Url(const std::string& repo_name) const {
  return "ssh://" + user_ + "@127.0.0.1:" + std::to_string(port_) + dir_ + "/" + repo_name + ".git";
}

// --- Availability ----------------------------------------------------------------------------

bool GitServersAvailable(std::string* why) {
  std::vector<std::string> missing;
  for (const char* program : {"git", kHttpBackend, "nginx", "fcgiwrap", "/usr/sbin/sshd", "ssh",
                              "ssh-keygen", "openssl"}) {
    if (FindProgram(program).empty()) missing.push_back(program);
  }
  if (missing.empty()) return true;
  if (why != nullptr) {
    std::string list;
    for (const auto& m : missing) list += (list.empty() ? "" : ", ") + m;
    *why = "the test git servers need programs that are not installed: " + list +
           " (install them with hack/deps.sh)";
  }
  return false;
}

SilentServer::SilentServer() {
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::runtime_error("socket: " + std::string(std::strerror(errno)));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  // A long backlog: the kernel completes this many handshakes without an accept().
  if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || listen(fd_, 128) != 0 ||
      getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::string error = std::strerror(errno);
    close(fd_);
    throw std::runtime_error("silent server: " + error);
  }
  port_ = ntohs(addr.sin_port);
}

SilentServer::~SilentServer() { close(fd_); }

std::string SilentServer::GitUrl(const std::string& repo_name) const {
  return "git://127.0.0.1:" + std::to_string(port_) + "/" + repo_name + ".git";
}

std::string SilentServer::HttpUrl(const std::string& repo_name) const {
  return "http://127.0.0.1:" + std::to_string(port_) + "/" + repo_name + ".git";
}

}  // namespace flywheel::testing
