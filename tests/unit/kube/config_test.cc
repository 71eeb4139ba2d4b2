#include "vnfpool/kube/config.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>

namespace vnfpool::kube {
namespace {

namespace fs = std::filesystem;

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("vnfpool-kube-config-" + std::to_string(::getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& text) {
    const auto path = dir_ / name;
    fs::create_directories(path.parent_path());
    std::ofstream(path) << text;
    return path.string();
  }

  Getenv env(std::map<std::string, std::string> vars) {
    return [vars = std::move(vars)](const std::string& k) -> std::optional<std::string> {
      auto it = vars.find(k);
      if (it == vars.end()) return std::nullopt;
      return it->second;
    };
  }

  fs::path dir_;
};

constexpr const char* kBasic = R"(apiVersion: v1
kind: Config
current-context: one
clusters:
- name: c1
  cluster: {server: "https://10.0.0.1:6443", certificate-authority-data: "Q0EtUEVN"}
contexts:
- name: one
  context: {cluster: c1, user: u1, namespace: team}
users:
- name: u1
  user: {token: secret-token}
)";

TEST_F(ConfigTest, KubeconfigWithTokenAndCaData) {
  auto config = loadKubeconfig({{write("config", kBasic)}, ""}, env({}));
  ASSERT_TRUE(config.ok()) << config.error().describe();
  EXPECT_EQ(config.value().server, "https://10.0.0.1:6443");
  EXPECT_EQ(config.value().ca_pem, "CA-PEM");
  EXPECT_EQ(config.value().namespace_name, "team");
  ASSERT_TRUE(config.value().credentials);
  EXPECT_EQ(config.value().credentials->authorization(false).value(), "Bearer secret-token");
}

TEST_F(ConfigTest, KubeconfigListMergesFirstWinsAndResolvesRelativePaths) {
  const auto first = write("a/config", R"(current-context: two
users:
- name: u2
  user: {tokenFile: token, client-certificate: certs/c.pem, client-key: certs/k.pem}
clusters:
- name: c2
  cluster: {server: "https://first:1", certificate-authority: ca.pem}
)");
  write("a/token", "tok-from-file\n");
  write("a/ca.pem", "CA-A");
  write("a/certs/c.pem", "CERT");
  write("a/certs/k.pem", "KEY");
  const auto second = write("b/config", R"(current-context: ignored
clusters:
- name: c2
  cluster: {server: "https://second:2"}
contexts:
- name: two
  context: {cluster: c2, user: u2}
)");
  auto config = loadKubeconfig({}, env({{"KUBECONFIG", first + ":" + (dir_ / "missing").string() + ":" + second}}));
  ASSERT_TRUE(config.ok()) << config.error().describe();
  EXPECT_EQ(config.value().server, "https://first:1");     // the first file to define c2 wins
  EXPECT_EQ(config.value().ca_pem, "CA-A");
  EXPECT_EQ(config.value().client_certificate_pem, "CERT");
  EXPECT_EQ(config.value().client_key_pem, "KEY");
  EXPECT_EQ(config.value().namespace_name, "default");
  EXPECT_EQ(config.value().credentials->authorization(false).value(), "Bearer tok-from-file");
}

TEST_F(ConfigTest, ExplicitContextAndBasicAuth) {
  const auto path = write("config", R"(current-context: one
clusters:
- name: c1
  cluster: {server: "http://127.0.0.1:8080"}
contexts:
- name: one
  context: {cluster: c1, user: u1}
- name: old
  context: {cluster: c1, user: legacy}
users:
- name: u1
  user: {token: t}
- name: legacy
  user: {username: admin, password: pw}
)");
  auto config = loadKubeconfig({{path}, "old"}, env({}));
  ASSERT_TRUE(config.ok()) << config.error().describe();
  EXPECT_EQ(config.value().credentials->authorization(false).value(), "Basic YWRtaW46cHc=");
  EXPECT_EQ(loadKubeconfig({{path}, ""}, env({})).value().credentials->authorization(false).value(), "Bearer t");
  auto unknown = loadKubeconfig({{path}, "nope"}, env({}));
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("context \"nope\" not found"), std::string::npos);
}

