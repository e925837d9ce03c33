// What the CLI prints as kubectl does: ages, tables and YAML another reader reads back exactly.
#include "flywheel/cli/output.h"

#include <gtest/gtest.h>

#include <sstream>

#include "flywheel/manifest/loader.h"

namespace flywheel::cli {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

milliseconds Seconds(int64_t s) { return milliseconds(s * 1000); }

TEST(HumanDurationTest, SaysAgesAsKubectlDoes) {
  const std::vector<std::pair<int64_t, std::string>> cases = {
      {-5, "<invalid>"},
      {0, "0s"},
      {45, "45s"},
      {119, "119s"},
      {120, "2m"},
      {312, "5m12s"},
      {600, "10m"},
      {17 * 60 + 40, "17m"},
      {179 * 60, "179m"},
      {3 * 3600, "3h"},
      {5 * 3600 + 3 * 60 + 9, "5h3m"},
      {10 * 3600, "10h"},
      {47 * 3600, "47h"},
      {2 * 86400, "2d"},
      {2 * 86400 + 3 * 3600, "2d3h"},
      {12 * 86400, "12d"},
      {729 * 86400, "729d"},
      {2 * 365 * 86400 + 14 * 86400, "2y14d"},
      {9 * 365 * 86400, "9y"}};
  for (const auto& [seconds, want] : cases) {
    EXPECT_EQ(HumanDuration(Seconds(seconds)), want) << seconds << "s";
  }
  EXPECT_EQ(HumanDuration(milliseconds(-900)), "0s") << "clock skew under a second";
}

TEST(PrintTableTest, PadsColumnsLikeKubectlsTabwriter) {
  std::ostringstream out;
  PrintTable({{"NAME", "READY", "AGE"}, {"web", "True", "5m"}, {"a-long-name", "", "2d3h"}}, out);
  EXPECT_EQ(out.str(),
            "NAME          READY   AGE\n"
            "web           True    5m\n"
            "a-long-name           2d3h\n");
  std::ostringstream narrow;
  PrintTable({{"A", "B"}, {"x", "y"}}, narrow);
  EXPECT_EQ(narrow.str(), "A     B\nx     y\n") << "columns are at least six wide";
}

TEST(ToYamlTest, WritesKubectlsLayout) {
  const json object = json::parse(R"({
    "apiVersion": "flywheel.dev/v1alpha1", "kind": "Release",
    "metadata": {"name": "web", "labels": {"app.kubernetes.io/name": "web"}, "annotations": {}},
    "spec": {"suspend": false, "interval": "1m", "paths": ["apps/web", "*"],
             "checks": [{"name": "errors", "threshold": 0.05}, {"name": "p99", "for": 30}],
             "matrix": [[1, 2], []], "note": null}})");
  EXPECT_EQ(ToYaml(object),
            "apiVersion: flywheel.dev/v1alpha1\n"
            "kind: Release\n"
            "metadata:\n"
            "  annotations: {}\n"
            "  labels:\n"
            "    app.kubernetes.io/name: web\n"
            "  name: web\n"
            "spec:\n"
            "  checks:\n"
            "  - name: errors\n"
            "    threshold: 0.05\n"
            "  - for: 30\n"
            "    name: p99\n"
            "  interval: 1m\n"
            "  matrix:\n"
            "  - - 1\n"
            "    - 2\n"
            "  - []\n"
            "  note: null\n"
            "  paths:\n"
            "  - apps/web\n"
            "  - '*'\n"
            "  suspend: false\n");
  EXPECT_EQ(ToYaml(json::object()), "{}\n");
  EXPECT_EQ(ToYaml(json("plain")), "plain\n");
}

