#include "flywheel/git/source_worker.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

// Private seams of the implementation (not part of the public API).
#include "../../src/git/test_hooks.h"
#include "support/eventually.h"
#include "support/git_server.h"

namespace flywheel::git {
namespace {

namespace fs = std::filesystem;
using flywheel::testing::Eventually;
using namespace std::chrono_literals;

// Records the callers notified, in order.
class Notifications {
 public:
  SourceWorker::Notify Callback() {
    return [this](const std::string& caller) {
      std::lock_guard<std::mutex> lock(mu_);
      callers_.push_back(caller);
    };
  }
  std::vector<std::string> callers() const {
    std::lock_guard<std::mutex> lock(mu_);
    return callers_;
  }
  size_t Count(const std::string& caller) const {
    auto all = callers();
    return static_cast<size_t>(std::count(all.begin(), all.end(), caller));
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> callers_;
};

class SourceWorkerTest : public ::testing::Test {
 protected:
  SourceWorkerTest() {
    std::string tmpl = (fs::temp_directory_path() / "flywheel-source-XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
  }
  ~SourceWorkerTest() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::unique_ptr<RepositoryCache> Cache(std::chrono::seconds timeout = 60s) {
    return NewRepositoryCache(
        {.root = dir_ / "cache", .timeout = timeout, .allow_file_urls = true});
  }

  fs::path dir_;
  FakeClock clock_;
  Notifications notified_;
};

TEST_F(SourceWorkerTest, FetchesNotifiesAndKeepsTheOutcome) {
  flywheel::testing::GitRepo repo(dir_.string(), "app");
  const std::string sha = repo.Commit({{"a.yaml", "a: 1\n"}}, "first");
  auto cache = Cache();
  SourceWorker worker(*cache, notified_.Callback(), {.clock = &clock_});

  worker.Request("ns/web", {.url = repo.FileUrl(), .branch = "main"});
  ASSERT_TRUE(Eventually([&] { return notified_.Count("ns/web") == 1; }, 60s));
  auto last = worker.Last("ns/web");
  ASSERT_TRUE(last.has_value());
  EXPECT_TRUE(last->status.ok()) << last->status.ToString();
  ASSERT_TRUE(last->head.has_value());
  EXPECT_EQ(last->head->sha, sha);
  EXPECT_EQ(last->finished_at, clock_.Now());
  EXPECT_EQ(last->key, CacheKey(repo.FileUrl(), {}));
  EXPECT_EQ(cache->Resolve(last->key, "main")->sha, sha);
  EXPECT_FALSE(worker.Last("ns/other").has_value());

  // Failures are outcomes too: a missing repository, then a missing branch.
  worker.Request("ns/gone", {.url = "file://" + (dir_ / "nowhere.git").string()});
  worker.Request("ns/branch", {.url = repo.FileUrl(), .branch = "nope"});
  ASSERT_TRUE(Eventually(
      [&] { return notified_.Count("ns/gone") == 1 && notified_.Count("ns/branch") == 1; }, 60s));
  EXPECT_EQ(worker.Last("ns/gone")->status.code(), Code::kNotFound);
  EXPECT_EQ(worker.Last("ns/branch")->status.code(), Code::kNotFound);
  EXPECT_FALSE(worker.Last("ns/branch")->head.has_value());
  // The repository was fetched; only the branch is missing (a Release says RevisionNotFound).
  EXPECT_TRUE(worker.Last("ns/branch")->fetched);
  EXPECT_FALSE(worker.Last("ns/gone")->fetched);

  worker.Forget("ns/web");
  EXPECT_FALSE(worker.Last("ns/web").has_value());
}

// Requests due later wait for the (fake) clock; repeated requests of one caller run once, at the
// earliest due time asked for.
TEST_F(SourceWorkerTest, DueRequestsWaitAndDuplicatesCoalesce) {
  flywheel::testing::GitRepo repo(dir_.string(), "app");
  repo.Commit({{"a.yaml", "a: 1\n"}}, "first");
  auto cache = Cache();
  SourceWorker worker(*cache, notified_.Callback(), {.threads = 2, .clock = &clock_});
  const uint64_t runs_before = test_hooks::FetchesRun();

  const SourceRequest request{.url = repo.FileUrl(), .branch = "main"};
  worker.Request("ns/web", request, clock_.Now() + 10min);
  worker.Request("ns/web", request, clock_.Now() + 1min);
  worker.Request("ns/web", request, clock_.Now() + 5min);  // never later than asked before
  EXPECT_EQ(worker.Due("ns/web"), clock_.Now() + 1min);
  ASSERT_TRUE(clock_.AwaitWaiters(2));  // both threads asleep: nothing is due
  EXPECT_EQ(test_hooks::FetchesRun(), runs_before);
  EXPECT_TRUE(notified_.callers().empty());

  clock_.Advance(1min);
  ASSERT_TRUE(Eventually([&] { return notified_.Count("ns/web") == 1; }, 60s));
  EXPECT_TRUE(worker.Last("ns/web")->status.ok()) << worker.Last("ns/web")->status.ToString();
  ASSERT_TRUE(clock_.AwaitWaiters(2));
  EXPECT_EQ(test_hooks::FetchesRun() - runs_before, 1u);
  EXPECT_FALSE(worker.Due("ns/web").has_value());
  clock_.Advance(10min);
  ASSERT_TRUE(clock_.AwaitWaiters(2));
  EXPECT_EQ(notified_.Count("ns/web"), 1u);
  EXPECT_EQ(test_hooks::FetchesRun() - runs_before, 1u);
}

// Many callers due for one repository (300 Releases of one manifest repo after a restart) are
// served by one fetch, each with its own branch's head, not by one fetch each in turn.
TEST_F(SourceWorkerTest, CallersDueForOneRepositoryShareOneFetch) {
  flywheel::testing::GitRepo repo(dir_.string(), "app");
  const std::string main_sha = repo.Commit({{"a.yaml", "a: 1\n"}}, "first");
  const std::string prod_sha = repo.Commit({{"a.yaml", "a: 2\n"}}, "prod", "prod");
  auto cache = Cache();
  SourceWorker worker(*cache, notified_.Callback(), {.threads = 1, .clock = &clock_});
  ASSERT_TRUE(clock_.AwaitWaiters(1));
  const uint64_t runs_before = test_hooks::FetchesRun();
  // Due a minute from now, so all are pending when the clock moves and one fetch takes them.
  for (int i = 0; i < 20; ++i) {
    worker.Request("ns/r" + std::to_string(i),
                   {.url = repo.FileUrl(), .branch = i % 2 ? "prod" : "main"}, clock_.Now() + 1min);
  }
  clock_.Advance(1min);
  ASSERT_TRUE(Eventually([&] { return notified_.callers().size() == 20; }, 60s));
  EXPECT_EQ(test_hooks::FetchesRun() - runs_before, 1u);
  for (int i = 0; i < 20; ++i) {
    auto last = worker.Last("ns/r" + std::to_string(i));
    ASSERT_TRUE(last && last->status.ok() && last->head) << i;
    EXPECT_EQ(last->head->sha, i % 2 ? prod_sha : main_sha) << i;
  }
}

// A caller that fetched nothing yet is served by the last fetch of its copy (same URL and
// credentials) when it is recent enough: no fetch, no notification, its own branch's head, and
// its pending request dropped. Too old, other credentials, or never fetched: nothing shared.
TEST_F(SourceWorkerTest, ARecentFetchOfTheSameCopyIsSharedWithoutFetching) {
  flywheel::testing::GitRepo repo(dir_.string(), "app");
  const std::string main_sha = repo.Commit({{"a.yaml", "a: 1\n"}}, "first");
  const std::string prod_sha = repo.Commit({{"a.yaml", "a: 2\n"}}, "prod", "prod");
  auto cache = Cache();
  SourceWorker worker(*cache, notified_.Callback(), {.threads = 1, .clock = &clock_});
  const SourceRequest main{.url = repo.FileUrl(), .branch = "main"};
  const SourceRequest prod{.url = repo.FileUrl(), .branch = "prod"};
  EXPECT_FALSE(worker.Share("ns/early", main, clock_.Now() - 1h).has_value())
      << "nothing fetched yet";

  worker.Request("ns/first", main);
  ASSERT_TRUE(Eventually([&] { return notified_.Count("ns/first") == 1; }, 60s));
  const Clock::TimePoint fetched_at = worker.Last("ns/first")->finished_at;
  ASSERT_TRUE(clock_.AwaitWaiters(1));
  const uint64_t runs_before = test_hooks::FetchesRun();
  clock_.Advance(30s);

  worker.Request("ns/second", prod, clock_.Now() + 1h);  // pending: the share answers it
  auto shared = worker.Share("ns/second", prod, clock_.Now() - 1min);
  ASSERT_TRUE(shared.has_value());
  EXPECT_TRUE(shared->status.ok());
  EXPECT_EQ(shared->finished_at, fetched_at);
  EXPECT_EQ(shared->key, CacheKey(repo.FileUrl(), {}));
  ASSERT_TRUE(shared->head.has_value());
  EXPECT_EQ(shared->head->sha, prod_sha);
  EXPECT_EQ(worker.Last("ns/second")->head->sha, prod_sha);
  EXPECT_FALSE(worker.Due("ns/second").has_value());
  EXPECT_EQ(worker.Share("ns/third", main, clock_.Now() - 1min)->head->sha, main_sha);

  EXPECT_FALSE(worker.Share("ns/fourth", main, clock_.Now() - 10s).has_value()) << "too old";
  EXPECT_FALSE(worker
                   .Share("ns/fourth",
                          {.url = repo.FileUrl(),
                           .credentials = {.username = "u", .password = "p"},
                           .branch = "main"},
                          clock_.Now() - 1h)
                   .has_value())
      << "other credentials read another copy";
  EXPECT_FALSE(
      worker.Share("ns/fourth", {.url = repo.FileUrl(), .branch = "nope"}, clock_.Now() - 1h)
          .has_value())
      << "a branch the copy lacks is for a fetch to report";
  EXPECT_FALSE(worker.Last("ns/fourth").has_value());

  ASSERT_TRUE(clock_.AwaitWaiters(1));
  EXPECT_EQ(test_hooks::FetchesRun(), runs_before);
  EXPECT_EQ(notified_.callers(), std::vector<std::string>{"ns/first"});

  // Once no caller reads the copy, there is nothing left to share.
  for (const char* caller : {"ns/first", "ns/second", "ns/third"}) worker.Forget(caller);
  EXPECT_FALSE(worker.Share("ns/fifth", main, clock_.Now() - 1h).has_value());
}

// One host that accepts connections and never answers must not stall the others: the requests
// for it hold one thread (one per cache key), and repositories on a real git daemon and on disk
// keep being fetched by the other thread. Stop() cancels the stuck fetch promptly.
TEST_F(SourceWorkerTest, AStuckHostDoesNotStallOtherRepositories) {
  std::string why;
  ASSERT_TRUE(flywheel::testing::GitServersAvailable(&why)) << why;
  flywheel::testing::SilentServer silent;
  std::vector<std::unique_ptr<flywheel::testing::GitRepo>> repos;
  std::map<std::string, std::string> heads;  // caller -> sha
  for (const char* name : {"one", "two", "three"}) {
    repos.push_back(std::make_unique<flywheel::testing::GitRepo>(dir_.string(), name));
    heads[std::string("ns/") + name] = repos.back()->Commit({{"a.yaml", name}}, name);
  }
  flywheel::testing::GitDaemon daemon(dir_.string());
  auto cache = Cache(std::chrono::seconds(600));  // the cache's timeout does not save us here
  auto worker = std::make_unique<SourceWorker>(*cache, notified_.Callback(),
                                               SourceWorkerOptions{.threads = 2});

  const uint64_t runs_before = test_hooks::FetchesRun();
  worker->Request("ns/stuck", {.url = silent.GitUrl("r"), .branch = "main"});
  // Once that fetch runs, a second caller of the key cannot ride along with it: it must wait.
  ASSERT_TRUE(Eventually([&] { return test_hooks::FetchesRun() > runs_before; }, 60s));
  worker->Request("ns/stuck-too", {.url = silent.GitUrl("r"), .branch = "main"});
  worker->Request("ns/one", {.url = daemon.Url("one"), .branch = "main"});
  worker->Request("ns/two", {.url = daemon.Url("two"), .branch = "main"});
  worker->Request("ns/three", {.url = repos[2]->FileUrl(), .branch = "main"});
  ASSERT_TRUE(Eventually(
      [&] {
        return notified_.Count("ns/one") == 1 && notified_.Count("ns/two") == 1 &&
               notified_.Count("ns/three") == 1;
      },
      120s));
  for (const char* caller : {"ns/one", "ns/two", "ns/three"}) {
    auto last = worker->Last(caller);
    ASSERT_TRUE(last.has_value()) << caller;
    ASSERT_TRUE(last->status.ok()) << caller << ": " << last->status.ToString();
    EXPECT_EQ(last->head->sha, heads[caller]) << caller;
  }
  // A new push on a healthy repository is still picked up while the host stays stuck.
  heads["ns/one"] = repos[0]->Commit({{"a.yaml", "again"}}, "again");
  worker->Request("ns/one", {.url = daemon.Url("one"), .branch = "main"});
  ASSERT_TRUE(Eventually([&] { return notified_.Count("ns/one") == 2; }, 120s));
  EXPECT_EQ(worker->Last("ns/one")->head->sha, heads["ns/one"]);
  EXPECT_FALSE(worker->Last("ns/stuck").has_value());
  EXPECT_FALSE(worker->Last("ns/stuck-too").has_value());
  EXPECT_TRUE(worker->Due("ns/stuck-too").has_value());  // waits for the key, not a thread

  auto start = std::chrono::steady_clock::now();
  worker->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 60s);
  EXPECT_EQ(worker->Last("ns/stuck")->status.code(), Code::kCancelled);
  EXPECT_EQ(notified_.Count("ns/stuck"), 0u);  // nothing is notified once stopping
}

}  // namespace
}  // namespace flywheel::git
