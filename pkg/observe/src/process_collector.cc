#include "process_collector.h"

#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>

namespace vnfpool::observe::detail {

namespace {

struct Stat {
  double utime_ticks = 0;
  double stime_ticks = 0;
  double start_ticks = 0;  // since boot
  double vsize_bytes = 0;
  double rss_pages = 0;
};

std::optional<std::string> readFile(const char* path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// proc(5): the second field (comm) is in parentheses and may contain spaces, so count fields from the
// last ')'. Field 3 (state) follows it; utime is field 14, stime 15, starttime 22, vsize 23, rss 24.
std::optional<Stat> readStat() {
  auto text = readFile("/proc/self/stat");
  if (!text) return std::nullopt;
  const auto close = text->rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream in(text->substr(close + 1));
  std::string field;
  Stat s;
  for (int index = 3; index <= 24 && (in >> field); ++index) {
    double* target = nullptr;
    switch (index) {
      case 14: target = &s.utime_ticks; break;
      case 15: target = &s.stime_ticks; break;
      case 22: target = &s.start_ticks; break;
      case 23: target = &s.vsize_bytes; break;
      case 24: target = &s.rss_pages; break;
      default: break;
    }
    if (target == nullptr) continue;
    std::int64_t v = 0;
    auto [p, ec] = std::from_chars(field.data(), field.data() + field.size(), v);
    if (ec != std::errc{} || p != field.data() + field.size()) return std::nullopt;
    *target = static_cast<double>(v);
    if (index == 24) return s;
  }
  return std::nullopt;
}

std::optional<double> bootTimeSeconds() {
  auto text = readFile("/proc/stat");
  if (!text) return std::nullopt;
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("btime ", 0) != 0) continue;
    std::int64_t v = 0;
    std::string_view rest(line);
    rest.remove_prefix(6);
    auto [p, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), v);
    if (ec != std::errc{}) return std::nullopt;
    return static_cast<double>(v);
  }
  return std::nullopt;
}

std::optional<double> openFds() {
  std::error_code ec;
  std::filesystem::directory_iterator it("/proc/self/fd", ec);
  if (ec) return std::nullopt;
  double n = 0;
  for (auto end = std::filesystem::directory_iterator(); it != end; it.increment(ec)) {
    if (ec) return std::nullopt;
    n += 1;
  }
  return n - 1;  // the iterator's own descriptor is counted too
}

prometheus::MetricFamily gauge(const char* name, const char* help, double value,
                               prometheus::MetricType type = prometheus::MetricType::Gauge) {
  prometheus::MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = type;
  prometheus::ClientMetric m;
  if (type == prometheus::MetricType::Counter)
    m.counter.value = value;
  else
    m.gauge.value = value;
  f.metric.push_back(std::move(m));
  return f;
}

}  // namespace

ProcessCollector::ProcessCollector() {
  const auto ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  auto s = readStat();
  auto boot = bootTimeSeconds();
  if (s && boot && ticks > 0) start_time_seconds_ = *boot + s->start_ticks / ticks;
}

std::vector<prometheus::MetricFamily> ProcessCollector::Collect() const {
  std::vector<prometheus::MetricFamily> out;
  const auto ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  const auto page = static_cast<double>(::sysconf(_SC_PAGESIZE));
  if (auto s = readStat(); s && ticks > 0) {
    out.push_back(gauge("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                        (s->utime_ticks + s->stime_ticks) / ticks, prometheus::MetricType::Counter));
    if (start_time_seconds_)
      out.push_back(gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
                          *start_time_seconds_));
    out.push_back(gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", s->vsize_bytes));
    if (page > 0)
      out.push_back(gauge("process_resident_memory_bytes", "Resident memory size in bytes.", s->rss_pages * page));
  }
  if (auto fds = openFds()) out.push_back(gauge("process_open_fds", "Number of open file descriptors.", *fds));
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY)
    out.push_back(gauge("process_max_fds", "Maximum number of open file descriptors.",
                        static_cast<double>(lim.rlim_cur)));
  return out;
}

}  // namespace vnfpool::observe::detail
