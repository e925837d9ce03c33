#include "flywheel/git/source_worker.h"

#include <algorithm>
#include <utility>

namespace flywheel::git {
namespace {

// The name of the copy a request fills, for keeping one thread per stuck key.
std::string KeyName(const CacheKey& key) { return key.url() + "\n" + key.identity(); }

}  // namespace

SourceWorker::SourceWorker(RepositoryCache& cache, Notify notify, SourceWorkerOptions options)
    : cache_(cache),
      notify_(std::move(notify)),
      clock_(options.clock != nullptr ? *options.clock : RealClock::Instance()) {
  for (int i = 0; i < std::max(options.threads, 1); ++i) threads_.emplace_back([this] { Loop(); });
}

SourceWorker::~SourceWorker() { Stop(); }

void SourceWorker::Request(const std::string& caller, SourceRequest request, Clock::TimePoint due) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_.stop_requested()) return;
    if (auto it = pending_.find(caller); it != pending_.end()) {
      it->second.request = std::move(request);
      it->second.due = std::min(it->second.due, due);
    } else {
      pending_.emplace(caller, Pending{std::move(request), due});
    }
  }
  changed_.notify_all();
}

void SourceWorker::Forget(const std::string& caller) {
  std::lock_guard<std::mutex> lock(mu_);
  pending_.erase(caller);
  last_.erase(caller);
  if (running_.count(caller)) forgotten_.insert(caller);
}

std::optional<SourceOutcome> SourceWorker::Last(const std::string& caller) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = last_.find(caller);
  if (it == last_.end()) return std::nullopt;
  return it->second;
}

std::optional<Clock::TimePoint> SourceWorker::Due(const std::string& caller) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pending_.find(caller);
  if (it == pending_.end()) return std::nullopt;
  return it->second.due;
}

void SourceWorker::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_.request_stop();  // under mu_: a worker between its check and its wait cannot miss it
    pending_.clear();
  }
  changed_.notify_all();
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

std::optional<std::string> SourceWorker::NextDue(Clock::TimePoint* wake) const {
  const Clock::TimePoint now = clock_.Now();
  *wake = Clock::TimePoint::max();
  std::optional<std::string> next;
  Clock::TimePoint next_due = Clock::TimePoint::max();
  for (const auto& [caller, pending] : pending_) {
    if (running_.count(caller) ||
        running_keys_.count(KeyName(CacheKey(pending.request.url, pending.request.credentials)))) {
      continue;  // runs when the fetch in flight ends (which wakes every thread)
    }
    if (pending.due > now) {
      *wake = std::min(*wake, pending.due);
    } else if (!next || pending.due < next_due) {
      next = caller;
      next_due = pending.due;
    }
  }
  return next;
}

void SourceWorker::Loop() {
  std::stop_token stop = stop_.get_token();
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop.stop_requested()) {
    Clock::TimePoint wake;
    std::optional<std::string> caller = NextDue(&wake);
    if (!caller) {
      clock_.Wait(lock, changed_, wake);
      continue;
    }
    SourceRequest request = std::move(pending_[*caller].request);
    pending_.erase(*caller);
    CacheKey key(request.url, request.credentials);
    const std::string key_name = KeyName(key);
    running_.insert(*caller);
    running_keys_.insert(key_name);
    lock.unlock();

    SourceOutcome outcome{{}, cache_.Fetch(request.url, request.credentials, stop), key, {}};
    if (outcome.status.ok() && !request.branch.empty()) {
      auto head = cache_.Resolve(key, request.branch);
      if (head.ok()) {
        outcome.head = std::move(*head);
      } else {
        outcome.status = head.status();
      }
    }
    outcome.finished_at = clock_.Now();

    lock.lock();
    running_.erase(*caller);
    running_keys_.erase(key_name);
    const bool forgotten = forgotten_.erase(*caller) > 0;
    if (!forgotten) last_.insert_or_assign(*caller, std::move(outcome));
    const bool tell = !forgotten && !stop.stop_requested();
    lock.unlock();
    changed_.notify_all();  // a key is free again: a waiting request may run
    if (tell && notify_) notify_(*caller);
    lock.lock();
  }
}

}  // namespace flywheel::git