TEST_F(ConfigTest, ExecPluginTokenIsCachedUntilRefresh) {
  const auto counter = (dir_ / "count").string();
  const auto plugin = write("plugin.sh", "#!/bin/sh\necho x >> " + counter + "\n" +
                                             "n=$(wc -l < " + counter + ")\n" +
                                             "test -n \"$KUBERNETES_EXEC_INFO\" || exit 3\n"
                                             "echo '{\"apiVersion\":\"client.authentication.k8s.io/v1\","
                                             "\"kind\":\"ExecCredential\",\"status\":{\"token\":\"exec-'$n'\"}}'\n");
  ::chmod(plugin.c_str(), 0755);
  const auto path = write("config", std::string(kBasic).replace(std::string(kBasic).find("{token: secret-token}"), 21,
                                                                "\n    exec: {apiVersion: client.authentication.k8s.io/v1, "
                                                                "command: ./plugin.sh, args: [], env: [{name: X, value: y}]}"));
  auto config = loadKubeconfig({{path}, ""}, env({}));
  ASSERT_TRUE(config.ok()) << config.error().describe();
  EXPECT_EQ(config.value().credentials->authorization(false).value(), "Bearer exec-1");
  EXPECT_EQ(config.value().credentials->authorization(false).value(), "Bearer exec-1");
  EXPECT_EQ(config.value().credentials->authorization(true).value(), "Bearer exec-2");
}

TEST_F(ConfigTest, ClearErrorsForBadKubeconfigs) {
  const std::pair<const char*, const char*> cases[] = {
      {"{{{ not yaml", "malformed kubeconfig"},
      {"- just\n- a list\n", "not a mapping"},
      {"current-context: nope\ncontexts: []\n", "context \"nope\" not found"},
      {"current-context: a\ncontexts:\n- name: a\n  context: {cluster: c}\n", "cluster \"c\""},
      {"current-context: a\ncontexts:\n- name: a\n  context: {cluster: c, user: u}\nclusters:\n- name: c\n  cluster: "
       "{server: \"https://x\"}\nusers:\n- name: u\n  user:\n    auth-provider: {name: gcp}\n",
       "auth-provider \"gcp\" is not supported"},
      {"current-context: a\ncontexts:\n- name: a\n  context: {cluster: c}\nclusters:\n- name: c\n  cluster: "
       "{server: \"https://x\", certificate-authority-data: \"%%%\"}\n",
       "not valid base64"},
      {"current-context: a\ncontexts:\n- name: a\n  context: {cluster: c}\nclusters:\n- name: c\n  cluster: "
       "{server: \"ftp://x\"}\n",
       "http:// or https://"},
  };
  int n = 0;
  for (const auto& [text, expected] : cases) {
    auto config = loadKubeconfig({{write("bad" + std::to_string(n++), text)}, ""}, env({}));
    ASSERT_FALSE(config.ok()) << text;
    EXPECT_EQ(config.error().kind, ErrorKind::Config);
    EXPECT_NE(config.error().message.find(expected), std::string::npos) << config.error().message;
  }
  auto missing = loadKubeconfig({{(dir_ / "nope").string()}, ""}, env({}));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("cannot read kubeconfig"), std::string::npos);
}

TEST_F(ConfigTest, TokensNeverAppearInErrors) {
  const auto path = write("config", std::string(kBasic).replace(std::string(kBasic).find("{token: secret-token}"), 21,
                                                                "{token: secret-token, auth-provider: {name: oidc}}"));
  auto config = loadKubeconfig({{path}, ""}, env({}));
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error().message.find("secret-token"), std::string::npos);
}

