#include "vnfpool/operator/status.h"

#include <gtest/gtest.h>

namespace vnfpool::op {
namespace {

MemberView member(std::uint64_t id, std::string address, std::string policy = "rr", std::uint32_t load = 0) {
  return MemberView{id, 0x11, {std::move(address)}, std::move(policy), load};
}

Observation base() {
  Observation o;
  o.generation = 3;
  o.policy = "RoundRobin";
  o.min_members = 2;
  o.now = "2026-11-21T10:00:00Z";
  return o;
}

TEST(PolicyNames, MapBothWays) {
  EXPECT_EQ(policyShortName("LeastUsedDegradation"), "lud");
  EXPECT_EQ(policyShortName("RandomizedLeastUsed"), "rlu");
  EXPECT_EQ(policyCrdName("wrand"), "WeightedRandom");
  EXPECT_FALSE(policyShortName("leastused"));
  EXPECT_FALSE(policyCrdName("rplu"));   // not one the CRD allows
}

TEST(DesiredStatus, ReadyWhenEnoughMembersAndViewsAgree) {
  auto o = base();
  o.registrars = {{"a:3870", true, {member(1, "10.0.0.1"), member(2, "10.0.0.2")}},
                  {"b:3870", true, {member(2, "10.0.0.2"), member(1, "10.0.0.1")}}};
  o.pods = {{"p1", {"10.0.0.1"}, true, false, true, true}, {"p2", {"10.0.0.2"}, true, false, true, true}};
  auto s = desiredStatus(o, {});
  EXPECT_EQ(s.observed_generation, 3);
  EXPECT_EQ(s.members, 2);
  EXPECT_EQ(s.ready_members, 2);
  EXPECT_EQ(s.registrars, 2);
  ASSERT_NE(s.condition("Ready"), nullptr);
  EXPECT_EQ(s.condition("Ready")->status, "True");
  EXPECT_EQ(s.condition("Ready")->reason, "MinimumMembersMet");
  EXPECT_EQ(s.condition("Ready")->observed_generation, 3);
  EXPECT_EQ(s.condition("HandlespaceSynced")->status, "True");
  EXPECT_EQ(s.condition("PolicyConflict")->status, "False");
  EXPECT_EQ(s.condition("InjectionMissing")->status, "False");
  ASSERT_EQ(s.sample.size(), 2u);
  EXPECT_EQ(s.sample[0].pe_id, "0x0000000000000001");
  EXPECT_EQ(s.sample[0].pod, "p1");
  EXPECT_EQ(s.sample[0].home_registrar, "0x00000011");
}

TEST(DesiredStatus, NotReadyPodsDoNotCount) {
  auto o = base();
  o.registrars = {{"a", true, {member(1, "10.0.0.1"), member(2, "10.0.0.2"), member(3, "192.0.2.9")}}};
  o.pods = {{"p1", {"10.0.0.1"}, false, false, true, true}, {"p2", {"10.0.0.2"}, true, true, true, true}};
  auto s = desiredStatus(o, {});
  EXPECT_EQ(s.members, 3);
  EXPECT_EQ(s.ready_members, 1);   // only the PE no Pod claims
  EXPECT_EQ(s.condition("Ready")->status, "False");
  EXPECT_EQ(s.condition("Ready")->reason, "TooFewMembers");
  EXPECT_EQ(s.condition("Ready")->message, "1 of 3 pool elements ready (minimum 2)");
}

TEST(DesiredStatus, DisagreeingOrSilentRegistrars) {
  auto o = base();
  o.registrars = {{"a", true, {member(1, "x")}}, {"b", true, {member(2, "y")}}};
  auto s = desiredStatus(o, {});
  EXPECT_EQ(s.members, 2);
  EXPECT_EQ(s.condition("HandlespaceSynced")->status, "False");
  EXPECT_EQ(s.condition("HandlespaceSynced")->reason, "ViewsDiffer");
  o.registrars = {{"a", true, {member(1, "x")}}, {"b", false, {}}};
  s = desiredStatus(o, {});
  EXPECT_EQ(s.condition("HandlespaceSynced")->reason, "RegistrarUnreachable");
  o.registrars = {{"a", false, {}}};
  s = desiredStatus(o, {});
  EXPECT_EQ(s.condition("Ready")->status, "Unknown");
  EXPECT_EQ(s.condition("HandlespaceSynced")->status, "Unknown");
}

TEST(DesiredStatus, PolicyConflictAndInjectionMissing) {
  auto o = base();
  o.policy = "LeastUsed";
  o.registrars = {{"a", true, {member(1, "10.0.0.1", "lu"), member(2, "10.0.0.2", "rr")}}};
  o.pods = {{"p1", {"10.0.0.1"}, true, false, true, true},
            {"nosidecar", {}, false, false, true, false},
            {"optedout", {}, true, false, false, false},
            {"leaving", {}, true, true, true, false}};
  auto s = desiredStatus(o, {});
  EXPECT_EQ(s.condition("PolicyConflict")->status, "True");
  EXPECT_EQ(s.condition("PolicyConflict")->reason, "MembersWithOtherPolicy");
  EXPECT_EQ(s.condition("InjectionMissing")->status, "True");
  EXPECT_NE(s.condition("InjectionMissing")->message.find("nosidecar"), std::string::npos);
  EXPECT_EQ(s.condition("InjectionMissing")->message.find("optedout"), std::string::npos);
}

TEST(DesiredStatus, TransitionTimeKeptWhileStatusUnchanged) {
  auto o = base();
  o.min_members = 1;
  o.registrars = {{"a", true, {member(1, "x")}}};
  auto first = desiredStatus(o, {});
  EXPECT_EQ(first.condition("Ready")->last_transition_time, "2026-11-21T10:00:00Z");
  o.now = "2026-11-21T10:05:00Z";
  o.generation = 4;
  auto second = desiredStatus(o, first);
  EXPECT_EQ(second.condition("Ready")->last_transition_time, "2026-11-21T10:00:00Z");
  EXPECT_EQ(second.condition("Ready")->observed_generation, 4);
  o.registrars = {{"a", true, {}}};
  auto third = desiredStatus(o, second);
  EXPECT_EQ(third.condition("Ready")->status, "False");
  EXPECT_EQ(third.condition("Ready")->last_transition_time, "2026-11-21T10:05:00Z");
  // Same inputs, same status: the operator writes nothing.
  EXPECT_EQ(desiredStatus(o, third), third);
}

TEST(DesiredStatus, SampleIsBounded) {
  auto o = base();
  RegistrarView r{"a", true, {}};
  for (std::uint64_t i = 0; i < 40; ++i) r.members.push_back(member(i + 1, "10.1.0." + std::to_string(i)));
  o.registrars = {r};
  auto s = desiredStatus(o, {});
  EXPECT_EQ(s.members, 40);
  EXPECT_EQ(s.sample.size(), kMaxSample);
}

TEST(PoolStatus, JsonRoundTrip) {
  auto o = base();
  o.registrars = {{"a", true, {member(7, "10.0.0.7", "rr", 30)}}};
  o.pods = {{"p7", {"10.0.0.7"}, true, false, true, true}};
  auto s = desiredStatus(o, {});
  kube::Json pool = kube::Json::object();
  pool["status"] = s.toJson();
  EXPECT_EQ(PoolStatus::fromPool(pool), s);
  EXPECT_EQ(PoolStatus::fromPool(kube::Json::object()), PoolStatus{});
}

}  // namespace
}  // namespace vnfpool::op
