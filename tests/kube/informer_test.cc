// Informer (reflector + cache + handlers) against the fake API server: sync, event delivery, watch
// resume after a dropped stream, relist after 410, and consistency under a burst of changes.
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "fake_server.h"
#include "vnfpool/kube/informer.h"
#include "vnfpool/kube/kinds.h"

namespace vnfpool::kube {
namespace {

using test::FakeServer;
using namespace std::chrono_literals;

Json configMap(const std::string& ns, const std::string& name, const std::string& value = "v") {
  return parseJson(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":")" + name + R"(","namespace":")" +
                   ns + R"("},"data":{"k":")" + value + R"("}})")
      .value();
}

/// Records handler calls and lets the test wait for a condition on them (bounded, no sleeps).
class Recorder {
 public:
  InformerHandlers handlers() {
    return {[this](const Json& o) { note("add " + objectKey(o)); },
            [this](const Json&, const Json& n) { note("update " + objectKey(n) + " " + getString(n, "data.k").value_or("")); },
            [this](const Json& o) { note("delete " + objectKey(o)); }};
  }
  bool waitFor(const std::string& entry, std::chrono::seconds limit = 20s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, limit, [&] {
      for (const auto& e : log_) {
        if (e == entry) return true;
      }
      return false;
    });
  }
  std::vector<std::string> log() {
    std::lock_guard lock(mu_);
    return log_;
  }

 private:
  void note(std::string e) {
    {
      std::lock_guard lock(mu_);
      log_.push_back(std::move(e));
    }
    cv_.notify_all();
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> log_;
};

class InformerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<FakeServer>(std::vector<std::string>{"--history", "100"});
    client_ = Client::create(server_->httpConfig()).value();
    ASSERT_TRUE(client_->create(resources::kNamespace,
                                parseJson(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"inf"}})").value())
                    .ok());
  }
  std::unique_ptr<FakeServer> server_;
  std::unique_ptr<Client> client_;
};

TEST_F(InformerTest, SyncsThenDeliversAddsUpdatesAndDeletes) {
  ASSERT_TRUE(client_->create(resources::kConfigMap, configMap("inf", "a")).ok());
  ASSERT_TRUE(client_->create(resources::kConfigMap, configMap("inf", "b")).ok());
  InformerOptions options;
  options.namespace_name = "inf";
  Informer informer(*client_, resources::kConfigMap, options);
  Recorder rec;
  informer.addHandlers(rec.handlers());
  std::jthread runner([&](std::stop_token stop) { informer.run(stop); });
  ASSERT_TRUE(informer.waitForSync(runner.get_stop_token()));
  EXPECT_EQ(informer.keys(), (std::vector<std::string>{"inf/a", "inf/b"}));
  ASSERT_TRUE(rec.waitFor("add inf/a"));

  ASSERT_TRUE(client_->create(resources::kConfigMap, configMap("inf", "c")).ok());
  ASSERT_TRUE(client_->patch(resources::kConfigMap, "inf", "a", PatchType::Merge,
                             parseJson(R"({"data":{"k":"changed"}})").value()).ok());
  ASSERT_TRUE(client_->remove(resources::kConfigMap, "inf", "b").ok());
  ASSERT_TRUE(rec.waitFor("add inf/c"));
  ASSERT_TRUE(rec.waitFor("update inf/a changed"));
  ASSERT_TRUE(rec.waitFor("delete inf/b"));
  EXPECT_EQ(informer.keys(), (std::vector<std::string>{"inf/a", "inf/c"}));
  EXPECT_EQ(getString(informer.get("inf/a").value(), "data.k"), "changed");
  EXPECT_EQ(informer.stats().lists, 1);
}

TEST_F(InformerTest, ResumesAfterADroppedStreamWithoutRelisting) {
  InformerOptions options;
  options.namespace_name = "inf";
  Informer informer(*client_, resources::kConfigMap, options);
  Recorder rec;
  informer.addHandlers(rec.handlers());
  std::jthread runner([&](std::stop_token stop) { informer.run(stop); });
  ASSERT_TRUE(informer.waitForSync(runner.get_stop_token()));
  ASSERT_TRUE(client_->create(resources::kConfigMap, configMap("inf", "before")).ok());
  ASSERT_TRUE(rec.waitFor("add inf/before"));
  server_->control("POST", "drop-watches");
  ASSERT_TRUE(client_->create(resources::kConfigMap, configMap("inf", "after")).ok());
  ASSERT_TRUE(rec.waitFor("add inf/after"));
  const auto stats = informer.stats();
  EXPECT_EQ(stats.lists, 1);
  EXPECT_GE(stats.watches, 2);
  EXPECT_EQ(stats.expired, 0);
}

