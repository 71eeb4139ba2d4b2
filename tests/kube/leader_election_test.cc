// Lease leader election between candidates sharing the fake API server.
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "fake_server.h"
#include "vnfpool/kube/leader_election.h"

namespace vnfpool::kube {
namespace {

using test::FakeServer;
using namespace std::chrono_literals;

LeaderElectionConfig fast(const std::string& identity) {
  LeaderElectionConfig c;
  c.namespace_name = "default";
  c.lease_name = "vnfpool-operator";
  c.identity = identity;
  c.lease_duration = 2000ms;
  c.renew_deadline = 1500ms;
  c.retry_period = 100ms;
  return c;
}

struct Candidate {
  Candidate(Client& client, LeaderElectionConfig config)
      : elector(client, std::move(config),
                LeaderCallbacks{[this](std::stop_token) { started.set_value(); },
                                [this] { stopped.set_value(); }, nullptr}) {
    started_future = started.get_future();
    stopped_future = stopped.get_future();
  }
  void start() {
    runner = std::jthread([this](std::stop_token stop) { result = elector.run(stop); });
  }
  Status result = Done{};
  std::promise<void> started, stopped;
  std::future<void> started_future, stopped_future;
  LeaderElector elector;
  std::jthread runner;
};

class LeaderElectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<FakeServer>();
    client_a_ = Client::create(server_->httpConfig()).value();
    client_b_ = Client::create(server_->httpConfig()).value();
  }
  Lease lease() { return TypedClient<Lease>(*client_a_).get("default", "vnfpool-operator").value(); }

  std::unique_ptr<FakeServer> server_;
  std::unique_ptr<Client> client_a_, client_b_;
};

TEST_F(LeaderElectionTest, ValidatesTimings) {
  auto c = fast("a");
  EXPECT_TRUE(LeaderElector::validate(c).ok());
  c.renew_deadline = c.lease_duration;
  EXPECT_FALSE(LeaderElector::validate(c).ok());
  c = fast("");
  EXPECT_FALSE(LeaderElector::validate(c).ok());
  LeaderElectionConfig defaults = fast("a");
  defaults.lease_duration = 15s;
  defaults.renew_deadline = 10s;
  defaults.retry_period = 2s;
  EXPECT_TRUE(LeaderElector::validate(defaults).ok());
  auto bad = fast("a");
  bad.retry_period = 0ms;
  LeaderElector elector(*client_a_, bad, {});
  auto refused = elector.run({});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, ErrorKind::BadInput);
}

TEST_F(LeaderElectionTest, HandsOverWhenTheLeaderReleasesOnCleanExit) {
  // A long lease: if b takes over within the bound below, it is thanks to the release, not expiry.
  auto slow_expiry = [](const std::string& id) {
    auto c = fast(id);
    c.lease_duration = 30000ms;
    c.renew_deadline = 20000ms;
    return c;
  };
  Candidate a(*client_a_, slow_expiry("a"));
  a.start();
  ASSERT_EQ(a.started_future.wait_for(20s), std::future_status::ready);
  EXPECT_TRUE(a.elector.isLeader());
  Candidate b(*client_b_, slow_expiry("b"));
  b.start();
  EXPECT_EQ(b.started_future.wait_for(300ms), std::future_status::timeout);   // a holds and renews
  EXPECT_EQ(lease().holder_identity, "a");
  a.runner.request_stop();
  a.runner.join();
  ASSERT_EQ(a.stopped_future.wait_for(1s), std::future_status::ready);
  EXPECT_FALSE(a.elector.isLeader());
  // Released (holder cleared), so b takes over at its next retry, long before the lease would expire.
  ASSERT_EQ(b.started_future.wait_for(10s), std::future_status::ready);
  const auto l = lease();
  EXPECT_EQ(l.holder_identity, "b");
  EXPECT_EQ(l.lease_transitions, 1);
}

TEST_F(LeaderElectionTest, TakesOverAfterTheLeaseExpiresWhenTheLeaderVanishes) {
  auto config_a = fast("a");
  config_a.release_on_stop = false;   // a crash: nobody clears the lease
  Candidate a(*client_a_, config_a);
  a.start();
  ASSERT_EQ(a.started_future.wait_for(20s), std::future_status::ready);
  Candidate b(*client_b_, fast("b"));
  b.start();
  a.runner.request_stop();
  a.runner.join();
  EXPECT_EQ(lease().holder_identity, "a");
  const auto lost_at = std::chrono::steady_clock::now();
  ASSERT_EQ(b.started_future.wait_for(20s), std::future_status::ready);
  EXPECT_GE(std::chrono::steady_clock::now() - lost_at, 1s);   // not before the lease ran out
  EXPECT_EQ(lease().holder_identity, "b");
  EXPECT_EQ(b.elector.observedLeader(), "b");
}

TEST_F(LeaderElectionTest, StepsDownWhenItCannotRenew) {
  Candidate a(*client_a_, fast("a"));
  a.start();
  ASSERT_EQ(a.started_future.wait_for(20s), std::future_status::ready);
  // Someone else grabs the lease with a long duration; a's renewals now fail.
  auto l = lease();
  l.holder_identity = "intruder";
  l.lease_duration_seconds = 3600;
  l.renew_time = nowMicroTime();
  ASSERT_TRUE(TypedClient<Lease>(*client_b_).update(l).ok() ||
              TypedClient<Lease>(*client_b_).update([&] {
                auto fresh = lease();
                fresh.holder_identity = "intruder";
                fresh.lease_duration_seconds = 3600;
                return fresh;
              }()).ok());
  ASSERT_EQ(a.stopped_future.wait_for(20s), std::future_status::ready);
  EXPECT_FALSE(a.elector.isLeader());
  EXPECT_EQ(a.elector.observedLeader(), "intruder");
}

}  // namespace
}  // namespace vnfpool::kube
