#include "flags.h"

#include <charconv>
#include <cstdlib>
#include <sstream>

namespace vnfpool::ctl {

std::optional<Flags> Flags::parse(const std::vector<std::string>& args, const std::vector<FlagSpec>& specs,
                                  std::string& error) {
  Flags f;
  for (const auto& s : specs) f.specs_[s.name] = s;
  auto find = [&](const std::string& arg) -> const FlagSpec* {
    if (arg.size() == 2 && arg[0] == '-' && arg[1] != '-') {
      for (const auto& s : specs)
        if (s.short_name == arg[1]) return &s;
      return nullptr;
    }
    auto it = f.specs_.find(arg.substr(2));
    return it == f.specs_.end() ? nullptr : &it->second;
  };
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    if (arg.size() < 2 || arg[0] != '-' || arg == "--") {
      f.positional_.push_back(arg);
      continue;
    }
    std::optional<std::string> inline_value;
    if (auto eq = arg.find('='); eq != std::string::npos && arg.starts_with("--")) {
      inline_value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    }
    const FlagSpec* spec = find(arg);
    if (spec == nullptr) {
      error = "unknown flag " + arg;
      return std::nullopt;
    }
    if (!spec->takes_value) {
      if (inline_value) {
        error = arg + " takes no value";
        return std::nullopt;
      }
      f.values_[spec->name].push_back("true");
      continue;
    }
    if (!inline_value) {
      if (i + 1 >= args.size()) {
        error = arg + " needs a value";
        return std::nullopt;
      }
      inline_value = args[++i];
    }
    if (!spec->repeated) f.values_[spec->name].clear();
    f.values_[spec->name].push_back(*inline_value);
  }
  return f;
}

bool Flags::has(const std::string& name) const {
  auto it = values_.find(name);
  return it != values_.end() && !it->second.empty();
}

std::string Flags::get(const std::string& name) const {
  auto it = values_.find(name);
  if (it != values_.end() && !it->second.empty()) return it->second.back();
  auto spec = specs_.find(name);
  if (spec == specs_.end()) return {};
  if (!spec->second.env.empty()) {
    if (const char* v = std::getenv(spec->second.env.c_str()); v != nullptr && *v != '\0') return v;
  }
  return spec->second.default_value;
}

std::vector<std::string> Flags::all(const std::string& name) const {
  std::vector<std::string> raw;
  auto it = values_.find(name);
  if (it != values_.end() && !it->second.empty()) {
    raw = it->second;
  } else {
    raw.push_back(get(name));
  }
  std::vector<std::string> out;
  for (const auto& v : raw) {
    std::stringstream s(v);
    std::string item;
    while (std::getline(s, item, ','))
      if (!item.empty()) out.push_back(item);
  }
  return out;
}

std::optional<std::uint64_t> Flags::number(const std::string& name, std::uint64_t min, std::uint64_t max,
                                           std::string& error) const {
  const std::string text = get(name);
  std::uint64_t v = 0;
  const bool hex = text.starts_with("0x");
  const char* begin = text.data() + (hex ? 2 : 0);
  auto [ptr, ec] = std::from_chars(begin, text.data() + text.size(), v, hex ? 16 : 10);
  if (ec != std::errc() || ptr != text.data() + text.size() || begin == text.data() + text.size()) {
    error = "--" + name + ": \"" + text + "\" is not a number";
    return std::nullopt;
  }
  if (v < min || v > max) {
    error = "--" + name + ": " + text + " is outside " + std::to_string(min) + ".." + std::to_string(max);
    return std::nullopt;
  }
  return v;
}

std::string describeFlags(const std::vector<FlagSpec>& specs) {
  std::ostringstream out;
  for (const auto& s : specs) {
    std::string left = "  ";
    left += s.short_name ? std::string("-") + s.short_name + ", " : "    ";
    left += "--" + s.name + (s.takes_value ? " VALUE" : "");
    out << left;
    if (left.size() < 28) out << std::string(28 - left.size(), ' ');
    out << " " << s.help;
    if (!s.default_value.empty()) out << " (default " << s.default_value << ")";
    if (!s.env.empty()) out << " [$" << s.env << "]";
    out << "\n";
  }
  return out.str();
}

}  // namespace vnfpool::ctl
