#include "vnfpool/kube/leader_election.h"

#include <condition_variable>
#include <thread>

namespace vnfpool::kube {

namespace {

/// Sleeps for `d` unless `stop` is requested first; returns false when stopped.
bool pause(std::stop_token stop, std::chrono::milliseconds d) {
  std::mutex m;
  std::unique_lock lock(m);
  std::condition_variable_any cv;
  cv.wait_for(lock, stop, d, [] { return false; });
  return !stop.stop_requested();
}

std::int64_t ceilSeconds(std::chrono::milliseconds d) { return (d.count() + 999) / 1000; }

}  // namespace

LeaderElector::LeaderElector(Client& client, LeaderElectionConfig config, LeaderCallbacks callbacks)
    : client_(client), leases_(client), config_(std::move(config)), callbacks_(std::move(callbacks)) {}

Status LeaderElector::validate(const LeaderElectionConfig& c) {
  auto bad = [](std::string m) { return Error{ErrorKind::BadInput, 0, "", std::move(m)}; };
  if (c.namespace_name.empty() || c.lease_name.empty()) return bad("leader election needs a lease namespace and name");
  if (c.identity.empty()) return bad("leader election needs an identity");
  if (c.retry_period.count() <= 0) return bad("retry period must be positive");
  if (c.renew_deadline <= c.retry_period) return bad("renew deadline must exceed the retry period");
  if (c.lease_duration <= c.renew_deadline) return bad("lease duration must exceed the renew deadline");
  return Done{};
}

bool LeaderElector::isLeader() const {
  std::lock_guard lock(mu_);
  return leading_;
}

std::string LeaderElector::observedLeader() const {
  std::lock_guard lock(mu_);
  return observed_leader_;
}

void LeaderElector::observe(const Lease& lease) {
  std::string changed_to;
  {
    std::lock_guard lock(mu_);
    if (lease.metadata.resource_version != observed_rv_) {
      observed_rv_ = lease.metadata.resource_version;
      observed_at_ = std::chrono::steady_clock::now();
    }
    const auto holder = lease.holder_identity.value_or("");
    if (holder != observed_leader_) {
      observed_leader_ = holder;
      changed_to = holder;
    }
    last_lease_ = lease;
  }
  if (!changed_to.empty() && callbacks_.on_new_leader) callbacks_.on_new_leader(changed_to);
}

bool LeaderElector::tryAcquireOrRenew() {
  const auto now = nowMicroTime();
  auto current = leases_.get(config_.namespace_name, config_.lease_name);
  if (current.notFound()) {
    Lease fresh;
    fresh.metadata.name = config_.lease_name;
    fresh.metadata.namespace_name = config_.namespace_name;
    fresh.holder_identity = config_.identity;
    fresh.lease_duration_seconds = ceilSeconds(config_.lease_duration);
    fresh.acquire_time = now;
    fresh.renew_time = now;
    auto created = leases_.create(fresh);
    if (!created.ok()) return false;   // someone else created it first: try again next round
    observe(created.value());
    return true;
  }
  if (!current.ok()) return false;
  const Lease& lease = current.value();
  observe(lease);
  const auto holder = lease.holder_identity.value_or("");
  const bool mine = holder == config_.identity;
  if (!mine && !holder.empty()) {
    std::lock_guard lock(mu_);
    const auto duration = std::chrono::seconds(lease.lease_duration_seconds.value_or(ceilSeconds(config_.lease_duration)));
    if (std::chrono::steady_clock::now() < observed_at_ + duration) return false;   // held and not expired
  }
  Lease next = lease;
  next.holder_identity = config_.identity;
  next.lease_duration_seconds = ceilSeconds(config_.lease_duration);
  next.renew_time = now;
  if (!mine) {
    next.acquire_time = now;
    next.lease_transitions = lease.lease_transitions + 1;
  }
  auto updated = leases_.update(next);   // conditional on the resourceVersion we read
  if (!updated.ok()) return false;
  observe(updated.value());
  return true;
}

void LeaderElector::release() {
  Lease lease;
  {
    std::lock_guard lock(mu_);
    if (!last_lease_ || last_lease_->holder_identity.value_or("") != config_.identity) return;
    lease = *last_lease_;
  }
  lease.holder_identity.reset();
  lease.lease_duration_seconds = 1;
  lease.renew_time = nowMicroTime();
  auto released = leases_.update(lease);
  if (released.ok()) observe(released.value());
}

Status LeaderElector::run(std::stop_token stop) {
  if (auto valid = validate(config_); !valid.ok()) return valid;
  // Campaign.
  while (!stop.stop_requested()) {
    if (tryAcquireOrRenew()) break;
    if (!pause(stop, config_.retry_period)) return Done{};
  }
  if (stop.stop_requested()) return Done{};
  {
    std::lock_guard lock(mu_);
    leading_ = true;
  }
  std::stop_source leadership;
  std::jthread worker;
  if (callbacks_.on_started_leading) {
    worker = std::jthread([this, token = leadership.get_token()] { callbacks_.on_started_leading(token); });
  }
  // Renew.
  auto last_renew = std::chrono::steady_clock::now();
  while (!stop.stop_requested()) {
    if (!pause(stop, config_.retry_period)) break;
    if (tryAcquireOrRenew()) {
      last_renew = std::chrono::steady_clock::now();
      continue;
    }
    if (std::chrono::steady_clock::now() - last_renew >= config_.renew_deadline) break;   // lost it
  }
  {
    std::lock_guard lock(mu_);
    leading_ = false;
  }
  leadership.request_stop();
  if (worker.joinable()) worker.join();
  if (stop.stop_requested() && config_.release_on_stop) release();
  if (callbacks_.on_stopped_leading) callbacks_.on_stopped_leading();
  return Done{};
}

}  // namespace vnfpool::kube
