#include "flywheel/manifest/image_edit.h"

#include <gtest/gtest.h>

#include <string>

#include "flywheel/manifest/kustomization.h"
#include "flywheel/manifest/loader.h"

namespace flywheel::manifest {
namespace {

constexpr const char* kRepo = "registry.local:5000/acme/web";

// SetImageTag of `text` with kRepo and tag "abc1234", which must succeed.
ImageEdit Edit(const std::string& text, const std::string& file = "apps/web/deploy.yaml") {
  auto edit = SetImageTag(file, text, kRepo, "abc1234");
  EXPECT_TRUE(edit.ok()) << edit.status().ToString();
  return edit.ok() ? *edit : ImageEdit{};
}

TEST(SplitImageTest, KeepsRegistryPortsAndSplitsTagAndDigest) {
  using P = std::pair<std::string, std::string>;
  EXPECT_EQ(SplitImage("registry.local:5000/acme/web:1.0"),
            P("registry.local:5000/acme/web", ":1.0"));
  EXPECT_EQ(SplitImage("registry.local:5000/acme/web"), P("registry.local:5000/acme/web", ""));
  EXPECT_EQ(SplitImage("web@sha256:abcd"), P("web", "@sha256:abcd"));
  EXPECT_EQ(SplitImage("host:5000/web:1@sha256:ab"), P("host:5000/web", ":1@sha256:ab"));
  EXPECT_EQ(SplitImage("nginx"), P("nginx", ""));
}

// Comments, key order, blank lines, other images and quoting stay byte for byte; the
// initContainer and every container naming the repository get the tag.
TEST(SetImageTagTest, DeploymentWithInitContainersKeepsEverythingElse) {
  const std::string in = R"(# The web frontend.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web   # keep me
spec:
  template:
    spec:
      initContainers:
        - name: migrate
          image: "registry.local:5000/acme/web:1.0"   # same image, quoted

      containers:
      - name: web
        image: registry.local:5000/acme/web:1.0 # promoted by flywheel
      - name: proxy
        image: 'envoy:v1.30'
      - image: 'registry.local:5000/acme/web:0.9'
        name: worker
      - name: lookalike
        image: registry.local:5000/acme/web-extra:1.0
)";
  const std::string want = R"(# The web frontend.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web   # keep me
spec:
  template:
    spec:
      initContainers:
        - name: migrate
          image: "registry.local:5000/acme/web:abc1234"   # same image, quoted

      containers:
      - name: web
        image: registry.local:5000/acme/web:abc1234 # promoted by flywheel
      - name: proxy
        image: 'envoy:v1.30'
      - image: 'registry.local:5000/acme/web:abc1234'
        name: worker
      - name: lookalike
        image: registry.local:5000/acme/web-extra:1.0
)";
  ImageEdit edit = Edit(in);
  EXPECT_EQ(edit.content, want);
  EXPECT_EQ(edit.matched, 3);
  ASSERT_EQ(edit.changes.size(), 3u);
  EXPECT_EQ(edit.changes[0].file, "apps/web/deploy.yaml");
  EXPECT_EQ(edit.changes[0].line, 11);
  EXPECT_EQ(edit.changes[0].old_value, "registry.local:5000/acme/web:1.0");
  EXPECT_EQ(edit.changes[0].new_value, "registry.local:5000/acme/web:abc1234");
  EXPECT_EQ(edit.changes[1].line, 15);
  EXPECT_EQ(edit.changes[2].line, 18);
  EXPECT_EQ(edit.changes[2].old_value, "registry.local:5000/acme/web:0.9");
}

TEST(SetImageTagTest, MultiDocumentFlowStyleAndNoTag) {
  const std::string in =
      "---\n"
      "kind: Pod\n"
      "spec: {containers: [{name: a, image: registry.local:5000/acme/web}]}\n"
      "---\n"
      "# only a comment\n"
      "---\n"
      "kind: Pod\n"
      "spec:\n"
      "  containers:\n"
      "  - {image: \"registry.local:5000/acme/web:2\", name: b}\n"
      "...\n";
  const std::string want =
      "---\n"
      "kind: Pod\n"
      "spec: {containers: [{name: a, image: registry.local:5000/acme/web:abc1234}]}\n"
      "---\n"
      "# only a comment\n"
      "---\n"
      "kind: Pod\n"
      "spec:\n"
      "  containers:\n"
      "  - {image: \"registry.local:5000/acme/web:abc1234\", name: b}\n"
      "...\n";
  ImageEdit edit = Edit(in);
  EXPECT_EQ(edit.content, want);
  ASSERT_EQ(edit.changes.size(), 2u);
  EXPECT_EQ(edit.changes[0].line, 3);
  EXPECT_EQ(edit.changes[0].old_value, "registry.local:5000/acme/web");
  EXPECT_EQ(edit.changes[1].line, 10);
}

