// Pods that really run: on the testenv's real node (containerd + runc + kubelet, hack/testenv/
// node.sh), from the busybox image built by hack/images/build.sh and pulled from the local
// registry. Logs, exec and probes go through the real kubelet; nothing here acts as one.
#include "support/real_node.h"

#include <gtest/gtest.h>

#include <chrono>
#include <sstream>

#include "support/eventually.h"

namespace flywheel::testing {
namespace {

using namespace std::chrono_literals;

// A bare pod on the real node that runs `script` with the `sh` of the testenv image `image` and
// is never restarted.
std::string ScriptPod(const RealNode& node, const std::string& name, const std::string& script,
                      const std::string& image = "busybox") {
  return "apiVersion: v1\nkind: Pod\nmetadata: {name: " + name +
         "}\n"
         "spec:\n"
         "  restartPolicy: Never\n"
         "  terminationGracePeriodSeconds: 1\n" +
         node.Placement(2) +
         "  containers:\n"
         "  - name: main\n"
         "    image: " +
         node.Image(image) + "\n    command: [sh, -c, '" + script + "']\n";
}

// `kubectl get` of one field of an object, by JSONPath.
std::string Field(const TestEnv& env, const std::string& ns, const std::string& object,
                  const std::string& jsonpath) {
  return env.Kubectl({"get", "-n", ns, object, "-o", "jsonpath=" + jsonpath}).out;
}

TEST(RealNodeTest, PodRunsACommandWhoseLogsAndExitCodeAreSeen) {
  FLYWHEEL_REQUIRE_REAL_NODE(env, node);
  ScopedNamespace ns(*env, "real-smoke");
  auto r = env->Kubectl(
      {"apply", "-n", ns.name(), "-f", "-"},
      ScriptPod(*node, "fails", "echo hello from $(hostname); echo to stderr >&2; exit 3") +
          "---\n" + ScriptPod(*node, "succeeds", "uname -s"));
  ASSERT_EQ(r.exit_code, 0) << r.err;

  r = env->Kubectl({"wait", "-n", ns.name(), "pod/fails", "--for=jsonpath={.status.phase}=Failed",
                    "--timeout=90s"});
  ASSERT_EQ(r.exit_code, 0) << r.err << node->Diagnostics();
  EXPECT_EQ(Field(*env, ns.name(), "pod/fails", "{.spec.nodeName}"), node->name());
  EXPECT_EQ(Field(*env, ns.name(), "pod/fails",
                  "{.status.containerStatuses[0].state.terminated.exitCode}|"
                  "{.status.containerStatuses[0].state.terminated.reason}"),
            "3|Error");
  // Read through the API server, which asks the kubelet (TLS both ways).
  r = env->Kubectl({"logs", "-n", ns.name(), "pod/fails"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Both streams, in the order containerd read them from their two pipes.
  const std::string out = "hello from fails\n", err = "to stderr\n";
  EXPECT_NE(r.out.find(out), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(err), std::string::npos) << r.out;
  EXPECT_EQ(r.out.size(), out.size() + err.size()) << r.out;

  r = env->Kubectl({"wait", "-n", ns.name(), "pod/succeeds",
                    "--for=jsonpath={.status.phase}=Succeeded", "--timeout=90s"});
  ASSERT_EQ(r.exit_code, 0) << r.err << node->Diagnostics();
  EXPECT_EQ(env->Kubectl({"logs", "-n", ns.name(), "pod/succeeds"}).out, "Linux\n");
}

TEST(RealNodeTest, DeploymentBecomesAvailableThroughReadinessProbes) {
  FLYWHEEL_REQUIRE_REAL_NODE(env, node);
  ScopedNamespace ns(*env, "real-web");
  auto r = env->Kubectl({"apply", "-n", ns.name(), "-f", "-"},
                        WebDeployment(*node, "web", 2, "/index.html"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = env->Kubectl({"rollout", "status", "-n", ns.name(), "deployment/web", "--timeout=90s"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err << node->Diagnostics();
  EXPECT_EQ(Field(*env, ns.name(), "deployment/web", "{.status.availableReplicas}"), "2");

  // Each pod has its own address on the node's bridge, and one reaches the other's server.
  std::istringstream pods(
      Field(*env, ns.name(), "pods", "{range .items[*]}{.metadata.name} {.status.podIP} {end}"));
  std::string first, first_ip, second, second_ip;
  pods >> first >> first_ip >> second >> second_ip;
  ASSERT_FALSE(second_ip.empty());
  EXPECT_NE(first_ip, second_ip);
  r = env->Kubectl({"exec", "-n", ns.name(), first, "--", "wget", "-qO-",
                    "http://" + second_ip + ":8080/index.html"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "flywheel testenv\n");
}

TEST(RealNodeTest, FailingReadinessProbeKeepsThePodUnready) {
  FLYWHEEL_REQUIRE_REAL_NODE(env, node);
  ScopedNamespace ns(*env, "real-unready");
  auto r = env->Kubectl({"apply", "-n", ns.name(), "-f", "-"},
                        WebDeployment(*node, "web", 1, "/missing"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The kubelet reports each failed probe as an Unhealthy event on the pod.
  std::string events;
  ASSERT_TRUE(Eventually(
      [&] {
        events = env->Kubectl({"get", "events", "-n", ns.name(), "--field-selector",
                               "reason=Unhealthy", "-o", "jsonpath={.items[*].message}"})
                     .out;
        return events.find("statuscode: 404") != std::string::npos;
      },
      90s))
      << "no failed readiness probe reported: " << events << "\n"
      << node->Diagnostics();
  EXPECT_EQ(Field(*env, ns.name(), "pods", "{.items[0].status.phase}"), "Running");
  EXPECT_EQ(
      Field(*env, ns.name(), "pods", "{.items[0].status.conditions[?(@.type==\"Ready\")].status}"),
      "False");
  EXPECT_EQ(Field(*env, ns.name(), "deployment/web", "{.status.availableReplicas}"), "");
}

TEST(RealNodeTest, ImageThatCannotBePulledShowsTheKubeletsReason) {
  FLYWHEEL_REQUIRE_REAL_NODE(env, node);
  ScopedNamespace ns(*env, "real-pull");
  const std::string missing = node->registry() + "/testenv/missing:1";
  const std::string pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: nopull}\nspec:\n" +
                          node->Placement(2) + "  containers: [{name: main, image: " + missing +
                          "}]\n";
  auto r = env->Kubectl({"apply", "-n", ns.name(), "-f", "-"}, pod);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string waiting;
  ASSERT_TRUE(Eventually(
      [&] {
        waiting = Field(*env, ns.name(), "pod/nopull",
                        "{.status.containerStatuses[0].state.waiting.reason}");
        return waiting == "ErrImagePull" || waiting == "ImagePullBackOff";
      },
      90s))
      << "waiting reason: '" << waiting << "'\n"
      << node->Diagnostics();
  const std::string message =
      Field(*env, ns.name(), "pod/nopull", "{.status.containerStatuses[0].state.waiting.message}");
  EXPECT_NE(message.find(missing), std::string::npos) << message;
}

// The operator image (Dockerfile, stage `prebuilt`, built by hack/images/build.sh) runs its
// binary with every library it needs, as uid 65532, with a read-only root filesystem and no
// capabilities, as manifests/ runs it.
TEST(RealNodeTest, FlywheelImageRunsAsNonRootOnAReadOnlyRoot) {
  FLYWHEEL_REQUIRE_REAL_NODE(env, node);
  ScopedNamespace ns(*env, "real-image");
  const std::string locked =
      "securityContext: {runAsNonRoot: true, readOnlyRootFilesystem: true, "
      "allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}";
  const std::string image = node->Image("flywheel");
  ASSERT_FALSE(image.empty());
  const std::string pod =
      "apiVersion: v1\nkind: Pod\nmetadata: {name: flywheel}\nspec:\n"
      "  restartPolicy: Never\n" +
      node->Placement(2) +
      "  containers:\n"
      "  - {name: version, image: " +
      image + ", args: [version], " + locked +
      "}\n"
      "  - {name: uid, image: " +
      image + ", command: [id, -u], " + locked + "}\n";
  auto r = env->Kubectl({"apply", "-n", ns.name(), "-f", "-"}, pod);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = env->Kubectl({"wait", "-n", ns.name(), "pod/flywheel",
                    "--for=jsonpath={.status.phase}=Succeeded", "--timeout=120s"});
  ASSERT_EQ(r.exit_code, 0) << r.err << env->Kubectl({"describe", "-n", ns.name(), "pod"}).out
                            << node->Diagnostics();
  r = env->Kubectl({"logs", "-n", ns.name(), "pod/flywheel", "-c", "version"});
  EXPECT_EQ(r.out.rfind("flywheel ", 0), 0u) << r.out << r.err;
  EXPECT_EQ(env->Kubectl({"logs", "-n", ns.name(), "pod/flywheel", "-c", "uid"}).out, "65532\n");
}

// The toolbox image (hack/images/toolbox.Dockerfile) has what build steps need: make drives g++
// to build a program that runs, and git and curl are there.
TEST(RealNodeTest, ToolboxImageBuildsAProgramWithMake) {
  FLYWHEEL_REQUIRE_REAL_NODE(env, node);
  ScopedNamespace ns(*env, "real-toolbox");
  const std::string script =
      R"(cd /tmp && printf "#include <cstdio>\nint main() { std::puts(\"built\"); }\n" >m.cpp )"
      R"(&& printf "m: m.cpp\n\tg++ -o m m.cpp\n" >Makefile && make -s && ./m )"
      R"(&& git --version >/dev/null && curl --version >/dev/null && echo ok)";
  auto r = env->Kubectl({"apply", "-n", ns.name(), "-f", "-"},
                        ScriptPod(*node, "toolbox", script, "toolbox"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = env->Kubectl({"wait", "-n", ns.name(), "pod/toolbox",
                    "--for=jsonpath={.status.phase}=Succeeded", "--timeout=180s"});
  ASSERT_EQ(r.exit_code, 0) << r.err << env->Kubectl({"logs", "-n", ns.name(), "pod/toolbox"}).out
                            << node->Diagnostics();
  EXPECT_EQ(env->Kubectl({"logs", "-n", ns.name(), "pod/toolbox"}).out, "built\nok\n");
}

// The real node's taint keeps every pod that does not ask for it on the kwok nodes, so the
// integration tests' pods (which name no node) never start real containers.
TEST(RealNodeTest, PodsThatDoNotTolerateTheRealNodeStayOnKwokNodes) {
  FLYWHEEL_REQUIRE_REAL_NODE(env, node);
  ScopedNamespace ns(*env, "real-taint");
  const std::string deployment = R"(
apiVersion: apps/v1
kind: Deployment
metadata: {name: spread}
spec:
  replicas: 8
  selector: {matchLabels: {app: spread}}
  template:
    metadata: {labels: {app: spread}}
    spec:
      containers: [{name: main, image: registry.example.invalid/app:1}]
)";
  auto r = env->Kubectl({"apply", "-n", ns.name(), "-f", "-"}, deployment);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = env->Kubectl({"rollout", "status", "-n", ns.name(), "deployment/spread", "--timeout=90s"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  std::istringstream nodes(Field(*env, ns.name(), "pods", "{.items[*].spec.nodeName}"));
  int count = 0;
  for (std::string n; nodes >> n; ++count) {
    EXPECT_EQ(n.rfind("kwok-node-", 0), 0u) << "pod scheduled on " << n;
  }
  EXPECT_EQ(count, 8);
}

}  // namespace
}  // namespace flywheel::testing
