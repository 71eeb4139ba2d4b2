// A deterministic simulator of a Pool Registrar mesh with real Pool Elements (issue 5): every PR is a
// handlespace with the ENRP engine (pkg/enrp) and the ASAP registrar side (pkg/asap), every PE is the
// ASAP Pool Element side with one PE. All share one ManualClock; one event queue orders deliveries and
// timers by (time, sequence). Every message, ENRP and ASAP, is encoded and decoded with pkg/wire. The
// network delays (per-pair latency), drops (ENRP messages between two PRs, with a seeded RNG), partitions
// (messages lost, new connections refused) and crashes (silently, or with the connections reset).
// TakeOverPe is carried out as the registrar daemon does: a new ASAP connection to the PE and
// RegistrarSide::adoptPe (Keep-Alive with H=1), which the PE follows.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "vnfpool/asap/pool_element_side.h"
#include "vnfpool/asap/registrar_side.h"
#include "vnfpool/enrp/engine.h"
#include "vnfpool/wire/codec.h"

namespace vnfpool::sim {

using handlespace::Duration;
using handlespace::TimePoint;
using wire::PeId;
using wire::PrId;

inline wire::Transport tcpAt(const std::string& address, std::uint16_t port) {
  wire::Transport t;
  t.kind = wire::TransportKind::Tcp;
  t.port = port;
  t.addresses.push_back(*wire::IpAddress::parse(address));
  return t;
}

class Mesh {
 public:
  struct Pr {
    PrId id = 0;
    std::string address;
    std::unique_ptr<handlespace::Handlespace> hs;
    std::unique_ptr<enrp::Engine> enrp;
    std::unique_ptr<asap::RegistrarSide> asap;
    bool alive = false;
  };
  struct Pe {
    std::string pool;
    PeId id = 0;
    std::string address;
    std::unique_ptr<asap::PoolElementSide> side;
    std::size_t first_pr = 0;  // where its hunt starts (PEs are spread over the PRs)
    std::size_t hunt_next = 0;
    bool alive = false;
  };

  explicit Mesh(Duration latency = std::chrono::milliseconds(1), std::uint64_t seed = 1)
      : latency_(latency), rng_(seed) {}

  // ---- set-up

  Pr& addPr(PrId id, enrp::Config config = {}, asap::RegistrarConfig asap_config = {}) {
    auto pr = std::make_unique<Pr>();
    pr->id = id;
    pr->address = "10.0.0." + std::to_string(prs_.size() + 1);
    config.pr_id = id;
    config.transports = {tcpAt(pr->address, 9901)};
    asap_config.pr_id = id;
    enrp_configs_[id] = config;
    asap_configs_[id] = asap_config;
    prs_.push_back(std::move(pr));
    fresh(*prs_.back());
    return *prs_.back();
  }
  /// Starts a PR: its DNS answer lists every PR (itself included, as a headless Service does).
  void startPr(PrId id) {
    Pr& pr = this->pr(id);
    pr.alive = true;
    std::vector<enrp::Action> out;
    pr.enrp->start(out);
    std::vector<wire::Transport> all;
    for (const auto& p : prs_) all.push_back(tcpAt(p->address, 9901));
    pr.enrp->handle(enrp::PeerAddresses{"registrars", all}, out);
    enrpActions(pr, out);
  }
  /// A PE process starts and registers; its hunt begins at PR number `first_pr` (index into the PRs).
  Pe& addPe(const std::string& pool, PeId id, std::size_t first_pr, asap::PoolElementConfig config = {}) {
    auto pe = std::make_unique<Pe>();
    pe->pool = pool;
    pe->id = id;
    pe->address = "10.2." + std::to_string(id / 250 % 250) + "." + std::to_string(id % 250 + 1);
    pe->side = std::make_unique<asap::PoolElementSide>(config, clock);
    pe->first_pr = first_pr;
    pe->hunt_next = first_pr;
    pe->alive = true;
    pes_.push_back(std::move(pe));
    Pe& p = *pes_.back();
    pe_index_[{pool, id}] = pes_.size() - 1;
    wire::PoolElement element;
    element.id = id;
    element.registration_life_ms = 30000;
    element.user_transport = tcpAt(p.address, 5060);
    element.policy = wire::Policy::make(wire::PolicyType::RoundRobin);
    std::vector<asap::PoolElementSide::Action> out;
    p.side->add(pool, element, out);
    peActions(p, out);
    return p;
  }
  /// The PE deregisters and its process ends.
  void stopPe(const std::string& pool, PeId id) {
    Pe& p = pe(pool, id);
    std::vector<asap::PoolElementSide::Action> out;
    p.side->remove(pool, id, out);
    peActions(p, out);
    crashPe(p);  // the deregistration is delivered before the connection reset (same path, queued first)
  }
  /// The PE's process dies; its kernel resets its connections.
  void crashPe(Pe& p) {
    p.alive = false;
    resetConnectionsOf(Endpoint{false, indexOf(p)});
  }

