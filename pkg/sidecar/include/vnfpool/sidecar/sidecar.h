// The sidecar daemon's body on one event loop: the Agent (decisions), the ASAP Pool Element client (the
// registration, keep-alives, failover between registrars), the Prober (health checks of the VNF), and the
// HTTP server (/metrics, /healthz, /readyz, POST /drain). cmd/sidecar is its thin main.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>

#include "vnfpool/observe/health.h"
#include "vnfpool/observe/log.h"
#include "vnfpool/observe/metrics.h"
#include "vnfpool/sidecar/agent.h"
#include "vnfpool/sidecar/settings.h"

namespace vnfpool::sidecar {

class Sidecar {
 public:
  /// `exit` is called (on the loop) with the process's exit code once the drain is over.
  Sidecar(boost::asio::io_context& loop, Settings settings, observe::Logger log, observe::Metrics& metrics,
          observe::Health& health, std::function<void(int)> exit);
  ~Sidecar();
  Sidecar(const Sidecar&) = delete;
  Sidecar& operator=(const Sidecar&) = delete;

  /// Binds the HTTP server and begins probing and registering. Returns an error text if it cannot.
  std::optional<std::string> start();
  /// SIGTERM, SIGINT, POST /drain: deregister now, exit after drain.grace.
  void drain(const std::string& reason);

  State state() const;
  std::uint16_t httpPort() const;
  wire::PeId peId() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vnfpool::sidecar
