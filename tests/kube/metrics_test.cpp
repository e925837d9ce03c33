// The controller runtime's series exist from the moment a controller is made, before any
// reconcile, as controller-runtime's do: a dashboard shows 0, not "no data".
#include "flywheel/kube/metrics.h"

#include <gtest/gtest.h>

#include "flywheel/kube/controller.h"
#include "flywheel/kube/metric_table.h"

namespace flywheel::kube {
namespace {

class NeverCalled : public Reconciler {
 public:
  Result<ReconcileResult> Reconcile(const std::string& key, std::stop_token) override {
    ADD_FAILURE() << "reconciled " << key;
    return ReconcileResult::Done();
  }
};

TEST(RuntimeMetricsTest, ControllerSeriesExistAtZeroFromTheStart) {
  RuntimeMetrics metrics(std::make_shared<prometheus::Registry>());
  NeverCalled reconciler;
  Controller controller("release", reconciler, {.workers = 4, .metrics = &metrics});
  const std::string text = metrics.Serialize();
  for (const char* line : {
           R"(controller_runtime_reconcile_total{controller="release",result="success"} 0)",
           R"(controller_runtime_reconcile_total{controller="release",result="error"} 0)",
           R"(controller_runtime_reconcile_total{controller="release",result="requeue"} 0)",
           R"(controller_runtime_reconcile_total{controller="release",result="requeue_after"} 0)",
           R"(controller_runtime_reconcile_errors_total{controller="release"} 0)",
           R"(controller_runtime_reconcile_panics_total{controller="release"} 0)",
           R"(controller_runtime_max_concurrent_reconciles{controller="release"} 4)",
           R"(controller_runtime_active_workers{controller="release"} 0)",
       }) {
    EXPECT_NE(text.find(std::string("\n") + line + "\n"), std::string::npos)
        << "missing: " << line << "\n"
        << text;
  }
}

TEST(RuntimeMetricsTest, ReconcilesCountFromZero) {
  RuntimeMetrics metrics(std::make_shared<prometheus::Registry>());
  metrics.AddController("release", 1);
  metrics.ObserveReconcile("release", "error", 0.1);
  const std::string text = metrics.Serialize();
  EXPECT_NE(text.find(R"(controller_runtime_reconcile_total{controller="release",result="error"} 1)"
                      "\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(R"(controller_runtime_reconcile_errors_total{controller="release"} 1)"
                      "\n"),
            std::string::npos)
      << text;
  EXPECT_NE(
      text.find(R"(controller_runtime_reconcile_total{controller="release",result="success"} 0)"
                "\n"),
      std::string::npos)
      << text;
}

TEST(RuntimeMetricsTest, ARegisteredTableIsExposedWhileItLives) {
  RuntimeMetrics runtime(std::make_shared<prometheus::Registry>());
  auto table = std::make_shared<SeriesTable>(SeriesTable::Type::kCounter, "flywheel_x_total", "X",
                                             std::vector<std::string>{"name"});
  runtime.Register(table);
  runtime.SetLeader("flywheel", true);
  table->Increment({"web"});
  std::string text = runtime.Serialize();
  EXPECT_NE(text.find("\nflywheel_x_total{name=\"web\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nleader_election_master_status{name=\"flywheel\"} 1\n"), std::string::npos)
      << "the registry's own families stay:\n"
      << text;
  table.reset();
  text = runtime.Serialize();
  EXPECT_EQ(text.find("flywheel_x_total"), std::string::npos) << text;
}

}  // namespace
}  // namespace flywheel::kube
