// The operator's client of the registrars' admin gRPC API (proto/vnfpool/v1/registrar.proto). It talks
// to every registrar: the configured endpoints, where a DNS name stands for all its addresses (the
// registrars' headless Service). Calls fan out in parallel with a per-call deadline.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "vnfpool/operator/status.h"

namespace vnfpool::op {

struct RegistrarReply {
  std::string endpoint{};
  bool ok = false;
  std::string error{};       // gRPC status message when !ok
  std::uint32_t count = 0;   // conflicting members (SetPoolPolicy) or removed PEs (RemovePoolElements)
};

class RegistrarSet {
 public:
  /// `endpoints`: "host:port" each (host a literal or a DNS name).
  RegistrarSet(std::vector<std::string> endpoints, std::chrono::milliseconds deadline);
  ~RegistrarSet();

  /// The admin endpoints the names stand for now (DNS re-resolved at most once a second).
  std::vector<std::string> resolve();

  /// Every registrar's view of `pool` (reachable=false for those that failed).
  std::vector<RegistrarView> getPool(const std::string& pool);
  /// Pins the pool's policy (short name) and default resolution size on every registrar; `clear`
  /// removes the pin instead.
  std::vector<RegistrarReply> setPoolPolicy(const std::string& pool, const std::string& policy,
                                            std::uint32_t handle_resolution_items, bool clear = false);
  /// Removes the pool's PEs with any of these addresses from every registrar ("" pool: every pool).
  std::vector<RegistrarReply> removePoolElements(const std::string& pool, const std::vector<std::string>& addresses);
  /// Pools any registrar reports; `ok` false when none answered.
  std::set<std::string> listPools(bool& ok);

 private:
  struct Channel;
  std::shared_ptr<Channel> channel(const std::string& endpoint);

  std::vector<std::string> names_;
  std::chrono::milliseconds deadline_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Channel>> channels_;
  std::vector<std::string> resolved_;
  std::chrono::steady_clock::time_point resolved_at_{};
};

}  // namespace vnfpool::op
