#include <algorithm>
#include <set>

#include "values.h"
#include "vnfpool/config/config.h"

namespace vnfpool::config {

namespace {

[[noreturn]] void refuse(const std::string& key, const std::string& why) {
  throw std::invalid_argument("config key " + key + ": " + why);
}

bool validSegment(std::string_view s) {
  if (s.empty() || !(s[0] >= 'a' && s[0] <= 'z')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
}

bool validKeyName(std::string_view name) {
  while (true) {
    const auto dot = name.find('.');
    if (!validSegment(name.substr(0, dot))) return false;
    if (dot == std::string_view::npos) return true;
    name.remove_prefix(dot + 1);
  }
}

bool endsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string upperUnderscored(std::string_view s) {
  std::string out;
  for (char c : s) out += (c == '.' ) ? '_' : (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
  return out;
}

}  // namespace

Key::Key(std::string name, Type type, Value default_value)
    : name_(std::move(name)), type_(type), default_(std::move(default_value)) {}

Key Key::string(std::string name, std::string default_value) {
  return Key(std::move(name), Type::String, Value(std::move(default_value)));
}
Key Key::boolean(std::string name, bool default_value) { return Key(std::move(name), Type::Bool, Value(default_value)); }
Key Key::integer(std::string name, std::int64_t default_value) {
  return Key(std::move(name), Type::Integer, Value(default_value));
}
Key Key::duration(std::string name, Duration default_value) {
  return Key(std::move(name), Type::Interval, Value(default_value));
}
Key Key::list(std::string name, std::vector<std::string> default_value) {
  return Key(std::move(name), Type::StringList, Value(std::move(default_value)));
}
Key Key::choice(std::string name, std::string default_value, std::vector<std::string> allowed) {
  Key k(std::move(name), Type::Enum, Value(std::move(default_value)));
  k.allowed_ = std::move(allowed);
  return k;
}

Key& Key::help(std::string text) {
  help_ = std::move(text);
  return *this;
}
Key& Key::range(std::int64_t min, std::int64_t max) {
  if (type_ != Type::Integer) throw std::logic_error("config key " + name_ + ": integer range on a non-integer key");
  min_int_ = min;
  max_int_ = max;
  return *this;
}
Key& Key::range(Duration min, Duration max) {
  if (type_ != Type::Interval) throw std::logic_error("config key " + name_ + ": duration range on a non-duration key");
  min_dur_ = min;
  max_dur_ = max;
  return *this;
}
Key& Key::env(std::string name) {
  env_ = std::move(name);
  return *this;
}
Key& Key::required() {
  required_ = true;
  return *this;
}
Key& Key::secret() {
  secret_ = true;
  return *this;
}
Key& Key::metavar(std::string name) {
  metavar_ = std::move(name);
  return *this;
}
Key& Key::check(Check fn) {
  checks_.push_back(std::move(fn));
  return *this;
}

Schema::Schema(std::string component, std::string program, std::string summary)
    : component_(std::move(component)), program_(std::move(program)), summary_(std::move(summary)) {
  if (!validSegment(component_)) throw std::invalid_argument("config component must match [a-z][a-z0-9_]*");
}

std::string Schema::envName(const Key& key) const {
  if (!key.explicitEnv().empty()) return key.explicitEnv();
  return "VNFPOOL_" + upperUnderscored(component_) + "_" + upperUnderscored(key.name());
}

std::string Schema::configEnvName() const { return "VNFPOOL_" + upperUnderscored(component_) + "_CONFIG"; }

const Key* Schema::find(std::string_view name) const {
  for (const auto& k : keys_)
    if (k.name() == name) return &k;
  return nullptr;
}

Schema& Schema::add(Key key) {
  const auto& name = key.name();
  if (!validKeyName(name)) refuse(name, "names are dot-separated segments of [a-z][a-z0-9_]*");
  if (name == "config" || name == "help" || name == "print_config")
    refuse(name, "reserved for the flag of the same name");
  if (find(name) != nullptr) refuse(name, "declared twice");
  for (const auto& other : keys_) {
    const auto& o = other.name();
    if (o.size() > name.size() && o.compare(0, name.size(), name) == 0 && o[name.size()] == '.')
      refuse(name, "is also the section of " + o);
    if (name.size() > o.size() && name.compare(0, o.size(), o) == 0 && name[o.size()] == '.')
      refuse(name, "is inside " + o + ", which is a value");
    if (envName(other) == envName(key)) refuse(name, "same environment variable as " + o + ": " + envName(key));
  }
  if (key.explicitEnv().empty() && detail::looksLikeServiceLink(envName(key)))
    refuse(name, envName(key) + " has the shape of a Kubernetes service-link variable; rename the key (e.g. "
                                "*.listen for host:port) or give it an explicit env()");
  if (key.explicitEnv() == configEnvName()) refuse(name, "environment variable reserved for the config file path");
  if (key.type() == Type::Enum && key.allowed().empty()) refuse(name, "a choice needs allowed values");
  if (key.type() == Type::Integer && key.minInt() > key.maxInt()) refuse(name, "minimum above maximum");
  if (key.type() == Type::Interval && key.minDuration() > key.maxDuration()) refuse(name, "minimum above maximum");
  if (!key.isRequired())
    if (auto problem = detail::validate(key, key.defaultValue())) refuse(name, "default: " + *problem);
  keys_.push_back(std::move(key));
  return *this;
}

std::string Schema::usage() const {
  std::string out = "Usage: " + program_ + " [flags]\n";
  if (!summary_.empty()) out += "\n" + summary_ + "\n";
  out += "\nEvery setting can be given in the YAML config file, as an environment variable or as a flag.\n"
         "Flags override the environment, which overrides the file, which overrides the defaults.\n"
         "Durations: 250us, 500ms, 5s, 1m, 1h30m. Lists: comma-separated, or a YAML sequence in the file.\n\n";
  out += "  --config FILE\n        YAML config file (env " + configEnvName() + ")\n";
  out += "  --print-config\n        print the effective configuration as YAML and exit\n";
  out += "  -h, --help\n        print this help and exit\n";
  for (const auto& k : keys_) {
    std::string meta = k.metavarName().empty() ? std::string(detail::typeName(k.type())) : k.metavarName();
    out += "\n  --" + k.name() + (k.type() == Type::Bool ? "" : " " + meta) + "\n";
    if (!k.helpText().empty()) out += "        " + k.helpText() + "\n";
    std::string facts;
    if (k.isRequired()) {
      facts = "required";
    } else {
      facts = "default " + (k.isSecret() ? std::string("<redacted>") : detail::display(k, k.defaultValue()));
    }
    if (k.type() == Type::Integer && (k.minInt() != std::numeric_limits<std::int64_t>::min() ||
                                      k.maxInt() != std::numeric_limits<std::int64_t>::max()))
      facts += "; " + std::to_string(k.minInt()) + ".." + std::to_string(k.maxInt());
    if (k.type() == Type::Interval && (k.minDuration() != Duration::zero() || k.maxDuration() != Duration::max()))
      facts += "; " + formatDuration(k.minDuration()) + ".." +
               (k.maxDuration() == Duration::max() ? std::string("") : formatDuration(k.maxDuration()));
    if (k.type() == Type::Enum) {
      facts += "; one of ";
      for (std::size_t i = 0; i < k.allowed().size(); ++i) facts += (i == 0 ? "" : ", ") + k.allowed()[i];
    }
    out += "        (" + facts + "; env " + envName(k) + ")\n";
  }
  return out;
}

namespace detail {

// Kubernetes (like Docker links before it) gives every container variables for each Service in its
// namespace: <SVC>_SERVICE_HOST, <SVC>_SERVICE_PORT[_<NAME>], <SVC>_PORT, <SVC>_PORT_<N>_<PROTO>[_...].
// A Service called vnfpool-registrar-metrics would set VNFPOOL_REGISTRAR_METRICS_PORT=tcp://10.0.0.7:9090,
// which a key "metrics.port" would then read. Refuse derived names of those shapes.
bool looksLikeServiceLink(std::string_view env) {
  if (endsWith(env, "_SERVICE_HOST") || endsWith(env, "_SERVICE_PORT") || endsWith(env, "_PORT")) return true;
  if (env.find("_SERVICE_PORT_") != std::string_view::npos) return true;
  for (auto pos = env.find("_PORT_"); pos != std::string_view::npos; pos = env.find("_PORT_", pos + 1)) {
    std::size_t i = pos + 6, digits = 0;
    while (i < env.size() && env[i] >= '0' && env[i] <= '9') ++i, ++digits;
    if (digits > 0 && i < env.size() && env[i] == '_') return true;
  }
  return false;
}

}  // namespace detail

}  // namespace vnfpool::config
