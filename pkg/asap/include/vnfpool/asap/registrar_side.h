// The Pool Registrar's side of ASAP (RFC 5352, the Handle Resolution Option draft, digest sections 4 and
// 7.1-7.5): registration, re-registration, deregistration, handle resolution, endpoint keep-alive,
// Endpoint Unreachable, per-PU rate limits, and the Error or rejecting answer for every bad request.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <span>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "vnfpool/asap/engine.h"
#include "vnfpool/handlespace/handlespace.h"
#include "vnfpool/handlespace/random.h"

namespace vnfpool::asap {

/// Smallest address scope a registered PE address may have (RSPLIB's -minaddressscope).
enum class AddressScope : std::uint8_t { Loopback, SiteLocal, Global };

struct RegistrarConfig {
  wire::PrId pr_id = 0;
  /// Endpoint keep-alive: sent this long after a (re-)registration or the last ack...
  Duration keep_alive_interval = std::chrono::seconds(5);
  /// ...and the PE is removed when no ack comes within this time.
  Duration keep_alive_timeout = std::chrono::seconds(5);
  /// Endpoint Unreachable reports (from any PU) after which a PE is removed (RFC MAX-BAD-PE-REPORT).
  std::uint32_t max_bad_pe_reports = 3;
  /// Per PU connection: handle resolutions and unreachable reports per second; 0 = unlimited. A refused
  /// resolution is answered with Unknown Pool Handle (as RSPLIB does), a refused report is dropped.
  double max_handle_resolution_rate = 0;
  double max_endpoint_unreachable_rate = 0;
  /// PE user addresses below this scope are refused (Invalid Values). Loopback accepts any unicast.
  AddressScope min_address_scope = AddressScope::Loopback;
  /// Bounds on the registration life a PE may ask for; the value is clamped into them.
  std::uint32_t min_registration_life_ms = 1000;
  std::uint32_t max_registration_life_ms = 3600 * 1000;
  /// Answer unrecognized message types with an Error (RFC 5352 allows it; RSPLIB stays silent).
  bool report_unrecognized_messages = true;
  /// Seed for random selection policies.
  std::uint64_t seed = 0x5eed;
  /// Answer successful handle resolutions with SendBytes: the engine encodes the answer itself from the
  /// handlespace's cached PE parameters (Handlespace::resolutionParameter), so an answer is mostly a copy.
  /// Off: a Send with the HandleResolutionResponse, as for every other message. Same bytes either way.
  bool encode_resolution_answers = false;
};

/// Send these bytes: one whole message, already encoded in the connection's dialect (handle resolution
/// answers with RegistrarConfig::encode_resolution_answers). They live in the engine and stay valid until
/// the next call into it, so carry the action out before feeding the next event.
struct SendBytes {
  ConnId to = kNoConn;
  std::span<const std::byte> bytes{};
};

/// Counters for metrics; the adapter exports them. Monotonic.
struct RegistrarStats {
  std::uint64_t registrations = 0;            // accepted, first time
  std::uint64_t reregistrations = 0;          // accepted updates
  std::map<std::uint16_t, std::uint64_t> rejections_by_cause{};
  std::uint64_t deregistrations = 0;
  std::uint64_t resolutions = 0;
  std::uint64_t resolutions_unknown_pool = 0;
  std::uint64_t resolutions_rate_limited = 0;
  std::uint64_t keep_alives_sent = 0;
  std::uint64_t keep_alive_acks = 0;
  std::uint64_t keep_alive_timeouts = 0;
  std::uint64_t unreachable_reports = 0;
  std::uint64_t unreachable_removals = 0;
  std::uint64_t unreachable_rate_limited = 0;
  std::uint64_t connection_losses = 0;        // connections lost that had PEs
  std::uint64_t pes_removed_by_connection_loss = 0;
  std::map<std::uint16_t, std::uint64_t> errors_by_cause{};  // Error messages sent, by cause
  std::uint64_t ignored_messages = 0;         // messages a registrar does not take (responses, cookies...)
};

/// The registrar side of ASAP. Owns no sockets: feed it events, carry out its actions. Loop thread only;
/// never throws on peer input. The handlespace is shared with ENRP and the admin API (same thread).
class RegistrarSide {
 public:
  /// Timer keys this engine uses (one timer for all keep-alive deadlines).
  static constexpr TimerKey kKeepAliveTimer = 1;

  using Action = std::variant<Send, Arm, Disarm, Close, SendBytes>;

  RegistrarSide(const RegistrarConfig& config, handlespace::Handlespace& hs, const Clock& clock);

