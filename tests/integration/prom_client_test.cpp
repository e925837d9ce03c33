// prom::Client against Debian's real Prometheus (tests/support/prometheus.h): a backfilled
// dataset answers every result shape and error exactly; a path prefix; the live path, where
// Prometheus scrapes a test exporter every second and the error-ratio query sees the ratio the
// test set; and Prometheus stopped.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <thread>
#include <vector>

#include "flywheel/prom/client.h"
#include "prom/expect_single_value.h"
#include "support/eventually.h"
#include "support/net.h"
#include "support/prometheus.h"
#include "support/test_exporter.h"

namespace flywheel::prom {
namespace {

using namespace std::chrono_literals;
using testing::Prometheus;
using testing::PrometheusOptions;

// The backfilled samples are at kDataTime and a minute later; queries ask at kQueryTime.
const Time kDataTime =
    std::chrono::floor<std::chrono::minutes>(std::chrono::system_clock::now()) - 1h;
const Time kQueryTime = kDataTime + 30s;

std::string Backfill() {
  const std::string t0 = std::to_string(
      std::chrono::duration_cast<std::chrono::seconds>(kDataTime.time_since_epoch()).count());
  const std::string t1 = std::to_string(
      std::chrono::duration_cast<std::chrono::seconds>((kDataTime + 60s).time_since_epoch())
          .count());
  return "# HELP http_requests_total Requests.\n"
         "# TYPE http_requests_total counter\n"
         "http_requests_total{code=\"200\",job=\"app\"} 100 " +
         t0 +
         "\n"
         "http_requests_total{code=\"500\",job=\"app\"} 5 " +
         t0 +
         "\n"
         "http_requests_total{code=\"200\",job=\"app\"} 160 " +
         t1 +
         "\n"
         "http_requests_total{code=\"500\",job=\"app\"} 8 " +
         t1 +
         "\n"
         "# TYPE single gauge\n"
         "single{job=\"app\"} 0.0731 " +
         t0 +
         "\n"
         "single{job=\"app\"} 0.0731 " +
         t1 +
         "\n"
         "# EOF\n";
}

std::unique_ptr<Client> MustClient(const std::string& url) {
  auto client = NewClient({.url = url, .timeout = 10s});
  EXPECT_TRUE(client.ok()) << client.status().ToString();
  return client.ok() ? std::move(*client) : nullptr;
}

// One Prometheus with the backfilled dataset for the whole suite (starting one takes seconds).
class PromClientBackfilledTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    prometheus_ = new Prometheus({.backfill_openmetrics = Backfill()});
  }
  static void TearDownTestSuite() {
    delete prometheus_;
    prometheus_ = nullptr;
  }
  void SetUp() override {
    client_ = MustClient(prometheus_->url());
    ASSERT_NE(client_, nullptr);
  }

  static Prometheus* prometheus_;
  std::unique_ptr<Client> client_;
};

Prometheus* PromClientBackfilledTest::prometheus_ = nullptr;

struct ShapeCase {
  const char* promql;
  QueryResult::Type type;
  // ReduceToSingleValue: kOk with no_data and the value's text, or the error code and a part of
  // its message.
  Code code;
  bool no_data;
  const char* text;
};

TEST_F(PromClientBackfilledTest, AnswersEveryShape) {
  using T = QueryResult::Type;
  const ShapeCase cases[] = {
      {"scalar(single)", T::kScalar, Code::kOk, false, "0.0731"},
      {"42", T::kScalar, Code::kOk, false, "42"},
      {"single", T::kVector, Code::kOk, false, "0.0731"},
      {"sum(http_requests_total{code=~\"5..\"}) / sum(http_requests_total)", T::kVector, Code::kOk,
       false, "0.047619047619047616"},
      {"nothing_here", T::kVector, Code::kOk, true, ""},
      {"0/0", T::kScalar, Code::kOk, true, "NaN"},
      {"single * 0 / 0", T::kVector, Code::kOk, true, "NaN"},
      {"1/0", T::kScalar, Code::kOk, false, "+Inf"},
      {"-1/0", T::kScalar, Code::kOk, false, "-Inf"},
      {"http_requests_total", T::kVector, Code::kInvalidArgument, false,
       "returned 2 series, the first {__name__=\"http_requests_total\", code=\"200\", "
       "job=\"app\"}"},
      {"single[1m]", T::kMatrix, Code::kInvalidArgument, false, "range vector (matrix) of 1"},
      {"\"text\"", T::kString, Code::kInvalidArgument, false, "a string (\"text\")"},
  };
  for (const ShapeCase& c : cases) {
    SCOPED_TRACE(c.promql);
    auto result = client_->Query(c.promql, kQueryTime);
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    EXPECT_EQ(result->type, c.type);
    EXPECT_TRUE(result->warnings.empty());
    ExpectSingleValue(*result, c.code, c.no_data, c.text);
  }
}

