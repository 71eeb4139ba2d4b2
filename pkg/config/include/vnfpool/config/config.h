// Configuration of a daemon: declared once, read from a YAML file, environment variables and flags.
//
//   config::Schema schema("registrar", "vnfpool-registrar", "The vnfpool Pool Registrar.");
//   schema.add(config::Key::string("asap.listen", "0.0.0.0:3863").help("ASAP address and port."));
//   schema.add(config::Key::duration("keepalive.interval", 5s).range(100ms, 1h).help("Keep-alive period."));
//   auto loaded = config::load(schema, argc, argv, config::processEnvironment(), "/etc/vnfpool/registrar.yaml");
//   if (!loaded.ok()) { std::cerr << config::describe(loaded.errors()); return 2; }
//   if (loaded.value().helpRequested()) { std::cout << schema.usage(); return 0; }
//   if (loaded.value().printConfigRequested()) { std::cout << loaded.value().print(); return 0; }
//
// Precedence, lowest first: declared default < config file < environment < flags.
// Everything here is a plain value type; none of it touches global state except processEnvironment().
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace vnfpool::config {

/// Durations have microsecond resolution, like handlespace's time (sub-millisecond keep-alives exist).
using Duration = std::chrono::microseconds;

// (Interval is the Duration type; the enumerator cannot share the alias's name under GCC 12's -Wshadow.)
enum class Type : std::uint8_t { String, Bool, Integer, Interval, StringList, Enum };
enum class Source : std::uint8_t { Default, File, Environment, Flag };

/// A typed value: String and Enum hold std::string, Bool bool, Integer std::int64_t, Duration Duration,
/// StringList std::vector<std::string>.
using Value = std::variant<std::string, bool, std::int64_t, Duration, std::vector<std::string>>;

/// A check a daemon adds to a key (e.g. "is host:port"): returns an error message, or nullopt if fine.
/// Runs on every value the key gets from the file, environment or flags, after type and range checks.
using Check = std::function<std::optional<std::string>(const Value&)>;

/// One declared setting. Built with a factory and refined with the chained setters; Schema::add checks
/// the whole declaration.
class Key {
 public:
  static Key string(std::string name, std::string default_value);
  static Key boolean(std::string name, bool default_value);
  static Key integer(std::string name, std::int64_t default_value);
  static Key duration(std::string name, Duration default_value);
  static Key list(std::string name, std::vector<std::string> default_value = {});
  /// A string restricted to `allowed` (matched exactly, case-sensitive).
  static Key choice(std::string name, std::string default_value, std::vector<std::string> allowed);

  Key& help(std::string text);
  /// Inclusive bounds for Integer keys (std::logic_error on other types).
  Key& range(std::int64_t min, std::int64_t max);
  /// Inclusive bounds for Duration keys (std::logic_error on other types).
  Key& range(Duration min, Duration max);
  /// Use this environment variable instead of the derived VNFPOOL_<COMPONENT>_<KEY>.
  Key& env(std::string name);
  /// No default: load() fails unless some source sets it. Config getters then always have a value.
  Key& required();
  /// Config::print() writes <redacted> for any value other than the default; --help never shows it.
  /// (Prefer file paths to secrets in configuration: a token file, not the token.)
  Key& secret();
  /// The value's name in --help ("ADDRESS" instead of "STRING").
  Key& metavar(std::string name);
  Key& check(Check fn);

  const std::string& name() const { return name_; }
  Type type() const { return type_; }
  const Value& defaultValue() const { return default_; }
  const std::string& helpText() const { return help_; }
  const std::vector<std::string>& allowed() const { return allowed_; }
  std::int64_t minInt() const { return min_int_; }
  std::int64_t maxInt() const { return max_int_; }
  Duration minDuration() const { return min_dur_; }
  Duration maxDuration() const { return max_dur_; }
  const std::string& explicitEnv() const { return env_; }
  bool isRequired() const { return required_; }
  bool isSecret() const { return secret_; }
  const std::string& metavarName() const { return metavar_; }
  const std::vector<Check>& checks() const { return checks_; }

 private:
  Key(std::string name, Type type, Value default_value);

  std::string name_;
  Type type_;
  Value default_;
  std::string help_;
  std::vector<std::string> allowed_;
  std::int64_t min_int_ = std::numeric_limits<std::int64_t>::min();
  std::int64_t max_int_ = std::numeric_limits<std::int64_t>::max();
  Duration min_dur_ = Duration::zero();
  Duration max_dur_ = Duration::max();
  std::string env_;
  bool required_ = false;
  bool secret_ = false;
  std::string metavar_;
  std::vector<Check> checks_;
};

/// The settings of one daemon. Declaration mistakes are programming errors: add() throws
/// std::invalid_argument naming the key and the rule (bad name, duplicate, a key that is also a section,
/// two keys with the same environment variable, a derived variable that Kubernetes service links could
/// set, a default outside its range or not among the allowed values, a reserved name).
class Schema {
 public:
  /// `component` ("registrar", lower case [a-z0-9_]) gives the environment prefix VNFPOOL_REGISTRAR_;
  /// `program` and `summary` head the --help text.
  Schema(std::string component, std::string program, std::string summary = {});

  Schema& add(Key key);

  const std::string& component() const { return component_; }
  const std::string& program() const { return program_; }
  const std::vector<Key>& keys() const { return keys_; }
  const Key* find(std::string_view name) const;
  /// The environment variable a key is read from.
  std::string envName(const Key& key) const;
  /// VNFPOOL_<COMPONENT>_CONFIG: names the config file when --config is not given.
  std::string configEnvName() const;
  /// The --help text, generated from the declarations.
  std::string usage() const;

 private:
  std::string component_;
  std::string program_;
  std::string summary_;
  std::vector<Key> keys_;
};

/// One problem found while loading. `text` is the complete message, e.g.
///   config file /etc/x.yaml:4: keepalive.interval: "5x" is not a duration (use e.g. 500ms, 5s)
///   --keepalive.interval: "50ms" is below the minimum 100ms
///   environment VNFPOOL_REGISTRAR_ASAP_LISTEN (asap.listen): must not be empty
///   config file /etc/x.yaml:2: unknown key asap.lisen (did you mean asap.listen?)
struct Error {
  std::string key{};  // the dotted key, or "" when the problem is not about one key
  Source source = Source::Default;
  std::string text{};

  friend bool operator==(const Error&, const Error&) = default;
};

/// All errors, one per line (for printing to stderr before exiting non-zero).
std::string describe(const std::vector<Error>& errors);

/// A value or the list of everything wrong. (pkg/config is a leaf, so it has its own tiny result.)
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}                     // NOLINT(google-explicit-constructor)
  Result(std::vector<Error> errors) : v_(std::move(errors)) {}  // NOLINT(google-explicit-constructor)
  bool ok() const { return v_.index() == 0; }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const std::vector<Error>& errors() const { return std::get<1>(v_); }

 private:
  std::variant<T, std::vector<Error>> v_;
};

