#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "values.h"
#include "vnfpool/config/config.h"

extern char** environ;  // NOLINT: POSIX

namespace vnfpool::config {

namespace {

struct Assignment {
  const Key* key = nullptr;
  std::string text;
  std::string where;  // "--keepalive.interval"
};

std::string suggestion(const Schema& schema, std::string_view name, std::string_view prefix) {
  const Key* best = nullptr;
  std::size_t best_distance = 0;
  for (const auto& k : schema.keys()) {
    const auto d = detail::editDistance(name, k.name());
    if (best == nullptr || d < best_distance) {
      best = &k;
      best_distance = d;
    }
  }
  if (best == nullptr || best_distance > std::max<std::size_t>(2, name.size() / 4)) return {};
  return " (did you mean " + std::string(prefix) + best->name() + "?)";
}

bool isSection(const Schema& schema, std::string_view path) {
  return std::any_of(schema.keys().begin(), schema.keys().end(), [&](const Key& k) {
    return k.name().size() > path.size() && k.name().compare(0, path.size(), path) == 0 && k.name()[path.size()] == '.';
  });
}

}  // namespace

std::string describe(const std::vector<Error>& errors) {
  std::string out;
  for (const auto& e : errors) out += e.text + "\n";
  return out;
}

Environment processEnvironment() {
  Environment env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    const auto eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
  }
  return env;
}

Result<Config> load(const Schema& schema, int argc, const char* const* argv, const Environment& env,
                    const std::optional<std::string>& default_file) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
  return load(schema, args, env, default_file);
}

