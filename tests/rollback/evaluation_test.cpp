#include "flywheel/rollback/evaluation.h"

#include <gtest/gtest.h>

#include <cmath>

namespace flywheel::rollback {
namespace {

using nlohmann::json;
using std::chrono::seconds;

const Time kT0 = *ParseRfc3339("2026-12-01T10:00:00Z");

PolicySpec Spec(const std::string& op, double threshold, const std::string& for_duration,
                const std::string& no_data = "Ignore", const std::string& on_error = "Ignore") {
  json policy = {{"spec",
                  {{"releaseRef", {{"name", "web"}}},
                   {"prometheus", {{"url", "http://127.0.0.1:9090"}}},
                   {"noData", no_data},
                   {"onError", on_error},
                   {"metrics",
                    {{{"name", "error-ratio"},
                      {"query", "q"},
                      {"threshold", {{"operator", op}, {"value", threshold}}},
                      {"for", for_duration}}}}}}};
  auto spec = PolicySpec::Parse(policy);
  EXPECT_TRUE(spec.ok()) << spec.status().ToString();
  return *spec;
}

// Runs one evaluation per entry of `seen`, `step` apart from kT0, and returns whether each fired.
std::vector<bool> Evaluations(const PolicySpec& spec, const std::vector<Observation>& seen,
                              seconds step = seconds(10), MetricState* last = nullptr) {
  MetricState state;
  std::vector<bool> fired;
  Time now = kT0;
  for (const Observation& o : seen) {
    state = Evaluate(state, spec.metrics[0], o, spec, now);
    fired.push_back(Fires(state, spec.metrics[0]));
    now += step;
  }
  if (last) *last = state;
  return fired;
}

Observation V(double v) { return Observation::Value(v, json(v).dump()); }

TEST(EvaluationTest, EveryOperatorComparesAsWritten) {
  struct Case {
    Operator op;
    double value, threshold;
    bool breaches;
  } cases[] = {
      {Operator::kGreater, 0.2, 0.05, true},
      {Operator::kGreater, 0.05, 0.05, false},
      {Operator::kGreaterEqual, 0.05, 0.05, true},
      {Operator::kGreaterEqual, 0.04, 0.05, false},
      {Operator::kLess, 0.9, 0.95, true},
      {Operator::kLess, 0.95, 0.95, false},
      {Operator::kLessEqual, 0.95, 0.95, true},
      {Operator::kLessEqual, 0.96, 0.95, false},
      {Operator::kEqual, 0, 0, true},
      {Operator::kEqual, 1, 0, false},
      {Operator::kNotEqual, 1, 0, true},
      {Operator::kNotEqual, 0, 0, false},
      {Operator::kGreater, INFINITY, 1e9, true},
      {Operator::kLess, -INFINITY, -1e9, true},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Compares(c.value, c.op, c.threshold), c.breaches)
        << c.value << " " << OperatorText(c.op) << " " << c.threshold;
  }
}

TEST(EvaluationTest, ForZeroFiresOnTheFirstBreachingEvaluation) {
  EXPECT_EQ(Evaluations(Spec(">", 0.05, "0s"), {V(0.01), V(0.2)}),
            (std::vector<bool>{false, true}));
}

TEST(EvaluationTest, ForNeedsABreachAtEveryEvaluationForThatLong) {
  // 10 s apart, for: 30s: the breach starts at the 2nd evaluation and fires 30 s later.
  EXPECT_EQ(Evaluations(Spec(">", 0.05, "30s"), {V(0.01), V(0.2), V(0.2), V(0.3), V(0.2), V(0.2)}),
            (std::vector<bool>{false, false, false, false, true, true}));
}

TEST(EvaluationTest, ASpikeShorterThanForNeverFires) {
  // One passing evaluation in between restarts the timer: consecutive, not a total.
  EXPECT_EQ(Evaluations(Spec(">", 0.05, "30s"),
                        {V(0.2), V(0.2), V(0.2), V(0.01), V(0.2), V(0.2), V(0.2)}),
            (std::vector<bool>(7, false)));
}

TEST(EvaluationTest, NoDataIgnoredNeitherFiresNorStopsTheTimer) {
  MetricState last;
  auto fired = Evaluations(Spec(">", 0.05, "20s"), {V(0.2), Observation::NoData(), V(0.2)},
                           seconds(10), &last);
  EXPECT_EQ(fired, (std::vector<bool>{false, false, true}));
  ASSERT_TRUE(last.breaching_since);
  EXPECT_EQ(*last.breaching_since, kT0);
  // No data alone never fires, however long it lasts.
  EXPECT_EQ(Evaluations(Spec(">", 0.05, "0s"), {Observation::NoData("NaN"), Observation::NoData()}),
            (std::vector<bool>{false, false}));
}

TEST(EvaluationTest, NoDataAsBreachFires) {
  MetricState last;
  auto fired = Evaluations(Spec(">", 0.05, "10s", "Breach"),
                           {Observation::NoData("NaN"), Observation::NoData()}, seconds(10), &last);
  EXPECT_EQ(fired, (std::vector<bool>{false, true}));
  EXPECT_EQ(last.state, "NoData");
  EXPECT_NE(DescribeBreach(last, Spec(">", 0.05, "10s").metrics[0]).find("no data"),
            std::string::npos);
}

TEST(EvaluationTest, ErrorsIgnoredNeverRollBackAndAreCounted) {
  MetricState last;
  std::vector<Observation> outage(7, Observation::Error("Unavailable: connection refused"));
  EXPECT_EQ(Evaluations(Spec(">", 0.05, "0s"), outage, seconds(10), &last),
            std::vector<bool>(7, false));
  EXPECT_EQ(last.consecutive_errors, 7);
  EXPECT_EQ(last.state, "Error");
  EXPECT_EQ(last.last_error, "Unavailable: connection refused");
  EXPECT_FALSE(last.breaching_since);
}

TEST(EvaluationTest, ErrorsAsBreachRollBackAfterFor) {
  std::vector<Observation> outage(7, Observation::Error("Unavailable: connection refused"));
  auto fired = Evaluations(Spec(">", 0.05, "60s", "Ignore", "Breach"), outage);
  EXPECT_EQ(fired, (std::vector<bool>{false, false, false, false, false, false, true}));
}

TEST(EvaluationTest, FiresOnlyOnTheEvidenceOfAnEvaluation) {
  // for: 30s, interval 10s: breaching at 0, 10, 20 s. A reconcile at 35 s (no evaluation due)
  // has no evaluation showing 30 s of breach: nothing fires until the one at 30 s says so.
  PolicySpec spec = Spec(">", 0.05, "30s");
  MetricState state;
  for (int t : {0, 10, 20})
    state = Evaluate(state, spec.metrics[0], V(0.2), spec, kT0 + seconds(t));
  EXPECT_FALSE(Fires(state, spec.metrics[0])) << "the last evaluation saw 20 s of breach";
  state = Evaluate(state, spec.metrics[0], V(0.2), spec, kT0 + seconds(30));
  EXPECT_TRUE(Fires(state, spec.metrics[0]));
}

TEST(EvaluationTest, ASuccessfulEvaluationResetsTheErrorCount) {
  MetricState last;
  Evaluations(Spec(">", 0.05, "0s"), {Observation::Error("x"), Observation::Error("y"), V(0.01)},
              seconds(10), &last);
  EXPECT_EQ(last.consecutive_errors, 0);
  EXPECT_EQ(last.last_error, "");
  EXPECT_EQ(last.state, "Passing");
}

TEST(EvaluationTest, TheTimerSurvivesARestartThroughStatus) {
  PolicySpec spec = Spec(">", 0.05, "30s");
  MetricState state =
      Evaluate({}, spec.metrics[0], V(0.2), spec, kT0 + std::chrono::milliseconds(700));
  // What the status holds, read back by a new controller process.
  MetricState restored = MetricState::FromJson(state.ToJson(), spec);
  ASSERT_TRUE(restored.breaching_since);
  EXPECT_EQ(*restored.breaching_since, *state.breaching_since);
  EXPECT_TRUE(restored.counted_as_breach);
  MetricState later = Evaluate(restored, spec.metrics[0], V(0.2), spec, kT0 + seconds(30));
  EXPECT_FALSE(Fires(later, spec.metrics[0])) << "29.3 s is not 30 s";
  later = Evaluate(later, spec.metrics[0], V(0.2), spec, kT0 + seconds(31));
  EXPECT_TRUE(Fires(later, spec.metrics[0]));
}

TEST(EvaluationTest, DescribesABreachAsTheIssueAsks) {
  PolicySpec spec = Spec(">", 0.05, "5m");
  MetricState state = Evaluate({}, spec.metrics[0], Observation::Value(0.21, "0.21"), spec, kT0);
  EXPECT_EQ(DescribeBreach(state, spec.metrics[0]), "error-ratio 0.21 > 0.05 for 5m");
  // Prometheus' full precision is kept in status; the reason has four significant digits.
  state = Evaluate({}, spec.metrics[0],
                   Observation::Value(0.2704858401998873, "0.2704858401998873"), spec, kT0);
  EXPECT_EQ(state.value, "0.2704858401998873");
  EXPECT_EQ(DescribeBreach(state, spec.metrics[0]), "error-ratio 0.2705 > 0.05 for 5m");
  state = Evaluate({}, spec.metrics[0], Observation::Value(1234567.0, "1234567"), spec, kT0);
  EXPECT_EQ(DescribeBreach(state, spec.metrics[0]), "error-ratio 1.235e+06 > 0.05 for 5m");
}

TEST(EvaluationTest, QueryTemplatesExpandKnownNamesAndRejectOthers) {
  QueryVars vars = {{"namespace", "team-a"},
                    {"release", "web"},
                    {"targetNamespace", "prod"},
                    {"revision", "0123456789abcdef"},
                    {"revisionShort", "0123456"}};
  auto q = ExpandQuery(
      "rate(x{namespace=\"{{targetNamespace}}\",rel=\"{{ release "
      "}}\",v=\"{{revisionShort}}\"}[1m])",
      vars);
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  EXPECT_EQ(*q, "rate(x{namespace=\"prod\",rel=\"web\",v=\"0123456\"}[1m])");
  auto bad = ExpandQuery("x{a=\"{{nope}}\"}", vars);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("{{nope}}"), std::string::npos);
  EXPECT_EQ(*ExpandQuery("no templates {here}", vars), "no templates {here}");
}

