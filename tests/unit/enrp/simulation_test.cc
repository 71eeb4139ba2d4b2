// Three Pool Registrars on the in-memory network of sim.h: the mesh forms and synchronises, updates
// propagate, the audit repairs a diverged handlespace, a dead PR's PEs are taken over and spread, and two
// simultaneous takeovers resolve by the lower PR ID.
#include <gtest/gtest.h>

#include "sim.h"

namespace vnfpool::enrp {
namespace {

using namespace std::chrono_literals;
using test::contents;
using test::Network;

Config fast() {
  Config c;
  c.heartbeat_cycle = 200ms;
  c.jitter_percent = 0;
  c.max_time_last_heard = 500ms;
  c.max_time_no_response = 300ms;
  c.mentor_discovery_timeout = 1s;
  c.takeover_expiry = 1s;
  c.reconnect_interval = 200ms;
  c.ng_page_entries = 64;  // several pages even for small tables
  return c;
}

class SimulationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (PrId id : {kPr1, kPr2, kPr3}) net_.add(id, fast());
  }
  // PR1 starts alone with `pes` PEs, then PR2 and PR3 join.
  void formMesh(std::size_t pes) {
    net_.start(kPr1);
    for (std::size_t i = 0; i < pes; ++i) net_.registerAt(kPr1, "pool" + std::to_string(i % 3), peId(i));
    net_.runFor(1500ms);
    ASSERT_FALSE(net_.node(kPr1).engine->inStartup());
    net_.start(kPr2);
    net_.start(kPr3);
    net_.runFor(1s);
  }
  static PeId peId(std::size_t i) { return 0x1000 + i * 7919; }
  // PEs whose XOR metric keeps them at PR3 (no Takeover Suggestion moves them away).
  static std::vector<PeId> keptBy3(std::size_t count, std::size_t from) {
    std::vector<PeId> pes;
    for (std::size_t i = from; pes.size() < count; ++i) {
      const PeId pe = peId(i);
      if ((kPr3 ^ pe) > (kPr1 ^ pe) && (kPr3 ^ pe) > (kPr2 ^ pe)) pes.push_back(pe);
    }
    return pes;
  }
  void expectConverged(std::initializer_list<PrId> live) {
    const auto reference = contents(*net_.node(*live.begin()).hs);
    for (PrId id : live) {
      EXPECT_EQ(contents(*net_.node(id).hs), reference) << "PR " << id;
      for (PrId owner : live)
        EXPECT_EQ(net_.node(id).hs->ownerChecksum(owner), net_.node(*live.begin()).hs->ownerChecksum(owner));
    }
  }

  // PR3 has the highest bit that tells the three apart, PR1 and PR2 differ below it: XOR spreads
  // PR3's orphans over both survivors.
  static constexpr PrId kPr1 = 0x11, kPr2 = 0x12, kPr3 = 0x14;
  Network net_;
};

TEST_F(SimulationTest, MeshFormsAndLatecomersSyncFromTheirMentor) {
  formMesh(300);
  for (PrId id : {kPr1, kPr2, kPr3}) {
    const auto& e = *net_.node(id).engine;
    EXPECT_FALSE(e.inStartup());
    EXPECT_EQ(e.peers().size(), 2u) << "PR " << id;
    EXPECT_EQ(e.stats().takeovers_started, 0u);
  }
  // The joiners found a mentor and finished start-up before the discovery timeout.
  for (PrId id : {kPr2, kPr3}) {
    const auto& s = net_.node(id).engine->stats();
    ASSERT_TRUE(s.startup_sync.has_value());
    EXPECT_LT(*s.startup_sync, 1s);
    EXPECT_GE(s.table_pages_received, 5u);  // 300 PEs in pages of 64
  }
  EXPECT_EQ(net_.node(kPr2).hs->size(), 300u);
  expectConverged({kPr1, kPr2, kPr3});
}