Result<Config> load(const Schema& schema, std::span<const std::string> args, const Environment& env,
                    const std::optional<std::string>& default_file) {
  Config config;
  config.keys_ = schema.keys();
  config.program_ = schema.program();
  for (const auto& k : config.keys_) config.entries_[k.name()] = Config::Entry{k.defaultValue(), Source::Default, "default"};
  std::vector<Error> errors;
  auto fail = [&errors](const Key* key, Source source, std::string text) {
    errors.push_back(Error{key != nullptr ? key->name() : std::string(), source, std::move(text)});
  };
  std::set<std::string> set_somewhere;

  // 1. Flags, first into a list: --help wins over everything, and --config names the file.
  std::vector<Assignment> flags;
  std::optional<std::string> config_flag;
  bool after_dashes = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (after_dashes || arg.size() < 2 || arg.compare(0, 2, "--") != 0) {
      if (arg == "-h") {
        config.help_ = true;
        continue;
      }
      fail(nullptr, Source::Flag, "unexpected argument " + detail::quote(arg) + " (settings are given as --key=value)");
      continue;
    }
    if (arg == "--") {
      after_dashes = true;
      continue;
    }
    std::string_view body = std::string_view(arg).substr(2);
    const auto eq = body.find('=');
    std::string name(body.substr(0, eq));
    std::replace(name.begin(), name.end(), '-', '_');
    const bool has_value = eq != std::string_view::npos;
    std::string value = has_value ? std::string(body.substr(eq + 1)) : std::string();
    const std::string shown = "--" + std::string(body.substr(0, eq));
    if (name == "help") {
      config.help_ = true;
      continue;
    }
    if (name == "print_config") {
      if (has_value) fail(nullptr, Source::Flag, shown + ": takes no value");
      config.print_ = true;
      continue;
    }
    auto take_value = [&]() -> bool {
      if (has_value) return true;
      if (i + 1 < args.size()) {
        value = args[++i];
        return true;
      }
      fail(nullptr, Source::Flag, shown + ": needs a value");
      return false;
    };
    if (name == "config") {
      if (take_value()) config_flag = value;
      continue;
    }
    const Key* key = schema.find(name);
    if (key == nullptr && name.rfind("no_", 0) == 0 && !has_value) {
      const Key* negated = schema.find(name.substr(3));
      if (negated != nullptr && negated->type() == Type::Bool) {
        flags.push_back({negated, "false", shown});
        continue;
      }
    }
    if (key == nullptr) {
      fail(nullptr, Source::Flag, shown + ": unknown flag" + suggestion(schema, name, "--"));
      continue;
    }
    if (key->type() == Type::Bool && !has_value) {
      flags.push_back({key, "true", shown});
      continue;
    }
    if (take_value()) flags.push_back({key, value, shown});
  }
  if (config.help_) return config;

  // Stores a value that passed its checks; a list given several times by flags accumulates.
  auto assign = [&](const Key& key, Value value, Source source, std::string origin, const std::string& where) {
    auto& entry = config.entries_[key.name()];
    if (source == Source::Flag && entry.source == Source::Flag) {
      if (key.type() != Type::StringList) {
        fail(&key, source, where + ": given twice");
        return;
      }
      auto& items = std::get<std::vector<std::string>>(entry.value);
      const auto& more = std::get<std::vector<std::string>>(value);
      items.insert(items.end(), more.begin(), more.end());
      if (auto problem = detail::validate(key, entry.value)) fail(&key, source, where + ": " + *problem);
      return;
    }
    entry = Config::Entry{std::move(value), source, std::move(origin)};
    set_somewhere.insert(key.name());
  };
  auto accept = [&](const Key& key, const detail::Parsed& parsed, Source source, const std::string& where,
                    std::string origin) {
    if (const auto* problem = std::get_if<std::string>(&parsed)) {
      fail(&key, source, where + ": " + *problem);
      return;
    }
    const auto& value = std::get<Value>(parsed);
    if (auto problem = detail::validate(key, value)) {
      fail(&key, source, where + ": " + *problem);
      return;
    }
    assign(key, value, source, std::move(origin), where);
  };

  // 2. The config file.
  std::optional<std::string> file = config_flag;
  if (!file) {
    if (auto it = env.find(schema.configEnvName()); it != env.end() && !it->second.empty()) file = it->second;
  }
  if (!file) file = default_file;
  if (file) {
    config.file_ = file;
    const std::string where = "config file " + *file;
    std::ifstream in(*file);
    if (!in) {
      fail(nullptr, Source::File, where + ": cannot open: " + std::strerror(errno));
    } else {
      std::stringstream text;
      text << in.rdbuf();
      YAML::Node root;
      try {
        root = YAML::Load(text.str());
      } catch (const YAML::Exception& e) {
        fail(nullptr, Source::File,
             where + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) + ": invalid YAML: " + e.msg);
      }
      try {
        std::map<std::string, int> seen;  // path -> line, for keys set twice
        std::function<void(const YAML::Node&, const std::string&)> walk = [&](const YAML::Node& map,
                                                                              const std::string& prefix) {
          for (auto it = map.begin(); it != map.end(); ++it) {
            const int line = it->first.Mark().line + 1;
            const std::string at = where + ":" + std::to_string(line);
            if (!it->first.IsScalar()) {
              fail(nullptr, Source::File, at + ": keys must be plain names");
              continue;
            }
            const std::string path = prefix.empty() ? it->first.Scalar() : prefix + "." + it->first.Scalar();
            const YAML::Node node = it->second;  // a copy: yaml-cpp iterators yield temporaries
            if (auto [pos, inserted] = seen.emplace(path, line); !inserted) {
              fail(nullptr, Source::File, at + ": " + path + " is set twice (also at line " + std::to_string(pos->second) + ")");
              continue;
            }
            const Key* key = schema.find(path);
            if (key == nullptr) {
              if (isSection(schema, path)) {
                if (node.IsMap()) walk(node, path);
                else if (!node.IsNull()) fail(nullptr, Source::File, at + ": " + path + " is a section, not a value");
                continue;
              }
              fail(nullptr, Source::File, at + ": unknown key " + path + suggestion(schema, path, ""));
              continue;
            }
            const std::string here = at + ": " + path;
            if (node.IsNull()) {
              fail(key, Source::File, here + ": has no value");
            } else if (node.IsMap()) {
              fail(key, Source::File, here + ": expected a " + std::string(detail::typeName(key->type())) + ", got a map");
            } else if (node.IsSequence()) {
              if (key->type() != Type::StringList) {
                fail(key, Source::File, here + ": expected a " + std::string(detail::typeName(key->type())) + ", got a list");
                continue;
              }
              std::vector<std::string> items;
              bool ok = true;
              for (const auto& item : node) {
                if (!item.IsScalar() || item.Scalar().empty()) {
                  fail(key, Source::File, here + ": list items must be non-empty strings");
                  ok = false;
                  break;
                }
                items.push_back(item.Scalar());
              }
              if (ok) accept(*key, Value(std::move(items)), Source::File, here, where + ":" + std::to_string(line));
            } else {
              accept(*key, detail::parseText(*key, node.Scalar()), Source::File, here, where + ":" + std::to_string(line));
            }
          }
        };
        if (root.IsMap()) walk(root, "");
        else if (root.IsDefined() && !root.IsNull()) fail(nullptr, Source::File, where + ": the top level must be a map of settings");
      } catch (const YAML::Exception& e) {
        fail(nullptr, Source::File, where + ": " + e.what());
      }
    }
  }

  // 3. The environment. Unknown VNFPOOL_<COMPONENT>_* variables are warnings, not errors: Kubernetes
  // service links define such variables for every Service named vnfpool-<component>[-...].
  for (const auto& key : schema.keys()) {
    const auto name = schema.envName(key);
    auto it = env.find(name);
    if (it == env.end()) continue;
    accept(key, detail::parseText(key, it->second), Source::Environment, "environment " + name, "environment " + name);
  }
  const std::string prefix = "VNFPOOL_" + [&] {
    std::string c = schema.component();
    for (auto& ch : c) ch = (ch >= 'a' && ch <= 'z') ? static_cast<char>(ch - 'a' + 'A') : ch;
    return c;
  }() + "_";
  for (const auto& [name, value] : env) {
    if (name.rfind(prefix, 0) != 0 || name == schema.configEnvName() || detail::looksLikeServiceLink(name)) continue;
    const bool known = std::any_of(schema.keys().begin(), schema.keys().end(),
                                   [&](const Key& k) { return schema.envName(k) == name; });
    if (known) continue;
    std::string hint;
    std::size_t best = 0;
    for (const auto& k : schema.keys()) {
      const auto d = detail::editDistance(name, schema.envName(k));
      if (d <= 2 && (hint.empty() || d < best)) {
        hint = " (did you mean " + schema.envName(k) + "?)";
        best = d;
      }
    }
    config.warnings_.push_back("environment " + name + " is not a setting of " + schema.program() + hint);
  }

  // 4. Flags.
  for (const auto& f : flags) accept(*f.key, detail::parseText(*f.key, f.text), Source::Flag, f.where, f.where);

  for (const auto& key : schema.keys())
    if (key.isRequired() && set_somewhere.count(key.name()) == 0)
      fail(&key, Source::Default,
           key.name() + " is required: set it in the config file, as " + schema.envName(key) + " or with --" + key.name());

  if (!errors.empty()) return errors;
  return config;
}

}  // namespace vnfpool::config
