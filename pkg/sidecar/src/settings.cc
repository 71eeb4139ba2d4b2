#include "vnfpool/sidecar/settings.h"

#include <ifaddrs.h>
#include <netinet/in.h>

#include <cmath>
#include <cstring>
#include <random>

namespace vnfpool::sidecar {
namespace {

using namespace std::chrono_literals;
using config::Key;

std::optional<std::string> isEndpoint(const config::Value& v) {
  const auto& text = std::get<std::string>(v);
  if (text.empty()) return std::nullopt;  // "" disables
  if (!transport::Endpoint::parse(text)) return "\"" + text + "\" is not address:port (e.g. 127.0.0.1:3880, [::1]:3880)";
  return std::nullopt;
}

std::optional<std::string> areAddresses(const config::Value& v) {
  for (const auto& text : std::get<std::vector<std::string>>(v)) {
    if (!wire::IpAddress::parse(text)) return "\"" + text + "\" is not an IPv4 or IPv6 address";
  }
  return std::nullopt;
}

std::uint32_t percentToLoad(std::int64_t percent) {
  return static_cast<std::uint32_t>(std::llround(static_cast<double>(percent) / 100.0 * wire::kFullLoad));
}

std::chrono::milliseconds millis(config::Duration d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d); }

}  // namespace