TEST(ToYamlTest, QuotesWhatAReaderWouldTakeForSomethingElse) {
  const json strings = {{"version", "1.10"},
                        {"sha", "0123abc"},
                        {"yes", "yes"},
                        {"octal", "0755"},
                        {"base60", "1:30"},
                        {"exp", "1e3"},
                        {"under", "1_000"},
                        {"off", "off"},
                        {"null", "~"},
                        {"empty", ""},
                        {"time", "2026-12-01T17:32:27Z"},
                        {"colon", "a: b"},
                        {"comment", "a #b"},
                        {"quote", "'x'"},
                        {"tab", "a\tb"},
                        {"dash", "- x"},
                        {"plain", "web-1.2"}};
  const std::string yaml = ToYaml(strings);
  for (const char* line :
       {"version: \"1.10\"\n", "sha: 0123abc\n", "octal: \"0755\"\n", "base60: \"1:30\"\n",
        "exp: \"1e3\"\n", "under: \"1_000\"\n", "\"yes\": \"yes\"\n", "\"off\": \"off\"\n",
        "\"null\": \"~\"\n", "empty: \"\"\n", "time: \"2026-12-01T17:32:27Z\"\n", "colon: 'a: b'\n",
        "comment: 'a #b'\n", "quote: '''x'''\n", "tab: \"a\\tb\"\n", "dash: '- x'\n",
        "plain: web-1.2\n"}) {
    EXPECT_NE(yaml.find(line), std::string::npos) << line << " missing in\n" << yaml;
  }
}

TEST(ToYamlTest, WritesMultiLineStringsAsLiteralBlocks) {
  const json object = {
      {"clip", "line one\nline two\n"}, {"strip", "a\n\nb"}, {"keep", "a\n\n"}, {"list", {"x\ny"}}};
  EXPECT_EQ(ToYaml(object),
            "clip: |\n  line one\n  line two\n"
            "keep: |+\n  a\n\n"
            "list:\n- |-\n  x\n  y\n"
            "strip: |-\n  a\n\n  b\n");
  // A first line that starts with a space cannot be a plain literal block.
  EXPECT_EQ(ToYaml(json{{"k", " a\nb"}}), "k: \" a\\nb\"\n");
}

// Whatever the object, a YAML 1.2 reader (the manifest loader's) reads back the same JSON.
TEST(ToYamlTest, RoundTripsThroughTheManifestReader) {
  const json object = json::parse(R"({
    "apiVersion": "v1", "kind": "ConfigMap",
    "metadata": {"name": "odd", "namespace": "team-a",
                 "annotations": {"x/y": "{\"json\": [1, 2]}", "multi": "a\n  indented\n\ttab\n"}},
    "data": {"true": "false", "n": "12", "f": "1e3", "neg": "-1", "dot": ".5", "hex": "0x1F",
             "inf": ".inf", "nan": ".NaN", "at": "@home", "bang": "!tag", "amp": "&a", "star": "*a",
             "pct": "%x", "brace": "{a}", "bracket": "[a]", "pipe": "|", "gt": ">", "q": "?x",
             "key:": "v:", "back": "`x`", "unicode": "héllo ✓", "crlf": "a\r\nb", "trail": "a ",
             "lead": " a", "hash": "#x", "empty": "", "nested": "- - x", "newlines": "\n\n",
             "ctrl": "\u0001", "dq": "say \"hi\"", "sha": "0123abc", "age": "1m", "octal": "0755",
             "date": "2026-12-01", "b60": "1:30", "yes": "yes", "y": "y", "tilde": "~"},
    "binaryData": {}, "immutable": true, "extra": [0, -1.5, null, [], {}, ["x", {"a": [true]}]]})");
  auto loaded = manifest::Load({{"o.yaml", ToYaml(object)}}, ".");
  ASSERT_TRUE(loaded.ok()) << loaded.status().message() << "\n" << ToYaml(object);
  ASSERT_EQ(loaded->size(), 1u);
  EXPECT_EQ(loaded->front().object, object) << ToYaml(object);
}

}  // namespace
}  // namespace flywheel::cli
