#include "flywheel/manifest/image_edit.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <set>
#include <string_view>
#include <utility>

namespace flywheel::manifest {
namespace {

constexpr std::string_view kBom = "\xEF\xBB\xBF";
constexpr int kMaxDepth = 500;

// A replacement of text[begin, end) by `text`, and what it means.
struct Splice {
  size_t begin = 0;
  size_t end = 0;
  std::string text;
  ImageChange change;
};

// Where a scalar's characters are: [begin, end) holds them without quotes.
struct ScalarSpan {
  size_t begin = 0;
  size_t end = 0;
  char quote = 0;  // '\'', '"' or 0 (plain)
};

bool IsTagChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

// Whether a plain scalar `s` would not be a string in YAML (1.1 or 1.2): kustomize and our own
// loader must read a newTag such as "1234567" or "true" as a string, so it is quoted.
bool NeedsQuotes(const std::string& s) {
  static const std::set<std::string> kWords = {
      "null",  "Null", "NULL", "~",   "true", "True", "TRUE", "false", "False",
      "FALSE", "yes",  "Yes",  "YES", "no",   "No",   "NO",   "on",    "On",
      "ON",    "off",  "Off",  "OFF", "y",    "Y",    "n",    "N"};
  if (kWords.count(s) > 0) return true;
  // Anything made of digits, signs, dots, underscores and e/x/o could be a number.
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+' || c == '_' || c == 'e' ||
           c == 'E' || c == 'x' || c == 'o';
  });
}

// Parses and edits one file; collects the splices, then applies them.
class Editor {
 public:
  Editor(const std::string& file, const std::string& text, const std::string& repository,
         const std::string& tag)
      : file_(file), text_(text), repository_(repository), tag_(tag) {
    if (std::string_view(text_).starts_with(kBom)) offset_ = kBom.size();  // yaml-cpp skips it
  }

  Result<ImageEdit> Run(bool kustomization) {
    std::vector<YAML::Node> docs;
    try {
      docs = YAML::LoadAll(text_);
    } catch (const YAML::Exception& e) {
      return Error(e.mark.is_null() ? 0 : e.mark.line + 1,
                   e.mark.is_null() ? "" : ":" + std::to_string(e.mark.column + 1), e.msg);
    }
    for (const YAML::Node& doc : docs) {
      Status s = kustomization ? Images(doc) : Walk(doc, 0);
      if (!s.ok()) return s;
    }
    std::sort(splices_.begin(), splices_.end(),
              [](const Splice& a, const Splice& b) { return a.begin < b.begin; });
    ImageEdit out;
    out.content = text_;
    out.matched = matched_;
    for (auto it = splices_.rbegin(); it != splices_.rend(); ++it) {
      out.content.replace(it->begin, it->end - it->begin, it->text);
    }
    for (Splice& s : splices_) out.changes.push_back(std::move(s.change));
    return out;
  }

 private:
  Status Error(int line, const std::string& col, const std::string& what) const {
    return Status(Code::kInvalidArgument, file_ + ":" + std::to_string(line) + col + ": " + what);
  }

  // 1-based line of byte `pos`.
  int LineAt(size_t pos) const {
    return 1 + static_cast<int>(std::count(text_.begin(), text_.begin() + pos, '\n'));
  }

  size_t PosOf(const YAML::Node& node) const { return node.Mark().pos + offset_; }

  // Every mapping value of key `image` below `node`. Collections reached twice (through
  // aliases) are walked once.
  Status Walk(const YAML::Node& node, int depth) {
    if (depth > kMaxDepth) return Error(LineAt(PosOf(node)), "", "nested too deeply");
    if (!node.IsMap() && !node.IsSequence()) return Status::Ok();
    if (!walked_.insert(PosOf(node)).second) return Status::Ok();
    if (node.IsSequence()) {
      for (const YAML::Node& item : node) {
        if (Status s = Walk(item, depth + 1); !s.ok()) return s;
      }
      return Status::Ok();
    }
    for (const auto& kv : node) {
      if (kv.first.IsScalar() && kv.first.Scalar() == "image" && kv.second.IsScalar()) {
        if (Status s = Image(kv.second); !s.ok()) return s;
      }
      if (Status s = Walk(kv.second, depth + 1); !s.ok()) return s;
    }
    return Status::Ok();
  }

