#include "vnfpool/config/config.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace vnfpool::config {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

Schema registrarSchema() {
  Schema s("registrar", "vnfpool-registrar", "The vnfpool Pool Registrar.");
  s.add(Key::string("asap.listen", "0.0.0.0:3863")
            .help("Address and port for ASAP over TCP and MPTCP.")
            .metavar("ADDRESS")
            .check([](const Value& v) -> std::optional<std::string> {
              if (std::get<std::string>(v).find(':') == std::string::npos) return "expected host:port";
              return std::nullopt;
            }));
  s.add(Key::choice("asap.dialect", "ng", {"ng", "classic"}).help("Wire dialect."));
  s.add(Key::duration("keepalive.interval", 5s).range(100ms, 1h).help("Endpoint keep-alive period."));
  s.add(Key::duration("keepalive.timeout", 2s).range(10ms, 1min).help("Keep-alive answer deadline."));
  s.add(Key::integer("limits.max_connections", 1024).range(1, 65535).help("Concurrent ASAP connections."));
  s.add(Key::list("registrars", {}).help("Peer PRs, host:port."));
  s.add(Key::boolean("debug", false).help("Debug logging."));
  s.add(Key::string("admin.token", "").secret().help("Admin API bearer token."));
  return s;
}

class TempFile {
 public:
  explicit TempFile(const std::string& content) {
    char name[] = "/tmp/vnfpool_config_test_XXXXXX";
    const int fd = ::mkstemp(name);
    EXPECT_GE(fd, 0);
    ::close(fd);
    path_ = name;
    std::ofstream(path_) << content;
  }
  ~TempFile() { ::unlink(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::vector<std::string> texts(const std::vector<Error>& errors) {
  std::vector<std::string> out;
  for (const auto& e : errors) out.push_back(e.text);
  return out;
}

struct ConfigTest : ::testing::Test {
  Schema schema = registrarSchema();
  Environment env;

  Result<Config> run(std::vector<std::string> args, std::optional<std::string> file = std::nullopt) {
    return load(schema, args, env, file);
  }
};

TEST_F(ConfigTest, DefaultsWhenNothingIsGiven) {
  auto r = run({});
  ASSERT_TRUE(r.ok()) << describe(r.errors());
  const auto& c = r.value();
  EXPECT_EQ(c.string("asap.listen"), "0.0.0.0:3863");
  EXPECT_EQ(c.string("asap.dialect"), "ng");
  EXPECT_EQ(c.duration("keepalive.interval"), 5s);
  EXPECT_EQ(c.integer("limits.max_connections"), 1024);
  EXPECT_TRUE(c.list("registrars").empty());
  EXPECT_FALSE(c.boolean("debug"));
  EXPECT_EQ(c.source("asap.listen"), Source::Default);
  EXPECT_EQ(c.origin("asap.listen"), "default");
  EXPECT_FALSE(c.helpRequested());
  EXPECT_FALSE(c.printConfigRequested());
  EXPECT_FALSE(c.file());
  EXPECT_TRUE(c.warnings().empty());
}

TEST_F(ConfigTest, FileThenEnvironmentThenFlags) {
  TempFile f(
      "asap:\n"
      "  listen: 10.0.0.1:3863\n"
      "  dialect: classic\n"
      "keepalive:\n"
      "  interval: 1s\n"
      "  timeout: 500ms\n"
      "limits.max_connections: 10\n"  // flat dotted keys work too
      "registrars:\n"
      "  - pr-0:9901\n"
      "  - pr-1:9901\n"
      "debug: yes\n");
  env["VNFPOOL_REGISTRAR_KEEPALIVE_INTERVAL"] = "2s";
  env["VNFPOOL_REGISTRAR_KEEPALIVE_TIMEOUT"] = "750ms";
  auto r = run({"--keepalive.timeout=900ms", "--config", f.path()});
  ASSERT_TRUE(r.ok()) << describe(r.errors());
  const auto& c = r.value();
  EXPECT_EQ(c.file(), f.path());
  EXPECT_EQ(c.string("asap.listen"), "10.0.0.1:3863");
  EXPECT_EQ(c.origin("asap.listen"), "config file " + f.path() + ":2");
  EXPECT_EQ(c.source("asap.listen"), Source::File);
  EXPECT_EQ(c.string("asap.dialect"), "classic");
  EXPECT_EQ(c.duration("keepalive.interval"), 2s);
  EXPECT_EQ(c.source("keepalive.interval"), Source::Environment);
  EXPECT_EQ(c.origin("keepalive.interval"), "environment VNFPOOL_REGISTRAR_KEEPALIVE_INTERVAL");
  EXPECT_EQ(c.duration("keepalive.timeout"), 900ms);
  EXPECT_EQ(c.source("keepalive.timeout"), Source::Flag);
  EXPECT_EQ(c.origin("keepalive.timeout"), "--keepalive.timeout");
  EXPECT_EQ(c.integer("limits.max_connections"), 10);
  EXPECT_THAT(c.list("registrars"), ElementsAre("pr-0:9901", "pr-1:9901"));
  EXPECT_TRUE(c.boolean("debug"));
}

TEST_F(ConfigTest, ErrorsNameTheSourceTheKeyAndTheRule) {
  TempFile f(
      "asap:\n"
      "  lisen: 1.2.3.4:1\n"
      "keepalive:\n"
      "  interval: 5x\n");
  env["VNFPOOL_REGISTRAR_LIMITS_MAX_CONNECTIONS"] = "many";
  auto r = run({"--keepalive.timeout=5ms", "--asap.dialect", "fast", "--asap.listen=nocolon"}, f.path());
  ASSERT_FALSE(r.ok());
  const auto p = f.path();
  EXPECT_THAT(texts(r.errors()),
              ElementsAre("config file " + p + ":2: unknown key asap.lisen (did you mean asap.listen?)",
                          "config file " + p + ":4: keepalive.interval: \"5x\" is not a duration (use e.g. 500ms, 5s)",
                          "environment VNFPOOL_REGISTRAR_LIMITS_MAX_CONNECTIONS: \"many\" is not an integer",
                          "--keepalive.timeout: 5ms is below the minimum 10ms",
                          "--asap.dialect: \"fast\" is not one of: ng, classic",
                          "--asap.listen: expected host:port"));
  EXPECT_EQ(r.errors()[1].key, "keepalive.interval");
  EXPECT_EQ(r.errors()[1].source, Source::File);
  EXPECT_EQ(r.errors()[0].key, "");
  const auto all = describe(r.errors());
  EXPECT_EQ(all.find("config file " + p + ":2: unknown key"), 0U);
  EXPECT_EQ(std::count(all.begin(), all.end(), '\n'), 6);
}

TEST_F(ConfigTest, RangesAndTypesFromEverySource) {
  env["VNFPOOL_REGISTRAR_KEEPALIVE_INTERVAL"] = "2h";
  env["VNFPOOL_REGISTRAR_DEBUG"] = "maybe";
  auto r = run({"--limits.max_connections=0", "--limits.max_connections=70000"});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(texts(r.errors()),
              ElementsAre("environment VNFPOOL_REGISTRAR_KEEPALIVE_INTERVAL: 2h is above the maximum 1h",
                          "environment VNFPOOL_REGISTRAR_DEBUG: \"maybe\" is not a boolean (use true or false)",
                          "--limits.max_connections: 0 is below the minimum 1",
                          "--limits.max_connections: 70000 is above the maximum 65535"));
  env.clear();
  r = run({"--limits.max_connections=99999999999999999999", "--limits.max_connections= 12"});
  EXPECT_THAT(texts(r.errors()), ElementsAre("--limits.max_connections: \"99999999999999999999\" is out of range"));
}

TEST_F(ConfigTest, FlagForms) {
  auto r = run({"--debug", "--keepalive.interval", "1s", "--limits.max-connections=7", "--registrars=a:1,b:2",
                "--registrars", "c:3"});
  ASSERT_TRUE(r.ok()) << describe(r.errors());
  EXPECT_TRUE(r.value().boolean("debug"));
  EXPECT_EQ(r.value().duration("keepalive.interval"), 1s);
  EXPECT_EQ(r.value().integer("limits.max_connections"), 7);
  EXPECT_THAT(r.value().list("registrars"), ElementsAre("a:1", "b:2", "c:3"));

  env["VNFPOOL_REGISTRAR_DEBUG"] = "true";
  r = run({"--no-debug"});
  ASSERT_TRUE(r.ok()) << describe(r.errors());
  EXPECT_FALSE(r.value().boolean("debug"));
  r = run({"--debug=false"});
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r.value().boolean("debug"));
}

TEST_F(ConfigTest, FlagMistakes) {
  auto r = run({"--asap.lisen=x:1", "stray", "--debug=perhaps", "--keepalive.interval=1s", "--keepalive.interval=2s",
                "--print-config=yes", "--", "--debug", "--keepalive.timeout"});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(texts(r.errors()),
              ElementsAre("--asap.lisen: unknown flag (did you mean --asap.listen?)",
                          "unexpected argument \"stray\" (settings are given as --key=value)",
                          "--print-config: takes no value",
                          "unexpected argument \"--debug\" (settings are given as --key=value)",
                          "unexpected argument \"--keepalive.timeout\" (settings are given as --key=value)",
                          "--debug: \"perhaps\" is not a boolean (use true or false)",
                          "--keepalive.interval: given twice"));
  r = run({"--keepalive.timeout"});
  EXPECT_THAT(texts(r.errors()), ElementsAre("--keepalive.timeout: needs a value"));
  r = run({"--config"});
  EXPECT_THAT(texts(r.errors()), ElementsAre("--config: needs a value"));
  r = run({"--completely-different"});
  EXPECT_THAT(texts(r.errors()), ElementsAre("--completely-different: unknown flag"));
}

TEST_F(ConfigTest, HelpWinsAndUsageComesFromTheDeclarations) {
  auto r = run({"--nonsense", "--keepalive.interval=5x", "--help"});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.value().helpRequested());
  EXPECT_EQ(r.value().duration("keepalive.interval"), 5s);
  EXPECT_TRUE(run({"-h"}).value().helpRequested());
  const auto usage = schema.usage();
  EXPECT_THAT(usage, HasSubstr("Usage: vnfpool-registrar [flags]"));
  EXPECT_THAT(usage, HasSubstr("The vnfpool Pool Registrar."));
  EXPECT_THAT(usage, HasSubstr("  --asap.listen ADDRESS\n        Address and port for ASAP over TCP and MPTCP.\n"
                               "        (default \"0.0.0.0:3863\"; env VNFPOOL_REGISTRAR_ASAP_LISTEN)\n"));
  EXPECT_THAT(usage, HasSubstr("  --keepalive.interval DURATION\n        Endpoint keep-alive period.\n"
                               "        (default 5s; 100ms..1h; env VNFPOOL_REGISTRAR_KEEPALIVE_INTERVAL)\n"));
  EXPECT_THAT(usage, HasSubstr("(default 1024; 1..65535; env VNFPOOL_REGISTRAR_LIMITS_MAX_CONNECTIONS)"));
  EXPECT_THAT(usage, HasSubstr("(default \"ng\"; one of ng, classic;"));
  EXPECT_THAT(usage, HasSubstr("  --debug\n"));
  EXPECT_THAT(usage, HasSubstr("(default <redacted>; env VNFPOOL_REGISTRAR_ADMIN_TOKEN)"));
  EXPECT_THAT(usage, HasSubstr("--config FILE"));
  EXPECT_THAT(usage, HasSubstr("VNFPOOL_REGISTRAR_CONFIG"));
}

TEST_F(ConfigTest, WhereTheFileComesFrom) {
  TempFile a("debug: true\n"), b("limits:\n  max_connections: 5\n");
  env["VNFPOOL_REGISTRAR_CONFIG"] = b.path();
  auto r = run({}, a.path());  // the environment beats the default path
  ASSERT_TRUE(r.ok()) << describe(r.errors());
  EXPECT_EQ(r.value().file(), b.path());
  EXPECT_EQ(r.value().integer("limits.max_connections"), 5);
  r = run({"--config=" + a.path()}, "/nonexistent/default.yaml");  // the flag beats both
  ASSERT_TRUE(r.ok()) << describe(r.errors());
  EXPECT_TRUE(r.value().boolean("debug"));
  env.clear();
  r = run({}, "/nonexistent/default.yaml");
  EXPECT_THAT(texts(r.errors()),
              ElementsAre("config file /nonexistent/default.yaml: cannot open: No such file or directory"));
}

TEST_F(ConfigTest, BadYamlBecomesErrorsNotExceptions) {
  struct Case {
    std::string yaml;
    std::string error;
  };
  for (const auto& c : std::vector<Case>{
           {"asap: [unclosed\n", ":2:1: invalid YAML: end of sequence flow not found"},
           {"keepalive:\n  interval: a: b\n", ":2:14: invalid YAML: illegal map value"},
           {"- a\n- b\n", ": the top level must be a map of settings"},
           {"just a string\n", ": the top level must be a map of settings"},
           {"keepalive: 5s\n", ":1: keepalive is a section, not a value"},
           {"keepalive:\n  interval: {a: 1}\n", ":2: keepalive.interval: expected a DURATION, got a map"},
           {"keepalive:\n  interval: [1s]\n", ":2: keepalive.interval: expected a DURATION, got a list"},
           {"keepalive:\n  interval:\n", ":2: keepalive.interval: has no value"},
           {"registrars: [a, [b]]\n", ":1: registrars: list items must be non-empty strings"},
           {"debug: true\ndebug: false\n", ":2: debug is set twice (also at line 1)"},
           {"keepalive:\n  interval: 1s\nkeepalive.interval: 2s\n", ":3: keepalive.interval is set twice (also at line 2)"},
           {"? [a]\n: 1\n", ":1: keys must be plain names"},
           {"nonsense_entirely: 1\n", ":1: unknown key nonsense_entirely"},
       }) {
    TempFile f(c.yaml);
    auto r = run({}, f.path());
    ASSERT_FALSE(r.ok()) << c.yaml;
    ASSERT_EQ(r.errors().size(), 1U) << c.yaml << describe(r.errors());
    EXPECT_THAT(r.errors()[0].text, HasSubstr("config file " + f.path() + c.error)) << c.yaml;
  }
  TempFile empty(""), comments("# nothing\n"), null_section("keepalive:\n");
  for (const auto* f : {&empty, &comments, &null_section}) EXPECT_TRUE(run({}, f->path()).ok()) << f->path();
  TempFile scalar_list("registrars: a:1, b:2\n");
  auto r = run({}, scalar_list.path());
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(r.value().list("registrars"), ElementsAre("a:1", "b:2"));
}

TEST_F(ConfigTest, RequiredKeys) {
  schema.add(Key::string("pool.handle", "").required().help("Pool to register in."));
  auto r = run({});
  EXPECT_THAT(texts(r.errors()),
              ElementsAre("pool.handle is required: set it in the config file, as VNFPOOL_REGISTRAR_POOL_HANDLE or "
                          "with --pool.handle"));
  EXPECT_EQ(r.errors()[0].key, "pool.handle");
  env["VNFPOOL_REGISTRAR_POOL_HANDLE"] = "sip-proxy";
  r = run({});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().string("pool.handle"), "sip-proxy");
  EXPECT_THAT(schema.usage(), HasSubstr("(required; env VNFPOOL_REGISTRAR_POOL_HANDLE)"));
}

