// PipelineSpec and RunSpec: the defaults of the CRD, and what the schema lets through but a run
// cannot use, each a precise message naming the field.
#include "flywheel/pipeline/spec.h"

#include <gtest/gtest.h>

namespace flywheel::pipeline {
namespace {

using nlohmann::json;

json Pipeline(json spec) {
  json base = {{"source", {{"url", "https://git.example.com/acme/web.git"}}},
               {"steps", {{{"name", "build"}, {"image", "tools:1"}, {"script", "make"}}}}};
  base.update(spec);
  return {{"metadata", {{"name", "web"}, {"namespace", "team"}}}, {"spec", base}};
}

std::string Error(json spec) {
  auto parsed = PipelineSpec::Parse(Pipeline(spec));
  EXPECT_FALSE(parsed.ok());
  if (parsed.ok()) return "";
  EXPECT_EQ(parsed.status().code(), Code::kInvalidArgument);
  return parsed.status().message();
}

TEST(PipelineSpecTest, AMinimalPipelineGetsTheDefaults) {
  auto s = PipelineSpec::Parse(Pipeline(json::object()));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->branch, "main");
  EXPECT_EQ(s->secret, "");
  EXPECT_EQ(s->poll_interval, std::chrono::minutes(1));
  EXPECT_EQ(s->concurrency, Concurrency::kReplace);
  EXPECT_EQ(s->timeout, std::chrono::hours(1));
  EXPECT_EQ(s->keep_succeeded, 10);
  EXPECT_EQ(s->keep_failed, 10);
  EXPECT_FALSE(s->artifact.has_value());
  EXPECT_FALSE(s->promote.has_value());
  EXPECT_FALSE(s->suspend);
  EXPECT_EQ(s->PodStepNames(), (std::vector<std::string>{"clone", "build"}));
}

TEST(PipelineSpecTest, EveryFieldIsRead) {
  auto s = PipelineSpec::Parse(Pipeline(
      {{"source",
        {{"url", "ssh://git@git.example.com/acme/web.git"},
         {"branch", "release"},
         {"secretRef", {{"name", "web-git"}}},
         {"pollInterval", "0"}}},
       {"steps",
        {{{"name", "build"}, {"image", "tools:1"}, {"script", "make"}},
         {{"name", "test"}, {"image", "tools:1"}, {"command", {"make"}}, {"args", {"test"}}}}},
       {"artifact",
        {{"image", "registry.local:5000/acme/web"},
         {"builder", "kaniko"},
         {"pushSecretRef", {{"name", "push"}}}}},
       {"promote",
        {{"url", "https://git.example.com/acme/deploy.git"},
         {"paths", {"apps/web", "apps/web-canary"}},
         {"author", {{"name", "bot"}, {"email", "bot@example.invalid"}}}}},
       {"concurrency", "Queue"},
       {"timeout", "30m"},
       {"historyLimit", {{"succeeded", 3}, {"failed", 2000}}},
       {"suspend", true}}));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->branch, "release");
  EXPECT_EQ(s->secret, "web-git");
  EXPECT_EQ(s->poll_interval.count(), 0) << "0 disables polling";
  ASSERT_TRUE(s->artifact);
  EXPECT_EQ(s->artifact->builder, "kaniko");
  EXPECT_EQ(s->artifact->context, ".");
  EXPECT_EQ(s->artifact->dockerfile, "Dockerfile");
  EXPECT_EQ(s->artifact->push_secret, "push");
  ASSERT_TRUE(s->promote);
  EXPECT_EQ(s->promote->branch, "main");
  EXPECT_EQ(s->promote->paths, (std::vector<std::string>{"apps/web", "apps/web-canary"}));
  EXPECT_EQ(s->promote->author_name, "bot");
  EXPECT_EQ(s->concurrency, Concurrency::kQueue);
  EXPECT_EQ(s->timeout, std::chrono::minutes(30));
  EXPECT_EQ(s->keep_succeeded, 3);
  EXPECT_EQ(s->keep_failed, 1000) << "clamped to the schema's maximum";
  EXPECT_TRUE(s->suspend);
  EXPECT_EQ(s->PodStepNames(), (std::vector<std::string>{"clone", "build", "test", "build-image"}));
}

TEST(PipelineSpecTest, ASubSecondPollIsRaisedToOneSecond) {
  auto s =
      PipelineSpec::Parse(Pipeline({{"source", {{"url", "file:///r"}, {"pollInterval", "10ms"}}}}));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->poll_interval, std::chrono::seconds(1));
}

