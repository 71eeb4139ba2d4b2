// vnfpool-operator: reconciles Pool resources, drops the Pool Elements of Pods that leave service, and
// serves the sidecar-injection webhook. Reads its configuration, then runs vnfpool::op::Operator until
// SIGTERM/SIGINT (exit 0) or lost leadership (exit 1).
#include <csignal>
#include <fstream>
#include <iostream>
#include <thread>

#include <boost/asio/io_context.hpp>

#include "vnfpool/kube/config.h"
#include "vnfpool/observe/endpoints.h"
#include "vnfpool/observe/health.h"
#include "vnfpool/observe/http_server.h"
#include "vnfpool/observe/log.h"
#include "vnfpool/observe/metrics.h"
#include "vnfpool/operator/operator.h"

namespace {

std::stop_source g_stop;
extern "C" void onSignal(int) { g_stop.request_stop(); }

}  // namespace

int main(int argc, char** argv) {
  using namespace vnfpool;  // NOLINT(google-build-using-namespace)
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--version") {
      std::cout << "vnfpool-operator " << observe::buildInfo().version << " (" << observe::buildInfo().revision << ")\n";
      return 0;
    }
  }
  const auto schema = op::schema();
  auto loaded = config::load(schema, argc, argv, config::processEnvironment());
  if (!loaded.ok()) {
    std::cerr << config::describe(loaded.errors()) << "(see vnfpool-operator --help)\n";
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
  auto settings = op::settingsFrom(cfg);
  if (!settings.ok()) {
    std::cerr << config::describe(settings.errors());
    return 2;
  }
  observe::Logger log("operator");
  log.setLevel(*observe::parseLevel(settings.value().log_level));
  for (const auto& w : cfg.warnings()) log.warn(w);

  kube::Result<kube::Config> kc = settings.value().kubeconfig.empty()
                                      ? kube::loadDefault()
                                      : kube::loadKubeconfig({{settings.value().kubeconfig}, ""});
  if (!kc.ok()) {
    log.error("no Kubernetes configuration", {{"err", kc.error().describe()}});
    return 2;
  }
  auto kconfig = kc.value();
  kconfig.user_agent = "vnfpool-operator/" + observe::buildInfo().version;
  kconfig.qps = 50;
  kconfig.burst = 100;
  auto client = kube::Client::create(kconfig);
  if (!client.ok()) {
    log.error("cannot build the Kubernetes client", {{"err", client.error().describe()}});
    return 2;
  }

  observe::Metrics metrics;
  observe::Health health;
  boost::asio::io_context http_loop;
  observe::HttpServerOptions http_options;
  const auto& listen = settings.value().http_listen;
  const auto colon = listen.rfind(':');
  http_options.address = listen.substr(0, colon);
  if (http_options.address.size() > 1 && http_options.address.front() == '[')
    http_options.address = http_options.address.substr(1, http_options.address.size() - 2);
  http_options.port = static_cast<std::uint16_t>(std::stoul(listen.substr(colon + 1)));
  http_options.logger = &log;
  observe::HttpServer http(http_loop, http_options);
  observe::serveMetrics(http, metrics);
  observe::serveProbes(http, health);
  if (auto ec = http.start()) {
    log.error("cannot serve HTTP", {{"listen", listen}, {"err", ec.message()}});
    return 2;
  }
  std::thread http_thread([&] { http_loop.run(); });
  if (!settings.value().ready_file.empty()) {
    std::ofstream ready(settings.value().ready_file);
    ready << "{\"http\":" << http.port() << "}\n";
  }
  log.info("started", {{"http", static_cast<std::int64_t>(http.port())}});

  std::signal(SIGTERM, onSignal);
  std::signal(SIGINT, onSignal);
  op::Operator oper(settings.value(), *client.value(), log, metrics, health);
  const int code = oper.run(g_stop.get_token());
  log.info("stopped", {{"code", static_cast<std::int64_t>(code)}});
  http.stop();
  http_thread.join();
  return code;
}