TEST(EvaluationTest, TheWindowOpensAtApplyAndZeroMeansAlways) {
  json policy = {
      {"spec",
       {{"releaseRef", {{"name", "web"}}},
        {"alertmanager", {{"tokenSecretRef", {{"name", "t"}}}, {"matchLabels", {{"a", "b"}}}}},
        {"window", "10m"}}}};
  auto spec = PolicySpec::Parse(policy);
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_TRUE(CheckWindow(*spec, kT0, kT0 + seconds(599)).inside);
  EXPECT_FALSE(CheckWindow(*spec, kT0, kT0 + seconds(600)).inside);
  policy["spec"]["window"] = "0";
  spec = PolicySpec::Parse(policy);
  ASSERT_TRUE(spec.ok());
  EXPECT_TRUE(CheckWindow(*spec, kT0, kT0 + std::chrono::hours(24 * 365)).inside);
  EXPECT_FALSE(CheckWindow(*spec, kT0, kT0).end);
}

TEST(EvaluationTest, NextEvaluationIsAnIntervalAfterTheEarliest) {
  PolicySpec spec = Spec(">", 1, "0s");
  EXPECT_EQ(NextEvaluation({}, spec, kT0), kT0) << "never evaluated: now";
  MetricState s = Evaluate({}, spec.metrics[0], V(0), spec, kT0);
  EXPECT_EQ(NextEvaluation({s}, spec, kT0 + seconds(1)), kT0 + seconds(30));
}