TEST_F(ConfigTest, ServiceLinkVariablesAreIgnoredOtherStrangersWarned) {
  env["VNFPOOL_REGISTRAR_SERVICE_HOST"] = "10.0.0.1";
  env["VNFPOOL_REGISTRAR_PORT"] = "tcp://10.0.0.1:3863";
  env["VNFPOOL_REGISTRAR_PORT_3863_TCP_ADDR"] = "10.0.0.1";
  env["VNFPOOL_REGISTRAR_SERVICE_PORT_ASAP"] = "3863";
  env["VNFPOOL_REGISTRAR_KEEPALIVE_INTERVALL"] = "1s";
  env["VNFPOOL_SIDECAR_POOL"] = "other component";
  env["PATH"] = "/bin";
  auto r = run({});
  ASSERT_TRUE(r.ok()) << describe(r.errors());
  EXPECT_THAT(r.value().warnings(),
              ElementsAre("environment VNFPOOL_REGISTRAR_KEEPALIVE_INTERVALL is not a setting of vnfpool-registrar "
                          "(did you mean VNFPOOL_REGISTRAR_KEEPALIVE_INTERVAL?)"));
}

TEST_F(ConfigTest, ListsFromTheEnvironment) {
  env["VNFPOOL_REGISTRAR_REGISTRARS"] = " pr-0:9901 , pr-1:9901";
  auto r = run({});
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(r.value().list("registrars"), ElementsAre("pr-0:9901", "pr-1:9901"));
  env["VNFPOOL_REGISTRAR_REGISTRARS"] = "";
  EXPECT_TRUE(run({}).value().list("registrars").empty());
  env["VNFPOOL_REGISTRAR_REGISTRARS"] = "a,,b";
  EXPECT_THAT(texts(run({}).errors()),
              ElementsAre("environment VNFPOOL_REGISTRAR_REGISTRARS: \"a,,b\" has an empty item (separate items with "
                          "commas)"));
}

