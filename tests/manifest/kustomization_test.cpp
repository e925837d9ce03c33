#include "flywheel/manifest/kustomization.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "flywheel/manifest/loader.h"

namespace flywheel::manifest {
namespace {

using git::TreeFile;
using nlohmann::json;

constexpr const char* kDeployment = R"(apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: old
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      initContainers:
      - name: migrate
        image: registry.example.com:5000/acme/app:1.0
      containers:
      - name: app
        image: registry.example.com:5000/acme/app@sha256:aaaa
      - name: proxy
        image: envoy:v1.30
      - name: sidecar
        image: envoy-extra:v1
)";

constexpr const char* kService = R"(apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80}]
)";

constexpr const char* kClusterRole = R"(apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: reader}
rules: []
)";

constexpr const char* kRoleBinding = R"(apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: rb}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: r}
subjects:
- {kind: ServiceAccount, name: default, namespace: default}
- {kind: ServiceAccount, name: other, namespace: elsewhere}
- {kind: User, name: jane}
)";

constexpr const char* kCronJob = R"(apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
          - {name: job, image: "envoy:v1.30"}
)";

// Loads `kustomization` in the repository root with the standard resources above.
std::vector<Manifest> Build(const std::string& kustomization) {
  Result<std::vector<Manifest>> got =
      Load({{"kustomization.yaml", kustomization},
            {"deploy.yaml", kDeployment},
            {"svc.yaml", kService},
            {"rbac.yaml", std::string(kClusterRole) + "---\n" + kRoleBinding},
            {"cron.yaml", kCronJob}},
           ".");
  EXPECT_TRUE(got.ok()) << got.status().ToString();
  return got.ok() ? *got : std::vector<Manifest>{};
}

const json& Find(const std::vector<Manifest>& manifests, const std::string& kind) {
  for (const Manifest& m : manifests) {
    if (m.object["kind"] == kind) return m.object;
  }
  static const json kNone;
  ADD_FAILURE() << "no " << kind;
  return kNone;
}

TEST(KustomizationTest, ResourcesAreLoadedInOrderWithTheirPlace) {
  std::vector<Manifest> got = Build("resources:\n- svc.yaml\n- ./deploy.yaml\n");
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].Where(), "svc.yaml:1");
  EXPECT_EQ(got[1].Where(), "deploy.yaml:1");
}

TEST(KustomizationTest, NamespaceSkipsClusterScopedAndFixesDefaultSubjects) {
  std::vector<Manifest> got =
      Build("namespace: prod\nresources: [deploy.yaml, svc.yaml, rbac.yaml]\n");
  EXPECT_EQ(Find(got, "Deployment")["metadata"]["namespace"], "prod");  // replaced "old"
  EXPECT_EQ(Find(got, "Service")["metadata"]["namespace"], "prod");
  EXPECT_FALSE(Find(got, "ClusterRole")["metadata"].contains("namespace"));
  const json& rb = Find(got, "RoleBinding");
  EXPECT_EQ(rb["metadata"]["namespace"], "prod");
  EXPECT_EQ(rb["subjects"], json::parse(R"([
    {"kind": "ServiceAccount", "name": "default", "namespace": "prod"},
    {"kind": "ServiceAccount", "name": "other", "namespace": "elsewhere"},
    {"kind": "User", "name": "jane"}])"));
}

TEST(KustomizationTest, LabelsWithoutSelectorsOnlyTouchMetadata) {
  std::vector<Manifest> got =
      Build("resources: [deploy.yaml, svc.yaml]\nlabels:\n- pairs: {team: a, tier: \"1\"}\n");
  const json& d = Find(got, "Deployment");
  EXPECT_EQ(d["metadata"]["labels"], json::parse(R"({"team": "a", "tier": "1"})"));
  EXPECT_EQ(d["spec"]["selector"]["matchLabels"], json::parse(R"({"app": "web"})"));
  EXPECT_EQ(d["spec"]["template"]["metadata"]["labels"], json::parse(R"({"app": "web"})"));
  EXPECT_EQ(Find(got, "Service")["spec"]["selector"], json::parse(R"({"app": "web"})"));
}

