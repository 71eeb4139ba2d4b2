#include "samples.h"

#include "vnfpool/wire/codec.h"

namespace vnfpool::test {

using namespace wire;  // NOLINT(google-build-using-namespace): test data

namespace {

Transport transport(TransportKind kind, std::uint16_t port, std::uint16_t use = 0) {
  Transport t;
  t.kind = kind;
  t.port = port;
  t.use = use;
  t.addresses.push_back(IpAddress::v4(192, 0, 2, 10));
  if (kind == TransportKind::Sctp || kind == TransportKind::Mptcp || kind == TransportKind::Tcp) {
    t.addresses.push_back(*IpAddress::parse("2001:db8::10"));
  }
  if (kind == TransportKind::Dccp) t.service_code = 0x12345678;
  return t;
}

std::uint64_t id(Dialect d, std::uint64_t classic, std::uint64_t ng) { return d == Dialect::Classic ? classic : ng; }

NgCapabilities caps(std::uint64_t sender) {
  NgCapabilities c;
  c.features = features::kMandatory | features::kTcp | features::kMptcp;
  c.sender_id = sender;
  c.endpoints.push_back(transport(TransportKind::Mptcp, kAsapPort));
  return c;
}

}  // namespace

PoolElement samplePoolElement(PeId pe_id, Policy policy, bool with_asap_transport) {
  PoolElement pe;
  pe.id = pe_id;
  pe.home_pr = 0x11111111;
  pe.registration_life_ms = 90000;
  pe.user_transport = transport(TransportKind::Tcp, 5060);
  pe.policy = policy;
  if (with_asap_transport) pe.asap_transport = transport(TransportKind::Sctp, 41000);
  return pe;
}

std::vector<AsapMessage> sampleAsapMessages(Dialect d) {
  std::vector<AsapMessage> out;
  const PeId pe_id = id(d, 0x12345678, 0x0123456789abcdef);
  const PrId pr_id = id(d, 0x11111111, 0x1111111122222222);

  // Registrations: one per policy, and one per user transport kind.
  for (const auto& info : allPolicies()) {
    Policy policy = Policy::make(info.type);
    for (std::size_t i = 0; i < policy.word_count; ++i) policy.words[i] = 0x10000000u * static_cast<std::uint32_t>(i + 1);
    asap::Registration m;
    m.pool_handle = "pool-" + std::string(info.name);
    m.pe = samplePoolElement(pe_id, policy, false);
    out.emplace_back(m);
  }
  for (auto kind : {TransportKind::Sctp, TransportKind::Udp, TransportKind::UdpLite, TransportKind::Dccp}) {
    asap::Registration m;
    m.pool_handle = "EchoPool";
    m.pe = samplePoolElement(pe_id, Policy::make(PolicyType::RoundRobin), false);
    m.pe.user_transport = transport(kind, 7, kind == TransportKind::Sctp ? 1 : 0);
    out.emplace_back(m);
  }
  {
    asap::Registration m;  // with NG Capabilities first, and an odd-length handle
    m.ng_caps = caps(pe_id);
    m.pool_handle = "CalcAppPool";
    m.pe = samplePoolElement(pe_id, Policy::make(PolicyType::LeastUsed, {0x7fffffff}), false);
    if (d == Dialect::Ng) m.pe.user_transport = transport(TransportKind::Mptcp, 5060, 1);
    out.emplace_back(m);
  }
  out.emplace_back(asap::Deregistration{"EchoPool", pe_id});
  out.emplace_back(asap::RegistrationResponse{false, std::nullopt, "EchoPool", pe_id, std::nullopt});
  {
    Bytes policy_param = {std::byte{0x00}, std::byte{0x08}, std::byte{0x00}, std::byte{0x08},
                          std::byte{0x00}, std::byte{0x00}, std::byte{0x00}, std::byte{0x01}};
    out.emplace_back(asap::RegistrationResponse{true, caps(pr_id), "RoundRobin", pe_id,
                                                OperationalError::of(Cause::PolicyInconsistent, policy_param)});
  }
  out.emplace_back(asap::DeregistrationResponse{"EchoPool", pe_id, std::nullopt});
  out.emplace_back(asap::DeregistrationResponse{"EchoPool", pe_id, OperationalError::of(Cause::UnknownPoolHandle)});
  out.emplace_back(asap::HandleResolution{false, std::nullopt, "EchoPool", 3u});
  out.emplace_back(asap::HandleResolution{true, caps(0), "EchoPool", asap::kAllItems});
  out.emplace_back(asap::HandleResolution{false, std::nullopt, "EchoPool", std::nullopt});
  {
    asap::HandleResolutionResponse m;
    m.pool_handle = "EchoPool";
    m.overall_policy = Policy::make(PolicyType::WeightedRandom, {10});
    for (PeId i = 1; i <= 3; ++i) m.pes.push_back(samplePoolElement(pe_id + i, *m.overall_policy, false));
    out.emplace_back(m);
  }
  {
    asap::HandleResolutionResponse m;
    m.accepted = true;
    m.ng_caps = caps(pr_id);
    m.pool_handle = "EchoPool";
    m.error = OperationalError::of(Cause::UnknownPoolHandle);
    out.emplace_back(m);
  }
  out.emplace_back(asap::EndpointKeepAlive{true, pr_id, "EchoPool", pe_id});
  out.emplace_back(asap::EndpointKeepAlive{false, pr_id, "EchoPool", std::nullopt});
  out.emplace_back(asap::EndpointKeepAliveAck{"EchoPool", pe_id});
  out.emplace_back(asap::EndpointUnreachable{"EchoPool", pe_id});
  out.emplace_back(asap::ServerAnnounce{0x11111111, std::nullopt, {}});
  out.emplace_back(asap::ServerAnnounce{0x11111111, caps(pr_id), {transport(TransportKind::Sctp, kAsapPort),
                                                                   transport(TransportKind::Tcp, kAsapPort)}});
  out.emplace_back(asap::Cookie{{std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}, std::byte{5}}});
  out.emplace_back(asap::CookieEcho{{std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}, std::byte{5}}});
  {
    asap::BusinessCard m;
    m.pool_handle = "EchoPool";
    m.overall_policy = Policy::make(PolicyType::RoundRobin);
    m.pes.push_back(samplePoolElement(pe_id, *m.overall_policy, false));
    out.emplace_back(m);
    m.overall_policy.reset();
    out.emplace_back(m);
  }
  {
    // Every RFC cause, each with the cause information RFC 5354 3.10 gives it: the offending parameter
    // (0x1, 0x3), the offending message (0x2), the policy (0x5), the transport (0x7), or nothing.
    const char* info[] = {"4123000801020304", "7f0000100009000c4563686f506f6f6c", "00090004", "", "0008000800000001", "",
                          "0005001013880000" "00010008c000020a", "", "", ""};
    OperationalError error;
    for (std::uint16_t cause = 0x1; cause <= 0xa; ++cause) error.causes.push_back({cause, *fromHex(info[cause - 1])});
    out.emplace_back(asap::Error{error});
  }
  return out;
}