TEST(PipelineSpecTest, WhatARunCannotUseIsAnErrorNamingTheField) {
  EXPECT_EQ(Error({{"source", json::object()}}), "spec.source.url is required");
  EXPECT_NE(Error({{"steps", {{{"name", "clone"}, {"image", "x"}, {"script", "x"}}}}})
                .find("spec.steps[0].name: \"clone\" is the name of a built-in step"),
            std::string::npos);
  EXPECT_NE(Error({{"steps", {{{"name", "promote"}, {"image", "x"}, {"script", "x"}}}}})
                .find("built-in step"),
            std::string::npos);
  EXPECT_EQ(Error({{"steps",
                    {{{"name", "a"}, {"image", "x"}, {"script", "x"}},
                     {{"name", "a"}, {"image", "x"}, {"script", "y"}}}}}),
            "spec.steps[1].name: \"a\" is used twice");
  EXPECT_EQ(Error({{"steps", json::array()}}), "spec.steps: at least one step is required");
  EXPECT_EQ(
      Error({{"steps", {{{"name", "a"}, {"image", "x"}, {"script", "x"}, {"command", {"y"}}}}}}),
      "spec.steps[0]: set exactly one of script or command (step \"a\")");
  EXPECT_EQ(Error({{"steps", {{{"name", "a"}, {"image", "x"}}}}}),
            "spec.steps[0]: set exactly one of script or command (step \"a\")");
  EXPECT_EQ(Error({{"steps", {{{"name", "a"}, {"image", "x"}, {"script", "x"}, {"args", {"y"}}}}}}),
            "spec.steps[0].args is only allowed together with command");
  EXPECT_EQ(Error({{"steps", {{{"name", "a"}, {"script", "x"}}}}}),
            "spec.steps[0].image is required");
  EXPECT_NE(Error({{"artifact", {{"image", "registry.local:5000/acme/web:1.0"}}}})
                .find("has a tag or digest; name the repository only"),
            std::string::npos);
  EXPECT_NE(Error({{"artifact", {{"image", "acme/web@sha256:abc"}}}}).find("tag or digest"),
            std::string::npos);
  EXPECT_EQ(Error({{"artifact", {{"image", "web"}, {"builder", "docker"}}}}),
            "spec.artifact.builder: \"docker\" is not one of buildah, kaniko, buildkit");
  EXPECT_EQ(Error({{"promote", {{"url", "file:///d"}, {"paths", {"a"}}}}}),
            "spec.promote needs spec.artifact (the image whose tag it writes)");
  EXPECT_EQ(Error({{"artifact", {{"image", "web"}}}, {"promote", {{"url", "file:///d"}}}}),
            "spec.promote.paths: at least one path is required");
  EXPECT_EQ(Error({{"concurrency", "Cancel"}}),
            "spec.concurrency: \"Cancel\" is not one of Replace, Queue, Allow");
  EXPECT_EQ(Error({{"timeout", "0"}}), "spec.timeout: must be greater than 0");
  EXPECT_NE(Error({{"timeout", "soon"}}).find("spec.timeout: "), std::string::npos);
  EXPECT_NE(Error({{"source", {{"url", "file:///r"}, {"pollInterval", "-1m"}}}})
                .find("spec.source.pollInterval: must not be negative"),
            std::string::npos);
}

TEST(PipelineSpecTest, AHostPortIsNotATag) {
  auto s = PipelineSpec::Parse(Pipeline({{"artifact", {{"image", "registry.local:5000/web"}}}}));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->artifact->image, "registry.local:5000/web");
}

TEST(RunSpecTest, ARunNamesItsPipelineAndAFullRevision) {
  const std::string sha(40, 'a');
  auto r = RunSpec::Parse({{"spec", {{"pipelineRef", {{"name", "web"}}}, {"revision", sha}}}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->pipeline, "web");
  EXPECT_EQ(r->revision, sha);
  EXPECT_FALSE(r->cancelled);
  EXPECT_EQ(ShortRevision(sha), "aaaaaaa");
  r = RunSpec::Parse({{"spec",
                       {{"pipelineRef", {{"name", "web"}}},
                        {"revision", std::string(64, 'b')},
                        {"cancelled", true}}}});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->cancelled);
  for (const std::string& bad :
       std::vector<std::string>{"abc1234", "main", std::string(40, 'G'), std::string(41, 'a')}) {
    auto e = RunSpec::Parse({{"spec", {{"pipelineRef", {{"name", "web"}}}, {"revision", bad}}}});
    ASSERT_FALSE(e.ok()) << bad;
    EXPECT_NE(e.status().message().find("is not a full commit SHA"), std::string::npos);
  }
  auto e = RunSpec::Parse({{"spec", {{"revision", std::string(40, 'a')}}}});
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().message(), "spec.pipelineRef.name is required");
}

}  // namespace
}  // namespace flywheel::pipeline

namespace flywheel::pipeline {
namespace {

TEST(NewRunObjectTest, ARunIsOwnedByItsPipelineAndLabelledWithIt) {
  const nlohmann::json pipeline = {
      {"metadata", {{"name", "web"}, {"namespace", "team"}, {"uid", "u-1"}}}};
  const std::string sha(40, 'c');
  nlohmann::json run = NewRunObject(pipeline, sha);
  EXPECT_EQ(run["kind"], "PipelineRun");
  EXPECT_EQ(run["metadata"]["namespace"], "team");
  EXPECT_EQ(run["metadata"]["labels"]["flywheel.dev/pipeline"], "web");
  EXPECT_FALSE(run["metadata"].contains("name")) << "the caller names it";
  const nlohmann::json& owner = run["metadata"]["ownerReferences"][0];
  EXPECT_EQ(owner["kind"], "Pipeline");
  EXPECT_EQ(owner["uid"], "u-1");
  EXPECT_EQ(owner["controller"], true);
  auto spec = RunSpec::Parse(run);
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->pipeline, "web");
  EXPECT_EQ(spec->revision, sha);
}

}  // namespace
}  // namespace flywheel::pipeline
