#include "flywheel/kube/json_stream.h"

#include <utility>

#include "flywheel/common/utf8.h"

namespace flywheel::kube {
namespace {

using nlohmann::json;

bool IsJsonWhitespace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Up to `limit` bytes of `text` for an error message: control bytes shown as '?', invalid UTF-8
// replaced, no character split.
std::string Excerpt(std::string_view text, size_t limit) {
  std::string out;
  for (char c : text.substr(0, limit + 3)) {  // + 3: room to finish a character at the limit
    out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  }
  out = ToValidUtf8(out);
  out.resize(TruncateUtf8(out, limit).size());
  if (text.size() > limit) out += "...";
  return out;
}

constexpr std::pair<WatchEventType, std::string_view> kEventTypeNames[] = {
    {WatchEventType::kAdded, "ADDED"},     {WatchEventType::kModified, "MODIFIED"},
    {WatchEventType::kDeleted, "DELETED"}, {WatchEventType::kBookmark, "BOOKMARK"},
    {WatchEventType::kError, "ERROR"},
};

Status BadEvent(std::string_view document, const std::string& why) {
  return Status(Code::kInternal, "malformed watch event (" + why + "): " + Excerpt(document, 200));
}

}  // namespace

JsonStreamDecoder::JsonStreamDecoder(size_t max_document_bytes)
    : max_document_bytes_(max_document_bytes) {}

Status JsonStreamDecoder::Fail(Status error) {
  partial_.clear();
  partial_.shrink_to_fit();
  error_ = std::move(error);
  return error_;
}

Status JsonStreamDecoder::TooLarge() const {
  return Status(Code::kResourceExhausted,
                "a watch stream document exceeds the maximum of " +
                    std::to_string(max_document_bytes_) +
                    " bytes; the stream is corrupt or the limit is too low");
}

void JsonStreamDecoder::Reset() {
  partial_.clear();
  partial_.shrink_to_fit();
  depth_ = 0;
  in_string_ = false;
  escaped_ = false;
  error_ = Status();
}

Status JsonStreamDecoder::Feed(std::string_view chunk, std::vector<std::string>* documents) {
  if (!error_.ok()) return error_;
  size_t start = 0;  // where the current document's bytes in this chunk begin
  for (size_t i = 0; i < chunk.size(); ++i) {
    char c = chunk[i];
    if (depth_ == 0) {
      if (IsJsonWhitespace(c)) continue;
      if (c != '{') {
        return Fail(
            Status(Code::kInternal, "watch stream: expected '{' to start a JSON object, got: " +
                                        Excerpt(chunk.substr(i), 120)));
      }
      start = i;
      depth_ = 1;
      continue;
    }
    if (in_string_) {
      if (escaped_) {
        escaped_ = false;
      } else if (c == '\\') {
        escaped_ = true;
      } else if (c == '"') {
        in_string_ = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string_ = true;
        break;
      case '{':
      case '[':
        ++depth_;
        break;
      case '}':
      case ']':
        if (--depth_ == 0) {
          std::string_view tail = chunk.substr(start, i + 1 - start);
          if (partial_.size() + tail.size() > max_document_bytes_) return Fail(TooLarge());
          partial_.append(tail);
          documents->push_back(std::move(partial_));
          partial_.clear();
        }
        break;
      default:
        break;
    }
  }
  if (depth_ > 0) {
    std::string_view tail = chunk.substr(start);
    if (partial_.size() + tail.size() > max_document_bytes_) return Fail(TooLarge());
    partial_.append(tail);
  }
  return Status();
}

const char* WatchEventTypeName(WatchEventType type) {
  for (const auto& [t, name] : kEventTypeNames) {
    if (t == type) return name.data();
  }
  return "UNKNOWN";
}

Result<WatchEvent> ParseWatchEvent(std::string_view document) {
  json parsed;
  try {
    parsed = json::parse(document);
  } catch (const json::parse_error& e) {
    return BadEvent(document, std::string("not JSON: ") + e.what());
  }
  if (!parsed.is_object()) return BadEvent(document, "not an object");
  auto type = parsed.find("type");
  if (type == parsed.end() || !type->is_string()) return BadEvent(document, "no \"type\"");
  const auto& type_name = type->get_ref<const std::string&>();
  WatchEvent event;
  bool known = false;
  for (const auto& [t, name] : kEventTypeNames) {
    if (name == type_name) {
      event.type = t;
      known = true;
    }
  }
  if (!known) return BadEvent(document, "unknown type \"" + Excerpt(type_name, 40) + "\"");
  auto object = parsed.find("object");
  if (object == parsed.end() || !object->is_object()) {
    return BadEvent(document, "no \"object\" object");
  }
  event.object = std::move(*object);
  return event;
}

}  // namespace flywheel::kube
