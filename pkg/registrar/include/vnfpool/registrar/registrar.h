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
#include "vnfpool/enrp/engine.h"
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
  /// SCTP multi-homing: further local addresses of the listener (sctp_bindx), same port.
  std::vector<boost::asio::ip::address> sctp_extra_addresses{};
};

/// The PR mesh (ENRP): where to listen, how to find the other registrars, the engine's timers.
struct EnrpOptions {
  transport::Endpoint listen{boost::asio::ip::address_v4::any(), 9901};
  transport::Protocol protocol = transport::Protocol::Mptcp;
  /// Dialect of our listener and of the connections we open.
  wire::Dialect dialect = wire::Dialect::Ng;
  /// "host:port" entries (port 9901 if left out). Literal addresses are peers as given; a name stands
  /// for all its A/AAAA records and is resolved again every dns_refresh (a headless Service).
  std::vector<std::string> peers{};
  std::chrono::milliseconds dns_refresh{5000};
  std::chrono::milliseconds connect_timeout{2000};
  /// Timers, page sizes, suggestion metric; pr_id and transports are filled in by the registrar.
  enrp::Config engine{};
};

/// A pool's policy pinned by the operator (Pool resource): registrations with another policy type are
/// refused with "inconsistent pooling policy".
struct PoolPolicyPin {
  std::string pool{};
  wire::PolicyType policy{};
  std::uint32_t handle_resolution_items = 0;  // 0 = the registrar's default
};

struct Options {
  /// This registrar's PR ID; 0 = a random one (kept below 2^32 so classic peers can carry it).
  wire::PrId pr_id = 0;
  std::vector<AsapListener> asap{};
  /// gRPC admin API ("127.0.0.1:0" style; port 0 = the OS picks). Empty: no admin API.
  std::string admin_address = "127.0.0.1:0";
  /// HTTP endpoint for /metrics, /healthz, /readyz. nullopt: none.
  std::optional<transport::Endpoint> http{};
  /// Pools that get series of their own in the per-pool metrics (vnfpool_registrar_pool_*{pool}); the
  /// first pools seen keep theirs, later ones are summed under pool="_other". 0: no per-pool series.
  std::size_t metrics_pool_series = 100;
  asap::RegistrarConfig asap_engine{};  // pr_id inside is overwritten with pr_id above
  handlespace::Config handlespace{};
  /// Large handlespace arrays in transparent huge pages (handlespace::setHugePages; process-wide).
  bool huge_pages = true;
  /// PEs the handlespace makes room for at start-up (handlespace::Handlespace::reserve); 0: none.
  std::size_t reserve_pes = 0;
  transport::Limits limits{};
  /// ENRP; nullopt: a single registrar without a mesh.
  std::optional<EnrpOptions> enrp{};
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
  /// Removes every PE (of `pool`, or of every pool if empty) whose user transport carries one of the
  /// addresses; returns what was removed (pool, PE ID, home PR).
  std::vector<HandlespaceEvent> removeByAddress(const std::string& pool, const std::vector<wire::IpAddress>& addresses);
  /// Pins (or with `clear`, unpins) a pool's policy. Returns how many PEs in the pool have another policy.
  std::size_t setPoolPolicy(const PoolPolicyPin& pin, bool clear);
  std::vector<PoolPolicyPin> poolPolicies() const;
  /// The ENRP peers (empty without a mesh).
  std::vector<enrp::PeerInfo> peers() const;
  /// The bound ENRP endpoint; nullopt without a mesh.
  std::optional<transport::Endpoint> enrpEndpoint() const;
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
