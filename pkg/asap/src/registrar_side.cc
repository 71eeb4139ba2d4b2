#include "vnfpool/asap/registrar_side.h"

#include <algorithm>
#include <functional>

#include "vnfpool/wire/codec.h"

namespace vnfpool::asap {
namespace {

using wire::Cause;

bool allZero(const wire::IpAddress& a, std::size_t n) {
  return std::all_of(a.bytes.begin(), a.bytes.begin() + static_cast<long>(n), [](std::uint8_t b) { return b == 0; });
}

/// The scope of a unicast address, or nullopt for addresses no PE may register (unspecified, multicast,
/// broadcast).
std::optional<AddressScope> scopeOf(const wire::IpAddress& a) {
  const auto& b = a.bytes;
  if (a.isV4()) {
    if (allZero(a, 4) || b[0] >= 224) return std::nullopt;  // 0.0.0.0, multicast, reserved, broadcast
    if (b[0] == 127) return AddressScope::Loopback;
    if (b[0] == 10 || (b[0] == 172 && (b[1] & 0xF0) == 16) || (b[0] == 192 && b[1] == 168) ||
        (b[0] == 169 && b[1] == 254)) {
      return AddressScope::SiteLocal;
    }
    return AddressScope::Global;
  }
  if (allZero(a, 16) || b[0] == 0xFF) return std::nullopt;  // :: and multicast
  if (allZero(a, 15) && b[15] == 1) return AddressScope::Loopback;
  if (b[0] == 0xFE && (b[1] & 0xC0) == 0x80) return AddressScope::Loopback;  // link-local: below site-local
  if ((b[0] & 0xFE) == 0xFC || (b[0] == 0xFE && (b[1] & 0xC0) == 0xC0)) return AddressScope::SiteLocal;
  return AddressScope::Global;
}

/// The ASAP endpoint a PE announced in its NG Capabilities (the first TCP or MPTCP transport with a
/// port): its protocol and port, at the address(es) the registration came from. Announced addresses are
/// not used, so that a registration cannot make this registrar connect to some other host.
std::optional<wire::Transport> announcedEndpoint(const wire::asap::Registration& m, const wire::Transport& peer) {
  if (!m.ng_caps || peer.addresses.empty()) return std::nullopt;
  for (const auto& t : m.ng_caps->endpoints) {
    if ((t.kind != wire::TransportKind::Tcp && t.kind != wire::TransportKind::Mptcp) || t.port == 0) continue;
    wire::Transport endpoint;
    endpoint.kind = t.kind;
    endpoint.port = t.port;
    endpoint.use = t.use;
    endpoint.addresses = peer.addresses;
    return endpoint;
  }
  return std::nullopt;
}

wire::NgCapabilities ourCapabilities(wire::PrId id) {
  wire::NgCapabilities caps;
  caps.features = wire::features::kMandatory | wire::features::kTcp | wire::features::kMptcp;
  caps.sender_id = id;
  return caps;
}

}  // namespace

std::size_t RegistrarSide::PeKeyHash::operator()(const PeKey& k) const noexcept {
  return std::hash<std::string>{}(k.pool) ^ (std::hash<std::uint64_t>{}(k.pe) * 0x9E3779B97F4A7C15ull);
}

bool RegistrarSide::TokenBucket::take(double rate, TimePoint now) {
  if (rate <= 0) return true;
  const double elapsed = std::chrono::duration<double>(now - last).count();
  tokens = std::min(rate, tokens + elapsed * rate);  // a bucket of one second's worth
  last = now;
  if (tokens < 1.0) return false;
  tokens -= 1.0;
  return true;
}

RegistrarSide::RegistrarSide(const RegistrarConfig& config, handlespace::Handlespace& hs, const Clock& clock)
    : config_(config), hs_(hs), clock_(clock), rng_(config.seed) {}

void RegistrarSide::handle(const Connected& event, std::vector<Action>&) {
  Connection c;
  c.info = event.info;
  const TimePoint now = clock_.now();
  c.resolutions = {config_.max_handle_resolution_rate, now};
  c.reports = {config_.max_endpoint_unreachable_rate, now};
  connections_[event.info.id] = std::move(c);
}

void RegistrarSide::handle(const Disconnected& event, std::vector<Action>& out) {
  // Association loss: every PE registered on this connection goes at once (digest 7.1, RSPLIB).
  const auto removed = hs_.removeConnection(event.conn);
  for (const auto& r : removed) forget(PeKey{r.pool, r.pe});
  if (!removed.empty()) {
    ++stats_.connection_losses;
    stats_.pes_removed_by_connection_loss += removed.size();
  }
  connections_.erase(event.conn);
  rearm(out);
}

void RegistrarSide::handle(const Received& event, std::vector<Action>& out) {
  auto it = connections_.find(event.from);
  if (it == connections_.end()) return;  // a late message from a connection already gone
  Connection& conn = it->second;
  std::visit(
      [&](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, wire::asap::Registration>) {
          registration(conn, m, out);
        } else if constexpr (std::is_same_v<T, wire::asap::Deregistration>) {
          deregistration(conn, m, out);
        } else if constexpr (std::is_same_v<T, wire::asap::HandleResolution>) {
          resolution(conn, wire::asap::HandleResolutionView(m), out);
        } else if constexpr (std::is_same_v<T, wire::asap::EndpointKeepAliveAck>) {
          keepAliveAck(conn, m, out);
        } else if constexpr (std::is_same_v<T, wire::asap::EndpointUnreachable>) {
          unreachable(conn, m, out);
        } else {
          // Responses, keep-alives, announces, cookies, business cards and errors are not for a registrar.
          ++stats_.ignored_messages;
        }
      },
      event.message);
}

