#include "vnfpool/wire/types.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

#include "vnfpool/wire/asap.h"
#include "vnfpool/wire/enrp.h"

namespace vnfpool::wire {

std::string causeName(std::uint16_t code) {
  switch (code) {
    case 0x0001: return "unrecognized_parameter";
    case 0x0002: return "unrecognized_message";
    case 0x0003: return "invalid_values";
    case 0x0004: return "non_unique_pe_identifier";
    case 0x0005: return "policy_inconsistent";
    case 0x0006: return "lack_of_resources";
    case 0x0007: return "inconsistent_transport_type";
    case 0x0008: return "inconsistent_data_control";
    case 0x0009: return "unknown_pool_handle";
    case 0x000a: return "security_rejection";
    default: return "unknown";
  }
}

IpAddress IpAddress::v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  IpAddress address;
  address.bytes[0] = a;
  address.bytes[1] = b;
  address.bytes[2] = c;
  address.bytes[3] = d;
  return address;
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  const std::string s(text);  // inet_pton needs a terminated string
  IpAddress address;
  if (inet_pton(AF_INET, s.c_str(), address.bytes.data()) == 1) return address;
  address.family = Family::V6;
  if (inet_pton(AF_INET6, s.c_str(), address.bytes.data()) == 1) return address;
  return std::nullopt;
}

std::string IpAddress::toString() const {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(isV4() ? AF_INET : AF_INET6, bytes.data(), text, sizeof text);
  return text;
}

namespace {
struct TransportName {
  TransportKind kind;
  std::string_view name;
};
constexpr TransportName kTransportNames[] = {
    {TransportKind::Dccp, "dccp"}, {TransportKind::Sctp, "sctp"},        {TransportKind::Tcp, "tcp"},
    {TransportKind::Udp, "udp"},   {TransportKind::UdpLite, "udp-lite"}, {TransportKind::Mptcp, "mptcp"},
};
}  // namespace

std::string_view transportName(TransportKind kind) {
  for (const auto& t : kTransportNames)
    if (t.kind == kind) return t.name;
  return "unknown";
}

std::optional<TransportKind> transportFromName(std::string_view name) {
  for (const auto& t : kTransportNames)
    if (t.name == name) return t.kind;
  return std::nullopt;
}

bool isTransportType(std::uint16_t param_type) {
  return std::any_of(std::begin(kTransportNames), std::end(kTransportNames),
                     [&](const TransportName& t) { return static_cast<std::uint16_t>(t.kind) == param_type; });
}

std::string_view policyFieldName(PolicyField field) {
  switch (field) {
    case PolicyField::Weight: return "weight";
    case PolicyField::Priority: return "priority";
    case PolicyField::Load: return "load";
    case PolicyField::LoadDegradation: return "load_degradation";
    case PolicyField::LoadIncrement: return "load_increment";
    case PolicyField::LoadDpf: return "load_dpf";
    case PolicyField::WeightDpf: return "weight_dpf";
    case PolicyField::Distance: return "distance";
  }
  return "unknown";
}

const std::vector<PolicyInfo>& allPolicies() {
  using F = PolicyField;
  using T = PolicyType;
  // Value words in wire order: RFC 5356 section 3, the delay draft, and RSPLIB's private policies (digest
  // 6.5). The last two have no wire form in RSPLIB; ours is documented in docs/protocol.md.
  static const std::vector<PolicyInfo> policies = {
      {T::RoundRobin, "rr", "Round Robin", {}},
      {T::WeightedRoundRobin, "wrr", "Weighted Round Robin", {F::Weight}},
      {T::Random, "rand", "Random", {}},
      {T::WeightedRandom, "wrand", "Weighted Random", {F::Weight}},
      {T::Priority, "prio", "Priority", {F::Priority}},
      {T::LeastUsed, "lu", "Least Used", {F::Load}},
      {T::LeastUsedDegradation, "lud", "Least Used with Degradation", {F::Load, F::LoadDegradation}},
      {T::PriorityLeastUsed, "plu", "Priority Least Used", {F::Load, F::LoadIncrement}},
      {T::RandomizedLeastUsed, "rlu", "Randomized Least Used", {F::Load}},
      {T::RandomizedPriorityLeastUsed, "rplu", "Randomized Priority Least Used", {F::Load, F::LoadIncrement}},
      {T::RandomizedLeastUsedDegradation, "rlud", "Randomized Least Used with Degradation",
       {F::Load, F::LoadDegradation}},
      {T::PriorityLeastUsedDegradation, "plud", "Priority Least Used with Degradation", {F::Load, F::LoadIncrement}},
      {T::RandomizedPriorityLeastUsedDegradation, "rplud", "Randomized Priority Least Used with Degradation",
       {F::Load, F::LoadIncrement}},
      {T::WeightedRandomDpf, "wrand-dpf", "Weighted Random with Delay Penalty Factor",
       {F::Weight, F::WeightDpf, F::Distance}},
      {T::LeastUsedDpf, "lu-dpf", "Least Used with Delay Penalty Factor", {F::Load, F::LoadDpf, F::Distance}},
      {T::LeastUsedDegradationDpf, "lud-dpf", "Least Used with Degradation and Delay Penalty Factor",
       {F::Load, F::LoadDegradation, F::LoadDpf, F::Distance}},
      {T::PriorityLeastUsedDpf, "plu-dpf", "Priority Least Used with Delay Penalty Factor",
       {F::Load, F::LoadIncrement, F::LoadDpf, F::Distance}},
      {T::PriorityLeastUsedDegradationDpf, "plud-dpf", "Priority Least Used with Degradation and Delay Penalty Factor",
       {F::Load, F::LoadIncrement, F::LoadDpf, F::Distance}},
  };
  return policies;
}