config::Schema schema() {
  config::Schema s("sidecar", "vnfpool-sidecar",
                   "The vnfpool sidecar: registers the VNF next to it as a Pool Element over ASAP, keeps it "
                   "registered while its health check passes, and deregisters it before the pod goes away.");
  s.add(Key::string("pool.handle", "").required().metavar("HANDLE").help("Pool handle the VNF joins."));
  s.add(Key::integer("vnf.port", 0).required().range(1, 65535).env("VNFPOOL_SIDECAR_VNF_PORT")
            .help("The VNF's service port (registered, and probed by the health check)."));
  s.add(Key::choice("vnf.transport", "tcp", {"tcp", "mptcp", "udp", "sctp"})
            .help("Transport of the VNF's service, as registered (the sidecar does not carry its traffic)."));
  s.add(Key::list("vnf.addresses", {}).metavar("ADDRESS").check(areAddresses)
            .help("Addresses registered for the VNF (the pod IP); empty: every non-loopback address of the host."));
  s.add(Key::string("pe.id", "0").metavar("ID").help("PE ID, decimal or 0x hex; 0 picks a random one."));
  s.add(Key::string("policy.type", "rr").metavar("POLICY")
            .check([](const config::Value& v) -> std::optional<std::string> {
              if (wire::policyByName(std::get<std::string>(v)) == nullptr)
                return "unknown policy \"" + std::get<std::string>(v) + "\" (rr, wrr, rand, wrand, prio, lu, lud, plu, rlu, ...)";
              return std::nullopt;
            })
            .help("Selection policy of the pool, by short name."));
  s.add(Key::integer("policy.weight", 1).range(0, 0xFFFFFFFFLL).help("Weight (wrr, wrand)."));
  s.add(Key::integer("policy.priority", 0).range(0, 0xFFFFFFFFLL).help("Priority (prio, plu)."));
  s.add(Key::integer("policy.load", 0).range(0, 100).help("Load in percent (lu and friends); the gRPC API updates it."));
  s.add(Key::integer("policy.load_degradation", 0).range(0, 100).help("Load degradation in percent (lud)."));
  s.add(Key::list("registrars", {}).metavar("HOST:PORT")
            .check([](const config::Value& v) -> std::optional<std::string> {
              const auto& list = std::get<std::vector<std::string>>(v);
              if (list.empty()) return std::nullopt;  // settingsFrom names the missing list
              return asap::io::checkRegistrars(list);
            })
            .help("Pool Registrars (port 3863 if left out); a DNS name stands for all its A/AAAA records."));
  s.add(Key::choice("asap.transport", "mptcp", {"mptcp", "tcp", "sctp"})
            .help("Transport to the registrars; mptcp falls back to tcp where the kernel lacks it (the relay "
                  "serves tcp when this is sctp)."));
  s.add(Key::choice("asap.dialect", "ng", {"ng", "classic"}).help("ASAP dialect spoken with the registrars."));
  s.add(Key::duration("asap.registration_life", 30s).range(100ms, 24h)
            .help("Registration life asked for; the registrar may shorten it."));
  s.add(Key::duration("asap.reregistration_interval", 0s).range(0s, 24h)
            .help("Re-registration period; 0: a third of the registration life."));
  s.add(Key::duration("asap.request_timeout", 3s).range(10ms, 1h)
            .help("A registration not answered within this time: the registrar is taken as gone (failover)."));
  s.add(Key::duration("asap.connect_timeout", 2s).range(10ms, 1h).help("Connection attempt to one registrar."));
  s.add(Key::duration("asap.hunt_backoff", 100ms).range(1ms, 1h)
            .help("Pause after a failed attempt to reach a registrar, doubling up to 5s."));
  s.add(Key::duration("resolve.cache_lifetime", 1s).range(0s, 1h)
            .help("How long a resolution of the local API may be answered from the cache; 0: always ask a registrar."));
  s.add(Key::choice("health.type", "tcp", {"tcp", "http", "grpc", "none"})
            .help("How the VNF is checked: TCP connect, HTTP GET (2xx/3xx), grpc.health.v1 Check, or not at all."));
  s.add(Key::string("health.path", "/healthz").metavar("PATH").help("HTTP path of the http check."));
  s.add(Key::string("health.service", "").metavar("NAME").help("Service name asked by the grpc check (\"\": the server)."));
  s.add(Key::duration("health.period", 1s).range(10ms, 1h).help("Time from one check's start to the next's."));
  s.add(Key::duration("health.timeout", 1s).range(1ms, 1h).help("A check not answered within this time failed."));
  s.add(Key::integer("health.failure_threshold", 3).range(1, 1000)
            .help("Consecutive failed checks that make the VNF unhealthy (a refused connection: at once)."));
  s.add(Key::integer("health.success_threshold", 1).range(1, 1000)
            .help("Consecutive passed checks that make it healthy again."));
  s.add(Key::choice("health.unhealthy_action", "deregister", {"deregister", "full_load"})
            .help("What an unhealthy VNF gets: deregistered, or kept registered at 100 % load."));
  s.add(Key::duration("drain.grace", 5s).range(0s, 1h)
            .help("After SIGTERM or POST /drain: deregister at once, exit 0 after this long."));
  s.add(Key::string("grpc.listen", "127.0.0.1:3880").metavar("ADDRESS:PORT").check(isEndpoint)
            .help("Local gRPC API (proto/vnfpool/v1/sidecar.proto) and grpc.health.v1; empty to disable."));
  s.add(Key::string("asap.listen", "127.0.0.1:3864").metavar("ADDRESS:PORT").check(isEndpoint)
            .help("Local ASAP relay for RSerPool-aware VNFs (asap.transport and asap.dialect); empty to disable."));
  s.add(Key::string("asap.takeover_listen", "").metavar("ADDRESS:PORT").check(isEndpoint)
            .help("Where registrars that take this PE over (or were suggested to) connect and tell it so; the port "
                  "goes out with each registration. Empty (default): the PE follows a takeover only by its own "
                  "failover."));
  s.add(Key::string("http.listen", "0.0.0.0:3881").metavar("ADDRESS:PORT").check(isEndpoint)
            .help("HTTP /metrics, /healthz, /readyz and POST /drain; empty to disable."));
  s.add(Key::choice("log.level", "info", {"debug", "info", "warn", "error"}).help("Least severe log level written."));
  s.add(Key::string("ready_file", "").metavar("FILE")
            .help("Write the PE ID and the bound HTTP port here (JSON) once serving (for tests)."));
  return s;
}

