#pragma once

#include <string>

namespace flywheel::testing {

// A loopback TCP port that was free a moment ago (bound to port 0, then released), for a child
// process that must be told its port up front.
int FreePort();

// "<status> <body>" of GET http://127.0.0.1:<port><path> (5 s timeout), or "" when unreachable.
std::string LoopbackGet(int port, const std::string& path);

}  // namespace flywheel::testing
