#include "enrp_node.h"

#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>

#include <boost/asio/post.hpp>

#include "vnfpool/wire/codec.h"

namespace vnfpool::registrar {
namespace {

constexpr transport::TimerKey kRefreshTimer = 1;
constexpr auto kHandleTableResponseType = static_cast<std::uint8_t>(wire::EnrpType::HandleTableResponse);


boost::asio::ip::address fromWire(const wire::IpAddress& a) {
  if (a.isV4()) return boost::asio::ip::address_v4({a.bytes[0], a.bytes[1], a.bytes[2], a.bytes[3]});
  return boost::asio::ip::address_v6(a.bytes);
}

// The transport parameter that names an ENRP endpoint of ours. SCTP must be named as SCTP: RSPLIB takes
// a peer only from a Presence whose Server Information has an SCTP address ("no usable ENRP endpoint
// addresses" otherwise) and then never asks it to acknowledge a takeover.
wire::TransportKind kindOf(transport::Protocol p) {
  switch (p) {
    case transport::Protocol::Mptcp: return wire::TransportKind::Mptcp;
    case transport::Protocol::Sctp: return wire::TransportKind::Sctp;
    case transport::Protocol::Tcp: break;
  }
  return wire::TransportKind::Tcp;
}

wire::Transport transportOf(const transport::Endpoint& e, transport::Protocol p) {
  wire::Transport t;
  t.kind = kindOf(p);
  t.port = e.port;
  t.use = static_cast<std::uint16_t>(wire::TransportUse::DataOnly);
  t.addresses.push_back(transport::toWireAddress(e.address));
  return t;
}

std::string stateName(enrp::PeerState s) {
  switch (s) {
    case enrp::PeerState::Alive: return "alive";
    case enrp::PeerState::Probing: return "probing";
    case enrp::PeerState::Syncing: return "syncing";
  }
  return "unknown";
}

}  // namespace

std::vector<boost::asio::ip::address> hostAddresses(bool v6) {
  std::vector<boost::asio::ip::address> out;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) == 0) {
    for (ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
      if (i->ifa_addr == nullptr || (i->ifa_flags & IFF_UP) == 0 || (i->ifa_flags & IFF_LOOPBACK) != 0) continue;
      if (i->ifa_addr->sa_family == AF_INET) {
        sockaddr_in sin{};
        std::memcpy(&sin, i->ifa_addr, sizeof sin);
        out.emplace_back(boost::asio::ip::address_v4(ntohl(sin.sin_addr.s_addr)));
      } else if (v6 && i->ifa_addr->sa_family == AF_INET6) {
        sockaddr_in6 sin6{};
        std::memcpy(&sin6, i->ifa_addr, sizeof sin6);
        boost::asio::ip::address_v6::bytes_type b{};
        std::memcpy(b.data(), &sin6.sin6_addr, b.size());
        const boost::asio::ip::address_v6 a(b);
        if (!a.is_link_local()) out.emplace_back(a);
      }
    }
    ::freeifaddrs(list);
  }
  if (out.empty()) out.emplace_back(boost::asio::ip::address_v4::loopback());
  return out;
}

