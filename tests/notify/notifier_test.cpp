// notify::Notifier POSTing to a real loopback http::Server. Waits are generous bounds on
// conditions (liveness), never timings; backoffs run on a FakeClock.
#include "flywheel/notify/notifier.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <deque>
#include <mutex>

#include "flywheel/common/base64.h"
#include "flywheel/http/server.h"
#include "support/eventually.h"
#include "support/git_server.h"
#include "support/text.h"

namespace flywheel::notify {
namespace {

using namespace std::chrono_literals;
using testing::Contains;
using testing::Eventually;
using testing::LogCapture;

constexpr auto kPatience = 20s;
constexpr char kSecretPath[] = "/services/T0/B0/secret-path-xyz";
constexpr char kToken[] = "notify-token-0123456789";

// A webhook receiver on loopback that records each request and answers the statuses it is
// told to, in order (200 once they run out). While held, requests wait unanswered.
class Receiver {
 public:
  Receiver() {
    auto server = http::Server::Start(
        {}, {{"/services/", [this](const http::ServerRequest& r) { return Handle(r); }}});
    if (!server.ok()) throw std::runtime_error(server.status().ToString());
    server_ = std::move(*server);
  }
  ~Receiver() {
    Release();
    server_->Stop();
  }

  std::string Url(const std::string& userinfo = "") const {
    return "http://" + userinfo + "127.0.0.1:" + std::to_string(server_->port()) + kSecretPath;
  }
  void Answer(std::deque<int> statuses) {
    std::lock_guard lock(mu_);
    statuses_ = std::move(statuses);
  }
  void Hold() {
    std::lock_guard lock(mu_);
    held_ = true;
  }
  void Release() {
    {
      std::lock_guard lock(mu_);
      held_ = false;
    }
    cv_.notify_all();
  }
  std::vector<http::ServerRequest> Requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }
  bool AwaitRequests(size_t n) {
    return Eventually([&] { return Requests().size() >= n; }, kPatience);
  }

 private:
  http::ServerResponse Handle(const http::ServerRequest& r) {
    std::unique_lock lock(mu_);
    requests_.push_back(r);
    cv_.wait(lock, [&] { return !held_; });
    http::ServerResponse resp;
    if (!statuses_.empty()) {
      resp.status = statuses_.front();
      statuses_.pop_front();
    }
    resp.body = resp.status == 200 ? "ok" : "try again";
    return resp;
  }

