#include "flywheel/kube/api_error.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "support/testenv.h"

namespace flywheel::kube {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

// The response bodies are in testdata/api_errors; testdata/README.md says how each one was
// obtained (captured from the testenv's kube-apiserver with the command listed there, or
// written by hand after apimachinery's pkg/api/errors where no real server produces it on
// demand).
std::string Fixture(const std::string& name) {
  std::ifstream in(testing::SourcePath("tests/kube/testdata/api_errors/" + name), std::ios::binary);
  EXPECT_TRUE(in.good()) << name;
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

struct FixtureCase {
  const char* file;
  int http_status;
  const char* retry_after_header;
  Code code;
  const char* reason;
  std::optional<milliseconds> retry_after;
};

class ApiErrorFixtureTest : public ::testing::TestWithParam<FixtureCase> {};

TEST_P(ApiErrorFixtureTest, MapsToCodeMessageCausesAndRetryAfter) {
  const FixtureCase& c = GetParam();
  std::string body = Fixture(c.file);
  json status = json::parse(body);
  ASSERT_EQ(status["kind"], "Status");
  ASSERT_EQ(status["code"], c.http_status) << "the fixture's code matches its HTTP status";

  ApiError e = ParseApiError(c.http_status, body, c.retry_after_header);
  EXPECT_EQ(e.status.code(), c.code) << e.status.ToString();
  EXPECT_EQ(e.reason, c.reason);
  EXPECT_EQ(e.http_status, c.http_status);
  // The server's message is kept verbatim at the front.
  std::string server_message = status["message"];
  EXPECT_EQ(e.status.message().substr(0, server_message.size()), server_message);
  // Every cause is parsed and visible in the message.
  json causes =
      status.contains("details") ? status["details"].value("causes", json::array()) : json::array();
  ASSERT_EQ(e.causes.size(), causes.size());
  for (size_t i = 0; i < causes.size(); ++i) {
    EXPECT_EQ(e.causes[i].type, causes[i].value("reason", ""));
    EXPECT_EQ(e.causes[i].field, causes[i].value("field", ""));
    EXPECT_EQ(e.causes[i].message, causes[i].value("message", ""));
    EXPECT_NE(e.status.message().find(e.causes[i].field), std::string::npos);
    EXPECT_NE(e.status.message().find(e.causes[i].message), std::string::npos);
  }
  EXPECT_EQ(e.status.retry_after(), c.retry_after);
  EXPECT_EQ(StatusFromResponse(c.http_status, body, c.retry_after_header).code(), c.code);
}

const std::optional<milliseconds> kNoRetry;

INSTANTIATE_TEST_SUITE_P(
    Fixtures, ApiErrorFixtureTest,
    ::testing::Values(
        FixtureCase{"not_found.json", 404, "", Code::kNotFound, "NotFound", kNoRetry},
        FixtureCase{"already_exists.json", 409, "", Code::kAlreadyExists, "AlreadyExists",
                    kNoRetry},
        FixtureCase{"conflict.json", 409, "", Code::kAborted, "Conflict", kNoRetry},
        FixtureCase{"apply_conflict.json", 409, "", Code::kAborted, "Conflict", kNoRetry},
        FixtureCase{"invalid.json", 422, "", Code::kInvalidArgument, "Invalid", kNoRetry},
        FixtureCase{"forbidden.json", 403, "", Code::kPermissionDenied, "Forbidden", kNoRetry},
        FixtureCase{"unauthorized.json", 401, "", Code::kUnauthenticated, "Unauthorized", kNoRetry},
        FixtureCase{"expired.json", 410, "", Code::kOutOfRange, "Expired", kNoRetry},
        FixtureCase{"bad_request.json", 400, "", Code::kInvalidArgument, "BadRequest", kNoRetry},
        // An eviction a PodDisruptionBudget forbids: a Status with a cause and no retry hint.
        FixtureCase{"too_many_requests.json", 429, "", Code::kResourceExhausted, "TooManyRequests",
                    kNoRetry},
        FixtureCase{"too_many_requests.json", 429, "3", Code::kResourceExhausted, "TooManyRequests",
                    seconds(3)},
        // Retry-After from details.retryAfterSeconds, unless the header says otherwise.
        FixtureCase{"server_timeout.json", 500, "", Code::kUnavailable, "ServerTimeout",
                    seconds(2)},
        FixtureCase{"server_timeout.json", 500, "7", Code::kUnavailable, "ServerTimeout",
                    seconds(7)},
        FixtureCase{"internal_error.json", 500, "", Code::kUnavailable, "InternalError", kNoRetry},
        FixtureCase{"service_unavailable.json", 503, " 5 ", Code::kUnavailable,
                    "ServiceUnavailable", seconds(5)},
        FixtureCase{"timeout.json", 504, "", Code::kDeadlineExceeded, "Timeout", kNoRetry},
        FixtureCase{"method_not_allowed.json", 405, "", Code::kInvalidArgument, "MethodNotAllowed",
                    kNoRetry},
        FixtureCase{"unsupported_media_type.json", 415, "", Code::kInvalidArgument,
                    "UnsupportedMediaType", kNoRetry},
        FixtureCase{"not_acceptable.json", 406, "", Code::kInvalidArgument, "NotAcceptable",
                    kNoRetry},
        FixtureCase{"request_entity_too_large.json", 413, "", Code::kInvalidArgument,
                    "RequestEntityTooLarge", kNoRetry}),
    [](const ::testing::TestParamInfo<FixtureCase>& param_info) {
      std::string name = param_info.param.file;
      name = name.substr(0, name.find('.'));
      if (*param_info.param.retry_after_header != '\0') name += "_with_header";
      return name;
    });

TEST(ApiErrorTest, CausesAreShownOnce) {
  // The server already names the conflicting field of an apply conflict: nothing is added.
  EXPECT_EQ(StatusFromResponse(409, Fixture("apply_conflict.json"), "").message(),
            "Apply failed with 1 conflict: conflict with \"first\": .data.k");
  // The eviction's cause is not in its message, so it is appended.
  EXPECT_EQ(StatusFromResponse(429, Fixture("too_many_requests.json"), "").message(),
            "Cannot evict pod as it would violate the pod's disruption budget.: The disruption "
            "budget guarded needs 1 healthy pods and has 1 currently");
}

TEST(ApiErrorTest, PlainTextAnswersFromTheServer) {
  // API Priority and Fairness rejects in plain text, with the delay only in the header.
  ApiError e = ParseApiError(429, Fixture("too_many_requests_apf.txt"), "1");
  EXPECT_EQ(e.status.code(), Code::kResourceExhausted);
  EXPECT_EQ(e.reason, "TooManyRequests");
  EXPECT_EQ(e.status.retry_after(), std::optional<milliseconds>(seconds(1)));
  EXPECT_EQ(e.status.message(),
            "the server responded with HTTP 429 Too Many Requests and a body that is not a "
            "Kubernetes Status: Too many requests, please try again later.");

  // The aggregator, for an APIService whose backend is missing.
  e = ParseApiError(503, Fixture("service_unavailable_aggregator.txt"), "");
  EXPECT_EQ(e.status.code(), Code::kUnavailable);
  EXPECT_EQ(e.reason, "ServiceUnavailable");
  EXPECT_EQ(e.status.message(),
            "the server responded with HTTP 503 Service Unavailable and a body that is not a "
            "Kubernetes Status: service unavailable");
  EXPECT_EQ(e.status.retry_after(), kNoRetry);
}

TEST(ApiErrorTest, InvalidMessageGainsCausesTheServerDidNotList) {
  // An admission webhook or aggregated server may put the causes only in details.
  std::string body = R"({"kind":"Status","apiVersion":"v1","status":"Failure",
    "message":"Pipeline.flywheel.dev \"p\" is invalid","reason":"Invalid","code":422,
    "details":{"causes":[
      {"reason":"FieldValueRequired","message":"Required value","field":"spec.source"},
      {"reason":"FieldValueInvalid","message":"must be positive","field":"spec.replicas"},
      {"reason":"FieldValueInvalid","message":"object-wide problem"}]}})";
  Status s = StatusFromResponse(422, body, "");
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "Pipeline.flywheel.dev \"p\" is invalid: spec.source: Required value; "
            "spec.replicas: must be positive; object-wide problem");
}

