#include "flywheel/notify/notifier.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <spdlog/spdlog.h>

#include <map>
#include <stop_token>

#include "flywheel/common/background_queue.h"
#include "flywheel/common/base64.h"
#include "flywheel/http/client.h"
#include "webhook_url.h"

namespace flywheel::notify {

namespace {

// How much of a receiver's answer is kept for the log when it refuses a notification.
constexpr size_t kKeptAnswer = 200;
// Clients kept for reuse (one per scheme://host:port); beyond, the pool starts over.
constexpr size_t kMaxClients = 32;

// One Send: a message and where it goes.
struct Job {
  std::vector<Target> targets;
  Message message;
};

// What a receiver answered.
struct Answer {
  int status = 0;
  std::string body;  // its first kKeptAnswer bytes
};

// The JSON body of `m`: Slack's `text` plus the structured fields.
std::string Body(const Message& m) {
  nlohmann::json body = {
      {"text", m.text.empty() ? m.event + ": " + m.kind + " " + m.ns + "/" + m.name : m.text},
      {"event", m.event},
      {"severity", m.severity},
      {"kind", m.kind},
      {"namespace", m.ns},
      {"name", m.name},
      {"details", m.details},
  };
  return body.dump();
}

// `text` with every occurrence of `secret` replaced by `name` (nothing replaced for secrets of
// one character, such as the target "/").
std::string Redact(std::string text, const std::string& secret, const std::string& name) {
  if (secret.size() < 2) return text;
  for (size_t at = text.find(secret); at != std::string::npos;
       at = text.find(secret, at + name.size())) {
    text.replace(at, secret.size(), name);
  }
  return text;
}

// `text` on one line, with control characters replaced, for a log.
std::string OneLine(std::string text) {
  for (char& c : text) {
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  return text;
}

}  // namespace

struct Notifier::Impl {
  explicit Impl(NotifierOptions o)
      : options(std::move(o)),
        clock(options.clock != nullptr ? options.clock : &RealClock::Instance()) {
    if (options.registry != nullptr) {
      auto& family = prometheus::BuildCounter()
                         .Name("flywheel_notifications_total")
                         .Help("Notification webhook deliveries by result (sent, failed, dropped)")
                         .Register(*options.registry);
      sent = &family.Add({{"result", "sent"}});
      failed = &family.Add({{"result", "failed"}});
      dropped = &family.Add({{"result", "dropped"}});
    }
  }

  void Handle(Job& job, std::stop_token stop);
  // Sends `body` to `target`, retrying transient failures; true when it was accepted.
  bool Deliver(const Target& target, const WebhookUrl& url, const std::string& body,
               const std::string& what, std::stop_token stop);
  // One POST, bounded by the timeout. Errors never show the URL's secret parts.
  Result<Answer> Post(const Target& target, const WebhookUrl& url, const std::string& body,
                      std::stop_token stop);
  http::Client* ClientFor(const WebhookUrl& url);

  static void Count(prometheus::Counter* counter, size_t n) {
    if (counter != nullptr) counter->Increment(static_cast<double>(n));
  }

