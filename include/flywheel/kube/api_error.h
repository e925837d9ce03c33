#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "flywheel/common/status.h"

namespace flywheel::kube {

// One entry of a metav1.Status's details.causes: which field was wrong and why, e.g.
// {type "FieldValueInvalid", field "metadata.name", message "Invalid value: ..."}.
struct Cause {
  std::string type;
  std::string field;
  std::string message;
};

// A failed API server response, read once at the edge: the Status the rest of the code acts on
// plus what the server said, for callers that need more than the code (the Kubernetes reason,
// e.g. to tell "Expired" from "Gone", or the field causes of an "Invalid" to show a user).
struct ApiError {
  Status status;
  // metav1.StatusReason, e.g. "NotFound", "Conflict", "Invalid". When the body is not a
  // metav1.Status or has no reason, the one client-go infers from the HTTP status; empty when
  // there is none (e.g. an unusual 4xx).
  std::string reason;
  std::vector<Cause> causes;
  // The HTTP status of the response; for a Status object from a watch ERROR event, its `code`.
  int http_status = 0;
};

// Maps an API server response to the error model. `body` is used when it is a metav1.Status
// (kind "Status"): its reason picks the code (NotFound, AlreadyExists, Conflict -> Aborted,
// Invalid/BadRequest/MethodNotAllowed/NotAcceptable/UnsupportedMediaType/RequestEntityTooLarge ->
// InvalidArgument, Forbidden -> PermissionDenied, Unauthorized -> Unauthenticated,
// TooManyRequests -> ResourceExhausted, ServiceUnavailable/InternalError/ServerTimeout ->
// Unavailable, Expired/Gone -> OutOfRange, Timeout -> DeadlineExceeded), its message becomes the
// Status message (for Invalid, with every "field: message" cause the message does not already
// show), and its `code` stands in for a missing reason. Otherwise the HTTP status decides, and a
// non-Status body (an HTML page from a proxy, plain text) is quoted in the message as a bounded
// excerpt. The retry hint is the Retry-After header (delta-seconds, as the API server sends it)
// or else details.retryAfterSeconds. A 2xx status gives Ok.
ApiError ParseApiError(int http_status, std::string_view body, std::string_view retry_after_header);

// ParseApiError(...).status.
Status StatusFromResponse(int http_status, std::string_view body,
                          std::string_view retry_after_header);

// Maps a metav1.Status object that arrived inside a successful response, i.e. the object of a
// watch ERROR event (410 Expired there means: relist).
ApiError ApiErrorFromStatusObject(const nlohmann::json& status_object);

}  // namespace flywheel::kube