TEST(ApiErrorTest, UnknownReasonFallsBackToTheCode) {
  std::string body =
      R"({"kind":"Status","apiVersion":"v1","status":"Failure","message":"nope",
          "reason":"SomethingNew","code":404})";
  ApiError e = ParseApiError(404, body, "");
  EXPECT_EQ(e.status.code(), Code::kNotFound);
  EXPECT_EQ(e.reason, "SomethingNew");

  // No reason: the one client-go infers from the code.
  e = ParseApiError(409, R"({"kind":"Status","apiVersion":"v1","code":409,"message":"x"})", "");
  EXPECT_EQ(e.status.code(), Code::kAborted);
  EXPECT_EQ(e.reason, "Conflict");

  // No message either: the HTTP status is described.
  e = ParseApiError(503, R"({"kind":"Status","apiVersion":"v1","code":503})", "");
  EXPECT_EQ(e.status.code(), Code::kUnavailable);
  EXPECT_EQ(e.status.message(),
            "the server responded with HTTP 503 Service Unavailable (ServiceUnavailable)");
}

TEST(ApiErrorTest, NonJsonBodyGivesHttpStatusAndBoundedExcerpt) {
  ApiError e = ParseApiError(502, Fixture("proxy_bad_gateway.html"), "");
  EXPECT_EQ(e.status.code(), Code::kUnavailable);
  EXPECT_EQ(e.status.message(),
            "the server responded with HTTP 502 Bad Gateway and a body that is not a Kubernetes "
            "Status: 502 Bad Gateway 502 Bad Gateway nginx/1.22.1");

  std::string huge = "upstream said: " + std::string(100000, 'x') + "\n\x01\xff";
  Status s = StatusFromResponse(500, huge, "");
  EXPECT_EQ(s.code(), Code::kUnavailable);
  EXPECT_LT(s.message().size(), 400u);
  EXPECT_NE(s.message().find("HTTP 500 Internal Server Error"), std::string::npos);
  EXPECT_NE(s.message().find("upstream said: xxx"), std::string::npos);
  EXPECT_EQ(s.message().substr(s.message().size() - 3), "...");

  // The excerpt never ends in half a UTF-8 character.
  std::string accents;
  for (int i = 0; i < 300; ++i) accents += "\xC3\xA9";
  s = StatusFromResponse(404, "x" + accents, "");
  EXPECT_EQ(s.code(), Code::kNotFound);
  EXPECT_NO_THROW(json(s.message()).dump());

  // Invalid UTF-8 from the body does not reach the message (it would break JSON output).
  s = StatusFromResponse(502, "bad \xff\xc3( gateway", "");
  EXPECT_EQ(s.message(),
            "the server responded with HTTP 502 Bad Gateway and a body that is not a Kubernetes "
            "Status: bad \xEF\xBF\xBD\xEF\xBF\xBD( gateway");

  s = StatusFromResponse(404, "", "");
  EXPECT_EQ(s.message(), "the server responded with HTTP 404 Not Found and an empty body");

  // JSON that is not a Status is quoted too.
  s = StatusFromResponse(429, R"({"error":"slow down"})", "7");
  EXPECT_EQ(s.code(), Code::kResourceExhausted);
  EXPECT_NE(s.message().find(R"({"error":"slow down"})"), std::string::npos);
  EXPECT_EQ(s.retry_after(), std::optional<milliseconds>(seconds(7)));
}

