// An Informer against a loopback server that answers like kube-apiserver but ends watches at
// once: a watch that ends within a second without an event is a failure, so the informer backs
// off (800 ms -> 30 s with jitter, on its Clock) instead of looping; a watch that delivered
// events resets the backoff.
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <map>
#include <thread>

#include "flywheel/kube/informer.h"
#include "support/eventually.h"
#include "support/loopback_api.h"

namespace flywheel::kube {
namespace {

using namespace std::chrono_literals;
using ::flywheel::testing::Eventually;
using ::flywheel::testing::JsonAnswer;
using ::flywheel::testing::LoopbackApi;

// Serves v1 ConfigMaps in namespace "demo": an empty list, and watches whose whole body is
// `watch_body(n)` for the n-th watch (1-based); "" ends the watch at once without an event.
class ClosingWatchServer {
 public:
  explicit ClosingWatchServer(std::function<std::string(int)> watch_body)
      : api_(Routes(std::move(watch_body))) {}

  const Client& client() const { return api_.client(); }
  int Watches() const { return watches_.load(); }

 private:
  std::map<std::string, http::Handler> Routes(std::function<std::string(int)> watch_body) {
    std::map<std::string, http::Handler> routes;
    routes["/api/v1"] = [](const http::ServerRequest&) {
      return JsonAnswer(R"({"kind":"APIResourceList","groupVersion":"v1","resources":)"
                        R"([{"name":"configmaps","namespaced":true,"kind":"ConfigMap"}]})");
    };
    routes["/api/v1/namespaces/demo/configmaps"] = [this,
                                                    watch_body](const http::ServerRequest& req) {
      if (req.query.find("watch=1") == std::string::npos) {
        return JsonAnswer(R"({"kind":"ConfigMapList","apiVersion":"v1",)"
                          R"("metadata":{"resourceVersion":"10"},"items":[]})");
      }
      return JsonAnswer(watch_body(++watches_));
    };
    return routes;
  }

  std::atomic<int> watches_{0};
  LoopbackApi api_;  // last: serves until the rest is gone
};

// Runs an informer of the demo ConfigMaps on `clock` until destroyed.
struct RunningInformer {
  RunningInformer(const Client& client, FakeClock& clock)
      : informer(client, {.api_version = "v1", .kind = "ConfigMap", .namespace_name = "demo"},
                 &clock),
        thread([this](std::stop_token stop) { informer.Run(stop); }) {}
  Informer informer;
  std::jthread thread;
};

TEST(InformerWatchTest, AWatchThatEndsAtOnceBacksOffOnTheClock) {
  ClosingWatchServer server([](int) { return ""; });
  FakeClock clock;
  RunningInformer run(server.client(), clock);
  ASSERT_TRUE(run.informer.WaitForSync(run.thread.get_stop_token()));
  for (int i = 1; i <= 4; ++i) {
    ASSERT_TRUE(clock.AwaitWaiters(1, 10s))
        << "watch " << i << " ended at once and the informer did not back off (" << server.Watches()
        << " watches so far)";
    EXPECT_EQ(server.Watches(), i) << "no new watch while the fake clock stands still";
    clock.Advance(30s);  // at least the longest backoff
    ASSERT_TRUE(Eventually([&] { return server.Watches() >= i + 1; }, 10s));
  }
}

TEST(InformerWatchTest, AWatchThatDeliveredAnEventResetsTheBackoff) {
  ClosingWatchServer server([](int n) -> std::string {
    if (n != 3) return "";
    return R"({"type":"ADDED","object":{"apiVersion":"v1","kind":"ConfigMap",)"
           R"("metadata":{"name":"x","namespace":"demo","resourceVersion":"11"}}})"
           "\n";
  });
  FakeClock clock;
  RunningInformer run(server.client(), clock);
  ASSERT_TRUE(run.informer.WaitForSync(run.thread.get_stop_token()));
  for (int i = 1; i <= 2; ++i) {  // two empty watches: the backoff grows to 1.6 s +-25%
    ASSERT_TRUE(clock.AwaitWaiters(1, 10s));
    clock.Advance(30s);
    ASSERT_TRUE(Eventually([&] { return server.Watches() >= i + 1; }, 10s));
  }
  // The third watch delivers an event: the fourth starts without waiting.
  ASSERT_TRUE(Eventually([&] { return server.Watches() >= 4; }, 10s));
  EXPECT_EQ(run.informer.store().Size(), 1u);
  ASSERT_TRUE(clock.AwaitWaiters(1, 10s)) << "the fourth watch was empty: back off";
  // A reset backoff waits at most 800 ms +25%; without the reset it would be 3.2 s -25% or more.
  clock.Advance(1s);
  EXPECT_TRUE(Eventually([&] { return server.Watches() >= 5; }, 10s))
      << "the backoff was not reset by the watch that delivered an event";
}

TEST(InformerWatchTest, LastSyncResourceVersionFollowsTheListThenEachDeliveredEvent) {
  ClosingWatchServer server([](int n) -> std::string {
    if (n == 1) {
      return R"({"type":"ADDED","object":{"apiVersion":"v1","kind":"ConfigMap",)"
             R"("metadata":{"name":"x","namespace":"demo","resourceVersion":"11"}}})"
             "\n"
             R"({"type":"DELETED","object":{"apiVersion":"v1","kind":"ConfigMap",)"
             R"("metadata":{"name":"x","namespace":"demo","resourceVersion":"12"}}})"
             "\n";
    }
    if (n == 2) {
      return R"({"type":"BOOKMARK","object":{"apiVersion":"v1","kind":"ConfigMap",)"
             R"("metadata":{"resourceVersion":"15"}}})"
             "\n";
    }
    return "";
  });
  FakeClock clock;
  Informer informer(server.client(),
                    {.api_version = "v1", .kind = "ConfigMap", .namespace_name = "demo"}, &clock);
  EXPECT_EQ(informer.LastSyncResourceVersion(), "") << "nothing listed yet";
  std::jthread thread([&](std::stop_token stop) { informer.Run(stop); });
  // The list is at 10; the first watch adds x at 11 and deletes it at 12; the second watch's
  // bookmark moves on to 15 though no object changed.
  EXPECT_TRUE(Eventually([&] { return informer.LastSyncResourceVersion() == "15"; }, 10s))
      << informer.LastSyncResourceVersion();
  EXPECT_EQ(informer.store().Size(), 0u) << "x was added and deleted before the bookmark";
}

}  // namespace
}  // namespace flywheel::kube
