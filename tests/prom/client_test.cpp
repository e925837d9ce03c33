// prom::Client against a loopback http::Server that records each request and answers with a
// body recorded from a real Prometheus (testdata/README.md): the decoding of every answer, the
// request as sent (form body, path prefix, auth) and the error mapping.
#include "flywheel/prom/client.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <mutex>
#include <sstream>

#include "flywheel/common/base64.h"
#include "flywheel/http/server.h"
#include "prom/expect_single_value.h"
#include "support/git_server.h"
#include "support/net.h"
#include "support/testenv.h"

namespace flywheel::prom {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

std::string Answer(const std::string& name) {
  std::ifstream in(testing::SourcePath("tests/prom/testdata/answers/" + name), std::ios::binary);
  EXPECT_TRUE(in.good()) << name;
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// A stand-in for Prometheus on loopback: serves `path`, records every request, and answers
// what the test set.
class RecordingPrometheus {
 public:
  explicit RecordingPrometheus(const std::string& path = "/api/v1/query") {
    auto server = http::Server::Start({}, {{path, [this](const http::ServerRequest& request) {
                                              std::lock_guard lock(mu_);
                                              requests_.push_back(request);
                                              return response_;
                                            }}});
    EXPECT_TRUE(server.ok()) << server.status().ToString();
    if (server.ok()) server_ = std::move(*server);
  }

  void Answer(int status, std::string body, std::string content_type = "application/json") {
    std::lock_guard lock(mu_);
    response_ = {
        .status = status, .content_type = std::move(content_type), .body = std::move(body)};
  }

  std::vector<http::ServerRequest> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }

  std::string url(const std::string& prefix = "") const {
    return "http://127.0.0.1:" + std::to_string(server_ ? server_->port() : 0) + prefix;
  }

 private:
  std::mutex mu_;
  http::ServerResponse response_;
  std::vector<http::ServerRequest> requests_;
  std::unique_ptr<http::Server> server_;
};

std::unique_ptr<Client> MustClient(const ClientOptions& options) {
  auto client = NewClient(options);
  EXPECT_TRUE(client.ok()) << client.status().ToString();
  return client.ok() ? std::move(*client) : nullptr;
}

// --- every recorded answer -------------------------------------------------------------------

struct AnswerCase {
  const char* file;
  int http_status;
  // Query: kOk and the decoded type, or the error code and a part of the message.
  Code code;
  QueryResult::Type type;
  const char* message_part;
  // ReduceToSingleValue of a successful answer: kOk with no_data and the text, or an error.
  Code reduce_code;
  bool no_data;
  const char* text;
};

constexpr auto kVector = QueryResult::Type::kVector;
constexpr auto kScalar = QueryResult::Type::kScalar;

class AnswerTest : public ::testing::TestWithParam<AnswerCase> {};

TEST_P(AnswerTest, DecodesAndReduces) {
  const AnswerCase& c = GetParam();
  RecordingPrometheus prometheus;
  prometheus.Answer(c.http_status, Answer(c.file));
  auto client = MustClient({.url = prometheus.url()});
  ASSERT_NE(client, nullptr);

  auto result = client->Query("up");
  ASSERT_EQ(result.status().code(), c.code) << result.status().ToString();
  if (!result.ok()) {
    EXPECT_NE(result.status().message().find(c.message_part), std::string::npos)
        << result.status().message();
    EXPECT_NE(result.status().message().find(prometheus.url()), std::string::npos)
        << "names the server: " << result.status().message();
    return;
  }
  EXPECT_EQ(result->type, c.type);
  ExpectSingleValue(*result, c.reduce_code, c.no_data, c.text);
}

INSTANTIATE_TEST_SUITE_P(
    Recorded, AnswerTest,
    ::testing::Values(
        AnswerCase{"vector_one.json", 200, Code::kOk, kVector, "", Code::kOk, false, "0.0731"},
        AnswerCase{"vector_empty.json", 200, Code::kOk, kVector, "", Code::kOk, true, ""},
        AnswerCase{"vector_nan.json", 200, Code::kOk, kVector, "", Code::kOk, true, "NaN"},
        AnswerCase{"vector_inf.json", 200, Code::kOk, kVector, "", Code::kOk, false, "+Inf"},
        AnswerCase{"vector_several.json", 200, Code::kOk, kVector, "", Code::kInvalidArgument,
                   false,
                   "returned 2 series, the first {__name__=\"http_requests_total\", "
                   "code=\"200\", job=\"app\"}"},
        AnswerCase{"scalar.json", 200, Code::kOk, kScalar, "", Code::kOk, false, "0.0731"},
        AnswerCase{"scalar_nan.json", 200, Code::kOk, kScalar, "", Code::kOk, true, "NaN"},
        AnswerCase{"scalar_inf.json", 200, Code::kOk, kScalar, "", Code::kOk, false, "+Inf"},
        AnswerCase{"scalar_minus_inf.json", 200, Code::kOk, kScalar, "", Code::kOk, false, "-Inf"},
        AnswerCase{"matrix.json", 200, Code::kOk, QueryResult::Type::kMatrix, "",
                   Code::kInvalidArgument, false, "range vector (matrix) of 2 series"},
        AnswerCase{"string.json", 200, Code::kOk, QueryResult::Type::kString, "",
                   Code::kInvalidArgument, false, "a string (\"text\")"},
        AnswerCase{"warnings.json", 200, Code::kOk, kVector, "", Code::kOk, false, "0.02"},
        AnswerCase{"bad_data_400.json", 400, Code::kInvalidArgument, kVector,
                   "answered 400: bad_data: invalid parameter \"query\": 1:5: parse error: "
                   "unclosed left parenthesis",
                   Code::kOk, false, ""},
        AnswerCase{"execution_422.json", 422, Code::kFailedPrecondition, kVector,
                   "answered 422: execution: found duplicate series for the match group {} on "
                   "the right hand-side of the operation",
                   Code::kOk, false, ""},
        AnswerCase{"timeout_503.json", 503, Code::kDeadlineExceeded, kVector,
                   "answered 503: timeout: query timed out in query execution", Code::kOk, false,
                   ""},
        AnswerCase{"unavailable_503.html", 503, Code::kUnavailable, kVector,
                   "answered 503: \"<html> <head><title>503 Service Temporarily Unavailable",
                   Code::kOk, false, ""},
        AnswerCase{"not_json_200.html", 200, Code::kInternal, kVector,
                   "answered 200 with a body that is not the Prometheus API's JSON: "
                   "\"<!doctype html>",
                   Code::kOk, false, ""}),
    [](const ::testing::TestParamInfo<AnswerCase>& param_info) {
      std::string name = param_info.param.file;
      for (char& c : name) {
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      }
      return name;
    });

TEST(PromClientTest, SpecialValuesDecodeToDoubles) {
  RecordingPrometheus prometheus;
  auto client = MustClient({.url = prometheus.url()});
  ASSERT_NE(client, nullptr);
  const std::pair<const char*, double> cases[] = {
      {"scalar_inf.json", INFINITY}, {"scalar_minus_inf.json", -INFINITY}, {"scalar.json", 0.0731}};
  for (const auto& [file, want] : cases) {
    prometheus.Answer(200, Answer(file));
    auto result = client->Query("x");
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    ASSERT_EQ(result->samples.size(), 1u) << file;
    EXPECT_EQ(result->samples[0].value, want) << file;
    EXPECT_TRUE(result->samples[0].labels.empty()) << file;
  }
  prometheus.Answer(200, Answer("vector_nan.json"));
  auto nan = client->Query("x");
  ASSERT_TRUE(nan.ok()) << nan.status().ToString();
  EXPECT_TRUE(std::isnan(nan->samples.at(0).value));
  EXPECT_EQ(nan->samples.at(0).labels, (std::map<std::string, std::string>{{"job", "app"}}));
}

TEST(PromClientTest, SeveralSeriesKeepTheirLabelsInOrderAndMatrixCountsSeries) {
  RecordingPrometheus prometheus;
  auto client = MustClient({.url = prometheus.url()});
  ASSERT_NE(client, nullptr);
  prometheus.Answer(200, Answer("vector_several.json"));
  auto several = client->Query("http_requests_total");
  ASSERT_TRUE(several.ok()) << several.status().ToString();
  ASSERT_EQ(several->samples.size(), 2u);
  EXPECT_EQ(several->samples[0].labels.at("code"), "200");
  EXPECT_EQ(several->samples[0].value, 100);
  EXPECT_EQ(several->samples[1].labels.at("code"), "500");
  EXPECT_EQ(several->samples[1].value, 5);
  prometheus.Answer(200, Answer("matrix.json"));
  auto matrix = client->Query("http_requests_total[1m]");
  ASSERT_TRUE(matrix.ok()) << matrix.status().ToString();
  EXPECT_EQ(matrix->matrix_series, 2u);
}

TEST(PromClientTest, WarningsAreReturned) {
  RecordingPrometheus prometheus;
  prometheus.Answer(200, Answer("warnings.json"));
  auto client = MustClient({.url = prometheus.url()});
  ASSERT_NE(client, nullptr);
  auto result = client->Query("x");
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  ASSERT_EQ(result->warnings.size(), 1u);
  EXPECT_EQ(result->warnings[0],
            "remote_read: server returned HTTP status 500 Internal Server Error: connection "
            "refused");
}

TEST(PromClientTest, MalformedSuccessAnswersAreInternalErrors) {
  RecordingPrometheus prometheus;
  auto client = MustClient({.url = prometheus.url()});
  ASSERT_NE(client, nullptr);
  const char* bodies[] = {
      R"({"status":"success"})",
      R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"abc"]}]}})",
      R"({"status":"success","data":{"resultType":"scalar","result":[1]}})",
      R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"histogram":[1,{}]}]}})",
      R"({"status":"success","data":{"resultType":"histogram","result":[]}})",
      "[1,2]",
      ""};
  for (const char* body : bodies) {
    prometheus.Answer(200, body);
    auto result = client->Query("x");
    EXPECT_EQ(result.status().code(), Code::kInternal)
        << body << " -> " << result.status().ToString();
  }
}

