#pragma once

#include "testenv.h"

namespace flywheel::testing {

// Makes the testenv serve the CRDs in crds/ as the source tree has them: applies them
// (server-side), waits until each is Established and marks them with the hash of the files.
// When every CRD already carries that mark and is Established (an earlier test of the run
// installed them), it only reads them: a test process then pays four GETs, not two kubectl runs
// and a server-side apply of four large schemas. A failure fails the current test (use
// ASSERT_NO_FATAL_FAILURE).
void InstallCrds(const TestEnv& env);

}  // namespace flywheel::testing
