// vnfpool-registrar: the Pool Registrar daemon. Reads its configuration, runs the registrar on one event
// loop, and stops cleanly on SIGTERM or SIGINT.
#include <fstream>
#include <iostream>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "vnfpool/observe/health.h"
#include "vnfpool/observe/log.h"
#include "vnfpool/observe/metrics.h"
#include "vnfpool/registrar/options.h"

int main(int argc, char** argv) {
  using namespace vnfpool;  // NOLINT(google-build-using-namespace)
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--version") {
      std::cout << "vnfpool-registrar " << observe::buildInfo().version << " (" << observe::buildInfo().revision << ")\n";
      return 0;
    }
  }
  const auto schema = registrar::schema();
  auto loaded = config::load(schema, argc, argv, config::processEnvironment());
  if (!loaded.ok()) {
    std::cerr << config::describe(loaded.errors()) << "(see vnfpool-registrar --help)\n";
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
  auto settings = registrar::settingsFrom(cfg);
  if (!settings.ok()) {
    std::cerr << config::describe(settings.errors());
    return 2;
  }

  observe::Logger log("registrar");
  log.setLevel(*observe::parseLevel(settings.value().log_level));
  for (const auto& w : cfg.warnings()) log.warn(w);
  observe::Metrics metrics;
  observe::Health health;
  boost::asio::io_context loop;
  registrar::Registrar pr(loop, settings.value().options, log, metrics, health);
  if (auto error = pr.start()) {
    log.error("cannot start", {{"error", *error}});
    return 1;
  }
  if (!settings.value().ready_file.empty()) {
    std::ofstream ready(settings.value().ready_file);
    ready << registrar::readyFileContent(pr);
  }
  boost::asio::signal_set signals(loop, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    log.info("stopping", {{"signal", signal}});
    pr.stop();
  });
  loop.run();
  return 0;
}
