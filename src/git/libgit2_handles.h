#pragma once

#include <git2.h>

#include <memory>
#include <string>

namespace flywheel::git {

// Owning pointers for libgit2 objects, so every early return frees what it looked up.
template <typename T, void (*Free)(T*)>
struct GitDeleter {
  void operator()(T* p) const { Free(p); }
};
template <typename T, void (*Free)(T*)>
using GitPtr = std::unique_ptr<T, GitDeleter<T, Free>>;

using RepositoryPtr = GitPtr<git_repository, git_repository_free>;
using RemotePtr = GitPtr<git_remote, git_remote_free>;
using ReferencePtr = GitPtr<git_reference, git_reference_free>;
using ObjectPtr = GitPtr<git_object, git_object_free>;
using CommitPtr = GitPtr<git_commit, git_commit_free>;
using TreePtr = GitPtr<git_tree, git_tree_free>;
using TreeEntryPtr = GitPtr<git_tree_entry, git_tree_entry_free>;
using BlobPtr = GitPtr<git_blob, git_blob_free>;
using SignaturePtr = GitPtr<git_signature, git_signature_free>;
using OdbPtr = GitPtr<git_odb, git_odb_free>;

// The message of the last libgit2 error on this thread ("unknown error" when there is none).
inline std::string LastGitErrorMessage() {
  const git_error* e = git_error_last();
  return e != nullptr && e->message != nullptr ? e->message : "unknown error";
}

// The class (GIT_ERROR_*) of the last libgit2 error on this thread, GIT_ERROR_NONE when none.
inline int LastGitErrorClass() {
  const git_error* e = git_error_last();
  return e != nullptr ? e->klass : GIT_ERROR_NONE;
}

}  // namespace flywheel::git
