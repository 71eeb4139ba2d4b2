// The issue-5 scenarios on the mesh simulator (mesh_sim.h): PR engines and real PE engines, with the
// properties checked after every scenario: all live PRs hold equal handlespaces (contents and per-owner
// checksums), no live PE is missing, no dead PE stays, every PE's home is the PR the PE follows, and the
// orphans of a dead PR are spread (no survivor takes more than its even share plus a small bound) with
// the rendezvous suggestion metric.
#include <gtest/gtest.h>

#include <cmath>

#include "mesh_sim.h"

namespace vnfpool::sim {
namespace {

using namespace std::chrono_literals;

enrp::Config fast() {
  enrp::Config c;
  c.heartbeat_cycle = 200ms;
  c.jitter_percent = 10;
  c.max_time_last_heard = 500ms;
  c.max_time_no_response = 300ms;
  c.mentor_discovery_timeout = 1s;
  c.takeover_expiry = 1s;
  c.reconnect_interval = 200ms;
  c.transfer_timeout = 500ms;
  c.ng_page_entries = 128;  // many pages even for these tables
  c.suggestion_metric = enrp::Config::SuggestionMetric::Rendezvous;
  return c;
}

class MeshSimTest : public ::testing::Test {
 protected:
  void addPrs(std::initializer_list<PrId> ids) {
    for (PrId id : ids) {
      enrp::Config c = fast();
      c.seed = id;
      mesh_.addPr(id, c);
    }
  }
  void startAll() {
    for (Mesh::Pr* pr : all()) mesh_.startPr(pr->id);
    mesh_.runFor(1500ms);
  }
  std::vector<Mesh::Pr*> all() {
    std::vector<Mesh::Pr*> out;
    for (PrId id = 1; id <= 9; ++id) try {
        out.push_back(&mesh_.pr(id));
      } catch (const std::out_of_range&) {
      }
    return out;
  }
  /// `n` PEs in pools a/b/c, hunting from PR index i % spread.
  void addPes(std::size_t n, std::size_t spread, PeId first = 1) {
    for (std::size_t i = 0; i < n; ++i)
      mesh_.addPe(std::string("pool-") + char('a' + i % 3), first + i, i % spread);
  }
  /// The PEs owned by `id` now, as the other live PRs see them.
  std::set<std::pair<std::string, PeId>> ownedBy(PrId id) {
    std::set<std::pair<std::string, PeId>> out;
    for (Mesh::Pr* pr : mesh_.livePrs()) {
      if (pr->id == id) continue;
      auto page = pr->hs->handleTable(id, {}, 1u << 30);
      for (auto ref : page.entries) out.emplace(std::string(pr->hs->view(ref).pool()), pr->hs->view(ref).id());
      break;
    }
    return out;
  }

  /// The properties of issue 5, after every scenario.
  void checkProperties() {
    auto live = mesh_.livePrs();
    ASSERT_FALSE(live.empty());
    const Mesh::Pr& first = *live.front();
    auto contents = [](const handlespace::Handlespace& hs) {
      std::vector<std::tuple<std::string, PeId, PrId>> all;
      auto page = hs.handleTable(std::nullopt, {}, 1u << 30);
      for (const auto& ref : page.entries) {
        auto v = hs.view(ref);
        all.emplace_back(std::string(v.pool()), v.id(), v.homePr());
      }
      std::sort(all.begin(), all.end());
      return all;
    };
    const auto reference = contents(*first.hs);
    for (const Mesh::Pr* pr : live) {
      EXPECT_EQ(contents(*pr->hs), reference) << "PR " << pr->id << " differs from PR " << first.id;
      for (PrId owner : first.hs->owners())
        EXPECT_EQ(pr->hs->ownerChecksum(owner), first.hs->ownerChecksum(owner))
            << "checksum of owner " << owner << " at PR " << pr->id;
    }
    std::set<PrId> live_ids;
    for (const Mesh::Pr* pr : live) live_ids.insert(pr->id);
    std::size_t missing = 0, stale = 0, misplaced = 0;
    for (const auto& pe : mesh_.pes()) {
      const auto ref = first.hs->find(pe->pool, pe->id);
      if (pe->alive) {
        if (!ref) {
          ++missing;
          continue;
        }
        const PrId home = first.hs->view(*ref).homePr();
        if (!live_ids.count(home)) ++misplaced;                       // homed at a dead PR
        else if (pe->side->homeRegistrar() != home) ++misplaced;  // the PE follows another PR
      } else if (ref) {
        ++stale;
      }
    }
    EXPECT_EQ(missing, 0u) << "live PEs missing";
    EXPECT_EQ(stale, 0u) << "dead PEs still listed";
    EXPECT_EQ(misplaced, 0u) << "PEs whose home is not the PR they follow";
  }
  /// The orphans are spread: no survivor got more than its even share plus three standard deviations.
  void checkSpread(const std::set<std::pair<std::string, PeId>>& orphans) {
    auto live = mesh_.livePrs();
    const auto k = static_cast<double>(live.size());
    const auto n = static_cast<double>(orphans.size());
    ASSERT_GT(n, 0);
    std::map<PrId, std::size_t> got;
    for (const auto& [pool, id] : orphans) {
      auto ref = live.front()->hs->find(pool, id);
      if (ref) ++got[live.front()->hs->view(*ref).homePr()];
    }
    const double bound = n / k + 3 * std::sqrt(n * (1 / k) * (1 - 1 / k)) + 2;
    for (const Mesh::Pr* pr : live) {
      EXPECT_LE(static_cast<double>(got[pr->id]), bound) << "PR " << pr->id << " took too many orphans";
      EXPECT_GT(got[pr->id], 0u) << "PR " << pr->id << " took none";
    }
  }

