#pragma once

#include <map>
#include <string>

#include "testenv.h"

namespace flywheel::testing {

// The testenv's real node (hack/testenv/node.sh: containerd + runc + kubelet), the local registry
// and the images built for it (hack/images/build.sh), as `up.sh` wrote them to
// $FLYWHEEL_TESTENV_DIR/env. The node is tainted so that only pods placed with Placement() run
// there; every other pod stays on the kwok nodes.
class RealNode {
 public:
  // Returns the real node, or nullptr with `why` set when the testenv has none (not running,
  // started with FLYWHEEL_TESTENV_REAL_NODE=0, or the node is not Ready).
  static const RealNode* Get(const TestEnv& env, std::string* why);

  const std::string& name() const { return name_; }
  // host:port of the registry (plain HTTP, loopback).
  const std::string& registry() const { return registry_; }
  // The bridge's address on the host: the gateway of the node's pods, which reach the host's
  // servers listening there (pods without hostNetwork cannot reach loopback).
  const std::string& gateway() const { return gateway_; }
  // host:port of the same registry as pods reach it (the gateway, plain HTTP): the name an image
  // built in a pod is pushed under and pulled by.
  const std::string& pod_registry() const { return pod_registry_; }
  // The kustomization that installs the operator from manifests/ on this node with the
  // testenv's flywheel image (hack/testenv/node.sh, write_operator_overlay); fails the test when
  // the testenv wrote none (no flywheel image: `make build` first).
  std::string OperatorKustomization() const;

  // The reference of an image built by hack/images/build.sh, by its name there ("busybox",
  // "pause"); fails the test when the testenv has no such image.
  std::string Image(const std::string& name) const;

  // Pod spec fields (YAML, indented by `indent` spaces) that place a pod on the real node: a
  // nodeSelector for its name and a toleration of its taint.
  std::string Placement(int indent) const;

  // What the kubelet and containerd are doing: whether each still runs and the tail of its log,
  // to append to a failure so that a dead node is reported, not waited for.
  std::string Diagnostics() const;

 private:
  const TestEnv* env_ = nullptr;
  std::string name_;
  std::string registry_;
  std::string gateway_;
  std::string pod_registry_;
  std::string operator_kustomization_;
  std::string taint_key_;
  std::string taint_value_;
  std::map<std::string, std::string> images_;
};

// A Deployment (YAML) on the real node serving busybox's /www with httpd on port 8080, Ready
// when GET `probe_path` answers 2xx; `image` replaces the busybox image (e.g. one that cannot
// be pulled).
std::string WebDeployment(const RealNode& node, const std::string& name, int replicas,
                          const std::string& probe_path, const std::string& image = "");

// Fails the current test with the reason when the testenv has no real node (never skips: a
// machine where containers cannot run must not turn the real-node tests green); otherwise yields
// the testenv as `env` and the node as `node`.
#define FLYWHEEL_REQUIRE_REAL_NODE(env, node)                             \
  std::string flywheel_real_node_why_;                                    \
  const ::flywheel::testing::TestEnv* env =                               \
      ::flywheel::testing::TestEnv::Get(&flywheel_real_node_why_);        \
  if (env == nullptr) FAIL() << flywheel_real_node_why_;                  \
  const ::flywheel::testing::RealNode* node =                             \
      ::flywheel::testing::RealNode::Get(*env, &flywheel_real_node_why_); \
  if (node == nullptr) FAIL() << flywheel_real_node_why_

}  // namespace flywheel::testing
