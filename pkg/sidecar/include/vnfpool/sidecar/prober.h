// Health probes of the VNF on the event loop: TCP connect, HTTP GET (2xx and 3xx pass), and grpc.health.v1
// Check (SERVING passes). Each probe answers exactly once, within the configured timeout.
#pragma once

#include <functional>
#include <memory>

#include <boost/asio/io_context.hpp>

#include "vnfpool/sidecar/agent.h"
#include "vnfpool/sidecar/settings.h"

namespace vnfpool::sidecar {

class Prober {
 public:
  using Done = std::function<void(ProbeResult)>;
  Prober(boost::asio::io_context& loop, HealthSettings settings);
  ~Prober();
  Prober(const Prober&) = delete;
  Prober& operator=(const Prober&) = delete;

  /// Starts one probe; `done` runs later on the loop (never inside this call). After the Prober is
  /// destroyed no `done` runs.
  void probe(Done done);

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace vnfpool::sidecar
