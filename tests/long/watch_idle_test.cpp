// A watch left idle for 11 minutes (longer than any HTTP inactivity timeout on the way) still
// delivers the next event promptly. Runs with `make test-long` (ctest label `long`).
#include <gtest/gtest.h>

#include <thread>

#include "flywheel/kube/connect.h"
#include "support/testenv.h"

namespace flywheel::kube {
namespace {

using ::flywheel::testing::ScopedNamespace;
using namespace std::chrono_literals;

TEST(WatchIdleTest, EventArrivesAfterElevenIdleMinutes) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "idle-watch");
  Client client = env->Client();
  auto list = client.List("v1", "ConfigMap", ns.name());
  ASSERT_TRUE(list.ok());

  std::mutex mu;
  std::condition_variable cv;
  std::optional<std::chrono::steady_clock::time_point> received;
  std::jthread watcher([&](std::stop_token stop) {
    WatchOptions wo;
    wo.resource_version = (*list)["metadata"]["resourceVersion"];
    wo.timeout_seconds = 1800;   // the server keeps it open for the whole test
    wo.allow_bookmarks = false;  // idle means idle: no bookmark traffic either
    Status s = client.Watch(
        "v1", "ConfigMap", ns.name(), wo,
        [&](WatchEvent e) {
          if (e.object["metadata"]["name"] != "late") return true;
          std::lock_guard lock(mu);
          received = std::chrono::steady_clock::now();
          cv.notify_all();
          return false;
        },
        stop);
    if (!s.ok() && s.code() != Code::kCancelled) ADD_FAILURE() << s.ToString();
  });
  std::this_thread::sleep_for(11min);
  auto sent = std::chrono::steady_clock::now();
  ASSERT_TRUE(client
                  .Create({{"apiVersion", "v1"},
                           {"kind", "ConfigMap"},
                           {"metadata", {{"name", "late"}, {"namespace", ns.name()}}}})
                  .ok());
  std::unique_lock lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return received.has_value(); }))
      << "the idle watch delivered nothing";
  EXPECT_LT(*received - sent, 1s);
}

}  // namespace
}  // namespace flywheel::kube
