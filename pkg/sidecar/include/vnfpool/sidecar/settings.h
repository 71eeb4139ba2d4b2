// The sidecar's configuration: the pkg/config schema (component "sidecar": YAML file <
// VNFPOOL_SIDECAR_<KEY> < flags) and its conversion into the settings the daemon runs with.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "vnfpool/asap/io/clients.h"
#include "vnfpool/asap/pool_element_side.h"
#include "vnfpool/config/config.h"
#include "vnfpool/sidecar/agent.h"
#include "vnfpool/transport/endpoint.h"
#include "vnfpool/wire/types.h"

namespace vnfpool::sidecar {

enum class HealthType : std::uint8_t { None, Tcp, Http, Grpc };

struct HealthSettings {
  HealthType type = HealthType::Tcp;
  std::string path = "/healthz";  // HTTP path
  std::string service{};          // grpc.health.v1 service name ("" = the whole server)
  std::chrono::milliseconds timeout{1000};
  /// Where the VNF is probed: the first vnf.addresses entry, else 127.0.0.1; the port is vnf.port.
  transport::Endpoint target{};
};

struct Settings {
  std::string pool{};
  /// The PE as registered (ID, user transport, policy, registration life); home_pr is the registrar's.
  wire::PoolElement pe{};
  asap::io::ClientOptions client{};
  asap::PoolElementConfig pe_engine{};
  asap::PoolUserConfig pu_engine{};  // resolutions of the local API
  AgentConfig agent{};
  HealthSettings health{};
  std::optional<transport::Endpoint> http{};        // /metrics /healthz /readyz, POST /drain
  std::optional<transport::Endpoint> grpc{};        // local gRPC API (proto/vnfpool/v1/sidecar.proto)
  std::optional<transport::Endpoint> asap_relay{};  // local ASAP relay (same transport and dialect as asap.*)
  std::string log_level = "info";
  std::string ready_file{};
};

config::Schema schema();

/// Converts a loaded configuration; errors name the key. `host_addresses` is what vnf.addresses defaults
/// to (the caller lists the host's interfaces).
config::Result<Settings> settingsFrom(const config::Config& c, const std::vector<wire::IpAddress>& host_addresses);

/// The host's unicast addresses other than loopback (getifaddrs); 127.0.0.1 when there are none.
std::vector<wire::IpAddress> hostAddresses();

}  // namespace vnfpool::sidecar