TEST_F(ConfigTest, PrintShowsOriginsRedactsSecretsAndLoadsBack) {
  env["VNFPOOL_REGISTRAR_ADMIN_TOKEN"] = "s3cret";
  auto r = run({"--keepalive.interval=1500ms", "--registrars=a:1,b \"quoted\":2", "--debug", "--print-config",
                "--asap.listen=[::1]:3863"});
  ASSERT_TRUE(r.ok()) << describe(r.errors());
  EXPECT_TRUE(r.value().printConfigRequested());
  const auto text = r.value().print();
  EXPECT_THAT(text, HasSubstr("effective configuration of vnfpool-registrar"));
  EXPECT_THAT(text, HasSubstr("interval: 1500ms  # --keepalive.interval"));
  EXPECT_THAT(text, HasSubstr("timeout: 2s  # default"));
  EXPECT_THAT(text, HasSubstr("token: \"<redacted>\"  # environment VNFPOOL_REGISTRAR_ADMIN_TOKEN"));
  EXPECT_EQ(text.find("s3cret"), std::string::npos);

  // Without the secret, the printout is a config file that reproduces every value.
  env.clear();
  r = run({"--keepalive.interval=1500ms", "--registrars=a:1,b \"quoted\":2", "--debug", "--asap.listen=[::1]:3863",
           "--asap.dialect=classic"});
  ASSERT_TRUE(r.ok());
  TempFile printed(r.value().print());
  auto again = run({}, printed.path());
  ASSERT_TRUE(again.ok()) << describe(again.errors()) << r.value().print();
  const auto& a = r.value();
  const auto& b = again.value();
  EXPECT_EQ(b.duration("keepalive.interval"), a.duration("keepalive.interval"));
  EXPECT_EQ(b.duration("keepalive.timeout"), a.duration("keepalive.timeout"));
  EXPECT_EQ(b.list("registrars"), a.list("registrars"));
  EXPECT_EQ(b.string("asap.listen"), "[::1]:3863");
  EXPECT_EQ(b.string("asap.dialect"), "classic");
  EXPECT_EQ(b.boolean("debug"), true);
  EXPECT_EQ(b.integer("limits.max_connections"), 1024);
  EXPECT_EQ(b.string("admin.token"), "");
  EXPECT_EQ(b.source("keepalive.interval"), Source::File);
}

