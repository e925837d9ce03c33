#include "flywheel/manifest/loader.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace flywheel::manifest {
namespace {

using git::TreeFile;

constexpr const char* kConfigMap = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n";

// "file:line id" of each loaded manifest, in order.
std::vector<std::string> Summaries(const std::vector<Manifest>& manifests) {
  std::vector<std::string> out;
  for (const Manifest& m : manifests) out.push_back(m.Where() + " " + ObjectId(m.object));
  return out;
}

struct LoadCase {
  std::string name;
  std::vector<TreeFile> files;
  std::string root;
  std::vector<std::string> want;
};

void PrintTo(const LoadCase& c, std::ostream* os) { *os << c.name; }

class ManifestLoadTest : public testing::TestWithParam<LoadCase> {};

TEST_P(ManifestLoadTest, LoadsDocumentsWithTheirPlace) {
  const LoadCase& c = GetParam();
  Result<std::vector<Manifest>> got = Load(c.files, c.root);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(Summaries(*got), c.want);
}

INSTANTIATE_TEST_SUITE_P(
    Manifest, ManifestLoadTest,
    testing::Values(
        LoadCase{"MultiDocumentWithEmptyAndCommentDocuments",
                 {{"app.yaml",
                   "---\n"
                   "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n"
                   "---\n# only a comment\n---\n---\n"
                   "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n"
                   "  namespace: team-a\n...\n"}},
                 ".",
                 {"app.yaml:2 /ConfigMap//a", "app.yaml:10 apps/Deployment/team-a/web"}},
        LoadCase{"EmptyAndCommentOnlyFilesGiveNothing",
                 {{"a.yaml", ""},
                  {"b.yaml", "# nothing here\n# at all\n"},
                  {"c.yml", "---\n---\n"},
                  {"d.json", "  \n"},
                  {"e.yaml", kConfigMap}},
                 ".",
                 {"e.yaml:1 /ConfigMap//settings"}},
        LoadCase{"JsonObject",
                 {{"cm.json",
                   "\n{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\",\n"
                   " \"metadata\": {\"name\": \"j\", \"namespace\": \"ns\"}}\n"}},
                 ".",
                 {"cm.json:2 /ConfigMap/ns/j"}},
        LoadCase{"JsonListItemsHaveTheirLines",
                 {{"list.json", R"({
  "apiVersion": "v1",
  "kind": "List",
  "items": [
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "one"}},
    {
      "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "two"}
    }
  ]
})"}},
                 ".",
                 {"list.json:5 /ConfigMap//one", "list.json:6 apps/Deployment//two"}},
        LoadCase{"YamlListAndTypedList",
                 {{"list.yaml",
                   "apiVersion: v1\nkind: List\nitems:\n"
                   "- apiVersion: v1\n  kind: Secret\n  metadata: {name: s}\n"
                   "- apiVersion: v1\n  kind: ServiceAccount\n  metadata: {name: sa}\n"
                   "---\n"
                   "apiVersion: apps/v1\nkind: DeploymentList\nitems:\n"
                   "  - apiVersion: apps/v1\n    kind: Deployment\n    metadata: {name: d}\n"
                   "---\napiVersion: v1\nkind: List\nitems: []\n"}},
                 ".",
                 {"list.yaml:4 /Secret//s", "list.yaml:7 /ServiceAccount//sa",
                  "list.yaml:14 apps/Deployment//d"}},
        LoadCase{
            "NestedDirectoriesInPathOrderOutsideRootAndOtherFilesIgnored",
            {{"apps/web/z.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: web}\n"},
             {"apps/web/sub/deep/a.yml", kConfigMap},
             {"apps/web/README.md", "# not yaml: [\n"},
             {"apps/web/notes.txt", "key: [broken\n"},
             {"apps/webby/other.yaml", "not: loaded\n"},
             {"apps/other.yaml", "not: loaded\n"},
             {"root.yaml", "not: loaded\n"}},
            "./apps/web/",
            {"apps/web/sub/deep/a.yml:1 /ConfigMap//settings", "apps/web/z.yaml:1 /Service//web"}},
        LoadCase{"SameNameInOtherNamespaceOrKindIsNoDuplicate",
                 {{"a.yaml",
                   "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: a}\n---\n"
                   "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: b}\n---\n"
                   "apiVersion: v1\nkind: Secret\nmetadata: {name: x, namespace: a}\n"}},
                 "",
                 {"a.yaml:1 /ConfigMap/a/x", "a.yaml:5 /ConfigMap/b/x", "a.yaml:9 /Secret/a/x"}},
        LoadCase{"KustomizationInSubdirectoryIsBuiltWithIt",
                 {{"apps/base/kustomization.yaml", "resources: [cm.yaml]\nnamespace: base\n"},
                  {"apps/base/cm.yaml", kConfigMap},
                  {"apps/base/unlisted.yaml", "not: listed\n"},
                  {"apps/svc.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: s}\n"}},
                 "apps",
                 {"apps/base/cm.yaml:1 /ConfigMap/base/settings", "apps/svc.yaml:1 /Service//s"}}),
    [](const testing::TestParamInfo<LoadCase>& p) { return p.param.name; });

