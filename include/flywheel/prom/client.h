#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "flywheel/common/status.h"
#include "flywheel/common/time.h"
#include "flywheel/http/client.h"

namespace flywheel::prom {

// Where a Prometheus-compatible HTTP API is and how to authenticate to it (a RollbackPolicy's
// spec.prometheus with its Secret already read). The URL may carry a path prefix
// (http://thanos:10902/prefix, https://mimir/prometheus): every API path goes under it.
struct ClientOptions {
  std::string url;           // http:// or https://, optional path prefix, no query
  std::string bearer_token;  // Authorization: Bearer (Secret key `token`)
  std::string username;      // HTTP basic (Secret keys `username` and `password`)
  std::string password;
  std::string ca_pem;  // extra CA to trust for https (Secret key `ca.crt`); "" = the system store
  // Timeout of one query: sent as the `timeout` form field and enforced on the request.
  std::chrono::milliseconds timeout{std::chrono::seconds(10)};
};

// One sample of a vector (or the value of a scalar, with no labels): the value as Prometheus
// wrote it ("0.0731", "NaN", "+Inf", "-Inf") and as a double.
struct Sample {
  std::map<std::string, std::string> labels;
  double value = 0;
  std::string text;
};

// A decoded instant-query answer.
struct QueryResult {
  enum class Type { kScalar, kVector, kMatrix, kString };
  Type type = Type::kVector;
  std::vector<Sample> samples;        // scalar: one unlabelled sample; vector: one per series
  size_t matrix_series = 0;           // matrix: how many series (their samples are not kept)
  std::string string_value;           // string
  std::vector<std::string> warnings;  // Prometheus' `warnings`, logged by the client too
};

// A Prometheus HTTP API client (instant queries). Errors are mapped once, here:
// - 400 errorType bad_data (a PromQL syntax error)      -> kInvalidArgument
// - 422 errorType execution (the query failed to run)   -> kFailedPrecondition
// - 503 / 5xx, connection refused or reset, TLS failure -> kUnavailable
// - 401 / 403                                            -> kUnauthenticated / kPermissionDenied
// - 404 (no API under that URL) / 429 (throttled)       -> kNotFound / kResourceExhausted
// - the timeout passing, 504, errorType timeout (503)    -> kDeadlineExceeded
// - a 2xx answer that is not the API's JSON              -> kInternal
// The message carries Prometheus' own `errorType: error` verbatim when it sent one (or the start
// of a body that is not JSON), never a credential: one the server repeats is replaced by
// <redacted>. Safe to use from many threads at once.
class Client {
 public:
  virtual ~Client() = default;

  // POST <url>/api/v1/query with form fields query, time (when `at` is set) and timeout.
  virtual Result<QueryResult> Query(const std::string& promql, std::optional<Time> at = {}) = 0;
};

// The client over its own HTTP/1.1 transport (each query runs on the calling thread over a
// kept-alive connection; src/prom/transport.h). Fails (kInvalidArgument) on a URL that is not
// http(s), or a CA that is not PEM.
Result<std::unique_ptr<Client>> NewClient(const ClientOptions& options);

// What one query's answer means for a threshold check: a value, or no data.
struct SingleValue {
  bool no_data = false;  // empty vector, or NaN
  double value = 0;
  std::string text;  // as Prometheus wrote it; "" for an empty result
};

// Reduces an answer to one value: a scalar, or a vector of exactly one sample. An empty vector
// or NaN is no data. A vector of several series is kInvalidArgument naming how many and the
// labels of the first ({__name__="x", code="500"}) - an element of an unordered vector is never
// picked. A matrix (range vector) or a string is kInvalidArgument saying so.
Result<SingleValue> ReduceToSingleValue(const QueryResult& result);

}  // namespace flywheel::prom
