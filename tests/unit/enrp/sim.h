// Helpers for the ENRP engine tests, and a small in-memory network of Pool Registrars: every node has its
// own handlespace and engine, all share one ManualClock; Sends are encoded with the wire codec and decoded
// at the receiver (so every exchange exercises the codec), delivered after a fixed latency in order;
// timers fire in time order. A TakeOverPe is carried out as the registrar would (the PE acknowledges the
// Keep-Alive with H=1 at once: re-registered with this PR as home). Deterministic.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "vnfpool/enrp/engine.h"
#include "vnfpool/wire/codec.h"

namespace vnfpool::enrp::test {

inline wire::Transport tcpAt(const std::string& address, std::uint16_t port) {
  wire::Transport t;
  t.kind = wire::TransportKind::Tcp;
  t.port = port;
  t.addresses.push_back(*wire::IpAddress::parse(address));
  return t;
}

inline wire::PoolElement element(PeId id, PrId home, std::uint32_t life_ms = 30000) {
  wire::PoolElement e;
  e.id = id;
  e.home_pr = home;
  e.registration_life_ms = life_ms;
  e.user_transport = tcpAt("10.1.0.1", 5060);
  e.policy = wire::Policy::make(wire::PolicyType::RoundRobin);
  e.asap_transport = tcpAt("10.1.0.1", 40000);
  return e;
}

inline handlespace::Config recording() {
  handlespace::Config c;
  c.record_changes = true;
  return c;
}

/// Encodes and decodes a message as the adapter would.
inline wire::EnrpMessage throughWire(const wire::EnrpMessage& m, wire::Dialect d) {
  auto bytes = wire::encode(m, d);
  EXPECT_TRUE(bytes.ok()) << (bytes.ok() ? "" : bytes.error().detail);
  if (!bytes.ok()) return m;
  auto back = wire::decodeEnrp(bytes.value(), d);
  EXPECT_TRUE(back.ok()) << (back.ok() ? "" : back.error().detail);
  return back.ok() ? back.value() : m;
}

/// The message a SendEncoded carries, decoded as its receiver would.
inline wire::EnrpMessage decoded(const SendEncoded& s) {
  auto back = wire::decodeEnrp(s.bytes, s.dialect);
  EXPECT_TRUE(back.ok()) << (back.ok() ? "" : back.error().detail);
  return back.ok() ? std::move(back).value() : wire::EnrpMessage{};
}

template <typename T>
std::vector<T> only(const std::vector<Action>& actions) {
  std::vector<T> out;
  for (const auto& a : actions)
    if (const auto* x = std::get_if<T>(&a)) out.push_back(*x);
  return out;
}

/// The messages of type M sent (as messages or already encoded), with their connection.
template <typename M>
std::vector<std::pair<ConnId, M>> sent(const std::vector<Action>& actions) {
  std::vector<std::pair<ConnId, M>> out;
  for (const auto& a : actions) {
    if (const auto* s = std::get_if<Send>(&a)) {
      if (const auto* m = std::get_if<M>(&s->message)) out.emplace_back(s->to, *m);
    } else if (const auto* e = std::get_if<SendEncoded>(&a)) {
      const wire::EnrpMessage m = decoded(*e);
      if (const auto* x = std::get_if<M>(&m)) out.emplace_back(e->to, *x);
    }
  }
  return out;
}

/// Every (pool, PE, owner) of a handlespace, sorted: equal handlespaces give equal vectors.
inline std::vector<std::tuple<std::string, PeId, PrId>> contents(const handlespace::Handlespace& hs) {
  std::vector<std::tuple<std::string, PeId, PrId>> all;
  auto page = hs.handleTable(std::nullopt, {}, 1u << 30);
  for (const auto& ref : page.entries) {
    auto v = hs.view(ref);
    all.emplace_back(std::string(v.pool()), v.id(), v.homePr());
  }
  std::sort(all.begin(), all.end());
  return all;
}

class Network {
 public:
  struct Node {
    PrId id = 0;
    std::string address;
    std::unique_ptr<handlespace::Handlespace> hs;
    std::unique_ptr<Engine> engine;
    std::optional<TimePoint> timer;
    bool alive = false;  // started and not killed
    std::uint64_t adopted = 0;  // TakeOverPe carried out
  };

  explicit Network(Duration latency = std::chrono::milliseconds(1), wire::Dialect dialect = wire::Dialect::Ng)
      : latency_(latency), dialect_(dialect) {}