TEST_F(SimulationTest, PeRegisteredAtOnePrAppearsEverywhereAndLeavesEverywhere) {
  formMesh(0);
  net_.registerAt(kPr1, "sip", 0xABCDEF);
  net_.runFor(50ms);
  for (PrId id : {kPr1, kPr2, kPr3}) EXPECT_TRUE(net_.node(id).hs->contains("sip", 0xABCDEF)) << "PR " << id;
  expectConverged({kPr1, kPr2, kPr3});
  // Takeover Suggestion may have moved it; its home PR deregisters it.
  const PrId home = net_.node(kPr1).hs->view(*net_.node(kPr1).hs->find("sip", 0xABCDEF)).homePr();
  net_.deregisterAt(home, "sip", 0xABCDEF);
  net_.runFor(50ms);
  for (PrId id : {kPr1, kPr2, kPr3}) EXPECT_FALSE(net_.node(id).hs->contains("sip", 0xABCDEF)) << "PR " << id;
}

TEST_F(SimulationTest, TakeoverSuggestionSpreadsOwnershipByXor) {
  formMesh(0);
  for (std::size_t i = 0; i < 60; ++i) net_.registerAt(kPr1, "sip", peId(i));
  net_.runFor(100ms);
  expectConverged({kPr1, kPr2, kPr3});
  const auto& hs = *net_.node(kPr1).hs;
  for (std::size_t i = 0; i < 60; ++i) {
    const PeId pe = peId(i);
    PrId best = kPr1;
    for (PrId id : {kPr2, kPr3})
      if ((id ^ pe) > (best ^ pe)) best = id;
    EXPECT_EQ(hs.view(*hs.find("sip", pe)).homePr(), best) << pe;
  }
  EXPECT_GT(hs.ownerSize(kPr2) + hs.ownerSize(kPr3), 0u);
}

TEST_F(SimulationTest, AuditRepairsADivergedHandlespace) {
  formMesh(50);
  auto& hs2 = *net_.node(kPr2).hs;
  // PR2 silently loses two of PR1's PEs and gains a bogus one (bypassing ENRP).
  ASSERT_TRUE(hs2.deregisterPe("pool0", peId(0)));
  ASSERT_TRUE(hs2.deregisterPe("pool1", peId(1)));
  ASSERT_TRUE(hs2.registerPe("ghost", test::element(0x9999, kPr1), {0, handlespace::kNever}, net_.clock.now()).ok());
  (void)hs2.takeChanges();
  net_.runFor(500ms);
  const auto& s = net_.node(kPr2).engine->stats();
  EXPECT_GE(s.audit_mismatches, 1u);
  EXPECT_GE(s.resyncs_completed, 1u);
  EXPECT_GE(s.purged_by_resync, 1u);
  EXPECT_FALSE(hs2.contains("ghost", 0x9999));
  EXPECT_TRUE(hs2.contains("pool0", peId(0)));
  expectConverged({kPr1, kPr2, kPr3});
}

TEST_F(SimulationTest, DeadPrsPesAreTakenOverAndSpreadWithNoneLost) {
  formMesh(0);
  // Register PEs at PR3 whose XOR metric keeps them there, so it owns many when it dies.
  const std::vector<PeId> at3 = keptBy3(40, 0);  // PEs the XOR metric keeps at PR3
  for (PeId pe : at3) net_.registerAt(kPr3, "sip", pe);
  for (std::size_t i = 0; i < 20; ++i) net_.registerAt(kPr1, "media", peId(1000 + i));
  net_.runFor(100ms);
  expectConverged({kPr1, kPr2, kPr3});
  // The orphans-to-be: PR3's PEs (the 40, and the media PEs Takeover Suggestion moved to it).
  std::vector<std::pair<std::string, PeId>> orphans;
  for (const auto& [pool, pe, owner] : contents(*net_.node(kPr1).hs))
    if (owner == kPr3) orphans.emplace_back(pool, pe);
  ASSERT_GE(orphans.size(), 40u);

  net_.kill(kPr3);
  net_.runFor(3s);
  for (PrId id : {kPr1, kPr2}) {
    const auto& hs = *net_.node(id).hs;
    EXPECT_EQ(hs.size(), 60u) << "PR " << id;  // no PE lost
    EXPECT_EQ(hs.ownerSize(kPr3), 0u);
    for (const auto& [pool, pe] : orphans) EXPECT_TRUE(hs.contains(pool, pe));
    EXPECT_EQ(net_.node(id).engine->peers().size(), 1u);
  }
  expectConverged({kPr1, kPr2});
  const auto& s1 = net_.node(kPr1).engine->stats();
  const auto& s2 = net_.node(kPr2).engine->stats();
  EXPECT_EQ(s1.takeovers_won + s2.takeovers_won, 1u);
  // Spread: the orphans went to both survivors (by XOR with the survivors' IDs), not all to the winner.
  std::size_t at1 = 0, at2 = 0;
  const auto& hs = *net_.node(kPr1).hs;
  for (const auto& [pool, pe] : orphans) {
    const PrId home = hs.view(*hs.find(pool, pe)).homePr();
    (home == kPr1 ? at1 : at2)++;
    EXPECT_EQ(home, (kPr2 ^ pe) > (kPr1 ^ pe) ? kPr2 : kPr1) << pe;
  }
  EXPECT_GT(at1, 0u);
  EXPECT_GT(at2, 0u);
  EXPECT_EQ(at1 + at2, orphans.size());
}

