// Sample messages of every ASAP and ENRP type, filled so that together they use every parameter, every
// transport, every policy and every flag. Used by round-trip tests, benchmarks, the fuzz corpus and the
// Wireshark check.
#pragma once

#include <string>
#include <vector>

#include "vnfpool/wire/asap.h"
#include "vnfpool/wire/enrp.h"

namespace vnfpool::test {

/// A PE as a sidecar would register it: TCP user transport on an IPv4 and an IPv6 address.
wire::PoolElement samplePoolElement(wire::PeId id, wire::Policy policy, bool with_asap_transport);

/// One message (or more, to cover variants) of each type. `dialect` Ng adds ng-only content (64-bit IDs,
/// MPTCP transports); Classic keeps every value classic-representable.
std::vector<wire::AsapMessage> sampleAsapMessages(wire::Dialect dialect);
std::vector<wire::EnrpMessage> sampleEnrpMessages(wire::Dialect dialect);

/// A short label for a sample, e.g. "handle_resolution_response#2".
std::string label(const wire::AsapMessage& m, std::size_t index);
std::string label(const wire::EnrpMessage& m, std::size_t index);

}  // namespace vnfpool::test
