#include "flywheel/git/source_worker.h"

#include <algorithm>
#include <tuple>
#include <utility>

#include "flywheel/git/url.h"

namespace flywheel::git {
namespace {

// The name of the copy a request fills, for keeping one thread per stuck key.
std::string KeyName(const CacheKey& key) { return key.url() + "\n" + key.identity(); }

// The git host of a URL (RepoKey's host part; "file" for file:// URLs).
std::string HostOf(const std::string& url) {
  const std::string key = RepoKey(url);
  return key.substr(0, key.find('/'));
}

}  // namespace

SourceWorker::SourceWorker(RepositoryCache& cache, Notify notify, SourceWorkerOptions options)
    : cache_(cache),
      notify_(std::move(notify)),
      clock_(options.clock != nullptr ? *options.clock : RealClock::Instance()),
      max_per_host_(std::max(options.threads - 1, 1)) {
  for (int i = 0; i < std::max(options.threads, 1); ++i) threads_.emplace_back([this] { Loop(); });
}

SourceWorker::~SourceWorker() { Stop(); }

void SourceWorker::Request(const std::string& caller, SourceRequest request, Clock::TimePoint due) {
  std::string key_name = KeyName(CacheKey(request.url, request.credentials));
  std::string host = HostOf(request.url);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_.stop_requested()) return;
    if (auto it = pending_.find(caller); it != pending_.end()) {
      it->second.request = std::move(request);
      it->second.due = std::min(it->second.due, due);
      it->second.key_name = std::move(key_name);
      it->second.host = std::move(host);
    } else {
      pending_.emplace(caller,
                       Pending{std::move(request), due, std::move(key_name), std::move(host)});
    }
  }
  changed_.notify_all();
}

std::optional<SourceOutcome> SourceWorker::Share(const std::string& caller,
                                                 const SourceRequest& request,
                                                 Clock::TimePoint since) {
  CacheKey key(request.url, request.credentials);
  SourceOutcome outcome{{}, {}, Status::Ok(), key, {}, true};
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto fetched = fetched_.find(KeyName(key));
    if (stop_.stop_requested() || fetched == fetched_.end() || fetched->second.second < since) {
      return std::nullopt;
    }
    std::tie(outcome.started_at, outcome.finished_at) = fetched->second;
  }
  if (!request.branch.empty()) {
    auto head = cache_.Resolve(key, request.branch);
    if (!head.ok()) return std::nullopt;
    outcome.head = std::move(*head);
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (auto own = last_.find(caller);
      own != last_.end() && own->second.finished_at >= outcome.finished_at) {
    return own->second;  // a fetch of its own finished meanwhile
  }
  pending_.erase(caller);
  Record(caller, outcome);
  return outcome;
}

void SourceWorker::Forget(const std::string& caller) {
  std::lock_guard<std::mutex> lock(mu_);
  pending_.erase(caller);
  if (auto it = last_.find(caller); it != last_.end()) {
    const CacheKey key = it->second.key;
    last_.erase(it);
    DropUnread(key);
  }
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

void SourceWorker::Record(const std::string& caller, SourceOutcome outcome) {
  auto [it, added] = last_.try_emplace(caller, outcome);
  if (added) return;
  const CacheKey before = std::move(it->second.key);
  it->second = std::move(outcome);
  if (!(before == it->second.key)) DropUnread(before);
}

void SourceWorker::DropUnread(const CacheKey& key) {
  if (std::none_of(last_.begin(), last_.end(),
                   [&](const auto& other) { return other.second.key == key; })) {
    fetched_.erase(KeyName(key));
  }
}

std::optional<std::string> SourceWorker::NextDue(Clock::TimePoint* wake) const {
  const Clock::TimePoint now = clock_.Now();
  *wake = Clock::TimePoint::max();
  std::optional<std::string> next;
  Clock::TimePoint next_due = Clock::TimePoint::max();
  for (const auto& [caller, pending] : pending_) {
    if (running_.count(caller) || running_keys_.count(pending.key_name)) {
      continue;  // runs when the fetch in flight ends (which wakes every thread)
    }
    if (auto host = running_hosts_.find(pending.host);
        host != running_hosts_.end() && host->second >= max_per_host_) {
      continue;  // this host has its share of the threads: one is kept for the other hosts
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
    Pending next = std::move(pending_[*caller]);
    pending_.erase(*caller);
    SourceRequest& request = next.request;
    CacheKey key(request.url, request.credentials);
    const std::string& key_name = next.key_name;
    // Other callers due now for the same copy ride along: one fetch serves them all (as
    // concurrent Fetch calls of one key are coalesced), instead of one fetch each in turn.
    std::vector<std::pair<std::string, std::string>> served = {{*caller, request.branch}};
    const Clock::TimePoint started = clock_.Now();
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (!running_.count(it->first) && it->second.due <= started &&
          it->second.key_name == key_name) {
        served.emplace_back(it->first, it->second.request.branch);
        it = pending_.erase(it);
      } else {
        ++it;
      }
    }
    for (const auto& [who, branch] : served) running_.insert(who);
    running_keys_.insert(key_name);
    const std::string& host = next.host;
    ++running_hosts_[host];
    lock.unlock();

    const Status fetched = cache_.Fetch(request.url, request.credentials, stop);
    const Clock::TimePoint finished = clock_.Now();
    std::vector<std::pair<std::string, SourceOutcome>> outcomes;
    for (const auto& [who, branch] : served) {
      SourceOutcome outcome{finished, started, fetched, key, {}, fetched.ok()};
      if (outcome.status.ok() && !branch.empty()) {
        auto head = cache_.Resolve(key, branch);
        if (head.ok()) {
          outcome.head = std::move(*head);
        } else {
          outcome.status = head.status();
        }
      }
      outcomes.emplace_back(who, std::move(outcome));
    }

    lock.lock();
    running_keys_.erase(key_name);
    if (--running_hosts_[host] == 0) running_hosts_.erase(host);
    std::vector<std::string> tell;
    for (auto& [who, outcome] : outcomes) {
      running_.erase(who);
      if (forgotten_.erase(who) > 0) continue;
      Record(who, std::move(outcome));
      if (!stop.stop_requested()) tell.push_back(who);
    }
    if (fetched.ok() && !tell.empty())
      fetched_.insert_or_assign(key_name, std::pair(started, finished));
    lock.unlock();
    changed_.notify_all();  // a key is free again: a waiting request may run
    if (notify_) {
      for (const auto& who : tell) notify_(who);
    }
    lock.lock();
  }
}

}  // namespace flywheel::git