void RegistrarSide::handle(const ReceivedResolution& event, std::vector<Action>& out) {
  auto it = connections_.find(event.from);
  if (it == connections_.end()) return;  // a late message from a connection already gone
  resolution(it->second, event.message, out);
}

void RegistrarSide::handle(const Malformed& event, std::vector<Action>& out) {
  if (!connections_.contains(event.from)) return;
  if (!event.error.report) return;  // the parameter's action bits say: discard silently
  if (event.error.cause == Cause::UnrecognizedMessage && !config_.report_unrecognized_messages) return;
  sendError(event.from, event.error.cause, event.error.offending, out);
}

void RegistrarSide::handle(const Expired& event, std::vector<Action>& out) {
  if (event.timer != kKeepAliveTimer) return;
  armed_.reset();
  const TimePoint now = clock_.now();
  while (!deadlines_.empty() && deadlines_.top().at <= now) {
    const Deadline d = deadlines_.top();
    deadlines_.pop();
    auto it = monitors_.find(d.key);
    if (it == monitors_.end() || it->second.generation != d.generation) continue;  // superseded
    Monitor& m = it->second;
    if (!m.awaiting_ack) {
      // RFC 5352: the home PR probes its PE; the PE answers with a Keep-Alive Ack.
      out.emplace_back(Send{m.conn, wire::asap::EndpointKeepAlive{false, config_.pr_id, d.key.pool, d.key.pe}});
      ++stats_.keep_alives_sent;
      monitor(d.key, m.conn, now + config_.keep_alive_timeout, true, out);
    } else {
      hs_.deregisterPe(d.key.pool, d.key.pe);
      forget(d.key);
      ++stats_.keep_alive_timeouts;
    }
  }
  rearm(out);
}

std::optional<wire::Error> RegistrarSide::checkAddresses(const wire::Transport& t) const {
  if (t.port == 0) return wire::Error{Cause::InvalidValues, 0, {}, true, "user transport port 0"};
  if (t.addresses.empty()) return wire::Error{Cause::InvalidValues, 0, {}, true, "no user transport address"};
  for (const auto& a : t.addresses) {
    auto scope = scopeOf(a);
    if (!scope) return wire::Error{Cause::InvalidValues, 0, {}, true, "address " + a.toString() + " is not unicast"};
    if (*scope < config_.min_address_scope) {
      return wire::Error{Cause::InvalidValues, 0, {}, true,
                         "address " + a.toString() + " is below the minimum address scope"};
    }
  }
  return std::nullopt;
}

