// The three engines together over the in-memory network: a PE registers, a PU resolves it, the PE's
// connection dies and the PU stops getting it, a silent PE is dropped by keep-alive.
#include "sim.h"

namespace vnfpool::asap {
namespace {

using namespace std::chrono_literals;

struct Network {
  handlespace::ManualClock clock;
  handlespace::Handlespace hs;
  RegistrarConfig pr_config{};
  std::unique_ptr<RegistrarSide> pr;
  std::unique_ptr<PoolElementSide> pe;
  std::unique_ptr<PoolUserSide> pu;
  std::vector<Resolved> resolved;
  std::map<TimerKey, TimePoint> pr_timers, pe_timers, pu_timers;
  bool pe_alive = true;  // a "frozen" PE stops answering

  static constexpr ConnId kPeConn = 1;
  static constexpr ConnId kPuConn = 2;

  Network() {
    pr_config.pr_id = 0x11111111;
    pr_config.keep_alive_interval = 300ms;
    pr_config.keep_alive_timeout = 100ms;
    pr = std::make_unique<RegistrarSide>(pr_config, hs, clock);
    pe = std::make_unique<PoolElementSide>(PoolElementConfig{}, clock);
    pu = std::make_unique<PoolUserSide>(PoolUserConfig{}, clock);
  }

  void toPr(ConnId conn, const wire::AsapMessage& m) { run(pr->handle(Received{conn, test::throughWire(m)})); }

  void run(const std::vector<RegistrarSide::Action>& actions) {
    for (const auto& a : actions) {
      if (const auto* s = std::get_if<Send>(&a)) {
        auto m = test::throughWire(s->message);
        if (s->to == kPeConn && pe_alive) run(pe->handle(Received{kPeConn, m}));
        if (s->to == kPuConn) run(pu->handle(Received{kPuConn, m}));
      } else if (const auto* arm = std::get_if<Arm>(&a)) {
        pr_timers[arm->timer] = arm->at;
      } else if (const auto* d = std::get_if<Disarm>(&a)) {
        pr_timers.erase(d->timer);
      }
    }
  }
  void run(const std::vector<PoolElementSide::Action>& actions) {
    for (const auto& a : actions) {
      if (const auto* s = std::get_if<Send>(&a)) {
        toPr(kPeConn, s->message);
      } else if (std::holds_alternative<StartHunt>(a)) {
        ConnectionInfo info = test::inbound(kPeConn);
        run(pr->handle(Connected{info}));
        run(pe->handle(Connected{test::outbound(kPeConn)}));
      } else if (const auto* arm = std::get_if<Arm>(&a)) {
        pe_timers[arm->timer] = arm->at;
      } else if (const auto* d = std::get_if<Disarm>(&a)) {
        pe_timers.erase(d->timer);
      }
    }
  }
  void run(const std::vector<PoolUserSide::Action>& actions) {
    for (const auto& a : actions) {
      if (const auto* s = std::get_if<Send>(&a)) {
        toPr(kPuConn, s->message);
      } else if (std::holds_alternative<StartHunt>(a)) {
        run(pr->handle(Connected{test::inbound(kPuConn, "10.0.0.2")}));
        run(pu->handle(Connected{test::outbound(kPuConn)}));
      } else if (const auto* r = std::get_if<Resolved>(&a)) {
        resolved.push_back(*r);
      } else if (const auto* arm = std::get_if<Arm>(&a)) {
        pu_timers[arm->timer] = arm->at;
      } else if (const auto* d = std::get_if<Disarm>(&a)) {
        pu_timers.erase(d->timer);
      }
    }
  }

  // Fires every timer due up to `until`, in time order.
  void advanceTo(TimePoint until) {
    for (;;) {
      TimePoint next = until;
      int who = -1;
      TimerKey key = 0;
      auto consider = [&](const std::map<TimerKey, TimePoint>& timers, int w) {
        for (const auto& [k, t] : timers)
          if (t <= next && (who < 0 || t < next)) next = t, who = w, key = k;
      };
      consider(pr_timers, 0);
      consider(pe_timers, 1);
      consider(pu_timers, 2);
      if (who < 0) break;
      clock.t = next;
      if (who == 0) pr_timers.erase(key), run(pr->handle(Expired{key}));
      if (who == 1) pe_timers.erase(key), run(pe->handle(Expired{key}));
      if (who == 2) pu_timers.erase(key), run(pu->handle(Expired{key}));
    }
    clock.t = until;
  }

  const Resolved& resolve(const std::string& pool) {
    std::vector<PoolUserSide::Action> out;
    pu->clearCache();
    pu->resolve(resolved.size() + 1, pool, 0, out);
    run(out);
    EXPECT_FALSE(resolved.empty());
    return resolved.back();
  }
};

wire::PoolElement element(wire::PeId id) {
  wire::PoolElement pe;
  pe.id = id;
  pe.registration_life_ms = 30000;
  pe.user_transport = test::tcpAt("10.0.0.1", 5060);
  pe.policy = wire::Policy::make(wire::PolicyType::LeastUsed, {1000});
  return pe;
}

TEST(Simulation, RegisterResolveAndKeepAliveOverTime) {
  Network net;
  std::vector<PoolElementSide::Action> out;
  net.pe->add("sip-proxy", element(42), out);
  net.run(out);
  ASSERT_TRUE(net.pe->registered("sip-proxy", 42));
  EXPECT_EQ(net.pe->homeRegistrar(), 0x11111111u);

  const auto& r = net.resolve("sip-proxy");
  ASSERT_EQ(r.cause, 0);
  ASSERT_EQ(r.pes.size(), 1u);
  EXPECT_EQ(r.pes[0].id, 42u);

  // 35 seconds of keep-alives (every 300 ms) and re-registrations (a third of the 30 s life): it stays.
  net.advanceTo(net.clock.now() + 35s);
  EXPECT_TRUE(net.hs.contains("sip-proxy", 42));
  EXPECT_GE(net.pr->stats().keep_alive_acks, 100u);
  EXPECT_EQ(net.pr->stats().reregistrations, 3u);
  EXPECT_EQ(net.pr->stats().keep_alive_timeouts, 0u);
}

TEST(Simulation, FrozenPeIsDroppedAndNoLongerResolved) {
  Network net;
  std::vector<PoolElementSide::Action> out;
  net.pe->add("sip-proxy", element(42), out);
  net.run(out);
  net.pe_alive = false;
  net.advanceTo(net.clock.now() + 500ms);  // one interval + one timeout
  EXPECT_FALSE(net.hs.contains("sip-proxy", 42));
  EXPECT_EQ(net.resolve("sip-proxy").cause, 0x9);
}

TEST(Simulation, ConnectionLossRemovesThePeAtOnce) {
  Network net;
  std::vector<PoolElementSide::Action> out;
  net.pe->add("sip-proxy", element(42), out);
  net.run(out);
  net.run(net.pr->handle(Disconnected{Network::kPeConn}));
  EXPECT_EQ(net.resolve("sip-proxy").cause, 0x9);
}

}  // namespace
}  // namespace vnfpool::asap
