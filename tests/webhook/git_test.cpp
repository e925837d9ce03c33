#include "flywheel/webhook/git.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <mutex>
#include <thread>

#include "flywheel/http/client.h"
#include "flywheel/http/server.h"
#include "support/text.h"

namespace flywheel::webhook {
namespace {

using http::ServerRequest;
using http::ServerResponse;
using testing::Contains;
using testing::LogCapture;

constexpr char kSecret[] = "hunter2-webhook-secret";

constexpr char kGitHubPush[] = R"({
  "ref": "refs/heads/main",
  "repository": {
    "clone_url": "https://github.com/Acme/Deploy.git",
    "ssh_url": "git@github.com:Acme/Deploy.git",
    "git_url": "git://github.com/Acme/Deploy.git",
    "html_url": "https://github.com/Acme/Deploy"
  }
})";

constexpr char kGitLabPush[] = R"({
  "object_kind": "push",
  "ref": "refs/heads/main",
  "project": {
    "git_http_url": "https://gitlab.example.com/team/app.git",
    "git_ssh_url": "git@gitlab.example.com:team/app.git",
    "web_url": "https://gitlab.example.com/team/app"
  },
  "repository": {
    "url": "git@gitlab.example.com:team/app.git",
    "homepage": "https://gitlab.example.com/team/app"
  }
})";

// "sha256=<hex HMAC-SHA256(secret, body)>", computed independently of the code under test.
std::string Sign(const std::string& secret, const std::string& body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &len);
  static const char* kHex = "0123456789abcdef";
  std::string out = "sha256=";
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[mac[i] >> 4];
    out += kHex[mac[i] & 15];
  }
  return out;
}

ServerRequest Post(std::string body, http::Headers headers) {
  return {.method = "POST",
          .path = "/hooks/git",
          .headers = std::move(headers),
          .body = std::move(body),
          .remote = "127.0.0.1"};
}

ServerRequest GitHub(const std::string& event, const std::string& delivery,
                     const std::string& body = kGitHubPush, const std::string& secret = kSecret) {
  return Post(body, {{"X-GitHub-Event", event},
                     {"X-GitHub-Delivery", delivery},
                     {"X-Hub-Signature-256", Sign(secret, body)},
                     {"Content-Type", "application/json"}});
}

ServerRequest GitLab(const std::string& event, const std::string& token,
                     const std::string& uuid = "") {
  http::Headers h = {{"X-Gitlab-Event", event}, {"X-Gitlab-Token", token}};
  if (!uuid.empty()) h.emplace_back("X-Gitlab-Event-UUID", uuid);
  return Post(kGitLabPush, std::move(h));
}

class GitWebhookTest : public ::testing::Test {
 protected:
  http::Handler Handler(GitWebhookOptions options = {.secret = kSecret}) {
    return GitWebhookHandler(options, [this](const GitPush& push) {
      std::lock_guard lock(mu_);
      pushes_.push_back(push);
    });
  }
  std::vector<GitPush> Pushes() {
    std::lock_guard lock(mu_);
    return pushes_;
  }

  std::mutex mu_;
  std::vector<GitPush> pushes_;
};

TEST_F(GitWebhookTest, GitHubPushIsQueuedWithEveryRepositoryUrl) {
  auto resp = Handler()(GitHub("push", "d-1"));
  EXPECT_EQ(resp.status, 202) << resp.body;
  auto pushes = Pushes();
  ASSERT_EQ(pushes.size(), 1u);
  EXPECT_EQ(pushes[0].provider, "github");
  EXPECT_EQ(pushes[0].ref, "refs/heads/main");
  EXPECT_EQ(pushes[0].delivery, "d-1");
  EXPECT_EQ(pushes[0].repo_urls,
            (std::vector<std::string>{
                "https://github.com/Acme/Deploy.git", "git@github.com:Acme/Deploy.git",
                "git://github.com/Acme/Deploy.git", "https://github.com/Acme/Deploy"}));
}

