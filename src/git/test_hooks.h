#pragma once

#include <cstdint>
#include <functional>

// Seams for tests of the libgit2 RepositoryCache only: they observe fetch coalescing and move
// the remote between a fetch and a push. Not for production code.
namespace flywheel::git::test_hooks {

// Runs at the start of every network fetch (before connecting); empty = none.
void SetBeforeFetch(std::function<void()> hook);
// Runs in RestorePath after the commit is made and before it is pushed; empty = none.
void SetBeforePush(std::function<void()> hook);
// How many network fetches ran in this process.
uint64_t FetchesRun();
// How many Fetch calls joined a fetch of the same URL that was already running.
uint64_t FetchesJoined();

}  // namespace flywheel::git::test_hooks