TEST(KustomizationTest, LabelsWithTemplatesTouchPodTemplatesNotSelectors) {
  std::vector<Manifest> got = Build(
      "resources: [deploy.yaml, cron.yaml]\nlabels:\n- pairs: {team: a}\n"
      "  includeTemplates: true\n");
  const json& d = Find(got, "Deployment");
  EXPECT_EQ(d["spec"]["selector"]["matchLabels"], json::parse(R"({"app": "web"})"));
  EXPECT_EQ(d["spec"]["template"]["metadata"]["labels"],
            json::parse(R"({"app": "web", "team": "a"})"));
  EXPECT_EQ(Find(got, "CronJob")["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"],
            json::parse(R"({"team": "a"})"));
}

TEST(KustomizationTest, LabelsWithSelectorsAndCommonLabels) {
  for (const char* labels :
       {"labels:\n- pairs: {team: a}\n  includeSelectors: true\n", "commonLabels: {team: a}\n"}) {
    SCOPED_TRACE(labels);
    std::vector<Manifest> got =
        Build(std::string("resources: [deploy.yaml, svc.yaml, cron.yaml]\n") + labels);
    const json& d = Find(got, "Deployment");
    json want = json::parse(R"({"app": "web", "team": "a"})");
    EXPECT_EQ(d["metadata"]["labels"], json::parse(R"({"team": "a"})"));
    EXPECT_EQ(d["spec"]["selector"]["matchLabels"], want);
    EXPECT_EQ(d["spec"]["template"]["metadata"]["labels"], want);
    const json& s = Find(got, "Service");
    EXPECT_EQ(s["spec"]["selector"], want);
    const json& c = Find(got, "CronJob");
    EXPECT_EQ(c["spec"]["jobTemplate"]["metadata"]["labels"], json::parse(R"({"team": "a"})"));
    EXPECT_FALSE(c["spec"]["jobTemplate"]["spec"].contains("selector"));  // not created
  }
}

TEST(KustomizationTest, ImagesTagNameDigestWithRegistryPort) {
  std::vector<Manifest> got = Build(R"(resources: [deploy.yaml, cron.yaml]
images:
- name: registry.example.com:5000/acme/app
  newTag: "2.0"
- name: envoy
  newName: mirror.example.com/envoy
- name: envoy-extra
  digest: sha256:bbbb
)");
  const json& spec = Find(got, "Deployment")["spec"]["template"]["spec"];
  EXPECT_EQ(spec["initContainers"][0]["image"], "registry.example.com:5000/acme/app:2.0");
  EXPECT_EQ(spec["containers"][0]["image"], "registry.example.com:5000/acme/app:2.0");
  EXPECT_EQ(spec["containers"][1]["image"], "mirror.example.com/envoy:v1.30");
  EXPECT_EQ(spec["containers"][2]["image"], "envoy-extra@sha256:bbbb");
  EXPECT_EQ(
      Find(got,
           "CronJob")["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["image"],
      "mirror.example.com/envoy:v1.30");
}

TEST(KustomizationTest, NestedKustomizationsApplyInnerThenOuter) {
  Result<std::vector<Manifest>> got = Load(
      {{"overlays/prod/kustomization.yaml",
        "resources: [../../base, extra.yaml]\nnamespace: prod\n"
        "images:\n- {name: example/app, newName: registry.example.com/app}\n"
        "labels:\n- pairs: {env: prod}\n"},
       {"overlays/prod/extra.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra}\n"},
       {"base/kustomization.yaml",
        "resources: [pod.yaml]\nnamespace: base\nimages:\n- {name: example/app, newTag: v2}\n"
        "commonLabels: {app: demo}\n"},
       {"base/pod.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
        "  - {name: c, image: example/app:v1}\n"}},
      "overlays/prod");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->size(), 2u);
  const json& pod = (*got)[0].object;
  EXPECT_EQ((*got)[0].Where(), "base/pod.yaml:1");
  EXPECT_EQ(pod["metadata"]["namespace"], "prod");
  EXPECT_EQ(pod["metadata"]["labels"], json::parse(R"({"app": "demo", "env": "prod"})"));
  EXPECT_EQ(pod["spec"]["containers"][0]["image"], "registry.example.com/app:v2");
  EXPECT_EQ((*got)[1].object["metadata"]["labels"], json::parse(R"({"env": "prod"})"));
}

