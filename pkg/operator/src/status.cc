#include "vnfpool/operator/status.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <map>
#include <set>
#include <utility>

namespace vnfpool::op {
namespace {

constexpr std::array<std::pair<std::string_view, std::string_view>, 9> kPolicies{{
    {"RoundRobin", "rr"},
    {"WeightedRoundRobin", "wrr"},
    {"Random", "rand"},
    {"WeightedRandom", "wrand"},
    {"Priority", "prio"},
    {"LeastUsed", "lu"},
    {"LeastUsedDegradation", "lud"},
    {"PriorityLeastUsed", "plu"},
    {"RandomizedLeastUsed", "rlu"},
}};

std::string hexId(std::uint64_t id, int digits) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%0*llx", digits, static_cast<unsigned long long>(id));
  return buf;
}

kube::Condition makeCondition(const PoolStatus& previous, std::string type, bool value, std::string reason,
                              std::string message, const Observation& o) {
  kube::Condition c;
  c.type = std::move(type);
  c.status = value ? "True" : "False";
  c.reason = std::move(reason);
  c.message = std::move(message);
  c.observed_generation = o.generation;
  c.last_transition_time = o.now;
  if (const auto* old = previous.condition(c.type); old && old->status == c.status && !old->last_transition_time.empty())
    c.last_transition_time = old->last_transition_time;
  return c;
}

kube::Condition unknownCondition(const PoolStatus& previous, std::string type, std::string reason,
                                 std::string message, const Observation& o) {
  auto c = makeCondition(previous, std::move(type), false, std::move(reason), std::move(message), o);
  c.status = "Unknown";
  if (const auto* old = previous.condition(c.type); old && old->status == "Unknown" && !old->last_transition_time.empty())
    c.last_transition_time = old->last_transition_time;
  else
    c.last_transition_time = o.now;
  return c;
}

}  // namespace

std::optional<std::string> policyShortName(std::string_view crd_name) {
  for (const auto& [crd, short_name] : kPolicies)
    if (crd == crd_name) return std::string(short_name);
  return std::nullopt;
}

std::optional<std::string> policyCrdName(std::string_view short_name) {
  for (const auto& [crd, s] : kPolicies)
    if (s == short_name) return std::string(crd);
  return std::nullopt;
}

const kube::Condition* PoolStatus::condition(std::string_view type) const {
  for (const auto& c : conditions)
    if (c.type == type) return &c;
  return nullptr;
}

PoolStatus PoolStatus::fromPool(const kube::Json& pool) {
  PoolStatus s;
  const kube::Json* status = kube::find(pool, "status");
  if (status == nullptr || !status->is_object()) return s;
  s.observed_generation = kube::getInt(*status, "observedGeneration").value_or(0);
  s.members = kube::getInt(*status, "members").value_or(0);
  s.ready_members = kube::getInt(*status, "readyMembers").value_or(0);
  s.registrars = kube::getInt(*status, "registrars").value_or(0);
  if (const auto* sample = kube::find(*status, "sample"); sample && sample->is_array()) {
    for (const auto& item : sample->as_array()) {
      SampleMember m;
      m.pe_id = kube::getString(item, "peId").value_or("");
      m.pod = kube::getString(item, "pod").value_or("");
      m.address = kube::getString(item, "address").value_or("");
      m.home_registrar = kube::getString(item, "homeRegistrar").value_or("");
      m.load = static_cast<std::uint32_t>(std::clamp<std::int64_t>(kube::getInt(item, "load").value_or(0), 0, 100));
      s.sample.push_back(std::move(m));
    }
  }
  if (const auto* conds = kube::find(*status, "conditions"); conds && conds->is_array()) {
    for (const auto& item : conds->as_array()) {
      kube::Condition c;
      c.type = kube::getString(item, "type").value_or("");
      c.status = kube::getString(item, "status").value_or("Unknown");
      c.reason = kube::getString(item, "reason").value_or("");
      c.message = kube::getString(item, "message").value_or("");
      c.observed_generation = kube::getInt(item, "observedGeneration").value_or(0);
      c.last_transition_time = kube::getString(item, "lastTransitionTime").value_or("");
      s.conditions.push_back(std::move(c));
    }
  }
  return s;
}

kube::Json PoolStatus::toJson() const {
  using kube::Json;
  Json out = Json::object();
  out["observedGeneration"] = Json::number(observed_generation);
  out["members"] = Json::number(members);
  out["readyMembers"] = Json::number(ready_members);
  out["registrars"] = Json::number(registrars);
  Json sample_json = Json::array();
  std::size_t i = 0;
  for (const auto& m : sample) {
    Json item = Json::object();
    item["peId"] = Json::string(m.pe_id);
    if (!m.pod.empty()) item["pod"] = Json::string(m.pod);
    item["address"] = Json::string(m.address);
    item["homeRegistrar"] = Json::string(m.home_registrar);
    item["load"] = Json::number(static_cast<std::int64_t>(m.load));
    sample_json[i++] = std::move(item);
  }
  out["sample"] = std::move(sample_json);
  Json conds = Json::array();
  i = 0;
  for (const auto& c : conditions) {
    Json item = Json::object();
    item["type"] = Json::string(c.type);
    item["status"] = Json::string(c.status);
    item["reason"] = Json::string(c.reason);
    item["message"] = Json::string(c.message);
    item["observedGeneration"] = Json::number(c.observed_generation);
    item["lastTransitionTime"] = Json::string(c.last_transition_time);
    conds[i++] = std::move(item);
  }
  out["conditions"] = std::move(conds);
  return out;
}

