#include "vnfpool/registrar/options.h"

#include <charconv>
#include <sstream>

namespace vnfpool::registrar {
namespace {

using namespace std::chrono_literals;
using config::Key;

std::optional<std::string> isEndpoint(const config::Value& v) {
  const auto& text = std::get<std::string>(v);
  if (text.empty()) return std::nullopt;  // "" disables
  if (!transport::Endpoint::parse(text)) return "\"" + text + "\" is not address:port (e.g. 0.0.0.0:3863, [::]:3863)";
  return std::nullopt;
}

std::optional<std::string> areEndpoints(const config::Value& v) {
  for (const auto& text : std::get<std::vector<std::string>>(v)) {
    if (!transport::Endpoint::parse(text)) return "\"" + text + "\" is not address:port (e.g. 0.0.0.0:3863, [::]:3863)";
  }
  return std::nullopt;
}

std::optional<std::string> areAddresses(const config::Value& v) {
  for (const auto& text : std::get<std::vector<std::string>>(v)) {
    boost::system::error_code ec;
    boost::asio::ip::make_address(text, ec);
    if (ec) return "\"" + text + "\" is not an IPv4 or IPv6 address";
  }
  return std::nullopt;
}

std::optional<std::uint64_t> parseId(const std::string& text) {
  std::uint64_t value = 0;
  const bool hex = text.starts_with("0x") || text.starts_with("0X");
  const char* begin = text.data() + (hex ? 2 : 0);
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(begin, end, value, hex ? 16 : 10);
  if (ec != std::errc() || ptr != end || begin == end) return std::nullopt;
  return value;
}

std::chrono::microseconds micros(config::Duration d) { return d; }

}  // namespace

config::Schema schema() {
  config::Schema s("registrar", "vnfpool-registrar",
                   "The vnfpool Pool Registrar: keeps the handlespace of pools and their Pool Elements and serves "
                   "ASAP (registration, handle resolution, keep-alive) over TCP and MPTCP.");
  s.add(Key::string("id", "0").metavar("ID").help("PR ID, decimal or 0x hex; 0 picks a random one below 2^32.")
            .check([](const config::Value& v) -> std::optional<std::string> {
              if (!parseId(std::get<std::string>(v))) return "not a number (decimal or 0x hex)";
              return std::nullopt;
            }));
  s.add(Key::list("asap.listen", {"0.0.0.0:3863"}).metavar("ADDRESS:PORT").check(areEndpoints)
            .help("Where to serve ASAP in the ng dialect (port 0: the OS picks)."));
  s.add(Key::list("asap.classic_listen", {}).metavar("ADDRESS:PORT").check(areEndpoints)
            .help("Where to serve ASAP in the classic (RFC, RSPLIB) dialect."));
  s.add(Key::choice("asap.transport", "mptcp", {"mptcp", "tcp", "sctp"})
            .help("Transport of the ASAP listeners; mptcp falls back to tcp where the kernel lacks it, sctp (PPID 11 "
                  "classic, NGAS ng; what RSPLIB speaks) to mptcp."));
  s.add(Key::list("asap.sctp_addresses", {}).metavar("ADDRESS").check(areAddresses)
            .help("With asap.transport sctp: further local addresses of every ASAP listener (multi-homing)."));
  s.add(Key::string("admin.listen", "127.0.0.1:3870").metavar("ADDRESS:PORT").check(isEndpoint)
            .help("gRPC admin API (operator, vnfpoolctl); empty to disable."));
  s.add(Key::string("http.listen", "0.0.0.0:3871").metavar("ADDRESS:PORT").check(isEndpoint)
            .help("HTTP /metrics, /healthz, /readyz; empty to disable."));
  s.add(Key::integer("metrics.pool_series", 100).range(0, 100000)
            .help("Pools with series of their own in vnfpool_registrar_pool_* (first come); the rest are summed "
                  "under pool=\"_other\"; 0 = no per-pool series."));
  s.add(Key::duration("keepalive.interval", 5s).range(10ms, 1h)
            .help("Endpoint keep-alive sent this long after a registration or the last ack."));
  s.add(Key::duration("keepalive.timeout", 5s).range(10ms, 1h)
            .help("A PE that does not ack a keep-alive within this time is removed."));
  s.add(Key::integer("unreachable.max_reports", 3).range(1, 1000000)
            .help("Endpoint Unreachable reports after which a PE is removed (MAX-BAD-PE-REPORT)."));
  s.add(Key::integer("ratelimit.handle_resolution", 0).range(0, 100000000)
            .help("Handle resolutions per second per PU connection; 0 = unlimited."));
  s.add(Key::integer("ratelimit.endpoint_unreachable", 0).range(0, 100000000)
            .help("Endpoint Unreachable reports per second per PU connection; 0 = unlimited."));
  s.add(Key::integer("resolution.default_items", 3).range(1, 1000000)
            .help("PEs per handle resolution when the PU does not say."));
  s.add(Key::integer("resolution.max_items", 128).range(1, 1000000).help("Most PEs in one resolution answer."));
  s.add(Key::integer("resolution.max_increment", 0).range(0, 1000000)
            .help("How many returned PEs advance their selection state; 0 = the policy's default."));
  s.add(Key::integer("pool.max_handle_length", 32).range(1, 65000)
            .help("Longest pool handle accepted, in bytes (RSPLIB cannot take more than 32)."));
  s.add(Key::boolean("handlespace.huge_pages", true)
            .help("Keep the handlespace's large arrays in transparent huge pages (where the kernel's "
                  "transparent_hugepage setting is madvise or always): several times faster growth on "
                  "virtual machines; false keeps 4 KiB pages."));
  s.add(Key::integer("handlespace.reserve_pes", 0).range(0, 100000000)
            .help("PEs to make room for at start-up (records, PE index, expiry heap written ahead, about 190 "
                  "bytes each): a registrar joining a mesh of that size then syncs without growing; 0 = grow "
                  "as needed."));
  s.add(Key::duration("registration.min_life", 1s).range(1ms, 24h).help("Shortest registration life granted."));
  s.add(Key::duration("registration.max_life", 1h).range(1ms, 24h).help("Longest registration life granted."));
  s.add(Key::choice("address.min_scope", "loopback", {"loopback", "sitelocal", "global"})
            .help("Smallest address scope a PE may register (loopback accepts every unicast address)."));
  s.add(Key::integer("limits.max_connections", 4096).range(1, 1000000).help("Most ASAP connections at once."));
  s.add(Key::integer("limits.max_buffered_out", 4 * 1024 * 1024).range(65536, 1LL << 32)
            .help("Bytes queued for one connection before it is closed as too slow."));
  s.add(Key::list("enrp.peers", {}).metavar("HOST:PORT")
            .check([](const config::Value& v) -> std::optional<std::string> {
              for (const auto& text : std::get<std::vector<std::string>>(v))
                if (!transport::HostPort::parse(text, std::uint16_t{9901}))
                  return "\"" + text + "\" is not host, host:port or [v6]:port";
              return std::nullopt;
            })
            .help("Other registrars of the ENRP mesh (port 9901 if left out); a DNS name stands for all its "
                  "A/AAAA records (a headless Service) and is resolved again every enrp.dns_refresh. ENRP "
                  "runs only when this is set."));
  s.add(Key::string("enrp.listen", "0.0.0.0:9901").metavar("ADDRESS:PORT").check(isEndpoint)
            .help("Where to serve ENRP (port 0: the OS picks)."));
  s.add(Key::choice("enrp.transport", "mptcp", {"mptcp", "tcp", "sctp"})
            .help("Transport of ENRP; mptcp falls back to tcp where the kernel lacks it, sctp (PPID 12 classic, "
                  "NGEN ng; what RSPLIB speaks) to mptcp."));
  s.add(Key::choice("enrp.dialect", "ng", {"ng", "classic"}).help("ENRP dialect spoken with peers."));
  s.add(Key::duration("enrp.dns_refresh", 5s).range(100ms, 1h).help("How often peer names are resolved again."));
  s.add(Key::duration("enrp.heartbeat_cycle", 2444ms).range(10ms, 1h)
            .help("Presence heartbeat period (PEER-HEARTBEAT-CYCLE), jittered by +-12 %."));
  s.add(Key::duration("enrp.max_time_last_heard", 5s).range(10ms, 1h)
            .help("A peer not heard from for this long is probed (MAX-TIME-LAST-HEARD)."));
  s.add(Key::duration("enrp.max_time_no_response", 5s).range(10ms, 1h)
            .help("A probed (or disconnected) peer silent for this long is dead and taken over (MAX-TIME-NO-RESPONSE)."));
  s.add(Key::duration("enrp.mentor_discovery_timeout", 5s).range(10ms, 1h)
            .help("Start-up ends after this if no mentor PR answered (then /readyz turns ready)."));
  s.add(Key::duration("enrp.takeover_expiry", 5s).range(10ms, 1h)
            .help("A takeover without every peer's ack by then is abandoned."));
  s.add(Key::duration("enrp.reconnect_interval", 1s).range(10ms, 1h)
            .help("Pause before connecting again to a peer address after a failure."));
  s.add(Key::choice("enrp.suggestion_metric", "rendezvous", {"rendezvous", "xor"})
            .help("Takeover Suggestion target: rendezvous hashing spreads a dead PR's PEs evenly; xor is "
                  "RSPLIB's rule (uneven with more than two PRs)."));
  s.add(Key::integer("enrp.page_entries", 4096).range(1, 65535)
            .help("Most PEs per Handle Table Response page in the ng dialect (pages also stay under 65000 bytes; classic stays at 128)."));
  s.add(Key::choice("log.level", "info", {"debug", "info", "warn", "error"}).help("Least severe log level written."));
  s.add(Key::string("ready_file", "").metavar("FILE")
            .help("Write the PR ID and the bound endpoints here (JSON) once serving."));
  return s;
}

config::Result<Settings> settingsFrom(const config::Config& c) {
  std::vector<config::Error> errors;
  Settings s;
  Options& o = s.options;
  o.pr_id = *parseId(c.string("id"));
  const auto protocol = *transport::parseProtocol(c.string("asap.transport"));
  for (const auto& text : c.list("asap.listen")) o.asap.push_back({*transport::Endpoint::parse(text), protocol, wire::Dialect::Ng});
  for (const auto& text : c.list("asap.classic_listen"))
    o.asap.push_back({*transport::Endpoint::parse(text), protocol, wire::Dialect::Classic});
  if (o.asap.empty()) errors.push_back({"asap.listen", config::Source::Default, "asap.listen and asap.classic_listen are both empty: nothing to serve"});
  for (auto& l : o.asap) {
    for (const auto& text : c.list("asap.sctp_addresses")) l.sctp_extra_addresses.push_back(boost::asio::ip::make_address(text));
  }
  o.admin_address = c.string("admin.listen");
  if (!c.string("http.listen").empty()) o.http = transport::Endpoint::parse(c.string("http.listen"));
  o.metrics_pool_series = c.integerAs<std::size_t>("metrics.pool_series");

  auto& e = o.asap_engine;
  e.keep_alive_interval = micros(c.duration("keepalive.interval"));
  e.keep_alive_timeout = micros(c.duration("keepalive.timeout"));
  e.max_bad_pe_reports = c.integerAs<std::uint32_t>("unreachable.max_reports");
  e.max_handle_resolution_rate = static_cast<double>(c.integer("ratelimit.handle_resolution"));
  e.max_endpoint_unreachable_rate = static_cast<double>(c.integer("ratelimit.endpoint_unreachable"));
  const auto& scope = c.string("address.min_scope");
  e.min_address_scope = scope == "global" ? asap::AddressScope::Global
                        : scope == "sitelocal" ? asap::AddressScope::SiteLocal
                                               : asap::AddressScope::Loopback;
  const auto min_life = std::chrono::duration_cast<std::chrono::milliseconds>(c.duration("registration.min_life"));
  const auto max_life = std::chrono::duration_cast<std::chrono::milliseconds>(c.duration("registration.max_life"));
  if (min_life > max_life) errors.push_back({"registration.min_life", config::Source::Default, "registration.min_life is above registration.max_life"});
  e.min_registration_life_ms = static_cast<std::uint32_t>(min_life.count());
  e.max_registration_life_ms = static_cast<std::uint32_t>(max_life.count());

  auto& h = o.handlespace;
  h.default_items = c.integerAs<std::size_t>("resolution.default_items");
  h.max_items = c.integerAs<std::size_t>("resolution.max_items");
  h.max_increment = c.integerAs<std::uint32_t>("resolution.max_increment");
  h.max_pool_handle = c.integerAs<std::size_t>("pool.max_handle_length");
  o.huge_pages = c.boolean("handlespace.huge_pages");
  o.reserve_pes = c.integerAs<std::size_t>("handlespace.reserve_pes");
  if (h.default_items > h.max_items) {
    errors.push_back({"resolution.default_items", config::Source::Default, "resolution.default_items is above resolution.max_items"});
  }
  o.limits.max_connections = c.integerAs<std::size_t>("limits.max_connections");
  o.limits.max_connections_per_listener = o.limits.max_connections;
  o.limits.max_buffered_out = c.integerAs<std::size_t>("limits.max_buffered_out");
  if (!c.list("enrp.peers").empty()) {
    EnrpOptions enrp;
    if (auto at = transport::Endpoint::parse(c.string("enrp.listen"))) {
      enrp.listen = *at;
    } else {
      errors.push_back({"enrp.listen", config::Source::Default, "enrp.listen is empty but enrp.peers is set"});
    }
    enrp.protocol = *transport::parseProtocol(c.string("enrp.transport"));
    enrp.dialect = c.string("enrp.dialect") == "classic" ? wire::Dialect::Classic : wire::Dialect::Ng;
    enrp.peers = c.list("enrp.peers");
    enrp.dns_refresh = std::chrono::duration_cast<std::chrono::milliseconds>(c.duration("enrp.dns_refresh"));
    auto& g = enrp.engine;
    g.heartbeat_cycle = micros(c.duration("enrp.heartbeat_cycle"));
    g.max_time_last_heard = micros(c.duration("enrp.max_time_last_heard"));
    g.max_time_no_response = micros(c.duration("enrp.max_time_no_response"));
    g.mentor_discovery_timeout = micros(c.duration("enrp.mentor_discovery_timeout"));
    g.takeover_expiry = micros(c.duration("enrp.takeover_expiry"));
    g.reconnect_interval = micros(c.duration("enrp.reconnect_interval"));
    g.suggestion_metric = c.string("enrp.suggestion_metric") == "xor" ? enrp::Config::SuggestionMetric::Xor
                                                                      : enrp::Config::SuggestionMetric::Rendezvous;
    g.ng_page_entries = c.integerAs<std::size_t>("enrp.page_entries");
    o.enrp = std::move(enrp);
  }
  s.log_level = c.string("log.level");
  s.ready_file = c.string("ready_file");
  if (!errors.empty()) return errors;
  return s;
}

std::string readyFileContent(const Registrar& registrar) {
  std::ostringstream out;
  out << "{\"pr_id\":" << registrar.id() << ",\"asap\":[";
  bool first = true;
  for (const auto& l : registrar.asapEndpoints()) {
    out << (first ? "" : ",") << "{\"endpoint\":\"" << l.at.toString() << "\",\"transport\":\""
        << transport::protocolName(l.protocol) << "\",\"dialect\":\""
        << (l.dialect == wire::Dialect::Ng ? "ng" : "classic") << "\"}";
    first = false;
  }
  out << "],\"admin\":\"" << registrar.adminAddress() << "\",\"http_port\":" << registrar.httpPort();
  if (auto enrp = registrar.enrpEndpoint()) out << ",\"enrp\":\"" << enrp->toString() << "\"";
  out << "}\n";
  return out.str();
}

}  // namespace vnfpool::registrar