/// The loaded settings. The getters take a declared key of the matching type; asking for an undeclared
/// key or with the wrong getter is a programming error (std::logic_error). Thread-safe to read.
class Config {
 public:
  const std::string& string(std::string_view key) const;  // String and Enum keys
  bool boolean(std::string_view key) const;
  std::int64_t integer(std::string_view key) const;
  Duration duration(std::string_view key) const;
  const std::vector<std::string>& list(std::string_view key) const;

  /// integer(key) converted to T; std::logic_error if the declared range does not fit in T.
  template <typename T>
  T integerAs(std::string_view key) const {
    const auto* k = schema_key(key);
    if (k->minInt() < static_cast<std::int64_t>(std::numeric_limits<T>::min()) ||
        (std::numeric_limits<T>::max() < std::numeric_limits<std::int64_t>::max() &&
         k->maxInt() > static_cast<std::int64_t>(std::numeric_limits<T>::max())))
      throw std::logic_error("config key " + std::string(key) + ": declared range does not fit the requested type");
    return static_cast<T>(integer(key));
  }

  /// Where the effective value came from, and a description of it ("--keepalive.interval",
  /// "environment VNFPOOL_...", "config file /etc/x.yaml:4", "default").
  Source source(std::string_view key) const;
  const std::string& origin(std::string_view key) const;

  /// --help or -h was given: print Schema::usage() and exit 0. The values are then the defaults and
  /// nothing else was checked.
  bool helpRequested() const { return help_; }
  /// --print-config was given: print print() and exit 0.
  bool printConfigRequested() const { return print_; }
  /// The config file that was read, if any.
  const std::optional<std::string>& file() const { return file_; }
  /// Things worth a log line that are not errors (e.g. unknown VNFPOOL_* environment variables).
  const std::vector<std::string>& warnings() const { return warnings_; }

  /// The effective configuration as YAML that load() accepts as a config file, each value commented with
  /// its origin; secret values other than their default are written as "<redacted>".
  std::string print() const;

 private:
  friend Result<Config> load(const Schema&, std::span<const std::string>, const std::map<std::string, std::string>&,
                             const std::optional<std::string>&);
  struct Entry {
    Value value;
    Source source = Source::Default;
    std::string origin;
  };
  const Key* schema_key(std::string_view key) const;
  const Entry& entry(std::string_view key, Type a, Type b) const;

  std::vector<Key> keys_;
  std::string program_;
  std::map<std::string, Entry, std::less<>> entries_;
  bool help_ = false;
  bool print_ = false;
  std::optional<std::string> file_;
  std::vector<std::string> warnings_;
};

using Environment = std::map<std::string, std::string>;

/// The process's environment (environ). Call it from main, before threads that might setenv() start.
Environment processEnvironment();

/// Loads the configuration: defaults, then the config file (from --config FILE, else the variable
/// Schema::configEnvName(), else `default_file`; a file named by any of them must exist and be valid),
/// then the environment, then the flags. `args` are the command-line arguments without the program name.
/// Flags: --key=value, --key value, --key for booleans (and --no-key), --config FILE, --print-config,
/// --help/-h; '-' and '_' are the same in flag names. List values are comma-separated (or a YAML
/// sequence in the file); a list flag may be repeated to append. Collects every error; never throws on
/// bad input (yaml-cpp's exceptions become errors here).
Result<Config> load(const Schema& schema, std::span<const std::string> args, const Environment& env,
                    const std::optional<std::string>& default_file = std::nullopt);
/// The same, from main's argc/argv (argv[0] is skipped).
Result<Config> load(const Schema& schema, int argc, const char* const* argv, const Environment& env,
                    const std::optional<std::string>& default_file = std::nullopt);

/// "500ms", "5s", "1m", "1h30m", "1.5s", "250us", "0" -> Duration; nullopt for anything else (negative,
/// no unit, unknown unit, finer than a microsecond, overflow).
std::optional<Duration> parseDuration(std::string_view text);
/// The shortest exact form in one unit: 90s -> "90s", 1500ms -> "1500ms", 2h -> "2h", 0 -> "0s".
std::string formatDuration(Duration d);

}  // namespace vnfpool::config
