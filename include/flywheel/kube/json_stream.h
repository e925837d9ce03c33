#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "flywheel/common/status.h"

namespace flywheel::kube {

// Splits a byte stream of concatenated JSON objects (a Kubernetes watch response body) into
// whole documents, whatever the chunk boundaries: it tracks brace depth, strings and escapes
// rather than relying on newlines, and a UTF-8 character split across chunks needs nothing
// special because every structural byte is ASCII. It frames only; the documents are parsed by
// the caller (ParseWatchEvent), so a malformed one is reported there with its own error.
// Not thread-safe: one decoder per stream.
class JsonStreamDecoder {
 public:
  static constexpr size_t kDefaultMaxDocumentBytes = size_t{64} << 20;  // 64 MiB

  explicit JsonStreamDecoder(size_t max_document_bytes = kDefaultMaxDocumentBytes);

  // Consumes `chunk` and appends each document it completes to `documents`, in stream order.
  // Whitespace between documents is skipped. Fails with kResourceExhausted when a document grows
  // past the maximum size and kInternal when something other than an object starts between
  // documents; documents completed before the failure are still appended. After a failure the
  // decoder stays failed (every later Feed returns the same error) until Reset().
  Status Feed(std::string_view chunk, std::vector<std::string>* documents);

  // Whether the stream may end here: no partial document is buffered and no error occurred.
  // A stream that ends otherwise was cut off mid-document.
  bool AtDocumentBoundary() const { return depth_ == 0 && error_.ok(); }

  // Bytes of the partial document held until its end arrives.
  size_t buffered_bytes() const { return partial_.size(); }

  // Forgets any partial document and error, e.g. before reading a new watch response.
  void Reset();

 private:
  Status Fail(Status error);  // records `error`, drops the partial document, returns `error`
  Status TooLarge() const;

  size_t max_document_bytes_;
  std::string partial_;  // the bytes of the current document seen in earlier chunks
  uint32_t depth_ = 0;   // nesting of {} and [] inside the current document; 0 between
  bool in_string_ = false;
  bool escaped_ = false;  // the previous byte in a string was an unescaped backslash
  Status error_;
};

// The kind of change a watch event reports.
enum class WatchEventType { kAdded, kModified, kDeleted, kBookmark, kError };

// "ADDED", "MODIFIED", "DELETED", "BOOKMARK" or "ERROR", as on the wire.
const char* WatchEventTypeName(WatchEventType type);

// One event of a watch stream (metav1.WatchEvent). For kBookmark the object carries only its
// kind, apiVersion and metadata.resourceVersion; for kError it is a metav1.Status (turn it into
// a Status with ApiErrorFromStatusObject; 410 Expired means relist).
struct WatchEvent {
  WatchEventType type = WatchEventType::kAdded;
  nlohmann::json object;
};

// Parses one framed document into an event. A document that is not JSON, lacks a known `type`,
// or lacks an `object` object is kInternal: the server never sends one, so it means a broken
// proxy or a framing bug, and the watch should be restarted.
Result<WatchEvent> ParseWatchEvent(std::string_view document);

}  // namespace flywheel::kube
