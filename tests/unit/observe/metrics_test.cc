#include "vnfpool/observe/metrics.h"

#include <unistd.h>

#include <ctime>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "exposition.h"

namespace vnfpool::observe {
namespace {

using ::testing::HasSubstr;

std::string thrownMessage(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "(nothing thrown)";
}

TEST(Metrics, DeclaresInOneLineAndRendersValidExposition) {
  Metrics m(BuildInfo{"1.2.3", "abc123"});
  auto& accepted = m.counter("vnfpool_registrar_registrations_total", "PE registrations handled.",
                             {{"pool", "sip-proxy"}, {"result", "accepted"}});
  auto& rejected = m.counter("vnfpool_registrar_registrations_total", "PE registrations handled.",
                             {{"pool", "sip-proxy"}, {"result", "rejected"}});
  auto& pes = m.gauge("vnfpool_registrar_pool_elements", "PEs in the handlespace.", {{"pool", "sip-proxy"}});
  auto& rtt = m.histogram("vnfpool_registrar_handle_resolution_duration_seconds", "Time to answer a resolution.",
                          {0.001, 0.01, 0.1});
  accepted.Increment(3);
  rejected.Increment();
  pes.Set(5);
  rtt.Observe(0.005);
  rtt.Observe(0.5);

  const auto text = m.render();
  const auto e = test::parseExposition(text);
  EXPECT_THAT(e.errors, ::testing::IsEmpty()) << text;
  EXPECT_EQ(e.value("vnfpool_registrar_registrations_total", {{"pool", "sip-proxy"}, {"result", "accepted"}}), 3);
  EXPECT_EQ(e.value("vnfpool_registrar_registrations_total", {{"pool", "sip-proxy"}, {"result", "rejected"}}), 1);
  EXPECT_EQ(e.value("vnfpool_registrar_pool_elements", {{"pool", "sip-proxy"}}), 5);
  EXPECT_EQ(e.value("vnfpool_registrar_handle_resolution_duration_seconds_bucket", {{"le", "0.001"}}), 0);
  EXPECT_EQ(e.value("vnfpool_registrar_handle_resolution_duration_seconds_bucket", {{"le", "0.01"}}), 1);
  EXPECT_EQ(e.value("vnfpool_registrar_handle_resolution_duration_seconds_bucket", {{"le", "+Inf"}}), 2);
  EXPECT_EQ(e.value("vnfpool_registrar_handle_resolution_duration_seconds_count"), 2);
  EXPECT_EQ(e.value("vnfpool_build_info", {{"version", "1.2.3"}, {"revision", "abc123"}}), 1);
  EXPECT_EQ(e.families.at("vnfpool_registrar_registrations_total").type, "counter");
  EXPECT_EQ(e.families.at("vnfpool_registrar_registrations_total").help, "PE registrations handled.");
  EXPECT_EQ(e.families.at("vnfpool_registrar_handle_resolution_duration_seconds").type, "histogram");
}

TEST(Metrics, SameNameAndLabelsReturnTheSameMetric) {
  Metrics m;
  auto& a = m.counter("vnfpool_x_events_total", "Events.", {{"kind", "a"}});
  auto& b = m.counter("vnfpool_x_events_total", "Events.", {{"kind", "a"}});
  auto& c = m.counter("vnfpool_x_events_total", "Events.", {{"kind", "c"}});
  EXPECT_EQ(&a, &b);
  EXPECT_NE(&a, &c);
  auto& h1 = m.histogram("vnfpool_x_wait_seconds", "Wait.", {1, 2});
  auto& h2 = m.histogram("vnfpool_x_wait_seconds", "Wait.", {1, 2});
  EXPECT_EQ(&h1, &h2);
}

TEST(Metrics, ProcessAndBuildMetricsAreAlwaysThere) {
  Metrics m;
  const auto e = test::parseExposition(m.render());
  EXPECT_THAT(e.errors, ::testing::IsEmpty());
  const auto info = buildInfo();
  EXPECT_EQ(info.version, "0.1.0");
  EXPECT_FALSE(info.revision.empty());
  EXPECT_EQ(e.value("vnfpool_build_info", {{"version", info.version}, {"revision", info.revision}}), 1);
  const auto start = e.value("process_start_time_seconds");
  ASSERT_TRUE(start.has_value());
  const auto now = static_cast<double>(std::time(nullptr));
  EXPECT_LE(*start, now + 1);
  EXPECT_GT(*start, now - 24 * 3600);  // this test process started less than a day ago
  EXPECT_GT(e.value("process_resident_memory_bytes").value_or(0), 1024 * 1024);
  EXPECT_GE(e.value("process_open_fds").value_or(0), 3);  // at least stdin, stdout, stderr
  EXPECT_GE(e.value("process_cpu_seconds_total").value_or(-1), 0);
  EXPECT_EQ(e.families.at("process_cpu_seconds_total").type, "counter");
}

TEST(Metrics, OpenFdsFollowsTheProcess) {
  Metrics m;
  const double before = test::parseExposition(m.render()).value("process_open_fds").value_or(-1);
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const double during = test::parseExposition(m.render()).value("process_open_fds").value_or(-1);
  ::close(fds[0]);
  ::close(fds[1]);
  EXPECT_EQ(during, before + 2);
}

TEST(Metrics, EscapesLabelValuesAndQuotesInHelp) {
  Metrics m;
  m.gauge("vnfpool_x_weird", "Help with \"quotes\" and 'apostrophes'.", {{"pool", "a\"b\\c\nd"}}).Set(1);
  const auto text = m.render();
  const auto e = test::parseExposition(text);
  EXPECT_THAT(e.errors, ::testing::IsEmpty()) << text;
  EXPECT_EQ(e.value("vnfpool_x_weird", {{"pool", "a\"b\\c\nd"}}), 1) << text;
}

TEST(Metrics, RefusesNamesAgainstTheConventions) {
  Metrics m;
  EXPECT_THAT(thrownMessage([&] { m.counter("registrations_total", "h"); }), HasSubstr("start with vnfpool_"));
  EXPECT_THAT(thrownMessage([&] { m.counter("vnfpool_x_registrations", "h"); }), HasSubstr("end in _total"));
  EXPECT_THAT(thrownMessage([&] { m.gauge("vnfpool_x_things_total", "h"); }), HasSubstr("only counter"));
  EXPECT_THAT(thrownMessage([&] { m.gauge("vnfpool_x-y", "h"); }), HasSubstr("must match"));
  EXPECT_THAT(thrownMessage([&] { m.gauge("vnfpool_x_y", ""); }), HasSubstr("help text"));
  EXPECT_THAT(thrownMessage([&] { m.gauge("vnfpool_x_y", "two\nlines"); }), HasSubstr("one line"));
  EXPECT_THAT(thrownMessage([&] { m.gauge("vnfpool_x_y", "back\\slash"); }), HasSubstr("backslash"));
  EXPECT_THAT(thrownMessage([&] { m.histogram("vnfpool_x_latency_milliseconds", "h", {1}); }),
              HasSubstr("base units"));
  EXPECT_THAT(thrownMessage([&] { m.histogram("vnfpool_x_latency_count", "h", {1}); }), HasSubstr("_count"));
  EXPECT_THAT(thrownMessage([&] { m.gauge("vnfpool_x_load", "h", {{"pe_id", "42"}}); }), HasSubstr("unbounded"));
  EXPECT_THAT(thrownMessage([&] { m.gauge("vnfpool_x_load", "h", {{"pod", "p-1"}}); }), HasSubstr("unbounded"));
  EXPECT_THAT(thrownMessage([&] { m.gauge("vnfpool_x_load", "h", {{"__name", "x"}}); }), HasSubstr("reserved"));
  EXPECT_THAT(thrownMessage([&] { m.gauge("vnfpool_x_load", "h", {{"a:b", "x"}}); }), HasSubstr("must match"));
  EXPECT_THAT(thrownMessage([&] { m.histogram("vnfpool_x_seconds", "h", {1}, {{"le", "1"}}); }), HasSubstr("le"));
  EXPECT_THAT(thrownMessage([&] { m.histogram("vnfpool_x_seconds", "h", {}); }), HasSubstr("at least one"));
  EXPECT_THAT(thrownMessage([&] { m.histogram("vnfpool_x_seconds", "h", {2, 1}); }), HasSubstr("increasing"));
  EXPECT_THAT(thrownMessage([&] { m.histogram("vnfpool_x_seconds", "h", {1, 1}); }), HasSubstr("increasing"));
  EXPECT_THAT(thrownMessage([&] { m.histogram("vnfpool_x_seconds", "h", {1, HUGE_VAL}); }), HasSubstr("finite"));
  // None of the refused declarations left anything behind.
  EXPECT_THAT(test::parseExposition(m.render()).errors, ::testing::IsEmpty());
  EXPECT_EQ(m.render().find("vnfpool_x"), std::string::npos);
}

TEST(Metrics, RefusesConflictingRedeclarations) {
  Metrics m;
  m.counter("vnfpool_x_events_total", "Events.", {{"kind", "a"}});
  EXPECT_THAT(thrownMessage([&] { m.gauge("vnfpool_x_events_total", "Events."); }), HasSubstr("counter"));
  EXPECT_THAT(thrownMessage([&] { m.counter("vnfpool_x_events_total", "Other help.", {{"kind", "a"}}); }),
              HasSubstr("help"));
  EXPECT_THAT(thrownMessage([&] { m.counter("vnfpool_x_events_total", "Events.", {{"pool", "a"}}); }),
              HasSubstr("label names"));
  EXPECT_THAT(thrownMessage([&] { m.counter("vnfpool_x_events_total", "Events."); }), HasSubstr("label names"));
  m.histogram("vnfpool_x_wait_seconds", "Wait.", {1, 2});
  EXPECT_THAT(thrownMessage([&] { m.histogram("vnfpool_x_wait_seconds", "Wait.", {1, 3}); }), HasSubstr("buckets"));
}

TEST(Metrics, RenderHooksRunFirstAndMayDeclare) {
  Metrics m;
  int pools = 0;
  m.onRender([&m, &pools] {
    ++pools;
    m.gauge("vnfpool_x_pools", "Pools in the handlespace.").Set(pools);
    m.gauge("vnfpool_x_pool_elements", "PEs per pool.", {{"pool", "p" + std::to_string(pools)}}).Set(1);
  });
  auto e = test::parseExposition(m.render());
  EXPECT_EQ(e.value("vnfpool_x_pools"), 1);
  e = test::parseExposition(m.render());
  EXPECT_THAT(e.errors, ::testing::IsEmpty());
  EXPECT_EQ(e.value("vnfpool_x_pools"), 2);
  EXPECT_EQ(e.value("vnfpool_x_pool_elements", {{"pool", "p2"}}), 1);
}

TEST(Metrics, Buckets) {
  EXPECT_EQ(Metrics::exponentialBuckets(1, 2, 4), (std::vector<double>{1, 2, 4, 8}));
  const auto lat = Metrics::latencyBuckets();
  EXPECT_DOUBLE_EQ(lat.front(), 0.0001);
  EXPECT_GT(lat.back(), 10);
  EXPECT_LT(lat.back(), 30);
  EXPECT_THROW(Metrics::exponentialBuckets(0, 2, 4), std::invalid_argument);
  EXPECT_THROW(Metrics::exponentialBuckets(1, 1, 4), std::invalid_argument);
  EXPECT_THROW(Metrics::exponentialBuckets(1, 2, 0), std::invalid_argument);
}

TEST(Metrics, ConcurrentDeclarationUpdateAndRender) {
  Metrics m;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&m, t] {
      for (int i = 0; i < 1000; ++i) {
        m.counter("vnfpool_x_ops_total", "Ops.", {{"pool", "p" + std::to_string(i % 3)}}).Increment();
        m.histogram("vnfpool_x_op_seconds", "Op time.", Metrics::latencyBuckets()).Observe(0.001 * t);
        if (i % 100 == 0) (void)m.render();
      }
    });
  for (auto& th : threads) th.join();
  const auto e = test::parseExposition(m.render());
  EXPECT_THAT(e.errors, ::testing::IsEmpty());
  double total = 0;
  for (int p = 0; p < 3; ++p) total += e.value("vnfpool_x_ops_total", {{"pool", "p" + std::to_string(p)}}).value_or(0);
  EXPECT_EQ(total, 4000);
  EXPECT_EQ(e.value("vnfpool_x_op_seconds_count"), 4000);
}

