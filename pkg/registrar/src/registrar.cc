#include "vnfpool/registrar/registrar.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <new>
#include <random>
#include <set>
#include <unordered_map>

#include <boost/asio/post.hpp>

#include "admin_service.h"
#include "enrp_node.h"
#include "vnfpool/observe/endpoints.h"
#include "vnfpool/observe/http_server.h"
#include "vnfpool/transport/timer_set.h"
#include "vnfpool/wire/codec.h"

namespace vnfpool::registrar {
namespace {

/// The loop's clock for the engines.
struct SteadyClock final : handlespace::Clock {
  handlespace::TimePoint now() const override {
    return std::chrono::time_point_cast<handlespace::Duration>(std::chrono::steady_clock::now());
  }
};

}  // namespace

class Registrar::Impl {
 public:
  Impl(Registrar& self, boost::asio::io_context& loop, Options options, const observe::Logger& log,
       observe::Metrics& metrics, observe::Health& health)
      : self_(self),
        loop_(loop),
        options_(std::move(options)),
        log_(log),
        metrics_(metrics),
        health_(health),
        hs_(handlespaceConfig(options_)),
        engine_(engineConfig(options_), hs_, clock_),
        transport_(loop, handlers(), transportOptions()),
        timers_(loop, [this](transport::TimerKey key) { feed(asap::Expired{key}); }) {
    declareMetrics();
  }

  std::optional<std::string> start() {
    health_.setCondition("listening", false, "starting");
    // Before anything is served: the fresh memory of a big handlespace is written now, not during the
    // ENRP start-up sync that fills it.
    if (options_.reserve_pes > 0) {
      const auto began = std::chrono::steady_clock::now();
      try {
        hs_.reserve(options_.reserve_pes);
      } catch (const std::bad_alloc&) {
        return "cannot reserve memory for " + std::to_string(options_.reserve_pes) +
               " PEs (handlespace.reserve_pes): out of memory";
      }
      const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - began);
      log_.info("reserved handlespace memory",
                {{"pes", options_.reserve_pes}, {"mib", hs_.memoryBytes() >> 20}, {"ms", took.count()}});
    }
    for (const auto& l : options_.asap) {
      transport::ListenOptions lo;
      lo.sctp_ppid = l.dialect == wire::Dialect::Ng ? wire::kPpidNgAsap : wire::kPpidAsap;
      lo.sctp_extra_addresses = l.sctp_extra_addresses;
      auto bound = transport_.listen(l.at, l.protocol, lo);
      if (!bound.ok()) {
        transport_.shutdown();
        return "cannot listen for ASAP on " + l.at.toString() + " (" + std::string(transport::protocolName(l.protocol)) +
               "): " + bound.error().message();
      }
      AsapListener actual = l;
      actual.at = bound.value().local;
      listeners_[bound.value().id] = actual;
      bound_.push_back(actual);
      log_.info("listening for ASAP",
                {{"endpoint", actual.at.toString()}, {"transport", transport::protocolName(l.protocol)},
                 {"mptcp", bound.value().mptcp_active}, {"sctp", bound.value().sctp_active}, {"dialect", actual.dialect == wire::Dialect::Ng ? "ng" : "classic"}});
    }
    if (options_.http) {
      observe::HttpServerOptions http;
      http.address = options_.http->address.to_string();
      http.port = options_.http->port;
      http_ = std::make_unique<observe::HttpServer>(loop_, http);
      // /metrics on the loop: the registrar's counters are brought up to date before each render.
      http_->route("GET", "/metrics", [this](const observe::HttpRequest&) {
        refreshMetrics();
        observe::HttpResponse r;
        r.content_type = std::string(observe::kMetricsContentType);
        r.body = metrics_.render();
        return r;
      });
      observe::serveProbes(*http_, health_);
      if (auto ec = http_->start()) {
        transport_.shutdown();
        return "cannot serve HTTP on " + options_.http->toString() + ": " + ec.message();
      }
      log_.info("serving metrics and probes", {{"port", http_->port()}});
    }
    if (!options_.admin_address.empty()) {
      admin_ = std::make_unique<AdminServer>(loop_, self_);
      auto bound = admin_->start(options_.admin_address);
      if (!bound) {
        stop();
        return "cannot serve the admin API on " + options_.admin_address;
      }
      admin_address_ = *bound;
      log_.info("serving the admin API", {{"address", admin_address_}});
    }
    if (options_.enrp) {
      EnrpNode::Hooks hooks;
      hooks.take_over = [this](const enrp::TakeOverPe& t) { takeOver(t.pool, t.pe); };
      hooks.changes = [this](std::span<const handlespace::Change> changes) { deliver(changes); };
      hooks.handled = [this] { scheduleFlush(); };
      enrp_ = std::make_unique<EnrpNode>(loop_, *options_.enrp, id(), hs_, clock_, log_, metrics_, health_,
                                         std::move(hooks));
      enrp_->recordForeignAdds(!watchers_.empty());
      if (auto failed = enrp_->start()) {
        stop();
        return failed;
      }
    }
    health_.setCondition("listening", true);
    log_.info("registrar started", {{"pr_id", id()}});
    return std::nullopt;
  }

