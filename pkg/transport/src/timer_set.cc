#include "vnfpool/transport/timer_set.h"

#include <cstdio>
#include <exception>

#include <boost/asio/error.hpp>

namespace vnfpool::transport {

TimerSet::TimerSet(boost::asio::io_context& loop, std::function<void(TimerKey)> fired)
    : timer_(loop), fired_(std::move(fired)) {}

TimerSet::~TimerSet() {
  alive_.reset();
  boost::system::error_code ignored;
  timer_.cancel(ignored);
}

void TimerSet::arm(TimerKey key, Clock::time_point deadline) {
  if (auto it = index_.find(key); it != index_.end()) {
    queue_.erase(it->second);
    index_.erase(it);
  }
  auto [pos, inserted] = queue_.emplace(std::make_pair(deadline, next_seq_++), key);
  index_.emplace(key, pos);
  schedule();
}

bool TimerSet::disarm(TimerKey key) {
  auto it = index_.find(key);
  if (it == index_.end()) return false;
  queue_.erase(it->second);
  index_.erase(it);
  // The asio wait stays: if it fires early it finds nothing due and waits again. Cheaper than cancelling.
  return true;
}

void TimerSet::clear() {
  queue_.clear();
  index_.clear();
}

std::optional<TimerSet::Clock::time_point> TimerSet::deadline(TimerKey key) const {
  auto it = index_.find(key);
  if (it == index_.end()) return std::nullopt;
  return it->second->first.first;
}

void TimerSet::schedule() {
  if (queue_.empty()) return;
  const auto earliest = queue_.begin()->first.first;
  if (waiting_for_ && *waiting_for_ <= earliest) return;  // the pending wait comes first anyway
  // expires_at() cancels the pending wait (its completion is ignored by generation).
  timer_.expires_at(earliest);
  waiting_for_ = earliest;
  const auto generation = ++generation_;
  std::weak_ptr<int> alive = alive_;
  timer_.async_wait([this, alive, generation](const boost::system::error_code& ec) {
    if (alive.expired() || ec == boost::asio::error::operation_aborted) return;
    onTimer(generation);
  });
}

void TimerSet::onTimer(std::uint64_t generation) {
  if (generation != generation_) return;
  waiting_for_.reset();
  const auto now = Clock::now();
  const auto seq_limit = next_seq_;  // armed during this batch: next turn
  std::weak_ptr<int> alive = alive_;
  while (!queue_.empty()) {
    auto first = queue_.begin();
    if (first->first.first > now) break;
    if (first->first.second >= seq_limit) {
      // Due, but armed by a callback of this batch; later ones may still be due. Find the next old one.
      auto it = first;
      while (it != queue_.end() && it->first.first <= now && it->first.second >= seq_limit) ++it;
      if (it == queue_.end() || it->first.first > now) break;
      first = it;
    }
    const TimerKey key = first->second;
    index_.erase(key);
    queue_.erase(first);
    try {
      if (fired_) fired_(key);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "vnfpool TimerSet: timer %llu callback threw: %s\n",
                   static_cast<unsigned long long>(key), e.what());
    } catch (...) {
      std::fprintf(stderr, "vnfpool TimerSet: timer %llu callback threw\n", static_cast<unsigned long long>(key));
    }
    if (alive.expired()) return;  // contract breach (destroyed in the callback); at least do not touch it
  }
  schedule();
}

}  // namespace vnfpool::transport