PoolStatus desiredStatus(const Observation& o, const PoolStatus& previous) {
  PoolStatus s;
  s.observed_generation = o.generation;

  // Address -> Pod, for readiness and the sample's pod names.
  std::map<std::string, const PodView*> pod_of;
  for (const auto& pod : o.pods)
    for (const auto& ip : pod.ips) pod_of[ip] = &pod;

  // Union of members by PE ID over the registrars that answered; per registrar the PE ID set, to
  // compare views.
  std::map<std::uint64_t, const MemberView*> members;
  std::vector<std::set<std::uint64_t>> views;
  std::size_t reachable = 0;
  for (const auto& r : o.registrars) {
    if (!r.reachable) continue;
    ++reachable;
    std::set<std::uint64_t> ids;
    for (const auto& m : r.members) {
      ids.insert(m.pe_id);
      members.emplace(m.pe_id, &m);
    }
    if (!r.members.empty()) ++s.registrars;
    views.push_back(std::move(ids));
  }
  s.members = static_cast<std::int64_t>(members.size());

  const auto short_policy = policyShortName(o.policy).value_or(o.policy);
  std::size_t conflicting = 0;
  for (const auto& [id, m] : members) {
    const PodView* pod = nullptr;
    for (const auto& a : m->addresses) {
      if (auto it = pod_of.find(a); it != pod_of.end()) {
        pod = it->second;
        break;
      }
    }
    const bool ready = pod == nullptr || (pod->ready && !pod->terminating);
    if (ready) ++s.ready_members;
    if (!m->policy.empty() && m->policy != short_policy) ++conflicting;
    if (s.sample.size() < kMaxSample) {
      SampleMember sm;
      sm.pe_id = hexId(id, 16);
      sm.pod = pod ? pod->name : "";
      sm.address = m->addresses.empty() ? "" : m->addresses.front();
      sm.home_registrar = hexId(m->home_pr, 8);
      sm.load = m->load;
      s.sample.push_back(std::move(sm));
    }
  }

  const std::string counts = std::to_string(s.ready_members) + " of " + std::to_string(s.members) +
                             " pool elements ready (minimum " + std::to_string(o.min_members) + ")";
  if (reachable == 0) {
    s.conditions.push_back(unknownCondition(previous, "Ready", "NoRegistrarReachable",
                                            "no registrar answered", o));
    s.conditions.push_back(unknownCondition(previous, "HandlespaceSynced", "NoRegistrarReachable",
                                            "no registrar answered", o));
  } else {
    const bool ready = s.ready_members >= o.min_members;
    s.conditions.push_back(makeCondition(previous, "Ready", ready, ready ? "MinimumMembersMet" : "TooFewMembers",
                                         counts, o));
    const bool agree = std::all_of(views.begin(), views.end(), [&](const auto& v) { return v == views.front(); });
    const bool all_answered = reachable == o.registrars.size();
    std::string msg = std::to_string(reachable) + " of " + std::to_string(o.registrars.size()) +
                      " registrars answered" + (agree ? ", their views of the pool agree" : ", their views of the pool differ");
    s.conditions.push_back(makeCondition(previous, "HandlespaceSynced", agree && all_answered,
                                         !all_answered ? "RegistrarUnreachable"
                                         : agree       ? "ViewsMatch"
                                                       : "ViewsDiffer",
                                         msg, o));
  }
  s.conditions.push_back(makeCondition(
      previous, "PolicyConflict", conflicting > 0, conflicting > 0 ? "MembersWithOtherPolicy" : "NoConflict",
      conflicting > 0 ? std::to_string(conflicting) + " pool elements registered with a policy other than " + o.policy
                      : "every pool element uses " + o.policy,
      o));
  std::vector<std::string> missing;
  for (const auto& pod : o.pods)
    if (pod.wants_sidecar && !pod.has_sidecar && !pod.terminating) missing.push_back(pod.name);
  std::sort(missing.begin(), missing.end());
  std::string missing_msg;
  for (std::size_t i = 0; i < missing.size() && i < 5; ++i) missing_msg += (i ? ", " : "") + missing[i];
  if (missing.size() > 5) missing_msg += ", ...";
  s.conditions.push_back(makeCondition(
      previous, "InjectionMissing", !missing.empty(), missing.empty() ? "AllPodsInjected" : "PodsWithoutSidecar",
      missing.empty() ? "every annotated pod has the vnfpool-sidecar container"
                      : std::to_string(missing.size()) + " annotated pods have no vnfpool-sidecar: " + missing_msg,
      o));
  return s;
}

}  // namespace vnfpool::op