const PolicyInfo* policyInfo(std::uint32_t type) {
  for (const auto& p : allPolicies())
    if (static_cast<std::uint32_t>(p.type) == type) return &p;
  return nullptr;
}

std::size_t policyWordCount(std::uint32_t type) {
  switch (static_cast<PolicyType>(type)) {
    case PolicyType::RoundRobin:
    case PolicyType::Random: return 0;
    case PolicyType::WeightedRoundRobin:
    case PolicyType::WeightedRandom:
    case PolicyType::Priority:
    case PolicyType::LeastUsed:
    case PolicyType::RandomizedLeastUsed: return 1;
    case PolicyType::LeastUsedDegradation:
    case PolicyType::PriorityLeastUsed:
    case PolicyType::RandomizedPriorityLeastUsed:
    case PolicyType::RandomizedLeastUsedDegradation:
    case PolicyType::PriorityLeastUsedDegradation:
    case PolicyType::RandomizedPriorityLeastUsedDegradation: return 2;
    case PolicyType::WeightedRandomDpf:
    case PolicyType::LeastUsedDpf: return 3;
    case PolicyType::LeastUsedDegradationDpf:
    case PolicyType::PriorityLeastUsedDpf:
    case PolicyType::PriorityLeastUsedDegradationDpf: return 4;
  }
  return 0;
}

const PolicyInfo* policyByName(std::string_view name) {
  for (const auto& p : allPolicies())
    if (p.name == name) return &p;
  return nullptr;
}

Policy Policy::make(PolicyType t, std::initializer_list<std::uint32_t> values) {
  Policy policy;
  policy.type = static_cast<std::uint32_t>(t);
  const auto* info = policyInfo(policy.type);
  std::size_t count = std::max(values.size(), info ? info->fields.size() : 0);
  count = std::min(count, kMaxWords);
  policy.word_count = static_cast<std::uint8_t>(count);
  std::copy_n(values.begin(), std::min(values.size(), count), policy.words.begin());
  return policy;
}

std::optional<std::uint32_t> Policy::get(PolicyField field) const {
  const auto* info = policyInfo(type);
  if (info == nullptr) return std::nullopt;
  for (std::size_t i = 0; i < info->fields.size() && i < word_count; ++i)
    if (info->fields[i] == field) return words[i];
  return std::nullopt;
}

bool Policy::set(PolicyField field, std::uint32_t value) {
  const auto* info = policyInfo(type);
  if (info == nullptr) return false;
  for (std::size_t i = 0; i < info->fields.size() && i < word_count; ++i) {
    if (info->fields[i] == field) {
      words[i] = value;
      return true;
    }
  }
  return false;
}

OperationalError OperationalError::of(Cause cause, Bytes info) {
  OperationalError error;
  error.causes.push_back(ErrorCause{static_cast<std::uint16_t>(cause), std::move(info)});
  return error;
}

AsapType typeOf(const AsapMessage& message) {
  // The variant's alternatives are in type-code order, 0x01 first.
  return static_cast<AsapType>(message.index() + 1);
}

EnrpType typeOf(const EnrpMessage& message) { return static_cast<EnrpType>(message.index() + 1); }

std::string_view asapTypeName(std::uint8_t type) {
  static constexpr std::string_view kNames[] = {
      "registration",          "deregistration",           "registration_response",
      "deregistration_response", "handle_resolution",      "handle_resolution_response",
      "endpoint_keep_alive",   "endpoint_keep_alive_ack",  "endpoint_unreachable",
      "server_announce",       "cookie",                   "cookie_echo",
      "business_card",         "error"};
  if (type < 1 || type > std::size(kNames)) return "unknown";
  return kNames[type - 1];
}

std::string_view enrpTypeName(std::uint8_t type) {
  static constexpr std::string_view kNames[] = {
      "presence",     "handle_table_request", "handle_table_response", "handle_update",   "list_request",
      "list_response", "init_takeover",       "init_takeover_ack",     "takeover_server", "error"};
  if (type < 1 || type > std::size(kNames)) return "unknown";
  return kNames[type - 1];
}

const enrp::Ids& idsOf(const EnrpMessage& message) {
  return std::visit([](const auto& m) -> const enrp::Ids& { return m.ids; }, message);
}

}  // namespace vnfpool::wire