  // ---- faults

  /// Messages between PRs a and b (both ways) are lost and new connections between them refused, until heal().
  void partition(PrId a, PrId b) { blocked_.insert(key(a, b)); }
  void heal() { blocked_.clear(); }
  /// ENRP messages between PRs a and b are dropped with this probability (an unreliable path).
  void drop(PrId a, PrId b, double probability) { drop_[key(a, b)] = probability; }
  /// Extra one-way delay on the path between PRs a and b.
  void delay(PrId a, PrId b, Duration extra) { delay_[key(a, b)] = extra; }
  /// The PR stops silently (power off, a frozen node): nothing is delivered to it, nothing closes.
  void kill(PrId id) { pr(id).alive = false; }
  /// The PR's process dies; its kernel resets every connection (PRs and PEs see them close).
  void crash(PrId id) {
    Pr& p = pr(id);
    p.alive = false;
    resetConnectionsOf(Endpoint{true, indexOf(p)});
  }

  // ---- running

  void runFor(Duration d) {
    const TimePoint end = clock.now() + d;
    while (!queue_.empty() && queue_.top().at <= end) {
      Item item = queue_.top();
      queue_.pop();
      if (item.at > clock.now()) clock.t = item.at;
      dispatch(item);
      ++steps;
    }
    clock.t = std::max(clock.t, end);
  }

  // ---- inspection

  Pr& pr(PrId id) {
    for (auto& p : prs_)
      if (p->id == id) return *p;
    throw std::out_of_range("no such PR");
  }
  Pe& pe(const std::string& pool, PeId id) { return *pes_.at(pe_index_.at({pool, id})); }
  std::vector<Pr*> livePrs() {
    std::vector<Pr*> out;
    for (auto& p : prs_)
      if (p->alive) out.push_back(p.get());
    return out;
  }
  std::vector<Pe*> livePes() {
    std::vector<Pe*> out;
    for (auto& p : pes_)
      if (p->alive) out.push_back(p.get());
    return out;
  }
  const std::vector<std::unique_ptr<Pe>>& pes() const { return pes_; }

  handlespace::ManualClock clock;
  std::uint64_t steps = 0;
  std::uint64_t dropped = 0;

 private:
  struct Endpoint {
    bool is_pr = false;
    std::size_t index = 0;
    friend bool operator==(const Endpoint&, const Endpoint&) = default;
  };
  enum class Proto : std::uint8_t { Enrp, Asap };
  struct Conn {
    Endpoint owner;  // who holds this end
    Endpoint remote;
    std::uint64_t peer = 0;  // the other end's id
    Proto proto = Proto::Enrp;
  };
  enum class What : std::uint8_t { Message, Connected, Disconnected, ConnectFailed, Timer };
  struct Item {
    TimePoint at{};
    std::uint64_t seq = 0;
    Endpoint to{};
    What what = What::Message;
    std::uint64_t conn = 0;     // receiving end (Message, Connected, Disconnected)
    wire::Bytes bytes{};        // Message
    bool inbound = false;       // Connected
    std::uint64_t request = 0;  // Connected (outbound ENRP), ConnectFailed
    std::uint64_t timer = 0;    // Timer key
    std::uint64_t generation = 0;
    std::uint64_t incarnation = 0;
    friend bool operator>(const Item& a, const Item& b) { return a.at != b.at ? a.at > b.at : a.seq > b.seq; }
  };