TEST_F(SimulationTest, CrashedPrWhoseConnectionsResetIsTakenOverWithinTheNoResponseTime) {
  formMesh(0);
  for (PeId pe : keptBy3(20, 0)) net_.registerAt(kPr3, "sip", pe);
  net_.runFor(100ms);
  ASSERT_EQ(net_.node(kPr1).hs->ownerSize(kPr3), 20u);
  net_.crash(kPr3);
  net_.runFor(350ms);  // max_time_no_response (300 ms) plus a few message latencies
  for (PrId id : {kPr1, kPr2}) {
    EXPECT_EQ(net_.node(id).hs->ownerSize(kPr3), 0u) << "PR " << id;
    EXPECT_EQ(net_.node(id).hs->size(), 20u);
  }
  expectConverged({kPr1, kPr2});
}

TEST_F(SimulationTest, RestartedPrResynchronisesFromItsMentor) {
  formMesh(0);
  for (PeId pe : keptBy3(10, 0)) net_.registerAt(kPr3, "sip", pe);
  for (std::size_t i = 0; i < 30; ++i) net_.registerAt(kPr1, "media", peId(100 + i));
  net_.runFor(100ms);
  net_.kill(kPr3);
  net_.runFor(2s);
  ASSERT_EQ(net_.node(kPr1).hs->ownerSize(kPr3), 0u);
  net_.restart(kPr3);
  net_.start(kPr3);
  net_.runFor(500ms);
  const auto& e3 = *net_.node(kPr3).engine;
  EXPECT_FALSE(e3.inStartup());
  ASSERT_TRUE(e3.stats().startup_sync.has_value());
  EXPECT_LT(*e3.stats().startup_sync, 1s);  // ended by the mentor's last page, not the timeout
  EXPECT_EQ(e3.peers().size(), 2u);
  EXPECT_EQ(net_.node(kPr3).hs->size(), 40u);
  expectConverged({kPr1, kPr2, kPr3});
}

TEST_F(SimulationTest, ChurnDuringTheMentorSyncConverges) {
  net_.start(kPr1);
  for (std::size_t i = 0; i < 2000; ++i) net_.registerAt(kPr1, "pool" + std::to_string(i % 5), peId(i));
  net_.runFor(1500ms);
  net_.start(kPr2);
  // 2000 PEs in pages of 64 (8 ahead, so 4 round trips); change the table all along, every 200 us.
  std::size_t during = 0;
  for (std::size_t round = 0; round < 40; ++round) {
    net_.runFor(200us);
    if (net_.node(kPr2).engine->inStartup()) ++during;
    const std::size_t gone = round * 37 % 2000;
    net_.deregisterAt(kPr1, "pool" + std::to_string(gone % 5), peId(gone));
    net_.registerAt(kPr1, "late", peId(5000 + round));
  }
  EXPECT_GE(during, 5u);  // the churn happened during the transfer
  EXPECT_GT(net_.node(kPr2).engine->stats().table_pages_received, 5u);
  net_.runFor(1s);
  EXPECT_FALSE(net_.node(kPr2).engine->inStartup());
  EXPECT_EQ(net_.node(kPr1).hs->size(), 2000u);
  EXPECT_EQ(net_.node(kPr2).hs->size(), 2000u);
  expectConverged({kPr1, kPr2});
}

