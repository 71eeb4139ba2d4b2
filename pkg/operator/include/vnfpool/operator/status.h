// The Pool's desired status as a pure function of what the operator observed: the registrars' views of
// the pool, the Pods that claim it, the Pool's spec and its previous status. No I/O, no clock (the time
// is an input), so it is unit-tested exhaustively (tests/unit/operator/status_test.cc).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "vnfpool/kube/json.h"
#include "vnfpool/kube/kinds.h"

namespace vnfpool::op {

/// The RFC 5356 policy names of the CRD's spec.policy and the registrar's short names ("rr", "lu").
/// nullopt for a name that is not one of the nine the CRD allows.
std::optional<std::string> policyShortName(std::string_view crd_name);
std::optional<std::string> policyCrdName(std::string_view short_name);

/// One Pool Element as a registrar reports it.
struct MemberView {
  std::uint64_t pe_id = 0;
  std::uint64_t home_pr = 0;
  std::vector<std::string> addresses{};   // user transport addresses
  std::string policy{};                   // short name
  std::uint32_t load = 0;                 // per cent
};

/// One registrar's answer about the pool (reachable == false: it did not answer; members empty).
struct RegistrarView {
  std::string endpoint{};
  bool reachable = false;
  std::vector<MemberView> members{};
};

/// A Pod that names the pool in its vnfpool.io/pool annotation.
struct PodView {
  std::string name{};
  std::vector<std::string> ips{};
  bool ready = false;           // Ready condition True
  bool terminating = false;     // deletionTimestamp set
  bool wants_sidecar = true;    // vnfpool.io/inject is not "false"
  bool has_sidecar = false;     // a container or init container named vnfpool-sidecar
};

/// What the desired status is computed from.
struct Observation {
  std::int64_t generation = 0;
  std::string policy = "RoundRobin";   // spec.policy (CRD name)
  std::int64_t min_members = 1;
  std::vector<RegistrarView> registrars{};
  std::vector<PodView> pods{};
  std::string now{};                   // RFC 3339, used as lastTransitionTime of changed conditions
};

struct SampleMember {
  std::string pe_id{};        // "0x" + 16 hex digits
  std::string pod{};          // "" when no Pod has the address
  std::string address{};
  std::string home_registrar{};
  std::uint32_t load = 0;
  friend bool operator==(const SampleMember&, const SampleMember&) = default;
};

struct PoolStatus {
  std::int64_t observed_generation = 0;
  std::int64_t members = 0;
  std::int64_t ready_members = 0;
  std::int64_t registrars = 0;
  std::vector<SampleMember> sample{};
  std::vector<kube::Condition> conditions{};
  friend bool operator==(const PoolStatus&, const PoolStatus&) = default;

  /// Reads `status` of a Pool document (missing fields stay zero/empty).
  static PoolStatus fromPool(const kube::Json& pool);
  /// The `status` object.
  kube::Json toJson() const;
  const kube::Condition* condition(std::string_view type) const;
};

inline constexpr std::size_t kMaxSample = 16;

/// The status the Pool should have. Conditions: Ready, HandlespaceSynced, PolicyConflict,
/// InjectionMissing, each with observedGeneration; lastTransitionTime is kept from `previous` unless the
/// condition's status changed. Members are the union (by PE ID) over reachable registrars; a member is
/// ready unless its address belongs to a Pod that is NotReady or terminating.
PoolStatus desiredStatus(const Observation& observation, const PoolStatus& previous);

}  // namespace vnfpool::op
