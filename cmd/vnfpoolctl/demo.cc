#include "demo.h"

#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <random>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "asap_commands.h"
#include "codec_commands.h"
#include "echo_server.h"
#include "table.h"
#include "vnfpool/observe/health.h"
#include "vnfpool/observe/log.h"
#include "vnfpool/observe/metrics.h"
#include "vnfpool/registrar/registrar.h"

namespace vnfpool::ctl {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

/// One demo PE: an echo service plus the PE client that keeps it registered with a changing load.
struct DemoPe {
  std::unique_ptr<EchoServer> echo;
  std::unique_ptr<asap::io::PoolElementClient> client;
  wire::PoolElement pe;
  bool alive = true;
  double load = 0;            // percent
  std::uint64_t picked = 0;   // times a resolution put it first, this second
  std::uint64_t picked_total = 0;
};

/// Puts the terminal into single-key mode while the demo runs (interactive only).
class RawTerminal {
 public:
  RawTerminal() {
    if (tcgetattr(STDIN_FILENO, &saved_) != 0) return;
    termios raw = saved_;
    raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    active_ = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
  }
  ~RawTerminal() {
    if (active_) tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
  }

 private:
  termios saved_{};
  bool active_ = false;
};

/// One demo registrar with its own metrics and probes, as one vnfpool-registrar process would have.
struct DemoPr {
  std::unique_ptr<observe::Metrics> metrics;
  std::unique_ptr<observe::Health> health;
  std::unique_ptr<observe::Logger> log;  // the registrar keeps a reference
  std::unique_ptr<registrar::Registrar> pr;
  std::string asap;
  bool alive = true;
};

std::string hexId(std::uint64_t v) {
  char text[24];
  std::snprintf(text, sizeof text, "0x%016llx", static_cast<unsigned long long>(v));
  return text;
}

}  // namespace