TEST_F(GitWebhookTest, HeaderNamesAreCaseInsensitiveAndUppercaseHexIsAccepted) {
  std::string sig = Sign(kSecret, kGitHubPush);
  std::transform(sig.begin() + 7, sig.end(), sig.begin() + 7, ::toupper);
  auto resp = Handler()(
      Post(kGitHubPush,
           {{"x-github-event", "push"}, {"x-hub-signature-256", sig}, {"X-GITHUB-DELIVERY", "d"}}));
  EXPECT_EQ(resp.status, 202) << resp.body;
  EXPECT_EQ(Pushes().size(), 1u);
}

TEST_F(GitWebhookTest, GitHubFormEncodedPayloadIsVerifiedOverTheRawBody) {
  std::string body =
      "payload=%7B%22ref%22%3A%22refs%2Fheads%2Fmain%22%2C%22repository%22%3A%7B"
      "%22clone_url%22%3A%22https%3A%2F%2Fgithub.com%2FAcme%2FDeploy.git%22%7D%7D";
  auto req = GitHub("push", "d-form", body);
  req.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
  std::erase_if(req.headers, [](const auto& h) { return h.second == "application/json"; });
  auto resp = Handler()(req);
  EXPECT_EQ(resp.status, 202) << resp.body;
  auto pushes = Pushes();
  ASSERT_EQ(pushes.size(), 1u);
  EXPECT_EQ(pushes[0].repo_urls, std::vector<std::string>{"https://github.com/Acme/Deploy.git"});
}

TEST_F(GitWebhookTest, InvalidSignatureIs401) {
  auto handler = Handler();
  auto wrong_secret = handler(GitHub("push", "d", kGitHubPush, "not-the-secret"));
  EXPECT_EQ(wrong_secret.status, 401);
  EXPECT_TRUE(Contains(wrong_secret.body, "signature mismatch"));

  auto tampered = GitHub("push", "d");
  tampered.body += " ";
  EXPECT_EQ(handler(tampered).status, 401);

  auto truncated = GitHub("push", "d");
  for (auto& [k, v] : truncated.headers) {
    if (k == "X-Hub-Signature-256") v.pop_back();
  }
  EXPECT_TRUE(Contains(handler(truncated).body, "signature mismatch"));

  auto not_hex = GitHub("push", "d");
  for (auto& [k, v] : not_hex.headers) {
    if (k == "X-Hub-Signature-256") v = "sha256=" + std::string(64, 'z');
  }
  EXPECT_EQ(handler(not_hex).status, 401);
  EXPECT_TRUE(Pushes().empty());
}

TEST_F(GitWebhookTest, MissingSignatureNamesTheHeader) {
  auto resp = Handler()(Post(kGitHubPush, {{"X-GitHub-Event", "push"}}));
  EXPECT_EQ(resp.status, 401);
  EXPECT_TRUE(Contains(resp.body, "missing X-Hub-Signature-256"));

  auto sha1 =
      Handler()(Post(kGitHubPush, {{"X-GitHub-Event", "push"}, {"X-Hub-Signature", "sha1=abcd"}}));
  EXPECT_EQ(sha1.status, 401);
  EXPECT_TRUE(Contains(sha1.body, "SHA-1 X-Hub-Signature is not accepted"));
  EXPECT_TRUE(Pushes().empty());
}

TEST_F(GitWebhookTest, SignatureWithWrongPrefixIs401) {
  std::string hex = Sign(kSecret, kGitHubPush).substr(7);
  for (const std::string& sig : {"sha1=" + hex, hex, "SHA256=" + hex}) {
    auto resp =
        Handler()(Post(kGitHubPush, {{"X-GitHub-Event", "push"}, {"X-Hub-Signature-256", sig}}));
    EXPECT_EQ(resp.status, 401) << sig;
    EXPECT_TRUE(Contains(resp.body, "must be \"sha256=")) << sig;
  }
  EXPECT_TRUE(Pushes().empty());
}

TEST_F(GitWebhookTest, OtherEventsAreIgnoredAndPingIsAnswered) {
  auto handler = Handler();
  auto issues = handler(GitHub("issues", "d-1"));
  EXPECT_EQ(issues.status, 202);
  EXPECT_TRUE(Contains(issues.body, "ignored"));
  EXPECT_TRUE(Contains(issues.body, "issues"));
  auto ping = handler(GitHub("ping", "d-2", R"({"zen":"Keep it logically awesome."})"));
  EXPECT_EQ(ping.status, 200);
  EXPECT_EQ(ping.body, "pong\n");
  EXPECT_TRUE(Pushes().empty());
}

