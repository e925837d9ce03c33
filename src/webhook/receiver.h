#pragma once

// What the webhook receivers (/hooks/git, /hooks/alertmanager/) share: plain-text answers,
// constant-time secret comparison and the memory of deliveries already acted on.

#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>

#include "flywheel/http/server.h"

namespace flywheel::webhook {

// A plain-text answer: `body` and a newline.
http::ServerResponse Text(int status, std::string body);

// The answer to a request that is not a POST (405) or whose body is larger than
// `max_body_bytes` (413); nullopt when it is neither.
std::optional<http::ServerResponse> RefuseNonPost(const http::ServerRequest& req,
                                                  size_t max_body_bytes);

// Whether `given` equals `secret`. Both are hashed first, so the constant-time comparison runs
// on equal lengths and reveals nothing about the secret's length. An empty secret equals
// nothing (an unset secret never opens a receiver).
bool SecretEquals(std::string_view secret, std::string_view given);

// The keys of the last `capacity` deliveries acted on, oldest forgotten first, so a replayed
// delivery is answered but not acted on again. Safe to use from many threads.
class DeliveryLog {
 public:
  explicit DeliveryLog(size_t capacity) : capacity_(capacity) {}

  // Remembers `key`; false when it is already remembered. An empty key (or capacity 0) is
  // never remembered: always true.
  bool Insert(const std::string& key);
  // Forgets `key` (the delivery was not acted on after all).
  void Forget(const std::string& key);

 private:
  const size_t capacity_;
  std::mutex mu_;
  std::deque<std::string> order_;
  std::unordered_set<std::string> seen_;
};

}  // namespace flywheel::webhook