TEST_F(SimulationTest, PartitionAndHealConverge) {
  formMesh(0);
  for (PeId pe : keptBy3(10, 0)) net_.registerAt(kPr3, "sip", pe);
  for (std::size_t i = 0; i < 10; ++i) net_.registerAt(kPr1, "media", peId(300 + i));
  net_.runFor(100ms);
  net_.partition(kPr1, kPr3);
  net_.partition(kPr2, kPr3);
  net_.runFor(3s);
  // Each side took over the other's PEs.
  EXPECT_EQ(net_.node(kPr1).hs->ownerSize(kPr3), 0u);
  net_.heal();
  net_.runFor(5s);
  // Both sides claimed the PEs; the audits found the conflicts, the lower PR IDs kept them and adopted
  // them again, and Takeover Suggestion then moved each to its XOR-best PR, as before the partition.
  EXPECT_GT(net_.node(kPr3).engine->stats().ownership_conflicts, 0u);
  for (const auto& [pool, pe, owner] : contents(*net_.node(kPr1).hs)) {
    PrId best = kPr1;
    for (PrId id : {kPr2, kPr3})
      if ((id ^ pe) > (best ^ pe)) best = id;
    EXPECT_EQ(owner, best) << pool << " " << pe;
  }
  for (PrId id : {kPr1, kPr2, kPr3}) {
    EXPECT_EQ(net_.node(id).hs->size(), 20u) << "PR " << id;
    EXPECT_EQ(net_.node(id).engine->peers().size(), 2u) << "PR " << id;
  }
  expectConverged({kPr1, kPr2, kPr3});
}

TEST_F(SimulationTest, SimultaneousTakeoversResolveByLowerPrId) {
  formMesh(0);
  for (PeId pe : keptBy3(10, 5000)) net_.registerAt(kPr3, "sip", pe);
  net_.runFor(100ms);
  net_.kill(kPr3);
  net_.runFor(3s);
  const auto& s1 = net_.node(kPr1).engine->stats();
  const auto& s2 = net_.node(kPr2).engine->stats();
  // Both noticed PR3's silence at the same moment and both started; PR1 (lower ID) won.
  EXPECT_EQ(s1.takeovers_started, 1u);
  EXPECT_EQ(s2.takeovers_started, 1u);
  EXPECT_EQ(s1.takeovers_won, 1u);
  EXPECT_EQ(s2.takeovers_won, 0u);
  EXPECT_EQ(s2.takeovers_lost, 1u);
  EXPECT_EQ(s1.takeovers_abandoned + s2.takeovers_abandoned, 0u);
  for (PrId id : {kPr1, kPr2}) {
    EXPECT_EQ(net_.node(id).hs->size(), 10u);
    EXPECT_EQ(net_.node(id).hs->ownerSize(kPr3), 0u);
  }
  expectConverged({kPr1, kPr2});
}

}  // namespace
}  // namespace vnfpool::enrp

