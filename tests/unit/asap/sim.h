// A tiny in-memory network for ASAP engines: Sends are encoded with the wire codec and decoded on the
// other side (so every exchange also exercises the codec), connections are numbered by the test, and one
// ManualClock drives everyone. Deterministic.
#pragma once

#include <gtest/gtest.h>

#include <deque>
#include <map>

#include "vnfpool/asap/pool_element_side.h"
#include "vnfpool/asap/pool_user_side.h"
#include "vnfpool/asap/registrar_side.h"
#include "vnfpool/wire/codec.h"

namespace vnfpool::asap::test {

/// Round-trips a message through the codec, as the adapters do.
inline wire::AsapMessage throughWire(const wire::AsapMessage& m, wire::Dialect d = wire::Dialect::Ng) {
  auto bytes = wire::encode(m, d);
  EXPECT_TRUE(bytes.ok()) << bytes.error().detail;
  auto back = wire::decodeAsap(bytes.value(), d);
  EXPECT_TRUE(back.ok()) << back.error().detail;
  return back.value();
}

template <typename T, typename Action>
std::vector<T> only(const std::vector<Action>& actions) {
  std::vector<T> out;
  for (const auto& a : actions)
    if (const auto* x = std::get_if<T>(&a)) out.push_back(*x);
  return out;
}

template <typename M, typename Action>
std::vector<M> sentMessages(const std::vector<Action>& actions) {
  std::vector<M> out;
  for (const auto& a : actions)
    if (const auto* s = std::get_if<Send>(&a))
      if (const auto* m = std::get_if<M>(&s->message)) out.push_back(*m);
  return out;
}

inline wire::Transport tcpAt(const char* address, std::uint16_t port) {
  wire::Transport t;
  t.kind = wire::TransportKind::Tcp;
  t.port = port;
  t.addresses.push_back(*wire::IpAddress::parse(address));
  return t;
}

inline ConnectionInfo outbound(ConnId id) {
  ConnectionInfo info;
  info.id = id;
  info.inbound = false;
  info.peer = tcpAt("10.0.0.100", 3863);
  return info;
}

inline ConnectionInfo inbound(ConnId id, const char* from = "10.0.0.1", std::uint16_t port = 40000) {
  ConnectionInfo info;
  info.id = id;
  info.inbound = true;
  info.peer = tcpAt(from, port);
  return info;
}

}  // namespace vnfpool::asap::test
