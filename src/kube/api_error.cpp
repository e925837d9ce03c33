#include "flywheel/kube/api_error.h"

#include <charconv>
#include <chrono>
#include <cstdint>

#include "flywheel/common/utf8.h"

namespace flywheel::kube {
namespace {

using nlohmann::json;

// The code each metav1.StatusReason means for a caller.
struct ReasonCode {
  std::string_view reason;
  Code code;
};
constexpr ReasonCode kReasonCodes[] = {
    {"NotFound", Code::kNotFound},
    {"AlreadyExists", Code::kAlreadyExists},
    {"Conflict", Code::kAborted},
    {"Invalid", Code::kInvalidArgument},
    {"BadRequest", Code::kInvalidArgument},
    {"MethodNotAllowed", Code::kInvalidArgument},
    {"NotAcceptable", Code::kInvalidArgument},
    {"UnsupportedMediaType", Code::kInvalidArgument},
    {"RequestEntityTooLarge", Code::kInvalidArgument},
    {"Forbidden", Code::kPermissionDenied},
    {"Unauthorized", Code::kUnauthenticated},
    {"TooManyRequests", Code::kResourceExhausted},
    {"ServiceUnavailable", Code::kUnavailable},
    {"InternalError", Code::kUnavailable},
    {"ServerTimeout", Code::kUnavailable},  // "try again"; the API server answers 500
    {"Expired", Code::kOutOfRange},
    {"Gone", Code::kOutOfRange},
    {"Timeout", Code::kDeadlineExceeded},
};

// What an HTTP status means when the body does not say: its phrase, the reason client-go infers
// for it (empty when it infers none), and the code.
struct HttpMeaning {
  int http_status;
  std::string_view phrase;
  std::string_view reason;
  Code code;
};
constexpr HttpMeaning kHttpMeanings[] = {
    {400, "Bad Request", "BadRequest", Code::kInvalidArgument},
    {401, "Unauthorized", "Unauthorized", Code::kUnauthenticated},
    {403, "Forbidden", "Forbidden", Code::kPermissionDenied},
    {404, "Not Found", "NotFound", Code::kNotFound},
    {405, "Method Not Allowed", "MethodNotAllowed", Code::kInvalidArgument},
    {406, "Not Acceptable", "NotAcceptable", Code::kInvalidArgument},
    {408, "Request Timeout", "", Code::kDeadlineExceeded},
    {409, "Conflict", "Conflict", Code::kAborted},
    {410, "Gone", "Gone", Code::kOutOfRange},
    {413, "Request Entity Too Large", "RequestEntityTooLarge", Code::kInvalidArgument},
    {415, "Unsupported Media Type", "UnsupportedMediaType", Code::kInvalidArgument},
    {422, "Unprocessable Entity", "Invalid", Code::kInvalidArgument},
    {429, "Too Many Requests", "TooManyRequests", Code::kResourceExhausted},
    {500, "Internal Server Error", "InternalError", Code::kUnavailable},
    {502, "Bad Gateway", "InternalError", Code::kUnavailable},
    {503, "Service Unavailable", "ServiceUnavailable", Code::kUnavailable},
    {504, "Gateway Timeout", "Timeout", Code::kDeadlineExceeded},
};

// The meaning of `http_status`; unlisted 5xx are server errors, other unlisted codes unknown.
HttpMeaning MeaningOf(int http_status) {
  for (const auto& m : kHttpMeanings) {
    if (m.http_status == http_status) return m;
  }
  if (http_status >= 500 && http_status <= 599) {
    return {http_status, "", "InternalError", Code::kUnavailable};
  }
  return {http_status, "", "", Code::kUnknown};
}

// "HTTP 503 Service Unavailable".
std::string DescribeHttpStatus(int http_status) {
  std::string out = "HTTP " + std::to_string(http_status);
  std::string_view phrase = MeaningOf(http_status).phrase;
  if (!phrase.empty()) out += " " + std::string(phrase);
  return out;
}

// A short, single-line, printable excerpt of a body that is not a metav1.Status: HTML tags
// dropped (a proxy's error page says what it means in its text), whitespace runs collapsed,
// control bytes replaced, invalid UTF-8 replaced, at most kMaxExcerpt bytes and never a split
// character.
std::string BodyExcerpt(std::string_view body) {
  constexpr size_t kMaxScan = 4096;
  constexpr size_t kMaxExcerpt = 200;
  std::string_view scan = body.substr(0, kMaxScan);
  size_t first = scan.find_first_not_of(" \t\r\n");
  bool html = first != std::string_view::npos && scan[first] == '<';
  std::string out;
  bool in_tag = false;
  bool pending_space = false;
  for (char c : scan) {
    if (html && c == '<') in_tag = true;
    if (in_tag) {
      if (c == '>') {
        in_tag = false;
        pending_space = true;  // tags separate words
      }
      continue;
    }
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) {
      pending_space = true;
      continue;
    }
    if (pending_space && !out.empty()) out += ' ';
    pending_space = false;
    out += c;
  }
  out = ToValidUtf8(out);
  bool cut = body.size() > kMaxScan || out.size() > kMaxExcerpt;
  out.resize(TruncateUtf8(out, kMaxExcerpt).size());
  if (cut) out += "...";
  return out;
}

std::string StringField(const json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

int64_t IntField(const json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

// Whether `object` is a metav1.Status (the API server's error body).
bool IsStatusObject(const json& object) {
  if (!object.is_object() || StringField(object, "kind") != "Status") return false;
  auto api_version = object.find("apiVersion");
  return api_version == object.end() || *api_version == "v1" || *api_version == "meta.k8s.io/v1";
}

// Delta-seconds from a Retry-After header; false for absent or HTTP-date values.
bool ParseRetryAfterHeader(std::string_view header, std::chrono::seconds* out) {
  size_t first = header.find_first_not_of(" \t");
  if (first == std::string_view::npos) return false;
  header = header.substr(first, header.find_last_not_of(" \t") + 1 - first);
  uint32_t seconds = 0;
  auto [end, ec] = std::from_chars(header.data(), header.data() + header.size(), seconds);
  if (ec != std::errc() || end != header.data() + header.size()) return false;
  *out = std::chrono::seconds(seconds);
  return true;
}

// Builds the ApiError for a metav1.Status object; `http_status` is the response's status (0
// when the object came from a watch event).
ApiError FromStatusObject(const json& status, int http_status,
                          std::string_view retry_after_header) {
  ApiError out;
  int64_t body_code = IntField(status, "code");
  out.http_status = http_status != 0 ? http_status : static_cast<int>(body_code);
  out.reason = StringField(status, "reason");
  int effective_code = body_code != 0 ? static_cast<int>(body_code) : out.http_status;

  Code code = Code::kUnknown;
  bool known_reason = false;
  for (const auto& rc : kReasonCodes) {
    if (rc.reason == out.reason) {
      code = rc.code;
      known_reason = true;
    }
  }
  if (!known_reason) {
    HttpMeaning meaning = MeaningOf(effective_code);
    code = meaning.code;
    if (out.reason.empty()) out.reason = std::string(meaning.reason);
  }

  json details = status.value("details", json::object());
  if (!details.is_object()) details = json::object();
  auto causes = details.find("causes");
  if (causes != details.end() && causes->is_array()) {
    for (const auto& c : *causes) {
      if (!c.is_object()) continue;
      out.causes.push_back(
          {StringField(c, "reason"), StringField(c, "field"), StringField(c, "message")});
    }
  }

  std::string message = StringField(status, "message");
  if (message.empty()) {
    message = "the server responded with " + DescribeHttpStatus(effective_code);
    if (!out.reason.empty()) message += " (" + out.reason + ")";
  }
  // Every cause must be visible in the message. The API server usually lists them already, in
  // its own order ("field: message" for Invalid, "message: field" for an apply conflict), so a
  // cause counts as shown when both its field and its message appear.
  std::string missing;
  for (const auto& c : out.causes) {
    if (message.find(c.field) != std::string::npos &&
        message.find(c.message) != std::string::npos) {
      continue;
    }
    std::string text = c.field.empty() ? c.message : c.field + ": " + c.message;
    missing += missing.empty() ? text : "; " + text;
  }
  if (!missing.empty()) message += ": " + missing;

  out.status = Status(code, std::move(message));
  std::chrono::seconds retry_after{0};
  if (ParseRetryAfterHeader(retry_after_header, &retry_after)) {
    out.status.set_retry_after(retry_after);
  } else if (int64_t body_retry = IntField(details, "retryAfterSeconds"); body_retry > 0) {
    out.status.set_retry_after(std::chrono::seconds(body_retry));
  }
  return out;
}

}  // namespace

ApiError ParseApiError(int http_status, std::string_view body,
                       std::string_view retry_after_header) {
  if (http_status >= 200 && http_status <= 299) {
    ApiError ok;
    ok.http_status = http_status;
    return ok;
  }
  json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (IsStatusObject(parsed)) return FromStatusObject(parsed, http_status, retry_after_header);

  HttpMeaning meaning = MeaningOf(http_status);
  ApiError out;
  out.http_status = http_status;
  out.reason = std::string(meaning.reason);
  std::string message = "the server responded with " + DescribeHttpStatus(http_status);
  std::string excerpt = BodyExcerpt(body);
  message += excerpt.empty() ? " and an empty body"
                             : " and a body that is not a Kubernetes Status: " + excerpt;
  out.status = Status(meaning.code, std::move(message));
  std::chrono::seconds retry_after{0};
  if (ParseRetryAfterHeader(retry_after_header, &retry_after)) {
    out.status.set_retry_after(retry_after);
  }
  return out;
}

Status StatusFromResponse(int http_status, std::string_view body,
                          std::string_view retry_after_header) {
  return ParseApiError(http_status, body, retry_after_header).status;
}

ApiError ApiErrorFromStatusObject(const json& status_object) {
  if (StringField(status_object, "status") == "Success") return ApiError();
  if (!status_object.is_object()) {
    ApiError out;
    out.status = Status(Code::kInternal, "expected a metav1.Status object, got: " +
                                             BodyExcerpt(status_object.dump()));
    return out;
  }
  return FromStatusObject(status_object, 0, {});
}

}  // namespace flywheel::kube
