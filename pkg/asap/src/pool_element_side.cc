#include "vnfpool/asap/pool_element_side.h"

#include <algorithm>

namespace vnfpool::asap {

PoolElementSide::PoolElementSide(const PoolElementConfig& config, const Clock& clock)
    : config_(config), clock_(clock), hunt_(config.hunt_backoff, config.hunt_backoff_max) {}

bool PoolElementSide::registered(const std::string& pool, wire::PeId pe) const {
  auto it = pes_.find(Key{pool, pe});
  return it != pes_.end() && it->second.registered;
}

void PoolElementSide::add(const std::string& pool, const wire::PoolElement& pe, std::vector<Action>& out) {
  const Key key{pool, pe.id};
  Entry& entry = pes_[key];
  entry.pe = pe;
  if (home_ == kNoConn) {
    hunt(out);
    return;
  }
  // Registered already: this is a re-registration with new values (RFC 5352: same PE ID).
  sendRegistration(key, entry, out);
  if (pes_.size() == 1) armReregistration(out);
}

bool PoolElementSide::remove(const std::string& pool, wire::PeId pe, std::vector<Action>& out) {
  auto it = pes_.find(Key{pool, pe});
  if (it == pes_.end()) return false;
  if (home_ != kNoConn) {
    out.emplace_back(Send{home_, wire::asap::Deregistration{pool, pe}});
    ++outstanding_;
    armRequestTimer(out);
  }
  pes_.erase(it);
  if (pes_.empty()) out.emplace_back(Disarm{kReregisterTimer});
  return true;
}

void PoolElementSide::removeAll(std::vector<Action>& out) {
  while (!pes_.empty()) {
    const Key key = pes_.begin()->first;
    remove(key.first, key.second, out);
  }
}

void PoolElementSide::handle(const Connected& event, std::vector<Action>& out) {
  if (event.info.inbound) {
    // A registrar reaching us (takeover, suggestion): it becomes home with its Keep-Alive (H=1). A few
    // at a time: more are closed at once.
    if (inbound_.size() >= kMaxInbound) {
      out.emplace_back(Close{event.info.id});
      return;
    }
    inbound_.insert(event.info.id);
    return;
  }
  if (!hunt_.requested() || home_ != kNoConn) {
    out.emplace_back(Close{event.info.id});  // a connection we no longer need
    return;
  }
  hunt_.succeeded();
  home_ = event.info.id;
  home_pr_ = 0;
  registerAll(out);
  armReregistration(out);
}

void PoolElementSide::handle(const Disconnected& event, std::vector<Action>& out) {
  if (inbound_.erase(event.conn) > 0 && event.conn != home_) return;  // no hunt attempt of ours
  if (event.conn == home_) {
    lost(out);
    return;
  }
  if (hunt_.requested() && home_ == kNoConn) {
    // The attempt failed (refused, timed out, resolved to nothing): try again after a pause that grows.
    out.emplace_back(Arm{kHuntTimer, clock_.now() + hunt_.failed()});
  }
}

void PoolElementSide::handle(const Received& event, std::vector<Action>& out) {
  if (const auto* m = std::get_if<wire::asap::RegistrationResponse>(&event.message)) {
    if (event.from != home_) return;
    if (m->ng_caps && m->ng_caps->sender_id != 0) home_pr_ = m->ng_caps->sender_id;
    auto it = pes_.find(Key{m->pool_handle, m->pe_id});
    if (outstanding_ > 0) --outstanding_;
    if (outstanding_ == 0) {
      request_deadline_.reset();
      out.emplace_back(Disarm{kRequestTimer});
    }
    if (it == pes_.end() || !it->second.pending) return;
    it->second.pending = false;
    if (m->reject) {
      ++stats_.registrations_refused;
      out.emplace_back(PeRefused{m->pool_handle, m->pe_id, m->error ? m->error->firstCode() : std::uint16_t{0}});
      pes_.erase(it);  // retrying the same values would be refused again; the owner decides
      return;
    }
    ++stats_.registrations_accepted;
    it->second.registered = true;
    out.emplace_back(PeRegistered{m->pool_handle, m->pe_id, home_pr_});
  } else if (std::holds_alternative<wire::asap::DeregistrationResponse>(event.message)) {
    if (event.from != home_) return;
    if (outstanding_ > 0) --outstanding_;
    if (outstanding_ == 0) {
      request_deadline_.reset();
      out.emplace_back(Disarm{kRequestTimer});
    }
  } else if (const auto* k = std::get_if<wire::asap::EndpointKeepAlive>(&event.message)) {
    // H=1 counts only when it names a PE of ours (its pool, and its ID when the message has one).
    const bool ours = std::any_of(pes_.begin(), pes_.end(), [&](const auto& e) {
      return e.first.first == k->pool_handle && (!k->pe_id || *k->pe_id == e.first.second);
    });
    if (!ours && event.from != home_) {
      if (inbound_.erase(event.from) > 0) out.emplace_back(Close{event.from});
      return;
    }
    if (k->home && event.from != home_) {
      // RFC 5352 / digest 7.3: "I am your home registrar now" on a new connection (takeover, takeover
      // suggestion): move there and let the old registrar go.
      const ConnId old = home_;
      home_ = event.from;
      hunt_.cancel();
      ++stats_.home_changes;
      if (old != kNoConn) out.emplace_back(Close{old});
      outstanding_ = 0;
      request_deadline_.reset();
      out.emplace_back(Disarm{kRequestTimer});
      for (auto& [key, entry] : pes_) {
        entry.registered = true;
        entry.pending = false;
      }
      home_pr_ = k->server_id;
      out.emplace_back(HomeChanged{home_pr_, home_});
      armReregistration(out);
    } else if (event.from == home_) {
      home_pr_ = k->server_id;
    }
    // Ack the PE asked about, or (no PE ID, as the RFC's keep-alive has none) every PE of that pool.
    for (const auto& [key, entry] : pes_) {
      if (key.first != k->pool_handle || (k->pe_id && *k->pe_id != key.second)) continue;
      out.emplace_back(Send{event.from, wire::asap::EndpointKeepAliveAck{key.first, key.second}});
      ++stats_.keep_alives_answered;
    }
  }
}

void PoolElementSide::handle(const Expired& event, std::vector<Action>& out) {
  const TimePoint now = clock_.now();
  if (event.timer == kHuntTimer) {
    if (home_ == kNoConn && !pes_.empty()) hunt(out);
  } else if (event.timer == kRequestTimer) {
    if (!request_deadline_ || now < *request_deadline_ || outstanding_ == 0) return;
    // No answer: RSPLIB aborts the association and hunts; so do we.
    ++stats_.request_timeouts;
    if (home_ != kNoConn) out.emplace_back(Close{home_});
    lost(out);
  } else if (event.timer == kReregisterTimer) {
    if (home_ == kNoConn) return;
    registerAll(out);
    armReregistration(out);
  }
}

void PoolElementSide::registerAll(std::vector<Action>& out) {
  for (auto& [key, entry] : pes_) sendRegistration(key, entry, out);
}

void PoolElementSide::sendRegistration(const Key& key, Entry& entry, std::vector<Action>& out) {
  wire::asap::Registration m;
  if (config_.send_ng_capabilities) {
    m.ng_caps = wire::NgCapabilities{};
    m.ng_caps->sender_id = entry.pe.id;
    // Announced only while every PE here has one ID: a takeover or suggestion is made per PE ID, but it
    // moves the one connection all of them share, so PEs of several IDs would be moved back and forth.
    const bool one_id = std::all_of(pes_.begin(), pes_.end(), [&](const auto& e) { return e.first.second == entry.pe.id; });
    if (config_.asap_endpoint && one_id) m.ng_caps->endpoints.push_back(*config_.asap_endpoint);
  }
  m.pool_handle = key.first;
  m.pe = entry.pe;
  m.pe.home_pr = home_pr_;
  out.emplace_back(Send{home_, std::move(m)});
  entry.pending = true;
  ++outstanding_;
  ++stats_.registrations_sent;
  armRequestTimer(out);
}

void PoolElementSide::armRequestTimer(std::vector<Action>& out) {
  if (request_deadline_) return;  // the oldest outstanding request decides
  request_deadline_ = clock_.now() + config_.request_timeout;
  out.emplace_back(Arm{kRequestTimer, *request_deadline_});
}

Duration PoolElementSide::reregistrationInterval() const {
  if (config_.reregistration_interval.count() > 0) return config_.reregistration_interval;
  std::uint32_t life = 0;
  for (const auto& [key, entry] : pes_)
    life = life == 0 ? entry.pe.registration_life_ms : std::min(life, entry.pe.registration_life_ms);
  return std::max(Duration{std::chrono::milliseconds(life / 3)}, Duration{std::chrono::milliseconds(10)});
}

void PoolElementSide::armReregistration(std::vector<Action>& out) {
  if (pes_.empty()) return;
  out.emplace_back(Arm{kReregisterTimer, clock_.now() + reregistrationInterval()});
}

void PoolElementSide::hunt(std::vector<Action>& out) {
  if (!hunt_.begin()) return;
  ++stats_.hunts;
  out.emplace_back(StartHunt{});
}

void PoolElementSide::lost(std::vector<Action>& out) {
  home_ = kNoConn;
  home_pr_ = 0;
  outstanding_ = 0;
  request_deadline_.reset();
  for (auto& [key, entry] : pes_) {
    entry.registered = false;
    entry.pending = false;
  }
  out.emplace_back(Disarm{kRequestTimer});
  out.emplace_back(Disarm{kReregisterTimer});
  if (!pes_.empty()) hunt(out);
}

}  // namespace vnfpool::asap