TEST(PromClientTest, StatusCodesWithoutAnErrorTypeMapByStatus) {
  RecordingPrometheus prometheus;
  auto client = MustClient({.url = prometheus.url()});
  ASSERT_NE(client, nullptr);
  const std::pair<int, Code> cases[] = {
      {401, Code::kUnauthenticated},   {403, Code::kPermissionDenied}, {404, Code::kNotFound},
      {429, Code::kResourceExhausted}, {500, Code::kUnavailable},      {502, Code::kUnavailable},
      {504, Code::kDeadlineExceeded}};
  for (const auto& [status, code] : cases) {
    prometheus.Answer(status, "denied", "text/plain");
    auto result = client->Query("x");
    EXPECT_EQ(result.status().code(), code) << status << " -> " << result.status().ToString();
    EXPECT_NE(result.status().message().find("answered " + std::to_string(status) + ": \"denied\""),
              std::string::npos)
        << result.status().message();
  }
}

// --- the request -----------------------------------------------------------------------------

// Decodes application/x-www-form-urlencoded as Go's url.ParseQuery does ('+' is a space).
std::map<std::string, std::string> ParseForm(const std::string& body) {
  std::map<std::string, std::string> out;
  std::stringstream pairs(body);
  std::string pair;
  auto decode = [](const std::string& s) {
    std::string decoded;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '+') {
        decoded += ' ';
      } else if (s[i] == '%' && i + 2 < s.size()) {
        decoded += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
        i += 2;
      } else {
        decoded += s[i];
      }
    }
    return decoded;
  };
  while (std::getline(pairs, pair, '&')) {
    auto eq = pair.find('=');
    out[decode(pair.substr(0, eq))] = decode(eq == std::string::npos ? "" : pair.substr(eq + 1));
  }
  return out;
}

