#include "vnfpool/observe/log.h"

#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <ctime>
#include <utility>

namespace vnfpool::observe {

namespace {

constexpr std::array<std::string_view, 4> kLevelNames{"debug", "info", "warn", "error"};

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

// Length of the valid UTF-8 sequence starting at s[i], or 0 if it is not one (RFC 3629: no overlongs,
// no surrogates, nothing above U+10FFFF).
std::size_t utf8SequenceLength(std::string_view s, std::size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  auto cont = [&](std::size_t k) {
    return i + k < s.size() && (static_cast<unsigned char>(s[i + k]) & 0xC0U) == 0x80U;
  };
  if (b0 < 0x80U) return 1;
  if (b0 >= 0xC2U && b0 <= 0xDFU) return cont(1) ? 2 : 0;
  if (b0 >= 0xE0U && b0 <= 0xEFU) {
    if (!cont(1) || !cont(2)) return 0;
    const auto b1 = static_cast<unsigned char>(s[i + 1]);
    if (b0 == 0xE0U && b1 < 0xA0U) return 0;   // overlong
    if (b0 == 0xEDU && b1 >= 0xA0U) return 0;  // UTF-16 surrogate
    return 3;
  }
  if (b0 >= 0xF0U && b0 <= 0xF4U) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    const auto b1 = static_cast<unsigned char>(s[i + 1]);
    if (b0 == 0xF0U && b1 < 0x90U) return 0;   // overlong
    if (b0 == 0xF4U && b1 >= 0x90U) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

void appendKey(std::string& out, std::string_view key) {
  out += ',';
  if (key == "ts" || key == "level" || key == "component" || key == "msg") {
    std::string renamed = "_";
    renamed += key;
    appendJsonString(out, renamed);
  } else {
    appendJsonString(out, key);
  }
  out += ':';
}

void appendDouble(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  std::array<char, 32> buf{};
  auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v);
  if (ec != std::errc{}) {
    out += "null";
    return;
  }
  out.append(buf.data(), end);
}

template <typename T>
void appendInteger(std::string& out, T v) {
  std::array<char, 24> buf{};
  auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v);
  (void)ec;  // 24 characters hold any 64-bit integer
  out.append(buf.data(), end);
}

void appendField(std::string& out, const Field& f) {
  appendKey(out, f.key());
  switch (f.kind()) {
    case Field::Kind::String: appendJsonString(out, f.str()); break;
    case Field::Kind::Int: appendInteger(out, f.i()); break;
    case Field::Kind::Uint: appendInteger(out, f.u()); break;
    case Field::Kind::Double: appendDouble(out, f.d()); break;
    case Field::Kind::Bool: out += f.b() ? "true" : "false"; break;
    case Field::Kind::Null: out += "null"; break;
  }
}

}  // namespace

std::string_view levelName(Level level) { return kLevelNames.at(static_cast<std::size_t>(level)); }

std::optional<Level> parseLevel(std::string_view text) {
  for (std::size_t i = 0; i < kLevelNames.size(); ++i)
    if (equalsIgnoreCase(text, kLevelNames[i])) return static_cast<Level>(i);
  if (equalsIgnoreCase(text, "warning")) return Level::Warn;
  return std::nullopt;
}

void appendJsonString(std::string& out, std::string_view text) {
  static constexpr std::string_view kHex = "0123456789abcdef";
  out += '"';
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80U) {
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        default:
          if (c < 0x20U || c == 0x7FU) {
            out += "\\u00";
            out += kHex[c >> 4U];
            out += kHex[c & 0xFU];
          } else {
            out += static_cast<char>(c);
          }
      }
      ++i;
      continue;
    }
    const std::size_t n = utf8SequenceLength(text, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER, one per bad byte
      ++i;
    } else {
      out.append(text.substr(i, n));
      i += n;
    }
  }
  out += '"';
}

std::string formatTimestamp(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  const auto ms_total = duration_cast<milliseconds>(t.time_since_epoch()).count();
  auto secs = ms_total / 1000;
  auto ms = ms_total % 1000;
  if (ms < 0) {  // before 1970: floor, not truncate
    ms += 1000;
    secs -= 1;
  }
  const auto tt = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  std::array<char, 40> buf{};
  const auto n = std::strftime(buf.data(), buf.size(), "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out(buf.data(), n);
  out += '.';
  out += static_cast<char>('0' + ms / 100);
  out += static_cast<char>('0' + (ms / 10) % 10);
  out += static_cast<char>('0' + ms % 10);
  out += 'Z';
  return out;
}

std::shared_ptr<Sink> stderrSink() {
  // Never destroyed: a Logger may still log from another static's destructor at exit.
  static const auto* sink = new std::shared_ptr<Sink>(std::make_shared<FdSink>(2));
  return *sink;
}

void FdSink::write(std::string_view line) {
  std::lock_guard lock(mutex_);
  const char* p = line.data();
  std::size_t left = line.size();
  while (left > 0) {
    const ssize_t n = ::write(fd_, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

void MemorySink::write(std::string_view line) {
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  std::lock_guard lock(mutex_);
  lines_.emplace_back(line);
}

std::vector<std::string> MemorySink::lines() const {
  std::lock_guard lock(mutex_);
  return lines_;
}

struct Logger::Shared {
  std::atomic<Level> threshold{Level::Info};
  std::shared_ptr<Sink> sink;
  std::function<std::chrono::system_clock::time_point()> now;
};

Logger::Logger(std::string component, LoggerOptions options)
    : shared_(std::make_shared<Shared>()), component_(std::move(component)) {
  shared_->threshold.store(options.threshold, std::memory_order_relaxed);
  shared_->sink = options.sink ? std::move(options.sink) : stderrSink();
  shared_->now = options.now ? std::move(options.now) : [] { return std::chrono::system_clock::now(); };
}

Logger::Logger(std::shared_ptr<Shared> shared, std::string component, std::string bound)
    : shared_(std::move(shared)), component_(std::move(component)), bound_(std::move(bound)) {}

Logger Logger::with(std::initializer_list<Field> fields) const {
  std::string bound = bound_;
  for (const auto& f : fields) appendField(bound, f);
  return Logger(shared_, component_, std::move(bound));
}

void Logger::setLevel(Level level) { shared_->threshold.store(level, std::memory_order_relaxed); }

Level Logger::level() const { return shared_->threshold.load(std::memory_order_relaxed); }

void Logger::log(Level level, std::string_view msg, std::initializer_list<Field> fields) const {
  if (!enabled(level)) return;
  std::string line;
  line.reserve(128 + msg.size() + bound_.size());
  line += "{\"ts\":\"";
  line += formatTimestamp(shared_->now());
  line += "\",\"level\":\"";
  line += levelName(level);
  line += "\",\"component\":";
  appendJsonString(line, component_);
  line += ",\"msg\":";
  appendJsonString(line, msg);
  line += bound_;
  for (const auto& f : fields) appendField(line, f);
  line += "}\n";
  shared_->sink->write(line);
}

}  // namespace vnfpool::observe
