#pragma once

#include <string>

#include "flywheel/common/status.h"

namespace flywheel {

// Configures the process-wide logger (spdlog, to stderr): `level` is one of trace, debug, info,
// warn, error; `format` is "text" (human) or "json" (one object per line with time, level, msg,
// for log pipelines). Messages never contain secrets: callers log Status messages and
// RestConfig::Describe(), which are free of them by construction.
Status SetupLogging(const std::string& level, const std::string& format);

}  // namespace flywheel