namespace vnfpool::enrp {
namespace {

// Five PRs with the rendezvous metric: PEs registered at one PR spread over all five, and a dead PR's
// orphans spread over the four survivors, each close to an even share.
TEST(RendezvousSimulationTest, OrphansOfADeadPrAreSpreadEvenlyOverTheSurvivors) {
  using namespace std::chrono_literals;
  Network net;
  const std::vector<PrId> ids{0x5001, 0x5002, 0x5003, 0x5004, 0x5005};
  Config config = fast();
  config.suggestion_metric = Config::SuggestionMetric::Rendezvous;
  for (PrId id : ids) net.add(id, config);
  for (PrId id : ids) net.start(id);
  net.runFor(1500ms);
  for (std::size_t i = 0; i < 500; ++i) net.registerAt(ids[0], "sip", 0x7000 + i);
  net.runFor(200ms);
  const auto& hs = *net.node(ids[0]).hs;
  ASSERT_EQ(hs.size(), 500u);
  for (PrId id : ids) {
    EXPECT_GT(hs.ownerSize(id), 60u) << id;  // 100 expected
    EXPECT_LT(hs.ownerSize(id), 140u) << id;
  }
  std::vector<PeId> orphans;
  for (const auto& [pool, pe, owner] : contents(hs))
    if (owner == ids[4]) orphans.push_back(pe);

  net.kill(ids[4]);
  net.runFor(3s);
  const auto& survivor = *net.node(ids[0]).hs;
  EXPECT_EQ(survivor.size(), 500u);
  std::map<PrId, std::size_t> share;
  for (PeId pe : orphans) ++share[survivor.view(*survivor.find("sip", pe)).homePr()];
  const std::size_t even = orphans.size() / 4;
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_LE(share[ids[i]], even + even / 2 + 5) << ids[i];
    EXPECT_GE(share[ids[i]] + even / 2 + 5, even) << ids[i];
  }
  const auto reference = contents(survivor);
  for (std::size_t i = 1; i < 4; ++i) EXPECT_EQ(contents(*net.node(ids[i]).hs), reference);
}

// The classic dialect end to end: 32-bit IDs, Internet-16 audit checksums, RSPLIB's page size.
TEST(ClassicSimulationTest, MeshAuditAndTakeoverWorkInTheClassicDialect) {
  using namespace std::chrono_literals;
  Network net(1ms, wire::Dialect::Classic);
  Config config = fast();
  config.classic_page_entries = 16;
  const PrId a = 0x0A000001, b = 0x0A000002, c = 0x0A000004;
  for (PrId id : {a, b, c}) net.add(id, config);
  net.start(a);
  for (PeId pe = 1; pe <= 100; ++pe) net.registerAt(a, "sip", 0x100 + pe);
  net.runFor(1500ms);
  net.start(b);
  net.start(c);
  net.runFor(1s);
  EXPECT_GE(net.node(b).engine->stats().table_pages_received, 7u);
  for (PeId pe = 1; pe <= 30; ++pe) net.registerAt(c, "media", 0x9000 + pe);
  net.runFor(100ms);
  auto& hs_b = *net.node(b).hs;
  ASSERT_TRUE(hs_b.deregisterPe("sip", 0x101));  // behind ENRP's back
  (void)hs_b.takeChanges();
  net.runFor(500ms);
  EXPECT_GE(net.node(b).engine->stats().resyncs_completed, 1u);
  EXPECT_TRUE(hs_b.contains("sip", 0x101));
  const std::size_t at_c = net.node(a).hs->ownerSize(c);
  ASSERT_GT(at_c, 0u);
  net.kill(c);
  net.runFor(3s);
  for (PrId id : {a, b}) {
    EXPECT_EQ(net.node(id).hs->size(), 130u);
    EXPECT_EQ(net.node(id).hs->ownerSize(c), 0u);
  }
  EXPECT_EQ(contents(*net.node(a).hs), contents(*net.node(b).hs));
  // Converged: further Internet-16 audits all match.
  const auto audits = net.node(a).engine->stats().audits;
  const auto mismatches = net.node(a).engine->stats().audit_mismatches;
  net.runFor(1s);
  EXPECT_GT(net.node(a).engine->stats().audits, audits + 3);
  EXPECT_EQ(net.node(a).engine->stats().audit_mismatches, mismatches);
}

TEST(SuggestionScoreTest, XorIsRsplibsMetricAndRendezvousIsDeterministic) {
  EXPECT_EQ(suggestionScore(Config::SuggestionMetric::Xor, 0x30, 0x0F), 0x3Fu);
  const auto a = suggestionScore(Config::SuggestionMetric::Rendezvous, 7, 42);
  EXPECT_EQ(a, suggestionScore(Config::SuggestionMetric::Rendezvous, 7, 42));
  EXPECT_NE(a, suggestionScore(Config::SuggestionMetric::Rendezvous, 8, 42));
  EXPECT_NE(a, suggestionScore(Config::SuggestionMetric::Rendezvous, 7, 43));
}

}  // namespace
}  // namespace vnfpool::enrp
