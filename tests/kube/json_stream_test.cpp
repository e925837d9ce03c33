#include "flywheel/kube/json_stream.h"

#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "support/testenv.h"

namespace flywheel::kube {
namespace {

using nlohmann::json;

// A watch response body: ConfigMap events whose data holds braces, brackets, escaped quotes, a
// string ending in a backslash, control escapes and 2-, 3- and 4-byte UTF-8, then a bookmark
// and the ERROR event a stale resourceVersion gets. See testdata/README.md for how it was made.
std::string RecordedStream() {
  std::ifstream in(testing::SourcePath("tests/kube/testdata/watch/configmaps.jsonl"),
                   std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Feeds `chunks` in order to a fresh decoder and returns every document, failing the test on an
// error.
std::vector<std::string> Decode(const std::vector<std::string_view>& chunks) {
  JsonStreamDecoder decoder;
  std::vector<std::string> documents;
  for (std::string_view chunk : chunks) {
    Status s = decoder.Feed(chunk, &documents);
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
  EXPECT_TRUE(decoder.AtDocumentBoundary());
  EXPECT_EQ(decoder.buffered_bytes(), 0u);
  return documents;
}

std::vector<WatchEvent> ParseAll(const std::vector<std::string>& documents) {
  std::vector<WatchEvent> events;
  for (const auto& d : documents) {
    Result<WatchEvent> e = ParseWatchEvent(d);
    EXPECT_TRUE(e.ok()) << e.status().ToString();
    if (e.ok()) events.push_back(*e);
  }
  return events;
}

// The first event of `type` about the object named `name` (any name when empty), or nullptr.
const WatchEvent* FindEvent(const std::vector<WatchEvent>& events, WatchEventType type,
                            const std::string& name = "") {
  for (const auto& e : events) {
    if (e.type == type && (name.empty() || e.object["metadata"].value("name", "") == name)) {
      return &e;
    }
  }
  return nullptr;
}

TEST(JsonStreamTest, DecodesRecordedStream) {
  std::string stream = RecordedStream();
  ASSERT_FALSE(stream.empty());
  std::vector<WatchEvent> events = ParseAll(Decode({stream}));
  ASSERT_FALSE(events.empty());

  const WatchEvent* added = FindEvent(events, WatchEventType::kAdded, "tricky");
  ASSERT_NE(added, nullptr);
  const json& tricky = added->object["data"];
  EXPECT_EQ(tricky["braces"], "{not} {a [doc]] }}");
  EXPECT_EQ(tricky["quotes"], "say \"hi\" {\"k\": 1}");
  EXPECT_EQ(tricky["backslash"], "C:\\path\\");
  EXPECT_EQ(tricky["utf8"], "h\xC3\xA9llo \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x9A\x80");
  EXPECT_EQ(tricky["escapes"], "tab\there\nnewline \x01");
  ASSERT_NE(FindEvent(events, WatchEventType::kAdded, "plain"), nullptr);

  const WatchEvent* bookmark = FindEvent(events, WatchEventType::kBookmark);
  ASSERT_NE(bookmark, nullptr);
  EXPECT_EQ(bookmark->object["metadata"]["annotations"]["k8s.io/initial-events-end"], "true");
  EXPECT_TRUE(bookmark->object["metadata"]["resourceVersion"].is_string());

  const WatchEvent* modified = FindEvent(events, WatchEventType::kModified, "plain");
  ASSERT_NE(modified, nullptr);
  EXPECT_EQ(modified->object["data"]["k"], "v2 \\\"}");
  const WatchEvent* deleted = FindEvent(events, WatchEventType::kDeleted, "tricky");
  ASSERT_NE(deleted, nullptr);
  EXPECT_EQ(deleted->object["data"], tricky);

  EXPECT_EQ(events.back().type, WatchEventType::kError);
  EXPECT_EQ(events.back().object["kind"], "Status");
  EXPECT_EQ(events.back().object["reason"], "Expired");
  EXPECT_EQ(events.back().object["code"], 410);
}

TEST(JsonStreamTest, EverySingleSplitPointGivesTheSameDocuments) {
  std::string stream = RecordedStream();
  std::vector<std::string> want = Decode({stream});
  std::string_view s = stream;
  for (size_t cut = 0; cut <= s.size(); ++cut) {
    ASSERT_EQ(Decode({s.substr(0, cut), s.substr(cut)}), want) << "split at byte " << cut;
  }
}

TEST(JsonStreamTest, ByteByByteGivesTheSameDocuments) {
  std::string stream = RecordedStream();
  std::vector<std::string> want = Decode({stream});
  std::vector<std::string_view> bytes;
  for (size_t i = 0; i < stream.size(); ++i) bytes.push_back(std::string_view(stream).substr(i, 1));
  EXPECT_EQ(Decode(bytes), want);
}

TEST(JsonStreamTest, RandomMultiChunkSplitsGiveTheSameDocuments) {
  std::string stream = RecordedStream();
  std::vector<std::string> want = Decode({stream});
  std::mt19937 rng(42);  // fixed seed: the same splits every run
  for (int round = 0; round < 300; ++round) {
    std::vector<std::string_view> chunks;
    std::string_view rest = stream;
    while (!rest.empty()) {
      size_t n = std::uniform_int_distribution<size_t>(0, 200)(rng);
      chunks.push_back(rest.substr(0, n));
      rest.remove_prefix(std::min(n, rest.size()));
    }
    ASSERT_EQ(Decode(chunks), want) << "round " << round;
  }
}

TEST(JsonStreamTest, DoesNotRelyOnNewlines) {
  std::vector<std::string> originals = Decode({RecordedStream()});
  std::string glued;   // documents back to back
  std::string pretty;  // indented over many lines, CRLF between documents
  for (const auto& d : originals) {
    glued += d;
    pretty += json::parse(d).dump(2) + "\r\n";
  }
  std::vector<std::string> from_glued = Decode({glued});
  EXPECT_EQ(from_glued, originals);
  std::vector<std::string> from_pretty = Decode({pretty});
  ASSERT_EQ(from_pretty.size(), originals.size());
  for (size_t i = 0; i < originals.size(); ++i) {
    EXPECT_EQ(json::parse(from_pretty[i]), json::parse(originals[i]));
  }
}

TEST(JsonStreamTest, ReportsAPartialDocument) {
  JsonStreamDecoder decoder;
  std::vector<std::string> documents;
  ASSERT_TRUE(decoder.Feed("{\"type\":\"ADDED\",\"object\":{\"a\":\"}", &documents).ok());
  EXPECT_TRUE(documents.empty());
  EXPECT_FALSE(decoder.AtDocumentBoundary());
  EXPECT_GT(decoder.buffered_bytes(), 0u);
  decoder.Reset();
  EXPECT_TRUE(decoder.AtDocumentBoundary());
  ASSERT_TRUE(decoder.Feed("{}", &documents).ok());
  EXPECT_EQ(documents, std::vector<std::string>{"{}"});
}

TEST(JsonStreamTest, OversizedDocumentIsAClearErrorWhateverTheChunks) {
  const std::string small = R"({"type":"ADDED","object":{}})";  // 28 bytes
  const std::string big = R"({"type":"ADDED","object":{"data":"0123456789"}})";
  const size_t limit = 40;
  ASSERT_LE(small.size(), limit);
  ASSERT_GT(big.size(), limit);
  std::string stream = small + "\n" + big + "\n" + small;
  for (size_t chunk_size : {size_t{1}, size_t{7}, stream.size()}) {
    JsonStreamDecoder decoder(limit);
    std::vector<std::string> documents;
    Status status;
    for (size_t i = 0; i < stream.size() && status.ok(); i += chunk_size) {
      status = decoder.Feed(std::string_view(stream).substr(i, chunk_size), &documents);
    }
    ASSERT_FALSE(status.ok()) << "chunk size " << chunk_size;
    EXPECT_EQ(status.code(), Code::kResourceExhausted);
    EXPECT_NE(status.message().find("exceeds the maximum of 40 bytes"), std::string::npos)
        << status.message();
    EXPECT_EQ(documents, std::vector<std::string>{small}) << "documents before the big one";
    EXPECT_LE(decoder.buffered_bytes(), limit);
    // The error sticks until Reset.
    EXPECT_EQ(decoder.Feed(small, &documents).code(), Code::kResourceExhausted);
    EXPECT_FALSE(decoder.AtDocumentBoundary());
    decoder.Reset();
    ASSERT_TRUE(decoder.Feed(small, &documents).ok());
    EXPECT_EQ(documents.size(), 2u);
  }
  // Exactly at the limit is fine.
  JsonStreamDecoder exact(small.size());
  std::vector<std::string> documents;
  EXPECT_TRUE(exact.Feed(small + small, &documents).ok());
  EXPECT_EQ(documents.size(), 2u);
}

TEST(JsonStreamTest, NonObjectBetweenDocumentsIsAnError) {
  JsonStreamDecoder decoder;
  std::vector<std::string> documents;
  Status s = decoder.Feed("{}\n<html><body>502 Bad Gateway</body></html>", &documents);
  EXPECT_EQ(s.code(), Code::kInternal);
  EXPECT_NE(s.message().find("<html><body>502 Bad Gateway"), std::string::npos) << s.message();
  EXPECT_EQ(documents, std::vector<std::string>{"{}"});
}

TEST(JsonStreamTest, ParseWatchEventRejectsMalformedEvents) {
  struct Case {
    const char* document;
    const char* why;
  };
  const Case cases[] = {
      {R"({"type":"ADDED","object":{)", "not JSON"},
      {R"([1,2])", "not an object"},
      {R"({"object":{}})", "no \"type\""},
      {R"({"type":7,"object":{}})", "no \"type\""},
      {R"({"type":"RENAMED","object":{}})", "unknown type \"RENAMED\""},
      {R"({"type":"ADDED"})", "no \"object\" object"},
      {R"({"type":"ADDED","object":"x"})", "no \"object\" object"},
  };
  for (const auto& c : cases) {
    Result<WatchEvent> e = ParseWatchEvent(c.document);
    ASSERT_FALSE(e.ok()) << c.document;
    EXPECT_EQ(e.status().code(), Code::kInternal);
    EXPECT_NE(e.status().message().find(c.why), std::string::npos) << e.status().message();
  }
}

TEST(JsonStreamTest, EventTypeNames) {
  EXPECT_STREQ(WatchEventTypeName(WatchEventType::kAdded), "ADDED");
  EXPECT_STREQ(WatchEventTypeName(WatchEventType::kModified), "MODIFIED");
  EXPECT_STREQ(WatchEventTypeName(WatchEventType::kDeleted), "DELETED");
  EXPECT_STREQ(WatchEventTypeName(WatchEventType::kBookmark), "BOOKMARK");
  EXPECT_STREQ(WatchEventTypeName(WatchEventType::kError), "ERROR");
}

}  // namespace
}  // namespace flywheel::kube
