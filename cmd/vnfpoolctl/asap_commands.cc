#include "asap_commands.h"

#include <cmath>
#include <fstream>
#include <iostream>
#include <memory>
#include <random>
#include <stdexcept>

#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "codec_commands.h"
#include "echo_server.h"
#include "table.h"
#include "vnfpool/wire/json.h"

namespace vnfpool::ctl {

using namespace std::chrono_literals;

std::vector<FlagSpec> asapSpecs() {
  return {
      {"registrar", 'r', true, true, "VNFPOOL_REGISTRAR", "127.0.0.1:3863",
       "registrar ASAP address(es): host:port, a DNS name stands for all its addresses"},
      {"transport", 0, true, false, "", "mptcp", "mptcp, tcp or sctp (PPID 11 classic, NGAS ng)"},
      {"dialect", 'd', true, false, "", "ng", "ng or classic"},
      {"output", 'o', true, false, "", "table", "table or json"},
      {"help", 'h', false, false, "", "", "show this help"},
  };
}

std::vector<FlagSpec> policySpecs() {
  return {
      {"policy", 0, true, false, "", "rr", "selection policy: rr, wrr, rand, wrand, prio, lu, lud, plu, rlu, ..."},
      {"weight", 0, true, false, "", "1", "weight (wrr, wrand)"},
      {"priority", 0, true, false, "", "0", "priority (prio)"},
      {"load", 0, true, false, "", "0", "load in percent (lu and friends)"},
      {"load-degradation", 0, true, false, "", "0", "load degradation in percent (lud)"},
      {"load-increment", 0, true, false, "", "0", "load increment in percent (plu)"},
  };
}

std::optional<asap::io::ClientOptions> clientOptions(const Flags& f, std::string& error) {
  asap::io::ClientOptions o;
  o.registrars = f.all("registrar");
  if (auto problem = asap::io::checkRegistrars(o.registrars)) {
    error = "--registrar: " + *problem;
    return std::nullopt;
  }
  auto p = transport::parseProtocol(f.get("transport"));
  if (!p) {
    error = "--transport must be mptcp, tcp or sctp";
    return std::nullopt;
  }
  o.protocol = *p;
  const auto d = f.get("dialect");
  if (d != "ng" && d != "classic") {
    error = "--dialect must be ng or classic";
    return std::nullopt;
  }
  o.dialect = d == "ng" ? wire::Dialect::Ng : wire::Dialect::Classic;
  o.log = [](std::string_view line) { std::cerr << line << "\n"; };
  return o;
}

std::optional<wire::Policy> policyFrom(const Flags& f, std::string& error) {
  const auto* info = wire::policyByName(f.get("policy"));
  if (info == nullptr) {
    error = "--policy: unknown policy \"" + f.get("policy") + "\"";
    return std::nullopt;
  }
  wire::Policy p = wire::Policy::make(info->type);
  auto percent = [&](const std::string& name) -> std::optional<std::uint32_t> {
    auto v = f.number(name, 0, 100, error);
    if (!v) return std::nullopt;
    return static_cast<std::uint32_t>(std::llround(static_cast<double>(*v) / 100.0 * wire::kFullLoad));
  };
  for (auto field : info->fields) {
    std::optional<std::uint32_t> value;
    switch (field) {
      case wire::PolicyField::Weight: {
        auto v = f.number("weight", 0, 0xFFFFFFFFu, error);
        if (v) value = static_cast<std::uint32_t>(*v);
        break;
      }
      case wire::PolicyField::Priority: {
        auto v = f.number("priority", 0, 0xFFFFFFFFu, error);
        if (v) value = static_cast<std::uint32_t>(*v);
        break;
      }
      case wire::PolicyField::Load: value = percent("load"); break;
      case wire::PolicyField::LoadDegradation: value = percent("load-degradation"); break;
      case wire::PolicyField::LoadIncrement: value = percent("load-increment"); break;
      default: value = 0; break;  // DPF factors and distance: 0 (registrars fill in distance)
    }
    if (!value) return std::nullopt;
    p.set(field, *value);
  }
  return p;
}

namespace {

std::string addresses(const wire::Transport& t) {
  std::string s;
  for (std::size_t i = 0; i < t.addresses.size(); ++i) {
    const auto a = t.addresses[i].toString();
    s += (i ? "," : "") + (t.addresses[i].isV4() ? a : "[" + a + "]");
  }
  return s + ":" + std::to_string(t.port);
}

std::string hexId(std::uint64_t v) {
  char text[24];
  std::snprintf(text, sizeof text, "0x%08llx", static_cast<unsigned long long>(v));
  return text;
}

std::string policyText(const wire::Policy& p) {
  const auto* info = wire::policyInfo(p.type);
  if (info == nullptr) return hexId(p.type);
  std::string s(info->name);
  for (std::size_t i = 0; i < info->fields.size() && i < p.word_count; ++i) {
    s += " " + std::string(wire::policyFieldName(info->fields[i])) + "=";
    const auto field = info->fields[i];
    if (field == wire::PolicyField::Load || field == wire::PolicyField::LoadDegradation ||
        field == wire::PolicyField::LoadIncrement) {
      s += std::to_string(std::llround(100.0 * p.words[i] / wire::kFullLoad)) + "%";
    } else {
      s += std::to_string(p.words[i]);
    }
  }
  return s;
}

}  // namespace

int runResolve(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  auto specs = asapSpecs();
  specs.push_back({"items", 'n', true, false, "", "0", "PEs wanted (0: the registrar's default)"});
  specs.push_back({"timeout", 0, true, false, "", "5", "seconds to wait"});
  const char* usage = "usage: vnfpoolctl resolve POOL [flags]\n  Asks a registrar for PEs of POOL (handle resolution).\n";
  std::string error;
  auto f = Flags::parse(args, specs, error);
  if (!f || f->has("help") || (f && f->positional().size() != 1)) {
    if (!f) err << "vnfpoolctl: " << error << "\n";
    if (f && !f->has("help")) err << "vnfpoolctl: resolve needs exactly one POOL\n";
    err << usage << describeFlags(specs);
    return f && f->has("help") ? kExitOk : kExitUsage;
  }
  auto options = clientOptions(*f, error);
  auto items = f->number("items", 0, 0xFFFFFFFFu, error);
  auto timeout = f->number("timeout", 1, 3600, error);
  if (!options || !items || !timeout) {
    err << "vnfpoolctl: " << error << "\n";
    return kExitUsage;
  }
  boost::asio::io_context loop;
  asap::PoolUserConfig config;
  config.cache_lifetime = asap::Duration{0};
  config.request_timeout = std::chrono::seconds(*timeout);
  asap::io::PoolUserClient pu(loop, config, *options);
  std::optional<asap::Resolved> result;
  pu.resolve(f->positional()[0], static_cast<std::uint32_t>(*items), [&](const asap::Resolved& r) {
    result = r;
    loop.stop();
  });
  boost::asio::steady_timer guard(loop, std::chrono::seconds(*timeout) + 1s);
  guard.async_wait([&](boost::system::error_code ec) {
    if (!ec) loop.stop();
  });
  loop.run();
  if (!result) {
    err << "vnfpoolctl: no answer from the registrar within " << *timeout << "s\n";
    return 3;
  }
  if (result->cause != 0) {
    err << "vnfpoolctl: cannot resolve \"" << result->pool << "\": " << wire::causeName(result->cause) << " (cause 0x"
        << std::hex << result->cause << std::dec << ")\n";
    return kExitBadInput;
  }
  if (f->get("output") == "json") {
    wire::asap::HandleResolutionResponse r;
    r.pool_handle = result->pool;
    r.pes = result->pes;
    out << wire::toJson(wire::AsapMessage{r}) << "\n";
    return kExitOk;
  }
  Table t({"PE-ID", "HOME-PR", "POLICY", "USER-TRANSPORT"});
  for (const auto& pe : result->pes)
    t.add({hexId(pe.id), hexId(pe.home_pr), policyText(pe.policy),
           std::string(wire::transportName(pe.user_transport.kind)) + ":" + addresses(pe.user_transport)});
  t.print(out);
  return kExitOk;
}

int runRegister(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  auto specs = asapSpecs();
  for (auto& s : policySpecs()) specs.push_back(s);
  specs.push_back({"port", 'p', true, false, "", "0", "TCP port of the echo service to register (0: any free)"});
  specs.push_back({"address", 0, true, false, "", "127.0.0.1", "address to serve and register"});
  specs.push_back({"id", 0, true, false, "", "0", "PE ID (0: random)"});
  specs.push_back({"life", 0, true, false, "", "30000", "registration life in ms"});
  specs.push_back({"ready-file", 0, true, false, "", "", "write {\"pe_id\",\"port\"} here once registered"});
  specs.push_back({"listen", 0, true, false, "", "",
                   "accept registrars that take this PE over here (port 0: any), announced with each registration"});
  const char* usage =
      "usage: vnfpoolctl register POOL [flags]\n  Serves a TCP echo and registers it as a PE of POOL until "
      "interrupted (then deregisters).\n";
  std::string error;
  auto f = Flags::parse(args, specs, error);
  if (!f || f->has("help") || (f && f->positional().size() != 1)) {
    if (!f) err << "vnfpoolctl: " << error << "\n";
    if (f && !f->has("help")) err << "vnfpoolctl: register needs exactly one POOL\n";
    err << usage << describeFlags(specs);
    return f && f->has("help") ? kExitOk : kExitUsage;
  }
  auto options = clientOptions(*f, error);
  auto policy = options ? policyFrom(*f, error) : std::nullopt;
  auto port = f->number("port", 0, 65535, error);
  auto id = f->number("id", 0, options && options->dialect == wire::Dialect::Classic ? 0xFFFFFFFFull : ~0ull, error);
  auto life = f->number("life", 100, 0x7FFFFFFF, error);
  auto address = wire::IpAddress::parse(f->get("address"));
  if (!address) error = "--address: not an IP address";
  if (options && !f->get("listen").empty()) {
    options->listen = transport::Endpoint::parse(f->get("listen"));
    if (!options->listen) error = "--listen: expected ADDR:PORT, e.g. 127.0.0.1:0";
    if (options->listen && (options->dialect != wire::Dialect::Ng || options->protocol == transport::Protocol::Sctp)) {
      error = "--listen: needs the ng dialect over tcp or mptcp (registrars adopt listening PEs that way)";
      options->listen.reset();
    }
  }
  if (!options || !policy || !port || !id || !life || !address || (!f->get("listen").empty() && !options->listen)) {
    err << "vnfpoolctl: " << error << "\n";
    return kExitUsage;
  }
  const std::string pool = f->positional()[0];
  boost::asio::io_context loop;
  std::unique_ptr<EchoServer> echo;
  try {
    echo = std::make_unique<EchoServer>(
        loop, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address(f->get("address")),
                                             static_cast<std::uint16_t>(*port)));
  } catch (const boost::system::system_error& e) {
    err << "vnfpoolctl: cannot serve on " << f->get("address") << ":" << *port << ": " << e.code().message() << "\n";
    return 3;
  }
  wire::PoolElement pe;
  pe.id = *id;
  if (pe.id == 0) {
    std::random_device random;
    pe.id = std::uniform_int_distribution<std::uint64_t>(1, options->dialect == wire::Dialect::Classic ? 0xFFFFFFFEull : ~0ull - 1)(random);
  }
  pe.registration_life_ms = static_cast<std::uint32_t>(*life);
  pe.user_transport.kind = wire::TransportKind::Tcp;
  pe.user_transport.port = echo->port();
  pe.user_transport.addresses.push_back(*address);
  pe.policy = *policy;

