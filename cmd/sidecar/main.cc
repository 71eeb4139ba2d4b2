// vnfpool-sidecar: makes the VNF next to it a Pool Element. Reads its configuration, runs the sidecar on
// one event loop; SIGTERM/SIGINT (or POST /drain) deregisters at once and exits 0 after drain.grace.
#include <iostream>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "vnfpool/observe/health.h"
#include "vnfpool/observe/log.h"
#include "vnfpool/observe/metrics.h"
#include "vnfpool/sidecar/sidecar.h"

int main(int argc, char** argv) {
  using namespace vnfpool;  // NOLINT(google-build-using-namespace)
  const auto schema = sidecar::schema();
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--version") {
      std::cout << "vnfpool-sidecar " << observe::buildInfo().version << " (" << observe::buildInfo().revision << ")\n";
      return 0;
    }
  }
  auto loaded = config::load(schema, argc, argv, config::processEnvironment());
  if (!loaded.ok()) {
    std::cerr << config::describe(loaded.errors()) << "(see vnfpool-sidecar --help)\n";
    return 2;
  }
  const auto& cfg = loaded.value();
  if (cfg.helpRequested()) {
    std::cout << schema.usage();
    return 0;
  }
  if (cfg.printConfigRequested()) {
    std::cout << cfg.print();
    return 0;
  }
  auto settings = sidecar::settingsFrom(cfg, sidecar::hostAddresses());
  if (!settings.ok()) {
    std::cerr << config::describe(settings.errors()) << "(see vnfpool-sidecar --help)\n";
    return 2;
  }

  observe::Logger log("sidecar");
  log.setLevel(*observe::parseLevel(settings.value().log_level));
  for (const auto& w : cfg.warnings()) log.warn(w);
  observe::Metrics metrics;
  observe::Health health;
  boost::asio::io_context loop;
  int exit_code = 0;
  sidecar::Sidecar sc(loop, settings.value(), log, metrics, health, [&](int code) {
    exit_code = code;
    loop.stop();
  });
  if (auto error = sc.start()) {
    log.error("cannot start", {{"error", *error}});
    return 1;
  }
  boost::asio::signal_set signals(loop, SIGTERM, SIGINT);
  std::function<void()> wait = [&] {
    signals.async_wait([&](const boost::system::error_code& ec, int signal) {
      if (ec) return;
      sc.drain(signal == SIGTERM ? "SIGTERM" : "SIGINT");
      wait();
    });
  };
  wait();
  loop.run();
  return exit_code;
}