void RegistrarSide::registration(Connection& conn, const wire::asap::Registration& m, std::vector<Action>& out) {
  const TimePoint now = clock_.now();
  wire::PoolElement pe = m.pe;
  auto reject = [&](const wire::Error& error) {
    const auto cause = static_cast<std::uint16_t>(error.cause);
    ++stats_.rejections_by_cause[cause];
    // The cause information RFC 5354 3.10 asks for: the offending policy or transport, or parameter.
    wire::Bytes info = error.offending;
    if (error.cause == Cause::PolicyInconsistent) {
      info = wire::encodePolicyParameter(m.pe.policy);
    } else if (error.cause == Cause::InconsistentTransportType) {
      auto t = wire::encodeTransportParameter(m.pe.user_transport, conn.info.dialect);
      if (t.ok()) info = t.value();
    }
    std::optional<wire::NgCapabilities> caps;
    if (m.ng_caps) caps = ourCapabilities(config_.pr_id);
    out.emplace_back(Send{conn.info.id, wire::asap::RegistrationResponse{true, caps, m.pool_handle, m.pe.id,
                                                                         wire::OperationalError::of(error.cause, info)}});
  };

  if (auto e = checkAddresses(pe.user_transport)) return reject(*e);
  pe.home_pr = config_.pr_id;
  pe.registration_life_ms =
      std::clamp(pe.registration_life_ms, config_.min_registration_life_ms, config_.max_registration_life_ms);
  // The PE's ASAP endpoint, where a takeover PR contacts it: the listening port it announced (ng), else
  // where its registration came from (RSPLIB does the same with the association's addresses; a TCP
  // client's port is only reachable while that connection lives).
  // Announcements count in ng only: a takeover PR adopts TCP/MPTCP PEs in the ng dialect.
  if (auto announced = conn.info.dialect == wire::Dialect::Ng ? announcedEndpoint(m, conn.info.peer) : std::nullopt) {
    pe.asap_transport = std::move(*announced);
  } else if (!conn.info.peer.addresses.empty()) {
    pe.asap_transport = conn.info.peer;
  } else {
    pe.asap_transport.reset();
  }

  // A PE ID is unique within a pool: the same ID from another live connection of ours is a different PE.
  // (RSPLIB overwrites instead; the RFC has a cause for it, and two sidecars with one ID are a bug worth
  // hearing about.) A PE coming back on a new connection after its old one died is a re-registration.
  if (auto existing = hs_.find(m.pool_handle, pe.id)) {
    const auto view = hs_.view(*existing);
    if (view.homePr() == config_.pr_id && view.connection() != conn.info.id &&
        connections_.contains(view.connection())) {
      return reject(wire::Error{Cause::NonUniquePeIdentifier, 0, {}, true, "PE identifier in use by another PE"});
    }
  }

  auto registered = hs_.registerPe(m.pool_handle, pe, {conn.info.id, handlespace::kNever}, now);
  if (!registered.ok()) return reject(registered.error());
  if (registered.value().added) {
    ++stats_.registrations;
  } else {
    ++stats_.reregistrations;
  }
  const PeKey key{m.pool_handle, pe.id};
  bad_reports_.erase(key);
  monitor(key, conn.info.id, now + config_.keep_alive_interval, false, out);
  std::optional<wire::NgCapabilities> caps;
  if (m.ng_caps) caps = ourCapabilities(config_.pr_id);
  out.emplace_back(Send{conn.info.id, wire::asap::RegistrationResponse{false, caps, m.pool_handle, pe.id, std::nullopt}});
  rearm(out);
}

void RegistrarSide::deregistration(Connection& conn, const wire::asap::Deregistration& m, std::vector<Action>& out) {
  if (hs_.deregisterPe(m.pool_handle, m.pe_id)) {
    forget(PeKey{m.pool_handle, m.pe_id});
    ++stats_.deregistrations;
  }
  // Answered with success also for an unknown PE: the PE's goal, not being registered, holds (RSPLIB too).
  out.emplace_back(Send{conn.info.id, wire::asap::DeregistrationResponse{m.pool_handle, m.pe_id, std::nullopt}});
  rearm(out);
}