struct BadCase {
  std::string name;
  std::vector<TreeFile> files;
  std::string root;
  std::string want;  // the whole message
};

void PrintTo(const BadCase& c, std::ostream* os) { *os << c.name; }

class ManifestLoadErrorTest : public testing::TestWithParam<BadCase> {};

TEST_P(ManifestLoadErrorTest, ReportsEveryProblemWithFileAndLine) {
  const BadCase& c = GetParam();
  Result<std::vector<Manifest>> got = Load(c.files, c.root);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(got.status().message(), c.want);
}

INSTANTIATE_TEST_SUITE_P(
    Manifest, ManifestLoadErrorTest,
    testing::Values(
        BadCase{"MalformedYaml",
                {{"bad.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x\ndata: 1\n"}},
                ".",
                "bad.yaml:4:5: end of map flow not found"},
        BadCase{"BadIndentation",
                {{"bad.yaml", "apiVersion: v1\nkind: ConfigMap\n metadata: x\n"}},
                ".",
                "bad.yaml:3:10: illegal map value"},
        BadCase{"MalformedJson",
                {{"bad.json", "{\n  \"apiVersion\": \"v1\",\n  \"kind\": ConfigMap\n}\n"}},
                ".",
                "bad.json:3:11: syntax error while parsing value - invalid literal; last read: "
                "'\"kind\": C'"},
        BadCase{"NoKindNoApiVersion",
                {{"a.yaml", "metadata:\n  name: x\n"}},
                ".",
                "a.yaml:1: document has no apiVersion\na.yaml:1: document has no kind"},
        BadCase{"NoName",
                {{"a.yaml", "# leading comment\napiVersion: v1\nkind: ConfigMap\nmetadata: {}\n"}},
                ".",
                "a.yaml:2: document has no metadata.name"},
        BadCase{"GenerateName",
                {{"a.yaml", "apiVersion: batch/v1\nkind: Job\nmetadata: {generateName: x-}\n"}},
                ".",
                "a.yaml:1: metadata.generateName is not supported (objects are applied by name): "
                "set metadata.name"},
        BadCase{"NotAMapping",
                {{"a.yaml", "- apiVersion: v1\n- kind: ConfigMap\n---\njust text\n"}},
                ".",
                "a.yaml:1: document is a list, not a mapping\n"
                "a.yaml:4: document is a string, not a mapping"},
        BadCase{"WrongTypes",
                {{"a.json", R"({"apiVersion": 1, "kind": "X", "metadata": {"name": true}})"}},
                ".",
                "a.json:1: apiVersion must be a string\na.json:1: metadata.name must be a string"},
        BadCase{
            "DuplicateObjectAcrossFiles",
            {{"a.yaml", kConfigMap},
             {"b.yaml", std::string("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n---\n") +
                            kConfigMap}},
            ".",
            "b.yaml:5: ConfigMap settings is also defined at a.yaml:1"},
        BadCase{"DuplicateNamespacedObject",
                {{"a.yaml",
                  "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: w, namespace: t}\n"
                  "---\n"
                  "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: w, namespace: t}\n"}},
                ".",
                "a.yaml:5: Deployment t/w is also defined at a.yaml:1"},
        BadCase{"DuplicateKey",
                {{"a.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  name: y\n"}},
                ".",
                "a.yaml:5: duplicate key \"name\" (first at line 4)"},
        BadCase{"DuplicateKeyInJson",
                {{"a.json",
                  "{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\",\n"
                  " \"metadata\": {\"name\": \"x\"},\n \"kind\": \"Secret\"}\n"}},
                ".",
                "a.json:3: duplicate key \"kind\""},
        BadCase{"InfinityIsNoJsonNumber",
                {{"a.yaml",
                  "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata:\n"
                  "  x: .inf\n"}},
                ".",
                "a.yaml:5: \".inf\" is not a number JSON can hold (quote it)"},
        BadCase{"AllProblemsSortedByFileAndLine",
                {{"b.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n"},
                 {"a.yaml", "kind: ConfigMap\nmetadata: {name: x}\n---\nfoo: [\n"},
                 {"c.yaml", kConfigMap}},
                ".",
                "a.yaml:5:1: end of sequence flow not found\n"
                "b.yaml:1: document has no metadata.name"},
        BadCase{"KustomizationUnsupportedField",
                {{"kustomization.yaml",
                  "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
                  "resources: [cm.yaml]\npatches:\n- path: p.yaml\nnamePrefix: x-\n"},
                 {"cm.yaml", kConfigMap}},
                ".",
                "kustomization.yaml:4: field \"patches\" is not supported (supported: resources, "
                "namespace, labels, commonLabels, images)\n"
                "kustomization.yaml:6: field \"namePrefix\" is not supported (supported: "
                "resources, namespace, labels, commonLabels, images)"},
        BadCase{"KustomizationMissingResource",
                {{"apps/web/kustomization.yaml", "resources:\n  - cm.yaml\n  - x.yaml\n"},
                 {"apps/web/cm.yaml", kConfigMap}},
                "apps/web",
                "apps/web/kustomization.yaml:3: resource \"x.yaml\" not found"},
        BadCase{"KustomizationRemoteResource",
                {{"kustomization.yml",
                  "resources:\n- https://example.com/x.yaml\n- github.com/acme/app//base\n"}},
                ".",
                "kustomization.yml:2: remote resource \"https://example.com/x.yaml\" is not "
                "supported (only files and directories of this repository)\n"
                "kustomization.yml:3: remote resource \"github.com/acme/app//base\" is not "
                "supported (only files and directories of this repository)"},
        BadCase{"KustomizationPathEscape",
                {{"apps/kustomization.yaml", "resources:\n- ../../etc/passwd.yaml\n"}},
                "apps",
                "apps/kustomization.yaml:2: resource \"../../etc/passwd.yaml\" is outside the "
                "repository"},
        BadCase{"KustomizationDirectoryWithoutKustomization",
                {{"kustomization.yaml", "resources:\n- base\n"}, {"base/cm.yaml", kConfigMap}},
                ".",
                "kustomization.yaml:2: resource \"base\" is a directory without a "
                "kustomization.yaml (kustomize needs one)"},
        BadCase{"KustomizationCycle",
                {{"a/kustomization.yaml", "resources: [../b]\n"},
                 {"b/kustomization.yaml", "resources: [../a]\n"}},
                "a",
                "b/kustomization.yaml:1: resource \"../a\" includes a kustomization that includes "
                "this one"},
        BadCase{"KustomizationBadImageField",
                {{"kustomization.yaml", "images:\n- name: app\n  newTag: \"2\"\n  tagSuffix: x\n"}},
                ".",
                "kustomization.yaml:4: images entry field \"tagSuffix\" is not supported "
                "(supported: name, newName, newTag, digest)"},
        BadCase{"KustomizationDuplicateAfterNamespace",
                {{"kustomization.yaml", "namespace: prod\nresources: [a.yaml, b.yaml]\n"},
                 {"a.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: x}\n"},
                 {"b.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"}},
                ".",
                "b.yaml:1: ConfigMap prod/c is also defined at a.yaml:1"},
        BadCase{"RootOutsideRepository",
                {{"a.yaml", kConfigMap}},
                "../x",
                "path \"../x\" is outside the repository"}),
    [](const testing::TestParamInfo<BadCase>& p) { return p.param.name; });