  void stop() {
    if (stopped_) return;
    stopped_ = true;
    health_.setDraining();
    if (admin_) admin_->stop();
    if (http_) http_->stop();
    if (enrp_) enrp_->stop();
    timers_.clear();
    transport_.shutdown();
    log_.info("registrar stopped", {{"pr_id", id()}});
  }

  wire::PrId id() const { return options_.pr_id; }
  std::vector<AsapListener> asapEndpoints() const { return bound_; }
  std::string adminAddress() const { return admin_address_; }
  std::uint16_t httpPort() const { return http_ ? http_->port() : 0; }
  const handlespace::Handlespace& handlespace() const { return hs_; }
  const asap::RegistrarStats& stats() const { return engine_.stats(); }
  std::size_t connectionCount() const { return engine_.connectionCount(); }

  bool deregisterPe(const std::string& pool, wire::PeId pe) {
    actions_.clear();
    const bool removed = engine_.removePe(pool, pe, actions_);
    run();
    if (removed) {
      ++admin_removals_;
      log_.info("PE removed on request", {{"pool", pool}, {"pe_id", pe}});
    }
    scheduleFlush();
    return removed;
  }

  std::vector<HandlespaceEvent> removeByAddress(const std::string& pool, const std::vector<wire::IpAddress>& addresses) {
    std::vector<HandlespaceEvent> matched;
    auto carries = [&](const wire::PoolElement& pe) {
      for (const auto& a : pe.user_transport.addresses)
        if (std::find(addresses.begin(), addresses.end(), a) != addresses.end()) return true;
      return false;
    };
    std::vector<std::string> pools;
    if (pool.empty()) pools = hs_.poolHandles();
    else if (hs_.poolSize(pool) > 0) pools.push_back(pool);
    for (const auto& p : pools) {
      for (const auto ref : hs_.poolMembers(p)) {
        const auto view = hs_.view(ref);
        const auto element = view.poolElement();
        if (carries(element)) matched.push_back(HandlespaceEvent{HandlespaceEvent::Kind::Removed, p, view.id(), view.homePr(), std::nullopt});
      }
    }
    for (const auto& m : matched) {
      actions_.clear();
      if (engine_.removePe(m.pool, m.pe, actions_)) ++admin_removals_;
      run();
    }
    if (!matched.empty()) log_.info("PEs removed by address", {{"pool", pool}, {"count", static_cast<std::uint64_t>(matched.size())}});
    scheduleFlush();
    return matched;
  }

  std::size_t setPoolPolicy(const PoolPolicyPin& pin, bool clear) {
    if (clear) {
      pins_.erase(pin.pool);
      return 0;
    }
    pins_[pin.pool] = pin;
    std::size_t conflicting = 0;
    if (hs_.poolSize(pin.pool) > 0) {
      for (const auto ref : hs_.poolMembers(pin.pool))
        if (hs_.view(ref).policy().type != static_cast<std::uint32_t>(pin.policy)) ++conflicting;
    }
    return conflicting;
  }

  std::vector<PoolPolicyPin> poolPolicies() const {
    std::vector<PoolPolicyPin> out;
    for (const auto& [pool, pin] : pins_) out.push_back(pin);
    return out;
  }

  std::vector<enrp::PeerInfo> peers() const { return enrp_ ? enrp_->peers() : std::vector<enrp::PeerInfo>{}; }
  std::optional<transport::Endpoint> enrpEndpoint() const {
    if (!enrp_) return std::nullopt;
    return enrp_->endpoint();
  }

  std::uint64_t watch(Watcher watcher, bool snapshot) {
    const std::uint64_t id = ++next_watcher_;
    if (snapshot) {
      for (const auto& pool : hs_.poolHandles()) {
        for (const auto ref : hs_.poolMembers(pool)) {
          const auto view = hs_.view(ref);
          watcher(HandlespaceEvent{HandlespaceEvent::Kind::Added, pool, view.id(), view.homePr(), view.poolElement()});
        }
      }
      watcher(HandlespaceEvent{HandlespaceEvent::Kind::Synced, {}, 0, 0, std::nullopt});
    }
    watchers_[id] = std::move(watcher);
    // PEs learned from peers are journaled as Added only while someone watches (nothing else reads
    // those changes); a start-up sync without watchers stores its entries without them.
    if (enrp_) enrp_->recordForeignAdds(true);
    return id;
  }
  void unwatch(std::uint64_t id) {
    watchers_.erase(id);
    if (enrp_ && watchers_.empty()) enrp_->recordForeignAdds(false);
  }

