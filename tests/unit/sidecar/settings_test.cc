// The sidecar's configuration: the contract's keys and environment names, defaults, and clear errors.
#include "vnfpool/sidecar/settings.h"

#include <gtest/gtest.h>

namespace vnfpool::sidecar {
namespace {

using namespace std::chrono_literals;

config::Result<Settings> load(std::vector<std::string> args, config::Environment env = {}) {
  auto loaded = config::load(schema(), args, env);
  if (!loaded.ok()) return loaded.errors();
  return settingsFrom(loaded.value(), {*wire::IpAddress::parse("10.1.2.3")});
}

std::string errors(const config::Result<Settings>& r) { return r.ok() ? "" : config::describe(r.errors()); }

TEST(SidecarSettings, ContractKeysFromTheEnvironment) {
  auto r = load({}, {{"VNFPOOL_SIDECAR_POOL_HANDLE", "sip-proxy"},
                     {"VNFPOOL_SIDECAR_VNF_PORT", "5060"},
                     {"VNFPOOL_SIDECAR_VNF_TRANSPORT", "udp"},
                     {"VNFPOOL_SIDECAR_VNF_ADDRESSES", "10.0.0.7,fd00::7"},
                     {"VNFPOOL_SIDECAR_REGISTRARS", "vnfpool-registrar.vnfpool.svc:3863"},
                     {"VNFPOOL_SIDECAR_POLICY_TYPE", "lu"},
                     {"VNFPOOL_SIDECAR_POLICY_LOAD", "50"},
                     {"VNFPOOL_SIDECAR_HEALTH_TYPE", "http"},
                     {"VNFPOOL_SIDECAR_HEALTH_PERIOD", "250ms"},
                     {"VNFPOOL_SIDECAR_HEALTH_UNHEALTHY_ACTION", "full_load"}});
  ASSERT_TRUE(r.ok()) << errors(r);
  const auto& s = r.value();
  EXPECT_EQ(s.pool, "sip-proxy");
  EXPECT_EQ(s.pe.user_transport.port, 5060);
  EXPECT_EQ(s.pe.user_transport.kind, wire::TransportKind::Udp);
  ASSERT_EQ(s.pe.user_transport.addresses.size(), 2u);
  EXPECT_EQ(s.pe.user_transport.addresses[0].toString(), "10.0.0.7");
  EXPECT_EQ(s.health.target.toString(), "10.0.0.7:5060");
  EXPECT_EQ(s.client.registrars, std::vector<std::string>{"vnfpool-registrar.vnfpool.svc:3863"});
  EXPECT_EQ(s.pe.policy.type, static_cast<std::uint32_t>(wire::PolicyType::LeastUsed));
  EXPECT_EQ(*s.pe.policy.get(wire::PolicyField::Load), 0x7FFFFFFFu + 1u);  // 50 %, rounded
  EXPECT_EQ(s.health.type, HealthType::Http);
  EXPECT_EQ(s.agent.health_period, 250ms);
  EXPECT_EQ(s.agent.unhealthy_action, UnhealthyAction::FullLoad);
  EXPECT_NE(s.pe.id, 0u);
}

TEST(SidecarSettings, Defaults) {
  auto r = load({"--pool.handle", "p", "--vnf.port", "8080", "--registrars", "127.0.0.1:3863"});
  ASSERT_TRUE(r.ok()) << errors(r);
  const auto& s = r.value();
  EXPECT_EQ(s.pe.user_transport.kind, wire::TransportKind::Tcp);
  ASSERT_EQ(s.pe.user_transport.addresses.size(), 1u);
  EXPECT_EQ(s.pe.user_transport.addresses[0].toString(), "10.1.2.3");  // the host's addresses
  EXPECT_EQ(s.health.target.toString(), "127.0.0.1:8080");             // probed on loopback
  EXPECT_EQ(s.client.protocol, transport::Protocol::Mptcp);
  EXPECT_EQ(s.client.dialect, wire::Dialect::Ng);
  EXPECT_EQ(s.health.type, HealthType::Tcp);
  EXPECT_EQ(s.agent.failure_threshold, 3u);
  EXPECT_EQ(s.agent.unhealthy_action, UnhealthyAction::Deregister);
  EXPECT_EQ(s.agent.drain_grace, 5s);
  ASSERT_TRUE(s.http && s.grpc && s.asap_relay);
  EXPECT_EQ(s.http->toString(), "0.0.0.0:3881");
  EXPECT_EQ(s.grpc->toString(), "127.0.0.1:3880");
  EXPECT_EQ(s.asap_relay->toString(), "127.0.0.1:3864");
  EXPECT_FALSE(s.client.listen.has_value());  // no takeover listener unless asked for
}

TEST(SidecarSettings, TakeoverListenerIsAnEndpoint) {
  const std::vector<std::string> base = {"--pool.handle", "p", "--vnf.port", "80", "--registrars", "r:3863"};
  auto args = base;
  args.insert(args.end(), {"--asap.takeover_listen", "0.0.0.0:3865"});
  auto r = load(args);
  ASSERT_TRUE(r.ok()) << errors(r);
  ASSERT_TRUE(r.value().client.listen.has_value());
  EXPECT_EQ(r.value().client.listen->toString(), "0.0.0.0:3865");
  args = base;
  args.insert(args.end(), {"--asap.takeover_listen", "pod:3865"});
  EXPECT_NE(errors(load(args)).find("asap.takeover_listen"), std::string::npos) << errors(load(args));
  args = base;
  args.insert(args.end(), {"--asap.takeover_listen", "0.0.0.0:3865", "--asap.dialect", "classic"});
  EXPECT_NE(errors(load(args)).find("asap.takeover_listen"), std::string::npos) << errors(load(args));
}

TEST(SidecarSettings, RequiredKeysAreNamed) {
  auto r = load({});
  ASSERT_FALSE(r.ok());
  const auto text = errors(r);
  EXPECT_NE(text.find("pool.handle"), std::string::npos) << text;
  EXPECT_NE(text.find("vnf.port"), std::string::npos) << text;
  r = load({"--pool.handle", "p", "--vnf.port", "1"});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(errors(r).find("registrars"), std::string::npos) << errors(r);
}

TEST(SidecarSettings, BadValuesAreRefusedWithTheirKey) {
  const std::vector<std::string> base = {"--pool.handle", "p", "--vnf.port", "80", "--registrars", "r:3863"};
  auto with = [&](std::vector<std::string> extra) {
    auto args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return errors(load(args));
  };
  EXPECT_NE(with({"--policy.type", "fastest"}).find("unknown policy"), std::string::npos);
  EXPECT_NE(with({"--vnf.port", "70000"}).find("vnf.port"), std::string::npos);
  EXPECT_NE(with({"--vnf.addresses", "pod-ip"}).find("not an IPv4 or IPv6 address"), std::string::npos);
  EXPECT_NE(with({"--registrars", "a:b:c"}).find("registrar"), std::string::npos);
  EXPECT_NE(with({"--health.unhealthy_action", "full_load"}).find("load-based"), std::string::npos);
  EXPECT_NE(with({"--health.type", "http", "--health.path", "healthz"}).find("health.path"), std::string::npos);
  EXPECT_NE(with({"--pe.id", "12x"}).find("pe.id"), std::string::npos);
  EXPECT_NE(with({"--asap.transport", "udp"}).find("asap.transport"), std::string::npos);
  EXPECT_EQ(with({"--asap.transport", "sctp"}), "");
  EXPECT_NE(with({"--grpc.listen", "localhost"}).find("grpc.listen"), std::string::npos);
  EXPECT_EQ(with({"--pe.id", "0x2a"}), "");
}

TEST(SidecarSettings, ClassicDialectKeepsIdsIn32Bits) {
  auto r = load({"--pool.handle", "p", "--vnf.port", "80", "--registrars", "r", "--asap.dialect", "classic"});
  ASSERT_TRUE(r.ok()) << errors(r);
  EXPECT_TRUE(wire::fitsClassic(r.value().pe.id));
  EXPECT_FALSE(r.value().pe_engine.send_ng_capabilities);
  EXPECT_NE(errors(load({"--pool.handle", "p", "--vnf.port", "80", "--registrars", "r", "--asap.dialect", "classic",
                         "--pe.id", "0x100000000"}))
                .find("32 bits"),
            std::string::npos);
}

}  // namespace
}  // namespace vnfpool::sidecar