EnrpNode::EnrpNode(boost::asio::io_context& loop, const EnrpOptions& options, wire::PrId id,
                   handlespace::Handlespace& hs, const handlespace::Clock& clock, const observe::Logger& log,
                   observe::Metrics& metrics, observe::Health& health, Hooks hooks)
    : loop_(loop),
      options_(options),
      log_(log),
      metrics_(metrics),
      health_(health),
      hooks_(std::move(hooks)),
      engine_(
          [&] {
            auto c = options.engine;
            c.pr_id = id;
            // RSPLIB accepts Presences only over the association it opened to our ENRP port (see
            // enrp::Config::prefer_inbound); our own ng peers need no such care.
            if (options.protocol == transport::Protocol::Sctp && options.dialect == wire::Dialect::Classic)
              c.prefer_inbound = true;
            return c;
          }(),
          hs, clock),
      transport_(loop,
                 [this] {
                   transport::Handlers h;
                   h.accepted = [this](const transport::ConnectionInfo& info) {
                     dialects_[info.id] = options_.dialect;
                     feed(enrp::Connected{{info.id, options_.dialect, true, 0}});
                   };
                   h.connected = [this](const transport::ConnectionInfo& info) {
                     auto it = connecting_.find(info.id);
                     if (it == connecting_.end()) return;
                     const enrp::RequestId request = it->second;
                     connecting_.erase(it);
                     dialects_[info.id] = options_.dialect;
                     feed(enrp::Connected{{info.id, options_.dialect, false, request}});
                   };
                   h.message = [this](transport::ConnId conn, std::span<const std::byte> bytes) { onMessage(conn, bytes); };
                   h.written = [this](std::vector<std::byte>&& buffer) { engine_.recycle(std::move(buffer)); };
                   h.closed = [this](transport::ConnId conn, transport::CloseReason, std::error_code, const wire::Error*) {
                     if (auto it = connecting_.find(conn); it != connecting_.end()) {
                       const enrp::RequestId request = it->second;
                       connecting_.erase(it);
                       feed(enrp::ConnectFailed{request});
                       return;
                     }
                     dialects_.erase(conn);
                     feed(enrp::Disconnected{conn});
                   };
                   return h;
                 }(),
                 [this] {
                   transport::Options t;
                   t.name = "enrp";
                   t.sctp.ppid = options_.dialect == wire::Dialect::Ng ? wire::kPpidNgEnrp : wire::kPpidEnrp;
                   t.log = [this](std::string_view line) { log_.warn(line); };
                   return t;
                 }()),
      timers_(loop,
              [this](transport::TimerKey key) {
                if (key == kRefreshTimer) {
                  resolvePeers();
                  armRefresh();
                } else {
                  feed(enrp::Expired{key});
                }
              }),
      resolver_(loop) {
  engine_.setChangeObserver([this](std::span<const handlespace::Change> changes) {
    if (hooks_.changes) hooks_.changes(changes);
  });
  const std::string e = "vnfpool_registrar_enrp_";
  const std::string updates = e + "handle_updates_total";
  const std::string updates_help = "ENRP Handle Updates, by direction";
  m_.updates_sent = &metrics_.counter(updates, updates_help, {{"direction", "sent"}});
  m_.updates_received = &metrics_.counter(updates, updates_help, {{"direction", "received"}});
  const std::string presences = e + "presences_total";
  const std::string presences_help = "ENRP Presence messages, by direction";
  m_.presences_sent = &metrics_.counter(presences, presences_help, {{"direction", "sent"}});
  m_.presences_received = &metrics_.counter(presences, presences_help, {{"direction", "received"}});
  m_.audits = &metrics_.counter(e + "audits_total", "Peer checksums compared with the local handlespace");
  m_.audit_mismatches = &metrics_.counter(e + "audit_mismatches_total", "Audits whose checksums differed");
  m_.resyncs = &metrics_.counter(e + "resyncs_total", "Resynchronisations of one peer's entries completed");
  const std::string pages = e + "handle_table_pages_total";
  const std::string pages_help = "Handle Table Response pages, by direction";
  m_.pages_sent = &metrics_.counter(pages, pages_help, {{"direction", "sent"}});
  m_.pages_received = &metrics_.counter(pages, pages_help, {{"direction", "received"}});
  m_.entries_unsendable = &metrics_.counter(e + "table_entries_unsendable_total",
                                            "PEs left out of Handle Table Responses: not encodable in the peer's "
                                            "dialect (a 64-bit PE ID for a classic peer)");
  m_.takeovers_started = &metrics_.counter(e + "takeovers_started_total", "Takeovers of a dead peer this PR began");
  const std::string takeovers = e + "takeovers_total";
  const std::string takeovers_help = "Takeovers this PR began, by outcome";
  m_.takeovers_won = &metrics_.counter(takeovers, takeovers_help, {{"result", "won"}});
  m_.takeovers_lost = &metrics_.counter(takeovers, takeovers_help, {{"result", "lost"}});
  m_.takeovers_abandoned = &metrics_.counter(takeovers, takeovers_help, {{"result", "abandoned"}});
  m_.orphans_adopted = &metrics_.counter(e + "orphans_adopted_total", "PEs of dead peers this PR became home of");
  const std::string suggestions = e + "takeover_suggestions_total";
  const std::string suggestions_help = "Takeover Suggestions, by direction";
  m_.suggestions_sent = &metrics_.counter(suggestions, suggestions_help, {{"direction", "sent"}});
  m_.suggestions_received = &metrics_.counter(suggestions, suggestions_help, {{"direction", "received"}});
  m_.peers_failed = &metrics_.counter(e + "peers_failed_total", "Peers declared dead");
  m_.foreign_expired = &metrics_.counter(e + "foreign_expired_total",
                                         "Entries of other PRs removed when their registration life ran out");
  m_.malformed = &metrics_.counter(e + "malformed_messages_total", "ENRP messages that did not decode");
  const std::string bytes = e + "message_bytes_total";
  const std::string bytes_help = "Bytes of ENRP messages (without framing), by direction";
  m_.bytes_sent = &metrics_.counter(bytes, bytes_help, {{"direction", "sent"}});
  m_.bytes_received = &metrics_.counter(bytes, bytes_help, {{"direction", "received"}});
  m_.startup_sync = &metrics_.gauge(e + "startup_sync_seconds",
                                    "How long the start-up synchronisation with the mentor took (0 until done)");
  m_.connections = &metrics_.gauge(e + "connections", "Open ENRP connections");
  for (auto s : {enrp::PeerState::Alive, enrp::PeerState::Probing, enrp::PeerState::Syncing})
    metrics_.gauge(e + "peers", "Known peer PRs, by state", {{"state", stateName(s)}});
}

