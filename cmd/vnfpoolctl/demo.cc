#include "demo.h"

#include <termios.h>
#include <unistd.h>

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

std::string hexId(std::uint64_t v) {
  char text[24];
  std::snprintf(text, sizeof text, "0x%016llx", static_cast<unsigned long long>(v));
  return text;
}

}  // namespace

int runDemo(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::vector<FlagSpec> specs = {
      {"pes", 0, true, false, "", "4", "pool elements to start"},
      {"pool", 0, true, false, "", "sip-proxy", "pool handle"},
      {"policy", 0, true, false, "", "rlu", "a load-aware policy: rlu, lu, lud, plu"},
      {"rate", 0, true, false, "", "200", "handle resolutions per second by the pool user"},
      {"duration", 0, true, false, "", "0", "seconds to run; 0: until q or Ctrl-C (interactive), else 15"},
      {"kill-after", 0, true, false, "", "0", "kill one PE after this many seconds (0: only on the k key)"},
      {"transport", 0, true, false, "", "mptcp", "mptcp or tcp"},
      {"help", 'h', false, false, "", "", "show this help"},
  };
  const char* usage =
      "usage: vnfpoolctl demo [flags]\n"
      "  Runs a Pool Registrar, PEs with a load-aware policy and a pool user on loopback, and shows the\n"
      "  pool live. Keys: k kills a PE (its connection drops, it leaves the pool at once), q quits.\n";
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
  auto protocol = transport::parseProtocol(f->get("transport"));
  if (!protocol) error = "--transport must be mptcp or tcp";
  const auto* policy_info = wire::policyByName(f->get("policy"));
  if (policy_info == nullptr || !wire::Policy::make(policy_info->type).get(wire::PolicyField::Load)) {
    error = "--policy must be a load-aware policy (rlu, lu, lud, plu, ...)";
    policy_info = nullptr;
  }
  if (!pes_n || !rate || !duration || !kill_after || !protocol || policy_info == nullptr) {
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
  observe::Metrics metrics;
  observe::Health health;
  registrar::Options options;
  options.asap.push_back({*transport::Endpoint::parse("127.0.0.1:0"), *protocol, wire::Dialect::Ng});
  options.admin_address = "127.0.0.1:0";
  options.asap_engine.keep_alive_interval = 1s;
  options.asap_engine.keep_alive_timeout = 500ms;
  registrar::Registrar pr(loop, options, log, metrics, health);
  if (auto e = pr.start()) {
    err << "vnfpoolctl: cannot start the registrar: " << *e << "\n";
    return 3;
  }
  const std::string registrar_at = pr.asapEndpoints().front().at.toString();

  asap::io::ClientOptions client;
  client.registrars = {registrar_at};
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
    p->client = std::make_unique<asap::io::PoolElementClient>(loop, asap::PoolElementConfig{}, client, asap::io::PoolElementEvents{});
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
  std::string event = "started " + std::to_string(pes.size()) + " PEs; registrar " + registrar_at;
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
  std::function<void()> show = [&] {
    const auto elapsed = Clock::now() - started;
    if (*kill_after > 0 && !killed_by_timer && elapsed >= std::chrono::seconds(*kill_after)) {
      killed_by_timer = true;
      killOne();
    }
    // Loads drift, and each PE re-registers its new load: Least Used follows.
    for (auto& p : pes) {
      if (!p->alive) continue;
      p->load = std::clamp(p->load + std::uniform_real_distribution<double>(-15, 15)(random), 0.0, 100.0);
      publishLoad(*p);
    }
    const auto& hs = pr.handlespace();
    if (interactive) out << "\x1b[2J\x1b[H";
    out << "vnfpool demo: pool \"" << pool << "\" (" << policy_info->long_name << "), registrar " << registrar_at << " ("
        << transport::protocolName(*protocol) << "), " << std::fixed << std::setprecision(0)
        << std::chrono::duration<double>(elapsed).count() << " s\n";
    Table t({"PE-ID", "ECHO", "LOAD", "IN-POOL", "PICKED/S", "PICKED"});
    for (auto& p : pes) {
      p->picked_total += p->picked;
      t.add({hexId(p->pe.id), "127.0.0.1:" + std::to_string(p->pe.user_transport.port),
             std::to_string(std::lround(p->load)) + "%", hs.contains(pool, p->pe.id) ? "yes" : "no",
             std::to_string(p->picked), std::to_string(p->picked_total)});
      p->picked = 0;
    }
    t.print(out);
    failed_total += failed;
    out << "resolutions/s: " << (ok - ok_last) << "   failed: " << failed << " (total " << failed_total << ")"
        << "   pool members: " << hs.poolSize(pool) << "\n";
    out << "last event: " << event << "\n";
    if (interactive) out << "keys: k = kill a PE, q = quit\n";
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
        pr.stop();
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
