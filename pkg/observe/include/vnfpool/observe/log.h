// Structured logging: one JSON object per line.
//
//   {"ts":"2026-11-21T11:07:12.345Z","level":"info","component":"registrar","msg":"PE registered",
//    "pool":"sip-proxy","pe_id":42}
//
// Never log secrets (tokens, private keys, passwords, the contents of Secrets or kubeconfig credentials).
// Nothing here can enforce that; reviewers must. Log a secret's name or where it came from, never its value.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace vnfpool::observe {

enum class Level : std::uint8_t { Debug = 0, Info = 1, Warn = 2, Error = 3 };

/// "debug", "info", "warn", "error".
std::string_view levelName(Level level);
/// Parses a level name as written by levelName (case-insensitive; "warning" is accepted for warn).
/// Returns nullopt for anything else.
std::optional<Level> parseLevel(std::string_view text);

/// One key/value of a log line. The key and a string value are borrowed: a Field lives only for the
/// duration of the logging call that receives it (build Fields inline in the call's argument list).
class Field {
 public:
  enum class Kind : std::uint8_t { String, Int, Uint, Double, Bool, Null };

  Field(std::string_view key, std::string_view value) : key_(key), kind_(Kind::String), str_(value) {}
  Field(std::string_view key, const char* value)
      : key_(key), kind_(value != nullptr ? Kind::String : Kind::Null), str_(value != nullptr ? value : "") {}
  Field(std::string_view key, const std::string& value) : key_(key), kind_(Kind::String), str_(value) {}
  Field(std::string_view key, bool value) : key_(key), kind_(Kind::Bool), b_(value) {}
  Field(std::string_view key, std::nullptr_t) : key_(key), kind_(Kind::Null) {}
  template <typename T>
    requires(std::is_integral_v<T> && !std::is_same_v<T, bool> && std::is_signed_v<T>)
  Field(std::string_view key, T value) : key_(key), kind_(Kind::Int), i_(value) {}
  template <typename T>
    requires(std::is_integral_v<T> && !std::is_same_v<T, bool> && std::is_unsigned_v<T>)
  Field(std::string_view key, T value) : key_(key), kind_(Kind::Uint), u_(value) {}
  template <typename T>
    requires std::is_floating_point_v<T>
  Field(std::string_view key, T value) : key_(key), kind_(Kind::Double), d_(static_cast<double>(value)) {}
  /// Durations are written in seconds as a number (field names should say so: "elapsed_seconds").
  template <typename Rep, typename Period>
  Field(std::string_view key, std::chrono::duration<Rep, Period> value)
      : key_(key), kind_(Kind::Double), d_(std::chrono::duration<double>(value).count()) {}

  std::string_view key() const { return key_; }
  Kind kind() const { return kind_; }
  std::string_view str() const { return str_; }
  std::int64_t i() const { return i_; }
  std::uint64_t u() const { return u_; }
  double d() const { return d_; }
  bool b() const { return b_; }

 private:
  std::string_view key_;
  Kind kind_;
  std::string_view str_{};
  std::int64_t i_ = 0;
  std::uint64_t u_ = 0;
  double d_ = 0.0;
  bool b_ = false;
};

/// Where finished lines go. write() receives one complete line including its trailing '\n'. Loggers
/// built from different roots may share a sink and call write() concurrently, so a sink must be
/// thread-safe (both sinks here are).
class Sink {
 public:
  virtual ~Sink() = default;
  virtual void write(std::string_view line) = 0;
};

/// Writes to a file descriptor with one write() per line under a lock, retrying on short writes and
/// EINTR, so lines never interleave even beyond PIPE_BUF. Errors are ignored: logging must never take the
/// daemon down. Does not own the fd.
class FdSink final : public Sink {
 public:
  explicit FdSink(int fd) : fd_(fd) {}
  void write(std::string_view line) override;

 private:
  std::mutex mutex_;
  int fd_;
};

/// The process-wide FdSink on standard error that Loggers use unless given another sink. Every default
/// Logger, whatever its component, shares it, so their lines never interleave.
std::shared_ptr<Sink> stderrSink();

/// Keeps lines in memory; for tests. Thread-safe.
class MemorySink final : public Sink {
 public:
  void write(std::string_view line) override;
  /// The lines written so far, without their trailing newlines.
  std::vector<std::string> lines() const;

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> lines_;
};

struct LoggerOptions {
  Level threshold = Level::Info;
  /// Defaults to stderrSink().
  std::shared_ptr<Sink> sink{};
  /// Wall clock for the ts field; tests inject a fixed time. Defaults to std::chrono::system_clock::now.
  std::function<std::chrono::system_clock::time_point()> now{};
};

/// A logger for one component ("registrar", "sidecar", "operator", "asap"). Copies and child loggers made
/// by with() share the threshold and the sink, so setLevel() on any of them affects all.
///
/// Thread-safe: any thread may log, change the level or make children. Lines are never interleaved.
/// A line is built before the sink is called; records below the threshold cost one atomic load.
///
/// Every line has ts (RFC 3339, UTC, milliseconds), level, component and msg, then the bound fields of
/// with() and the call's fields in order. Strings are escaped as JSON; bytes that are not valid UTF-8 are
/// replaced by U+FFFD so that every line parses (peer-supplied pool handles are arbitrary bytes).
/// Doubles that are NaN or infinite are written as null. A field whose key is one of the reserved
/// ts/level/component/msg is written with a leading underscore ("_msg"), so keys never repeat.
class Logger {
 public:
  explicit Logger(std::string component, LoggerOptions options = {});

  /// A logger writing to the same sink with the same threshold, whose lines carry `fields` after msg
  /// (e.g. {"pool", name}). The values are copied.
  Logger with(std::initializer_list<Field> fields) const;

  void setLevel(Level level);
  Level level() const;
  bool enabled(Level level) const { return level >= this->level(); }

  void log(Level level, std::string_view msg, std::initializer_list<Field> fields = {}) const;
  void debug(std::string_view msg, std::initializer_list<Field> fields = {}) const { log(Level::Debug, msg, fields); }
  void info(std::string_view msg, std::initializer_list<Field> fields = {}) const { log(Level::Info, msg, fields); }
  void warn(std::string_view msg, std::initializer_list<Field> fields = {}) const { log(Level::Warn, msg, fields); }
  void error(std::string_view msg, std::initializer_list<Field> fields = {}) const { log(Level::Error, msg, fields); }

  const std::string& component() const { return component_; }

 private:
  struct Shared;
  Logger(std::shared_ptr<Shared> shared, std::string component, std::string bound);

  std::shared_ptr<Shared> shared_;
  std::string component_;
  std::string bound_;  // pre-rendered ,"key":value pairs from with()
};

/// Appends `text` to `out` as a JSON string literal (with quotes), escaping as the Logger does. Exposed
/// for other JSON writers in the daemons (e.g. error bodies); never throws.
void appendJsonString(std::string& out, std::string_view text);

/// Formats a wall-clock time as RFC 3339 in UTC with milliseconds: "2026-11-21T11:07:12.345Z".
std::string formatTimestamp(std::chrono::system_clock::time_point t);

}  // namespace vnfpool::observe
