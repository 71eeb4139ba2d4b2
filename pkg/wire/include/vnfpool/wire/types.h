// Values carried in ASAP and ENRP parameters (RFC 5354, the drafts, the ng dialect). Plain data with
// value semantics; the byte layouts are the codec's business (codec.h).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <boost/container/small_vector.hpp>

#include "vnfpool/wire/constants.h"
#include "vnfpool/wire/result.h"

namespace vnfpool::wire {

using Bytes = std::vector<std::byte>;

/// Pool handle: an opaque byte string (not necessarily text), kept in a std::string so that typical short
/// handles need no allocation.
using PoolHandle = std::string;

/// PE and PR identifiers are 64-bit everywhere in memory. In the classic dialect only 1..0xFFFFFFFF can
/// be sent (`fitsClassic`); the encoder refuses others with Cause::InvalidValues.
using PeId = std::uint64_t;
using PrId = std::uint64_t;
constexpr bool fitsClassic(std::uint64_t id) { return id <= 0xFFFFFFFFu; }

/// An IPv4 or IPv6 address as it appears in an address parameter.
struct IpAddress {
  enum class Family : std::uint8_t { V4, V6 };
  Family family = Family::V4;
  std::array<std::uint8_t, 16> bytes{};  // IPv4 uses the first 4

  static IpAddress v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d);
  /// Parses "192.0.2.1" or "2001:db8::1"; nullopt if it is neither.
  static std::optional<IpAddress> parse(std::string_view text);
  std::string toString() const;
  bool isV4() const { return family == Family::V4; }

  friend bool operator==(const IpAddress&, const IpAddress&) = default;
};

/// Most transports carry one or two addresses (IPv4 + IPv6); SCTP may carry many. A small_vector whose
/// move is declared noexcept (boost's is not, although moving IpAddress values into inline room cannot
/// fail): without it every std::vector of messages, PEs or ENRP actions deep-copies its elements when it
/// grows instead of moving them.
class AddressList : public boost::container::small_vector<IpAddress, 2> {
  using Base = boost::container::small_vector<IpAddress, 2>;

 public:
  using Base::Base;
  AddressList() noexcept = default;
  AddressList(std::initializer_list<IpAddress> list) : Base(list) {}
  AddressList(const AddressList&) = default;
  AddressList(AddressList&& other) noexcept : Base(std::move(static_cast<Base&>(other))) {}
  AddressList& operator=(const AddressList&) = default;
  AddressList& operator=(AddressList&& other) noexcept {
    Base::operator=(std::move(static_cast<Base&>(other)));
    return *this;
  }
  ~AddressList() = default;

  friend bool operator==(const AddressList& a, const AddressList& b) {
    return static_cast<const Base&>(a) == static_cast<const Base&>(b);
  }
};
static_assert(std::is_nothrow_move_constructible_v<AddressList>);

/// The transport parameters of RFC 5354 3.3 plus the ng MPTCP transport. The enumerator is the
/// parameter type code.
enum class TransportKind : std::uint16_t {
  Dccp = 0x0003,
  Sctp = 0x0004,
  Tcp = 0x0005,
  Udp = 0x0006,
  UdpLite = 0x0007,
  Mptcp = 0x4045,  // ng only
};
std::string_view transportName(TransportKind kind);             // "sctp", "tcp", ...
std::optional<TransportKind> transportFromName(std::string_view name);
bool isTransportType(std::uint16_t param_type);

/// One transport endpoint: protocol, port and addresses.
struct Transport {
  TransportKind kind = TransportKind::Sctp;
  std::uint16_t port = 0;
  /// SCTP, TCP, MPTCP: Transport Use (TransportUse); UDP, UDP-Lite, DCCP: the reserved field as received.
  std::uint16_t use = 0;
  std::uint32_t service_code = 0;  // DCCP only
  AddressList addresses{};

  friend bool operator==(const Transport&, const Transport&) = default;
};

/// Pool member selection policy types (RFC 5356, the delay draft, and RSPLIB's private codes).
enum class PolicyType : std::uint32_t {
  RoundRobin = 0x00000001,
  WeightedRoundRobin = 0x00000002,
  Random = 0x00000003,
  WeightedRandom = 0x00000004,
  Priority = 0x00000005,
  LeastUsed = 0x40000001,
  LeastUsedDegradation = 0x40000002,
  PriorityLeastUsed = 0x40000003,
  RandomizedLeastUsed = 0x40000004,
  RandomizedPriorityLeastUsed = 0xb0001001,             // RSPLIB
  RandomizedLeastUsedDegradation = 0xb0001002,          // RSPLIB
  PriorityLeastUsedDegradation = 0xb0001003,            // RSPLIB
  RandomizedPriorityLeastUsedDegradation = 0xb0001004,  // RSPLIB
  WeightedRandomDpf = 0xb0002001,                       // delay draft / RSPLIB
  LeastUsedDpf = 0xb0002002,                            // delay draft / RSPLIB
  LeastUsedDegradationDpf = 0xb0002003,                 // RSPLIB
  PriorityLeastUsedDpf = 0xb0002004,                    // RSPLIB selection only; our layout, see docs/protocol.md
  PriorityLeastUsedDegradationDpf = 0xb0002005,         // likewise
};

