#pragma once

#include <string_view>

#include "flywheel/common/status.h"
#include "flywheel/prom/client.h"

namespace flywheel::prom {

// Decodes one answer of the Prometheus HTTP API to an instant query: the result of a
// `"status":"success"` body, or the Status its HTTP code and `errorType`/`error` map to (the
// table on prom::Client). `server` names who answered in messages (a URL without credentials).
Result<QueryResult> DecodeAnswer(int http_status, std::string_view body, std::string_view server);

}  // namespace flywheel::prom