std::vector<EnrpMessage> sampleEnrpMessages(Dialect d) {
  std::vector<EnrpMessage> out;
  const PrId a = id(d, 0x11111111, 0x1111111122222222);
  const PrId b = id(d, 0x22222222, 0x3333333344444444);
  const enrp::Ids ids{a, b};
  const PeId pe_id = id(d, 0x12345678, 0x0123456789abcdef);

  ServerInformation info;
  info.id = a;
  info.transports.push_back(transport(TransportKind::Sctp, kEnrpPort));
  if (d == Dialect::Ng) {
    info.transports.push_back(transport(TransportKind::Tcp, kEnrpPort));
    info.transports.push_back(transport(TransportKind::Mptcp, kEnrpPort));
  }
  const std::uint32_t checksum = d == Dialect::Classic ? 0x29a5 : 0x919176fc;
  out.emplace_back(enrp::Presence{true, ids, std::nullopt, checksum, info});
  out.emplace_back(enrp::Presence{false, {a, 0}, caps(a), checksum, info});
  out.emplace_back(enrp::Presence{false, ids, std::nullopt, 0xffff, std::nullopt});
  out.emplace_back(enrp::HandleTableRequest{true, ids});
  out.emplace_back(enrp::HandleTableRequest{false, {a, 0}});
  {
    enrp::HandleTableResponse m;
    m.more = true;
    m.ids = ids;
    m.pools.push_back({"EchoPool", {samplePoolElement(pe_id, Policy::make(PolicyType::RoundRobin), true),
                                    samplePoolElement(pe_id + 1, Policy::make(PolicyType::RoundRobin), true)}});
    m.pools.push_back({"CalcAppPool", {samplePoolElement(pe_id + 2, Policy::make(PolicyType::LeastUsed, {5}), true)}});
    out.emplace_back(m);
    out.emplace_back(enrp::HandleTableResponse{true, false, ids, {}});
  }
  {
    enrp::HandleUpdate m;
    m.takeover_suggested = true;
    m.ids = ids;
    m.pool_handle = "EchoPool";
    m.pe = samplePoolElement(pe_id, Policy::make(PolicyType::PriorityLeastUsed, {1, 2}), true);
    out.emplace_back(m);
    m.takeover_suggested = false;
    m.action = static_cast<std::uint16_t>(UpdateAction::DelPe);
    out.emplace_back(m);
  }
  out.emplace_back(enrp::ListRequest{ids});
  out.emplace_back(enrp::ListResponse{false, ids, std::nullopt, {info, info}});
  out.emplace_back(enrp::ListResponse{true, ids, caps(b), {}});
  out.emplace_back(enrp::InitTakeover{ids, id(d, 0x33333333, 0x5555555566666666)});
  out.emplace_back(enrp::InitTakeoverAck{ids, id(d, 0x33333333, 0x5555555566666666)});
  out.emplace_back(enrp::TakeoverServer{ids, id(d, 0x33333333, 0x5555555566666666)});
  out.emplace_back(enrp::Error{ids, OperationalError::of(Cause::UnrecognizedMessage,
                                                         {std::byte{0x7f}, std::byte{0}, std::byte{0}, std::byte{4}})});
  return out;
}

std::string label(const AsapMessage& m, std::size_t index) {
  return std::string(asapTypeName(static_cast<std::uint8_t>(typeOf(m)))) + "#" + std::to_string(index);
}
std::string label(const EnrpMessage& m, std::size_t index) {
  return std::string(enrpTypeName(static_cast<std::uint8_t>(typeOf(m)))) + "#" + std::to_string(index);
}

}  // namespace vnfpool::test