/// What each value word of a policy means, in wire order.
enum class PolicyField : std::uint8_t { Weight, Priority, Load, LoadDegradation, LoadIncrement, LoadDpf, WeightDpf, Distance };
std::string_view policyFieldName(PolicyField field);  // "weight", "load_dpf", ...

struct PolicyInfo {
  PolicyType type;
  std::string_view name;  // short name, e.g. "lu" (used in JSON and config)
  std::string_view long_name;  // e.g. "Least Used"
  std::vector<PolicyField> fields;
};
/// The known policies; nullptr for an unknown type code.
const PolicyInfo* policyInfo(std::uint32_t type);
const PolicyInfo* policyByName(std::string_view name);
/// The number of value words policy `type` needs (its fields); 0 for an unknown type. Cheap: a switch.
std::size_t policyWordCount(std::uint32_t type);
const std::vector<PolicyInfo>& allPolicies();

/// A Pool Member Selection Policy parameter: type and value words. Known types need at least as many
/// words as their fields (extra words are kept, so they survive a round trip); unknown types keep theirs.
struct Policy {
  static constexpr std::size_t kMaxWords = 8;
  std::uint32_t type = static_cast<std::uint32_t>(PolicyType::RoundRobin);
  std::uint8_t word_count = 0;
  std::array<std::uint32_t, kMaxWords> words{};

  /// A policy of `t` with the given words (missing words are 0).
  static Policy make(PolicyType t, std::initializer_list<std::uint32_t> values = {});
  /// The word that holds `field`, or nullopt if this policy has no such field.
  std::optional<std::uint32_t> get(PolicyField field) const;
  /// Sets `field` if the policy has it; returns false otherwise.
  bool set(PolicyField field, std::uint32_t value);

  friend bool operator==(const Policy&, const Policy&) = default;
};

/// Load values are fractions of 0xFFFFFFFF (digest 6.5): 50 % is 0x7FFFFFFF.
constexpr std::uint32_t kFullLoad = 0xFFFFFFFFu;

/// Pool Element parameter (classic 0x000a, ng 0x4042).
struct PoolElement {
  PeId id = 0;
  PrId home_pr = 0;
  std::uint32_t registration_life_ms = 0;
  Transport user_transport{};
  Policy policy{};
  std::optional<Transport> asap_transport{};  // present in ENRP only

  friend bool operator==(const PoolElement&, const PoolElement&) = default;
};

/// Server Information parameter (classic 0x000b with one SCTP transport; ng 0x4043 with 1..3 transports).
struct ServerInformation {
  PrId id = 0;
  std::vector<Transport> transports{};

  friend bool operator==(const ServerInformation&, const ServerInformation&) = default;
};

/// One error cause inside an Operational Error. `code` is a plain integer: peers (RSPLIB) send codes
/// outside Cause. `info` is the cause-specific information, usually a copy of the offending TLV.
struct ErrorCause {
  std::uint16_t code = 0;
  Bytes info{};

  friend bool operator==(const ErrorCause&, const ErrorCause&) = default;
};

/// Operational Error parameter (0x000c): one or more causes.
struct OperationalError {
  std::vector<ErrorCause> causes{};

  static OperationalError of(Cause cause, Bytes info = {});
  /// The first cause's code, or 0 if there is none.
  std::uint16_t firstCode() const { return causes.empty() ? 0 : causes.front().code; }

  friend bool operator==(const OperationalError&, const OperationalError&) = default;
};

/// NG Capabilities parameter (0x8040, skipped by classic stacks; digest 11.2-11.3).
struct NgCapabilities {
  std::uint8_t version = 1;
  std::uint8_t reserved = 0;
  std::uint16_t features = features::kMandatory;
  std::uint64_t sender_id = 0;  // PR ID of a PR, PE ID of a PE, 0 for a PU
  std::vector<Transport> endpoints{};

  bool has(std::uint16_t feature) const { return (features & feature) == feature; }
  friend bool operator==(const NgCapabilities&, const NgCapabilities&) = default;
};

}  // namespace vnfpool::wire
