#include "vnfpool/kube/kinds.h"

#include <gtest/gtest.h>

namespace vnfpool::kube {
namespace {

TEST(KindsTest, ObjectMetaRoundTrip) {
  auto doc = parseJson(R"({"metadata":{"name":"p","namespace":"ns","uid":"u","resourceVersion":"7","generation":2,
    "labels":{"a":"b"},"finalizers":["vnfpool.io/x"],"deletionTimestamp":"2026-01-01T00:00:00Z",
    "ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"rs","uid":"r1","controller":true}]}})");
  auto meta = ObjectMeta::fromJson(doc.value());
  ASSERT_TRUE(meta.ok());
  EXPECT_EQ(meta.value().generation, 2);
  EXPECT_EQ(meta.value().deletion_timestamp, "2026-01-01T00:00:00Z");
  ASSERT_EQ(meta.value().owner_references.size(), 1u);
  EXPECT_TRUE(meta.value().owner_references[0].controller);
  Json out = Json::object();
  meta.value().writeTo(out);
  auto again = ObjectMeta::fromJson(out);
  EXPECT_EQ(again.value().finalizers, meta.value().finalizers);
  EXPECT_EQ(again.value().owner_references, meta.value().owner_references);
  EXPECT_FALSE(ObjectMeta::fromJson(Json::object()).ok());
}

TEST(KindsTest, LeaseRoundTrip) {
  Lease l;
  l.metadata.name = "vnfpool-operator";
  l.metadata.namespace_name = "vnfpool";
  l.holder_identity = "pod-a";
  l.lease_duration_seconds = 15;
  l.renew_time = "2026-01-01T00:00:00.000001Z";
  l.lease_transitions = 3;
  auto back = Lease::fromJson(l.toJson());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back.value().holder_identity, "pod-a");
  EXPECT_EQ(back.value().lease_duration_seconds, 15);
  EXPECT_EQ(back.value().lease_transitions, 3);
  EXPECT_EQ(getString(l.toJson(), "apiVersion"), "coordination.k8s.io/v1");
}

TEST(KindsTest, SecretDecodesBase64AndRejectsGarbage) {
  auto ok = Secret::fromJson(parseJson(R"({"metadata":{"name":"s"},"data":{"k":"aGVsbG8="}})").value());
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok.value().data.at("k"), "hello");
  EXPECT_EQ(getString(ok.value().toJson(), "data.k"), "aGVsbG8=");
  auto bad = Secret::fromJson(parseJson(R"({"metadata":{"name":"s"},"data":{"k":"!!"}})").value());
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().kind, ErrorKind::BadResponse);
}

TEST(KindsTest, PoolKeepsUnknownFieldsAndReadsConditions) {
  auto doc = parseJson(R"({"apiVersion":"vnfpool.io/v1alpha1","kind":"Pool","metadata":{"name":"sip"},
    "spec":{"policy":"LeastUsed","minMembers":2,"future":{"x":1}},
    "status":{"observedGeneration":4,"members":5,"conditions":[{"type":"Ready","status":"True","reason":"Ok",
    "observedGeneration":4}]}})");
  auto pool = Pool::fromJson(doc.value());
  ASSERT_TRUE(pool.ok());
  EXPECT_EQ(pool.value().spec.policy, "LeastUsed");
  EXPECT_EQ(pool.value().status.members, 5);
  ASSERT_EQ(pool.value().status.conditions.size(), 1u);
  EXPECT_EQ(pool.value().status.conditions[0].reason, "Ok");
  auto out = pool.value().toJson();
  EXPECT_EQ(getInt(out, "spec.future.x"), 1);
  EXPECT_EQ(getString(out, "status.conditions"), std::nullopt);   // an array, not a string
  EXPECT_EQ(Pool::fromJson(out).value().status, pool.value().status);
}

TEST(KindsTest, TimeFormats) {
  const auto now = nowMicroTime();
  ASSERT_EQ(now.size(), 27u) << now;
  ASSERT_TRUE(parseTime(now).has_value());
  auto t = parseTime("2026-01-01T00:00:01.5Z");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::milliseconds>(*t - *parseTime("2026-01-01T00:00:00Z")).count(), 1500);
  EXPECT_FALSE(parseTime("yesterday").has_value());
  EXPECT_FALSE(parseTime("2026-01-01T00:00:00+02:00").has_value());
}

}  // namespace
}  // namespace vnfpool::kube