TEST(PromClientTest, PostsAFormWithQueryTimeAndTimeout) {
  RecordingPrometheus prometheus;
  prometheus.Answer(200, Answer("vector_one.json"));
  auto client = MustClient({.url = prometheus.url(), .timeout = milliseconds(2500)});
  ASSERT_NE(client, nullptr);
  const std::string promql =
      "sum(rate(http_requests_total{code=~\"5..\", path!=\"/a b&c=d+e%\"}[5m])) / 2 # é";
  Time at = Time(milliseconds(1796121135250));
  ASSERT_TRUE(client->Query(promql, at).ok());
  ASSERT_TRUE(client->Query("up").ok());

  auto requests = prometheus.requests();
  ASSERT_EQ(requests.size(), 2u);
  const http::ServerRequest& r = requests[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.path, "/api/v1/query");
  EXPECT_EQ(r.query, "");
  EXPECT_EQ(http::FindHeader(r.headers, "Content-Type"), "application/x-www-form-urlencoded");
  EXPECT_EQ(http::FindHeader(r.headers, "Authorization"), "");
  // Every byte outside the unreserved set is percent-encoded (spaces too, so no '+' appears).
  EXPECT_EQ(r.body,
            "query=sum%28rate%28http_requests_total%7Bcode%3D~%225..%22%2C%20path%21%3D%22%2Fa%"
            "20b%26c%3Dd%2Be%25%22%7D%5B5m%5D%29%29%20%2F%202%20%23%20%C3%A9"
            "&time=1796121135.25&timeout=2.5");
  auto form = ParseForm(r.body);
  EXPECT_EQ(form["query"], promql);
  // No `time` without `at`: Prometheus evaluates at its own now.
  EXPECT_EQ(ParseForm(requests[1].body),
            (std::map<std::string, std::string>{{"query", "up"}, {"timeout", "2.5"}}));
}

