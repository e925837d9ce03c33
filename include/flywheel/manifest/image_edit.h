#pragma once

#include <string>
#include <utility>
#include <vector>

#include "flywheel/common/status.h"

namespace flywheel::manifest {

// One image reference SetImageTag rewrote.
struct ImageChange {
  std::string file;       // as given to SetImageTag
  int line = 0;           // 1-based line of the edited (or inserted) scalar
  std::string old_value;  // "registry.local:5000/acme/web:1.0", or the old newTag ("" if none)
  std::string new_value;  // "registry.local:5000/acme/web:abc1234", or the new newTag
};

// What SetImageTag did to one file.
struct ImageEdit {
  std::string content;               // the edited text (== the input when nothing changed)
  std::vector<ImageChange> changes;  // in file order
  int matched = 0;                   // references of the repository found, changed or not
};

// Splits an image reference into its repository (the name without ":tag" and "@digest") and the
// rest (":tag", "@digest" or ":tag@digest"). The tag's colon is the last one after the last '/',
// so a registry port stays in the name: "host:5000/app:1" -> {"host:5000/app", ":1"}.
std::pair<std::string, std::string> SplitImage(const std::string& image);

// Sets tag `tag` on every reference to image repository `repository` in one YAML (or JSON) file
// of a GitOps repository, changing nothing else: comments, key order, quoting style, line
// endings (LF or CRLF) and every byte outside the edited scalars are kept, because the scalars
// are edited in place in the text, located from the parser's marks (never re-serialized).
//
// - In any document, every scalar value of a key `image` (anywhere: containers,
//   initContainers, ephemeralContainers, CRDs) whose repository (SplitImage) equals `repository`
//   exactly (no registry or "library/" normalization) becomes "<repository>:<tag>". A digest
//   ("repo@sha256:..." or "repo:1.0@sha256:...") is dropped: it pins the old build, and the
//   new build's digest is not known here. Single- and double-quoted scalars keep their quotes;
//   flow mappings ({image: x}) work; an anchored scalar is edited once where it is defined
//   (its aliases follow).
// - In a kustomization file (base name kustomization.yaml, kustomization.yml or
//   Kustomization), every `images:` entry whose `name` or `newName` equals `repository` gets
//   `newTag: <tag>`: an existing newTag value is replaced, a missing one is inserted after the
//   `name` pair (a line indented like `name` in block style, ", newTag: <tag>" in a flow
//   mapping); newName is kept.
// - A reference already at `tag` (without a digest) is counted in `matched` and not changed.
//
// InvalidArgument with "file:line[:col]: ..." for a YAML syntax error, a matching image written
// as a block (| or >) or multi-line plain scalar, a matching kustomization entry that pins a
// `digest` (kustomize prefers it to newTag, so the tag would not take effect), or an invalid
// `repository` or `tag` (a tag is [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}).
Result<ImageEdit> SetImageTag(const std::string& file, const std::string& content,
                              const std::string& repository, const std::string& tag);

}  // namespace flywheel::manifest
