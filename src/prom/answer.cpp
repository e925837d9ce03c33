#include "answer.h"

#include <charconv>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace flywheel::prom {
namespace {

using nlohmann::json;

// How much of a body that is not the API's JSON a message quotes.
constexpr size_t kQuotedBodyBytes = 200;

// The code of an answer by its HTTP status alone (no errorType, or one not listed below).
Code CodeOfHttpStatus(int status) {
  switch (status) {
    case 400:
      return Code::kInvalidArgument;
    case 401:
      return Code::kUnauthenticated;
    case 403:
      return Code::kPermissionDenied;
    case 404:
      return Code::kNotFound;
    case 408:
    case 504:
      return Code::kDeadlineExceeded;
    case 422:
      return Code::kFailedPrecondition;
    case 429:
      return Code::kResourceExhausted;
    default:
      return status >= 500 ? Code::kUnavailable : Code::kInternal;
  }
}

// The code of an error answer: Prometheus' errorType when it says more than the HTTP status
// (a query timeout is 503 "timeout": the deadline passed, not the server down).
Code CodeOfError(int status, const std::string& error_type) {
  if (error_type == "bad_data") return Code::kInvalidArgument;
  if (error_type == "execution") return Code::kFailedPrecondition;
  if (error_type == "timeout") return Code::kDeadlineExceeded;
  return CodeOfHttpStatus(status);
}

// The start of a body for a message, on one line.
std::string Quote(std::string_view body) {
  std::string out(body.substr(0, kQuotedBodyBytes));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  if (body.size() > kQuotedBodyBytes) out += "...";
  return out.empty() ? "(an empty body)" : "\"" + out + "\"";
}

// A sample value as Prometheus writes it: Go's FormatFloat(v, 'f', -1, 64), or NaN, +Inf, -Inf.
std::optional<double> ParseValue(const std::string& text) {
  if (text == "NaN") return std::numeric_limits<double>::quiet_NaN();
  if (text == "+Inf") return std::numeric_limits<double>::infinity();
  if (text == "-Inf") return -std::numeric_limits<double>::infinity();
  double value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || std::isnan(value) || std::isinf(value)) return {};
  return value;
}

// Thrown while walking a success answer whose shape is not the API's; becomes kInternal.
struct BadShape {
  std::string what;
};

// [<unix time>, "<value>"]: the value as text and as a double.
Sample DecodeSamplePair(const json& pair) {
  if (!pair.is_array() || pair.size() != 2 || !pair[0].is_number() || !pair[1].is_string()) {
    throw BadShape{"a sample is not [<time>, \"<value>\"]: " + pair.dump()};
  }
  Sample sample;
  sample.text = pair[1].get<std::string>();
  std::optional<double> value = ParseValue(sample.text);
  if (!value) throw BadShape{"a sample value is not a number: \"" + sample.text + "\""};
  sample.value = *value;
  return sample;
}

std::map<std::string, std::string> DecodeLabels(const json& series) {
  std::map<std::string, std::string> labels;
  auto metric = series.find("metric");
  if (metric == series.end()) return labels;
  if (!metric->is_object()) throw BadShape{"a series' metric is not an object"};
  for (const auto& [name, value] : metric->items()) {
    if (!value.is_string()) throw BadShape{"label " + name + " is not a string"};
    labels[name] = value.get<std::string>();
  }
  return labels;
}

std::vector<Sample> DecodeVector(const json& result) {
  if (!result.is_array()) throw BadShape{"a vector result is not an array"};
  std::vector<Sample> samples;
  for (const json& series : result) {
    if (!series.is_object()) throw BadShape{"a vector element is not an object"};
    auto labels = DecodeLabels(series);
    auto value = series.find("value");
    if (value == series.end()) {
      // Native histograms come as "histogram": a check needs a float (histogram_quantile, ...).
      throw BadShape{
          "a vector element has no float \"value\"" +
          std::string(series.contains("histogram") ? " (it is a native histogram)" : "")};
    }
    Sample sample = DecodeSamplePair(*value);
    sample.labels = std::move(labels);
    samples.push_back(std::move(sample));
  }
  return samples;
}

QueryResult DecodeData(const json& data) {
  if (!data.is_object()) throw BadShape{"\"data\" is missing or not an object"};
  auto type = data.find("resultType");
  auto result = data.find("result");
  if (type == data.end() || !type->is_string() || result == data.end()) {
    throw BadShape{"\"data\" has no resultType or result"};
  }
  QueryResult out;
  const std::string& name = type->get_ref<const std::string&>();
  if (name == "vector") {
    out.type = QueryResult::Type::kVector;
    out.samples = DecodeVector(*result);
  } else if (name == "scalar") {
    out.type = QueryResult::Type::kScalar;
    out.samples.push_back(DecodeSamplePair(*result));
  } else if (name == "matrix") {
    if (!result->is_array()) throw BadShape{"a matrix result is not an array"};
    out.type = QueryResult::Type::kMatrix;
    out.matrix_series = result->size();
  } else if (name == "string") {
    if (!result->is_array() || result->size() != 2 || !(*result)[1].is_string()) {
      throw BadShape{"a string result is not [<time>, \"<text>\"]"};
    }
    out.type = QueryResult::Type::kString;
    out.string_value = (*result)[1].get<std::string>();
  } else {
    throw BadShape{"unknown resultType \"" + name + "\""};
  }
  return out;
}

// A string member of an object, or "" when it is missing or not a string.
std::string StringField(const json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

std::vector<std::string> DecodeWarnings(const json& answer) {
  std::vector<std::string> warnings;
  auto it = answer.find("warnings");
  if (it == answer.end() || !it->is_array()) return warnings;
  for (const json& w : *it) warnings.push_back(w.is_string() ? w.get<std::string>() : w.dump());
  return warnings;
}

}  // namespace

Result<QueryResult> DecodeAnswer(int http_status, std::string_view body, std::string_view server) {
  const std::string who = std::string(server) + " answered " + std::to_string(http_status);
  json answer = json::parse(body, nullptr, /*allow_exceptions=*/false);
  const bool is_api_json =
      answer.is_object() && answer.contains("status") && answer["status"].is_string();
  if (!is_api_json) {
    if (http_status >= 200 && http_status < 300) {
      return Status(Code::kInternal,
                    who + " with a body that is not the Prometheus API's JSON: " + Quote(body));
    }
    return Status(CodeOfHttpStatus(http_status), who + ": " + Quote(body));
  }
  if (answer["status"] != "success") {
    std::string type = StringField(answer, "errorType");
    std::string error = StringField(answer, "error");
    if (type.empty() && error.empty()) error = "no error given: " + Quote(body);
    return Status(CodeOfError(http_status, type),
                  who + ": " + (type.empty() ? "" : type + ": ") + error);
  }
  if (http_status < 200 || http_status >= 300) {
    return Status(CodeOfHttpStatus(http_status), who + " with a success body: " + Quote(body));
  }
  try {
    QueryResult result = DecodeData(answer.contains("data") ? answer["data"] : json());
    result.warnings = DecodeWarnings(answer);
    return result;
  } catch (const BadShape& bad) {
    return Status(Code::kInternal, who + " with an unexpected result: " + bad.what);
  }
}

}  // namespace flywheel::prom
