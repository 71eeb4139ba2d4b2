// Metrics: a thin layer over prometheus-cpp (core only) that declares a metric in one line and enforces
// the project's naming rules (docs/observability.md):
//
//   auto& ok = metrics.counter("vnfpool_registrar_registrations_total", "PE registrations handled.",
//                              {{"pool", pool}, {"result", "accepted"}});
//   auto& rtt = metrics.histogram("vnfpool_registrar_handle_resolution_duration_seconds",
//                                 "Time to answer a handle resolution.", Metrics::latencyBuckets());
//   ok.Increment();  rtt.Observe(seconds);
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/labels.h>
#include <prometheus/registry.h>

namespace vnfpool::observe {

using Labels = prometheus::Labels;  // std::map<std::string, std::string>

/// What vnfpool_build_info reports.
struct BuildInfo {
  std::string version{};   // the CMake project version, e.g. "0.1.0"
  std::string revision{};  // the git commit the library was built from, or "unknown"
};

/// The version and revision compiled into this build.
BuildInfo buildInfo();

/// The Prometheus text exposition format's content type, for the /metrics response.
inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

/// A daemon's metrics: owns a prometheus::Registry, and always exports
///   vnfpool_build_info{version,revision} 1            (gauge)
///   process_start_time_seconds, process_cpu_seconds_total, process_resident_memory_bytes,
///   process_virtual_memory_bytes, process_open_fds, process_max_fds   (read from /proc at each render;
///   the standard names every Prometheus client uses, so stock dashboards work; absent off Linux)
///
/// Declaring: counter(), gauge() and histogram() create the family on first use and the labelled child on
/// first use of a label set; later calls with the same name and labels return the same object. The
/// returned references stay valid as long as the Metrics object; incrementing them is thread-safe and
/// lock-free (prometheus-cpp atomics), so hot paths should keep the reference rather than call counter()
/// per event (a call takes a mutex and a map lookup).
///
/// Naming rules, checked at declaration (a violation is a programming error: std::invalid_argument with
/// a message saying which rule):
///  - names match [a-zA-Z_:][a-zA-Z0-9_:]* and start with "vnfpool_";
///  - counters end in "_total", gauges and histograms do not; histograms do not end in _bucket/_sum/_count;
///  - base units only: no "milliseconds", "microseconds", "nanoseconds", "minutes", "hours", "kilobytes",
///    "megabytes" in a name (use _seconds and _bytes);
///  - label names match [a-zA-Z_][a-zA-Z0-9_]*, do not start with "__", histograms do not use "le";
///  - no per-PE or per-Pod labels: pe_id, pe, pod, pod_name and address are refused (unbounded);
///  - help text is required, one line, without backslashes (prometheus-cpp 1.0 does not escape HELP);
///  - one name has one type, one help text, one set of label names and, for histograms, one bucket list.
///
/// Thread-safe: any thread may declare, update or render.
class Metrics {
 public:
  explicit Metrics(BuildInfo info = buildInfo());
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;
  ~Metrics();

  prometheus::Counter& counter(std::string_view name, std::string_view help, const Labels& labels = {});
  prometheus::Gauge& gauge(std::string_view name, std::string_view help, const Labels& labels = {});
  /// `buckets` are upper bounds, strictly increasing and finite (+Inf is added by prometheus-cpp).
  prometheus::Histogram& histogram(std::string_view name, std::string_view help,
                                   const std::vector<double>& buckets, const Labels& labels = {});

  /// Adds a function render() calls first, to bring gauges up to date from state that is cheaper to read
  /// at scrape time than to track on every change (e.g. PEs per pool). Hooks run in the order added, on
  /// the thread calling render(), without any lock of this class held (they may declare metrics), and
  /// must not throw. A hook that reads loop-owned state requires render() on the loop (see HttpServer).
  void onRender(std::function<void()> hook);

  /// The Prometheus text exposition (format 0.0.4) of every metric, after running the onRender hooks.
  /// Any thread.
  std::string render() const;

  /// The underlying registry, for collectors this class does not wrap. Metrics added directly are
  /// rendered but not checked against the naming rules.
  prometheus::Registry& registry() { return *registry_; }

  /// Buckets for request latencies in seconds: 100 us .. ~13 s in factors of ~2.
  static std::vector<double> latencyBuckets();
  /// `count` buckets start, start*factor, start*factor^2, ... (start > 0, factor > 1, count >= 1;
  /// std::invalid_argument otherwise).
  static std::vector<double> exponentialBuckets(double start, double factor, std::size_t count);

 private:
  struct Family;
  Family& declare(std::string_view name, std::string_view help, int type, const Labels& labels,
                  const std::vector<double>* buckets);

  std::unique_ptr<prometheus::Registry> registry_;
  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<Family>, std::less<>> families_;
  std::unique_ptr<prometheus::Collectable> process_;
  std::vector<std::function<void()>> hooks_;  // guarded by mutex_
};

}  // namespace vnfpool::observe