  /// Handles one event; appends the actions to carry out, in order, to `out`.
  void handle(const Connected& event, std::vector<Action>& out);
  void handle(const Disconnected& event, std::vector<Action>& out);
  void handle(const Received& event, std::vector<Action>& out);
  /// A Handle Resolution decoded in place (wire::decodeHandleResolution): answered exactly as the same
  /// request in a Received, without an AsapMessage being built for it.
  void handle(const ReceivedResolution& event, std::vector<Action>& out);
  void handle(const Malformed& event, std::vector<Action>& out);
  void handle(const Expired& event, std::vector<Action>& out);

  /// Convenience for tests: one event, its actions.
  template <typename E>
  std::vector<Action> handle(const E& event) {
    std::vector<Action> out;
    handle(event, out);
    return out;
  }

  /// Removes a PE on request (the operator saw its pod go; admin API). Returns whether it was there.
  /// Works for PEs of any home PR: this PR forgets it; ENRP tells the others for own PEs.
  bool removePe(std::string_view pool, wire::PeId pe, std::vector<Action>& out);

  /// Takes over monitoring of a PE that this PR now owns although it did not register it (takeover,
  /// Keep-Alive with H=1): sends it a Keep-Alive with the H flag on `conn` and starts the keep-alive cycle.
  void adoptPe(std::string_view pool, wire::PeId pe, ConnId conn, std::vector<Action>& out);

  const RegistrarStats& stats() const { return stats_; }
  const RegistrarConfig& config() const { return config_; }
  std::size_t connectionCount() const { return connections_.size(); }

 private:
  struct PeKey {
    std::string pool;
    wire::PeId pe = 0;
    friend bool operator==(const PeKey&, const PeKey&) = default;
  };
  struct PeKeyHash {
    std::size_t operator()(const PeKey& k) const noexcept;
  };
  /// Keep-alive state of an own PE.
  struct Monitor {
    ConnId conn = kNoConn;
    TimePoint deadline{};
    bool awaiting_ack = false;  // false: the deadline is when to send; true: when to give up
    std::uint64_t generation = 0;
  };
  struct Deadline {
    TimePoint at{};
    std::uint64_t generation = 0;
    PeKey key{};
    friend bool operator>(const Deadline& a, const Deadline& b) { return a.at > b.at; }
  };
  struct TokenBucket {
    double tokens = 0;
    TimePoint last{};
    bool take(double rate, TimePoint now);
  };
  struct Connection {
    ConnectionInfo info{};
    TokenBucket resolutions{};
    TokenBucket reports{};
  };

  void registration(Connection& conn, const wire::asap::Registration& m, std::vector<Action>& out);
  void deregistration(Connection& conn, const wire::asap::Deregistration& m, std::vector<Action>& out);
  void resolution(Connection& conn, const wire::asap::HandleResolutionView& m, std::vector<Action>& out);
  bool encodeAnswer(const Connection& conn, const wire::asap::HandleResolutionView& m);
  void keepAliveAck(Connection& conn, const wire::asap::EndpointKeepAliveAck& m, std::vector<Action>& out);
  void unreachable(Connection& conn, const wire::asap::EndpointUnreachable& m, std::vector<Action>& out);
  void sendError(ConnId to, wire::Cause cause, wire::Bytes info, std::vector<Action>& out);
  std::optional<wire::Error> checkAddresses(const wire::Transport& transport) const;

  void monitor(const PeKey& key, ConnId conn, TimePoint at, bool awaiting_ack, std::vector<Action>& out);
  void forget(const PeKey& key);
  void rearm(std::vector<Action>& out);

  RegistrarConfig config_;
  handlespace::Handlespace& hs_;
  const Clock& clock_;
  handlespace::Random rng_;
  RegistrarStats stats_;
  std::unordered_map<ConnId, Connection> connections_;
  std::unordered_map<PeKey, Monitor, PeKeyHash> monitors_;
  std::unordered_map<PeKey, std::uint32_t, PeKeyHash> bad_reports_;
  std::priority_queue<Deadline, std::vector<Deadline>, std::greater<>> deadlines_;
  std::optional<TimePoint> armed_;
  std::uint64_t generation_ = 0;
  std::vector<handlespace::PeRef> selected_;  // scratch for resolutions
  std::vector<std::span<const std::byte>> parameters_;  // scratch: the selected PEs' encoded parameters
  wire::AsapMessage answer_head_{wire::asap::HandleResolutionResponse{}};  // scratch: an answer without PEs
  wire::Bytes answer_;  // the last SendBytes answer
  struct EncodedHead {  // the last answer head encoded by encodeAnswer, and what it was encoded from
    bool valid = false;
    wire::Dialect dialect = wire::Dialect::Ng;
    bool caps = false;
    std::optional<wire::Policy> policy;
    std::string pool_handle;
    wire::Bytes bytes;
  } head_;
};

}  // namespace vnfpool::asap