TEST_F(ConfigTest, GetterMisuseIsAProgrammingError) {
  auto r = run({});
  ASSERT_TRUE(r.ok());
  const auto& c = r.value();
  EXPECT_THROW((void)c.string("no.such.key"), std::logic_error);
  EXPECT_THROW((void)c.integer("asap.listen"), std::logic_error);
  EXPECT_THROW((void)c.duration("debug"), std::logic_error);
  EXPECT_EQ(c.integerAs<std::uint16_t>("limits.max_connections"), 1024);
  EXPECT_THROW((void)c.integerAs<std::uint8_t>("limits.max_connections"), std::logic_error);
}

TEST(Schema, RefusesBadDeclarations) {
  auto refused = [](const std::function<void(Schema&)>& f) {
    Schema s("sidecar", "vnfpool-sidecar");
    s.add(Key::string("pool.handle", "x"));
    try {
      f(s);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_THAT(refused([](Schema& s) { s.add(Key::string("Pool.Handle", "")); }), HasSubstr("dot-separated"));
  EXPECT_THAT(refused([](Schema& s) { s.add(Key::string("pool..handle", "")); }), HasSubstr("dot-separated"));
  EXPECT_THAT(refused([](Schema& s) { s.add(Key::string("pool-handle", "")); }), HasSubstr("dot-separated"));
  EXPECT_THAT(refused([](Schema& s) { s.add(Key::string("pool.handle", "")); }), HasSubstr("declared twice"));
  EXPECT_THAT(refused([](Schema& s) { s.add(Key::string("pool", "")); }), HasSubstr("section of pool.handle"));
  EXPECT_THAT(refused([](Schema& s) { s.add(Key::string("pool.handle.name", "")); }), HasSubstr("is inside"));
  EXPECT_THAT(refused([](Schema& s) { s.add(Key::string("pool_handle", "")); }),
              HasSubstr("same environment variable as pool.handle"));
  EXPECT_THAT(refused([](Schema& s) { s.add(Key::integer("metrics.port", 9090)); }), HasSubstr("service-link"));
  EXPECT_THAT(refused([](Schema& s) { s.add(Key::string("service.host", "")); }), HasSubstr("service-link"));
  EXPECT_THAT(refused([](Schema& s) { s.add(Key::string("asap.port_3863_tcp.x", "")); }), HasSubstr("service-link"));
  EXPECT_EQ(refused([](Schema& s) { s.add(Key::integer("metrics.port", 9090).env("SIDECAR_METRICS_PORT")); }),
            "accepted");
  EXPECT_THAT(refused([](Schema& s) { s.add(Key::integer("n", 0).range(1, 10)); }), HasSubstr("default: 0 is below"));
  EXPECT_THAT(refused([](Schema& s) { s.add(Key::integer("n", 5).range(10, 1)); }), HasSubstr("minimum above"));
  EXPECT_THAT(refused([](Schema& s) { s.add(Key::duration("d", 1s).range(2s, 3s)); }), HasSubstr("default: 1s"));
  EXPECT_THAT(refused([](Schema& s) { s.add(Key::choice("c", "x", {"a", "b"})); }), HasSubstr("not one of"));
  EXPECT_THAT(refused([](Schema& s) { s.add(Key::choice("c", "x", {})); }), HasSubstr("allowed values"));
  EXPECT_THAT(refused([](Schema& s) { s.add(Key::boolean("config", false)); }), HasSubstr("reserved"));
  EXPECT_THAT(refused([](Schema& s) { s.add(Key::string("x", "").env("VNFPOOL_SIDECAR_CONFIG")); }),
              HasSubstr("reserved"));
  EXPECT_EQ(refused([](Schema& s) { s.add(Key::string("x", "").required().check([](const Value&) {
    return std::optional<std::string>("never valid");
  })); }),
            "accepted");  // a required key's placeholder default is not checked
  EXPECT_THROW(Key::string("s", "").range(1, 2), std::logic_error);
  EXPECT_THROW(Key::integer("i", 1).range(1ms, 2ms), std::logic_error);
  EXPECT_THROW(Schema("Bad-Name", "x"), std::invalid_argument);
}

TEST_F(ConfigTest, RandomFilesAndArgumentsNeverThrow) {
  std::mt19937 rng(5);
  const std::vector<std::string> pieces = {"asap", "keepalive", "interval", "listen", "registrars", ":", " ", "\n",
                                           "  ", "- ", "[", "]", "{", "}", ",", "\"", "'", "&a", "*a", "!!str",
                                           "5s", "x", "1", "true", "#", "? ", "|", ">", "\t", "debug", "."};
  for (int i = 0; i < 300; ++i) {
    std::string yaml;
    for (auto n = rng() % 40; n > 0; --n) yaml += pieces[rng() % pieces.size()];
    TempFile f(yaml);
    std::vector<std::string> args;
    for (auto n = rng() % 4; n > 0; --n) args.push_back((rng() % 2 ? "--" : "") + pieces[rng() % pieces.size()]);
    EXPECT_NO_THROW({
      auto r = run(args, f.path());
      if (r.ok()) (void)r.value().print();
      else (void)describe(r.errors());
    }) << yaml;
  }
}

TEST(Load, FromArgcArgv) {
  Schema s("sidecar", "vnfpool-sidecar");
  s.add(Key::string("pool.handle", "").required());
  const char* argv[] = {"vnfpool-sidecar", "--pool.handle=sip-proxy", nullptr};
  auto r = load(s, 2, argv, {});
  ASSERT_TRUE(r.ok()) << describe(r.errors());
  EXPECT_EQ(r.value().string("pool.handle"), "sip-proxy");
}

TEST(Load, ProcessEnvironmentReadsEnviron) {
  ::setenv("VNFPOOL_CONFIG_TEST_VARIABLE", "a=b", 1);
  const auto env = processEnvironment();
  ::unsetenv("VNFPOOL_CONFIG_TEST_VARIABLE");
  ASSERT_TRUE(env.count("VNFPOOL_CONFIG_TEST_VARIABLE"));
  EXPECT_EQ(env.at("VNFPOOL_CONFIG_TEST_VARIABLE"), "a=b");
}

}  // namespace
}  // namespace vnfpool::config
