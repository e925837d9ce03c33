#include "real_node.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <cctype>
#include <deque>
#include <fstream>
#include <sstream>

namespace flywheel::testing {
namespace {

// KEY=VALUE lines of $FLYWHEEL_TESTENV_DIR/env.
std::map<std::string, std::string> ReadEnvFile(const std::string& path) {
  std::map<std::string, std::string> vars;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    auto eq = line.find('=');
    if (eq != std::string::npos) vars[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return vars;
}

// The last `lines` lines of a file.
std::string Tail(const std::string& path, size_t lines) {
  std::ifstream in(path);
  if (!in) return "(no " + path + ")\n";
  std::deque<std::string> last;
  std::string line;
  while (std::getline(in, line)) {
    last.push_back(line);
    if (last.size() > lines) last.pop_front();
  }
  std::string out;
  for (const auto& l : last) out += "  " + l + "\n";
  return out;
}

// "running (pid N)" or why not ("exited", "not started"), from the PID file up.sh wrote.
std::string ProcessState(const std::string& pid_file) {
  std::ifstream in(pid_file);
  int pid = 0;
  if (!(in >> pid)) return "not started (no " + pid_file + ")";
  // A killed process stays a zombie until its parent (whoever adopted it) reaps it.
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string fields;
  std::getline(stat, fields);
  auto paren = fields.rfind(')');
  if (kill(pid, 0) != 0 || paren == std::string::npos || fields.compare(paren, 3, ") Z") == 0) {
    return "exited (was pid " + std::to_string(pid) + ")";
  }
  return "running (pid " + std::to_string(pid) + ")";
}

}  // namespace

const RealNode* RealNode::Get(const TestEnv& env, std::string* why) {
  static const RealNode node = [&env] {
    RealNode n;
    n.env_ = &env;
    auto vars = ReadEnvFile(env.dir() + "/env");
    n.name_ = vars["FLYWHEEL_TESTENV_REAL_NODE"];
    n.registry_ = vars["FLYWHEEL_TESTENV_REGISTRY"];
    n.gateway_ = vars["FLYWHEEL_TESTENV_REAL_NODE_GATEWAY"];
    n.pod_registry_ = vars["FLYWHEEL_TESTENV_POD_REGISTRY"];
    n.operator_kustomization_ = vars["FLYWHEEL_TESTENV_OPERATOR"];
    // key=value:Effect
    const std::string taint = vars["FLYWHEEL_TESTENV_REAL_NODE_TAINT"];
    n.taint_key_ = taint.substr(0, taint.find('='));
    n.taint_value_ =
        taint.substr(n.taint_key_.size() + 1, taint.find(':') - n.taint_key_.size() - 1);
    const std::string prefix = "FLYWHEEL_TESTENV_IMAGE_";
    for (const auto& [key, value] : vars) {
      if (key.rfind(prefix, 0) != 0) continue;
      std::string name = key.substr(prefix.size());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      n.images_[name] = value;
    }
    return n;
  }();
  if (node.name_.empty()) {
    *why = "the testenv in " + env.dir() +
           " has no real node (FLYWHEEL_TESTENV_REAL_NODE is empty in its env file: started with "
           "FLYWHEEL_TESTENV_REAL_NODE=0, or by an up.sh without one); restart it with "
           "`make testenv-down testenv-up`";
    return nullptr;
  }
  for (const char* name : {"kubelet", "containerd"}) {
    if (ProcessState(env.dir() + "/pids/" + name + ".pid").rfind("running", 0) != 0) {
      *why = "the real node " + node.name_ + " is down: " + name + " does not run\n" +
             node.Diagnostics();
      return nullptr;
    }
  }
  auto r = env.Kubectl({"get", "node", node.name_, "-o",
                        "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}"});
  if (r.exit_code != 0 || r.out != "True") {
    *why = "the real node " + node.name_ + " is not Ready (" + r.out + r.err + ")\n" +
           node.Diagnostics();
    return nullptr;
  }
  return &node;
}

std::string RealNode::OperatorKustomization() const {
  if (operator_kustomization_.empty()) {
    ADD_FAILURE() << "the testenv in " << env_->dir()
                  << " has no operator kustomization (FLYWHEEL_TESTENV_OPERATOR is empty in its "
                     "env file: no flywheel image was built); `make build`, then `make "
                     "testenv-down testenv-up`";
  }
  return operator_kustomization_;
}

std::string RealNode::Image(const std::string& name) const {
  auto it = images_.find(name);
  if (it == images_.end()) {
    ADD_FAILURE() << "the testenv has no image '" << name << "' (FLYWHEEL_TESTENV_IMAGE_* in "
                  << env_->dir() << "/env)";
    return "";
  }
  return it->second;
}

std::string RealNode::Placement(int indent) const {
  const std::string pad(indent, ' ');
  std::ostringstream out;
  out << pad << "nodeSelector: {kubernetes.io/hostname: " << name_ << "}\n"
      << pad << "tolerations: [{key: " << taint_key_ << ", operator: Equal, value: " << taint_value_
      << ", effect: NoSchedule}]\n";
  return out.str();
}

std::string RealNode::Diagnostics() const {
  std::string out;
  for (const char* name : {"kubelet", "containerd"}) {
    out += std::string(name) + ": " + ProcessState(env_->dir() + "/pids/" + name + ".pid") +
           "; last lines of its log:\n" + Tail(env_->dir() + "/logs/" + name + ".log", 15);
  }
  return out;
}

// A Deployment on the real node serving busybox's /www with httpd on port 8080, Ready when GET
// `probe_path` answers 2xx.
std::string WebDeployment(const RealNode& node, const std::string& name, int replicas,
                          const std::string& probe_path, const std::string& image) {
  return "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: " + name +
         "}\n"
         "spec:\n"
         "  replicas: " +
         std::to_string(replicas) +
         "\n"
         "  selector: {matchLabels: {app: " +
         name +
         "}}\n"
         "  template:\n"
         "    metadata: {labels: {app: " +
         name +
         "}}\n"
         "    spec:\n"
         "      terminationGracePeriodSeconds: 1\n" +
         node.Placement(6) +
         "      containers:\n"
         "      - name: web\n"
         "        image: " +
         (image.empty() ? node.Image("busybox") : image) +
         "\n"
         "        command: [httpd, -f, -p, '8080', -h, /www]\n"
         "        readinessProbe: {httpGet: {path: " +
         probe_path + ", port: 8080}, periodSeconds: 1}\n";
}

}  // namespace flywheel::testing
