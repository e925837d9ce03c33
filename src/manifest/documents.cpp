#include "documents.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <iterator>
#include <limits>
#include <map>
#include <optional>
#include <set>

namespace flywheel::manifest {
namespace {

using nlohmann::json;

// Bounds on what one YAML document may expand to through aliases ("billion laughs").
constexpr size_t kMaxNodesPerDocument = 1'000'000;
constexpr int kMaxDepth = 500;

constexpr std::string_view kStrTag = "tag:yaml.org,2002:str";
constexpr std::string_view kNonPlainTag = "!";  // yaml-cpp's tag for quoted and block scalars

bool IsDigits(std::string_view s, int base) {
  if (s.empty()) return false;
  for (char c : s) {
    bool ok = base == 16  ? std::isxdigit(static_cast<unsigned char>(c)) != 0
              : base == 8 ? (c >= '0' && c <= '7')
                          : (c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
bool IsCoreFloat(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  size_t int_digits = 0, frac_digits = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++int_digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++frac_digits;
  }
  if (int_digits == 0 && frac_digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    size_t exp_digits = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++exp_digits;
    if (exp_digits == 0) return false;
  }
  return i == s.size();
}

// An integer of `digits` (no sign) in `base`, negated if `negative`: int64 when it fits, else
// uint64, else a float.
json MakeInteger(std::string_view digits, int base, bool negative) {
  std::string text(digits);
  errno = 0;
  unsigned long long magnitude = std::strtoull(text.c_str(), nullptr, base);
  if (errno == ERANGE) {
    double d = std::strtod(text.c_str(), nullptr);  // only reached for decimal overflow
    return negative ? -d : d;
  }
  constexpr auto kMaxInt = static_cast<unsigned long long>(std::numeric_limits<int64_t>::max());
  if (!negative) {
    if (magnitude <= kMaxInt) return static_cast<int64_t>(magnitude);
    return static_cast<uint64_t>(magnitude);
  }
  if (magnitude <= kMaxInt + 1) return static_cast<int64_t>(0 - magnitude);
  return -static_cast<double>(magnitude);
}

// The YAML 1.2 core schema value of a plain scalar; nullopt for .inf/.nan.
std::optional<json> ResolvePlain(const std::string& s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return json(nullptr);
  if (s == "true" || s == "True" || s == "TRUE") return json(true);
  if (s == "false" || s == "False" || s == "FALSE") return json(false);
  std::string_view v = s;
  if (v.starts_with("0o") && IsDigits(v.substr(2), 8)) return MakeInteger(v.substr(2), 8, false);
  if (v.starts_with("0x") && IsDigits(v.substr(2), 16)) return MakeInteger(v.substr(2), 16, false);
  bool negative = v.front() == '-';
  std::string_view unsigned_part = (v.front() == '-' || v.front() == '+') ? v.substr(1) : v;
  if (IsDigits(unsigned_part, 10)) return MakeInteger(unsigned_part, 10, negative);
  if (IsCoreFloat(v)) {
    double d = std::strtod(s.c_str(), nullptr);
    // As through sigs.k8s.io/yaml (Go's encoding/json prints integral float64s without a
    // fraction below 1e21): 1.0 and 1e3 are integers, so integer fields accept them.
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.2e18) {
      return json(static_cast<int64_t>(d));
    }
    return json(d);
  }
  std::string_view mag = unsigned_part;
  if (mag == ".inf" || mag == ".Inf" || mag == ".INF" || v == ".nan" || v == ".NaN" ||
      v == ".NAN") {
    return std::nullopt;
  }
  return json(s);
}

int LineOf(const YAML::Mark& mark) { return mark.is_null() ? 0 : mark.line + 1; }

// Converts yaml-cpp nodes to JSON, reporting problems with their place.
class YamlConverter {
 public:
  YamlConverter(const std::string& file, Diagnostics& diags) : file_(file), diags_(diags) {}

  // False when the document had problems (they are in `diags`).
  bool Convert(const YAML::Node& node, json& out) {
    nodes_ = 0;
    ok_ = true;
    out = ToJson(node, 0);
    return ok_;
  }

 private:
  void Error(const YAML::Mark& mark, std::string text) {
    ok_ = false;
    diags_.Add(file_, LineOf(mark), std::move(text));
  }

  json ToJson(const YAML::Node& node, int depth) {
    if (!ok_) return nullptr;
    if (++nodes_ > kMaxNodesPerDocument || depth > kMaxDepth) {
      Error(node.Mark(),
            "document is too large or too deeply nested (aliases expand to more than " +
                std::to_string(kMaxNodesPerDocument) + " nodes or " + std::to_string(kMaxDepth) +
                " levels)");
      return nullptr;
    }
    switch (node.Type()) {
      case YAML::NodeType::Scalar:
        return Scalar(node);
      case YAML::NodeType::Sequence: {
        json array = json::array();
        for (const YAML::Node& item : node) array.push_back(ToJson(item, depth + 1));
        return array;
      }
      case YAML::NodeType::Map:
        return Mapping(node, depth);
      case YAML::NodeType::Null:
      case YAML::NodeType::Undefined:
        return nullptr;
    }
    return nullptr;
  }

  json Scalar(const YAML::Node& node) {
    const std::string& tag = node.Tag();
    if (tag == kNonPlainTag || tag == kStrTag) return node.Scalar();
    std::optional<json> value = ResolvePlain(node.Scalar());
    if (!value) {
      Error(node.Mark(), "\"" + node.Scalar() + "\" is not a number JSON can hold (quote it)");
      return nullptr;
    }
    return *value;
  }

  // A mapping key as a JSON object key: the scalar's text (like sigs.k8s.io/yaml, which prints
  // non-string keys), "null" for an empty key.
  std::optional<std::string> KeyOf(const YAML::Node& key) {
    if (key.IsScalar()) return key.Scalar();
    if (key.IsNull()) return std::string("null");
    Error(key.Mark(), "a mapping key must be a scalar");
    return std::nullopt;
  }

  static bool IsMergeKey(const YAML::Node& key) {
    return key.IsScalar() && key.Tag() == "?" && key.Scalar() == "<<";
  }

  json Mapping(const YAML::Node& node, int depth) {
    json object = json::object();
    std::map<std::string, int> key_lines;
    std::vector<YAML::Node> merges;  // "<<" values, applied after the explicit keys
    for (const auto& kv : node) {
      if (IsMergeKey(kv.first)) {
        if (kv.second.IsSequence()) {
          for (const YAML::Node& m : kv.second) merges.push_back(m);
        } else {
          merges.push_back(kv.second);
        }
        continue;
      }
      std::optional<std::string> key = KeyOf(kv.first);
      if (!key) return object;
      int line = LineOf(kv.first.Mark());
      auto [it, inserted] = key_lines.emplace(*key, line);
      if (!inserted) {
        Error(kv.first.Mark(),
              "duplicate key \"" + *key + "\" (first at line " + std::to_string(it->second) + ")");
        continue;
      }
      object[*key] = ToJson(kv.second, depth + 1);
    }
    // YAML merge keys: explicit keys win, then earlier merged mappings over later ones.
    for (const YAML::Node& m : merges) {
      json merged = ToJson(m, depth + 1);
      if (!merged.is_object()) {
        Error(m.Mark(), "the value of a merge key (<<) must be a mapping or a list of mappings");
        continue;
      }
      for (auto& [k, v] : merged.items()) {
        if (!object.contains(k)) object[k] = std::move(v);
      }
    }
    return object;
  }

  const std::string& file_;
  Diagnostics& diags_;
  size_t nodes_ = 0;
  bool ok_ = true;
};

std::vector<int> ItemLines(const YAML::Node& doc) {
  std::vector<int> lines;
  if (!doc.IsMap()) return lines;
  for (const auto& kv : doc) {
    if (kv.first.IsScalar() && kv.first.Scalar() == "items" && kv.second.IsSequence()) {
      for (const YAML::Node& item : kv.second) lines.push_back(LineOf(item.Mark()));
    }
  }
  return lines;
}

std::vector<Document> ParseYaml(const std::string& file, const std::string& content,
                                Diagnostics& diags) {
  std::vector<YAML::Node> nodes;
  try {
    nodes = YAML::LoadAll(content);
  } catch (const YAML::Exception& e) {
    diags.Add({file, e.mark.is_null() ? 0 : e.mark.line + 1,
               e.mark.is_null() ? 0 : e.mark.column + 1, e.msg});
    return {};
  }
  std::vector<Document> docs;
  YamlConverter converter(file, diags);
  for (const YAML::Node& node : nodes) {
    if (node.IsNull() || !node.IsDefined()) continue;  // empty, comments only, or "null"
    Document doc;
    doc.line = std::max(1, LineOf(node.Mark()));
    if (!converter.Convert(node, doc.value)) continue;
    doc.item_lines = ItemLines(node);
    docs.push_back(std::move(doc));
  }
  return docs;
}

// 1-based line and column of byte `offset` in `text`.
std::pair<int, int> LineColumn(const std::string& text, size_t offset) {
  offset = std::min(offset, text.size());
  int line = 1;
  size_t line_start = 0;
  for (size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  return {line, static_cast<int>(offset - line_start) + 1};
}

// A char iterator that publishes how many bytes the JSON lexer has consumed, so the SAX events
// below know where they are.
struct CountingIterator {
  using iterator_category = std::forward_iterator_tag;
  using value_type = char;
  using difference_type = std::ptrdiff_t;
  using pointer = const char*;
  using reference = const char&;

  const char* p = nullptr;
  const char* base = nullptr;
  size_t* consumed = nullptr;

  reference operator*() const { return *p; }
  CountingIterator& operator++() {
    ++p;
    *consumed = static_cast<size_t>(p - base);
    return *this;
  }
  CountingIterator operator++(int) {
    CountingIterator before = *this;
    ++*this;
    return before;
  }
  bool operator==(const CountingIterator& o) const { return p == o.p; }
};

// SAX pass over already-valid JSON: duplicate keys (nlohmann keeps the last silently) and the
// line of each element of a top-level "items" array.
class JsonLocator {
 public:
  using number_integer_t = json::number_integer_t;
  using number_unsigned_t = json::number_unsigned_t;
  using number_float_t = json::number_float_t;
  using string_t = json::string_t;
  using binary_t = json::binary_t;

  JsonLocator(const std::string& file, const std::string& text, const size_t& consumed,
              Diagnostics& diags)
      : file_(file), text_(text), consumed_(consumed), diags_(diags) {}

  std::vector<int> item_lines;

  bool null() { return Value(); }
  bool boolean(bool) { return Value(); }
  bool number_integer(number_integer_t) { return Value(); }
  bool number_unsigned(number_unsigned_t) { return Value(); }
  bool number_float(number_float_t, const string_t&) { return Value(); }
  bool string(string_t&) { return Value(); }
  bool binary(binary_t&) { return Value(); }
  bool start_object(std::size_t) {
    Value();
    stack_.push_back({true, false, {}, {}});
    return true;
  }
  bool key(string_t& k) {
    Frame& f = stack_.back();
    if (!f.keys.insert(k).second) {
      diags_.Add(file_, Line(), "duplicate key \"" + k + "\"");
    }
    f.last_key = k;
    return true;
  }
  bool end_object() {
    stack_.pop_back();
    return true;
  }
  bool start_array(std::size_t) {
    bool items = stack_.size() == 1 && stack_[0].object && stack_[0].last_key == "items";
    Value();
    stack_.push_back({false, items, {}, {}});
    return true;
  }
  bool end_array() {
    stack_.pop_back();
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) {
    return false;
  }

 private:
  struct Frame {
    bool object;
    bool items;  // the top-level "items" array
    std::set<std::string> keys;
    std::string last_key;
  };

  // The line of the last consumed byte (the '{', '[', closing quote or last digit).
  int Line() const { return LineColumn(text_, consumed_ == 0 ? 0 : consumed_ - 1).first; }

  bool Value() {
    if (!stack_.empty() && stack_.back().items) item_lines.push_back(Line());
    return true;
  }

  const std::string& file_;
  const std::string& text_;
  const size_t& consumed_;
  Diagnostics& diags_;
  std::vector<Frame> stack_;
};

// nlohmann's message without its "[json.exception...] parse error at line L, column C: " prefix
// (the place is printed by Diagnostic).
std::string JsonErrorText(const std::string& what) {
  size_t at = what.find("parse error");
  size_t colon = at == std::string::npos ? std::string::npos : what.find(": ", at);
  if (colon != std::string::npos) return what.substr(colon + 2);
  size_t bracket = what.find("] ");
  return bracket == std::string::npos ? what : what.substr(bracket + 2);
}

std::vector<Document> ParseJson(const std::string& file, const std::string& content,
                                Diagnostics& diags) {
  if (content.find_first_not_of(" \t\r\n") == std::string::npos) return {};
  Document doc;
  try {
    doc.value = json::parse(content);
  } catch (const json::parse_error& e) {
    auto [line, column] = LineColumn(content, e.byte == 0 ? 0 : e.byte - 1);
    diags.Add({file, line, column, JsonErrorText(e.what())});
    return {};
  }
  size_t before = diags.size();
  size_t consumed = 0;
  JsonLocator locator(file, content, consumed, diags);
  CountingIterator first{content.data(), content.data(), &consumed};
  CountingIterator last{content.data() + content.size(), content.data(), &consumed};
  json::sax_parse(first, last, &locator);
  if (diags.size() != before) return {};
  doc.line = LineColumn(content, content.find_first_not_of(" \t\r\n")).first;
  doc.item_lines = std::move(locator.item_lines);
  if (doc.value.is_null()) return {};
  std::vector<Document> docs;
  docs.push_back(std::move(doc));
  return docs;
}

}  // namespace

std::vector<Document> ParseDocuments(const std::string& file, const std::string& content,
                                     Diagnostics& diags) {
  if (file.ends_with(".json")) return ParseJson(file, content, diags);
  return ParseYaml(file, content, diags);
}

}  // namespace flywheel::manifest
