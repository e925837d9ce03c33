// Informer resync against the real kube-apiserver of the testenv, with the resync period driven
// by a FakeClock: every period each cached object is delivered again as an update (old == new),
// never earlier, never with a period of 0, and never after the informer stopped.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "flywheel/common/clock.h"
#include "flywheel/kube/informer.h"
#include "support/eventually.h"
#include "support/testenv.h"

namespace flywheel::kube {
namespace {

using ::flywheel::testing::Eventually;
using ::flywheel::testing::ScopedNamespace;
using namespace std::chrono_literals;

constexpr auto kResync = 30s;
// Only the test's ConfigMaps (not kube-root-ca.crt, which every namespace gets).
constexpr const char* kSelector = "test=resync";
// Real-time bounds on conditions that hold within milliseconds; only a broken informer waits
// them out.
constexpr auto kBound = 10s;
// How long a negative check waits for something that must not happen. Correct code passes
// however slow the machine; broken code is caught unless the machine is slower than this.
constexpr auto kQuiet = 300ms;

// What handlers saw, shared with the informer's threads (kept alive by them if a test fails
// while they still run).
struct Seen {
  struct Update {
    ObjectPtr old_object, new_object;
    Clock::TimePoint at;  // the fake time of delivery
  };
  std::mutex mu;
  int adds = 0;
  std::vector<Update> updates;

  int Updates() {
    std::lock_guard lock(mu);
    return static_cast<int>(updates.size());
  }
};

// An informer of the ConfigMaps of one namespace, timed by its own FakeClock, running on a
// detached thread so that a Run() that never returns fails the test instead of hanging it.
struct Running {
  std::shared_ptr<FakeClock> clock = std::make_shared<FakeClock>();
  std::shared_ptr<Seen> seen = std::make_shared<Seen>();
  std::shared_ptr<Informer> informer;
  std::stop_source stop;
  std::shared_ptr<std::atomic<bool>> returned = std::make_shared<std::atomic<bool>>(false);

  Running(Client client, const std::string& ns, std::chrono::milliseconds resync) {
    informer = std::make_shared<Informer>(std::move(client),
                                          InformerOptions{.api_version = "v1",
                                                          .kind = "ConfigMap",
                                                          .namespace_name = ns,
                                                          .label_selector = kSelector,
                                                          .resync = resync},
                                          clock.get());
    informer->AddHandler({[seen = seen](const ObjectPtr&) {
                            std::lock_guard lock(seen->mu);
                            ++seen->adds;
                          },
                          [seen = seen, clock = clock](const ObjectPtr& o, const ObjectPtr& n) {
                            std::lock_guard lock(seen->mu);
                            seen->updates.push_back({o, n, clock->Now()});
                          },
                          nullptr});
    std::thread([informer = informer, returned = returned, token = stop.get_token()] {
      informer->Run(token);
      *returned = true;
    }).detach();
  }

  // Stops the informer; true once Run() has returned.
  bool Stop() {
    stop.request_stop();
    return Eventually([&] { return returned->load(); }, kBound);
  }

  ~Running() { Stop(); }
};

json ConfigMap(const std::string& ns, const std::string& name) {
  json object = ::flywheel::testing::ConfigMapObject(ns, name, "v", name);
  object["metadata"]["labels"]["test"] = "resync";
  return object;
}

void CreateConfigMaps(const Client& client, const std::string& ns, int n) {
  for (int i = 0; i < n; ++i) {
    ASSERT_TRUE(client.Create(ConfigMap(ns, "cm-" + std::to_string(i))).ok());
  }
}

TEST(InformerResyncTest, RedeliversEveryCachedObjectOnceEachPeriodAndNeverBefore) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "resync");
  Client client = env->Client();
  CreateConfigMaps(client, ns.name(), 3);
  Running run(client, ns.name(), kResync);
  ASSERT_TRUE(run.informer->WaitForSync(run.stop.get_token()));
  const Clock::TimePoint start = run.clock->Now();
  {
    std::lock_guard lock(run.seen->mu);
    EXPECT_EQ(run.seen->adds, 3);
  }
  // The resync thread sleeps on the fake clock; nothing is delivered until a full period.
  ASSERT_TRUE(run.clock->AwaitWaiters(1, kBound)) << "resync does not wait on the Clock";
  run.clock->Advance(kResync - 1ms);
  std::this_thread::sleep_for(kQuiet);
  EXPECT_EQ(run.seen->Updates(), 0) << "resync before the period";