// An anchored image is edited once, where it is defined; its aliases follow. Tags and anchors
// before the scalar are skipped.
TEST(SetImageTagTest, AnchorsAndTagsAreEditedWhereTheScalarIs) {
  const std::string in =
      "base: &img !!str registry.local:5000/acme/web:1\n"
      "containers:\n"
      "- image: *img\n"
      "- image: &other\n"
      "    'registry.local:5000/acme/web:1'\n";
  const std::string want =
      "base: &img !!str registry.local:5000/acme/web:abc1234\n"
      "containers:\n"
      "- image: *img\n"
      "- image: &other\n"
      "    'registry.local:5000/acme/web:abc1234'\n";
  ImageEdit edit = Edit(in);
  EXPECT_EQ(edit.content, want);
  ASSERT_EQ(edit.changes.size(), 2u);
  EXPECT_EQ(edit.changes[0].line, 1);
  EXPECT_EQ(edit.changes[1].line, 5);
}

// A digest pins the old build: it is replaced by the tag (documented in docs/pipeline.md).
TEST(SetImageTagTest, DigestsAreReplacedByTheTag) {
  const std::string in =
      "- image: registry.local:5000/acme/web@sha256:0123456789abcdef\n"
      "- image: \"registry.local:5000/acme/web:1.0@sha256:0123456789abcdef\"\n";
  ImageEdit edit = Edit(in);
  EXPECT_EQ(edit.content,
            "- image: registry.local:5000/acme/web:abc1234\n"
            "- image: \"registry.local:5000/acme/web:abc1234\"\n");
  ASSERT_EQ(edit.changes.size(), 2u);
  EXPECT_EQ(edit.changes[1].old_value, "registry.local:5000/acme/web:1.0@sha256:0123456789abcdef");
}

TEST(SetImageTagTest, AlreadyCorrectTagAndNoMatchChangeNothing) {
  const std::string done = "image: registry.local:5000/acme/web:abc1234 # done\n";
  ImageEdit edit = Edit(done);
  EXPECT_EQ(edit.content, done);
  EXPECT_EQ(edit.matched, 1);
  EXPECT_TRUE(edit.changes.empty());

  const std::string other =
      "image: registry.local:5000/acme/api:1\n"
      "web: registry.local:5000/acme/web:1\n"          // not an image field
      "image2: {image: registry.local/acme/web:1}\n";  // another registry
  edit = Edit(other);
  EXPECT_EQ(edit.content, other);
  EXPECT_EQ(edit.matched, 0);
  EXPECT_TRUE(edit.changes.empty());
}

TEST(SetImageTagTest, CrlfLineEndingsAndBomAreKept) {
  const std::string in =
      "\xEF\xBB\xBF# w\xC3\xA9\r\n"
      "containers:\r\n"
      "- name: \xC3\xA4\r\n"
      "  image: registry.local:5000/acme/web:1 \r\n"
      "images:\r\n"
      "- name: registry.local:5000/acme/web\r\n";
  ImageEdit edit = Edit(in);
  EXPECT_EQ(edit.content,
            "\xEF\xBB\xBF# w\xC3\xA9\r\n"
            "containers:\r\n"
            "- name: \xC3\xA4\r\n"
            "  image: registry.local:5000/acme/web:abc1234 \r\n"
            "images:\r\n"
            "- name: registry.local:5000/acme/web\r\n");

  // The same in a kustomization: the inserted newTag line ends in CRLF too.
  edit = Edit(in, "apps/web/kustomization.yaml");
  EXPECT_EQ(edit.content,
            "\xEF\xBB\xBF# w\xC3\xA9\r\n"
            "containers:\r\n"
            "- name: \xC3\xA4\r\n"
            "  image: registry.local:5000/acme/web:1 \r\n"
            "images:\r\n"
            "- name: registry.local:5000/acme/web\r\n"
            "  newTag: abc1234\r\n");
}

TEST(SetImageTagTest, KustomizationImagesGetNewTag) {
  const std::string in = R"(apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [deploy.yaml]
images:
  # set by flywheel
  - name: registry.local:5000/acme/web
    newTag: "1.0"  # quoted
  - name: placeholder
    newName: registry.local:5000/acme/web
  - name: registry.local:5000/acme/api
    newTag: "1.0"
  - {name: registry.local:5000/acme/web, newName: mirror.local/web}
  - name: "registry.local:5000/acme/web"
    newTag: old
    newName: registry.local:5000/acme/web)";
  const std::string want = R"(apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [deploy.yaml]
images:
  # set by flywheel
  - name: registry.local:5000/acme/web
    newTag: "abc1234"  # quoted
  - name: placeholder
    newTag: abc1234
    newName: registry.local:5000/acme/web
  - name: registry.local:5000/acme/api
    newTag: "1.0"
  - {name: registry.local:5000/acme/web, newTag: abc1234, newName: mirror.local/web}
  - name: "registry.local:5000/acme/web"
    newTag: abc1234
    newName: registry.local:5000/acme/web)";
  ImageEdit edit = Edit(in, "apps/web/kustomization.yaml");
  EXPECT_EQ(edit.content, want);
  EXPECT_EQ(edit.matched, 4);
  ASSERT_EQ(edit.changes.size(), 4u);
  EXPECT_EQ(edit.changes[0].line, 7);
  EXPECT_EQ(edit.changes[0].old_value, "1.0");
  EXPECT_EQ(edit.changes[0].new_value, "abc1234");
  EXPECT_EQ(edit.changes[1].line, 9);
  EXPECT_EQ(edit.changes[1].old_value, "");
  EXPECT_EQ(edit.changes[2].line, 12);

  // The result still parses as a kustomization, with the new tags.
  auto k = ParseKustomization("kustomization.yaml", edit.content);
  ASSERT_TRUE(k.ok()) << k.status().ToString();
  EXPECT_EQ(k->images[0].new_tag, "abc1234");
  EXPECT_EQ(k->images[1].new_tag, "abc1234");
  EXPECT_EQ(k->images[2].new_tag, "1.0");
}