  static std::pair<PrId, PrId> key(PrId a, PrId b) { return {std::min(a, b), std::max(a, b)}; }
  std::size_t indexOf(const Pr& p) const {
    for (std::size_t i = 0; i < prs_.size(); ++i)
      if (prs_[i].get() == &p) return i;
    return 0;
  }
  std::size_t indexOf(const Pe& p) const {
    for (std::size_t i = 0; i < pes_.size(); ++i)
      if (pes_[i].get() == &p) return i;
    return 0;
  }
  bool alive(Endpoint e) const { return e.is_pr ? prs_[e.index]->alive : pes_[e.index]->alive; }
  std::uint64_t incarnation(Endpoint e) const { return e.is_pr ? pr_incarnation_.count(e.index) ? pr_incarnation_.at(e.index) : 0 : 0; }

  /// A new process for a PR: empty handlespace, fresh engines (restart after crash()).
 public:
  void restart(PrId id) {
    Pr& p = pr(id);
    if (p.alive) crash(id);
    ++pr_incarnation_[indexOf(p)];
    fresh(p);
  }

 private:
  void fresh(Pr& p) {
    handlespace::Config hc;
    hc.record_changes = true;
    p.hs = std::make_unique<handlespace::Handlespace>(hc);
    p.enrp = std::make_unique<enrp::Engine>(enrp_configs_.at(p.id), *p.hs, clock);
    p.asap = std::make_unique<asap::RegistrarSide>(asap_configs_.at(p.id), *p.hs, clock);
  }

  bool blocked(Endpoint a, Endpoint b) const {
    if (!a.is_pr || !b.is_pr) return false;
    return blocked_.count(key(prs_[a.index]->id, prs_[b.index]->id)) > 0;
  }
  Duration latency(Endpoint a, Endpoint b) const {
    if (!a.is_pr || !b.is_pr) return latency_;
    auto it = delay_.find(key(prs_[a.index]->id, prs_[b.index]->id));
    return latency_ + (it == delay_.end() ? Duration{0} : it->second);
  }
  void schedule(Item item, Duration after) {
    item.at = clock.now() + after;
    item.seq = seq_++;
    item.incarnation = incarnation(item.to);
    queue_.push(std::move(item));
  }
  std::uint64_t connect(Endpoint from, Endpoint to, Proto proto, std::uint64_t request) {
    const std::uint64_t mine = next_conn_++, theirs = next_conn_++;
    conns_[mine] = Conn{from, to, theirs, proto};
    conns_[theirs] = Conn{to, from, mine, proto};
    Item in;
    in.to = to;
    in.what = What::Connected;
    in.conn = theirs;
    in.inbound = true;
    schedule(std::move(in), latency(from, to));
    Item back;
    back.to = from;
    back.what = What::Connected;
    back.conn = mine;
    back.request = request;
    schedule(std::move(back), latency(from, to));
    return mine;
  }
  void closeConn(std::uint64_t conn) {
    auto it = conns_.find(conn);
    if (it == conns_.end()) return;
    const Conn c = it->second;
    conns_.erase(it);
    conns_.erase(c.peer);
    closed_proto_[c.peer] = c.proto;
    Item gone;
    gone.to = c.remote;
    gone.what = What::Disconnected;
    gone.conn = c.peer;
    schedule(std::move(gone), latency(c.owner, c.remote));
  }
  void resetConnectionsOf(Endpoint dead) {
    std::vector<std::uint64_t> mine;
    for (const auto& [id, c] : conns_)
      if (c.owner == dead) mine.push_back(id);
    for (auto id : mine) closeConn(id);
  }
  void send(Endpoint from, std::uint64_t conn, wire::Bytes bytes) {
    auto it = conns_.find(conn);
    if (it == conns_.end()) return;
    const Conn& c = it->second;
    if (blocked(from, c.remote)) return;
    if (from.is_pr && c.remote.is_pr) {
      auto d = drop_.find(key(prs_[from.index]->id, prs_[c.remote.index]->id));
      if (d != drop_.end() && std::uniform_real_distribution<double>(0, 1)(rng_) < d->second) {
        ++dropped;
        return;
      }
    }
    Item m;
    m.to = c.remote;
    m.what = What::Message;
    m.conn = c.peer;
    m.bytes = std::move(bytes);
    schedule(std::move(m), latency(from, c.remote));
  }
  void arm(Endpoint who, std::uint64_t timer, TimePoint at) {
    const std::uint64_t gen = ++timer_generation_[{who.is_pr, who.index, timer}];
    Item t;
    t.to = who;
    t.what = What::Timer;
    t.timer = timer;
    t.generation = gen;
    schedule(std::move(t), at > clock.now() ? at - clock.now() : Duration{0});
  }
  void disarm(Endpoint who, std::uint64_t timer) { ++timer_generation_[{who.is_pr, who.index, timer}]; }