EnrpNode::~EnrpNode() { stop(); }

std::optional<std::string> EnrpNode::start() {
  auto bound = transport_.listen(options_.listen, options_.protocol);
  if (!bound.ok()) {
    return "cannot listen for ENRP on " + options_.listen.toString() + " (" +
           std::string(transport::protocolName(options_.protocol)) + "): " + bound.error().message();
  }
  bound_ = bound.value().local;
  // Server Information names where peers reach this PR: the bound address, or every address of the
  // host when the listener takes any, with the protocol the listener really has (SCTP asked for on a
  // kernel without it fell back to MPTCP or TCP).
  transport::Protocol announced = options_.protocol;
  if (announced == transport::Protocol::Sctp && !bound.value().sctp_active) {
    announced = bound.value().mptcp_active ? transport::Protocol::Mptcp : transport::Protocol::Tcp;
  }
  std::vector<wire::Transport> transports;
  if (bound_.address.is_unspecified()) {
    wire::Transport t = transportOf(bound_, announced);
    t.addresses.clear();
    for (const auto& a : hostAddresses(bound_.address.is_v6())) t.addresses.push_back(transport::toWireAddress(a));
    transports.push_back(std::move(t));
  } else {
    transports.push_back(transportOf(bound_, announced));
  }
  health_.setCondition("enrp_synchronised", false, "start-up synchronisation with a mentor PR");
  engine_.setTransports(std::move(transports));
  // Table pages are built in buffers that go round between the engine and the transport; written now,
  // a mentor's first pages take no fresh memory (each 64 KiB of it cost 16 page faults, 0.17-0.2 ms, on
  // the machines we measure on).
  for (std::size_t i = 0; i < engine_.config().ng_pages_ahead + 2; ++i) engine_.recycle(wire::Bytes(64 * 1024));
  started_ = true;
  actions_.clear();
  engine_.start(actions_);
  run();
  log_.info("serving ENRP", {{"endpoint", bound_.toString()},
                             {"transport", transport::protocolName(options_.protocol)},
                             {"mptcp", bound.value().mptcp_active},
                             {"dialect", options_.dialect == wire::Dialect::Ng ? "ng" : "classic"},
                             {"peers", static_cast<std::uint64_t>(options_.peers.size())}});
  resolvePeers();
  armRefresh();
  return std::nullopt;
}

void EnrpNode::stop() {
  if (stopped_) return;
  stopped_ = true;
  timers_.clear();
  transport_.shutdown();
}

void EnrpNode::publish(std::span<const handlespace::Change> changes) {
  if (!started_ || stopped_) return;
  actions_.clear();
  engine_.publishChanges(changes, actions_);
  run();
}

void EnrpNode::feed(const enrp::Event& event) {
  if (!started_ || stopped_) return;
  actions_.clear();
  engine_.handle(event, actions_);
  run();
  reportStartup();
  if (hooks_.handled) hooks_.handled();
}

void EnrpNode::reportStartup() {
  if (startup_reported_ || engine_.inStartup()) return;
  startup_reported_ = true;
  const auto& s = engine_.stats();
  const double seconds = s.startup_sync ? std::chrono::duration<double>(*s.startup_sync).count() : 0.0;
  m_.startup_sync->Set(seconds);
  health_.setCondition("enrp_synchronised", true);
  log_.info("ENRP start-up complete", {{"seconds", seconds}, {"peers", static_cast<std::uint64_t>(engine_.peers().size())}});
}

