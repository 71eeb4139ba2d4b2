#include <yaml-cpp/yaml.h>

#include "values.h"
#include "vnfpool/config/config.h"

namespace vnfpool::config {

const Key* Config::schema_key(std::string_view key) const {
  for (const auto& k : keys_)
    if (k.name() == key) return &k;
  throw std::logic_error("config key " + std::string(key) + " is not declared");
}

const Config::Entry& Config::entry(std::string_view key, Type a, Type b) const {
  const Key* k = schema_key(key);
  if (k->type() != a && k->type() != b)
    throw std::logic_error("config key " + std::string(key) + " is a " + std::string(detail::typeName(k->type())));
  return entries_.find(key)->second;
}

const std::string& Config::string(std::string_view key) const {
  return std::get<std::string>(entry(key, Type::String, Type::Enum).value);
}
bool Config::boolean(std::string_view key) const { return std::get<bool>(entry(key, Type::Bool, Type::Bool).value); }
std::int64_t Config::integer(std::string_view key) const {
  return std::get<std::int64_t>(entry(key, Type::Integer, Type::Integer).value);
}
Duration Config::duration(std::string_view key) const {
  return std::get<Duration>(entry(key, Type::Interval, Type::Interval).value);
}
const std::vector<std::string>& Config::list(std::string_view key) const {
  return std::get<std::vector<std::string>>(entry(key, Type::StringList, Type::StringList).value);
}

Source Config::source(std::string_view key) const {
  schema_key(key);
  return entries_.find(key)->second.source;
}

const std::string& Config::origin(std::string_view key) const {
  schema_key(key);
  return entries_.find(key)->second.origin;
}

namespace {

// Keys grouped into nested sections, in declaration order.
struct Tree {
  std::vector<std::pair<std::string, Tree>> children;
  const Key* key = nullptr;

  Tree& child(const std::string& name) {
    for (auto& [n, t] : children)
      if (n == name) return t;
    children.emplace_back(name, Tree{});
    return children.back().second;
  }
};

}  // namespace

std::string Config::print() const {
  Tree root;
  for (const auto& k : keys_) {
    Tree* t = &root;
    std::string_view rest = k.name();
    while (true) {
      const auto dot = rest.find('.');
      t = &t->child(std::string(rest.substr(0, dot)));
      if (dot == std::string_view::npos) break;
      rest.remove_prefix(dot + 1);
    }
    t->key = &k;
  }
  YAML::Emitter out;
  out << YAML::Comment("effective configuration of " + program_ +
                       " (default < config file < environment < flags)");
  out << YAML::BeginMap;
  std::function<void(const Tree&)> emit = [&](const Tree& tree) {
    for (const auto& [name, t] : tree.children) {
      out << YAML::Key << name << YAML::Value;
      if (t.key == nullptr) {
        out << YAML::BeginMap;
        emit(t);
        out << YAML::EndMap;
        continue;
      }
      const Key& k = *t.key;
      const Entry& e = entries_.find(k.name())->second;
      if (k.isSecret() && e.value != k.defaultValue()) {
        out << YAML::DoubleQuoted << "<redacted>";
      } else {
        switch (k.type()) {
          case Type::String:
          case Type::Enum: out << YAML::DoubleQuoted << std::get<std::string>(e.value); break;
          case Type::Bool: out << std::get<bool>(e.value); break;
          case Type::Integer: out << static_cast<long long>(std::get<std::int64_t>(e.value)); break;
          case Type::Interval: out << formatDuration(std::get<Duration>(e.value)); break;
          case Type::StringList:
            out << YAML::Flow << YAML::BeginSeq;
            for (const auto& item : std::get<std::vector<std::string>>(e.value)) out << YAML::DoubleQuoted << item;
            out << YAML::EndSeq;
            break;
        }
      }
      out << YAML::Comment(e.origin);
    }
  };
  emit(root);
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace vnfpool::config