  void refreshMetrics() {
    const auto& s = engine_.stats();
    auto sync = [](prometheus::Counter& c, std::uint64_t value, std::uint64_t& last) {
      if (value > last) c.Increment(static_cast<double>(value - last));
      last = value;
    };
    sync(*m_.registrations, s.registrations, last_.registrations);
    sync(*m_.reregistrations, s.reregistrations, last_.reregistrations);
    sync(*m_.deregistrations, s.deregistrations, last_.deregistrations);
    sync(*m_.resolutions_ok, s.resolutions, last_.resolutions);
    sync(*m_.resolutions_unknown, s.resolutions_unknown_pool, last_.resolutions_unknown_pool);
    sync(*m_.resolutions_limited, s.resolutions_rate_limited, last_.resolutions_rate_limited);
    sync(*m_.keep_alives, s.keep_alives_sent, last_.keep_alives_sent);
    sync(*m_.keep_alive_acks, s.keep_alive_acks, last_.keep_alive_acks);
    sync(*m_.removed_keep_alive, s.keep_alive_timeouts, last_.keep_alive_timeouts);
    sync(*m_.unreachable, s.unreachable_reports, last_.unreachable_reports);
    sync(*m_.unreachable_limited, s.unreachable_rate_limited, last_.unreachable_rate_limited);
    sync(*m_.removed_unreachable, s.unreachable_removals, last_.unreachable_removals);
    sync(*m_.removed_connection, s.pes_removed_by_connection_loss, last_.pes_removed_by_connection_loss);
    sync(*m_.removed_admin, admin_removals_, last_admin_removals_);
    sync(metrics_.counter("vnfpool_registrar_pinned_policy_refusals_total",
                          "Registrations refused because the pool's policy is pinned (Pool resource) to another"),
         policy_refusals_, last_policy_refusals_);
    for (const auto& [cause, n] : s.rejections_by_cause) {
      auto& c = metrics_.counter("vnfpool_registrar_registration_rejections_total",
                                 "Registrations refused, by RFC 5354 cause", {{"cause", wire::causeName(cause)}});
      sync(c, n, last_rejections_[cause]);
    }
    for (const auto& [cause, n] : s.errors_by_cause) {
      auto& c = metrics_.counter("vnfpool_registrar_errors_sent_total", "ASAP Error messages sent, by cause",
                                 {{"cause", wire::causeName(cause)}});
      sync(c, n, last_errors_[cause]);
    }
    m_.pools->Set(static_cast<double>(hs_.poolCount()));
    m_.pes->Set(static_cast<double>(hs_.size()));
    m_.own_pes->Set(static_cast<double>(hs_.ownerSize(id())));
    m_.connections->Set(static_cast<double>(engine_.connectionCount()));
    m_.orphaned->Set(static_cast<double>(orphanedCount()));
    refreshPoolMetrics();
    if (enrp_) enrp_->refreshMetrics();
  }

  /// PEs whose home PR is neither this registrar nor a peer it knows: those of a PR given up on and not
  /// (yet) taken over. 0 in a healthy mesh; after a PR dies it is 0 again once the takeover is complete.
  std::size_t orphanedCount() const {
    std::set<wire::PrId> live{id()};
    for (const auto& peer : peers()) live.insert(peer.id);
    std::size_t orphaned = 0;
    for (wire::PrId owner : hs_.owners())
      if (!live.contains(owner)) orphaned += hs_.ownerSize(owner);
    return orphaned;
  }

  /// The label value of a pool: the handle where it is printable ASCII, else "0x" and its bytes in hex.
  static std::string poolLabel(std::string_view handle) {
    const bool printable = !handle.empty() && std::all_of(handle.begin(), handle.end(), [](char c) {
      return c >= 0x20 && c <= 0x7e;
    });
    if (printable) return std::string(handle);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string label = "0x";
    for (char c : handle) {
      label += kHex[(static_cast<unsigned char>(c) >> 4) & 0xF];
      label += kHex[static_cast<unsigned char>(c) & 0xF];
    }
    return label;
  }

  /// Per-pool series: resolutions (counter) and members (gauge) of the first metrics_pool_series pools
  /// seen, the rest summed under pool="_other". The handlespace counts per pool record, from 0 when a pool
  /// is (re)created; a count below the last one seen means the pool came back, and all of it is new.
  void refreshPoolMetrics() {
    if (options_.metrics_pool_series == 0) return;
    auto advance = [](std::uint64_t now, std::uint64_t& last) {
      const std::uint64_t delta = now >= last ? now - last : now;
      last = now;
      return delta;
    };
    for (auto& [handle, series] : pool_series_) series.present = false;
    std::uint64_t other_new = 0;
    double other_members = 0;
    std::unordered_map<std::string, std::uint64_t> other_last;
    for (const auto& pool : hs_.poolStats()) {
      auto it = pool_series_.find(pool.handle);
      if (it == pool_series_.end() && pool_series_.size() < options_.metrics_pool_series) {
        const std::string label = poolLabel(pool.handle);
        PoolSeries fresh;
        fresh.resolutions = &metrics_.counter(kPoolResolutions, kPoolResolutionsHelp, {{"pool", label}});
        fresh.members = &metrics_.gauge(kPoolMembers, kPoolMembersHelp, {{"pool", label}});
        it = pool_series_.emplace(pool.handle, fresh).first;
      }
      if (it != pool_series_.end()) {
        it->second.present = true;
        it->second.resolutions->Increment(static_cast<double>(advance(pool.resolutions, it->second.last)));
        it->second.members->Set(static_cast<double>(pool.size));
        continue;
      }
      auto last = other_last_.find(pool.handle);
      std::uint64_t previous = last == other_last_.end() ? 0 : last->second;
      other_new += advance(pool.resolutions, previous);
      other_last.emplace(pool.handle, previous);
      other_members += static_cast<double>(pool.size);
    }
    for (auto& [handle, series] : pool_series_) {
      if (series.present) continue;
      series.members->Set(0);  // gone: its counter keeps its series, a comeback counts from 0
      series.last = 0;
    }
    other_last_ = std::move(other_last);  // only pools that still exist
    if (!other_last_.empty() || other_resolutions_ != nullptr) {
      if (other_resolutions_ == nullptr) {
        other_resolutions_ = &metrics_.counter(kPoolResolutions, kPoolResolutionsHelp, {{"pool", "_other"}});
        other_members_ = &metrics_.gauge(kPoolMembers, kPoolMembersHelp, {{"pool", "_other"}});
      }
      other_resolutions_->Increment(static_cast<double>(other_new));
      other_members_->Set(other_members);
    }
  }

