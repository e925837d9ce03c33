#include "flywheel/manifest/loader.h"

#include <map>
#include <optional>
#include <set>

#include "diagnostics.h"
#include "documents.h"
#include "flywheel/git/path.h"
#include "json_fields.h"
#include "kustomize.h"
#include "scope.h"

namespace flywheel::manifest {
namespace {

std::string Join(const std::string& dir, const std::string& name) {
  return dir.empty() ? name : dir + "/" + name;
}

bool IsBelow(const std::string& path, const std::string& dir) {
  return dir.empty() ||
         (path.size() > dir.size() && path.starts_with(dir) && path[dir.size()] == '/');
}

std::string DirOf(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash);
}

bool HasManifestExtension(const std::string& path) {
  return path.ends_with(".yaml") || path.ends_with(".yml") || path.ends_with(".json");
}

bool IsRemote(const std::string& resource) {
  return resource.find("://") != std::string::npos || resource.starts_with("github.com/") ||
         resource.starts_with("git@");
}

std::string NameOf(const json& object) {
  auto metadata = object.find("metadata");
  return metadata != object.end() && metadata->is_object() ? StringAt(*metadata, "name") : "";
}

std::string NamespaceOf(const json& object) {
  auto metadata = object.find("metadata");
  return metadata != object.end() && metadata->is_object() ? StringAt(*metadata, "namespace") : "";
}

const char* Article(const json& value) {
  switch (value.type()) {
    case json::value_t::array:
      return "a list";
    case json::value_t::string:
      return "a string";
    case json::value_t::boolean:
      return "a boolean";
    default:
      return "a number";
  }
}

// Whether `kind` makes a document a list of objects (kubectl: kind "List" or "*List" with items).
bool IsList(const json& value) {
  if (!value.is_object()) return false;
  std::string kind = StringAt(value, "kind");
  if (kind == "List") return true;
  auto items = value.find("items");
  return kind.ends_with("List") && items != value.end() && items->is_array();
}

// Loads manifests from the files of one tree, collecting every problem.
class Loader {
 public:
  explicit Loader(const std::vector<git::TreeFile>& files) {
    for (const git::TreeFile& f : files) {
      if (std::optional<std::string> path = git::NormalizeRepoPath(f.path))
        files_[*path] = &f.content;
    }
  }

  Result<std::vector<Manifest>> Load(const std::string& raw_root) {
    std::optional<std::string> root = git::NormalizeRepoPath(raw_root);
    if (!root) {
      return Status(Code::kInvalidArgument, "path \"" + raw_root + "\" is outside the repository");
    }
    std::vector<Manifest> manifests;
    if (KustomizationIn(*root)) {
      std::vector<std::string> stack;
      manifests = Build(*root, stack);
    } else {
      manifests = LoadPlain(*root);
    }
    CheckDuplicates(manifests);
    if (!diags_.empty()) return diags_.ToStatus();
    return manifests;
  }

 private:
  // The kustomization file of `dir`, or nullopt; several of them are an error, as in kustomize.
  std::optional<std::string> KustomizationIn(const std::string& dir) {
    std::vector<std::string> found;
    for (const char* name : kKustomizationFileNames) {
      if (files_.contains(Join(dir, name))) found.push_back(Join(dir, name));
    }
    if (found.empty()) return std::nullopt;
    if (found.size() > 1 && reported_multiple_.insert(dir).second) {
      std::string list;
      for (const std::string& f : found) list += (list.empty() ? "" : ", ") + f;
      diags_.Add(found[1], 0, "more than one kustomization file in one directory: " + list);
    }
    return found.front();
  }

  bool IsDirectory(const std::string& path) {
    if (path.empty()) return !files_.empty();
    auto it = files_.lower_bound(path + "/");
    return it != files_.end() && it->first.starts_with(path + "/");
  }

  // Every manifest file below `root`, in path order. A directory below `root` that has its own
  // kustomization is built with it (as Flux does) instead of loading its files one by one.
  std::vector<Manifest> LoadPlain(const std::string& root) {
    std::vector<Manifest> out;
    std::set<std::string> built;
    for (const auto& [path, content] : files_) {
      if (!IsBelow(path, root)) continue;
      std::optional<std::string> kustomize_dir = OutermostKustomizationDir(DirOf(path), root);
      if (kustomize_dir) {
        if (built.insert(*kustomize_dir).second) {
          std::vector<std::string> stack;
          Append(out, Build(*kustomize_dir, stack));
        }
        continue;
      }
      if (HasManifestExtension(path)) LoadFile(path, out);
    }
    return out;
  }

  // The outermost directory from below `root` down to `dir` that holds a kustomization.
  std::optional<std::string> OutermostKustomizationDir(const std::string& dir,
                                                       const std::string& root) {
    std::optional<std::string> outermost;
    for (std::string d = dir; IsBelow(d, root); d = DirOf(d)) {
      if (KustomizationIn(d)) outermost = d;
      if (d.empty()) break;
    }
    return outermost;
  }

