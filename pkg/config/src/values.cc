#include "values.h"

#include <algorithm>
#include <charconv>
#include <vector>

namespace vnfpool::config {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lowered(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = lower(c);
  return out;
}

struct Unit {
  std::string_view name;
  std::int64_t us;
};
// Longest first, so that "ms" is not read as "m" followed by garbage.
constexpr Unit kUnits[] = {{"ms", 1'000}, {"us", 1}, {"\xC2\xB5s", 1}, {"h", 3'600'000'000}, {"m", 60'000'000},
                           {"s", 1'000'000}};

}  // namespace

std::optional<Duration> parseDuration(std::string_view text) {
  if (text == "0") return Duration::zero();
  if (text.empty()) return std::nullopt;
  std::int64_t total = 0;
  while (!text.empty()) {
    std::size_t i = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
    if (i == 0) return std::nullopt;
    std::string_view whole = text.substr(0, i), frac;
    if (i < text.size() && text[i] == '.') {
      const std::size_t start = ++i;
      while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
      frac = text.substr(start, i - start);
      if (frac.empty()) return std::nullopt;
    }
    text.remove_prefix(i);
    const Unit* unit = nullptr;
    for (const auto& u : kUnits)
      if (text.substr(0, u.name.size()) == u.name) {
        unit = &u;
        break;
      }
    if (unit == nullptr) return std::nullopt;
    text.remove_prefix(unit->name.size());
    std::int64_t n = 0;
    if (auto [p, ec] = std::from_chars(whole.data(), whole.data() + whole.size(), n); ec != std::errc{})
      return std::nullopt;
    std::int64_t part = 0;
    if (__builtin_mul_overflow(n, unit->us, &part)) return std::nullopt;
    // The fraction must come out as whole microseconds: "1.5ms" is fine, "1.0001ms" is not.
    std::int64_t scale = unit->us;
    std::int64_t frac_us = 0;
    for (char c : frac) {
      if (scale % 10 != 0) {
        if (c != '0') return std::nullopt;
        continue;
      }
      scale /= 10;
      frac_us += (c - '0') * scale;
    }
    if (__builtin_add_overflow(part, frac_us, &part) || __builtin_add_overflow(total, part, &total))
      return std::nullopt;
  }
  return Duration(total);
}

std::string formatDuration(Duration d) {
  const auto us = d.count();
  if (us == 0) return "0s";
  for (const auto& u : {Unit{"h", 3'600'000'000}, Unit{"m", 60'000'000}, Unit{"s", 1'000'000}, Unit{"ms", 1'000}})
    if (us % u.us == 0) return std::to_string(us / u.us) + std::string(u.name);
  return std::to_string(us) + "us";
}

namespace detail {

std::string quote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (static_cast<unsigned char>(c) < 0x20U) {
      out += '?';
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string_view typeName(Type type) {
  switch (type) {
    case Type::String: return "STRING";
    case Type::Bool: return "BOOL";
    case Type::Integer: return "INTEGER";
    case Type::Interval: return "DURATION";
    case Type::StringList: return "LIST";
    case Type::Enum: return "CHOICE";
  }
  return "VALUE";
}

Parsed parseText(const Key& key, std::string_view text) {
  switch (key.type()) {
    case Type::String:
    case Type::Enum:
      return Value(std::string(text));
    case Type::Bool: {
      const auto t = lowered(trim(text));
      if (t == "true" || t == "yes" || t == "on" || t == "1") return Value(true);
      if (t == "false" || t == "no" || t == "off" || t == "0") return Value(false);
      return quote(text) + " is not a boolean (use true or false)";
    }
    case Type::Integer: {
      const auto t = trim(text);
      std::int64_t v = 0;
      auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
      if (ec == std::errc::result_out_of_range) return quote(text) + " is out of range";
      if (t.empty() || ec != std::errc{} || p != t.data() + t.size())
        return quote(text) + " is not an integer";
      return Value(v);
    }
    case Type::Interval: {
      auto d = parseDuration(trim(text));
      if (!d) return quote(text) + " is not a duration (use e.g. 500ms, 5s)";
      return Value(*d);
    }
    case Type::StringList: {
      std::vector<std::string> items;
      if (trim(text).empty()) return Value(items);
      std::string_view rest = text;
      while (true) {
        const auto comma = rest.find(',');
        const auto item = trim(rest.substr(0, comma));
        if (item.empty()) return quote(text) + " has an empty item (separate items with commas)";
        items.emplace_back(item);
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
      }
      return Value(items);
    }
  }
  return std::string("unsupported type");
}

std::optional<std::string> validate(const Key& key, const Value& value) {
  switch (key.type()) {
    case Type::Integer: {
      const auto v = std::get<std::int64_t>(value);
      if (v < key.minInt()) return std::to_string(v) + " is below the minimum " + std::to_string(key.minInt());
      if (v > key.maxInt()) return std::to_string(v) + " is above the maximum " + std::to_string(key.maxInt());
      break;
    }
    case Type::Interval: {
      const auto v = std::get<Duration>(value);
      if (v < key.minDuration())
        return formatDuration(v) + " is below the minimum " + formatDuration(key.minDuration());
      if (v > key.maxDuration())
        return formatDuration(v) + " is above the maximum " + formatDuration(key.maxDuration());
      break;
    }
    case Type::Enum: {
      const auto& v = std::get<std::string>(value);
      const auto& allowed = key.allowed();
      if (std::find(allowed.begin(), allowed.end(), v) == allowed.end()) {
        std::string msg = quote(v) + " is not one of: ";
        for (std::size_t i = 0; i < allowed.size(); ++i) msg += (i == 0 ? "" : ", ") + allowed[i];
        return msg;
      }
      break;
    }
    default:
      break;
  }
  for (const auto& check : key.checks())
    if (auto problem = check(value)) return problem;
  return std::nullopt;
}

std::string display(const Key& key, const Value& value) {
  switch (key.type()) {
    case Type::String:
    case Type::Enum: return quote(std::get<std::string>(value));
    case Type::Bool: return std::get<bool>(value) ? "true" : "false";
    case Type::Integer: return std::to_string(std::get<std::int64_t>(value));
    case Type::Interval: return formatDuration(std::get<Duration>(value));
    case Type::StringList: {
      std::string out = "[";
      const auto& items = std::get<std::vector<std::string>>(value);
      for (std::size_t i = 0; i < items.size(); ++i) out += (i == 0 ? "" : ", ") + items[i];
      return out + "]";
    }
  }
  return {};
}

std::size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

}  // namespace detail
}  // namespace vnfpool::config
