// The Pool User's side of ASAP (RFC 5352 with the Handle Resolution Option, digest 7.4-7.5): handle
// resolution through a registrar, a cache with a configurable lifetime, and Endpoint Unreachable reports.
// Sans-I/O like the other engines; the registrar connection is found with StartHunt as on the PE side.
#pragma once

#include <deque>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "vnfpool/asap/engine.h"
#include "vnfpool/asap/pool_element_side.h"

namespace vnfpool::asap {

struct PoolUserConfig {
  /// How long a resolution answer may be served from the cache; 0 = always ask the registrar.
  Duration cache_lifetime = std::chrono::seconds(1);
  /// Items asked for when the caller does not say (0 = let the registrar decide).
  std::uint32_t default_items = 0;
  /// A resolution not answered within this time fails (and the registrar connection is dropped).
  Duration request_timeout = std::chrono::seconds(3);
  Duration hunt_backoff = std::chrono::milliseconds(100);
  Duration hunt_backoff_max = std::chrono::seconds(5);
  bool send_ng_capabilities = true;
};

using RequestId = std::uint64_t;

/// The answer to a resolve() call: the PEs, or the cause (Unknown Pool Handle, or Lack of Resources for a
/// timeout or a lost registrar).
struct Resolved {
  RequestId id = 0;
  std::string pool{};
  std::vector<wire::PoolElement> pes{};
  std::uint16_t cause = 0;  // 0 = success
  bool from_cache = false;
};

struct PoolUserStats {
  std::uint64_t resolutions = 0;
  std::uint64_t cache_hits = 0;
  std::uint64_t failures = 0;
  std::uint64_t unreachable_reports = 0;
  std::uint64_t hunts = 0;
};

class PoolUserSide {
 public:
  static constexpr TimerKey kHuntTimer = 1;
  static constexpr TimerKey kRequestTimer = 2;

  using Action = std::variant<Send, Arm, Disarm, Close, StartHunt, Resolved>;

  PoolUserSide(const PoolUserConfig& config, const Clock& clock);

  /// Resolves `pool` into up to `items` PEs (0 = the configured default). The answer comes as a Resolved
  /// action, at once when the cache can answer.
  void resolve(RequestId id, const std::string& pool, std::uint32_t items, std::vector<Action>& out);
  /// Tells the registrar that `pe` could not be reached and drops it from the cache.
  void reportUnreachable(const std::string& pool, wire::PeId pe, std::vector<Action>& out);
  /// Forgets every cached answer.
  void clearCache() { cache_.clear(); }

  void handle(const Connected& event, std::vector<Action>& out);
  void handle(const Disconnected& event, std::vector<Action>& out);
  void handle(const Received& event, std::vector<Action>& out);
  void handle(const Expired& event, std::vector<Action>& out);

  template <typename E>
  std::vector<Action> handle(const E& event) {
    std::vector<Action> out;
    handle(event, out);
    return out;
  }

  ConnId registrarConnection() const { return conn_; }
  const PoolUserStats& stats() const { return stats_; }

 private:
  struct Pending {
    RequestId id = 0;
    std::string pool{};
    std::uint32_t items = 0;
    TimePoint deadline{};
    bool sent = false;
  };
  struct CacheEntry {
    std::vector<wire::PoolElement> pes{};
    TimePoint expires{};
    std::size_t next = 0;  // rotates the answers served from the cache
  };

  void send(Pending& p, std::vector<Action>& out);
  void fail(Pending& p, std::uint16_t cause, std::vector<Action>& out);
  void armTimers(std::vector<Action>& out);
  void hunt(std::vector<Action>& out);

  PoolUserConfig config_;
  const Clock& clock_;
  ConnId conn_ = kNoConn;
  Hunt hunt_;
  std::deque<Pending> pending_;  // answers come back in request order on the one connection
  std::map<std::string, CacheEntry> cache_;
  std::optional<TimePoint> armed_request_;
  PoolUserStats stats_;
};

}  // namespace vnfpool::asap
