// Rollbacks of a Release: the target, the apply (through Sync), rejection, status.lastRollback
// and the revert commit in the source repository, pushed later when git is down.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "flywheel/git/url.h"
#include "flywheel/kube/conditions.h"
#include "flywheel/release/decisions.h"
#include "internal.h"

namespace flywheel::release {

Status ReleaseReconciler::Rollback(Run& run, const RollbackRequest& request) {
  const std::string from = run.status.last_applied_revision;
  // By default: the newest revision before the current one that became healthy and was not
  // rejected (stableRevision is the current one when it is healthy itself).
  const std::string to = request.to.empty() ? DefaultRollbackTarget(run.status) : request.to;
  auto fail = [&](const Status& error) {
    SetFailed(run.status, run.generation, run.now, "RollbackFailed", error);
    events_.Emit(run.release, "Warning", "RollbackFailed", "Rollback", error.message());
    return error;
  };
  if (to.empty()) {
    return fail(Status(Code::kFailedPrecondition,
                       "cannot roll back: no earlier revision became healthy (give one with "
                       "--to)"));
  }
  // From the cache; only a cache that never fetched (a restart with an empty cache) needs Git.
  auto target = git_.Resolve(SourceKey(run), to);
  if (!target.ok() && target.status().code() == Code::kFailedPrecondition) {
    Status fetched = LoadCredentials(run);
    if (fetched.ok()) fetched = git_.Fetch(run.spec.url, run.credentials, run.stop);
    if (!fetched.ok()) {
      return fail(Status(Code::kUnavailable, "cannot roll back yet (nothing cached for " +
                                                 git::RedactUrl(run.spec.url) +
                                                 "): " + fetched.message()));
    }
    target = git_.Resolve(SourceKey(run), to);
  }
  if (!target.ok()) return fail(target.status());
  if (target->sha == from) {
    return fail(Status(Code::kFailedPrecondition,
                       "cannot roll back: revision " + Short(from) + " is already applied"));
  }
  const std::string reason = request.reason.empty() ? "requested" : request.reason;
  const std::string by_reason = request.by.empty() ? reason : reason + " (by " + request.by + ")";

  if (Status s = Sync(run, *target, SyncMode::kRollback); !s.ok()) return fail(s);

  if (!from.empty() && !run.status.IsRejected(from)) {
    run.status.Reject({from, run.now, by_reason.substr(0, 4000)}, kMaxRejected);
  }
  if (HistoryEntry* bad = run.status.FindHistory(from)) {
    bad->result = "RolledBack";
    bad->reason = ("rolled back to " + Short(target->sha) + ": " + by_reason).substr(0, 4000);
  }
  // The rolled-back revision may have been the stable one itself.
  run.status.stable_revision = StableRevision(run.status);
  LastRollback& last = run.status.last_rollback.emplace();
  last.id = request.id;
  last.at = run.now;
  last.from_revision = from;
  last.to_revision = target->sha;
  last.reason = reason.substr(0, 4000);
  last.by = request.by.substr(0, 512);
  last.trigger = request.trigger;
  if (request.git_revert) PushRevert(run);

  std::string note;
  if (!last.revert_commit.empty()) {
    note = "; revert commit " + Short(last.revert_commit) + " on " + run.spec.branch;
  } else if (!last.revert_message.empty()) {
    note = "; " + last.revert_message;
  }
  std::string summary = "rolled back from " + (from.empty() ? "nothing" : Short(from)) + " to " +
                        Short(target->sha) + ": " + by_reason + note;
  (void)kube::SetCondition(run.status.conditions,
                           {"Ready", kube::ConditionStatus::kTrue, "RolledBack", summary},
                           run.generation, run.now);
  // Warning: a rollback means a revision failed (by a user's judgement or a policy's).
  events_.Emit(run.release, "Warning", "RolledBack", "Rollback", summary);
  metrics_.ObserveRollback(run.ns, run.name, request.trigger);
  spdlog::info("release {}: {}", run.key, summary);
  return Status::Ok();
}

void ReleaseReconciler::PushRevert(Run& run) {
  LastRollback& last = *run.status.last_rollback;
  const std::string from = last.from_revision;
  const std::string to = last.to_revision;
  auto pending = [&](const std::string& why) {
    const std::string message = ("the revert commit is not pushed yet: " + why).substr(0, 4000);
    if (last.revert_message != message) {
      events_.Emit(run.release, "Warning", "RevertPending", "Rollback",
                   message + " (pushed when the git host answers)");
    }
    last.revert_pending = true;
    last.revert_message = message;
  };
  if (!run.spec.revision.empty()) {
    last.revert_message = "no revert commit: the Release follows spec.revision, not the branch";
    return;
  }
  if (Status s = LoadCredentials(run); !s.ok()) return pending(s.message());
  // Only onto the rolled-back revision: a branch that moved on carries newer commits a revert
  // would undo (they are applied by auto-sync instead). A head whose manifests already are the
  // target's is the revert (ours, pushed by an attempt that looked failed, or someone's).
  auto head = git_.Resolve(SourceKey(run), run.spec.branch);
  if (!head.ok()) return pending(head.status().message());
  std::optional<git::CommitInfo> revert;
  if (head->sha != from) {
    auto at_head = git_.ReadTree(SourceKey(run), head->sha, run.spec.path);
    auto at_target = git_.ReadTree(SourceKey(run), to, run.spec.path);
    const bool same = at_head.ok() && at_target.ok() && at_head->size() == at_target->size() &&
                      std::equal(at_head->begin(), at_head->end(), at_target->begin(),
                                 [](const git::TreeFile& a, const git::TreeFile& b) {
                                   return a.path == b.path && a.content == b.content;
                                 });
    if (!same) {
      last.revert_pending = false;
      last.revert_message = "no revert commit: " + run.spec.branch + " moved on to " +
                            Short(head->sha) + " (" + head->message.substr(0, 200) + ")";
      return;
    }
    revert = *head;
  } else {
    const std::string& reason = last.reason;
    const std::string& by = last.by;
    auto pushed =
        git_.RestorePath(run.spec.url, run.credentials, run.spec.branch, run.spec.path, to,
                         "Revert " + run.spec.path + " to " + Short(to) + ": " + reason +
                             (by.empty() ? "" : " (by " + by + ")"),
                         {}, run.stop);
    if (!pushed.ok()) return pending(pushed.status().message());
    revert = *pushed;
    events_.Emit(run.release, "Normal", "RevertPushed", "Rollback",
                 "pushed revert commit " + Short(revert->sha) + " to " + run.spec.branch);
  }
  last.revert_commit = revert->sha;
  last.revert_pending = false;
  last.revert_message.clear();
  // The branch head now holds exactly what runs: it is the applied revision, so Git and the
  // cluster agree without another sync (and without counting a deployment).
  if (run.spec.revision.empty() && run.status.last_applied_revision == to) {
    run.status.last_applied_revision = revert->sha;
    run.status.last_attempted_revision = revert->sha;
    if (run.state->revision == to) run.state->revision = revert->sha;
  }
}

void ReleaseReconciler::PushPendingRevert(Run& run) {
  if (!run.status.last_rollback || !run.status.last_rollback->revert_pending) return;
  PushRevert(run);
  if (const LastRollback& last = *run.status.last_rollback; !last.revert_pending) {
    spdlog::info(
        "release {}: pending revert resolved: {}", run.key,
        !last.revert_commit.empty() ? "pushed " + Short(last.revert_commit) : last.revert_message);
  }
}

}  // namespace flywheel::release