 private:
  static handlespace::Config handlespaceConfig(const Options& o) {
    handlespace::setHugePages(o.huge_pages);  // before the handlespace allocates anything
    auto c = o.handlespace;
    c.record_changes = true;
    return c;
  }
  static asap::RegistrarConfig engineConfig(const Options& o) {
    auto c = o.asap_engine;
    c.pr_id = o.pr_id;
    c.encode_resolution_answers = true;  // answers copy the handlespace's cached PE parameters
    return c;
  }
  transport::Options transportOptions() {
    transport::Options t;
    t.limits = options_.limits;
    t.name = "asap";
    t.log = [this](std::string_view line) { log_.warn(line); };
    return t;
  }

  transport::Handlers handlers() {
    transport::Handlers h;
    h.accepted = [this](const transport::ConnectionInfo& info) {
      auto it = listeners_.find(info.listener);
      const wire::Dialect dialect = it == listeners_.end() ? wire::Dialect::Ng : it->second.dialect;
      dialects_[info.id] = dialect;
      asap::ConnectionInfo c;
      c.id = info.id;
      c.dialect = dialect;
      c.inbound = true;
      // The classic dialect has no MPTCP transport parameter: such PEs are recorded as TCP.
      c.peer.kind = info.sctp_active ? wire::TransportKind::Sctp
                    : info.mptcp_active && dialect == wire::Dialect::Ng ? wire::TransportKind::Mptcp
                                                                        : wire::TransportKind::Tcp;
      c.peer.port = info.peer.port;
      c.peer.addresses.push_back(transport::toWireAddress(info.peer.address));
      feed(asap::Connected{c});
    };
    h.connected = [this](const transport::ConnectionInfo& info) { adoptionConnected(info); };
    h.message = [this](transport::ConnId conn, std::span<const std::byte> bytes) { onMessage(conn, bytes); };
    h.closed = [this](transport::ConnId conn, transport::CloseReason reason, std::error_code, const wire::Error* framing) {
      if (auto it = adopting_.find(conn); it != adopting_.end()) {
        // The PE's ASAP endpoint could not be reached (see takeOver).
        log_.debug("cannot reach a PE to adopt", {{"conn", conn}, {"pes", static_cast<std::uint64_t>(it->second.size())}});
        adopting_.erase(it);
        adoptionEnded(conn, false);
        return;
      }
      if (framing != nullptr) {
        metrics_.counter("vnfpool_registrar_decode_errors_total", "Messages that could not be decoded, by cause",
                         {{"cause", wire::causeName(static_cast<std::uint16_t>(framing->cause))}})
            .Increment();
        log_.warn("closing a connection whose byte stream lost its framing",
                  {{"conn", conn}, {"detail", framing->detail}});
      }
      (void)reason;
      dialects_.erase(conn);
      feed(asap::Disconnected{conn});
    };
    return h;
  }

  void onMessage(transport::ConnId conn, std::span<const std::byte> bytes) {
    // The handling-time histogram samples one message in kTimingSample: reading the clock twice per
    // message costs more than the rest of a cheap resolution's bookkeeping.
    const bool timed = ++messages_ % kTimingSample == 0;
    const auto started = timed ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
    auto it = dialects_.find(conn);
    const wire::Dialect dialect = it == dialects_.end() ? wire::Dialect::Ng : it->second;
    wire::DecodeReport report;
    bool ok = false;  // skipped parameters are reported for a message that decoded, as before
    if (!bytes.empty() && bytes[0] == std::byte{kHandleResolutionType}) {
      // Most of a registrar's traffic: read in place, no AsapMessage built (same checks and errors).
      auto decoded = wire::decodeHandleResolution(bytes, dialect, &report);
      ok = decoded.ok();
      if (ok) {
        if (!pins_.empty()) applyPins(decoded.value());
        feed(asap::ReceivedResolution{conn, decoded.value()});
      } else {
        malformed(conn, bytes, decoded.error());
      }
    } else {
      auto decoded = wire::decodeAsap(bytes, dialect, &report);
      ok = decoded.ok();
      if (ok) {
        if (!pins_.empty() && applyPins(conn, decoded.value(), dialect)) return;
        feed(asap::Received{conn, std::move(decoded).value()});
      } else {
        malformed(conn, bytes, decoded.error());
      }
    }
    if (ok) {
      for (auto& skipped : report.skipped_to_report) {
        feed(asap::Malformed{conn, wire::Error{wire::Cause::UnrecognizedParameter, 0, std::move(skipped)}, 0});
      }
    }
    if (timed) m_.handling->Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  }

