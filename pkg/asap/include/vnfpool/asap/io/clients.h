// ASAP clients on the event loop: a Pool Element (registers PEs and keeps them registered) and a Pool
// User (resolves pools), each running its sans-I/O engine over TCP or MPTCP. The registrar list may hold
// addresses and DNS names; a name stands for all its A/AAAA records (a Kubernetes Service, for example).
// Loop thread only, like everything on the loop.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "vnfpool/asap/pool_element_side.h"
#include "vnfpool/asap/pool_user_side.h"
#include "vnfpool/transport/endpoint.h"

namespace vnfpool::asap::io {

struct ClientOptions {
  /// "127.0.0.1:3863", "[::1]:3863", "registrar.vnfpool.svc:3863", "registrar.vnfpool.svc" (port 3863).
  std::vector<std::string> registrars{};
  transport::Protocol protocol = transport::Protocol::Mptcp;
  wire::Dialect dialect = wire::Dialect::Ng;
  std::chrono::milliseconds connect_timeout{2000};
  /// Pool Element only: listen here (protocol as above) for registrars that take the PE over or were
  /// suggested to (they connect and send a Keep-Alive with H=1); the port, 0 for one the OS picks, is
  /// announced with each registration (PoolElementConfig::asap_endpoint). None: no listener.
  std::optional<transport::Endpoint> listen{};
  /// Receives the few lines worth logging (hunt failures, MPTCP fallback). Empty: stderr.
  std::function<void(std::string_view)> log{};
};

/// Checks a registrar list: every entry must be "host", "host:port" or "[v6]:port". Returns the first
/// problem, naming the entry.
std::optional<std::string> checkRegistrars(const std::vector<std::string>& registrars);

class PoolUserClient {
 public:
  using Done = std::function<void(const Resolved&)>;
  PoolUserClient(boost::asio::io_context& loop, PoolUserConfig config, ClientOptions options);
  ~PoolUserClient();

  /// Resolves `pool` into up to `items` PEs (0 = the registrar's default). `done` runs on the loop, never
  /// inside this call's stack... except for cache hits, which answer at once.
  void resolve(const std::string& pool, std::uint32_t items, Done done);
  void reportUnreachable(const std::string& pool, wire::PeId pe);
  const PoolUserStats& stats() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

struct PoolElementEvents {
  std::function<void(const PeRegistered&)> registered{};
  std::function<void(const PeRefused&)> refused{};
  std::function<void(const HomeChanged&)> home_changed{};
  /// The engine looks for a registrar: at the start, and after losing its home (a failover begins). It
  /// may be called from inside add().
  std::function<void()> hunting{};
};

class PoolElementClient {
 public:
  PoolElementClient(boost::asio::io_context& loop, PoolElementConfig config, ClientOptions options,
                    PoolElementEvents events);
  ~PoolElementClient();

  void add(const std::string& pool, const wire::PoolElement& pe);
  bool remove(const std::string& pool, wire::PeId pe);
  void removeAll();
  bool registered(const std::string& pool, wire::PeId pe) const;
  wire::PrId homeRegistrar() const;
  const PoolElementStats& stats() const;
  /// Closes the registrar connection without deregistering (a crash, as far as the registrar can tell).
  void abandon();
  /// Where registrars can reach this PE (ClientOptions::listen, with the port bound); nullopt without.
  std::optional<transport::Endpoint> listening() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vnfpool::asap::io