  Mesh mesh_{1ms, 7};
};

TEST_F(MeshSimTest, JoinWithABigHandlespace) {
  addPrs({1, 2, 3});
  mesh_.startPr(1);
  addPes(2000, 1);  // all at PR1
  mesh_.runFor(1500ms);
  ASSERT_EQ(mesh_.pr(1).hs->size(), 2000u);
  mesh_.startPr(2);
  mesh_.startPr(3);
  mesh_.runFor(2s);
  for (PrId id : {PrId{2}, PrId{3}}) {
    const auto& s = mesh_.pr(id).enrp->stats();
    ASSERT_TRUE(s.startup_sync.has_value());
    EXPECT_LT(*s.startup_sync, 1s) << "PR " << id << ": ended by the mentor's last page, not the timeout";
    EXPECT_GE(s.table_pages_received, 2000u / 128);
  }
  checkProperties();
}

TEST_F(MeshSimTest, PrCrashSpreadsItsPes) {
  addPrs({1, 2, 3, 4});
  startAll();
  addPes(400, 4);
  mesh_.runFor(2s);
  const auto orphans = ownedBy(4);
  ASSERT_GT(orphans.size(), 50u);
  mesh_.crash(4);  // its PEs see the connection reset and hunt; the PRs take them over
  mesh_.runFor(3s);
  checkProperties();
  checkSpread(orphans);
}

TEST_F(MeshSimTest, SilentPrLossIsTakenOver) {
  addPrs({1, 2, 3, 4});
  startAll();
  addPes(400, 4);
  mesh_.runFor(2s);
  const auto orphans = ownedBy(4);
  ASSERT_GT(orphans.size(), 50u);
  mesh_.kill(4);  // no connection closes: only the heartbeats tell
  mesh_.runFor(3s);
  std::uint64_t won = 0;
  for (Mesh::Pr* pr : mesh_.livePrs()) won += pr->enrp->stats().takeovers_won;
  EXPECT_EQ(won, 1u);
  checkProperties();
  checkSpread(orphans);
}

TEST_F(MeshSimTest, TwoSimultaneousTakeovers) {
  addPrs({1, 2, 3, 4, 5});
  startAll();
  addPes(500, 5);
  mesh_.runFor(2s);
  auto orphans = ownedBy(4);
  const auto more = ownedBy(5);
  orphans.insert(more.begin(), more.end());
  mesh_.kill(4);
  mesh_.kill(5);
  mesh_.runFor(3s);
  std::uint64_t won = 0, abandoned = 0;
  for (Mesh::Pr* pr : mesh_.livePrs()) {
    won += pr->enrp->stats().takeovers_won;
    abandoned += pr->enrp->stats().takeovers_abandoned;
  }
  EXPECT_EQ(won, 2u);  // one winner per dead PR
  EXPECT_EQ(abandoned, 0u);
  checkProperties();
  checkSpread(orphans);
}

TEST_F(MeshSimTest, PartitionAndHeal) {
  addPrs({1, 2, 3});
  startAll();
  addPes(300, 3);
  mesh_.runFor(2s);
  mesh_.partition(1, 3);
  mesh_.partition(2, 3);
  mesh_.runFor(2s);  // each side declares the other dead and takes its PEs over
  mesh_.heal();
  mesh_.runFor(4s);
  checkProperties();
}

TEST_F(MeshSimTest, ChurnDuringSync) {
  addPrs({1, 2});
  mesh_.startPr(1);
  addPes(1500, 1);
  mesh_.runFor(1500ms);
  mesh_.startPr(2);
  std::size_t during = 0;
  for (std::size_t round = 0; round < 60; ++round) {
    mesh_.runFor(50us);
    if (mesh_.pr(2).enrp->inStartup()) ++during;
    mesh_.stopPe(std::string("pool-") + char('a' + round * 7 % 3), 1 + round * 7);  // deregisters
    mesh_.addPe("late", 10000 + round, 0);
  }
  EXPECT_GE(during, 3u);  // the churn happened while PR2 fetched the table
  mesh_.runFor(2s);
  checkProperties();
}

TEST_F(MeshSimTest, LossyAndSlowPathsAreRepairedByTheAudit) {
  addPrs({1, 2, 3});
  startAll();
  mesh_.delay(1, 3, 20ms);
  mesh_.drop(1, 2, 0.2);  // Handle Updates lost: the checksums in the Presences disagree
  addPes(300, 3);
  mesh_.runFor(2s);
  for (PeId id = 1; id <= 90; id += 3) mesh_.stopPe(std::string("pool-") + char('a' + (id - 1) % 3), id);
  mesh_.runFor(1s);
  EXPECT_GT(mesh_.dropped, 0u);
  mesh_.drop(1, 2, 0);
  mesh_.runFor(3s);
  std::uint64_t mismatches = 0;
  for (Mesh::Pr* pr : mesh_.livePrs()) mismatches += pr->enrp->stats().audit_mismatches;
  EXPECT_GT(mismatches, 0u);
  checkProperties();
}

}  // namespace
}  // namespace vnfpool::sim
