#pragma once

#include <nlohmann/json.hpp>
#include <string>

// The seed's story as the controllers leave it in the API server, for the tests of
// `flywheel timeline`: a good commit built, promoted, applied and healthy; a commit whose test
// fails in its run; a bad commit promoted and applied, whose breach makes a RollbackPolicy roll
// it back with a revert commit, and the Release restored. Every object is shaped as its
// controller writes it (src/pipeline/run_reconciler.cpp, flywheel git-clone's termination
// message, src/release/, src/rollback/, kube::EventRecorder) with fixed times, so the timeline's
// every stage is known exactly. The unit test assembles it directly; the integration test stores
// it in the testenv (spec, then status) and runs the binary.
namespace flywheel::testing {

inline const std::string kStoryGood = "1111111aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
inline const std::string kStoryFailing = "2222222bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
inline const std::string kStoryBad = "3333333ccccccccccccccccccccccccccccccccc";
inline const std::string kStoryM1 = "aaaa111000000000000000000000000000000000";  // kStoryGood's
inline const std::string kStoryM3 = "cccc333000000000000000000000000000000000";  // kStoryBad's
inline const std::string kStoryRevert = "dddd444000000000000000000000000000000000";
inline const std::string kStoryDigest =
    "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

// 2026-11-30T10:00:00Z plus `seconds`, as metav1.Time writes it. The story's times:
// good run 0 (created) to 17 (promoted, finished), committed at -60, applied 18, healthy 21, a
// breach Event at 30 that never fired; failing run 100 to 108 (test failed at 108); bad run 200
// to 217, applied 218, healthy 220, breach 228, rollback requested 239, rolled back 240, restored
// 243.
std::string StoryTime(int seconds);

// The objects of namespace `ns`, with status. `runs` and `events` are arrays; `pod` is the good
// run's build pod (the others are gone); `ownerReferences` of the pod name the good run's uid as
// it is in `runs[0]` ("uid-hello-1111111"; the integration test replaces it with the stored one).
struct DeliveryStory {
  nlohmann::json pipeline;  // "hello", promoting into the Release's repository
  nlohmann::json runs;      // good, failing, bad
  nlohmann::json pod;
  nlohmann::json release;  // "web"
  nlohmann::json policy;   // "errors", guarding "web"
  nlohmann::json events;
};

DeliveryStory MakeDeliveryStory(const std::string& ns);

}  // namespace flywheel::testing