  run.clock->Advance(1ms);
  ASSERT_TRUE(Eventually([&] { return run.seen->Updates() >= 3; }, kBound));
  std::this_thread::sleep_for(kQuiet);
  ASSERT_EQ(run.seen->Updates(), 3) << "each cached object exactly once per period";

  auto server = client.List("v1", "ConfigMap", ns.name(), {.label_selector = kSelector});
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  const auto want = ::flywheel::testing::Versions(*server);
  auto check_period = [&](size_t first, Clock::TimePoint due) {
    std::lock_guard lock(run.seen->mu);
    std::vector<ObjectPtr> delivered;
    for (size_t i = first; i < run.seen->updates.size(); ++i) {
      const auto& u = run.seen->updates[i];
      EXPECT_GE(u.at, due) << "delivered before the period ended";
      ASSERT_NE(u.new_object, nullptr);
      ASSERT_NE(u.old_object, nullptr);
      EXPECT_EQ(*u.old_object, *u.new_object) << "a resync is not a change";
      auto cached = run.informer->store().Get(ObjectKey(*u.new_object));
      ASSERT_NE(cached, nullptr);
      EXPECT_EQ(*u.new_object, *cached) << "the cached object";
      delivered.push_back(u.new_object);
    }
    EXPECT_EQ(::flywheel::testing::Versions(delivered), want)
        << "every cached object, with the server's resourceVersion";
  };
  check_period(0, start + kResync);

  // And again one period later.
  ASSERT_TRUE(run.clock->AwaitWaiters(1, kBound));
  run.clock->Advance(kResync);
  ASSERT_TRUE(Eventually([&] { return run.seen->Updates() >= 6; }, kBound));
  std::this_thread::sleep_for(kQuiet);
  ASSERT_EQ(run.seen->Updates(), 6);
  check_period(3, start + 2 * kResync);
}

TEST(InformerResyncTest, StopsWithTheInformer) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "resync-stop");
  Client client = env->Client();
  CreateConfigMaps(client, ns.name(), 2);
  Running run(client, ns.name(), kResync);
  ASSERT_TRUE(run.informer->WaitForSync(run.stop.get_token()));
  ASSERT_TRUE(run.clock->AwaitWaiters(1, kBound));

  // Stopping must not wait for the period to end (time stands still on the fake clock).
  ASSERT_TRUE(run.Stop()) << "Run() did not return: the resync thread ignores the stop";
  EXPECT_EQ(run.clock->NumWaiters(), 0u) << "a resync thread outlived Run()";
  run.clock->Advance(10 * kResync);
  std::this_thread::sleep_for(kQuiet);
  EXPECT_EQ(run.seen->Updates(), 0) << "resync after shutdown";
}

TEST(InformerResyncTest, ZeroPeriodNeverResyncs) {
  FLYWHEEL_REQUIRE_TESTENV(env);
  ScopedNamespace ns(*env, "resync-zero");
  Client client = env->Client();
  CreateConfigMaps(client, ns.name(), 2);
  Running run(client, ns.name(), 0ms);
  ASSERT_TRUE(run.informer->WaitForSync(run.stop.get_token()));
  for (int i = 0; i < 3; ++i) run.clock->Advance(24h);
  // A change written after the advances: once its add arrives, the informer is still alive.
  ASSERT_TRUE(client.Create(ConfigMap(ns.name(), "marker")).ok());
  ASSERT_TRUE(Eventually(
      [&] { return run.informer->store().Get(ns.name() + "/marker") != nullptr; }, kBound));
  std::this_thread::sleep_for(kQuiet);
  EXPECT_EQ(run.seen->Updates(), 0);
}

}  // namespace
}  // namespace flywheel::kube