  /// Adds a PR (not started: connections to it fail until start()). Its ENRP address is 10.0.0.<index>:9901.
  Node& add(PrId id, Config config = {}) {
    auto node = std::make_unique<Node>();
    node->id = id;
    node->address = "10.0.0." + std::to_string(nodes_.size() + 1);
    node->hs = std::make_unique<handlespace::Handlespace>(recording());
    config.pr_id = id;
    config.transports = {tcpAt(node->address, 9901)};
    node->engine = std::make_unique<Engine>(config, *node->hs, clock);
    nodes_.push_back(std::move(node));
    return *nodes_.back();
  }
  Node& node(PrId id) {
    for (auto& n : nodes_)
      if (n->id == id) return *n;
    throw std::out_of_range("no such node");
  }
  std::vector<wire::Transport> allAddresses() const {
    std::vector<wire::Transport> all;
    for (const auto& n : nodes_) all.push_back(tcpAt(n->address, 9901));
    return all;
  }

  /// Starts a node and gives it every node's address as its DNS answer (its own included, as a headless
  /// Service would).
  void start(PrId id) {
    Node& n = node(id);
    n.alive = true;
    std::vector<Action> out;
    n.engine->start(out);
    n.engine->handle(PeerAddresses{"registrars.svc", allAddresses()}, out);
    carryOut(n, out);
  }

  /// A PE registers at `home` (as the ASAP registrar side would record it).
  void registerAt(PrId home, const std::string& pool, PeId pe) {
    Node& n = node(home);
    ASSERT_TRUE(n.hs->registerPe(pool, element(pe, home), {1000 + pe, handlespace::kNever}, clock.now()).ok());
    turn(n);
  }
  void deregisterAt(PrId home, const std::string& pool, PeId pe) {
    Node& n = node(home);
    n.hs->deregisterPe(pool, pe);
    turn(n);
  }
  /// End of a loop turn at `n`: its engine publishes the changes.
  void turn(Node& n) {
    std::vector<Action> out;
    n.engine->publishChanges(out);
    carryOut(n, out);
  }

  /// Messages between `a` and `b` are lost (both ways) until heal(); new connections between them fail.
  void partition(PrId a, PrId b) { blocked_.insert({std::min(a, b), std::max(a, b)}); }
  void heal() { blocked_.clear(); }
  /// The node stops silently (crash, power off): no more deliveries, no FIN on its connections.
  void kill(PrId id) { node(id).alive = false; }
  /// A killed node comes back as a new process (same ID and address, empty handlespace); the survivors'
  /// connections to its old incarnation reset. Call start() afterwards.
  void restart(PrId id) {
    crash(id);
    Node& n = node(id);
    Config config = n.engine->config();
    n.hs = std::make_unique<handlespace::Handlespace>(recording());
    n.engine = std::make_unique<Engine>(config, *n.hs, clock);
    n.timer.reset();
  }
  /// The node's process dies but its kernel resets the connections: the others see them close.
  void crash(PrId id) {
    Node& n = node(id);
    n.alive = false;
    const std::size_t dead = indexOf(n);
    std::vector<ConnId> gone;
    for (const auto& [conn, end] : conns_)
      if (end.node == dead) gone.push_back(conn);
    for (ConnId conn : gone) {
      auto it = conns_.find(conn);
      if (it == conns_.end()) continue;
      const ConnId partner = it->second.peer;
      const std::size_t survivor = conns_.at(partner).node;
      if (survivor != dead) schedule(survivor, Disconnected{conn});
      conns_.erase(partner);
      conns_.erase(it);
    }
  }

  void runFor(Duration d) {
    const TimePoint end = clock.now() + d;
    for (;;) {
      std::optional<TimePoint> next;
      if (!queue_.empty()) next = queue_.begin()->first.first;
      for (auto& n : nodes_)
        if (n->alive && n->timer && (!next || *n->timer < *next)) next = n->timer;
      if (!next || *next > end) break;
      if (*next > clock.now()) clock.t = *next;
      bool delivered = false;
      if (!queue_.empty() && queue_.begin()->first.first <= clock.now()) {
        auto item = std::move(queue_.begin()->second);
        queue_.erase(queue_.begin());
        Node& n = *nodes_[item.node];
        if (n.alive) deliver(n, item.event);
        delivered = true;
      }
      if (!delivered)
        for (auto& n : nodes_)
          if (n->alive && n->timer && *n->timer <= clock.now()) {
            n->timer.reset();
            deliver(*n, Expired{Engine::kTimer});
            break;
          }
      ++steps;
    }
    clock.t = std::max(clock.t, end);
  }

