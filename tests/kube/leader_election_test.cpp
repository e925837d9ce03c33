// Leadership bounded in time, against a loopback server that keeps one Lease the way
// kube-apiserver does (GET, POST, PUT conditional on resourceVersion): a leader frozen past its
// renew deadline stops without another request, a leader that sees another holder stops at once,
// and a leader whose API server stops answering stops within the renew deadline.
#include "flywheel/kube/leader_election.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "support/eventually.h"
#include "support/loopback_api.h"

namespace flywheel::kube {
namespace {

using namespace std::chrono_literals;
using ::flywheel::testing::Eventually;
using ::flywheel::testing::JsonAnswer;
using ::flywheel::testing::LoopbackApi;

constexpr const char* kLeases = "/apis/coordination.k8s.io/v1/namespaces/ns/leases";

http::ServerResponse Failure(int code, const std::string& reason) {
  return JsonAnswer(json{{"kind", "Status"},
                         {"apiVersion", "v1"},
                         {"status", "Failure"},
                         {"reason", reason},
                         {"code", code},
                         {"message", "leases \"l\": " + reason}}
                        .dump(),
                    code);
}

// One Lease, ns/l. Hang() makes lease requests wait until the server is destroyed: an API
// server that stopped answering.
class LeaseServer {
 public:
  LeaseServer() : api_(Routes(), {.workers = 16}) {}
  ~LeaseServer() {
    std::lock_guard lock(mu_);
    closing_ = true;  // hung requests answer, so the server can stop
    cv_.notify_all();
  }

  const Client& client() const { return api_.client(); }
  int Requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }
  int Writes() {
    std::lock_guard lock(mu_);
    return writes_;
  }
  void Hang() {
    std::lock_guard lock(mu_);
    hang_ = true;
  }
  // Another replica takes the lease.
  void TakeOver(const std::string& holder) {
    std::lock_guard lock(mu_);
    (*lease_)["spec"]["holderIdentity"] = holder;
    (*lease_)["metadata"]["resourceVersion"] = std::to_string(++version_);
  }

 private:
  std::map<std::string, http::Handler> Routes() {
    std::map<std::string, http::Handler> routes;
    routes["/apis/coordination.k8s.io/v1"] = [](const http::ServerRequest&) {
      return JsonAnswer(R"({"kind":"APIResourceList","groupVersion":"coordination.k8s.io/v1",)"
                        R"("resources":[{"name":"leases","namespaced":true,"kind":"Lease"}]})");
    };
    routes[kLeases] = [this](const http::ServerRequest& req) { return Serve(req); };
    routes[std::string(kLeases) + "/l"] = [this](const http::ServerRequest& req) {
      return Serve(req);
    };
    return routes;
  }

  http::ServerResponse Serve(const http::ServerRequest& req) {
    std::unique_lock lock(mu_);
    ++requests_;
    if (hang_) {
      cv_.wait(lock, [&] { return closing_; });
      return Failure(503, "ServiceUnavailable");
    }
    if (req.method == "GET") return lease_ ? JsonAnswer(lease_->dump()) : Failure(404, "NotFound");
    json body = json::parse(req.body);
    if (req.method == "POST") {
      if (lease_) return Failure(409, "AlreadyExists");
    } else if (!lease_ || body["metadata"].value("resourceVersion", "") !=
                              (*lease_)["metadata"].value("resourceVersion", "")) {
      return Failure(409, "Conflict");
    }
    ++writes_;
    body["metadata"]["resourceVersion"] = std::to_string(++version_);
    lease_ = body;
    return JsonAnswer(body.dump(), req.method == "POST" ? 201 : 200);
  }

  std::mutex mu_;
  std::condition_variable cv_;
  bool hang_ = false, closing_ = false;
  int requests_ = 0, writes_ = 0, version_ = 0;
  std::optional<json> lease_;
  LoopbackApi api_;  // last: serves until the rest is gone
};

// An elector for ns/l as "me", run on its own thread; `lead` waits until its token is stopped,
// `on_lost` records the loss.
struct Campaign {
  Campaign(const Client& client, LeaderElectionOptions options, Clock* clock)
      : elector(client, Options(std::move(options)), nullptr, clock),
        thread([this](std::stop_token stop) {
          result = elector.Run(
              stop,
              [this](std::stop_token lead) {
                std::mutex mu;
                std::condition_variable_any cv;
                std::unique_lock lock(mu);
                led = true;
                cv.wait(lock, lead, [] { return false; });
                lead_stopped = true;
              },
              [this] { lost = true; });
          done = true;
        }) {}
  static LeaderElectionOptions Options(LeaderElectionOptions o) {
    o.lease_namespace = "ns";
    o.lease_name = "l";
    o.identity = "me";
    return o;
  }

