// Client::WithCallTimeout: a call's retries stop before they would reach past the timeout (the
// backoff sleeps on the client's Clock, so the schedule is exact), while the plain client keeps
// retrying.
#include <gtest/gtest.h>

#include <atomic>
#include <future>

#include "flywheel/kube/client.h"
#include "support/eventually.h"
#include "support/loopback_api.h"

namespace flywheel::kube {
namespace {

using namespace std::chrono_literals;
using ::flywheel::testing::Eventually;
using ::flywheel::testing::JsonAnswer;
using ::flywheel::testing::LoopbackApi;

// Discovery for v1 ConfigMaps; every GET of demo/cm answers 503, counted.
std::map<std::string, http::Handler> Unavailable(std::atomic<int>* gets) {
  return {{"/api/v1",
           [](const http::ServerRequest&) {
             return JsonAnswer(R"({"kind":"APIResourceList","groupVersion":"v1","resources":)"
                               R"([{"name":"configmaps","namespaced":true,"kind":"ConfigMap"}]})");
           }},
          {"/api/v1/namespaces/demo/configmaps/cm", [gets](const http::ServerRequest&) {
             ++*gets;
             return JsonAnswer(R"({"kind":"Status","apiVersion":"v1","status":"Failure",)"
                               R"("reason":"ServiceUnavailable","code":503,"message":"busy"})",
                               503);
           }}};
}

TEST(ClientCallTimeoutTest, NoRetryReachesPastTheCallTimeout) {
  FakeClock clock;
  std::atomic<int> gets{0};
  LoopbackApi api(Unavailable(&gets), {}, ClientOptions{.clock = &clock});
  ASSERT_TRUE(api.client().Resource("v1", "ConfigMap").ok());
  const Client bounded = api.client().WithCallTimeout(1s);
  auto call = std::async(std::launch::async,
                         [&] { return bounded.Get("v1", "ConfigMap", "demo", "cm").status(); });
  // Attempts at 0 ms, 200 ms and 600 ms; the next backoff (800 ms) would end past 1 s.
  ASSERT_TRUE(clock.AwaitWaiters(1, 10s));
  clock.Advance(200ms);
  // Counted once the client woke from its sleep: the next waiter is its next sleep.
  ASSERT_TRUE(Eventually([&] { return gets.load() == 2; }, 10s));
  ASSERT_TRUE(clock.AwaitWaiters(1, 10s));
  clock.Advance(400ms);
  ASSERT_EQ(call.wait_for(10s), std::future_status::ready) << "still retrying past the timeout";
  EXPECT_EQ(call.get().code(), Code::kUnavailable);
  EXPECT_EQ(gets.load(), 3);
}

TEST(ClientCallTimeoutTest, ThePlainClientRetriesFiveTimes) {
  FakeClock clock;
  std::atomic<int> gets{0};
  LoopbackApi api(Unavailable(&gets), {}, ClientOptions{.clock = &clock});
  auto call = std::async(std::launch::async, [&] {
    return api.client().Get("v1", "ConfigMap", "demo", "cm").status();
  });
  for (int retry = 1; retry <= 5; ++retry) {
    ASSERT_TRUE(Eventually([&] { return gets.load() == retry; }, 10s));
    ASSERT_TRUE(clock.AwaitWaiters(1, 10s));
    clock.Advance(10s);  // past any backoff
  }
  ASSERT_EQ(call.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(call.get().code(), Code::kUnavailable);
  EXPECT_EQ(gets.load(), 6);
}

}  // namespace
}  // namespace flywheel::kube
