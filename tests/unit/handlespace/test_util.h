// Builders shared by the handlespace tests.
#pragma once

#include <initializer_list>
#include <string>
#include <vector>

#include "vnfpool/handlespace/handlespace.h"

namespace vnfpool::handlespace::test {

inline wire::PoolElement pe(PeId id, wire::Policy policy, PrId home = 1) {
  wire::PoolElement e;
  e.id = id;
  e.home_pr = home;
  e.registration_life_ms = 30000;
  e.user_transport.kind = wire::TransportKind::Tcp;
  e.user_transport.port = static_cast<std::uint16_t>(1000 + id % 50000);
  e.user_transport.addresses.push_back(wire::IpAddress::v4(10, 0, static_cast<std::uint8_t>(id >> 8),
                                                           static_cast<std::uint8_t>(id)));
  e.policy = policy;
  return e;
}

inline wire::Policy policy(wire::PolicyType type, std::initializer_list<std::uint32_t> words = {}) {
  return wire::Policy::make(type, words);
}

/// A load of `percent` % in policy units.
inline std::uint32_t load(double percent) { return static_cast<std::uint32_t>(percent / 100.0 * 0xFFFFFFFFu); }

inline std::vector<PeId> ids(const Handlespace& hs, const std::vector<PeRef>& refs) {
  std::vector<PeId> out;
  for (PeRef r : refs) out.push_back(hs.view(r).id());
  return out;
}

/// Resolves `count` items of `pool` and returns their PE IDs (empty on error).
inline std::vector<PeId> resolve(Handlespace& hs, std::string_view pool, std::size_t count, Random& rng) {
  std::vector<PeRef> refs;
  auto n = hs.select(pool, count, rng, refs);
  if (!n.ok()) return {};
  return ids(hs, refs);
}

}  // namespace vnfpool::handlespace::test
