#include "vnfpool/kube/workqueue.h"

#include <algorithm>
#include <cmath>

namespace vnfpool::kube {

SteadyDuration ItemBackoff::next(const std::string& key) {
  const int n = failures_[key]++;
  // 2^n overflows quickly; past 40 doublings every realistic base is beyond the cap anyway.
  if (n >= 40) return cap_;
  const auto delay = base_ * (std::int64_t{1} << n);
  return std::min<SteadyDuration>(delay, cap_);
}

int ItemBackoff::failures(const std::string& key) const {
  auto it = failures_.find(key);
  return it == failures_.end() ? 0 : it->second;
}

SteadyDuration BucketLimiter::reserve(SteadyTime now) {
  if (qps_ <= 0) return SteadyDuration::zero();
  if (last_) {
    tokens_ = std::min(static_cast<double>(burst_),
                       tokens_ + std::chrono::duration<double>(now - *last_).count() * qps_);
  }
  last_ = now;
  tokens_ -= 1.0;   // may go negative: later reservations wait for the debt to be repaid
  if (tokens_ >= 0) return SteadyDuration::zero();
  return std::chrono::duration_cast<SteadyDuration>(std::chrono::duration<double>(-tokens_ / qps_));
}

WorkQueue::WorkQueue(ItemBackoff backoff, BucketLimiter bucket)
    : backoff_(std::move(backoff)), bucket_(std::move(bucket)) {}

void WorkQueue::add(const std::string& key) {
  std::lock_guard lock(mu_);
  if (shutting_down_ || dirty_.count(key) != 0) return;
  dirty_.insert(key);
  if (auto it = delayed_at_.find(key); it != delayed_at_.end()) {
    // Queued now, so the pending delayed add is redundant.
    auto range = delayed_.equal_range(it->second);
    for (auto d = range.first; d != range.second; ++d) {
      if (d->second == key) {
        delayed_.erase(d);
        break;
      }
    }
    delayed_at_.erase(it);
  }
  if (processing_.count(key) == 0) {
    queue_.push_back(key);
    cv_.notify_one();
  }
}

void WorkQueue::addAfter(const std::string& key, SteadyDuration delay) {
  if (delay <= SteadyDuration::zero()) return add(key);
  std::lock_guard lock(mu_);
  if (shutting_down_ || dirty_.count(key) != 0) return;
  const auto at = std::chrono::steady_clock::now() + delay;
  if (auto it = delayed_at_.find(key); it != delayed_at_.end()) {
    if (it->second <= at) return;
    auto range = delayed_.equal_range(it->second);
    for (auto d = range.first; d != range.second; ++d) {
      if (d->second == key) {
        delayed_.erase(d);
        break;
      }
    }
  }
  delayed_.emplace(at, key);
  delayed_at_[key] = at;
  cv_.notify_all();   // a worker may need to wait for an earlier deadline now
}

void WorkQueue::addRateLimited(const std::string& key) {
  SteadyDuration delay;
  {
    std::lock_guard lock(mu_);
    delay = std::max(backoff_.next(key), bucket_.reserve(std::chrono::steady_clock::now()));
  }
  addAfter(key, delay);
}

void WorkQueue::forget(const std::string& key) {
  std::lock_guard lock(mu_);
  backoff_.forget(key);
}

int WorkQueue::failures(const std::string& key) const {
  std::lock_guard lock(mu_);
  return backoff_.failures(key);
}

void WorkQueue::promoteDueLocked(SteadyTime now) {
  while (!delayed_.empty() && delayed_.begin()->first <= now) {
    const std::string key = delayed_.begin()->second;
    delayed_.erase(delayed_.begin());
    delayed_at_.erase(key);
    if (dirty_.count(key) != 0) continue;
    dirty_.insert(key);
    if (processing_.count(key) == 0) queue_.push_back(key);
  }
}

std::optional<std::string> WorkQueue::get() {
  std::unique_lock lock(mu_);
  while (true) {
    promoteDueLocked(std::chrono::steady_clock::now());
    if (!queue_.empty()) break;
    if (shutting_down_) return std::nullopt;
    if (delayed_.empty()) {
      cv_.wait(lock);
    } else {
      // A copy: add() may erase this entry while the wait has the lock released.
      const SteadyTime until = delayed_.begin()->first;
      cv_.wait_until(lock, until);
    }
  }
  std::string key = std::move(queue_.front());
  queue_.pop_front();
  dirty_.erase(key);
  processing_.insert(key);
  return key;
}

void WorkQueue::done(const std::string& key) {
  std::lock_guard lock(mu_);
  processing_.erase(key);
  if (dirty_.count(key) != 0) {
    queue_.push_back(key);
    cv_.notify_one();
  }
}

void WorkQueue::shutDown() {
  std::lock_guard lock(mu_);
  shutting_down_ = true;
  cv_.notify_all();
}

bool WorkQueue::shuttingDown() const {
  std::lock_guard lock(mu_);
  return shutting_down_;
}

std::size_t WorkQueue::length() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

}  // namespace vnfpool::kube
