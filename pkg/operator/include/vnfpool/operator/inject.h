// The sidecar injection patch: a pure function from a Pod (as the admission request carries it) and the
// operator's injection settings to an RFC 6902 JSON Patch that only appends. It never replaces the
// containers or initContainers arrays (NSM#2079), recognises an already injected Pod by the container
// name (re-invocation is a no-op), and refuses bad annotations with a message naming them.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "vnfpool/kube/json.h"
#include "vnfpool/kube/result.h"

namespace vnfpool::op {

inline constexpr std::string_view kSidecarName = "vnfpool-sidecar";

namespace annotations {
inline constexpr std::string_view kPool = "vnfpool.io/pool";
inline constexpr std::string_view kPort = "vnfpool.io/port";
inline constexpr std::string_view kTransport = "vnfpool.io/transport";
inline constexpr std::string_view kPolicy = "vnfpool.io/policy";
inline constexpr std::string_view kWeight = "vnfpool.io/weight";
inline constexpr std::string_view kPriority = "vnfpool.io/priority";
inline constexpr std::string_view kHealth = "vnfpool.io/health";
inline constexpr std::string_view kHealthPath = "vnfpool.io/health-path";
inline constexpr std::string_view kInject = "vnfpool.io/inject";
inline constexpr std::string_view kInjected = "vnfpool.io/injected";   // set by the webhook: the mode
}  // namespace annotations

/// What the operator injects (config keys sidecar.* and webhook.native_sidecars).
struct InjectionSettings {
  std::string image = "vnfpool:latest";
  std::string image_pull_policy = "IfNotPresent";
  std::vector<std::string> command{"vnfpool-sidecar"};
  bool native_sidecar = true;               // initContainer with restartPolicy Always (K8s >= 1.29)
  std::vector<std::string> registrars{};    // VNFPOOL_SIDECAR_REGISTRARS
  std::string cpu_request = "20m", cpu_limit = "200m", memory_request = "32Mi", memory_limit = "128Mi";
};

/// What the Pool resource says, when the webhook found one for the annotation.
struct PoolDefaults {
  std::string pool_handle{};     // spec.poolHandle (or the Pool's name)
  std::string policy{};          // short name ("lu"), from spec.policy
  std::string transport{};       // "mptcp", "tcp", "sctp" (ASAP transport for the sidecar)
  std::string dialect{};         // "ng" or "classic"
  std::optional<std::int64_t> weight{}, priority{}, load_degradation{};
};

/// Looks up the Pool named by the annotation in the Pod's namespace.
using PoolLookup = std::function<std::optional<PoolDefaults>(const std::string& ns, const std::string& name)>;

struct InjectionDecision {
  bool mutate = false;               // false: allow the Pod unchanged
  std::string reason{};              // why not (not annotated, opted out, already injected) or the mode
  kube::Json patch = kube::Json::array();   // RFC 6902 operations when mutate
};

/// The decision for `pod` (a Pod object). Errors (BadInput, message naming the annotation) for invalid
/// annotations or a Pod without any port to register when vnfpool.io/port is absent.
kube::Result<InjectionDecision> injectionPatch(const kube::Json& pod, const std::string& ns,
                                               const InjectionSettings& settings, const PoolLookup& lookup = {});

/// Applies an RFC 6902 patch made of `add` operations (what injectionPatch produces) to a copy of
/// `document`; for tests and for checking a decision. BadInput on anything else or a bad path.
kube::Result<kube::Json> applyAddPatch(const kube::Json& document, const kube::Json& patch);

/// True if the Pod spec has a container or init container named vnfpool-sidecar.
bool hasSidecar(const kube::Json& pod);

}  // namespace vnfpool::op