  static constexpr auto kHandleResolutionType = static_cast<std::uint8_t>(wire::AsapType::HandleResolution);

  void malformed(transport::ConnId conn, std::span<const std::byte> bytes, const wire::Error& e) {
    metrics_.counter("vnfpool_registrar_decode_errors_total", "Messages that could not be decoded, by cause",
                     {{"cause", wire::causeName(static_cast<std::uint16_t>(e.cause))}})
        .Increment();
    log_.debug("malformed ASAP message", {{"conn", conn}, {"detail", e.detail}, {"offset", e.offset}});
    auto header = wire::peekHeader(bytes);
    feed(asap::Malformed{conn, e, header ? header->type : std::uint8_t{0}});
  }

  template <typename Event>
  void feed(const Event& event) {
    actions_.clear();
    engine_.handle(event, actions_);
    run();
    scheduleFlush();
  }

  /// Pool policies pinned by the operator: a registration with another policy type is refused here
  /// (true: answered, do not feed it on); a resolution without an item count gets the pool's default.
  bool applyPins(transport::ConnId conn, wire::AsapMessage& message, wire::Dialect dialect) {
    if (auto* r = std::get_if<wire::asap::Registration>(&message)) {
      auto it = pins_.find(r->pool_handle);
      if (it == pins_.end() || r->pe.policy.type == static_cast<std::uint32_t>(it->second.policy)) return false;
      wire::asap::RegistrationResponse refusal;
      refusal.reject = true;
      refusal.pool_handle = r->pool_handle;
      refusal.pe_id = r->pe.id;
      refusal.error = wire::OperationalError::of(wire::Cause::PolicyInconsistent);
      if (dialect == wire::Dialect::Ng) {
        wire::NgCapabilities caps;
        caps.sender_id = id();
        refusal.ng_caps = caps;
      }
      ++policy_refusals_;
      send(conn, wire::AsapMessage{std::move(refusal)});
      return true;
    }
    return false;
  }
  /// A resolution without an item count gets its pinned pool's default.
  void applyPins(wire::asap::HandleResolutionView& h) {
    if (h.items) return;
    auto it = pins_.find(h.pool_handle);
    if (it != pins_.end() && it->second.handle_resolution_items > 0) h.items = it->second.handle_resolution_items;
  }

  /// ENRP wants this PR to be the home of a PE: after a takeover (the engine already made it ours in
  /// the handlespace) or on a peer's Takeover Suggestion (it stays the peer's until the PE re-registers
  /// here). Where the PE has an ASAP endpoint we can reach, connect and tell it (Keep-Alive with H=1,
  /// RegistrarSide::adoptPe); a PE registered on a connection here already needs nothing. A PE we
  /// cannot reach (no ASAP endpoint, or a TCP client port nobody listens on) is left as it is: an
  /// orphan stays ours until its registration life ends or it registers again (its own hunt does that
  /// when its home registrar died), and a suggested PE stays with its home. Unreachable endpoints are
  /// not tried again for a while, since every re-registration brings a new suggestion.
  void takeOver(const std::string& pool, wire::PeId pe) {
    const auto ref = hs_.find(pool, pe);
    if (!ref) return;
    const auto view = hs_.view(*ref);
    if (view.homePr() == id() && view.connection() != handlespace::kNoConnection) return;
    const auto element = view.poolElement();
    std::optional<transport::Protocol> protocol;
    if (element.asap_transport && !element.asap_transport->addresses.empty() && element.asap_transport->port != 0) {
      if (element.asap_transport->kind == wire::TransportKind::Tcp) protocol = transport::Protocol::Tcp;
      if (element.asap_transport->kind == wire::TransportKind::Mptcp) protocol = transport::Protocol::Mptcp;
      // An RSPLIB PE's ASAP endpoint is the SCTP socket it registered from; it takes new associations
      // there and follows a Keep-Alive with the home flag.
      if (element.asap_transport->kind == wire::TransportKind::Sctp) protocol = transport::Protocol::Sctp;
    }
    if (!protocol) return;
    const auto& t = *element.asap_transport;
    const auto& a = t.addresses.front();
    const boost::asio::ip::address address =
        a.isV4() ? boost::asio::ip::address(boost::asio::ip::address_v4({a.bytes[0], a.bytes[1], a.bytes[2], a.bytes[3]}))
                 : boost::asio::ip::address(boost::asio::ip::address_v6(a.bytes));
    const transport::Endpoint at{address, t.port};
    // PEs behind one endpoint (several PEs on one association) share one attempt.
    const std::string key = at.toString();
    const auto now = std::chrono::steady_clock::now();
    if (auto u = unreachable_.find(key); u != unreachable_.end()) {
      if (now < u->second) return;
      unreachable_.erase(u);
    }
    auto [it, fresh] = adopting_by_endpoint_.try_emplace(key, transport::ConnId{0});
    if (fresh) {
      it->second = transport_.connect(at, *protocol, std::chrono::milliseconds(1000),
                                      adoptionDialect() == wire::Dialect::Ng ? wire::kPpidNgAsap : wire::kPpidAsap);
      adopting_endpoint_of_[it->second] = key;
    }
    adopting_[it->second].push_back({pool, pe});
  }