TEST(Exposition, TheReaderRejectsBrokenText) {
  // The checker must be able to fail, or the tests above prove nothing.
  EXPECT_FALSE(test::parseExposition("vnfpool_x 1\n").errors.empty());                        // no TYPE
  EXPECT_FALSE(test::parseExposition("# TYPE x counter\nx 1\n").errors.empty());              // no HELP
  EXPECT_FALSE(test::parseExposition("# HELP x h\n# TYPE x counter\nx{a=\"b} 1\n").errors.empty());
  EXPECT_FALSE(test::parseExposition("# HELP x h\n# TYPE x counter\nx{1a=\"b\"} 1\n").errors.empty());
  EXPECT_FALSE(test::parseExposition("# HELP x h\n# TYPE x counter\nx one\n").errors.empty());
  EXPECT_FALSE(test::parseExposition("# HELP x h\n# TYPE x gauge\nx 1").errors.empty());     // no final newline
  EXPECT_FALSE(test::parseExposition("# HELP 9x h\n# TYPE 9x gauge\n9x 1\n").errors.empty());
  EXPECT_FALSE(test::parseExposition("# HELP h h\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\n"
                                     "h_bucket{le=\"+Inf\"} 1\nh_count 1\nh_sum 1\n")
                   .errors.empty());
  EXPECT_TRUE(test::parseExposition("# HELP x h\n# TYPE x gauge\nx{a=\"q\\\"\"} -1.5e3\n").errors.empty());
}

}  // namespace
}  // namespace vnfpool::observe
