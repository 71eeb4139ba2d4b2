// The local gRPC API (proto/vnfpool/v1/sidecar.proto). gRPC's synchronous server runs each call on its own
// threads; a call hops onto the sidecar's loop for what it reads or changes (LocalOps) and waits there.
// Private to pkg/sidecar.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "vnfpool/asap/pool_user_side.h"
#include "vnfpool/wire/types.h"

namespace grpc {
class Server;
}

namespace vnfpool::sidecar {

struct HandleInfo {
  std::string pool{};
  wire::PoolElement pe{};
};

struct StatusInfo {
  std::string state{};
  std::string pool{};
  wire::PeId pe_id = 0;
  wire::PrId home = 0;
  bool healthy = false;
  std::vector<HandleInfo> handles{};
};

struct PolicyUpdate {
  std::optional<std::uint32_t> weight{};
  std::optional<std::uint32_t> priority{};
  std::optional<std::uint32_t> load{};              // 0..kFullLoad
  std::optional<std::uint32_t> load_degradation{};  // 0..kFullLoad
};

/// What the API does on the loop. Every function runs on the loop thread.
class LocalOps {
 public:
  virtual ~LocalOps() = default;
  virtual StatusInfo status() = 0;
  /// Returns an error text (INVALID_ARGUMENT) or nothing.
  virtual std::optional<std::string> registerHandle(const std::string& pool, wire::PoolElement& pe) = 0;
  virtual bool deregisterHandle(const std::string& pool, wire::PeId pe) = 0;
  /// The updated PE, or an error text: "not found: ..." (NOT_FOUND) or another (INVALID_ARGUMENT).
  virtual std::variant<HandleInfo, std::string> updatePolicy(const std::string& pool, wire::PeId pe,
                                                             const PolicyUpdate& update) = 0;
  virtual void resolve(const std::string& pool, std::uint32_t items, std::function<void(const asap::Resolved&)> done) = 0;
  virtual void reportUnreachable(const std::string& pool, wire::PeId pe) = 0;
  /// The VNF's own addresses (the default of RegisterHandle).
  virtual wire::AddressList vnfAddresses() = 0;
};

class LocalApiService;

class LocalApiServer {
 public:
  LocalApiServer(boost::asio::io_context& loop, LocalOps& ops);
  ~LocalApiServer();
  /// Listens on `address`; returns the bound port, or nullopt if it cannot.
  std::optional<std::uint16_t> start(const std::string& address);
  /// Ends every call (Watch streams too) and stops. Callable from the loop thread.
  void stop();

 private:
  std::atomic<bool> stopping_{false};
  std::unique_ptr<LocalApiService> service_;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace vnfpool::sidecar