// A tag that YAML would read as a number or a boolean is quoted where it is written plain.
TEST(SetImageTagTest, NumericTagsAreQuotedInKustomizations) {
  const std::string in =
      "images:\n"
      "- name: registry.local:5000/acme/web\n"
      "  newTag: v1\n"
      "- name: registry.local:5000/acme/web\n";
  auto edit = SetImageTag("kustomization.yml", in, kRepo, "1234567");
  ASSERT_TRUE(edit.ok()) << edit.status().ToString();
  EXPECT_EQ(edit->content,
            "images:\n"
            "- name: registry.local:5000/acme/web\n"
            "  newTag: \"1234567\"\n"
            "- name: registry.local:5000/acme/web\n"
            "  newTag: \"1234567\"\n");
  auto k = ParseKustomization("kustomization.yml", edit->content);
  ASSERT_TRUE(k.ok()) << k.status().ToString();
  EXPECT_EQ(k->images[1].new_tag, "1234567");
}

TEST(SetImageTagTest, EditedManifestsStillLoad) {
  const std::string in =
      "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"
      "spec:\n  containers:\n  - name: c\n    image: registry.local:5000/acme/web:1\n";
  ImageEdit edit = Edit(in);
  auto loaded = Load({{"p.yaml", edit.content}}, ".");
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ((*loaded)[0].object["spec"]["containers"][0]["image"],
            "registry.local:5000/acme/web:abc1234");
}

TEST(SetImageTagTest, JsonFilesAreEditedInPlace) {
  const std::string in =
      "{\"spec\": {\"containers\": [{\"image\": "
      "\"registry.local:5000/acme/web:1\"}]}}";
  EXPECT_EQ(Edit(in, "p.json").content,
            "{\"spec\": {\"containers\": [{\"image\": "
            "\"registry.local:5000/acme/web:abc1234\"}]}}");
}

TEST(SetImageTagTest, BadInputIsAPreciseError) {
  auto block =
      SetImageTag("d.yaml", "a: 1\nimage: |\n  registry.local:5000/acme/web:1\n", kRepo, "abc1234");
  EXPECT_EQ(block.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(block.status().message(),
            "d.yaml:2: image is a block scalar (|); write it as a plain or quoted scalar to let "
            "Flywheel edit it");
  // A block scalar for another image is none of our business.
  EXPECT_TRUE(SetImageTag("d.yaml", "image: >\n  nginx:1\n", kRepo, "abc1234").ok());

  auto multi = SetImageTag("d.yaml", "image: registry.local:5000/acme/web:1\n  continued\n", kRepo,
                           "abc1234");
  EXPECT_EQ(multi.status().message(),
            "d.yaml:1: image is a plain scalar over several lines; write it on one line");

  auto syntax = SetImageTag("d.yaml", "a: [1,\n", kRepo, "abc1234");
  EXPECT_EQ(syntax.status().code(), Code::kInvalidArgument);
  EXPECT_TRUE(syntax.status().message().starts_with("d.yaml:")) << syntax.status().message();

  auto digest = SetImageTag("kustomization.yaml",
                            "images:\n- name: registry.local:5000/acme/web\n  digest: sha256:ab\n",
                            kRepo, "abc1234");
  EXPECT_EQ(digest.status().message(),
            "kustomization.yaml:2: images entry registry.local:5000/acme/web pins a digest, "
            "which kustomize prefers to newTag; remove the digest");

  for (const char* tag : {"", "-x", ".x", "a b", "a:b", "x\"y"}) {
    auto bad = SetImageTag("d.yaml", "image: x\n", kRepo, tag);
    EXPECT_EQ(bad.status().code(), Code::kInvalidArgument) << tag;
    EXPECT_TRUE(bad.status().message().starts_with("invalid image tag")) << tag;
  }
  EXPECT_FALSE(SetImageTag("d.yaml", "image: x\n", kRepo, std::string(129, 'a')).ok());
  for (const char* repo : {"", "web:1", "web@sha256:ab", "we b", "'web'"}) {
    auto bad = SetImageTag("d.yaml", "image: x\n", repo, "abc1234");
    EXPECT_EQ(bad.status().code(), Code::kInvalidArgument) << repo;
    EXPECT_TRUE(bad.status().message().starts_with("invalid image repository")) << repo;
  }
}

}  // namespace
}  // namespace flywheel::manifest
