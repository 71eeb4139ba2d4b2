#include "vnfpool/asap/pool_user_side.h"

#include <algorithm>

namespace vnfpool::asap {

PoolUserSide::PoolUserSide(const PoolUserConfig& config, const Clock& clock)
    : config_(config), clock_(clock), hunt_(config.hunt_backoff, config.hunt_backoff_max) {}

void PoolUserSide::resolve(RequestId id, const std::string& pool, std::uint32_t items, std::vector<Action>& out) {
  const TimePoint now = clock_.now();
  if (items == 0) items = config_.default_items;
  if (config_.cache_lifetime.count() > 0) {
    auto it = cache_.find(pool);
    if (it != cache_.end() && it->second.expires > now && !it->second.pes.empty()) {
      // Served from the cache, rotated so that PUs sharing it spread over the PEs.
      CacheEntry& c = it->second;
      const std::size_t n = items == 0 ? c.pes.size() : std::min<std::size_t>(items, c.pes.size());
      Resolved r{id, pool, {}, 0, true};
      for (std::size_t i = 0; i < n; ++i) r.pes.push_back(c.pes[(c.next + i) % c.pes.size()]);
      c.next = (c.next + 1) % c.pes.size();
      ++stats_.resolutions;
      ++stats_.cache_hits;
      out.emplace_back(std::move(r));
      return;
    }
  }
  pending_.push_back(Pending{id, pool, items, now + config_.request_timeout, false});
  if (conn_ != kNoConn) {
    send(pending_.back(), out);
  } else {
    hunt(out);
  }
  armTimers(out);
}

void PoolUserSide::reportUnreachable(const std::string& pool, wire::PeId pe, std::vector<Action>& out) {
  auto it = cache_.find(pool);
  if (it != cache_.end()) {
    auto& pes = it->second.pes;
    pes.erase(std::remove_if(pes.begin(), pes.end(), [&](const wire::PoolElement& e) { return e.id == pe; }), pes.end());
  }
  if (conn_ == kNoConn) return;  // nobody to tell; the next resolution asks afresh anyway
  out.emplace_back(Send{conn_, wire::asap::EndpointUnreachable{pool, pe}});
  ++stats_.unreachable_reports;
}

void PoolUserSide::handle(const Connected& event, std::vector<Action>& out) {
  if (event.info.inbound) return;
  if (!hunt_.requested() || conn_ != kNoConn) {
    out.emplace_back(Close{event.info.id});
    return;
  }
  hunt_.succeeded();
  conn_ = event.info.id;
  for (auto& p : pending_)
    if (!p.sent) send(p, out);
}

void PoolUserSide::handle(const Disconnected& event, std::vector<Action>& out) {
  if (event.conn == conn_) {
    conn_ = kNoConn;
    for (auto& p : pending_) p.sent = false;  // asked again on the next registrar
    if (!pending_.empty()) hunt(out);
    return;
  }
  if (hunt_.requested() && conn_ == kNoConn) {
    out.emplace_back(Arm{kHuntTimer, clock_.now() + hunt_.failed()});
  }
}

void PoolUserSide::handle(const Received& event, std::vector<Action>& out) {
  const auto* m = std::get_if<wire::asap::HandleResolutionResponse>(&event.message);
  if (m == nullptr || event.from != conn_) return;
  // Answers come in request order; match the oldest request sent for this pool.
  auto it = std::find_if(pending_.begin(), pending_.end(),
                         [&](const Pending& p) { return p.sent && p.pool == m->pool_handle; });
  if (it == pending_.end()) return;
  Pending p = std::move(*it);
  pending_.erase(it);
  if (m->error || m->pes.empty()) {
    fail(p, m->error ? m->error->firstCode() : static_cast<std::uint16_t>(wire::Cause::UnknownPoolHandle), out);
  } else {
    if (config_.cache_lifetime.count() > 0) cache_[p.pool] = CacheEntry{m->pes, clock_.now() + config_.cache_lifetime, 0};
    ++stats_.resolutions;
    out.emplace_back(Resolved{p.id, p.pool, m->pes, 0, false});
  }
  armTimers(out);
}

void PoolUserSide::handle(const Expired& event, std::vector<Action>& out) {
  const TimePoint now = clock_.now();
  if (event.timer == kHuntTimer) {
    if (conn_ == kNoConn && !pending_.empty()) hunt(out);
    return;
  }
  if (event.timer != kRequestTimer) return;
  armed_request_.reset();
  bool timed_out_on_registrar = false;
  while (!pending_.empty() && pending_.front().deadline <= now) {
    Pending p = std::move(pending_.front());
    pending_.pop_front();
    timed_out_on_registrar |= p.sent;
    fail(p, static_cast<std::uint16_t>(wire::Cause::LackOfResources), out);
  }
  if (timed_out_on_registrar && conn_ != kNoConn) {
    // The registrar stopped answering: drop it (RSPLIB aborts the association) and find another.
    out.emplace_back(Close{conn_});
    conn_ = kNoConn;
    for (auto& p : pending_) p.sent = false;
    if (!pending_.empty()) hunt(out);
  }
  armTimers(out);
}

void PoolUserSide::send(Pending& p, std::vector<Action>& out) {
  wire::asap::HandleResolution m;
  if (config_.send_ng_capabilities) m.ng_caps = wire::NgCapabilities{};
  m.pool_handle = p.pool;
  m.items = p.items;  // always sent (ng rule); 0 lets the registrar choose
  out.emplace_back(Send{conn_, std::move(m)});
  p.sent = true;
}

void PoolUserSide::fail(Pending& p, std::uint16_t cause, std::vector<Action>& out) {
  ++stats_.failures;
  out.emplace_back(Resolved{p.id, p.pool, {}, cause, false});
}

void PoolUserSide::armTimers(std::vector<Action>& out) {
  // Requests are queued in order with equal timeouts, so the front has the earliest deadline.
  if (pending_.empty()) {
    if (armed_request_) out.emplace_back(Disarm{kRequestTimer});
    armed_request_.reset();
    return;
  }
  if (armed_request_ != pending_.front().deadline) {
    armed_request_ = pending_.front().deadline;
    out.emplace_back(Arm{kRequestTimer, *armed_request_});
  }
}

void PoolUserSide::hunt(std::vector<Action>& out) {
  if (!hunt_.begin()) return;
  ++stats_.hunts;
  out.emplace_back(StartHunt{});
}

}  // namespace vnfpool::asap