TEST(PromClientTest, KeepsThePathPrefixOfTheUrl) {
  for (const std::string prefix : {"/prom/prefix", "/prom/prefix/"}) {
    RecordingPrometheus prometheus("/prom/prefix/api/v1/query");
    prometheus.Answer(200, Answer("scalar.json"));
    auto client = MustClient({.url = prometheus.url(prefix)});
    ASSERT_NE(client, nullptr);
    auto result = client->Query("scalar(single)");
    ASSERT_TRUE(result.ok()) << prefix << ": " << result.status().ToString();
    ASSERT_EQ(prometheus.requests().size(), 1u);
    EXPECT_EQ(prometheus.requests()[0].path, "/prom/prefix/api/v1/query");
  }
}

TEST(PromClientTest, SendsABearerToken) {
  RecordingPrometheus prometheus;
  prometheus.Answer(200, Answer("scalar.json"));
  auto client = MustClient({.url = prometheus.url(), .bearer_token = "s3cr3t-token"});
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Query("1").ok());
  EXPECT_EQ(http::FindHeader(prometheus.requests().at(0).headers, "Authorization"),
            "Bearer s3cr3t-token");
}

TEST(PromClientTest, SendsBasicAuth) {
  RecordingPrometheus prometheus;
  prometheus.Answer(200, Answer("scalar.json"));
  auto client = MustClient({.url = prometheus.url(), .username = "alice", .password = "p:ss wörd"});
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Query("1").ok());
  EXPECT_EQ(http::FindHeader(prometheus.requests().at(0).headers, "Authorization"),
            "Basic " + Base64Encode("alice:p:ss wörd"));
}