void EnrpNode::run() {
  // Carrying out an action may feed the engine again (a send that fails closes a connection, whose
  // handler runs later on the loop, never inside): the list is stable while we walk it, but the
  // TakeOverPe hook may publish changes and so reuse actions_; walk a moved-out copy. The vectors keep
  // their capacity from turn to turn (up to kKeptActions): a takeover or a large publish emits one or two
  // actions of about 320 bytes per PE, and growing a fresh vector each time costs a page fault per 4 KiB.
  std::vector<enrp::Action> todo;
  todo.swap(actions_);
  actions_.swap(spare_actions_);
  for (auto& action : todo) {
    std::visit(
        [this](auto& a) {
          using T = std::decay_t<decltype(a)>;
          if constexpr (std::is_same_v<T, enrp::Send>) {
            auto it = dialects_.find(a.to);
            if (it == dialects_.end()) return;
            const wire::Dialect dialect = it->second;
            transport_.sendEncoded(a.to, [&](std::vector<std::byte>& out) {
              auto n = wire::encodeTo(a.message, dialect, out);
              if (!n.ok()) {
                log_.error("cannot encode an ENRP message", {{"conn", a.to}, {"detail", n.error().detail}});
                return false;
              }
              m_.bytes_sent->Increment(static_cast<double>(n.value()));
              return true;
            });
          } else if constexpr (std::is_same_v<T, enrp::SendEncoded>) {
            auto it = dialects_.find(a.to);
            if (it == dialects_.end()) return;
            if (it->second != a.dialect) {  // the engine encodes in the dialect the peer speaks here
              log_.error("an ENRP message encoded in the wrong dialect was not sent", {{"conn", a.to}});
              return;
            }
            const auto size = a.bytes.size();
            if (transport_.send(a.to, std::move(a.bytes))) m_.bytes_sent->Increment(static_cast<double>(size));
            engine_.recycle(std::move(a.bytes));  // still here if the transport copied it (a small page)
          } else if constexpr (std::is_same_v<T, enrp::Connect>) {
            const auto& t = a.address;
            const bool reachable = t.kind == wire::TransportKind::Tcp || t.kind == wire::TransportKind::Mptcp ||
                                   (t.kind == wire::TransportKind::Sctp && options_.protocol == transport::Protocol::Sctp);
            if (t.addresses.empty() || !reachable) {
              // A peer we cannot reach with our protocol (an SCTP-only RSPLIB registrar while ENRP runs over
              // TCP or MPTCP here).
              boost::asio::post(loop_, [this, request = a.request] { feed(enrp::ConnectFailed{request}); });
              return;
            }
            const transport::Endpoint to{fromWire(t.addresses.front()), t.port};
            const auto conn = transport_.connect(to, options_.protocol, options_.connect_timeout);
            connecting_[conn] = a.request;
          } else if constexpr (std::is_same_v<T, enrp::Close>) {
            transport_.close(a.conn);
          } else if constexpr (std::is_same_v<T, enrp::Arm>) {
            timers_.arm(a.timer, a.at);
          } else if constexpr (std::is_same_v<T, enrp::Disarm>) {
            timers_.disarm(a.timer);
          } else if constexpr (std::is_same_v<T, enrp::TakeOverPe>) {
            if (hooks_.take_over) hooks_.take_over(a);
          }
        },
        action);
  }
  todo.clear();
  if (todo.capacity() <= kKeptActions && todo.capacity() > spare_actions_.capacity()) spare_actions_.swap(todo);
}

void EnrpNode::onMessage(transport::ConnId conn, std::span<const std::byte> bytes) {
  auto it = dialects_.find(conn);
  const wire::Dialect dialect = it == dialects_.end() ? options_.dialect : it->second;
  m_.bytes_received->Increment(static_cast<double>(bytes.size()));
  if (!bytes.empty() && bytes[0] == std::byte{kHandleTableResponseType}) {
    // A table page (a mentor sync or an audit brings thousands): its entries are read in place and
    // stored one by one, no list of PoolElements built first.
    auto page = wire::decodeHandleTableResponse(bytes, dialect);
    if (page.ok()) {
      const auto malformed = engine_.stats().malformed;
      feed(enrp::ReceivedTablePage{conn, page.value()});
      // An entry that did not decode is found by the engine while it stores the page.
      if (engine_.stats().malformed != malformed)
        log_.debug("malformed ENRP table page: the entries before the bad one were kept, the transfer given up",
                   {{"conn", conn}});
    } else {
      log_.debug("malformed ENRP message", {{"conn", conn}, {"detail", page.error().detail}});
      feed(enrp::Malformed{conn, page.error()});
    }
    return;
  }
  auto decoded = wire::decodeEnrp(bytes, dialect);
  if (decoded.ok()) {
    feed(enrp::Received{conn, std::move(decoded).value()});
  } else {
    log_.debug("malformed ENRP message", {{"conn", conn}, {"detail", decoded.error().detail}});
    feed(enrp::Malformed{conn, decoded.error()});
  }
}

