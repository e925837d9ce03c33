#include "flywheel/pipeline/promote.h"

#include <map>
#include <mutex>

#include "flywheel/git/url.h"
#include "flywheel/manifest/image_edit.h"

namespace flywheel::pipeline {

Result<PromotionResult> Promote(git::RepositoryCache& cache, const git::Credentials& credentials,
                                const PipelineSpec& spec, const PromotionSource& source,
                                std::stop_token stop) {
  if (!spec.artifact || !spec.promote)
    return Status(Code::kFailedPrecondition, "the Pipeline has no artifact and promote");
  const ArtifactSpec& artifact = *spec.artifact;
  const PromoteSpec& promote = *spec.promote;
  const std::string tag = ShortRevision(source.revision);

  git::FileCommit commit;
  commit.branch = promote.branch;
  commit.paths = promote.paths;
  commit.message = "Promote " + artifact.image + ":" + tag;
  commit.trailers = {{"Flywheel-Pipeline-Run", source.ns + "/" + source.run},
                     {"Source-Commit", source.revision}};
  commit.author = {promote.author_name, promote.author_email};
  // The manifest files a Release reads, plus kustomization files without an extension.
  commit.limits.extensions = {".yaml", ".yml", ".json", "Kustomization"};

  // References found per file on the last attempt (the edit runs again on a new head after a
  // concurrent push, so counts are per path, overwritten).
  std::mutex mu;
  std::map<std::string, int> matched;
  auto edit = [&](const std::string& path,
                  const std::string& content) -> Result<std::optional<std::string>> {
    auto edited = manifest::SetImageTag(path, content, artifact.image, tag);
    if (!edited.ok()) return edited.status();
    {
      std::lock_guard lock(mu);
      matched[path] = edited->matched;
    }
    if (edited->changes.empty()) return std::optional<std::string>();
    return std::optional<std::string>(std::move(edited->content));
  };
  auto result = cache.CommitFiles(promote.url, credentials, commit, edit, stop);
  if (!result.ok()) return result.status();
  PromotionResult out;
  out.commit = result->commit.sha;
  out.changed = result->changed;
  out.files = result->files;
  for (const auto& [path, n] : matched) out.references += n;
  if (out.references == 0) {
    std::string paths;
    for (const auto& p : promote.paths) paths += (paths.empty() ? "" : ", ") + p;
    return Status(Code::kInvalidArgument, "no reference to image " + artifact.image + " under " +
                                              paths + " of " + git::RedactUrl(promote.url) +
                                              " (branch " + promote.branch +
                                              "): nothing to promote");
  }
  return out;
}

}  // namespace flywheel::pipeline