TEST(PromClientTest, ACredentialTheServerRepeatsIsRedacted) {
  for (const ClientOptions& auth :
       {ClientOptions{.bearer_token = "s3cr3t-token"},
        ClientOptions{.username = "alice", .password = "hunter2-password"}}) {
    RecordingPrometheus prometheus;
    auto client = MustClient({.url = prometheus.url(),
                              .bearer_token = auth.bearer_token,
                              .username = auth.username,
                              .password = auth.password});
    ASSERT_NE(client, nullptr);
    // An echoing proxy: the credential of the Authorization header, then the secret alone.
    client->Query("1");  // records the Authorization header the client sends
    std::string header(http::FindHeader(prometheus.requests().at(0).headers, "Authorization"));
    std::string secret = auth.bearer_token.empty() ? auth.password : auth.bearer_token;
    const std::string credential = header.substr(header.find(' ') + 1);
    prometheus.Answer(401, "rejected " + credential + " (" + secret + ")");
    auto result = client->Query("1");
    EXPECT_EQ(result.status().code(), Code::kUnauthenticated);
    EXPECT_EQ(result.status().message().find(secret), std::string::npos)
        << result.status().message();
    EXPECT_EQ(result.status().message().find(credential), std::string::npos)
        << result.status().message();
    EXPECT_NE(result.status().message().find("<redacted>"), std::string::npos)
        << result.status().message();
  }
}

// --- transport failures ----------------------------------------------------------------------

TEST(PromClientTest, RefusedConnectionIsUnavailable) {
  const int port = testing::FreePort();  // nobody listens there
  auto client = MustClient({.url = "http://127.0.0.1:" + std::to_string(port) + "/prefix"});
  ASSERT_NE(client, nullptr);
  auto result = client->Query("up");
  EXPECT_EQ(result.status().code(), Code::kUnavailable) << result.status().ToString();
  EXPECT_NE(result.status().message().find("/prefix/api/v1/query"), std::string::npos)
      << result.status().message();
}

TEST(PromClientTest, AServerThatNeverAnswersIsDeadlineExceeded) {
  testing::SilentServer silent;
  auto client = MustClient(
      {.url = "http://127.0.0.1:" + std::to_string(silent.port()), .timeout = milliseconds(300)});
  ASSERT_NE(client, nullptr);
  auto result = client->Query("up");
  EXPECT_EQ(result.status().code(), Code::kDeadlineExceeded) << result.status().ToString();
}

// --- options ---------------------------------------------------------------------------------

TEST(PromClientTest, BadOptionsAreInvalidArgumentWithoutCredentials) {
  struct Case {
    ClientOptions options;
    const char* message_part;
  };
  const Case cases[] = {
      {{.url = "ftp://prometheus:9090"}, "must start with http:// or https://"},
      {{.url = "prometheus:9090"}, "must start with http:// or https://"},
      {{.url = "http://"}, "has no host"},
      {{.url = "http://alice:hunter2@prometheus:9090"}, "must not carry credentials"},
      {{.url = "http://prometheus:9090/api?x=1"}, "must not have a query"},
      {{.url = "http://prometheus:99999"}, "invalid port"},
      {{.url = "http://prometheus:90x0"}, "invalid port"},
      {{.url = "http://[::1:9090"}, "unclosed ["},
      {{.url = "http://prometheus:9090", .bearer_token = "t", .username = "u", .password = "p"},
       "both a bearer token and a username/password"},
      {{.url = "http://prometheus:9090", .password = "hunter2"}, "password is given without"},
      {{.url = "https://prometheus:9090", .ca_pem = "not a certificate"}, "TLS"},
      {{.url = "http://prometheus:9090", .timeout = milliseconds(0)}, "timeout must be positive"},
  };
  for (const Case& c : cases) {
    auto client = NewClient(c.options);
    ASSERT_EQ(client.status().code(), Code::kInvalidArgument) << c.options.url;
    EXPECT_NE(client.status().message().find(c.message_part), std::string::npos)
        << client.status().message();
    EXPECT_EQ(client.status().message().find("hunter2"), std::string::npos)
        << client.status().message();
  }
}

}  // namespace
}  // namespace flywheel::prom