  LeaderElector elector;
  std::atomic<bool> led{false}, lead_stopped{false}, lost{false}, done{false};
  Status result;
  std::jthread thread;  // last: started once the rest exists
};

TEST(LeaderElectionTest, FrozenLeaderStopsWithoutAnotherRequest) {
  LeaseServer server;
  FakeClock clock;
  Campaign campaign(server.client(), {}, &clock);  // 15 s / 10 s / 2 s
  ASSERT_TRUE(Eventually([&] { return campaign.led.load(); }, 10s));
  EXPECT_TRUE(campaign.elector.leading());
  // A renewal every retry period keeps it leading.
  ASSERT_TRUE(clock.AwaitWaiters(1, 10s));
  clock.Advance(2s);
  ASSERT_TRUE(Eventually([&] { return server.Writes() >= 2; }, 10s)) << "create, then renew";
  ASSERT_TRUE(clock.AwaitWaiters(1, 10s));
  EXPECT_TRUE(campaign.elector.leading());
  const int requests = server.Requests();

  clock.Advance(10s);  // frozen (SIGSTOP) for the renew deadline
  EXPECT_FALSE(campaign.elector.leading()) << "no longer leading, before the elector even runs";
  ASSERT_TRUE(Eventually([&] { return campaign.done.load(); }, 10s));
  EXPECT_EQ(campaign.result.code(), Code::kAborted) << campaign.result.ToString();
  EXPECT_TRUE(campaign.lead_stopped);
  EXPECT_TRUE(campaign.lost) << "on_lost runs on a lost lease";
  EXPECT_EQ(server.Requests(), requests) << "a leader past its deadline must not write";
}

TEST(LeaderElectionTest, SeeingAnotherHolderLosesAtOnce) {
  LeaseServer server;
  FakeClock clock;
  Campaign campaign(server.client(), {}, &clock);
  ASSERT_TRUE(Eventually([&] { return campaign.led.load(); }, 10s));
  ASSERT_TRUE(clock.AwaitWaiters(1, 10s));
  server.TakeOver("other");
  clock.Advance(2s);  // one retry period: far inside the 10 s renew deadline
  ASSERT_TRUE(Eventually([&] { return campaign.done.load(); }, 10s))
      << "still leading although the lease is another's";
  EXPECT_EQ(campaign.result.code(), Code::kAborted) << campaign.result.ToString();
  EXPECT_FALSE(campaign.elector.leading());
  EXPECT_EQ(server.Writes(), 1) << "only the create: the other's lease is left alone";
}

TEST(LeaderElectionTest, SilentApiServerEndsLeadershipWithinTheRenewDeadline) {
  LeaseServer server;
  // Real time: the requests' own timeouts are what is tested.
  Campaign campaign(server.client(),
                    {.lease_duration = 3s, .renew_deadline = 2s, .retry_period = 250ms}, nullptr);
  ASSERT_TRUE(Eventually([&] { return campaign.led.load(); }, 10s));
  server.Hang();
  const auto hung = std::chrono::steady_clock::now();
  // A generous bound (the deadline is 2 s); one unbounded request alone waits 30 s.
  ASSERT_TRUE(Eventually([&] { return campaign.done.load(); }, 15s))
      << "still leading although no renewal can succeed";
  EXPECT_EQ(campaign.result.code(), Code::kAborted) << campaign.result.ToString();
  // Renew deadline (2 s) + one request's timeout (1 s), with room for a loaded machine.
  EXPECT_LT(std::chrono::steady_clock::now() - hung, 10s);
}

TEST(LeaderElectionTest, OptionsFollowClientGoRules) {
  EXPECT_TRUE(LeaderElectionOptions{}.Validate().ok());
  LeaderElectionOptions o;
  o.renew_deadline = 15s;
  EXPECT_EQ(o.Validate().message(),
            "the leader election lease duration (15s) must be longer than the renew deadline "
            "(15s)");
  o = {};
  o.renew_deadline = 2s;
  EXPECT_EQ(o.Validate().message(),
            "the leader election renew deadline (2s) must be longer than 1.2 x the retry period "
            "(2s)");
  o = {};
  o.retry_period = 0ms;
  EXPECT_EQ(o.Validate().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace flywheel::kube