TEST_F(GitWebhookTest, IgnoredEventsAreStillAuthenticated) {
  auto resp = Handler()(GitHub("ping", "d", "{}", "wrong"));
  EXPECT_EQ(resp.status, 401);
}

TEST_F(GitWebhookTest, ReplayedDeliveryActsOnce) {
  auto handler = Handler();
  EXPECT_EQ(handler(GitHub("push", "d-1")).status, 202);
  auto replay = handler(GitHub("push", "d-1"));
  EXPECT_EQ(replay.status, 200);
  EXPECT_TRUE(Contains(replay.body, "duplicate delivery"));
  EXPECT_EQ(Pushes().size(), 1u);
}

TEST_F(GitWebhookTest, UnverifiedDeliveryIsNotRemembered) {
  auto handler = Handler();
  EXPECT_EQ(handler(GitHub("push", "d-1", kGitHubPush, "forged")).status, 401);
  EXPECT_EQ(handler(GitHub("push", "d-1")).status, 202);
  EXPECT_EQ(Pushes().size(), 1u);
}

TEST_F(GitWebhookTest, DedupRemembersOnlyTheLastEntries) {
  auto handler = Handler({.secret = kSecret, .dedup_entries = 3});
  for (const char* id : {"d-1", "d-2", "d-3", "d-4"}) {
    EXPECT_EQ(handler(GitHub("push", id)).status, 202) << id;
  }
  EXPECT_EQ(handler(GitHub("push", "d-4")).status, 200);  // still remembered
  EXPECT_EQ(handler(GitHub("push", "d-2")).status, 200);
  EXPECT_EQ(handler(GitHub("push", "d-1")).status, 202);  // forgotten: acted on again
  EXPECT_EQ(Pushes().size(), 5u);
}

TEST_F(GitWebhookTest, ConcurrentReplaysActOnce) {
  auto handler = Handler();
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&handler] { handler(GitHub("push", "same")); });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(Pushes().size(), 1u);
}

TEST_F(GitWebhookTest, FailedPushIsNotTakenForAReplay) {
  int calls = 0;
  auto handler = GitWebhookHandler({.secret = kSecret}, [&calls](const GitPush&) {
    if (++calls == 1) throw std::runtime_error("queue closed");
  });
  EXPECT_THROW(handler(GitHub("push", "d-1")), std::runtime_error);
  EXPECT_EQ(handler(GitHub("push", "d-1")).status, 202);
  EXPECT_EQ(calls, 2);
}

TEST_F(GitWebhookTest, GitLabPushAndTagPush) {
  auto handler = Handler();
  EXPECT_EQ(handler(GitLab("Push Hook", kSecret, "u-1")).status, 202);
  EXPECT_EQ(handler(GitLab("Tag Push Hook", kSecret, "u-2")).status, 202);
  EXPECT_EQ(handler(GitLab("Push Hook", kSecret, "u-1")).status, 200);  // replay
  auto mr = handler(GitLab("Merge Request Hook", kSecret, "u-3"));
  EXPECT_EQ(mr.status, 202);
  EXPECT_TRUE(Contains(mr.body, "ignored"));
  auto pushes = Pushes();
  ASSERT_EQ(pushes.size(), 2u);
  EXPECT_EQ(pushes[0].provider, "gitlab");
  EXPECT_EQ(pushes[0].delivery, "u-1");
  EXPECT_EQ(pushes[0].repo_urls,
            (std::vector<std::string>{"https://gitlab.example.com/team/app.git",
                                      "git@gitlab.example.com:team/app.git",
                                      "https://gitlab.example.com/team/app"}));
}

TEST_F(GitWebhookTest, GitLabWrongOrMissingTokenIs401) {
  auto handler = Handler();
  for (const std::string& token :
       {std::string("wrong"), std::string(kSecret) + "x", std::string(kSecret).substr(1)}) {
    auto resp = handler(GitLab("Push Hook", token));
    EXPECT_EQ(resp.status, 401) << token;
    EXPECT_TRUE(Contains(resp.body, "token mismatch"));
  }
  auto missing = handler(Post(kGitLabPush, {{"X-Gitlab-Event", "Push Hook"}}));
  EXPECT_EQ(missing.status, 401);
  EXPECT_TRUE(Contains(missing.body, "missing X-Gitlab-Token"));
  EXPECT_TRUE(Pushes().empty());
}

