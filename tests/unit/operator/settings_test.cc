#include "vnfpool/operator/settings.h"

#include <gtest/gtest.h>

namespace vnfpool::op {
namespace {

config::Result<Settings> settingsOf(std::vector<std::string> args, config::Environment env = {}) {
  auto loaded = config::load(schema(), std::span<const std::string>(args), env);
  if (!loaded.ok()) return loaded.errors();
  return settingsFrom(loaded.value());
}

TEST(OperatorSettings, DefaultsFollowTheContract) {
  auto s = settingsOf({});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s.value().http_listen, "0.0.0.0:3872");
  EXPECT_EQ(s.value().webhook_listen, "0.0.0.0:9443");
  EXPECT_EQ(s.value().webhook_path, "/inject");
  EXPECT_EQ(s.value().injection.command, std::vector<std::string>{"vnfpool-sidecar"});
  EXPECT_EQ(s.value().certs.names.front(), "vnfpool-operator-webhook.vnfpool-system.svc");
  EXPECT_DOUBLE_EQ(s.value().certs.rotate_at_fraction, 0.67);
}

TEST(OperatorSettings, EnvironmentAndFlags) {
  auto s = settingsOf({"--registrars", "a:3870,b:3870", "--webhook.service", "hook"},
                      {{"VNFPOOL_OPERATOR_NAMESPACE", "ops"}, {"VNFPOOL_OPERATOR_SIDECAR_REGISTRARS", "r:3863"}});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s.value().registrars, (std::vector<std::string>{"a:3870", "b:3870"}));
  EXPECT_EQ(s.value().certs.namespace_name, "ops");
  EXPECT_EQ(s.value().certs.names.front(), "hook.ops.svc");
  EXPECT_EQ(s.value().injection.registrars, std::vector<std::string>{"r:3863"});
}

TEST(OperatorSettings, ImpossibleCombinationsAreRefusedByKey) {
  const std::pair<std::vector<std::string>, std::string> cases[] = {
      {{"--leader_election.lease_duration", "5s", "--leader_election.renew_deadline", "6s"}, "leader_election"},
      {{"--webhook.cert_validity", "48h", "--webhook.ca_validity", "24h"}, "webhook.ca_validity"},
      {{"--webhook.cert_mode", "files"}, "webhook.cert_dir"},
      {{"--webhook.path", "inject"}, "webhook.path"},
      {{"--webhook.native_sidecars", "maybe"}, "webhook.native_sidecars"},
  };
  for (const auto& [args, key] : cases) {
    auto s = settingsOf(args);
    ASSERT_FALSE(s.ok()) << key;
    EXPECT_NE(config::describe(s.errors()).find(key), std::string::npos) << config::describe(s.errors());
  }
}

}  // namespace
}  // namespace vnfpool::op