  const std::string ready_file = f->get("ready-file");
  int exit_code = kExitOk;
  asap::io::PoolElementEvents events;
  events.registered = [&](const asap::PeRegistered& r) {
    out << "registered " << r.pool << " " << hexId(r.pe) << " at registrar " << hexId(r.home) << ", serving echo on "
        << addresses(pe.user_transport) << std::endl;
    if (!ready_file.empty()) {
      std::ofstream ready(ready_file);
      ready << "{\"pe_id\":" << r.pe << ",\"port\":" << pe.user_transport.port << "}\n";
    }
  };
  events.refused = [&](const asap::PeRefused& r) {
    err << "vnfpoolctl: registration refused: " << wire::causeName(r.cause) << " (cause 0x" << std::hex << r.cause
        << std::dec << ")\n";
    exit_code = kExitBadInput;
    loop.stop();
  };
  events.home_changed = [&](const asap::HomeChanged& h) { out << "home registrar is now " << hexId(h.home) << std::endl; };
  std::unique_ptr<asap::io::PoolElementClient> client_holder;
  try {
    client_holder = std::make_unique<asap::io::PoolElementClient>(loop, asap::PoolElementConfig{}, *options, events);
  } catch (const std::runtime_error& e) {
    err << "vnfpoolctl: " << e.what() << "\n";
    return 3;
  }
  auto& client = *client_holder;
  if (auto at = client.listening()) out << "accepting registrars on " << at->toString() << std::endl;
  client.add(pool, pe);

  boost::asio::signal_set signals(loop, SIGINT, SIGTERM);
  boost::asio::steady_timer drain(loop);
  signals.async_wait([&](boost::system::error_code ec, int) {
    if (ec) return;
    out << "deregistering" << std::endl;
    client.removeAll();
    drain.expires_after(500ms);  // let the Deregistration go out (and its answer come back)
    drain.async_wait([&](boost::system::error_code) { loop.stop(); });
  });
  loop.run();
  return exit_code;
}

}  // namespace vnfpool::ctl
