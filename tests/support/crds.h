#pragma once

#include "testenv.h"

namespace flywheel::testing {

// Applies the CRDs in crds/ to the testenv (server-side) and waits until each is Established;
// a failure fails the current test (use ASSERT_NO_FATAL_FAILURE).
void InstallCrds(const TestEnv& env);

}  // namespace flywheel::testing
