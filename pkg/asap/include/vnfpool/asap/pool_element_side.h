// The Pool Element's side of ASAP (RFC 5352, digest 7.1-7.3): find a registrar, register one or more PEs
// on one connection, re-register before the registration life runs out, answer keep-alives, follow a
// registrar that says "I am your home now" (Keep-Alive with H=1, after takeover), and hunt for another
// registrar when the connection is lost. Sans-I/O like the other engines.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "vnfpool/asap/engine.h"

namespace vnfpool::asap {

struct PoolElementConfig {
  /// Re-registration period; 0 = a third of each PE's registration life (what RSPLIB's tools do).
  Duration reregistration_interval{0};
  /// A registration (or deregistration) not answered within this time means the registrar is gone:
  /// the connection is closed and the hunt starts again (RSPLIB: 3 s).
  Duration request_timeout = std::chrono::seconds(3);
  /// Pause before the next hunt attempt after a failed one, doubling up to the maximum.
  Duration hunt_backoff = std::chrono::milliseconds(100);
  Duration hunt_backoff_max = std::chrono::seconds(5);
  /// Send NG Capabilities with registrations (ng registrars answer with theirs).
  bool send_ng_capabilities = true;
  /// Where this PE accepts ASAP connections from registrars (a TCP or MPTCP listening port): announced in
  /// the NG Capabilities of each registration, so that a registrar that takes the PE over, or one a peer
  /// suggested, can connect and say "I am your home now" (Keep-Alive with H=1). Registrars take only the
  /// protocol and port from it: the address is the one the registration comes from, so the announced
  /// one may be unspecified (0.0.0.0, ::). None: the PE is reachable only on the connections it opens.
  std::optional<wire::Transport> asap_endpoint{};
};

/// Ask the adapter for a connection to a registrar (the next one of its list: static addresses or all
/// A/AAAA records of a name). It answers with Connected (inbound = false) or Disconnected.
struct StartHunt {};
/// Notifications for the owner of the PE (the sidecar, vnfpoolctl register).
struct PeRegistered {
  std::string pool{};
  wire::PeId pe = 0;
  wire::PrId home = 0;  // the registrar that holds the PE, 0 if it did not say
};
struct PeRefused {
  std::string pool{};
  wire::PeId pe = 0;
  std::uint16_t cause = 0;
};
struct HomeChanged {
  wire::PrId home = 0;
  ConnId conn = kNoConn;
};

struct PoolElementStats {
  std::uint64_t registrations_sent = 0;
  std::uint64_t registrations_accepted = 0;
  std::uint64_t registrations_refused = 0;
  std::uint64_t keep_alives_answered = 0;
  std::uint64_t hunts = 0;
  std::uint64_t home_changes = 0;
  std::uint64_t request_timeouts = 0;
};

class PoolElementSide {
 public:
  static constexpr TimerKey kHuntTimer = 1;
  static constexpr TimerKey kReregisterTimer = 2;
  static constexpr TimerKey kRequestTimer = 3;

  using Action = std::variant<Send, Arm, Disarm, Close, StartHunt, PeRegistered, PeRefused, HomeChanged>;

  PoolElementSide(const PoolElementConfig& config, const Clock& clock);

  /// Starts (or updates: new policy values, load, transports) the registration of `pe` in `pool`. Its
  /// home_pr is filled in by the registrar. Starts a hunt if there is no registrar connection.
  void add(const std::string& pool, const wire::PoolElement& pe, std::vector<Action>& out);
  /// Deregisters and forgets the PE. Returns false if it was not added.
  bool remove(const std::string& pool, wire::PeId pe, std::vector<Action>& out);
  /// Deregisters every PE (draining); the connection stays until close().
  void removeAll(std::vector<Action>& out);

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

  /// The connection to the home registrar, kNoConn while hunting.
  ConnId homeConnection() const { return home_; }
  /// Sets (or clears) PoolElementConfig::asap_endpoint: the adapter knows the port only once it listens.
  void setAsapEndpoint(std::optional<wire::Transport> endpoint) { config_.asap_endpoint = std::move(endpoint); }
  wire::PrId homeRegistrar() const { return home_pr_; }
  bool registered(const std::string& pool, wire::PeId pe) const;
  std::size_t size() const { return pes_.size(); }
  const PoolElementStats& stats() const { return stats_; }

 private:
  struct Entry {
    wire::PoolElement pe{};
    bool registered = false;
    bool pending = false;  // a Registration is on its way
  };
  using Key = std::pair<std::string, wire::PeId>;

  void registerAll(std::vector<Action>& out);
  void sendRegistration(const Key& key, Entry& entry, std::vector<Action>& out);
  void armRequestTimer(std::vector<Action>& out);
  void armReregistration(std::vector<Action>& out);
  void hunt(std::vector<Action>& out);
  void lost(std::vector<Action>& out);
  Duration reregistrationInterval() const;

  PoolElementConfig config_;
  const Clock& clock_;
  std::map<Key, Entry> pes_;
  static constexpr std::size_t kMaxInbound = 8;
  std::set<ConnId> inbound_;  // connections registrars opened to us, until they close
  ConnId home_ = kNoConn;
  wire::PrId home_pr_ = 0;
  Hunt hunt_;
  std::optional<TimePoint> request_deadline_;
  std::size_t outstanding_ = 0;  // registrations/deregistrations awaiting an answer
  PoolElementStats stats_;
};

}  // namespace vnfpool::asap
