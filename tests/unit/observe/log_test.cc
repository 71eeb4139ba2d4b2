#include "vnfpool/observe/log.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

// cpprestsdk defines a macro U() that breaks GoogleTest's templates.
#define _TURN_OFF_PLATFORM_STRING
#include <cpprest/json.h>
#include <gtest/gtest.h>

namespace vnfpool::observe {
namespace {

using namespace std::chrono_literals;

// 2026-11-21T11:07:12.345Z
const std::chrono::system_clock::time_point kFixed{std::chrono::milliseconds(1'795'259'232'345)};

struct LogTest : ::testing::Test {
  std::shared_ptr<MemorySink> sink = std::make_shared<MemorySink>();
  Logger log{"registrar", LoggerOptions{Level::Info, sink, [] { return kFixed; }}};

  web::json::value parsed(std::size_t i) const {
    const auto lines = sink->lines();
    EXPECT_LT(i, lines.size());
    return web::json::value::parse(lines.at(i));
  }
};

TEST_F(LogTest, LineHasFixedFieldsThenCallFieldsInOrder) {
  log.info("PE registered", {{"pool", "sip-proxy"}, {"pe_id", std::uint32_t{42}}, {"ok", true}});
  ASSERT_EQ(sink->lines().size(), 1U);
  EXPECT_EQ(sink->lines()[0],
            R"({"ts":"2026-11-21T11:07:12.345Z","level":"info","component":"registrar","msg":"PE registered",)"
            R"("pool":"sip-proxy","pe_id":42,"ok":true})");
}

TEST_F(LogTest, ThresholdFiltersAndIsSharedWithChildren) {
  log.debug("hidden");
  auto child = log.with({{"pool", "p"}});
  child.setLevel(Level::Debug);
  log.debug("shown");
  EXPECT_EQ(log.level(), Level::Debug);
  child.setLevel(Level::Error);
  log.warn("hidden too");
  child.error("boom");
  const auto lines = sink->lines();
  ASSERT_EQ(lines.size(), 2U);
  EXPECT_NE(lines[0].find(R"("msg":"shown")"), std::string::npos);
  EXPECT_NE(lines[1].find(R"("level":"error","component":"registrar","msg":"boom","pool":"p"})"), std::string::npos);
}

TEST_F(LogTest, WithBindsFieldsBeforeCallFieldsAndCopiesValues) {
  std::string pool = "sip-proxy";
  auto child = log.with({{"pool", pool}, {"pr_id", std::uint64_t{7}}});
  pool = "changed";
  child.info("x", {{"pe_id", 1}});
  EXPECT_NE(sink->lines().at(0).find(R"("msg":"x","pool":"sip-proxy","pr_id":7,"pe_id":1})"), std::string::npos);
}

TEST_F(LogTest, EscapesStringsAsJson) {
  log.info("quote \" backslash \\ newline \n tab \t cr \r bell \x07 del \x7f", {{"k\"ey", "v\\al"}});
  const auto line = sink->lines().at(0);
  EXPECT_NE(line.find(R"(quote \" backslash \\ newline \n tab \t cr \r bell \u0007 del \u007f)"), std::string::npos);
  EXPECT_NE(line.find(R"("k\"ey":"v\\al")"), std::string::npos);
  const auto v = parsed(0);
  EXPECT_EQ(v.at("msg").as_string(), "quote \" backslash \\ newline \n tab \t cr \r bell \x07 del \x7f");
  EXPECT_EQ(v.at("k\"ey").as_string(), "v\\al");
}

TEST_F(LogTest, KeepsValidUtf8AndReplacesInvalidBytes) {
  log.info("gr\xC3\xBC\xC3\x9F \xE2\x82\xAC \xF0\x9F\x98\x80");  // grüß € 😀
  // Lone continuation byte, truncated sequence, overlong '/', surrogate U+D800, above U+10FFFF, 0xFF.
  log.info("a\x80" "b\xE2\x82" "c\xC0\xAF" "d\xED\xA0\x80" "e\xF4\x90\x80\x80" "f\xFF");
  const auto lines = sink->lines();
  EXPECT_NE(lines[0].find("gr\xC3\xBC\xC3\x9F \xE2\x82\xAC \xF0\x9F\x98\x80"), std::string::npos);
  const std::string r = "\xEF\xBF\xBD";
  EXPECT_NE(lines[1].find("\"a" + r + "b" + r + r + "c" + r + r + "d" + r + r + r + "e" + r + r + r + r + "f" + r +
                          "\""),
            std::string::npos)
      << lines[1];
  EXPECT_NO_THROW(parsed(1));
}

TEST_F(LogTest, NumbersBoolsNullsAndDurations) {
  log.info("n", {{"min", std::numeric_limits<std::int64_t>::min()},
                 {"max", std::numeric_limits<std::uint64_t>::max()},
                 {"half", 0.5},
                 {"nan", std::numeric_limits<double>::quiet_NaN()},
                 {"inf", std::numeric_limits<double>::infinity()},
                 {"no", false},
                 {"nothing", nullptr},
                 {"null_cstr", static_cast<const char*>(nullptr)},
                 {"elapsed_seconds", 1500ms},
                 {"neg", -3}});
  EXPECT_NE(sink->lines().at(0).find(
                R"("min":-9223372036854775808,"max":18446744073709551615,"half":0.5,"nan":null,"inf":null,)"
                R"("no":false,"nothing":null,"null_cstr":null,"elapsed_seconds":1.5,"neg":-3})"),
            std::string::npos)
      << sink->lines().at(0);
  EXPECT_NO_THROW(parsed(0));
}

TEST_F(LogTest, ReservedKeysAreRenamedSoKeysNeverRepeat) {
  log.info("real", {{"msg", "fake"}, {"level", "x"}, {"ts", 1}, {"component", "c"}});
  const auto v = parsed(0);
  EXPECT_EQ(v.at("msg").as_string(), "real");
  EXPECT_EQ(v.at("_msg").as_string(), "fake");
  EXPECT_EQ(v.at("_level").as_string(), "x");
  EXPECT_EQ(v.at("_ts").as_integer(), 1);
  EXPECT_EQ(v.at("_component").as_string(), "c");
  EXPECT_EQ(v.as_object().size(), 8U);
}

TEST(LogLevel, NamesRoundTripAndBadNamesAreRefused) {
  for (auto l : {Level::Debug, Level::Info, Level::Warn, Level::Error}) EXPECT_EQ(parseLevel(levelName(l)), l);
  EXPECT_EQ(parseLevel("WARNING"), Level::Warn);
  EXPECT_EQ(parseLevel("Info"), Level::Info);
  EXPECT_EQ(parseLevel("verbose"), std::nullopt);
  EXPECT_EQ(parseLevel(""), std::nullopt);
}

TEST(LogTimestamp, Rfc3339UtcWithMilliseconds) {
  using std::chrono::milliseconds;
  using std::chrono::system_clock;
  EXPECT_EQ(formatTimestamp(system_clock::time_point{}), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(formatTimestamp(system_clock::time_point{milliseconds(-1)}), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(formatTimestamp(kFixed), "2026-11-21T11:07:12.345Z");
  EXPECT_EQ(formatTimestamp(system_clock::time_point{milliseconds(951'782'400'007)}), "2000-02-29T00:00:00.007Z");
}

TEST(LogConcurrency, LinesFromManyThreadsNeverInterleave) {
  // Through a pipe, where a write() beyond PIPE_BUF (4 KiB) is not atomic: only the sink's lock keeps
  // two long lines apart.
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  std::string received;
  std::thread reader([&received, fd = fds[0]] {
    char buf[65536];
    for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) received.append(buf, static_cast<std::size_t>(n));
  });
  {
    // Two roots (as two libraries of one daemon would have) on one sink; some lines beyond PIPE_BUF.
    auto sink = std::make_shared<FdSink>(fds[1]);
    Logger a("sidecar", LoggerOptions{Level::Debug, sink, {}});
    Logger b("transport", LoggerOptions{Level::Debug, sink, {}});
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&a, &b, t] {
        auto mine = (t % 2 == 0 ? a : b).with({{"thread", t}});
        for (int i = 0; i < 500; ++i)
          mine.info(std::string(static_cast<std::size_t>(i % 10 == 0 ? 20'000 : i % 200), 'x'), {{"i", i}});
      });
    for (auto& th : threads) th.join();
  }
  ::close(fds[1]);
  reader.join();
  ::close(fds[0]);
  std::istringstream in(received);
  std::string line;
  int count = 0;
  std::vector<int> per_thread(4, 0);
  while (std::getline(in, line)) {
    auto v = web::json::value::parse(line);  // throws on a torn line
    ++per_thread.at(static_cast<std::size_t>(v.at("thread").as_integer()));
    ++count;
  }
  EXPECT_EQ(count, 2000);
  for (int n : per_thread) EXPECT_EQ(n, 500);
}

TEST(LogDefaults, DefaultSinkIsStderrAndTimestampsAreNow) {
  // Redirect fd 2 to a file for the duration of one line.
  char path[] = "/tmp/vnfpool_log_stderr_XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  const int saved = ::dup(2);
  ::dup2(fd, 2);
  const auto before = std::chrono::system_clock::now();
  Logger("operator").warn("to stderr");
  ::dup2(saved, 2);
  ::close(saved);
  ::close(fd);
  std::ifstream in(path);
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  ::unlink(path);
  auto v = web::json::value::parse(line);
  EXPECT_EQ(v.at("component").as_string(), "operator");
  EXPECT_EQ(v.at("level").as_string(), "warn");
  // Fixed-width RFC 3339 strings sort by time.
  EXPECT_LE(formatTimestamp(before), v.at("ts").as_string());
  EXPECT_LE(v.at("ts").as_string(), formatTimestamp(std::chrono::system_clock::now()));
}

}  // namespace
}  // namespace vnfpool::observe