  handlespace::ManualClock clock;
  std::uint64_t steps = 0;
  std::uint64_t messages = 0;

 private:
  struct Item {
    std::size_t node = 0;
    Event event;
  };
  struct End {
    std::size_t node = 0;
    ConnId peer = kNoConn;
  };

  std::size_t indexOf(const Node& n) const {
    for (std::size_t i = 0; i < nodes_.size(); ++i)
      if (nodes_[i].get() == &n) return i;
    return 0;
  }
  void schedule(std::size_t node, Event event) {
    queue_.emplace(std::make_pair(clock.now() + latency_, seq_++), Item{node, std::move(event)});
  }
  void deliver(Node& n, const Event& event) {
    std::vector<Action> out;
    n.engine->handle(event, out);
    n.engine->publishChanges(out);
    carryOut(n, out);
  }
  void carryOut(Node& n, const std::vector<Action>& actions) {
    const std::size_t self = indexOf(n);
    for (const auto& a : actions) {
      if (const auto* s = std::get_if<Send>(&a)) {
        auto it = conns_.find(s->to);
        if (it == conns_.end()) continue;
        ++messages;
        if (blocked(n.id, nodes_[it->second.node]->id)) continue;
        schedule(it->second.node, Received{it->second.peer, throughWire(s->message, dialect_)});
      } else if (const auto* e = std::get_if<SendEncoded>(&a)) {
        auto it = conns_.find(e->to);
        if (it == conns_.end()) continue;
        ++messages;
        EXPECT_EQ(e->dialect, dialect_);
        if (blocked(n.id, nodes_[it->second.node]->id)) continue;
        schedule(it->second.node, Received{it->second.peer, decoded(*e)});
      } else if (const auto* c = std::get_if<Connect>(&a)) {
        std::optional<std::size_t> dest;
        for (std::size_t i = 0; i < nodes_.size(); ++i)
          if (addressKey(tcpAt(nodes_[i]->address, 9901)) == addressKey(c->address) && nodes_[i]->alive &&
              !blocked(n.id, nodes_[i]->id))
            dest = i;
        if (!dest) {
          schedule(self, ConnectFailed{c->request});
          continue;
        }
        const ConnId mine = next_conn_++, theirs = next_conn_++;
        conns_[mine] = End{*dest, theirs};
        conns_[theirs] = End{self, mine};
        schedule(*dest, Connected{ConnectionInfo{theirs, dialect_, true, 0}});
        schedule(self, Connected{ConnectionInfo{mine, dialect_, false, c->request}});
      } else if (const auto* cl = std::get_if<Close>(&a)) {
        auto it = conns_.find(cl->conn);
        if (it == conns_.end()) continue;
        const End other = it->second;
        conns_.erase(it);
        conns_.erase(other.peer);
        schedule(other.node, Disconnected{other.peer});
      } else if (const auto* arm = std::get_if<Arm>(&a)) {
        n.timer = arm->at;
      } else if (std::holds_alternative<Disarm>(a)) {
        n.timer.reset();
      } else if (const auto* t = std::get_if<TakeOverPe>(&a)) {
        // The registrar's adoptPe: the PE answers the Keep-Alive H=1, its home is now this PR.
        auto ref = n.hs->find(t->pool, t->pe);
        if (!ref) continue;
        auto pe = n.hs->view(*ref).poolElement();
        pe.home_pr = n.id;
        if (n.hs->registerPe(t->pool, pe, {2000 + t->pe, handlespace::kNever}, clock.now()).ok()) ++n.adopted;
      }
    }
  }

  bool blocked(PrId a, PrId b) const { return blocked_.count({std::min(a, b), std::max(a, b)}) > 0; }

  Duration latency_;
  wire::Dialect dialect_;
  std::set<std::pair<PrId, PrId>> blocked_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::multimap<std::pair<TimePoint, std::uint64_t>, Item> queue_;
  std::map<ConnId, End> conns_;
  std::uint64_t seq_ = 0;
  ConnId next_conn_ = 1;
};

}  // namespace vnfpool::enrp::test
