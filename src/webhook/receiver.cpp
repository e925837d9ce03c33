#include "receiver.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>

namespace flywheel::webhook {

namespace {

using Digest = std::array<unsigned char, 32>;

Digest Sha256(std::string_view data) {
  Digest out{};
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr);
  return out;
}

}  // namespace

http::ServerResponse Text(int status, std::string body) {
  http::ServerResponse r;
  r.status = status;
  r.body = std::move(body) + "\n";
  return r;
}

std::optional<http::ServerResponse> RefuseNonPost(const http::ServerRequest& req,
                                                  size_t max_body_bytes) {
  if (req.method != "POST") {
    http::ServerResponse r = Text(405, "method " + req.method + " not allowed; webhooks use POST");
    r.headers.emplace_back("Allow", "POST");
    return r;
  }
  if (req.body.size() > max_body_bytes) {
    return Text(413, "body larger than " + std::to_string(max_body_bytes) + " bytes");
  }
  return std::nullopt;
}

bool SecretEquals(std::string_view secret, std::string_view given) {
  Digest want = Sha256(secret);
  Digest got = Sha256(given);
  bool equal = CRYPTO_memcmp(want.data(), got.data(), want.size()) == 0;
  return equal && !secret.empty();
}

bool DeliveryLog::Insert(const std::string& key) {
  if (capacity_ == 0 || key.empty()) return true;
  std::lock_guard lock(mu_);
  if (!seen_.insert(key).second) return false;
  order_.push_back(key);
  if (order_.size() > capacity_) {
    seen_.erase(order_.front());
    order_.pop_front();
  }
  return true;
}

void DeliveryLog::Forget(const std::string& key) {
  if (capacity_ == 0 || key.empty()) return;
  std::lock_guard lock(mu_);
  if (seen_.erase(key) == 0) return;
  std::erase(order_, key);
}

}  // namespace flywheel::webhook
