#pragma once

#include <string_view>
#include <system_error>

#include "flywheel/common/status.h"

namespace flywheel::http {

// Maps a failure to get any response (the HTTP layer's error code) to the error model:
// std::errc::timed_out -> kDeadlineExceeded, std::errc::operation_canceled -> kCancelled, and
// everything else (connection refused or reset, unreachable host, DNS, TLS) -> kUnavailable,
// since the server may well answer the next attempt. `request` names what was attempted, e.g.
// "GET https://10.0.0.1:6443/api/v1/pods"; `detail` adds the transport's own text, if any.
Status StatusFromTransportError(std::error_code error, std::string_view request,
                                std::string_view detail = {});

}  // namespace flywheel::http