  void dispatch(const Item& item) {
    if (!alive(item.to) || item.incarnation != incarnation(item.to)) return;
    if (item.to.is_pr)
      dispatchPr(*prs_[item.to.index], item);
    else
      dispatchPe(*pes_[item.to.index], item);
  }

  void dispatchPr(Pr& pr, const Item& item) {
    std::vector<enrp::Action> eout;
    std::vector<asap::RegistrarSide::Action> aout;
    if (item.what == What::Timer) {
      if (timer_generation_[{true, item.to.index, item.timer}] != item.generation) return;
      if (item.timer == enrp::Engine::kTimer)
        pr.enrp->handle(enrp::Expired{item.timer}, eout);
      else
        pr.asap->handle(asap::Expired{item.timer}, aout);
    } else if (item.what == What::ConnectFailed) {
      pr.enrp->handle(enrp::ConnectFailed{item.request}, eout);
    } else {
      auto c = conns_.find(item.conn);
      // A Disconnected's connection is already gone from the table; its protocol is remembered there.
      const Proto proto = c != conns_.end() ? c->second.proto : closed_proto_[item.conn];
      if (proto == Proto::Enrp) {
        if (item.what == What::Connected)
          pr.enrp->handle(enrp::Connected{enrp::ConnectionInfo{item.conn, wire::Dialect::Ng, item.inbound, item.request}}, eout);
        else if (item.what == What::Disconnected)
          pr.enrp->handle(enrp::Disconnected{item.conn}, eout);
        else if (!item.bytes.empty() && item.bytes[0] == std::byte{0x03})  // table pages in place, as the daemon
          if (auto page = wire::decodeHandleTableResponse(item.bytes, wire::Dialect::Ng); page.ok())
            pr.enrp->handle(enrp::ReceivedTablePage{item.conn, page.value()}, eout);
          else
            ADD_FAILURE() << "ENRP decode: " << page.error().detail;
        else if (auto m = wire::decodeEnrp(item.bytes, wire::Dialect::Ng); m.ok())
          pr.enrp->handle(enrp::Received{item.conn, std::move(m).value()}, eout);
        else
          ADD_FAILURE() << "ENRP decode: " << m.error().detail;
      } else {
        if (item.what == What::Connected) {
          asap::ConnectionInfo info;
          info.id = item.conn;
          info.inbound = item.inbound;
          if (c != conns_.end() && !c->second.remote.is_pr)
            info.peer = tcpAt(pes_[c->second.remote.index]->address, 40000);
          if (item.inbound) pr.asap->handle(asap::Connected{info}, aout);
        } else if (item.what == What::Disconnected) {
          pr.asap->handle(asap::Disconnected{item.conn}, aout);
        } else if (auto m = wire::decodeAsap(item.bytes, wire::Dialect::Ng); m.ok()) {
          pr.asap->handle(asap::Received{item.conn, std::move(m).value()}, aout);
        } else {
          ADD_FAILURE() << "ASAP decode at a PR: " << m.error().detail;
        }
      }
    }
    asapActions(pr, aout);
    pr.enrp->publishChanges(eout);  // end of the loop turn
    enrpActions(pr, eout);
  }