TEST(KustomizationTest, ParsesTheSupportedFields) {
  Result<Kustomization> k = ParseKustomization("k/kustomization.yaml", R"(
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
metadata: {name: ignored}
resources: [a.yaml, ../b]
namespace: team-a
commonLabels: {app: web}
labels:
- pairs: {tier: 1}
  includeSelectors: false
images:
- name: app
  newName: other
  newTag: 1.10
  digest: sha256:cc
)");
  ASSERT_TRUE(k.ok()) << k.status().ToString();
  EXPECT_EQ(k->file, "k/kustomization.yaml");
  EXPECT_EQ(k->resources, (std::vector<std::string>{"a.yaml", "../b"}));
  EXPECT_EQ(k->ns, "team-a");
  ASSERT_EQ(k->labels.size(), 2u);
  EXPECT_TRUE(k->labels[0].include_selectors);
  EXPECT_EQ(k->labels[0].pairs.at("app"), "web");
  EXPECT_FALSE(k->labels[1].include_selectors);
  EXPECT_EQ(k->labels[1].pairs.at("tier"), "1");
  ASSERT_EQ(k->images.size(), 1u);
  EXPECT_EQ(k->images[0].new_tag, "1.10");  // the text as written, not the float 1.1
  EXPECT_EQ(k->images[0].digest, "sha256:cc");
}

TEST(KustomizationTest, ParseErrorsNameTheLine) {
  Result<Kustomization> k = ParseKustomization(
      "kustomization.yaml",
      "apiVersion: v1\nkind: Kustomization\nlabels:\n- pairs: {a: b}\n  fields: []\n"
      "images:\n- newTag: x\ncomponents: [c]\n");
  ASSERT_FALSE(k.ok());
  EXPECT_EQ(k.status().message(),
            "kustomization.yaml:1: apiVersion must be kustomize.config.k8s.io/v1beta1\n"
            "kustomization.yaml:5: labels entry field \"fields\" is not supported (supported: "
            "pairs, includeSelectors, includeTemplates)\n"
            "kustomization.yaml:7: an images entry has no name\n"
            "kustomization.yaml:8: field \"components\" is not supported (supported: resources, "
            "namespace, labels, commonLabels, images)");
}

TEST(KustomizationTest, ApplyImagesReportsChangesAndMatchesWholeNames) {
  json pod = json::parse(R"({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
    "spec": {"containers": [{"name": "a", "image": "app"}, {"name": "b", "image": "app2:1"}],
             "ephemeralContainers": [{"name": "debug", "image": "app:3@sha256:dd"}]}})");
  EXPECT_TRUE(ApplyImages(pod, {{.name = "app", .new_tag = "7"}}));
  EXPECT_EQ(pod["spec"]["containers"][0]["image"], "app:7");
  EXPECT_EQ(pod["spec"]["containers"][1]["image"], "app2:1");
  EXPECT_EQ(pod["spec"]["ephemeralContainers"][0]["image"], "app:7");
  EXPECT_FALSE(ApplyImages(pod, {{.name = "app", .new_tag = "7"}}));
  EXPECT_FALSE(ApplyImages(pod, {{.name = "ap", .new_tag = "9"}}));
}

}  // namespace
}  // namespace flywheel::manifest