  const NotifierOptions options;
  Clock* const clock;
  prometheus::Counter* sent = nullptr;
  prometheus::Counter* failed = nullptr;
  prometheus::Counter* dropped = nullptr;
  std::map<std::string, std::unique_ptr<http::Client>> clients;  // worker thread only
  // Last: its thread is joined before anything above is destroyed.
  BackgroundQueue<Job> queue{options.max_queued,
                             [this](Job& job, std::stop_token stop) { Handle(job, stop); }};
};

void Notifier::Impl::Handle(Job& job, std::stop_token stop) {
  const Message& m = job.message;
  const std::string what = m.event + " for " + m.kind + " " + m.ns + "/" + m.name;
  const std::string body = Body(m);
  for (const Target& target : job.targets) {
    if (stop.stop_requested()) return;
    auto url = ParseWebhookUrl(target.url);
    if (!url) {
      spdlog::warn("notify: {} not sent to {}: not an http:// or https:// URL", what, target.name);
      Count(failed, 1);
      continue;
    }
    Count(Deliver(target, *url, body, what, stop) ? sent : failed, 1);
  }
}

bool Notifier::Impl::Deliver(const Target& target, const WebhookUrl& url, const std::string& body,
                             const std::string& what, std::stop_token stop) {
  const int attempts = std::max(1, options.attempts);
  auto backoff = options.backoff;
  for (int attempt = 1;; ++attempt) {
    Result<Answer> answer = Post(target, url, body, stop);
    std::string why;
    bool transient = true;
    if (answer.ok()) {
      if (answer->status >= 200 && answer->status < 300) {
        spdlog::info("notify: {} sent to {}", what, target.name);
        return true;
      }
      why = "answered " + std::to_string(answer->status) + " " +
            OneLine(Redact(answer->body, url.target, "<path>"));
      transient = answer->status >= 500 || answer->status == 429;
    } else {
      why = answer.status().ToString();
      transient = answer.status().code() != Code::kCancelled;
    }
    if (!transient || attempt >= attempts) {
      spdlog::warn("notify: {} not sent to {} (attempt {} of {}): {}", what, target.name, attempt,
                   attempts, why);
      return false;
    }
    spdlog::info("notify: {} to {} failed (attempt {} of {}), retrying in {} ms: {}", what,
                 target.name, attempt, attempts, backoff.count(), why);
    if (!clock->SleepFor(backoff, stop)) {
      spdlog::warn("notify: {} not sent to {}: the notifier stopped", what, target.name);
      return false;
    }
    backoff *= 2;
  }
}

Result<Answer> Notifier::Impl::Post(const Target& target, const WebhookUrl& url,
                                    const std::string& body, std::stop_token stop) {
  http::Client* client = ClientFor(url);
  if (client == nullptr) {
    return Status(Code::kInvalidArgument, "cannot make an HTTP client for " + target.name);
  }
  http::Request request{.method = "POST",
                        .target = url.target,
                        .headers = {{"Content-Type", "application/json"}},
                        .body = body,
                        .timeout = options.timeout};
  if (!target.token.empty()) {
    request.headers.emplace_back("Authorization", "Bearer " + target.token);
  } else if (!url.userinfo.empty()) {
    request.headers.emplace_back("Authorization", "Basic " + Base64Encode(url.userinfo));
  }
  // Ends the POST when the notifier stops, or when the answer is late (seen as bytes arrive;
  // a silent server is ended by the client's inactivity timeout, the same length).
  std::stop_source cancel;
  std::stop_callback forward(stop, [&cancel] { cancel.request_stop(); });
  const auto deadline = clock->Now() + options.timeout;
  Answer answer;
  bool late = false;
  http::StreamHandler handler{
      .on_headers = [&answer](int status, const http::Headers&) { answer.status = status; },
      .on_data =
          [&](std::string_view chunk) {
            if (answer.body.size() < kKeptAnswer) {
              answer.body.append(chunk.substr(0, kKeptAnswer - answer.body.size()));
            }
            late = clock->Now() >= deadline;
            return !late;
          }};
  Status s = client->Stream(request, handler, cancel.get_token());
  if (late) {
    return Status(Code::kDeadlineExceeded, "POST " + target.name +
                                               ": the answer took longer than " +
                                               std::to_string(options.timeout.count()) + " ms");
  }
  if (!s.ok()) {
    // The transport names the request it tried: the base URL and the target, a credential.
    return Status(s.code(), Redact(s.message(), url.base + url.target, target.name));
  }
  return answer;
}

http::Client* Notifier::Impl::ClientFor(const WebhookUrl& url) {
  if (auto it = clients.find(url.base); it != clients.end()) return it->second.get();
  if (clients.size() >= kMaxClients) clients.clear();
  auto client = http::NewClient({.base_url = url.base, .timeout = options.timeout});
  if (!client.ok()) return nullptr;
  return clients.emplace(url.base, std::move(*client)).first->second.get();
}

Notifier::Notifier(NotifierOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

Notifier::~Notifier() = default;

void Notifier::Send(std::vector<Target> targets, Message message) {
  if (targets.empty()) return;
  const size_t n = targets.size();
  const std::string what =
      message.event + " for " + message.kind + " " + message.ns + "/" + message.name;
  if (!impl_->queue.Push(Job{std::move(targets), std::move(message)})) {
    spdlog::warn("notify: {} messages queued already; {} dropped ({} targets)",
                 impl_->options.max_queued, what, n);
    Impl::Count(impl_->dropped, n);
  }
}

}  // namespace flywheel::notify