TEST_F(ConfigTest, InClusterBracketsIpv6AndReadsServiceAccountFiles) {
  InClusterPaths paths{write("sa/token", "sa-token\n"), write("sa/ca.crt", "CLUSTER-CA"), write("sa/namespace", "vnfpool\n")};
  auto config = loadInCluster(paths, env({{"KUBERNETES_SERVICE_HOST", "fd00::1"}, {"KUBERNETES_SERVICE_PORT", "443"}}));
  ASSERT_TRUE(config.ok()) << config.error().describe();
  EXPECT_EQ(config.value().server, "https://[fd00::1]:443");
  EXPECT_EQ(config.value().ca_pem, "CLUSTER-CA");
  EXPECT_EQ(config.value().namespace_name, "vnfpool");
  EXPECT_EQ(config.value().credentials->authorization(false).value(), "Bearer sa-token");
  auto v4 = loadInCluster(paths, env({{"KUBERNETES_SERVICE_HOST", "10.96.0.1"}, {"KUBERNETES_SERVICE_PORT", "443"}}));
  EXPECT_EQ(v4.value().server, "https://10.96.0.1:443");
  auto outside = loadInCluster(paths, env({}));
  ASSERT_FALSE(outside.ok());
  EXPECT_NE(outside.error().message.find("not running in a cluster"), std::string::npos);
  auto no_ca = loadInCluster({paths.token, (dir_ / "none").string(), paths.namespace_file},
                             env({{"KUBERNETES_SERVICE_HOST", "h"}, {"KUBERNETES_SERVICE_PORT", "1"}}));
  EXPECT_FALSE(no_ca.ok());
}

TEST_F(ConfigTest, FileTokenIsRereadAfterItsPeriodOrOnRefresh) {
  const auto path = write("token", "first");
  auto now = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  FileTokenCredentials creds(path, std::chrono::seconds(60), [&now] { return now; });
  EXPECT_EQ(creds.authorization(false).value(), "Bearer first");
  write("token", "second");
  now += std::chrono::seconds(30);
  EXPECT_EQ(creds.authorization(false).value(), "Bearer first");    // cached within the period
  EXPECT_EQ(creds.authorization(true).value(), "Bearer second");    // a 401 forces a re-read
  write("token", "third");
  now += std::chrono::seconds(61);
  EXPECT_EQ(creds.authorization(false).value(), "Bearer third");
  write("token", "  \n");
  EXPECT_FALSE(creds.authorization(true).ok());
}

TEST_F(ConfigTest, LoadDefaultPrefersInCluster) {
  auto config = loadDefault(env({{"KUBECONFIG", write("config", kBasic)}}));
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config.value().server, "https://10.0.0.1:6443");
  auto in_cluster = loadDefault(env({{"KUBERNETES_SERVICE_HOST", "h"}, {"KUBERNETES_SERVICE_PORT", "1"}}));
  ASSERT_FALSE(in_cluster.ok());   // the service-account files do not exist here
  EXPECT_NE(in_cluster.error().message.find("service-account"), std::string::npos);
}

TEST_F(ConfigTest, MutatedKubeconfigsNeverThrowOrCrash) {
  // A deterministic mutation fuzz: every variant either loads or gives a Config error.
  const std::string base = std::string(kBasic) + R"(- name: e
  user:
    exec: {command: /bin/true, args: [a, b], env: [{name: X, value: y}]}
)";
  const std::string noise[] = {"{", "}", "[", "]", ":", "- ", "\n", "\t", "'", "\"", "&a", "*a", "!!binary ",
                               "{x: [1, {y: z}]}", "~", "0x", "\xff"};
  std::uint32_t state = 12345;
  auto next = [&state] {
    state = state * 1103515245u + 12345u;
    return state >> 8;
  };
  int loaded = 0;
  for (int i = 0; i < 400; ++i) {
    std::string text = base;
    for (int m = 0; m < 3; ++m) {
      const auto pos = next() % text.size();
      switch (next() % 3) {
        case 0: text.insert(pos, noise[next() % std::size(noise)]); break;
        case 1: text.erase(pos, next() % 8); break;
        default: text[pos] = static_cast<char>(next() % 128); break;
      }
    }
    auto config = loadKubeconfig({{write("fuzz", text)}, ""}, env({}));
    if (config.ok()) {
      ++loaded;
    } else {
      EXPECT_EQ(config.error().kind, ErrorKind::Config);
      EXPECT_FALSE(config.error().message.empty());
    }
  }
  EXPECT_GT(loaded, 0);   // the mutations are mild enough that some survive: the happy path ran too
}

}  // namespace
}  // namespace vnfpool::kube