void RegistrarSide::resolution(Connection& conn, const wire::asap::HandleResolutionView& m, std::vector<Action>& out) {
  // The structured answer; not built at all when the answer is encoded from cached parameters.
  auto response = [&] {
    wire::asap::HandleResolutionResponse r;
    r.pool_handle = m.pool_handle;
    if (m.ng_caps) r.ng_caps = ourCapabilities(config_.pr_id);
    return r;
  };
  // The clock is read only when there is a limit (a clock read is a visible share of a resolution's cost).
  if (config_.max_handle_resolution_rate > 0 &&
      !conn.resolutions.take(config_.max_handle_resolution_rate, clock_.now())) {
    ++stats_.resolutions_rate_limited;
    auto refusal = response();
    refusal.error = wire::OperationalError::of(Cause::UnknownPoolHandle);
    out.emplace_back(Send{conn.info.id, std::move(refusal)});
    return;
  }
  // Handle Resolution Option: Items, 0 = our default, 0xFFFFFFFF = all (the handlespace caps it).
  const std::size_t items = m.items.value_or(0);
  auto picked = hs_.select(m.pool_handle, items, rng_, selected_);
  if (!picked.ok()) {
    ++stats_.resolutions_unknown_pool;
    auto refusal = response();
    refusal.error = wire::OperationalError::of(picked.error().cause);
    out.emplace_back(Send{conn.info.id, std::move(refusal)});
    return;
  }
  ++stats_.resolutions;
  if (config_.encode_resolution_answers && encodeAnswer(conn, m)) {
    out.emplace_back(SendBytes{conn.info.id, answer_});
    return;
  }
  auto answer = response();
  answer.pes.reserve(selected_.size());
  for (const auto ref : selected_) {
    auto& pe = answer.pes.emplace_back(hs_.view(ref).poolElement());
    pe.asap_transport.reset();  // not part of a resolution answer (digest 6.6)
  }
  // RSPLIB's PUs need the pool policy right after the handle; it is the first PE's policy parameter.
  if (!answer.pes.empty()) {
    answer.overall_policy = answer.pes.front().policy;
  } else if (auto type = hs_.poolPolicy(m.pool_handle)) {
    answer.overall_policy = wire::Policy::make(static_cast<wire::PolicyType>(*type));
  }
  out.emplace_back(Send{conn.info.id, std::move(answer)});
  // A selection never changes a deadline: nothing to re-arm.
}

bool RegistrarSide::encodeAnswer(const Connection& conn, const wire::asap::HandleResolutionView& m) {
  // The answer is encoded without its PEs by the codec, then the PEs' cached parameters are appended and the
  // header's length field (bytes 2-3, big-endian; PE parameters are the message's last parameters and keep
  // 4-byte alignment) is set to the total. A test checks these bytes against the codec's own encoding of
  // the full answer.
  const wire::Dialect dialect = conn.info.dialect;
  parameters_.clear();
  std::size_t pes_bytes = 0;
  for (const auto ref : selected_) {
    const auto parameter = hs_.resolutionParameter(ref, dialect);
    if (parameter.empty()) return false;  // not encodable in this dialect: the codec path reports it
    parameters_.push_back(parameter);
    pes_bytes += parameter.size();
  }
  // RSPLIB's PUs need the pool policy right after the handle; it is the first PE's policy parameter.
  std::optional<wire::Policy> policy;
  if (!selected_.empty()) {
    policy = hs_.view(selected_.front()).policy();
  } else if (auto type = hs_.poolPolicy(m.pool_handle)) {
    policy = wire::Policy::make(static_cast<wire::PolicyType>(*type));
  }
  // The head depends only on these four; a run of answers from one pool (round robin, or unchanged values)
  // reuses the last one's bytes instead of encoding them again.
  const bool caps = m.ng_caps.has_value();
  if (!head_.valid || head_.dialect != dialect || head_.caps != caps || head_.policy != policy ||
      head_.pool_handle != m.pool_handle) {
    head_.valid = false;
    auto& head = std::get<wire::asap::HandleResolutionResponse>(answer_head_);
    head.pool_handle.assign(m.pool_handle);
    if (caps) {
      head.ng_caps = ourCapabilities(config_.pr_id);
    } else {
      head.ng_caps.reset();
    }
    head.overall_policy = policy;
    head_.bytes.clear();
    auto encoded = wire::encodeTo(answer_head_, dialect, head_.bytes);
    if (!encoded.ok() || head_.bytes.size() < 4) return false;
    head_.dialect = dialect;
    head_.caps = caps;
    head_.policy = policy;
    head_.pool_handle.assign(m.pool_handle);
    head_.valid = true;
  }
  if (head_.bytes.size() + pes_bytes > 0xFFFF) return false;
  answer_.assign(head_.bytes.begin(), head_.bytes.end());
  for (const auto parameter : parameters_) answer_.insert(answer_.end(), parameter.begin(), parameter.end());
  const std::size_t length = answer_.size();
  answer_[2] = static_cast<std::byte>(length >> 8);
  answer_[3] = static_cast<std::byte>(length & 0xFF);
  return true;
}