  // The manifests of the kustomization in `dir`: its resources, then its transforms.
  std::vector<Manifest> Build(const std::string& dir, std::vector<std::string>& stack) {
    std::vector<Manifest> out;
    std::optional<std::string> file = KustomizationIn(dir);
    ParsedKustomization parsed;
    if (!file || !ParseKustomizationInto(*file, *files_.at(*file), diags_, parsed)) return out;
    const Kustomization& k = parsed.kustomization;
    stack.push_back(dir);
    for (size_t i = 0; i < k.resources.size(); ++i) {
      const std::string& resource = k.resources[i];
      int line = parsed.resource_lines[i];
      std::string quoted = "resource \"" + resource + "\"";
      std::optional<std::string> path =
          IsRemote(resource) ? std::nullopt : git::NormalizeRepoPath(Join(dir, resource));
      if (IsRemote(resource)) {
        diags_.Add(*file, line,
                   "remote " + quoted +
                       " is not supported (only files and directories of this "
                       "repository)");
      } else if (!path) {
        diags_.Add(*file, line, quoted + " is outside the repository");
      } else if (files_.contains(*path)) {
        LoadFile(*path, out);
      } else if (IsDirectory(*path)) {
        if (std::find(stack.begin(), stack.end(), *path) != stack.end()) {
          diags_.Add(*file, line, quoted + " includes a kustomization that includes this one");
        } else if (!KustomizationIn(*path)) {
          diags_.Add(*file, line,
                     quoted + " is a directory without a kustomization.yaml (kustomize needs one)");
        } else {
          Append(out, Build(*path, stack));
        }
      } else {
        diags_.Add(*file, line, quoted + " not found");
      }
    }
    stack.pop_back();
    for (Manifest& m : out) {
      ApplyNamespace(m.object, k.ns);
      for (const Kustomization::LabelSet& set : k.labels) ApplyLabels(m.object, set);
      ApplyImages(m.object, k.images);
    }
    return out;
  }

  static void Append(std::vector<Manifest>& out, std::vector<Manifest> more) {
    for (Manifest& m : more) out.push_back(std::move(m));
  }

  void LoadFile(const std::string& path, std::vector<Manifest>& out) {
    for (Document& doc : ParseDocuments(path, *files_.at(path), diags_)) {
      if (!IsList(doc.value)) {
        Add(path, doc.line, std::move(doc.value), out);
        continue;
      }
      auto items = doc.value.find("items");
      if (items == doc.value.end() || items->is_null()) continue;  // an empty List
      if (!items->is_array()) {
        diags_.Add(path, doc.line, "the items of a List must be a list");
        continue;
      }
      for (size_t i = 0; i < items->size(); ++i) {
        int line = i < doc.item_lines.size() ? doc.item_lines[i] : doc.line;
        Add(path, line, std::move((*items)[i]), out);
      }
    }
  }

  // Validates one object and adds it to `out`, or reports what is wrong with it.
  void Add(const std::string& file, int line, json object, std::vector<Manifest>& out) {
    size_t before = diags_.size();
    auto problem = [&](std::string text) { diags_.Add(file, line, std::move(text)); };
    if (!object.is_object()) {
      problem(std::string("document is ") + Article(object) + ", not a mapping");
      return;
    }
    for (const char* field : {"apiVersion", "kind"}) {
      auto it = object.find(field);
      if (it == object.end() || it->is_null() ||
          (it->is_string() && it->get_ref<const std::string&>().empty())) {
        problem(std::string("document has no ") + field);
      } else if (!it->is_string()) {
        problem(std::string(field) + " must be a string");
      }
    }
    auto metadata = object.find("metadata");
    if (metadata != object.end() && !metadata->is_object() && !metadata->is_null()) {
      problem("metadata must be a mapping");
    } else {
      static const json kNoMetadata = json::object();
      const json& md = metadata == object.end() || metadata->is_null() ? kNoMetadata : *metadata;
      auto name = md.find("name");
      bool has_name = name != md.end() && !name->is_null();
      if (has_name && !name->is_string()) {
        problem("metadata.name must be a string");
      } else if (!has_name || name->get_ref<const std::string&>().empty()) {
        problem(md.contains("generateName")
                    ? "metadata.generateName is not supported (objects are applied by name): "
                      "set metadata.name"
                    : "document has no metadata.name");
      }
      auto ns = md.find("namespace");
      if (ns != md.end() && !ns->is_null() && !ns->is_string()) {
        problem("metadata.namespace must be a string");
      }
    }
    if (diags_.size() != before) return;
    out.push_back({std::move(object), file, line});
  }

  void CheckDuplicates(const std::vector<Manifest>& manifests) {
    std::map<std::string, const Manifest*> seen;
    for (const Manifest& m : manifests) {
      auto [it, inserted] = seen.emplace(ObjectId(m.object), &m);
      if (inserted) continue;
      std::string ns = NamespaceOf(m.object);
      diags_.Add(m.file, m.line,
                 StringAt(m.object, "kind") + " " + (ns.empty() ? "" : ns + "/") +
                     NameOf(m.object) + " is also defined at " + it->second->Where());
    }
  }

  std::map<std::string, const std::string*> files_;  // normalised path -> content
  std::set<std::string> reported_multiple_;
  Diagnostics diags_;
};

}  // namespace

std::string Manifest::Where() const { return file + ":" + std::to_string(line); }

Result<std::vector<Manifest>> Load(const std::vector<git::TreeFile>& files,
                                   const std::string& root) {
  return Loader(files).Load(root);
}

std::string ObjectId(const json& object) {
  if (!object.is_object()) return "///";
  return std::string(GroupOf(StringAt(object, "apiVersion"))) + "/" + StringAt(object, "kind") +
         "/" + NamespaceOf(object) + "/" + NameOf(object);
}

}  // namespace flywheel::manifest
