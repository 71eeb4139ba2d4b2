#include "vnfpool/observe/metrics.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <set>
#include <sstream>
#include <stdexcept>
#include <utility>

#include <prometheus/family.h>
#include <prometheus/text_serializer.h>

#include "process_collector.h"
#include "revision.h"

#ifndef VNFPOOL_VERSION
#error "VNFPOOL_VERSION must be defined by the build"
#endif

namespace vnfpool::observe {

namespace {

enum Type : int { kCounter = 0, kGauge = 1, kHistogram = 2 };
constexpr std::array<std::string_view, 3> kTypeNames{"counter", "gauge", "histogram"};

bool endsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool isNameChar(char c, bool first, bool colon_ok) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') return true;
  if (c == ':') return colon_ok;
  return !first && c >= '0' && c <= '9';
}

bool validName(std::string_view s, bool colon_ok) {
  if (s.empty()) return false;
  for (std::size_t i = 0; i < s.size(); ++i)
    if (!isNameChar(s[i], i == 0, colon_ok)) return false;
  return true;
}

[[noreturn]] void refuse(std::string_view name, std::string_view why) {
  std::string msg = "metric ";
  msg += name;
  msg += ": ";
  msg += why;
  throw std::invalid_argument(msg);
}

void checkName(std::string_view name, int type) {
  if (!validName(name, true)) refuse(name, "name must match [a-zA-Z_:][a-zA-Z0-9_:]*");
  if (name.rfind("vnfpool_", 0) != 0) refuse(name, "name must start with vnfpool_");
  if (type == kCounter && !endsWith(name, "_total")) refuse(name, "counter names end in _total");
  if (type != kCounter && endsWith(name, "_total")) refuse(name, "only counter names end in _total");
  if (type == kHistogram && (endsWith(name, "_bucket") || endsWith(name, "_sum") || endsWith(name, "_count")))
    refuse(name, "histogram names must not end in _bucket, _sum or _count (the exposition adds them)");
  for (std::string_view unit : {"milliseconds", "microseconds", "nanoseconds", "minutes", "hours", "kilobytes",
                                "megabytes", "gigabytes"})
    if (name.find(unit) != std::string_view::npos) refuse(name, "use base units (_seconds, _bytes)");
}

void checkLabels(std::string_view name, const Labels& labels, int type) {
  for (const auto& [label, value] : labels) {
    if (!validName(label, false)) refuse(name, "label " + label + " must match [a-zA-Z_][a-zA-Z0-9_]*");
    if (label.rfind("__", 0) == 0) refuse(name, "label " + label + ": names starting with __ are reserved");
    if (type == kHistogram && label == "le") refuse(name, "label le is reserved for histogram buckets");
    for (std::string_view unbounded : {"pe_id", "pe", "pod", "pod_name", "address"})
      if (label == unbounded)
        refuse(name, "label " + label + " is unbounded (one series per PE or Pod); log it instead");
  }
}

void checkBuckets(std::string_view name, const std::vector<double>& buckets) {
  if (buckets.empty()) refuse(name, "a histogram needs at least one bucket");
  for (std::size_t i = 0; i < buckets.size(); ++i) {
    if (!std::isfinite(buckets[i])) refuse(name, "bucket bounds must be finite (+Inf is implicit)");
    if (i > 0 && !(buckets[i - 1] < buckets[i])) refuse(name, "bucket bounds must be strictly increasing");
  }
}

}  // namespace

BuildInfo buildInfo() { return {VNFPOOL_VERSION, std::string(detail::revision())}; }

struct Metrics::Family {
  int type = kCounter;
  std::string help;
  std::set<std::string> label_names;
  std::vector<double> buckets;
  prometheus::Family<prometheus::Counter>* counters = nullptr;
  prometheus::Family<prometheus::Gauge>* gauges = nullptr;
  prometheus::Family<prometheus::Histogram>* histograms = nullptr;
};

Metrics::Metrics(BuildInfo info)
    : registry_(std::make_unique<prometheus::Registry>()), process_(std::make_unique<detail::ProcessCollector>()) {
  gauge("vnfpool_build_info", "Version and git revision of this build; always 1.",
        {{"version", info.version.empty() ? "unknown" : info.version},
         {"revision", info.revision.empty() ? "unknown" : info.revision}})
      .Set(1);
}