void RegistrarSide::keepAliveAck(Connection& conn, const wire::asap::EndpointKeepAliveAck& m,
                                 std::vector<Action>& out) {
  const PeKey key{m.pool_handle, m.pe_id};
  auto it = monitors_.find(key);
  if (it == monitors_.end()) return;  // not ours or gone: ignore (RSPLIB PEs ack PEs we never asked about)
  ++stats_.keep_alive_acks;
  monitor(key, conn.info.id, clock_.now() + config_.keep_alive_interval, false, out);
  rearm(out);
}

void RegistrarSide::unreachable(Connection& conn, const wire::asap::EndpointUnreachable& m, std::vector<Action>& out) {
  if (!conn.reports.take(config_.max_endpoint_unreachable_rate, clock_.now())) {
    ++stats_.unreachable_rate_limited;
    return;
  }
  ++stats_.unreachable_reports;
  if (!hs_.contains(m.pool_handle, m.pe_id)) return;
  const PeKey key{m.pool_handle, m.pe_id};
  // RFC 5352 MAX-BAD-PE-REPORT: the counter lives in this PR, is not reset by reports, and goes with the entry.
  if (++bad_reports_[key] < config_.max_bad_pe_reports) return;
  hs_.deregisterPe(m.pool_handle, m.pe_id);
  forget(key);
  ++stats_.unreachable_removals;
  rearm(out);
}

bool RegistrarSide::removePe(std::string_view pool, wire::PeId pe, std::vector<Action>& out) {
  if (!hs_.deregisterPe(pool, pe)) return false;
  forget(PeKey{std::string(pool), pe});
  rearm(out);
  return true;
}

void RegistrarSide::adoptPe(std::string_view pool, wire::PeId pe, ConnId conn, std::vector<Action>& out) {
  auto ref = hs_.find(pool, pe);
  if (!ref) return;
  wire::PoolElement element = hs_.view(*ref).poolElement();
  element.home_pr = config_.pr_id;
  // Re-recorded with this connection, so losing it counts as association loss like a registration's.
  if (!hs_.registerPe(pool, element, {conn, handlespace::kNever}, clock_.now()).ok()) return;
  const PeKey key{std::string(pool), pe};
  out.emplace_back(Send{conn, wire::asap::EndpointKeepAlive{true, config_.pr_id, key.pool, pe}});
  ++stats_.keep_alives_sent;
  monitor(key, conn, clock_.now() + config_.keep_alive_timeout, true, out);
  rearm(out);
}

void RegistrarSide::sendError(ConnId to, Cause cause, wire::Bytes info, std::vector<Action>& out) {
  ++stats_.errors_by_cause[static_cast<std::uint16_t>(cause)];
  out.emplace_back(Send{to, wire::asap::Error{wire::OperationalError::of(cause, std::move(info))}});
}

void RegistrarSide::monitor(const PeKey& key, ConnId conn, TimePoint at, bool awaiting_ack, std::vector<Action>&) {
  Monitor& m = monitors_[key];
  m.conn = conn;
  m.deadline = at;
  m.awaiting_ack = awaiting_ack;
  m.generation = ++generation_;
  deadlines_.push(Deadline{at, m.generation, key});
}

void RegistrarSide::forget(const PeKey& key) {
  monitors_.erase(key);  // its deadlines in the heap become stale and are skipped
  bad_reports_.erase(key);
}

void RegistrarSide::rearm(std::vector<Action>& out) {
  // Drop superseded deadlines at the top so the one timer is armed for a real one.
  while (!deadlines_.empty()) {
    const Deadline& top = deadlines_.top();
    auto it = monitors_.find(top.key);
    if (it != monitors_.end() && it->second.generation == top.generation) break;
    deadlines_.pop();
  }
  if (deadlines_.empty()) {
    if (armed_) out.emplace_back(Disarm{kKeepAliveTimer});
    armed_.reset();
    return;
  }
  const TimePoint at = deadlines_.top().at;
  if (armed_ != at) {
    out.emplace_back(Arm{kKeepAliveTimer, at});
    armed_ = at;
  }
}

}  // namespace vnfpool::asap