  void dispatchPe(Pe& pe, const Item& item) {
    std::vector<asap::PoolElementSide::Action> out;
    if (item.what == What::Timer) {
      if (timer_generation_[{false, item.to.index, item.timer}] != item.generation) return;
      pe.side->handle(asap::Expired{item.timer}, out);
    } else if (item.what == What::Connected) {
      asap::ConnectionInfo info;
      info.id = item.conn;
      info.inbound = item.inbound;
      pe.side->handle(asap::Connected{info}, out);
    } else if (item.what == What::Disconnected) {
      pe.side->handle(asap::Disconnected{item.conn}, out);
    } else if (auto m = wire::decodeAsap(item.bytes, wire::Dialect::Ng); m.ok()) {
      pe.side->handle(asap::Received{item.conn, std::move(m).value()}, out);
    } else {
      ADD_FAILURE() << "ASAP decode at a PE: " << m.error().detail;
    }
    peActions(pe, out);
  }

  void enrpActions(Pr& pr, std::vector<enrp::Action>& actions) {
    const Endpoint self{true, indexOf(pr)};
    for (auto& a : actions) {
      if (auto* s = std::get_if<enrp::Send>(&a)) {
        auto bytes = wire::encode(s->message, wire::Dialect::Ng);
        if (!bytes.ok()) {
          ADD_FAILURE() << "ENRP encode: " << bytes.error().detail;
          continue;
        }
        send(self, s->to, std::move(bytes).value());
      } else if (auto* e = std::get_if<enrp::SendEncoded>(&a)) {
        EXPECT_EQ(e->dialect, wire::Dialect::Ng);
        send(self, e->to, std::move(e->bytes));
      } else if (const auto* c = std::get_if<enrp::Connect>(&a)) {
        std::optional<std::size_t> dest;
        for (std::size_t i = 0; i < prs_.size(); ++i)
          if (enrp::addressKey(tcpAt(prs_[i]->address, 9901)) == enrp::addressKey(c->address)) dest = i;
        if (!dest || !prs_[*dest]->alive || blocked(self, Endpoint{true, *dest})) {
          Item f;
          f.to = self;
          f.what = What::ConnectFailed;
          f.request = c->request;
          schedule(std::move(f), latency_);
          continue;
        }
        connect(self, Endpoint{true, *dest}, Proto::Enrp, c->request);
      } else if (const auto* cl = std::get_if<enrp::Close>(&a)) {
        rememberAndClose(cl->conn);
      } else if (const auto* arm_ = std::get_if<enrp::Arm>(&a)) {
        arm(self, arm_->timer, arm_->at);
      } else if (const auto* dis = std::get_if<enrp::Disarm>(&a)) {
        disarm(self, dis->timer);
      } else if (const auto* t = std::get_if<enrp::TakeOverPe>(&a)) {
        takeOver(pr, t->pool, t->pe);
      }
    }
  }

  /// The registrar's TakeOverPe: a new ASAP connection to the PE, adoptPe (Keep-Alive with H=1).
  void takeOver(Pr& pr, const std::string& pool, PeId id) {
    auto it = pe_index_.find({pool, id});
    if (it == pe_index_.end()) return;
    const Endpoint self{true, indexOf(pr)};
    const Endpoint target{false, it->second};
    if (!alive(target)) {
      // Nobody answers: the registrar would record the PE as its own and let the keep-alive decide.
      std::vector<asap::RegistrarSide::Action> aout;
      pr.asap->adoptPe(pool, id, 0, aout);
      asapActions(pr, aout);
      return;
    }
    const std::uint64_t conn = connect(self, target, Proto::Asap, 0);
    std::vector<asap::RegistrarSide::Action> aout;
    asap::ConnectionInfo info;
    info.id = conn;
    info.inbound = false;
    info.peer = tcpAt(pes_[target.index]->address, 40000);
    pr.asap->handle(asap::Connected{info}, aout);
    pr.asap->adoptPe(pool, id, conn, aout);
    asapActions(pr, aout);
  }