  /// The dialect spoken to a PE this PR adopts: that of the ENRP mesh that told us about it (a classic
  /// mesh is RSPLIB's, whose PEs speak classic ASAP over SCTP with PPID 11); ng without a mesh. A classic
  /// PE registered with an ng mesh's classic listener would be addressed in ng (not recorded per PE).
  wire::Dialect adoptionDialect() const { return options_.enrp ? options_.enrp->dialect : wire::Dialect::Ng; }

  void adoptionEnded(transport::ConnId conn, bool reached) {
    if (auto e = adopting_endpoint_of_.find(conn); e != adopting_endpoint_of_.end()) {
      if (!reached) {
        if (unreachable_.size() > kMaxUnreachable) unreachable_.clear();
        unreachable_[e->second] = std::chrono::steady_clock::now() + kUnreachableFor;
      }
      adopting_by_endpoint_.erase(e->second);
      adopting_endpoint_of_.erase(e);
    }
  }

  void adoptionConnected(const transport::ConnectionInfo& info) {
    auto it = adopting_.find(info.id);
    if (it == adopting_.end()) return;
    auto pes = std::move(it->second);
    adopting_.erase(it);
    adoptionEnded(info.id, true);
    const wire::Dialect dialect = adoptionDialect();
    dialects_[info.id] = dialect;
    asap::ConnectionInfo c;
    c.id = info.id;
    c.dialect = dialect;
    c.inbound = false;
    c.peer.kind = info.sctp_active    ? wire::TransportKind::Sctp
                  : info.mptcp_active ? wire::TransportKind::Mptcp
                                      : wire::TransportKind::Tcp;
    c.peer.port = info.peer.port;
    c.peer.addresses.push_back(transport::toWireAddress(info.peer.address));
    feed(asap::Connected{c});
    for (const auto& [pool, pe] : pes) {
      actions_.clear();
      engine_.adoptPe(pool, pe, info.id, actions_);
      run();
      log_.info("adopted a PE", {{"pool", pool}, {"pe_id", pe}});
    }
    scheduleFlush();
  }

  /// Handle Updates and watcher events go out once per loop turn, for every change of that turn.
  void scheduleFlush() {
    if (flush_posted_ || !hs_.hasChanges()) return;
    flush_posted_ = true;
    boost::asio::post(loop_, [this] {
      flush_posted_ = false;
      if (!stopped_) flush();
    });
  }

  void flush() {
    // The journal's buffer and ours trade places each turn: a sync stores a thousand entries a page,
    // and a fresh buffer per page would be fresh memory per page.
    std::vector<handlespace::Change> changes;
    changes.swap(flushed_);
    hs_.takeChanges(changes);
    if (!changes.empty()) {
      deliver(changes);
      if (enrp_) enrp_->publish(changes);
    }
    handlespace::Handlespace::emptyForReuse(changes);  // removed PEs should not outlive the turn
    flushed_.swap(changes);
  }

  void run() {
    for (auto& action : actions_) {
      std::visit(
          [this](auto& a) {
            using T = std::decay_t<decltype(a)>;
            if constexpr (std::is_same_v<T, asap::Send>) {
              send(a.to, a.message);
            } else if constexpr (std::is_same_v<T, asap::SendBytes>) {
              transport_.send(a.to, a.bytes);  // already in the connection's dialect
            } else if constexpr (std::is_same_v<T, asap::Arm>) {
              timers_.arm(a.timer, a.at);
            } else if constexpr (std::is_same_v<T, asap::Disarm>) {
              timers_.disarm(a.timer);
            } else if constexpr (std::is_same_v<T, asap::Close>) {
              transport_.close(a.conn);
            }
          },
          action);
    }
  }

  void send(transport::ConnId to, const wire::AsapMessage& message) {
    auto it = dialects_.find(to);
    if (it == dialects_.end()) return;  // gone meanwhile
    const wire::Dialect dialect = it->second;
    // Encoded straight into the connection's write queue (no copy).
    transport_.sendEncoded(to, [&](std::vector<std::byte>& out) {
      auto n = wire::encodeTo(message, dialect, out);
      if (!n.ok()) log_.error("cannot encode an ASAP message", {{"conn", to}, {"detail", n.error().detail}});
      return n.ok();
    });
  }

