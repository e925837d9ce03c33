#pragma once

namespace flywheel::testing {

// A loopback TCP port that was free a moment ago (bound to port 0, then released), for a child
// process that must be told its port up front.
int FreePort();

}  // namespace flywheel::testing