TEST_F(PromClientBackfilledTest, InfinitiesAndSeveralSeriesDecode) {
  auto inf = client_->Query("single / 0", kQueryTime);
  ASSERT_TRUE(inf.ok()) << inf.status().ToString();
  ASSERT_EQ(inf->samples.size(), 1u);
  EXPECT_EQ(inf->samples[0].value, INFINITY);
  EXPECT_EQ(inf->samples[0].labels, (std::map<std::string, std::string>{{"job", "app"}}));

  auto several = client_->Query("sort(http_requests_total)", kQueryTime);
  ASSERT_TRUE(several.ok()) << several.status().ToString();
  ASSERT_EQ(several->samples.size(), 2u);
  EXPECT_EQ(several->samples[0].labels.at("code"), "500");
  EXPECT_EQ(several->samples[0].value, 5);
  EXPECT_EQ(several->samples[1].labels.at("code"), "200");
  EXPECT_EQ(several->samples[1].value, 100);
}

TEST_F(PromClientBackfilledTest, SyntaxErrorIsInvalidArgumentWithPrometheusMessage) {
  auto result = client_->Query("sum(", kQueryTime);
  ASSERT_EQ(result.status().code(), Code::kInvalidArgument) << result.status().ToString();
  EXPECT_NE(result.status().message().find(
                "answered 400: bad_data: invalid parameter \"query\": 1:5: parse error: "
                "unclosed left parenthesis"),
            std::string::npos)
      << result.status().message();
}

TEST_F(PromClientBackfilledTest, ExecutionErrorIsFailedPrecondition) {
  auto result =
      client_->Query("http_requests_total + on() group_left http_requests_total", kQueryTime);
  ASSERT_EQ(result.status().code(), Code::kFailedPrecondition) << result.status().ToString();
  EXPECT_NE(result.status().message().find("answered 422: execution: found duplicate series"),
            std::string::npos)
      << result.status().message();
  EXPECT_NE(result.status().message().find("many-to-many matching not allowed"), std::string::npos)
      << result.status().message();
}

TEST(PromClientPrefixTest, QueriesUnderTheRoutePrefix) {
  Prometheus prometheus({.route_prefix = "/prefix", .backfill_openmetrics = Backfill()});
  ASSERT_NE(prometheus.url().find("/prefix"), std::string::npos);
  for (const std::string& url : {prometheus.url(), prometheus.url() + "/"}) {
    auto client = MustClient(url);
    ASSERT_NE(client, nullptr);
    auto result = client->Query("scalar(single)", kQueryTime);
    ASSERT_TRUE(result.ok()) << url << ": " << result.status().ToString();
    EXPECT_EQ(result->samples.at(0).text, "0.0731");
  }
  // Without the prefix there is no API: said, not mistaken for data.
  auto root = MustClient("http://127.0.0.1:" + std::to_string(prometheus.port()));
  ASSERT_NE(root, nullptr);
  auto result = root->Query("scalar(single)", kQueryTime);
  EXPECT_EQ(result.status().code(), Code::kNotFound) << result.status().ToString();
}

TEST(PromClientTlsTest, VerifiesTheCertificateAndSendsBasicAuth) {
  Prometheus prometheus({.backfill_openmetrics = Backfill(),
                         .tls = true,
                         .basic_auth_user = "alice",
                         .basic_auth_password = "s3cr3t pass"});
  ASSERT_EQ(prometheus.url().rfind("https://", 0), 0u) << prometheus.url();
  ClientOptions options{.url = prometheus.url(),
                        .username = "alice",
                        .password = "s3cr3t pass",
                        .ca_pem = prometheus.ca_pem()};
  auto query = [](const ClientOptions& with) -> Result<QueryResult> {
    auto client = NewClient(with);
    if (!client.ok()) return client.status();
    return (*client)->Query("scalar(single)", kQueryTime);
  };
  auto result = query(options);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->samples.at(0).text, "0.0731");

  // A wrong password: Unauthenticated, and no password in the message.
  options.password = "wrong password";
  auto denied = query(options);
  EXPECT_EQ(denied.status().code(), Code::kUnauthenticated) << denied.status().ToString();
  EXPECT_EQ(denied.status().message().find("wrong password"), std::string::npos)
      << denied.status().message();

  // Without the CA the certificate is not trusted: verified by default, Unavailable.
  options.password = "s3cr3t pass";
  options.ca_pem = "";
  auto refused = query(options);
  EXPECT_EQ(refused.status().code(), Code::kUnavailable) << refused.status().ToString();
  EXPECT_NE(refused.status().message().find("certificate verify failed"), std::string::npos)
      << refused.status().message();
  EXPECT_EQ(refused.status().message().find("s3cr3t"), std::string::npos)
      << refused.status().message();
}