config::Result<Settings> settingsFrom(const config::Config& c, const std::vector<wire::IpAddress>& host_addresses) {
  std::vector<config::Error> errors;
  auto fail = [&](const char* key, std::string text) { errors.push_back({key, c.source(key), std::move(text)}); };
  Settings s;
  s.pool = c.string("pool.handle");
  if (s.pool.empty()) fail("pool.handle", "pool.handle must not be empty");

  // The PE: ID, user transport, policy.
  const std::string& id_text = c.string("pe.id");
  std::uint64_t id = 0;
  try {
    std::size_t used = 0;
    id = std::stoull(id_text, &used, 0);
    if (used != id_text.size()) throw std::invalid_argument("trailing");
  } catch (const std::exception&) {
    fail("pe.id", "pe.id: \"" + id_text + "\" is not a number (decimal or 0x hex)");
  }
  const bool classic = c.string("asap.dialect") == "classic";
  if (id == 0) {
    std::random_device random;
    id = std::uniform_int_distribution<std::uint64_t>(1, classic ? 0xFFFFFFFEull : ~0ull - 1)(random);
  } else if (classic && !wire::fitsClassic(id)) {
    fail("pe.id", "pe.id does not fit the classic dialect's 32 bits");
  }
  s.pe.id = id;
  s.pe.registration_life_ms = static_cast<std::uint32_t>(millis(c.duration("asap.registration_life")).count());
  s.pe.user_transport.kind = *wire::transportFromName(c.string("vnf.transport"));
  s.pe.user_transport.port = c.integerAs<std::uint16_t>("vnf.port");
  s.pe.user_transport.use = 0;  // data only
  for (const auto& text : c.list("vnf.addresses")) s.pe.user_transport.addresses.push_back(*wire::IpAddress::parse(text));
  if (s.pe.user_transport.addresses.empty()) {
    for (const auto& a : host_addresses) s.pe.user_transport.addresses.push_back(a);
  }
  if (s.pe.user_transport.addresses.empty()) s.pe.user_transport.addresses.push_back(wire::IpAddress::v4(127, 0, 0, 1));

  const auto* info = wire::policyByName(c.string("policy.type"));
  s.pe.policy = wire::Policy::make(info->type);
  for (auto field : info->fields) {
    switch (field) {
      case wire::PolicyField::Weight: s.pe.policy.set(field, c.integerAs<std::uint32_t>("policy.weight")); break;
      case wire::PolicyField::Priority: s.pe.policy.set(field, c.integerAs<std::uint32_t>("policy.priority")); break;
      case wire::PolicyField::Load: s.pe.policy.set(field, percentToLoad(c.integer("policy.load"))); break;
      case wire::PolicyField::LoadDegradation:
        s.pe.policy.set(field, percentToLoad(c.integer("policy.load_degradation")));
        break;
      default: break;  // DPF factors, increments, distance: 0 (registrars fill in distance)
    }
  }

  // The registrars.
  s.client.registrars = c.list("registrars");
  if (s.client.registrars.empty()) fail("registrars", "registrars: at least one registrar (host:port) is needed");
  s.client.protocol = *transport::parseProtocol(c.string("asap.transport"));
  s.client.dialect = classic ? wire::Dialect::Classic : wire::Dialect::Ng;
  s.client.connect_timeout = millis(c.duration("asap.connect_timeout"));
  s.pe_engine.reregistration_interval = c.duration("asap.reregistration_interval");
  s.pe_engine.request_timeout = c.duration("asap.request_timeout");
  s.pe_engine.hunt_backoff = c.duration("asap.hunt_backoff");
  s.pe_engine.hunt_backoff_max = std::max<config::Duration>(s.pe_engine.hunt_backoff, std::chrono::seconds(5));
  s.pe_engine.send_ng_capabilities = !classic;
  s.pu_engine.cache_lifetime = c.duration("resolve.cache_lifetime");
  s.pu_engine.request_timeout = c.duration("asap.request_timeout");
  s.pu_engine.hunt_backoff = s.pe_engine.hunt_backoff;
  s.pu_engine.hunt_backoff_max = s.pe_engine.hunt_backoff_max;
  s.pu_engine.send_ng_capabilities = !classic;

  // Health and drain.
  const auto& type = c.string("health.type");
  s.health.type = type == "none" ? HealthType::None : type == "http" ? HealthType::Http
                  : type == "grpc" ? HealthType::Grpc : HealthType::Tcp;
  s.health.path = c.string("health.path");
  if (s.health.type == HealthType::Http && (s.health.path.empty() || s.health.path.front() != '/'))
    fail("health.path", "health.path must start with '/'");
  s.health.service = c.string("health.service");
  s.health.timeout = millis(c.duration("health.timeout"));
  const auto& first = s.pe.user_transport.addresses.front();
  s.health.target.address = c.list("vnf.addresses").empty()
                                 ? boost::asio::ip::make_address("127.0.0.1")
                                 : boost::asio::ip::make_address(first.toString());
  s.health.target.port = s.pe.user_transport.port;
  s.agent.health_checks = s.health.type != HealthType::None;
  s.agent.health_period = c.duration("health.period");
  s.agent.failure_threshold = c.integerAs<std::uint32_t>("health.failure_threshold");
  s.agent.success_threshold = c.integerAs<std::uint32_t>("health.success_threshold");
  s.agent.unhealthy_action =
      c.string("health.unhealthy_action") == "full_load" ? UnhealthyAction::FullLoad : UnhealthyAction::Deregister;
  if (s.agent.unhealthy_action == UnhealthyAction::FullLoad && !s.pe.policy.get(wire::PolicyField::Load))
    fail("health.unhealthy_action", "health.unhealthy_action full_load needs a load-based policy.type (lu, lud, plu, rlu, ...)");
  s.agent.drain_grace = c.duration("drain.grace");

  if (!c.string("http.listen").empty()) s.http = transport::Endpoint::parse(c.string("http.listen"));
  if (!c.string("grpc.listen").empty()) s.grpc = transport::Endpoint::parse(c.string("grpc.listen"));
  if (!c.string("asap.listen").empty()) s.asap_relay = transport::Endpoint::parse(c.string("asap.listen"));
  if (!c.string("asap.takeover_listen").empty()) {
    s.client.listen = transport::Endpoint::parse(c.string("asap.takeover_listen"));
    if (classic || s.client.protocol == transport::Protocol::Sctp)
      fail("asap.takeover_listen", "asap.takeover_listen needs asap.dialect ng over tcp or mptcp");
  }
  s.log_level = c.string("log.level");
  s.ready_file = c.string("ready_file");
  if (!errors.empty()) return errors;
  return s;
}

std::vector<wire::IpAddress> hostAddresses() {
  std::vector<wire::IpAddress> out;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return out;
  for (const ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr) continue;
    wire::IpAddress a;
    if (i->ifa_addr->sa_family == AF_INET) {
      sockaddr_in sin{};
      std::memcpy(&sin, i->ifa_addr, sizeof sin);
      a.family = wire::IpAddress::Family::V4;
      std::memcpy(a.bytes.data(), &sin.sin_addr, 4);
      if (a.bytes[0] == 127) continue;
    } else if (i->ifa_addr->sa_family == AF_INET6) {
      sockaddr_in6 sin6{};
      std::memcpy(&sin6, i->ifa_addr, sizeof sin6);
      a.family = wire::IpAddress::Family::V6;
      std::memcpy(a.bytes.data(), &sin6.sin6_addr, 16);
      if (IN6_IS_ADDR_LOOPBACK(&sin6.sin6_addr) || IN6_IS_ADDR_LINKLOCAL(&sin6.sin6_addr)) continue;
    } else {
      continue;
    }
    if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
  }
  ::freeifaddrs(list);
  return out;
}

}  // namespace vnfpool::sidecar