TEST(ManifestYamlTest, ScalarsFollowTheCoreSchema) {
  Result<std::vector<Manifest>> got = Load({{"a.yaml", R"(apiVersion: v1
kind: ConfigMap
metadata:
  name: types
data:
  string: hello
  quoted_number: "1"
  single_quoted_bool: 'true'
  block: |
    line
  null_tilde: ~
  null_empty:
  null_word: null
  yes_stays: yes
  on_stays: on
  int: 42
  negative: -7
  plus: +3
  octal: 0o17
  hex: 0x1F
  float: 1.5
  integral_float: 2.0
  exponent: 1e3
  big: 18446744073709551615
  version: 1.10
  tagged: !!str 123
  leading_zero: 0123
  dotted: 1.2.3
  bools: [true, False, TRUE]
  anchor: &a {k: v}
  alias: *a
  merged:
    <<: *a
    own: 1
)"}},
                                           ".");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].object["data"], json::parse(R"({
    "string": "hello", "quoted_number": "1", "single_quoted_bool": "true", "block": "line\n",
    "null_tilde": null, "null_empty": null, "null_word": null, "yes_stays": "yes",
    "on_stays": "on", "int": 42, "negative": -7, "plus": 3, "octal": 15, "hex": 31,
    "float": 1.5, "integral_float": 2, "exponent": 1000, "big": 18446744073709551615,
    "version": 1.1, "tagged": "123", "leading_zero": 123, "dotted": "1.2.3",
    "bools": [true, false, true], "anchor": {"k": "v"}, "alias": {"k": "v"},
    "merged": {"k": "v", "own": 1}})"));
  EXPECT_TRUE((*got)[0].object["data"]["int"].is_number_integer());
}

TEST(ManifestYamlTest, SelfReferencingAliasIsAnErrorNotACrash) {
  Result<std::vector<Manifest>> got = Load(
      {{"a.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: &a [*a]\n"}}, ".");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), Code::kInvalidArgument);
}

TEST(ManifestObjectIdTest, UsesGroupKindNamespaceName) {
  EXPECT_EQ(
      ObjectId(json::parse(
          R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"w","namespace":"t"}})")),
      "apps/Deployment/t/w");
  EXPECT_EQ(
      ObjectId(json::parse(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"t"}})")),
      "/Namespace//t");
  EXPECT_EQ(
      ObjectId(json::parse(
          R"({"apiVersion":"flywheel.dev/v1alpha1","kind":"Release","metadata":{"name":"r","namespace":"a"}})")),
      "flywheel.dev/Release/a/r");
}

}  // namespace
}  // namespace flywheel::manifest