TEST(PromClientLiveTest, ErrorRatioQuerySeesTheExportersRatio) {
  testing::TestExporter exporter(/*requests_per_second=*/200, /*error_ratio=*/0.2, "A");
  Prometheus prometheus({.scrape_targets = {exporter.target()}, .scrape_interval = 1s});
  auto client = MustClient(prometheus.url());
  ASSERT_NE(client, nullptr);
  const std::string ratio =
      "sum(rate(http_requests_total{code=~\"5..\"}[5s])) / sum(rate(http_requests_total[5s]))";
  // Waits (generously) until the query's value is within `tolerance` of `want`.
  auto converges = [&](double want, double tolerance) {
    std::string last;
    bool ok = testing::Eventually(
        [&] {
          auto r = client->Query(ratio);
          if (!r.ok()) {
            last = r.status().ToString();
            return false;
          }
          auto v = ReduceToSingleValue(*r);
          if (!v.ok() || v->no_data) {
            last = v.ok() ? "no data" : v.status().ToString();
            return false;
          }
          last = v->text;
          return std::abs(v->value - want) <= tolerance;
        },
        60s);
    EXPECT_TRUE(ok) << "wanted " << want << ", last answer: " << last << "\n" << prometheus.Log();
  };
  converges(0.2, 0.05);
  exporter.SetErrorRatio(0);
  converges(0, 0.01);

  exporter.SetVersion("B");
  EXPECT_TRUE(testing::Eventually(
      [&] {
        auto r = client->Query("app_info{version=\"B\"}");
        return r.ok() && r->samples.size() == 1 && r->samples[0].value == 1;
      },
      30s));
}

// Prometheus' count of the connections its HTTP listener accepted (each read of /metrics opens
// one more).
double AcceptedConnections(const Prometheus& prometheus) {
  const std::string text = testing::LoopbackGet(prometheus.port(), "/metrics");
  const std::string name = "net_conntrack_listener_conn_accepted_total{listener_name=\"http\"} ";
  const size_t at = text.find(name);
  return at == std::string::npos ? -1 : std::stod(text.substr(at + name.size()));
}

TEST_F(PromClientBackfilledTest, QueriesFromManyThreadsReuseKeptAliveConnections) {
  const double before = AcceptedConnections(*prometheus_);
  ASSERT_GE(before, 0);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(client_->Query("scalar(single)", kQueryTime).ok());
  // One connection for the 20 queries, one for the second read of /metrics.
  EXPECT_EQ(AcceptedConnections(*prometheus_) - before, 2);

  // Four threads at once: each takes its own connection from the pool (at most 4 new ones).
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        auto r = client_->Query("scalar(single)", kQueryTime);
        ok += r.ok() && r->samples.at(0).text == "0.0731";
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok, 100);
  const double after = AcceptedConnections(*prometheus_);
  EXPECT_LE(after - before, 2 + 4 + 1);
}

TEST(PromClientOutageTest, StoppedIsUnavailableAndStartedAgainKeepsItsData) {
  Prometheus prometheus({.backfill_openmetrics = Backfill()});
  auto client = MustClient(prometheus.url());
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Query("scalar(single)", kQueryTime).ok());

  prometheus.Stop();
  EXPECT_FALSE(prometheus.Running());
  auto down = client->Query("scalar(single)", kQueryTime);
  EXPECT_EQ(down.status().code(), Code::kUnavailable) << down.status().ToString();
  EXPECT_TRUE(down.status().IsTransient());

  prometheus.Start();
  auto back = client->Query("scalar(single)", kQueryTime);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->samples.at(0).text, "0.0731");
}

}  // namespace
}  // namespace flywheel::prom
