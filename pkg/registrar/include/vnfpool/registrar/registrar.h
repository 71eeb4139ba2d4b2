// The Pool Registrar's core: the handlespace, the ASAP registrar engine on TCP/MPTCP listeners, the admin
// gRPC API, metrics and probes, wired onto one event loop. cmd/registrar only parses configuration and
// runs this. ENRP (the PR mesh) plugs in beside the ASAP engine and shares the handlespace.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "vnfpool/asap/registrar_side.h"
#include "vnfpool/handlespace/handlespace.h"
#include "vnfpool/observe/health.h"
#include "vnfpool/observe/log.h"
#include "vnfpool/observe/metrics.h"
#include "vnfpool/transport/endpoint.h"
#include "vnfpool/transport/message_transport.h"
#include "vnfpool/wire/constants.h"

namespace vnfpool::registrar {

/// One ASAP listener: where, which stream protocol, which dialect its connections speak.
struct AsapListener {
  transport::Endpoint at{};
  transport::Protocol protocol = transport::Protocol::Mptcp;
  wire::Dialect dialect = wire::Dialect::Ng;
};

struct Options {
  /// This registrar's PR ID; 0 = a random one (kept below 2^32 so classic peers can carry it).
  wire::PrId pr_id = 0;
  std::vector<AsapListener> asap{};
  /// gRPC admin API ("127.0.0.1:0" style; port 0 = the OS picks). Empty: no admin API.
  std::string admin_address = "127.0.0.1:0";
  /// HTTP endpoint for /metrics, /healthz, /readyz. nullopt: none.
  std::optional<transport::Endpoint> http{};
  asap::RegistrarConfig asap_engine{};  // pr_id inside is overwritten with pr_id above
  handlespace::Config handlespace{};
  transport::Limits limits{};
};

/// A change of the handlespace as watchers see it.
struct HandlespaceEvent {
  enum class Kind : std::uint8_t { Added, Updated, Removed, Rehomed, Synced };
  Kind kind = Kind::Added;
  std::string pool{};
  wire::PeId pe = 0;
  wire::PrId owner = 0;
  std::optional<wire::PoolElement> element{};  // the PE as stored (not for Removed)
};

/// Receives handlespace events on the loop thread. Must not block.
using Watcher = std::function<void(const HandlespaceEvent&)>;

class Registrar {
 public:
  /// Everything lives on `loop`, which the caller runs (one thread). `log`, `metrics` and `health` must
  /// outlive the Registrar. Does no I/O.
  Registrar(boost::asio::io_context& loop, Options options, const observe::Logger& log, observe::Metrics& metrics,
            observe::Health& health);
  ~Registrar();
  Registrar(const Registrar&) = delete;
  Registrar& operator=(const Registrar&) = delete;

  /// Opens the listeners, the admin API and the HTTP endpoint. Returns a message naming what failed
  /// (nothing is left open then). Call on the loop thread before running the loop, or from it.
  std::optional<std::string> start();
  /// Stops accepting, closes every connection, stops the admin API and the HTTP endpoint; the loop then
  /// runs out of work. Idempotent. Loop thread.
  void stop();

  wire::PrId id() const;
  /// The bound ASAP endpoints (ports filled in), in the order of Options::asap.
  std::vector<AsapListener> asapEndpoints() const;
  /// "127.0.0.1:41234"; empty without an admin API.
  std::string adminAddress() const;
  /// The HTTP port; 0 without an HTTP endpoint.
  std::uint16_t httpPort() const;

  // ---- loop thread only (the admin API posts here)
  const handlespace::Handlespace& handlespace() const;
  /// Removes a PE (any owner) now; false if it is not there.
  bool deregisterPe(const std::string& pool, wire::PeId pe);
  /// Registers a watcher; returns its id. With `snapshot`, every current PE is delivered as Added
  /// first, then Synced.
  std::uint64_t watch(Watcher watcher, bool snapshot);
  void unwatch(std::uint64_t id);
  const asap::RegistrarStats& asapStats() const;
  std::size_t connectionCount() const;
  /// The registrar's ASAP metrics brought up to date (the /metrics handler does this before rendering).
  void refreshMetrics();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vnfpool::registrar