TEST_F(InformerTest, RelistsAfterExpiredAndCatchesUp) {
  ASSERT_TRUE(client_->create(resources::kConfigMap, configMap("inf", "gone-later")).ok());
  InformerOptions options;
  options.namespace_name = "inf";
  Informer informer(*client_, resources::kConfigMap, options);
  Recorder rec;
  informer.addHandlers(rec.handlers());
  std::jthread runner([&](std::stop_token stop) { informer.run(stop); });
  ASSERT_TRUE(informer.waitForSync(runner.get_stop_token()));
  // History is dropped: the open watch gets a 410 ERROR event, and so does every resume.
  server_->control("POST", "compact");
  ASSERT_TRUE(client_->create(resources::kConfigMap, configMap("inf", "new")).ok());
  ASSERT_TRUE(client_->remove(resources::kConfigMap, "inf", "gone-later").ok());
  ASSERT_TRUE(rec.waitFor("add inf/new"));
  ASSERT_TRUE(rec.waitFor("delete inf/gone-later"));
  const auto stats = informer.stats();
  EXPECT_GE(stats.expired, 1);
  EXPECT_GE(stats.lists, 2);
  EXPECT_EQ(informer.keys(), (std::vector<std::string>{"inf/new"}));
}

TEST_F(InformerTest, StaysConsistentUnderABurstOfChanges) {
  InformerOptions options;
  options.namespace_name = "inf";
  Informer informer(*client_, resources::kConfigMap, options);
  Recorder rec;
  informer.addHandlers(rec.handlers());
  std::jthread runner([&](std::stop_token stop) { informer.run(stop); });
  ASSERT_TRUE(informer.waitForSync(runner.get_stop_token()));
  // Two writers race: creates, updates and deletes over 20 names.
  auto writer = [&](int seed) {
    auto c = Client::create(server_->httpConfig()).value();
    for (int i = 0; i < 60; ++i) {
      const std::string name = "n" + std::to_string((i * 7 + seed) % 20);
      switch ((i + seed) % 3) {
        case 0: (void)c->create(resources::kConfigMap, configMap("inf", name, std::to_string(i))); break;
        case 1: (void)c->patch(resources::kConfigMap, "inf", name, PatchType::Merge,
                               parseJson(R"({"data":{"k":")" + std::to_string(i) + R"("}})").value()); break;
        default: (void)c->remove(resources::kConfigMap, "inf", name); break;
      }
    }
  };
  std::thread w1(writer, 1), w2(writer, 2);
  w1.join();
  w2.join();
  ASSERT_TRUE(client_->create(resources::kConfigMap, configMap("inf", "sentinel")).ok());
  ASSERT_TRUE(rec.waitFor("add inf/sentinel"));
  // Events arrive in order, so once the sentinel is in the cache, everything before it is too.
  auto truth = client_->list(resources::kConfigMap, "inf");
  ASSERT_TRUE(truth.ok());
  std::map<std::string, std::string> want, have;
  for (const auto& o : truth.value().items) want[objectKey(o)] = getString(o, "metadata.resourceVersion").value();
  for (const auto& o : informer.list()) have[objectKey(o)] = getString(o, "metadata.resourceVersion").value();
  EXPECT_EQ(have, want);
}

TEST_F(InformerTest, ResyncRedeliversCachedObjectsAsUpdates) {
  ASSERT_TRUE(client_->create(resources::kConfigMap, configMap("inf", "r", "same")).ok());
  InformerOptions options;
  options.namespace_name = "inf";
  options.resync_period = 1s;   // watches are then at most 1 s long, and every object is re-delivered
  Informer informer(*client_, resources::kConfigMap, options);
  Recorder rec;
  informer.addHandlers(rec.handlers());
  std::jthread runner([&](std::stop_token stop) { informer.run(stop); });
  ASSERT_TRUE(rec.waitFor("update inf/r same"));   // nothing changed on the server: this is the resync
  EXPECT_EQ(informer.stats().lists, 1);
}

TEST_F(InformerTest, KeepsTryingWhileTheServerFails) {
  server_->control("POST", "faults", parseJson(R"({"pathPrefix":"/api/v1/namespaces/inf/configmaps","code":500,"count":2})").value());
  InformerOptions options;
  options.namespace_name = "inf";
  options.initial_backoff = 10ms;
  Informer informer(*client_, resources::kConfigMap, options);
  std::jthread runner([&](std::stop_token stop) { informer.run(stop); });
  ASSERT_TRUE(informer.waitForSync(runner.get_stop_token()));
  EXPECT_GE(informer.stats().errors, 1);
}

}  // namespace
}  // namespace vnfpool::kube