TEST_F(GitWebhookTest, GenericSignedPush) {
  auto handler = Handler();
  std::string body =
      R"({"repository": "https://git.example.com/team/app.git", "ref": "refs/heads/main"})";
  auto ok = handler(Post(body, {{"X-Flywheel-Signature", Sign(kSecret, body)}}));
  EXPECT_EQ(ok.status, 202) << ok.body;
  std::string no_ref = R"({"repository": "file:///srv/git/x.git"})";
  EXPECT_EQ(handler(Post(no_ref, {{"X-Flywheel-Signature", Sign(kSecret, no_ref)}})).status, 202);
  auto pushes = Pushes();
  ASSERT_EQ(pushes.size(), 2u);
  EXPECT_EQ(pushes[0].provider, "generic");
  EXPECT_EQ(pushes[0].repo_urls, std::vector<std::string>{"https://git.example.com/team/app.git"});
  EXPECT_EQ(pushes[0].ref, "refs/heads/main");
  EXPECT_EQ(pushes[1].ref, "");

  auto bad = handler(Post(body, {{"X-Flywheel-Signature", Sign("other", body)}}));
  EXPECT_EQ(bad.status, 401);
  EXPECT_TRUE(Contains(bad.body, "signature mismatch"));
  std::string list = R"({"repository": ["https://a/x"]})";
  auto array = handler(Post(list, {{"X-Flywheel-Signature", Sign(kSecret, list)}}));
  EXPECT_EQ(array.status, 400);
  EXPECT_TRUE(Contains(array.body, "\"repository\" must be one URL string"));
  EXPECT_EQ(Pushes().size(), 2u);
}

TEST_F(GitWebhookTest, OnlyPostIsAllowed) {
  auto req = GitHub("push", "d");
  req.method = "GET";
  auto resp = Handler()(req);
  EXPECT_EQ(resp.status, 405);
  EXPECT_EQ(http::FindHeader(resp.headers, "Allow"), "POST");
  EXPECT_TRUE(Pushes().empty());
}

TEST_F(GitWebhookTest, EmptySecretDisablesTheReceiver) {
  auto handler = Handler({.secret = ""});
  // Even a request "signed" with the empty secret is refused.
  for (const auto& req :
       {GitHub("push", "d", kGitHubPush, ""), GitLab("Push Hook", ""), Post("{}", {})}) {
    auto resp = handler(req);
    EXPECT_EQ(resp.status, 404);
    EXPECT_TRUE(Contains(resp.body, "git webhook receiver is not configured"));
  }
  EXPECT_TRUE(Pushes().empty());
}

TEST_F(GitWebhookTest, MalformedPayloadAfterAuthIs400WithTheLocation) {
  auto handler = Handler();
  auto resp = handler(GitHub("push", "d-1", "{\"ref\": \n  oops}"));
  EXPECT_EQ(resp.status, 400);
  EXPECT_TRUE(Contains(resp.body, "malformed JSON payload"));
  EXPECT_TRUE(Contains(resp.body, "line 2, column"));
  EXPECT_FALSE(Contains(resp.body, "json.exception"));

  auto no_repo = handler(GitHub("push", "d-2", R"({"ref": "refs/heads/main"})"));
  EXPECT_EQ(no_repo.status, 400);
  EXPECT_TRUE(Contains(no_repo.body, "names no repository URL"));
  EXPECT_EQ(handler(GitHub("push", "d-3", "[1, 2]")).status, 400);
  // A malformed delivery is not remembered: a fixed redelivery is acted on.
  EXPECT_EQ(handler(GitHub("push", "d-1")).status, 202);
  EXPECT_EQ(Pushes().size(), 1u);
}

TEST_F(GitWebhookTest, MalformedPayloadWithoutAuthIs401NotParsed) {
  auto resp = Handler()(Post("{oops", {{"X-GitHub-Event", "push"}}));
  EXPECT_EQ(resp.status, 401);
}