void EnrpNode::resolvePeers() {
  // Literal addresses form the "static" source; every name is a source of its own, resolved again each
  // refresh (its complete answer replaces the previous one; a failed lookup keeps the last good one).
  std::vector<wire::Transport> literals;
  for (const auto& entry : options_.peers) {
    auto target = transport::HostPort::parse(entry, std::uint16_t{9901});
    if (!target) continue;  // checked when the configuration was loaded
    boost::system::error_code ec;
    const auto literal = boost::asio::ip::make_address(target->host, ec);
    if (!ec) {
      literals.push_back(transportOf({literal, target->port}, options_.protocol));
      continue;
    }
    resolver_.resolve(*target, [this, name = entry](transport::Result<std::vector<transport::Endpoint>> result) {
      if (!result.ok()) {
        log_.debug("cannot resolve an ENRP peer name", {{"name", name}, {"error", result.error().message()}});
        return;
      }
      std::vector<wire::Transport> addresses;
      for (const auto& e : result.value()) addresses.push_back(transportOf(e, options_.protocol));
      auto& last = resolved_[name];
      if (last == addresses && started_) return;
      last = addresses;
      feed(enrp::PeerAddresses{"dns:" + name, std::move(addresses)});
    });
  }
  feed(enrp::PeerAddresses{"static", std::move(literals)});
}

void EnrpNode::armRefresh() {
  if (stopped_ || options_.dns_refresh.count() <= 0) return;
  timers_.arm(kRefreshTimer, std::chrono::steady_clock::now() + options_.dns_refresh);
}

void EnrpNode::refreshMetrics() {
  const auto& s = engine_.stats();
  auto& l = last_.stats;
  auto sync = [](prometheus::Counter* c, std::uint64_t value, std::uint64_t& last) {
    if (value > last) c->Increment(static_cast<double>(value - last));
    last = value;
  };
  sync(m_.updates_sent, s.updates_sent, l.updates_sent);
  sync(m_.updates_received, s.updates_received, l.updates_received);
  sync(m_.presences_sent, s.presences_sent, l.presences_sent);
  sync(m_.presences_received, s.presences_received, l.presences_received);
  sync(m_.audits, s.audits, l.audits);
  sync(m_.audit_mismatches, s.audit_mismatches, l.audit_mismatches);
  sync(m_.resyncs, s.resyncs_completed, l.resyncs_completed);
  sync(m_.pages_sent, s.table_pages_sent, l.table_pages_sent);
  sync(m_.pages_received, s.table_pages_received, l.table_pages_received);
  sync(m_.entries_unsendable, s.table_entries_unsendable, l.table_entries_unsendable);
  sync(m_.takeovers_started, s.takeovers_started, l.takeovers_started);
  sync(m_.takeovers_won, s.takeovers_won, l.takeovers_won);
  sync(m_.takeovers_lost, s.takeovers_lost, l.takeovers_lost);
  sync(m_.takeovers_abandoned, s.takeovers_abandoned, l.takeovers_abandoned);
  sync(m_.orphans_adopted, s.orphans_adopted, l.orphans_adopted);
  sync(m_.suggestions_sent, s.suggestions_sent, l.suggestions_sent);
  sync(m_.suggestions_received, s.suggestions_received, l.suggestions_received);
  sync(m_.peers_failed, s.peers_failed, l.peers_failed);
  sync(m_.foreign_expired, s.foreign_expired, l.foreign_expired);
  sync(m_.malformed, s.malformed, l.malformed);
  for (const auto& [state, n] : engine_.peersByState())
    metrics_.gauge("vnfpool_registrar_enrp_peers", "Known peer PRs, by state", {{"state", stateName(state)}})
        .Set(static_cast<double>(n));
  m_.connections->Set(static_cast<double>(transport_.connectionCount()));
}

}  // namespace vnfpool::registrar