  void deliver(std::span<const handlespace::Change> changes) {
    if (changes.empty() || watchers_.empty()) return;
    for (const auto& c : changes) {
      HandlespaceEvent e;
      e.pool = c.pool;
      e.pe = c.pe;
      e.owner = c.owner;
      switch (c.kind) {
        case handlespace::Change::Kind::Added: e.kind = HandlespaceEvent::Kind::Added; break;
        case handlespace::Change::Kind::Updated: e.kind = HandlespaceEvent::Kind::Updated; break;
        case handlespace::Change::Kind::Removed: e.kind = HandlespaceEvent::Kind::Removed; break;
        case handlespace::Change::Kind::Rehomed: e.kind = HandlespaceEvent::Kind::Rehomed; break;
      }
      if (c.kind != handlespace::Change::Kind::Removed) {
        if (auto ref = hs_.find(c.pool, c.pe)) e.element = hs_.view(*ref).poolElement();
      }
      // A watcher may unwatch itself while being called; iterate over a copy of the ids.
      std::vector<std::uint64_t> ids;
      for (const auto& [id, w] : watchers_) ids.push_back(id);
      for (auto id : ids) {
        auto it = watchers_.find(id);
        if (it != watchers_.end()) it->second(e);
      }
    }
  }

  void declareMetrics() {
    const std::string r = "vnfpool_registrar_";
    m_.registrations = &metrics_.counter(r + "registrations_total", "PE registrations accepted (first time)");
    m_.reregistrations = &metrics_.counter(r + "reregistrations_total", "PE re-registrations accepted");
    m_.deregistrations = &metrics_.counter(r + "deregistrations_total", "PE deregistrations");
    const std::string res = r + "handle_resolutions_total";
    const std::string res_help = "Handle resolutions answered, by result";
    m_.resolutions_ok = &metrics_.counter(res, res_help, {{"result", "ok"}});
    m_.resolutions_unknown = &metrics_.counter(res, res_help, {{"result", "unknown_pool"}});
    m_.resolutions_limited = &metrics_.counter(res, res_help, {{"result", "rate_limited"}});
    m_.keep_alives = &metrics_.counter(r + "keep_alives_sent_total", "Endpoint Keep-Alives sent to PEs");
    m_.keep_alive_acks = &metrics_.counter(r + "keep_alive_acks_total", "Endpoint Keep-Alive Acks received");
    const std::string rem = r + "pool_elements_removed_total";
    const std::string rem_help = "PEs removed other than by deregistration, by reason";
    m_.removed_keep_alive = &metrics_.counter(rem, rem_help, {{"reason", "keep_alive_timeout"}});
    m_.removed_unreachable = &metrics_.counter(rem, rem_help, {{"reason", "unreachable_reports"}});
    m_.removed_connection = &metrics_.counter(rem, rem_help, {{"reason", "connection_lost"}});
    m_.removed_admin = &metrics_.counter(rem, rem_help, {{"reason", "admin_request"}});
    const std::string eu = r + "unreachable_reports_total";
    const std::string eu_help = "Endpoint Unreachable reports received, by result";
    m_.unreachable = &metrics_.counter(eu, eu_help, {{"result", "counted"}});
    m_.unreachable_limited = &metrics_.counter(eu, eu_help, {{"result", "rate_limited"}});
    m_.pools = &metrics_.gauge(r + "pools", "Pools in the handlespace");
    m_.pes = &metrics_.gauge(r + "pool_elements", "PEs in the handlespace");
    m_.own_pes = &metrics_.gauge(r + "own_pool_elements", "PEs whose home registrar this is");
    m_.connections = &metrics_.gauge(r + "asap_connections", "Open ASAP connections");
    m_.orphaned = &metrics_.gauge(r + "orphaned_pool_elements",
                                  "PEs whose home PR is neither this registrar nor a known peer (not yet taken over)");
    m_.handling = &metrics_.histogram(r + "message_handling_seconds",
                                      "Time to decode and handle one ASAP message (one message in 16 is timed)",
                                      {0.000001, 0.000005, 0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.01});
  }