  // An `image:` scalar: rewritten when it names the repository.
  Status Image(const YAML::Node& node) {
    const std::string& value = node.Scalar();
    auto [name, rest] = SplitImage(value);
    if (name != repository_) return Status::Ok();
    matched_++;
    std::string wanted = repository_ + ":" + tag_;
    if (value == wanted) return Status::Ok();
    auto span = Locate(node, "image");
    if (!span.ok()) return span.status();
    if (!edited_.insert(span->begin).second) return Status::Ok();  // an alias of one we edited
    splices_.push_back(
        {span->begin, span->end, wanted, {file_, LineAt(span->begin), value, wanted}});
    return Status::Ok();
  }

  // The `images:` entries of a kustomization document.
  Status Images(const YAML::Node& doc) {
    if (!doc.IsMap() || !doc["images"] || !doc["images"].IsSequence()) return Status::Ok();
    for (const YAML::Node& entry : doc["images"]) {
      if (!entry.IsMap()) continue;
      if (Status s = ImagesEntry(entry); !s.ok()) return s;
    }
    return Status::Ok();
  }

  static std::string ScalarOf(const YAML::Node& map, const char* key) {
    YAML::Node v = map[key];
    return v && v.IsScalar() ? v.Scalar() : "";
  }

  Status ImagesEntry(const YAML::Node& entry) {
    if (ScalarOf(entry, "name") != repository_ && ScalarOf(entry, "newName") != repository_) {
      return Status::Ok();
    }
    matched_++;
    int line = LineAt(PosOf(entry));
    if (entry["digest"]) {
      return Error(line, "",
                   "images entry " + ScalarOf(entry, "name") +
                       " pins a digest, which kustomize prefers to newTag; remove the digest");
    }
    if (YAML::Node current = entry["newTag"]) {
      if (!current.IsScalar()) return Error(LineAt(PosOf(current)), "", "newTag is not a string");
      if (current.Scalar() == tag_) return Status::Ok();
      auto span = Locate(current, "newTag");
      if (!span.ok()) return span.status();
      std::string text = span->quote == 0 && NeedsQuotes(tag_) ? "\"" + tag_ + "\"" : tag_;
      splices_.push_back(
          {span->begin, span->end, text, {file_, LineAt(span->begin), current.Scalar(), tag_}});
      return Status::Ok();
    }
    // No newTag yet: insert one after the `name` pair.
    YAML::Node name_key, name_value;
    for (const auto& kv : entry) {
      if (kv.first.IsScalar() && kv.first.Scalar() == "name") {
        name_key = kv.first;
        name_value = kv.second;
      }
    }
    if (!name_key || !name_value.IsScalar()) return Error(line, "", "images entry has no name");
    auto span = Locate(name_value, "name");
    if (!span.ok()) return span.status();
    size_t after_value = span->end + (span->quote != 0 ? 1 : 0);
    std::string value = NeedsQuotes(tag_) ? "\"" + tag_ + "\"" : tag_;
    if (entry.Style() == YAML::EmitterStyle::Flow) {
      splices_.push_back(
          {after_value, after_value, ", newTag: " + value, {file_, LineAt(after_value), "", tag_}});
      return Status::Ok();
    }
    size_t key_pos = PosOf(name_key);
    size_t line_start = text_.rfind('\n', key_pos);
    line_start = line_start == std::string::npos ? 0 : line_start + 1;
    std::string indent(key_pos - line_start, ' ');
    size_t eol = text_.find('\n', after_value);
    bool crlf = eol != std::string::npos && eol > 0 && text_[eol - 1] == '\r';
    std::string nl = crlf ? "\r\n" : "\n";
    std::string inserted = indent + "newTag: " + value + nl;
    size_t at = eol == std::string::npos ? text_.size() : eol + 1;
    if (eol == std::string::npos) inserted = nl + inserted;  // the entry ends the file
    splices_.push_back({at, at, inserted, {file_, LineAt(after_value) + 1, "", tag_}});
    return Status::Ok();
  }

