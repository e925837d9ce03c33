#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <stop_token>
#include <thread>
#include <utility>

namespace flywheel {

// A bounded queue worked off in order by one background thread it owns, for work that must not
// run on the caller's path (API writes after a webhook, notifications). Push never blocks: it
// returns false when `capacity` items already wait. Destruction stops the thread: items still
// queued are dropped, and the one being handled finishes first (`handle` gets the thread's stop
// token, so long work such as a retry backoff can end early).
template <typename T>
class BackgroundQueue {
 public:
  BackgroundQueue(size_t capacity, std::function<void(T&, std::stop_token)> handle)
      : capacity_(capacity),
        handle_(std::move(handle)),
        thread_([this](std::stop_token stop) { Loop(stop); }) {}
  BackgroundQueue(const BackgroundQueue&) = delete;
  BackgroundQueue& operator=(const BackgroundQueue&) = delete;

  // Queues `item`; false (and `item` dropped) when the queue is full.
  bool Push(T item) {
    {
      std::lock_guard lock(mu_);
      if (queue_.size() >= capacity_) return false;
      queue_.push_back(std::move(item));
    }
    cv_.notify_one();
    return true;
  }

 private:
  void Loop(std::stop_token stop) {
    for (;;) {
      std::optional<T> item;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, stop, [&] { return !queue_.empty(); });
        if (stop.stop_requested()) return;
        item.emplace(std::move(queue_.front()));
        queue_.pop_front();
      }
      handle_(*item, stop);
    }
  }

  const size_t capacity_;
  const std::function<void(T&, std::stop_token)> handle_;
  std::mutex mu_;
  std::condition_variable_any cv_;
  std::deque<T> queue_;
  std::jthread thread_;  // last: started once everything it uses exists, joined first
};

}  // namespace flywheel