TEST(PolicySpecTest, DefaultsAreSpecs) {
  auto spec = PolicySpec::Parse(
      {{"spec",
        {{"releaseRef", {{"name", "web"}}},
         {"prometheus", {{"url", "http://p:9090"}}},
         {"metrics",
          {{{"name", "m"}, {"query", "q"}, {"threshold", {{"operator", "<"}, {"value", 1}}}}}}}}});
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->interval, seconds(30));
  EXPECT_EQ(spec->window, std::chrono::minutes(30));
  EXPECT_EQ(spec->cooldown, std::chrono::minutes(10));
  EXPECT_EQ(spec->prometheus_timeout, seconds(10));
  EXPECT_EQ(spec->metrics[0].for_duration, Duration{0});
  EXPECT_EQ(spec->no_data, Treat::kIgnore);
  EXPECT_EQ(spec->on_error, Treat::kIgnore);
  EXPECT_TRUE(spec->git_revert);
  EXPECT_FALSE(spec->dry_run);
}

TEST(PolicySpecTest, DurationsTheSchemaLetThroughButCannotWorkAreErrors) {
  json base = {
      {"releaseRef", {{"name", "web"}}},
      {"prometheus", {{"url", "http://p:9090"}}},
      {"metrics",
       {{{"name", "m"}, {"query", "q"}, {"threshold", {{"operator", ">"}, {"value", 1}}}}}}};
  struct Case {
    std::string field, value, expect;
  } cases[] = {
      {"interval", "1ms", "spec.interval 1ms is out of range"},
      {"interval", "100000h", "spec.interval 100000h is out of range"},
      {"window", "-5m", "spec.window"},
      {"interval", "soon", "spec.interval"},
  };
  for (const Case& c : cases) {
    json spec = base;
    spec[c.field] = c.value;
    auto parsed = PolicySpec::Parse({{"spec", spec}});
    ASSERT_FALSE(parsed.ok()) << c.field << "=" << c.value;
    EXPECT_EQ(parsed.status().code(), Code::kInvalidArgument);
    EXPECT_NE(parsed.status().message().find(c.expect), std::string::npos)
        << parsed.status().message();
  }
  json no_trigger = {{"releaseRef", {{"name", "web"}}}};
  auto parsed = PolicySpec::Parse({{"spec", no_trigger}});
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.status().message().find("at least one trigger"), std::string::npos);
}

}  // namespace
}  // namespace flywheel::rollback
