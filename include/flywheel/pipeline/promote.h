#pragma once

#include <stop_token>
#include <string>
#include <vector>

#include "flywheel/common/status.h"
#include "flywheel/git/repository_cache.h"
#include "flywheel/pipeline/spec.h"

namespace flywheel::pipeline {

// What a promotion did.
struct PromotionResult {
  std::string commit;    // the pushed commit, or the branch head when the tag was already in place
  bool changed = false;  // whether a commit was pushed
  std::vector<std::string> files;  // the files that commit changed
  int references = 0;              // image references of artifact.image found under the paths
};

// Who and what a promotion commit records.
struct PromotionSource {
  std::string ns, run;   // the PipelineRun: trailer Flywheel-Pipeline-Run: <ns>/<run>
  std::string revision;  // the built commit: trailer Source-Commit, and its first 7 = the tag
};

// Writes `<artifact.image>:<sha7>` into every reference to artifact.image under promote.paths
// of promote.url's branch (manifest::SetImageTag: in place, formatting kept), commits it as
// promote.author with message "Promote <image>:<sha7>" and the trailers, and pushes, re-fetching
// and re-applying the edit when the branch moved (RepositoryCache::CommitFiles). A tag already
// in place makes no commit (changed=false). No reference to the image anywhere under the paths
// is kInvalidArgument naming the image, the paths and the repository, with nothing pushed.
Result<PromotionResult> Promote(git::RepositoryCache& cache, const git::Credentials& credentials,
                                const PipelineSpec& spec, const PromotionSource& source,
                                std::stop_token stop = {});

}  // namespace flywheel::pipeline
