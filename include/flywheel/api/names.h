#pragma once

#include <string>

// The names of Flywheel's API that every controller, the CLI and the webhook receivers share
// (SPEC "Names"): group/version, labels, annotations, the field manager.
namespace flywheel::api {

inline constexpr const char* kGroupVersion = "flywheel.dev/v1alpha1";
// Server-side apply field manager of everything Flywheel writes.
inline constexpr const char* kFieldManager = "flywheel";

// Labels on the objects a Release applies, and on a Pipeline's runs and pods.
inline constexpr const char* kReleaseLabel = "flywheel.dev/release";
inline constexpr const char* kPipelineLabel = "flywheel.dev/pipeline";
inline constexpr const char* kPipelineRunLabel = "flywheel.dev/pipeline-run";

// Manual reconcile: any new value fetches and syncs now (also written by /hooks/git).
inline constexpr const char* kReconcileAnnotation = "flywheel.dev/reconcile-requested-at";
// A rollback request (JSON, see release::RollbackRequest): written by `flywheel rollback` and by
// RollbackPolicies, carried out by the Release controller, acknowledged in
// status.lastHandledRollback.
inline constexpr const char* kRollbackAnnotation = "flywheel.dev/rollback";
// On a RollbackPolicy: the latest matching firing alert /hooks/alertmanager received (JSON, see
// webhook::AlertDispatcher), acted on by the RollbackPolicy controller once per alert id.
inline constexpr const char* kAlertAnnotation = "flywheel.dev/alert";
// On an applied object, value "disabled": never pruned.
inline constexpr const char* kPruneAnnotation = "flywheel.dev/prune";

// The value of a label naming the object `namespace/name` (e.g. kReleaseLabel):
// "<namespace>.<name>" when that fits a label value (63 characters), else its first 52
// characters, "-" and 10 hex digits of its SHA-256, so long names stay distinct and valid.
std::string OwnerLabelValue(const std::string& ns, const std::string& name);

}  // namespace flywheel::api