  void asapActions(Pr& pr, std::vector<asap::RegistrarSide::Action>& actions) {
    const Endpoint self{true, indexOf(pr)};
    for (auto& a : actions) {
      if (auto* s = std::get_if<asap::Send>(&a)) {
        auto bytes = wire::encode(s->message, wire::Dialect::Ng);
        if (bytes.ok()) send(self, s->to, std::move(bytes).value());
      } else if (const auto* sb = std::get_if<asap::SendBytes>(&a)) {
        send(self, sb->to, wire::Bytes(sb->bytes.begin(), sb->bytes.end()));
      } else if (const auto* arm_ = std::get_if<asap::Arm>(&a)) {
        arm(self, arm_->timer, arm_->at);
      } else if (const auto* dis = std::get_if<asap::Disarm>(&a)) {
        disarm(self, dis->timer);
      } else if (const auto* cl = std::get_if<asap::Close>(&a)) {
        rememberAndClose(cl->conn);
      }
    }
  }

  void peActions(Pe& pe, std::vector<asap::PoolElementSide::Action>& actions) {
    const Endpoint self{false, indexOf(pe)};
    for (auto& a : actions) {
      if (auto* s = std::get_if<asap::Send>(&a)) {
        auto bytes = wire::encode(s->message, wire::Dialect::Ng);
        if (bytes.ok()) send(self, s->to, std::move(bytes).value());
      } else if (const auto* arm_ = std::get_if<asap::Arm>(&a)) {
        arm(self, arm_->timer, arm_->at);
      } else if (const auto* dis = std::get_if<asap::Disarm>(&a)) {
        disarm(self, dis->timer);
      } else if (const auto* cl = std::get_if<asap::Close>(&a)) {
        rememberAndClose(cl->conn);
      } else if (std::holds_alternative<asap::StartHunt>(a)) {
        // The next PR of its list, round robin from where it started; a dead one refuses.
        const std::size_t i = pe.hunt_next++ % prs_.size();
        if (prs_[i]->alive) {
          connect(self, Endpoint{true, i}, Proto::Asap, 0);
        } else {
          Item f;
          f.to = self;
          f.what = What::Disconnected;
          f.conn = next_conn_++;  // an attempt that never became a connection
          schedule(std::move(f), latency_);
        }
      }
    }
  }

  void rememberAndClose(std::uint64_t conn) { closeConn(conn); }

  Duration latency_;
  std::mt19937_64 rng_;
  std::vector<std::unique_ptr<Pr>> prs_;
  std::vector<std::unique_ptr<Pe>> pes_;
  std::map<std::pair<std::string, PeId>, std::size_t> pe_index_;
  std::map<PrId, enrp::Config> enrp_configs_;
  std::map<PrId, asap::RegistrarConfig> asap_configs_;
  std::map<std::size_t, std::uint64_t> pr_incarnation_;
  std::map<std::uint64_t, Conn> conns_;
  std::map<std::uint64_t, Proto> closed_proto_;
  std::map<std::tuple<bool, std::size_t, std::uint64_t>, std::uint64_t> timer_generation_;
  std::set<std::pair<PrId, PrId>> blocked_;
  std::map<std::pair<PrId, PrId>, double> drop_;
  std::map<std::pair<PrId, PrId>, Duration> delay_;
  std::priority_queue<Item, std::vector<Item>, std::greater<>> queue_;
  std::uint64_t seq_ = 0;
  std::uint64_t next_conn_ = 1;
};

}  // namespace vnfpool::sim