  // The characters of scalar `node` in the text (after its anchor and tag, if any, and inside
  // its quotes). Block scalars and multi-line plain scalars cannot be edited in place.
  Result<ScalarSpan> Locate(const YAML::Node& node, const std::string& what) const {
    size_t i = PosOf(node);
    const size_t n = text_.size();
    // yaml-cpp's mark is where the node's properties (&anchor, !tag) start.
    while (i < n) {
      char c = text_[i];
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
        ++i;
      } else if (c == '#' && i > 0 && (text_[i - 1] == ' ' || text_[i - 1] == '\t')) {
        i = text_.find('\n', i);
        if (i == std::string::npos) i = n;
      } else if (c == '&' || c == '!') {
        while (i < n && text_[i] != ' ' && text_[i] != '\t' && text_[i] != '\r' &&
               text_[i] != '\n') {
          ++i;
        }
      } else {
        break;
      }
    }
    if (i >= n) return Error(LineAt(std::min(i, n)), "", "cannot find the " + what + " scalar");
    char c = text_[i];
    if (c == '|' || c == '>') {
      return Error(LineAt(i), "",
                   what + " is a block scalar (" + std::string(1, c) +
                       "); write it as a plain or quoted scalar to let Flywheel edit it");
    }
    if (c == '\'') {
      size_t j = i + 1;
      while (j < n && !(text_[j] == '\'' && (j + 1 >= n || text_[j + 1] != '\''))) {
        j += text_[j] == '\'' ? 2 : 1;
      }
      if (j >= n) return Error(LineAt(i), "", "unterminated quoted scalar");
      return ScalarSpan{i + 1, j, '\''};
    }
    if (c == '"') {
      size_t j = i + 1;
      while (j < n && text_[j] != '"') j += text_[j] == '\\' ? 2 : 1;
      if (j >= n) return Error(LineAt(i), "", "unterminated quoted scalar");
      return ScalarSpan{i + 1, j, '"'};
    }
    const std::string& value = node.Scalar();
    if (text_.compare(i, value.size(), value) != 0) {
      return Error(LineAt(i), "",
                   what + " is a plain scalar over several lines; write it on one line");
    }
    return ScalarSpan{i, i + value.size(), 0};
  }

  const std::string& file_;
  const std::string& text_;
  const std::string& repository_;
  const std::string& tag_;
  size_t offset_ = 0;
  int matched_ = 0;
  std::set<size_t> walked_;
  std::set<size_t> edited_;
  std::vector<Splice> splices_;
};

bool IsKustomization(const std::string& file) {
  std::string base = file.substr(file.rfind('/') + 1);
  return base == "kustomization.yaml" || base == "kustomization.yml" || base == "Kustomization";
}

}  // namespace

std::pair<std::string, std::string> SplitImage(const std::string& image) {
  size_t at = image.find('@');
  std::string base = image.substr(0, at);
  std::string digest = at == std::string::npos ? "" : image.substr(at);
  size_t colon = base.rfind(':');
  size_t slash = base.rfind('/');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
    return {base.substr(0, colon), base.substr(colon) + digest};
  }
  return {base, digest};
}

Result<ImageEdit> SetImageTag(const std::string& file, const std::string& content,
                              const std::string& repository, const std::string& tag) {
  if (tag.empty() || tag.size() > 128 || tag[0] == '.' || tag[0] == '-' ||
      !std::all_of(tag.begin(), tag.end(), IsTagChar)) {
    return Status(Code::kInvalidArgument,
                  "invalid image tag \"" + tag + "\": want [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");
  }
  bool repository_ok = !repository.empty() &&
                       std::isalnum(static_cast<unsigned char>(repository[0])) != 0 &&
                       std::all_of(repository.begin(), repository.end(),
                                   [](char c) { return IsTagChar(c) || c == '/' || c == ':'; }) &&
                       SplitImage(repository).second.empty();
  if (!repository_ok) {
    return Status(Code::kInvalidArgument, "invalid image repository \"" + repository +
                                              "\": want a name without tag or digest");
  }
  return Editor(file, content, repository, tag).Run(IsKustomization(file));
}

}  // namespace flywheel::manifest