  std::mutex mu_;
  std::condition_variable cv_;
  bool held_ = false;
  std::deque<int> statuses_;
  std::vector<http::ServerRequest> requests_;
  std::unique_ptr<http::Server> server_;
};

// flywheel_notifications_total{result}, or -1 when the series does not exist.
double Counted(prometheus::Registry& registry, const std::string& result) {
  for (const auto& family : registry.Collect()) {
    if (family.name != "flywheel_notifications_total") continue;
    for (const auto& metric : family.metric) {
      for (const auto& label : metric.label) {
        if (label.name == "result" && label.value == result) return metric.counter.value;
      }
    }
  }
  return -1;
}

Message RolledBack() {
  return {.event = "RolledBack",
          .severity = "warning",
          .kind = "RollbackPolicy",
          .ns = "team-a",
          .name = "web-errors",
          .text = "web rolled back from abc to def: error-ratio 0.21 > 0.05 for 5m",
          .details = {{"fromRevision", "abc"}, {"toRevision", "def"}}};
}

TEST(NotifierTest, PostsOneJsonObjectWithTheBearerTokenAndNeverLogsSecrets) {
  LogCapture logs;
  Receiver receiver;
  prometheus::Registry registry;
  {
    Notifier notifier({.registry = &registry});
    notifier.Send({{.url = receiver.Url(), .token = kToken, .name = "the-receiver"}}, RolledBack());
    ASSERT_TRUE(Eventually([&] { return Counted(registry, "sent") == 1; }, kPatience));
  }
  auto requests = receiver.Requests();
  ASSERT_EQ(requests.size(), 1u);
  const auto& r = requests[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.path, kSecretPath);
  EXPECT_EQ(http::FindHeader(r.headers, "Authorization"), std::string("Bearer ") + kToken);
  EXPECT_EQ(http::FindHeader(r.headers, "Content-Type"), "application/json");
  auto body = nlohmann::json::parse(r.body);
  EXPECT_EQ(body["text"], "web rolled back from abc to def: error-ratio 0.21 > 0.05 for 5m");
  EXPECT_EQ(body["event"], "RolledBack");
  EXPECT_EQ(body["severity"], "warning");
  EXPECT_EQ(body["kind"], "RollbackPolicy");
  EXPECT_EQ(body["namespace"], "team-a");
  EXPECT_EQ(body["name"], "web-errors");
  EXPECT_EQ(body["details"], (nlohmann::json{{"fromRevision", "abc"}, {"toRevision", "def"}}));
  EXPECT_EQ(Counted(registry, "failed"), 0);
  EXPECT_EQ(Counted(registry, "dropped"), 0);
  EXPECT_TRUE(Contains(logs.Text(), "sent to the-receiver"));
  EXPECT_FALSE(Contains(logs.Text(), "secret-path")) << "the URL's path is a credential";
  EXPECT_FALSE(Contains(logs.Text(), "0123456789")) << "the token is never logged";
}

TEST(NotifierTest, AMessageWithoutTextGetsOneAndUserInfoIsBasicAuth) {
  Receiver receiver;
  prometheus::Registry registry;
  Notifier notifier({.registry = &registry});
  Message m = RolledBack();
  m.text.clear();
  notifier.Send({{.url = receiver.Url("bot:p%40ss@"), .name = "basic"}}, m);
  ASSERT_TRUE(Eventually([&] { return Counted(registry, "sent") == 1; }, kPatience));
  auto r = receiver.Requests().at(0);
  EXPECT_EQ(http::FindHeader(r.headers, "Authorization"), "Basic " + Base64Encode("bot:p@ss"));
  EXPECT_EQ(nlohmann::json::parse(r.body)["text"], "RolledBack: RollbackPolicy team-a/web-errors");
}

TEST(NotifierTest, A500IsRetriedAfterTheBackoff) {
  LogCapture logs;
  Receiver receiver;
  receiver.Answer({500, 200});
  FakeClock clock;
  prometheus::Registry registry;
  Notifier notifier({.backoff = 2s, .registry = &registry, .clock = &clock});
  notifier.Send({{.url = receiver.Url(), .token = kToken, .name = "r"}}, RolledBack());
  ASSERT_TRUE(receiver.AwaitRequests(1));
  ASSERT_TRUE(clock.AwaitWaiters(1)) << "the notifier waits out its backoff";
  EXPECT_EQ(receiver.Requests().size(), 1u) << "no retry before the backoff";
  clock.Advance(2s);
  ASSERT_TRUE(Eventually([&] { return Counted(registry, "sent") == 1; }, kPatience));
  EXPECT_EQ(receiver.Requests().size(), 2u);
  EXPECT_EQ(Counted(registry, "failed"), 0);
  EXPECT_TRUE(Contains(logs.Text(), "answered 500 try again"));
  EXPECT_FALSE(Contains(logs.Text(), "secret-path"));
}

TEST(NotifierTest, RetriesEndAfterTheLastAttemptAndClientErrorsAreNotRetried) {
  Receiver receiver;
  receiver.Answer({503, 429, 502, 400});
  FakeClock clock;
  prometheus::Registry registry;
  Notifier notifier({.attempts = 3, .backoff = 1s, .registry = &registry, .clock = &clock});
  Target target{.url = receiver.Url(), .name = "r"};
  notifier.Send({target}, RolledBack());
  size_t attempts = 0;
  for (auto backoff : {1s, 2s}) {
    ASSERT_TRUE(receiver.AwaitRequests(++attempts)) << "attempt " << attempts;
    ASSERT_TRUE(clock.AwaitWaiters(1)) << "the backoff after attempt " << attempts;
    clock.Advance(backoff);
  }
  ASSERT_TRUE(Eventually([&] { return Counted(registry, "failed") == 1; }, kPatience));
  EXPECT_EQ(receiver.Requests().size(), 3u) << "503, 429, 502: three attempts";

  notifier.Send({target}, RolledBack());
  ASSERT_TRUE(Eventually([&] { return Counted(registry, "failed") == 2; }, kPatience));
  EXPECT_EQ(receiver.Requests().size(), 4u) << "a 400 is final";
  EXPECT_EQ(clock.NumWaiters(), 0u);
  EXPECT_EQ(Counted(registry, "sent"), 0);
}

TEST(NotifierTest, ASilentServerTimesOutWithoutBlockingSend) {
  testing::SilentServer silent;
  prometheus::Registry registry;
  Notifier notifier({.timeout = 300ms, .attempts = 1, .registry = &registry});
  auto start = std::chrono::steady_clock::now();
  notifier.Send(
      {{.url = "http://127.0.0.1:" + std::to_string(silent.port()) + "/hook", .name = "silent"}},
      RolledBack());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s) << "Send only queues";
  EXPECT_TRUE(Eventually([&] { return Counted(registry, "failed") == 1; }, kPatience));
}

TEST(NotifierTest, TheDestructorCancelsAPostThatIsNeverAnswered) {
  Receiver receiver;
  receiver.Hold();
  auto notifier = std::make_unique<Notifier>(NotifierOptions{.timeout = 10min});
  notifier->Send({{.url = receiver.Url(), .name = "r"}}, RolledBack());
  ASSERT_TRUE(receiver.AwaitRequests(1));
  auto start = std::chrono::steady_clock::now();
  notifier.reset();
  EXPECT_LT(std::chrono::steady_clock::now() - start, kPatience)
      << "the POST in flight is cancelled, not waited out";
}

TEST(NotifierTest, AFullQueueDropsAndCountsEachTarget) {
  Receiver receiver;
  receiver.Hold();
  prometheus::Registry registry;
  Notifier notifier({.timeout = 10min, .max_queued = 1, .registry = &registry});
  Target target{.url = receiver.Url(), .name = "r"};
  notifier.Send({target}, RolledBack());
  ASSERT_TRUE(receiver.AwaitRequests(1)) << "the first message is in flight";
  notifier.Send({target}, RolledBack());          // waits in the queue
  notifier.Send({target, target}, RolledBack());  // does not fit
  EXPECT_EQ(Counted(registry, "dropped"), 2);
  receiver.Release();
  EXPECT_TRUE(Eventually([&] { return Counted(registry, "sent") == 2; }, kPatience));
  EXPECT_EQ(receiver.Requests().size(), 2u);
}

TEST(NotifierTest, AnUnusableUrlFailsAndIsCounted) {
  prometheus::Registry registry;
  Notifier notifier({.registry = &registry});
  notifier.Send({{.url = "ftp://example.com/x", .name = "ftp"}}, RolledBack());
  EXPECT_TRUE(Eventually([&] { return Counted(registry, "failed") == 1; }, kPatience));
}

}  // namespace
}  // namespace flywheel::notify
