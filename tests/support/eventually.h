#pragma once

#include <chrono>
#include <thread>

namespace flywheel::testing {

// Polls `condition` every 100 ms for up to `limit`; a bound on a condition, not a timing claim.
template <typename F>
bool Eventually(F condition, std::chrono::milliseconds limit) {
  using namespace std::chrono_literals;
  for (auto waited = 0ms; waited < limit; waited += 100ms) {
    if (condition()) return true;
    std::this_thread::sleep_for(100ms);
  }
  return condition();
}

}  // namespace flywheel::testing