int runDemo(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::vector<FlagSpec> specs = {
      {"pes", 0, true, false, "", "6", "pool elements to start"},
      {"pool", 0, true, false, "", "sip-proxy", "pool handle"},
      {"policy", 0, true, false, "", "rlu", "a load-aware policy: rlu, lu, lud, plu"},
      {"rate", 0, true, false, "", "200", "handle resolutions per second by the pool user"},
      {"duration", 0, true, false, "", "0", "seconds to run; 0: until q or Ctrl-C (interactive), else 15"},
      {"kill-after", 0, true, false, "", "0", "kill one PE after this many seconds (0: only on the k key)"},
      {"registrars", 0, true, false, "", "3", "Pool Registrars in the ENRP mesh (1-5)"},
      {"kill-registrar-after", 0, true, false, "", "0",
       "kill the registrar with the most PEs after this many seconds (0: only on the r key)"},
      {"transport", 0, true, false, "", "mptcp", "mptcp or tcp"},
      {"help", 'h', false, false, "", "", "show this help"},
  };
  const char* usage =
      "usage: vnfpoolctl demo [flags]\n"
      "  Runs Pool Registrars in an ENRP mesh, PEs with a load-aware policy and a pool user on loopback,\n"
      "  and shows the pool live. Keys: k kills a PE (its connection drops, it leaves the pool at once),\n"
      "  r kills the registrar with the most PEs (its PEs move, spread over the others), q quits.\n";
  std::string error;
  auto f = Flags::parse(args, specs, error);
  if (!f || f->has("help")) {
    if (!f) err << "vnfpoolctl: " << error << "\n";
    err << usage << describeFlags(specs);
    return f ? kExitOk : kExitUsage;
  }
  auto pes_n = f->number("pes", 1, 64, error);
  auto rate = f->number("rate", 1, 100000, error);
  auto duration = f->number("duration", 0, 86400, error);
  auto kill_after = f->number("kill-after", 0, 86400, error);
  auto prs_n = f->number("registrars", 1, 5, error);
  auto kill_pr_after = f->number("kill-registrar-after", 0, 86400, error);
  auto protocol = transport::parseProtocol(f->get("transport"));
  if (!protocol) error = "--transport must be mptcp or tcp";
  const auto* policy_info = wire::policyByName(f->get("policy"));
  if (policy_info == nullptr || !wire::Policy::make(policy_info->type).get(wire::PolicyField::Load)) {
    error = "--policy must be a load-aware policy (rlu, lu, lud, plu, ...)";
    policy_info = nullptr;
  }
  if (!pes_n || !rate || !duration || !kill_after || !prs_n || !kill_pr_after || !protocol || policy_info == nullptr) {
    err << "vnfpoolctl: " << error << "\n";
    return kExitUsage;
  }
  const bool interactive = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
  const auto run_for = *duration > 0 ? std::chrono::seconds(*duration) : interactive ? std::chrono::seconds(0) : 15s;
  const std::string pool = f->get("pool");

  boost::asio::io_context loop;
  // The registrar, as vnfpool-registrar runs it, with its log in a file so the view stays readable.
  const std::string log_path = "/tmp/vnfpool-demo-registrar.log";
  observe::LoggerOptions log_options;
  auto log_file = std::make_shared<std::ofstream>(log_path, std::ios::trunc);
  struct FileSink final : observe::Sink {
    explicit FileSink(std::shared_ptr<std::ofstream> o) : out(std::move(o)) {}
    void write(std::string_view line) override { out->write(line.data(), static_cast<std::streamsize>(line.size())).flush(); }
    std::shared_ptr<std::ofstream> out;
  };
  log_options.sink = std::make_shared<FileSink>(log_file);
  observe::Logger log("registrar", log_options);
  // The mesh: registrar i lists every registrar started before it as an ENRP peer (the first one
  // learns of the others when they connect), with sub-second failure detection.
  std::vector<std::unique_ptr<DemoPr>> prs;
  std::vector<std::string> enrp_peers;
  for (std::uint64_t i = 0; i < *prs_n; ++i) {
    auto d = std::make_unique<DemoPr>();
    d->metrics = std::make_unique<observe::Metrics>();
    d->health = std::make_unique<observe::Health>();
    registrar::Options options;
    options.asap.push_back({*transport::Endpoint::parse("127.0.0.1:0"), *protocol, wire::Dialect::Ng});
    options.admin_address = "";
    options.asap_engine.keep_alive_interval = 1s;
    options.asap_engine.keep_alive_timeout = 500ms;
    if (*prs_n > 1) {
      registrar::EnrpOptions enrp;
      enrp.listen = *transport::Endpoint::parse("127.0.0.1:0");
      enrp.protocol = *protocol;
      enrp.peers = enrp_peers;
      enrp.engine.heartbeat_cycle = 200ms;
      enrp.engine.max_time_last_heard = 600ms;
      enrp.engine.max_time_no_response = 300ms;
      enrp.engine.mentor_discovery_timeout = 300ms;
      enrp.engine.takeover_expiry = 1s;
      enrp.engine.suggestion_metric = enrp::Config::SuggestionMetric::Rendezvous;
      options.enrp = enrp;
    }
    d->log = std::make_unique<observe::Logger>(log.with({{"registrar", i}}));
    d->pr = std::make_unique<registrar::Registrar>(loop, options, *d->log, *d->metrics, *d->health);
    if (auto e = d->pr->start()) {
      err << "vnfpoolctl: cannot start a registrar: " << *e << "\n";
      return 3;
    }
    d->asap = d->pr->asapEndpoints().front().at.toString();
    if (auto at = d->pr->enrpEndpoint()) enrp_peers.push_back(at->toString());
    prs.push_back(std::move(d));
  }
  // Every client lists every registrar, each PE in another order, so that the PEs spread over the
  // registrars and the PEs of a dead one spread over the survivors when they look for a new home.
  auto registrarOrder = [&](std::uint64_t n) {
    std::vector<std::string> all;
    for (const auto& d : prs) all.push_back(d->asap);
    std::rotate(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n % all.size()), all.end());
    if ((n / all.size()) % 2 == 1 && all.size() > 2) std::reverse(all.begin() + 1, all.end());
    return all;
  };

  asap::io::ClientOptions client;
  client.registrars = registrarOrder(0);
  client.protocol = *protocol;
  client.log = [log](std::string_view line) { log.warn(line); };

  std::mt19937_64 random(std::random_device{}());
  std::vector<std::unique_ptr<DemoPe>> pes;
  for (std::uint64_t i = 0; i < *pes_n; ++i) {
    auto p = std::make_unique<DemoPe>();
    p->echo = std::make_unique<EchoServer>(loop, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
    p->load = static_cast<double>(10 + 20 * i % 80);
    p->pe.id = random() | 1;
    p->pe.registration_life_ms = 30000;
    p->pe.user_transport.kind = wire::TransportKind::Tcp;
    p->pe.user_transport.port = p->echo->port();
    p->pe.user_transport.addresses.push_back(wire::IpAddress::v4(127, 0, 0, 1));
    p->pe.policy = wire::Policy::make(policy_info->type);
    auto pe_client = client;
    pe_client.registrars = registrarOrder(i);
    p->client = std::make_unique<asap::io::PoolElementClient>(loop, asap::PoolElementConfig{}, pe_client, asap::io::PoolElementEvents{});
    pes.push_back(std::move(p));
  }
  auto publishLoad = [&](DemoPe& p) {
    p.pe.policy.set(wire::PolicyField::Load, static_cast<std::uint32_t>(std::llround(p.load / 100.0 * wire::kFullLoad)));
    p.client->add(pool, p.pe);  // re-registration carries the new load (RFC 5352)
  };
  for (auto& p : pes) publishLoad(*p);

  // The pool user: resolutions at the given rate, one PE each; the first is the one "used".
  asap::PoolUserConfig pu_config;
  pu_config.cache_lifetime = asap::Duration{0};
  asap::io::PoolUserClient pu(loop, pu_config, client);
  std::uint64_t ok = 0, failed = 0, ok_last = 0, failed_total = 0;
  std::map<wire::PeId, DemoPe*> by_id;
  for (auto& p : pes) by_id[p->pe.id] = p.get();
  boost::asio::steady_timer tick(loop);
  const auto interval = std::chrono::microseconds(1000000 / *rate);
  auto next_request = Clock::now();
  std::function<void()> issue = [&] {
    next_request += interval;
    pu.resolve(pool, 1, [&](const asap::Resolved& r) {
      if (r.cause != 0 || r.pes.empty()) {
        ++failed;
        return;
      }
      ++ok;
      if (auto it = by_id.find(r.pes.front().id); it != by_id.end()) ++it->second->picked;
    });
    tick.expires_at(next_request);
    tick.async_wait([&](boost::system::error_code ec) {
      if (!ec) issue();
    });
  };

  const auto started = Clock::now();
  std::string event = "started " + std::to_string(pes.size()) + " PEs and " + std::to_string(prs.size()) + " registrars";
  auto killRegistrar = [&] {
    // The registrar that is home to the most PEs goes: its connections close, its peers notice, and
    // its PEs find a new home (their own hunt, or the survivors' takeover).
    DemoPr* victim = nullptr;
    std::size_t most = 0;
    std::size_t alive = 0;
    for (auto& d : prs) {
      if (!d->alive) continue;
      ++alive;
      const std::size_t own = d->pr->handlespace().ownerSize(d->pr->id());
      if (victim == nullptr || own > most) {
        victim = d.get();
        most = own;
      }
    }
    if (victim == nullptr || alive < 2) {
      event = "not killing the last registrar";
      return;
    }
    victim->alive = false;
    victim->pr->stop();
    std::ostringstream s;
    s << "killed registrar " << hexId(victim->pr->id()) << " (home of " << most << " PEs) at " << std::fixed
      << std::setprecision(1) << std::chrono::duration<double>(Clock::now() - started).count() << " s";
    event = s.str();
  };
  auto killOne = [&] {
    for (auto& p : pes) {
      if (!p->alive) continue;
      p->alive = false;
      p->client->abandon();  // the PE process "crashes": its connection drops without deregistering
      p->echo->stop();
      std::ostringstream s;
      s << "killed PE " << hexId(p->pe.id) << " at " << std::fixed << std::setprecision(1)
        << std::chrono::duration<double>(Clock::now() - started).count() << " s";
      event = s.str();
      return;
    }
  };

  std::unique_ptr<RawTerminal> raw;
  boost::asio::posix::stream_descriptor keys(loop);
  char key = 0;
  bool quit = false;
  std::function<void()> readKey = [&] {
    boost::asio::async_read(keys, boost::asio::buffer(&key, 1), [&](boost::system::error_code ec, std::size_t) {
      if (ec) return;
      if (key == 'k') killOne();
      if (key == 'r') killRegistrar();
      if (key == 'q') quit = true;
      readKey();
    });
  };
  if (interactive) {
    raw = std::make_unique<RawTerminal>();
    keys.assign(::dup(STDIN_FILENO));
    readKey();
  }

  boost::asio::steady_timer view(loop);
  bool killed_by_timer = false;
  bool killed_pr_by_timer = false;
  std::function<void()> show = [&] {
    const auto elapsed = Clock::now() - started;
    if (*kill_after > 0 && !killed_by_timer && elapsed >= std::chrono::seconds(*kill_after)) {
      killed_by_timer = true;
      killOne();
    }
    if (*kill_pr_after > 0 && !killed_pr_by_timer && elapsed >= std::chrono::seconds(*kill_pr_after)) {
      killed_pr_by_timer = true;
      killRegistrar();
    }
    // Loads drift, and each PE re-registers its new load: Least Used follows.
    for (auto& p : pes) {
      if (!p->alive) continue;
      p->load = std::clamp(p->load + std::uniform_real_distribution<double>(-15, 15)(random), 0.0, 100.0);
      publishLoad(*p);
    }
    if (interactive) out << "\x1b[2J\x1b[H";
    out << "vnfpool demo: pool \"" << pool << "\" (" << policy_info->long_name << "), " << prs.size()
        << " registrars (" << transport::protocolName(*protocol) << "), " << std::fixed << std::setprecision(0)
        << std::chrono::duration<double>(elapsed).count() << " s\n";
    Table r({"REGISTRAR", "ASAP", "STATE", "PES", "HOME-OF", "PEERS"});
    std::vector<const handlespace::Handlespace*> live;
    for (auto& d : prs) {
      const auto& hs = d->pr->handlespace();
      if (d->alive) live.push_back(&hs);
      r.add({hexId(d->pr->id()), d->asap, d->alive ? "alive" : "killed",
             d->alive ? std::to_string(hs.poolSize(pool)) : "-",
             d->alive ? std::to_string(hs.ownerSize(d->pr->id())) : "-",
             d->alive ? std::to_string(d->pr->peers().size()) : "-"});
    }
    r.print(out);
    out << "\n";
    Table t({"PE-ID", "ECHO", "LOAD", "HOME-REGISTRAR", "IN-POOL", "PICKED/S", "PICKED"});
    for (auto& p : pes) {
      p->picked_total += p->picked;
      std::size_t holders = 0;
      std::string home = "-";
      for (const auto* hs : live) {
        if (auto ref = hs->find(pool, p->pe.id)) {
          ++holders;
          home = hexId(hs->view(*ref).homePr());
        }
      }
      t.add({hexId(p->pe.id), "127.0.0.1:" + std::to_string(p->pe.user_transport.port),
             std::to_string(std::lround(p->load)) + "%", home,
             std::to_string(holders) + "/" + std::to_string(live.size()) + " registrars",
             std::to_string(p->picked), std::to_string(p->picked_total)});
      p->picked = 0;
    }
    t.print(out);
    failed_total += failed;
    out << "resolutions/s: " << (ok - ok_last) << "   failed: " << failed << " (total " << failed_total << ")"
        << "   pool members: " << (live.empty() ? 0 : live.front()->poolSize(pool)) << "\n";
    out << "last event: " << event << "\n";
    if (interactive) out << "keys: k = kill a PE, r = kill a registrar, q = quit\n";
    out << std::flush;
    ok_last = ok;
    failed = 0;
    const bool done = quit || (run_for.count() > 0 && elapsed >= run_for);
    if (done) {
      tick.cancel();
      keys.close();
      for (auto& p : pes)
        if (p->alive) p->client->removeAll();
      boost::asio::steady_timer* stop_timer = new boost::asio::steady_timer(loop, 300ms);
      stop_timer->async_wait([&, stop_timer](boost::system::error_code) {
        delete stop_timer;
        for (auto& d : prs)
          if (d->alive) d->pr->stop();
        loop.stop();
      });
      return;
    }
    view.expires_after(1s);
    view.async_wait([&](boost::system::error_code ec) {
      if (!ec) show();
    });
  };
  boost::asio::signal_set signals(loop, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int) {
    if (!ec) quit = true;
  });
  // Give the PEs a moment to register before the load starts, then go.
  boost::asio::steady_timer start(loop, 300ms);
  start.async_wait([&](boost::system::error_code) {
    next_request = Clock::now();
    issue();
    show();
  });
  loop.run();
  out << "demo over: " << ok << " resolutions, " << failed_total << " failed. Registrar log: " << log_path << "\n";
  return kExitOk;
}

}  // namespace vnfpool::ctl