Metrics::~Metrics() = default;

Metrics::Family& Metrics::declare(std::string_view name, std::string_view help, int type, const Labels& labels,
                                  const std::vector<double>* buckets) {
  // Caller holds mutex_.
  std::set<std::string> label_names;
  for (const auto& kv : labels) label_names.insert(kv.first);
  auto it = families_.find(name);
  if (it != families_.end()) {
    Family& f = *it->second;
    if (f.type != type)
      refuse(name, "already declared as a " + std::string(kTypeNames.at(static_cast<std::size_t>(f.type))));
    if (f.help != help) refuse(name, "already declared with different help text");
    if (f.label_names != label_names) refuse(name, "already declared with different label names");
    if (buckets != nullptr && f.buckets != *buckets) refuse(name, "already declared with different buckets");
    return f;
  }
  checkName(name, type);
  checkLabels(name, labels, type);
  if (help.empty()) refuse(name, "help text is required");
  // prometheus-cpp 1.0's TextSerializer writes HELP verbatim: a newline would end the line mid-text and
  // a backslash would start an escape sequence, either making the scrape invalid.
  if (help.find_first_of("\n\\") != std::string_view::npos)
    refuse(name, "help text must be one line without backslashes");
  if (buckets != nullptr) checkBuckets(name, *buckets);
  auto f = std::make_unique<Family>();
  f->type = type;
  f->help = std::string(help);
  f->label_names = std::move(label_names);
  if (buckets != nullptr) f->buckets = *buckets;
  const std::string n(name);
  switch (type) {
    case kCounter: f->counters = &prometheus::BuildCounter().Name(n).Help(f->help).Register(*registry_); break;
    case kGauge: f->gauges = &prometheus::BuildGauge().Name(n).Help(f->help).Register(*registry_); break;
    default: f->histograms = &prometheus::BuildHistogram().Name(n).Help(f->help).Register(*registry_); break;
  }
  return *families_.emplace(n, std::move(f)).first->second;
}

prometheus::Counter& Metrics::counter(std::string_view name, std::string_view help, const Labels& labels) {
  std::lock_guard lock(mutex_);
  return declare(name, help, kCounter, labels, nullptr).counters->Add(labels);
}

prometheus::Gauge& Metrics::gauge(std::string_view name, std::string_view help, const Labels& labels) {
  std::lock_guard lock(mutex_);
  return declare(name, help, kGauge, labels, nullptr).gauges->Add(labels);
}

prometheus::Histogram& Metrics::histogram(std::string_view name, std::string_view help,
                                          const std::vector<double>& buckets, const Labels& labels) {
  std::lock_guard lock(mutex_);
  return declare(name, help, kHistogram, labels, &buckets).histograms->Add(labels, buckets);
}

void Metrics::onRender(std::function<void()> hook) {
  std::lock_guard lock(mutex_);
  hooks_.push_back(std::move(hook));
}

std::string Metrics::render() const {
  std::vector<std::function<void()>> hooks;
  {
    std::lock_guard lock(mutex_);
    hooks = hooks_;
  }
  for (const auto& hook : hooks) hook();
  auto families = registry_->Collect();
  auto process = process_->Collect();
  families.insert(families.end(), std::make_move_iterator(process.begin()), std::make_move_iterator(process.end()));
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

std::vector<double> Metrics::latencyBuckets() { return exponentialBuckets(0.0001, 2.0, 18); }

std::vector<double> Metrics::exponentialBuckets(double start, double factor, std::size_t count) {
  if (!(start > 0) || !(factor > 1) || count == 0 || !std::isfinite(start) || !std::isfinite(factor))
    throw std::invalid_argument("exponentialBuckets: need start > 0, factor > 1, count >= 1");
  std::vector<double> out;
  out.reserve(count);
  double v = start;
  for (std::size_t i = 0; i < count; ++i, v *= factor) out.push_back(v);
  return out;
}

}  // namespace vnfpool::observe
