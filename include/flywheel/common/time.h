#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "flywheel/common/status.h"

namespace flywheel {

// A wall-clock instant, as Kubernetes stores it in metav1.Time / metav1.MicroTime fields.
using Time = std::chrono::system_clock::time_point;

// A span of time at Go's resolution (time.Duration is int64 nanoseconds), so every duration a
// user writes in a flag or a custom resource round-trips exactly.
using Duration = std::chrono::nanoseconds;

// Formats `t` the way metav1.Time serializes: RFC 3339 in UTC, whole seconds, e.g.
// "2024-05-01T12:34:56Z". Sub-second parts are truncated towards the past.
std::string FormatRfc3339(Time t);

// Formats `t` the way metav1.MicroTime serializes (e.g. Lease renewTime): RFC 3339 in UTC with
// exactly six fractional digits, e.g. "2024-05-01T12:34:56.123456Z".
std::string FormatRfc3339Micro(Time t);

// Parses an RFC 3339 timestamp: "YYYY-MM-DDTHH:MM:SS", optional fraction (up to nanoseconds),
// then "Z" or a "+HH:MM"/"-HH:MM" offset. Like Go's time.RFC3339 layout it wants an upper-case
// 'T' and 'Z' and rejects out-of-range fields (month 13, Feb 30, second 60). Errors are
// kInvalidArgument and quote the input.
Result<Time> ParseRfc3339(std::string_view text);

// Parses a Go duration string (time.ParseDuration): an optional sign, then one or more decimal
// numbers, each with an optional fraction and a unit ("ns", "us", "µs", "ms", "s", "m", "h"),
// e.g. "1h30m", "1.5h", "300ms", "-2m3s". A bare "0" is zero; any other number needs a unit.
// Errors (empty, unknown unit, overflow past ±292 years) are kInvalidArgument and quote the
// input.
Result<Duration> ParseDuration(std::string_view text);

// Formats a duration as Go's Duration.String() does, so ParseDuration(FormatDuration(d)) == d:
// "1h30m0s", "1.5s", "300ms", "2µs", "0s".
std::string FormatDuration(Duration d);

}  // namespace flywheel