TEST_F(GitWebhookTest, UnknownSenderIs400NamingTheHeaders) {
  auto resp = Handler()(Post(kGitHubPush, {{"Content-Type", "application/json"}}));
  EXPECT_EQ(resp.status, 400);
  EXPECT_TRUE(Contains(resp.body, "X-GitHub-Event"));
  EXPECT_TRUE(Contains(resp.body, "X-Gitlab-Event"));
  EXPECT_TRUE(Contains(resp.body, "X-Flywheel-Signature"));
}

TEST_F(GitWebhookTest, BodyOverTheReceiverCapIs413) {
  auto resp = Handler({.secret = kSecret, .max_body_bytes = 16})(GitHub("push", "d"));
  EXPECT_EQ(resp.status, 413);
  EXPECT_TRUE(Pushes().empty());
}

TEST_F(GitWebhookTest, SecretNeverAppearsInResponsesOrLogs) {
  LogCapture logs;
  auto handler = Handler();
  std::string bodies;
  for (const auto& req :
       {GitHub("push", "d-1"), GitHub("push", "d-1"), GitHub("issues", "d-2"),
        GitHub("push", "d-3", kGitHubPush, "wrong"), GitLab("Push Hook", kSecret, "u"),
        GitLab("Push Hook", "wrong"), GitHub("push", "d-4", "{bad json")}) {
    bodies += handler(req).body;
  }
  EXPECT_FALSE(Contains(bodies, kSecret));
  EXPECT_FALSE(Contains(logs.Text(), kSecret));
  EXPECT_TRUE(Contains(logs.Text(), "rejected"));
}

TEST_F(GitWebhookTest, SlowOnPushIsReported) {
  LogCapture logs;
  FakeClock clock;
  auto handler = GitWebhookHandler({.secret = kSecret, .clock = &clock}, [&clock](const GitPush&) {
    clock.Advance(std::chrono::seconds(2));
  });
  EXPECT_EQ(handler(GitHub("push", "d")).status, 202);
  EXPECT_TRUE(Contains(logs.Text(), "must answer within a second"));
}

// The receiver behind the real server and client: wire headers, the server's body cap.
TEST(GitWebhookServerTest, EndToEnd) {
  std::mutex mu;
  std::vector<GitPush> pushes;
  constexpr size_t kCap = 4096;
  auto handler =
      GitWebhookHandler({.secret = kSecret, .max_body_bytes = kCap}, [&](const GitPush& push) {
        std::lock_guard lock(mu);
        pushes.push_back(push);
      });
  auto server = http::Server::Start({.address = "127.0.0.1:0", .max_body_bytes = kCap},
                                    {{"/hooks/git", handler}});
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  auto client =
      http::NewClient({.base_url = "http://127.0.0.1:" + std::to_string((*server)->port())});
  ASSERT_TRUE(client.ok()) << client.status().ToString();

  http::Request push{.method = "POST",
                     .target = "/hooks/git",
                     .headers = {{"x-github-event", "push"},
                                 {"x-github-delivery", "e2e-1"},
                                 {"x-hub-signature-256", Sign(kSecret, kGitHubPush)},
                                 {"Content-Type", "application/json"}},
                     .body = kGitHubPush};
  auto resp = (*client)->Send(push);
  ASSERT_TRUE(resp.ok()) << resp.status().ToString();
  EXPECT_EQ(resp->status, 202) << resp->body;
  auto replay = (*client)->Send(push);
  ASSERT_TRUE(replay.ok());
  EXPECT_EQ(replay->status, 200);

  auto get = (*client)->Send({.method = "GET", .target = "/hooks/git"});
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(get->status, 405);

  std::string big(kCap + 1, ' ');
  auto too_big = (*client)->Send(
      {.method = "POST",
       .target = "/hooks/git",
       .headers = {{"X-GitHub-Event", "push"}, {"X-Hub-Signature-256", Sign(kSecret, big)}},
       .body = big});
  ASSERT_TRUE(too_big.ok()) << too_big.status().ToString();
  EXPECT_EQ(too_big->status, 413);

  std::lock_guard lock(mu);
  ASSERT_EQ(pushes.size(), 1u);
  EXPECT_EQ(pushes[0].delivery, "e2e-1");
}

}  // namespace
}  // namespace flywheel::webhook
