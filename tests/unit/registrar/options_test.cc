#include "vnfpool/registrar/options.h"

#include <gtest/gtest.h>

namespace vnfpool::registrar {
namespace {

using namespace std::chrono_literals;

config::Result<Settings> load(std::vector<std::string> args, config::Environment env = {}) {
  auto loaded = config::load(schema(), args, env);
  if (!loaded.ok()) return loaded.errors();
  return settingsFrom(loaded.value());
}

TEST(RegistrarOptions, DefaultsServeNgOnMptcp) {
  auto s = load({});
  ASSERT_TRUE(s.ok()) << config::describe(s.errors());
  const auto& o = s.value().options;
  ASSERT_EQ(o.asap.size(), 1u);
  EXPECT_EQ(o.asap[0].at.toString(), "0.0.0.0:3863");
  EXPECT_EQ(o.asap[0].protocol, transport::Protocol::Mptcp);
  EXPECT_EQ(o.asap[0].dialect, wire::Dialect::Ng);
  EXPECT_EQ(o.admin_address, "127.0.0.1:3870");
  ASSERT_TRUE(o.http);
  EXPECT_EQ(o.http->port, 3871);
  EXPECT_EQ(o.asap_engine.keep_alive_interval, 5s);
  EXPECT_EQ(o.asap_engine.max_bad_pe_reports, 3u);
  EXPECT_EQ(o.handlespace.max_pool_handle, 32u);
  EXPECT_TRUE(o.huge_pages);
  EXPECT_EQ(o.reserve_pes, 0u);
  EXPECT_EQ(o.pr_id, 0u);
}

TEST(RegistrarOptions, FlagsAndEnvironment) {
  auto s = load({"--id", "0x11111111", "--asap.listen", "127.0.0.1:0,[::1]:0", "--asap.classic-listen", "127.0.0.1:3900",
                 "--asap.transport", "tcp", "--keepalive.interval", "250ms", "--http.listen", "",
                 "--address.min-scope", "sitelocal"},
                {{"VNFPOOL_REGISTRAR_KEEPALIVE_TIMEOUT", "100ms"}});
  ASSERT_TRUE(s.ok()) << config::describe(s.errors());
  const auto& o = s.value().options;
  EXPECT_EQ(o.pr_id, 0x11111111u);
  ASSERT_EQ(o.asap.size(), 3u);
  EXPECT_EQ(o.asap[1].at.toString(), "[::1]:0");
  EXPECT_EQ(o.asap[2].dialect, wire::Dialect::Classic);
  EXPECT_EQ(o.asap[2].protocol, transport::Protocol::Tcp);
  EXPECT_EQ(o.asap_engine.keep_alive_interval, 250ms);
  EXPECT_EQ(o.asap_engine.keep_alive_timeout, 100ms);
  EXPECT_FALSE(o.http.has_value());
  EXPECT_EQ(o.asap_engine.min_address_scope, asap::AddressScope::SiteLocal);

  auto small_pages = load({"--handlespace.huge-pages=false"});
  ASSERT_TRUE(small_pages.ok()) << config::describe(small_pages.errors());
  EXPECT_FALSE(small_pages.value().options.huge_pages);
  EXPECT_FALSE(load({"--handlespace.huge-pages=sometimes"}).ok());
  auto reserved = load({"--handlespace.reserve-pes", "250000"});
  ASSERT_TRUE(reserved.ok()) << config::describe(reserved.errors());
  EXPECT_EQ(reserved.value().options.reserve_pes, 250000u);
  auto negative = load({"--handlespace.reserve-pes", "-1"});
  ASSERT_FALSE(negative.ok());
  EXPECT_NE(config::describe(negative.errors()).find("reserve-pes"), std::string::npos)
      << config::describe(negative.errors());
}

TEST(RegistrarOptions, BadValuesNameTheKey) {
  auto bad_endpoint = load({"--asap.listen", "nonsense"});
  ASSERT_FALSE(bad_endpoint.ok());
  EXPECT_NE(config::describe(bad_endpoint.errors()).find("asap.listen"), std::string::npos);

  auto bad_id = load({"--id", "twelve"});
  ASSERT_FALSE(bad_id.ok());
  EXPECT_NE(config::describe(bad_id.errors()).find("id"), std::string::npos);

  auto too_fast = load({"--keepalive.interval", "1ms"});
  ASSERT_FALSE(too_fast.ok());

  auto nothing = load({"--asap.listen", ""});
  ASSERT_FALSE(nothing.ok());
  EXPECT_NE(config::describe(nothing.errors()).find("nothing to serve"), std::string::npos);

  auto lives = load({"--registration.min-life", "2h", "--registration.max-life", "1h"});
  ASSERT_FALSE(lives.ok());
  EXPECT_NE(config::describe(lives.errors()).find("registration.min_life"), std::string::npos);

  auto items = load({"--resolution.default-items", "200"});
  ASSERT_FALSE(items.ok());
}

TEST(RegistrarOptions, EnrpRunsOnlyWithPeers) {
  auto alone = load({});
  ASSERT_TRUE(alone.ok()) << config::describe(alone.errors());
  EXPECT_FALSE(alone.value().options.enrp.has_value());

  auto mesh = load({"--enrp.peers", "registrar-headless.vnfpool.svc,10.0.0.7:9911,[fd00::7]", "--enrp.listen", "127.0.0.1:0",
                    "--enrp.transport", "tcp", "--enrp.heartbeat-cycle", "200ms", "--enrp.max-time-no-response", "300ms",
                    "--enrp.suggestion-metric", "xor", "--enrp.page-entries", "1024"},
                   {{"VNFPOOL_REGISTRAR_ENRP_DNS_REFRESH", "2s"}});
  ASSERT_TRUE(mesh.ok()) << config::describe(mesh.errors());
  ASSERT_TRUE(mesh.value().options.enrp.has_value());
  const auto& e = *mesh.value().options.enrp;
  EXPECT_EQ(e.peers.size(), 3u);
  EXPECT_EQ(e.listen.toString(), "127.0.0.1:0");
  EXPECT_EQ(e.protocol, transport::Protocol::Tcp);
  EXPECT_EQ(e.dns_refresh, 2s);
  EXPECT_EQ(e.engine.heartbeat_cycle, 200ms);
  EXPECT_EQ(e.engine.max_time_no_response, 300ms);
  EXPECT_EQ(e.engine.max_time_last_heard, 5s);
  EXPECT_EQ(e.engine.suggestion_metric, enrp::Config::SuggestionMetric::Xor);
  EXPECT_EQ(e.engine.ng_page_entries, 1024u);

  auto defaults = load({"--enrp.peers", "pr-1"});
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults.value().options.enrp->listen.toString(), "0.0.0.0:9901");
  EXPECT_EQ(defaults.value().options.enrp->engine.suggestion_metric, enrp::Config::SuggestionMetric::Rendezvous);

  auto bad_peer = load({"--enrp.peers", "pr-1:notaport"});
  ASSERT_FALSE(bad_peer.ok());
  EXPECT_NE(config::describe(bad_peer.errors()).find("enrp.peers"), std::string::npos);
  auto no_listen = load({"--enrp.peers", "pr-1", "--enrp.listen", ""});
  ASSERT_FALSE(no_listen.ok());
  EXPECT_NE(config::describe(no_listen.errors()).find("enrp.listen"), std::string::npos);
}

}  // namespace
}  // namespace vnfpool::registrar