  Registrar& self_;
  boost::asio::io_context& loop_;
  Options options_;
  const observe::Logger& log_;
  observe::Metrics& metrics_;
  observe::Health& health_;
  SteadyClock clock_;
  handlespace::Handlespace hs_;
  asap::RegistrarSide engine_;
  transport::MessageTransport transport_;
  transport::TimerSet timers_;
  std::unique_ptr<observe::HttpServer> http_;
  std::unique_ptr<AdminServer> admin_;
  std::unique_ptr<EnrpNode> enrp_;
  std::map<std::string, PoolPolicyPin, std::less<>> pins_;
  std::uint64_t policy_refusals_ = 0;
  std::uint64_t last_policy_refusals_ = 0;
  bool flush_posted_ = false;
  std::vector<handlespace::Change> flushed_{};  // the journal's previous buffer, reused (flush)
  std::unordered_map<transport::ConnId, std::vector<std::pair<std::string, wire::PeId>>> adopting_;
  std::unordered_map<std::string, transport::ConnId> adopting_by_endpoint_;
  std::unordered_map<transport::ConnId, std::string> adopting_endpoint_of_;
  std::unordered_map<std::string, std::chrono::steady_clock::time_point> unreachable_;
  static constexpr std::size_t kMaxUnreachable = 65536;
  static constexpr std::chrono::seconds kUnreachableFor{60};
  std::string admin_address_;
  std::map<transport::ListenerId, AsapListener> listeners_;
  std::vector<AsapListener> bound_;
  std::unordered_map<transport::ConnId, wire::Dialect> dialects_;
  std::map<std::uint64_t, Watcher> watchers_;
  std::uint64_t next_watcher_ = 0;
  std::vector<asap::RegistrarSide::Action> actions_;
  bool stopped_ = false;
  static constexpr std::uint64_t kTimingSample = 16;
  std::uint64_t messages_ = 0;
  std::uint64_t admin_removals_ = 0;
  std::uint64_t last_admin_removals_ = 0;
  asap::RegistrarStats last_{};
  std::map<std::uint16_t, std::uint64_t> last_rejections_, last_errors_;
  static constexpr const char* kPoolResolutions = "vnfpool_registrar_pool_handle_resolutions_total";
  static constexpr const char* kPoolResolutionsHelp =
      "Handle resolutions answered, by pool (the first metrics.pool_series pools; the rest as _other)";
  static constexpr const char* kPoolMembers = "vnfpool_registrar_pool_members";
  static constexpr const char* kPoolMembersHelp = "PEs in the pool (the first metrics.pool_series pools; the rest as _other)";
  struct PoolSeries {
    prometheus::Counter* resolutions = nullptr;
    prometheus::Gauge* members = nullptr;
    std::uint64_t last = 0;
    bool present = false;
  };
  std::unordered_map<std::string, PoolSeries> pool_series_;      // at most options_.metrics_pool_series
  std::unordered_map<std::string, std::uint64_t> other_last_;  // pools summed under "_other", existing ones
  prometheus::Counter* other_resolutions_ = nullptr;
  prometheus::Gauge* other_members_ = nullptr;
  struct {
    prometheus::Counter *registrations, *reregistrations, *deregistrations, *resolutions_ok, *resolutions_unknown,
        *resolutions_limited, *keep_alives, *keep_alive_acks, *removed_keep_alive, *removed_unreachable,
        *removed_connection, *removed_admin, *unreachable, *unreachable_limited;
    prometheus::Gauge *pools, *pes, *own_pes, *connections, *orphaned;
    prometheus::Histogram* handling;
  } m_{};
};

Registrar::Registrar(boost::asio::io_context& loop, Options options, const observe::Logger& log,
                     observe::Metrics& metrics, observe::Health& health) {
  if (options.pr_id == 0) {
    std::random_device random;
    std::uniform_int_distribution<std::uint32_t> pick(1, 0xFFFFFFFEu);
    options.pr_id = pick(random);
  }
  impl_ = std::make_unique<Impl>(*this, loop, std::move(options), log, metrics, health);
}

Registrar::~Registrar() = default;
std::optional<std::string> Registrar::start() { return impl_->start(); }
void Registrar::stop() { impl_->stop(); }
wire::PrId Registrar::id() const { return impl_->id(); }
std::vector<AsapListener> Registrar::asapEndpoints() const { return impl_->asapEndpoints(); }
std::string Registrar::adminAddress() const { return impl_->adminAddress(); }
std::uint16_t Registrar::httpPort() const { return impl_->httpPort(); }
const handlespace::Handlespace& Registrar::handlespace() const { return impl_->handlespace(); }
bool Registrar::deregisterPe(const std::string& pool, wire::PeId pe) { return impl_->deregisterPe(pool, pe); }
std::vector<HandlespaceEvent> Registrar::removeByAddress(const std::string& pool,
                                                         const std::vector<wire::IpAddress>& addresses) {
  return impl_->removeByAddress(pool, addresses);
}
std::size_t Registrar::setPoolPolicy(const PoolPolicyPin& pin, bool clear) { return impl_->setPoolPolicy(pin, clear); }
std::vector<PoolPolicyPin> Registrar::poolPolicies() const { return impl_->poolPolicies(); }
std::vector<enrp::PeerInfo> Registrar::peers() const { return impl_->peers(); }
std::optional<transport::Endpoint> Registrar::enrpEndpoint() const { return impl_->enrpEndpoint(); }
std::uint64_t Registrar::watch(Watcher watcher, bool snapshot) { return impl_->watch(std::move(watcher), snapshot); }
void Registrar::unwatch(std::uint64_t id) { impl_->unwatch(id); }
const asap::RegistrarStats& Registrar::asapStats() const { return impl_->stats(); }
std::size_t Registrar::connectionCount() const { return impl_->connectionCount(); }
void Registrar::refreshMetrics() { impl_->refreshMetrics(); }

}  // namespace vnfpool::registrar
