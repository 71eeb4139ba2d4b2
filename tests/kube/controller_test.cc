// Controller (informer -> work queue -> reconcile) against the fake API server.
#include <gtest/gtest.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "fake_server.h"
#include "vnfpool/kube/controller.h"
#include "vnfpool/kube/kinds.h"

namespace vnfpool::kube {
namespace {

using test::FakeServer;
using namespace std::chrono_literals;

const char* kPoolCrd = R"({"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",
  "metadata":{"name":"pools.vnfpool.io"},
  "spec":{"group":"vnfpool.io","scope":"Namespaced","names":{"kind":"Pool","plural":"pools"},
    "versions":[{"name":"v1alpha1","served":true,"storage":true,"subresources":{"status":{}},
      "schema":{"openAPIV3Schema":{"type":"object","x-kubernetes-preserve-unknown-fields":true}}}]}})";

TEST(ControllerTest, ReconcilesEveryPoolRetriesFailuresAndRequeuesOnRequest) {
  FakeServer server;
  auto client = Client::create(server.httpConfig()).value();
  ASSERT_TRUE(client->create(resources::kCustomResourceDefinition, parseJson(kPoolCrd).value()).ok());
  TypedClient<Pool> pools(*client);
  for (const char* name : {"a", "b", "flaky", "periodic"}) {
    Pool p;
    p.metadata.name = name;
    p.metadata.namespace_name = "default";
    ASSERT_TRUE(pools.create(p).ok());
  }

  std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, int> visits;
  Reconciler reconcile = [&](const ObjectKey& key) -> Result<Requeue> {
    int n;
    {
      std::lock_guard lock(mu);
      n = ++visits[key.name];
    }
    cv.notify_all();
    if (key.name == "flaky" && n <= 2) return Error{ErrorKind::Transport, 0, "", "simulated outage"};
    auto pool = pools.get(key.namespace_name, key.name);
    if (pool.notFound()) return Requeue::never();
    if (!pool.ok()) return pool.error();
    if (pool.value().status.observed_generation != pool.value().metadata.generation) {
      Pool updated = pool.value();
      updated.status.observed_generation = updated.metadata.generation;
      updated.status.conditions = {Condition{"Ready", "True", "Reconciled", "", updated.metadata.generation, nowMicroTime()}};
      auto written = pools.updateStatus(updated);
      if (!written.ok()) return written.error();   // a 409 is retried like any failure
    }
    if (key.name == "periodic" && n < 3) return Requeue::after(20ms);
    return Requeue::never();
  };
  Controller controller(reconcile, 2, ItemBackoff(1ms, 50ms));
  Informer informer(*client, resources::kPool, InformerOptions{"default"});
  controller.watch(informer);
  std::jthread informer_thread([&](std::stop_token stop) { informer.run(stop); });
  std::jthread controller_thread([&](std::stop_token stop) { controller.run(stop); });

  auto settled = [&] {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, 20s, [&] { return visits["flaky"] >= 3 && visits["periodic"] >= 3 && visits["a"] >= 1; });
  };
  ASSERT_TRUE(settled());
  // Converged: every Pool's status matches its generation (the status writes come back through the
  // informer as updates, which are reconciled again and find nothing to do).
  for (const char* name : {"a", "b", "flaky", "periodic"}) {
    bool converged = false;
    for (int attempt = 0; attempt < 200 && !converged; ++attempt) {
      auto p = pools.get("default", name).value();
      converged = p.status.observed_generation == p.metadata.generation && p.metadata.generation == 1;
      if (!converged) {
        std::unique_lock lock(mu);
        cv.wait_for(lock, 50ms);   // bounded wait for the next reconcile
      }
    }
    EXPECT_TRUE(converged) << name;
  }
  const auto stats = controller.stats();
  EXPECT_GE(stats.errors, 2u);
  EXPECT_GE(stats.requeues_after, 2u);

  // A spec change bumps generation and is reconciled again.
  ASSERT_TRUE(pools.mergePatch("default", "a", parseJson(R"({"spec":{"policy":"Random"}})").value()).ok());
  bool caught_up = false;
  for (int attempt = 0; attempt < 200 && !caught_up; ++attempt) {
    auto p = pools.get("default", "a").value();
    caught_up = p.metadata.generation == 2 && p.status.observed_generation == 2;
    if (!caught_up) {
      std::unique_lock lock(mu);
      cv.wait_for(lock, 50ms);
    }
  }
  EXPECT_TRUE(caught_up);
  controller_thread.request_stop();
  informer_thread.request_stop();
}

TEST(ControllerTest, ObjectKeys) {
  EXPECT_EQ(ObjectKey::parse("ns/name"), (ObjectKey{"ns", "name"}));
  EXPECT_EQ(ObjectKey::parse("cluster-scoped"), (ObjectKey{"", "cluster-scoped"}));
  EXPECT_EQ((ObjectKey{"ns", "n"}.str()), "ns/n");
  EXPECT_EQ(ObjectKey::of(parseJson(R"({"metadata":{"name":"x","namespace":"y"}})").value()), (ObjectKey{"y", "x"}));
}

}  // namespace
}  // namespace vnfpool::kube