TEST(ApiErrorTest, HttpStatusWithoutStatusBody) {
  struct Case {
    int http_status;
    Code code;
  };
  const Case cases[] = {
      {400, Code::kInvalidArgument},   {401, Code::kUnauthenticated},
      {403, Code::kPermissionDenied},  {404, Code::kNotFound},
      {405, Code::kInvalidArgument},   {406, Code::kInvalidArgument},
      {408, Code::kDeadlineExceeded},  {409, Code::kAborted},
      {410, Code::kOutOfRange},        {413, Code::kInvalidArgument},
      {415, Code::kInvalidArgument},   {422, Code::kInvalidArgument},
      {429, Code::kResourceExhausted}, {500, Code::kUnavailable},
      {502, Code::kUnavailable},       {503, Code::kUnavailable},
      {504, Code::kDeadlineExceeded},  {599, Code::kUnavailable},
      {418, Code::kUnknown},           {302, Code::kUnknown},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(StatusFromResponse(c.http_status, "oops", "").code(), c.code) << c.http_status;
  }
  EXPECT_TRUE(StatusFromResponse(200, "", "").ok());
  EXPECT_TRUE(StatusFromResponse(201, Fixture("not_found.json"), "").ok());
}

TEST(ApiErrorTest, RetryAfterHeaderFormats) {
  std::string body = Fixture("server_timeout.json");  // details.retryAfterSeconds: 2
  EXPECT_EQ(StatusFromResponse(500, body, "0").retry_after(),
            std::optional<milliseconds>(seconds(0)));
  // An HTTP-date (the API server never sends one) or garbage falls back to the body.
  EXPECT_EQ(StatusFromResponse(500, body, "Wed, 21 Oct 2015 07:28:00 GMT").retry_after(),
            std::optional<milliseconds>(seconds(2)));
  EXPECT_EQ(StatusFromResponse(500, body, "-1").retry_after(),
            std::optional<milliseconds>(seconds(2)));
  EXPECT_EQ(StatusFromResponse(500, body, "2.5").retry_after(),
            std::optional<milliseconds>(seconds(2)));
  EXPECT_EQ(StatusFromResponse(503, "busy", "").retry_after(), kNoRetry);
}

TEST(ApiErrorTest, WatchErrorEventObject) {
  // The object of the ERROR event a watch from a too old resourceVersion gets (captured; it is
  // the last event of testdata/watch/configmaps.jsonl).
  json object = json::parse(R"json({"kind":"Status","apiVersion":"v1","metadata":{},
      "status":"Failure","message":"too old resource version: 1 (1216)","reason":"Expired",
      "code":410})json");
  ApiError e = ApiErrorFromStatusObject(object);
  EXPECT_EQ(e.status.code(), Code::kOutOfRange);
  EXPECT_EQ(e.status.message(), "too old resource version: 1 (1216)");
  EXPECT_EQ(e.reason, "Expired");
  EXPECT_EQ(e.http_status, 410);

  e = ApiErrorFromStatusObject(json::parse(R"({"kind":"Status","status":"Failure",
      "message":"internal error: etcd","reason":"InternalError","code":500})"));
  EXPECT_EQ(e.status.code(), Code::kUnavailable);

  EXPECT_TRUE(ApiErrorFromStatusObject(json::parse(R"({"status":"Success"})")).status.ok());
  EXPECT_EQ(ApiErrorFromStatusObject(json("text")).status.code(), Code::kInternal);
}

}  // namespace
}  // namespace flywheel::kube
