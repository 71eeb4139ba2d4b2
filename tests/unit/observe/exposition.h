// A strict reader of the Prometheus text exposition format (0.0.4), written for the tests from the format
// description (prometheus.io/docs/instrumenting/exposition_formats): it collects every rule a scrape
// would trip over, so a test can assert that /metrics output is valid and find values in it.
#pragma once

#include <cmath>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace vnfpool::observe::test {

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct Family {
  std::string help;
  std::string type;
  bool has_help = false;
  std::vector<Sample> samples;
};

struct Exposition {
  std::map<std::string, Family> families;
  std::vector<std::string> errors;

  /// The value of the sample `name` with exactly `labels`, if present.
  std::optional<double> value(const std::string& name, const std::map<std::string, std::string>& labels = {}) const {
    for (const auto& [fname, f] : families)
      for (const auto& s : f.samples)
        if (s.name == name && s.labels == labels) return s.value;
    return std::nullopt;
  }
};

inline bool isMetricName(std::string_view s) {
  if (s.empty()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
                    (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

inline bool isLabelName(std::string_view s) { return isMetricName(s) && s.find(':') == std::string_view::npos; }

inline std::optional<double> parseValue(const std::string& s) {
  if (s == "+Inf") return HUGE_VAL;
  if (s == "-Inf") return -HUGE_VAL;
  if (s == "NaN") return NAN;
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size()) return std::nullopt;
  return v;
}

inline Exposition parseExposition(std::string_view text) {
  Exposition out;
  auto error = [&](std::size_t line_no, const std::string& what) {
    out.errors.push_back("line " + std::to_string(line_no) + ": " + what);
  };
  if (!text.empty() && text.back() != '\n') out.errors.push_back("does not end with a newline");
  std::string current;  // family whose samples are being read
  std::set<std::string> finished;
  std::size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (line.empty()) continue;
    if (line.front() == '#') {
      const bool help = line.rfind("# HELP ", 0) == 0, type = line.rfind("# TYPE ", 0) == 0;
      if (!help && !type) continue;  // a comment
      std::string_view rest = line.substr(7);
      const auto sp = rest.find(' ');
      const std::string name(rest.substr(0, sp));
      const std::string arg(sp == std::string_view::npos ? "" : rest.substr(sp + 1));
      if (!isMetricName(name)) error(line_no, "bad metric name '" + name + "'");
      auto& f = out.families[name];
      if (current != name) {
        if (finished.count(name) != 0) error(line_no, name + " appears in two separate groups");
        if (!current.empty()) finished.insert(current);
        current = name;
      }
      if (help) {
        if (f.has_help) error(line_no, "second HELP for " + name);
        f.has_help = true;
        for (std::size_t i = 0; i < arg.size(); ++i)
          if (arg[i] == '\\' && (i + 1 >= arg.size() || (arg[i + 1] != '\\' && arg[i + 1] != 'n')))
            error(line_no, "bad escape in HELP of " + name);
          else if (arg[i] == '\\')
            ++i;
        f.help = arg;
      } else {
        if (!f.type.empty()) error(line_no, "second TYPE for " + name);
        if (!f.samples.empty()) error(line_no, "TYPE after samples for " + name);
        static const std::set<std::string> kTypes{"counter", "gauge", "histogram", "summary", "untyped"};
        if (kTypes.count(arg) == 0) error(line_no, "bad type '" + arg + "'");
        f.type = arg;
      }
      continue;
    }
    // name{label="value",...} value [timestamp]
    Sample s;
    std::size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    s.name = std::string(line.substr(0, i));
    if (!isMetricName(s.name)) error(line_no, "bad sample name '" + s.name + "'");
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        std::size_t eq = line.find('=', i);
        if (eq == std::string_view::npos) {
          error(line_no, "label without '='");
          break;
        }
        const std::string lname(line.substr(i, eq - i));
        if (!isLabelName(lname)) error(line_no, "bad label name '" + lname + "'");
        i = eq + 1;
        if (i >= line.size() || line[i] != '"') {
          error(line_no, "label value not quoted");
          break;
        }
        ++i;
        std::string value;
        bool closed = false;
        while (i < line.size()) {
          const char c = line[i++];
          if (c == '"') {
            closed = true;
            break;
          }
          if (c == '\\') {
            if (i >= line.size()) break;
            const char e = line[i++];
            if (e == 'n') value += '\n';
            else if (e == '\\' || e == '"') value += e;
            else error(line_no, "bad escape in label value");
          } else {
            value += c;
          }
        }
        if (!closed) error(line_no, "unterminated label value");
        if (!s.labels.emplace(lname, value).second) error(line_no, "repeated label " + lname);
        if (i < line.size() && line[i] == ',') ++i;
      }
      if (i >= line.size()) {
        error(line_no, "unterminated label set");
        continue;
      }
      ++i;  // '}'
    }
    if (i >= line.size() || line[i] != ' ') {
      error(line_no, "no value");
      continue;
    }
    std::string_view rest = line.substr(i + 1);
    const std::string value_text(rest.substr(0, rest.find(' ')));
    auto v = parseValue(value_text);
    if (!v) error(line_no, "bad value '" + value_text + "'");
    s.value = v.value_or(0);
    // Which family does it belong to?
    std::string family = s.name;
    auto known = out.families.find(family);
    if (known == out.families.end() || known->second.type.empty()) {
      for (std::string_view suffix : {"_bucket", "_sum", "_count"}) {
        if (s.name.size() > suffix.size() && s.name.compare(s.name.size() - suffix.size(), suffix.size(), suffix) == 0) {
          auto base = s.name.substr(0, s.name.size() - suffix.size());
          auto it = out.families.find(base);
          if (it != out.families.end() && (it->second.type == "histogram" || it->second.type == "summary")) {
            family = base;
            break;
          }
        }
      }
    }
    auto it = out.families.find(family);
    if (it == out.families.end() || it->second.type.empty()) {
      error(line_no, "sample " + s.name + " without a TYPE line");
      continue;
    }
    if (family != current) error(line_no, "sample " + s.name + " outside its family's group");
    if (!it->second.has_help) error(line_no, "family " + family + " without HELP");
    if (it->second.type == "counter" && !(s.value >= 0)) error(line_no, "negative counter " + s.name);
    it->second.samples.push_back(std::move(s));
  }
  // Histograms: cumulative buckets ending in +Inf == _count, per label set.
  for (const auto& [name, f] : out.families) {
    if (f.type != "histogram") continue;
    std::map<std::map<std::string, std::string>, std::vector<std::pair<double, double>>> buckets;
    std::map<std::map<std::string, std::string>, double> counts;
    for (const auto& s : f.samples) {
      auto labels = s.labels;
      if (s.name == name + "_bucket") {
        auto le = labels.find("le");
        if (le == labels.end()) {
          out.errors.push_back(name + ": bucket without le");
          continue;
        }
        auto bound = parseValue(le->second);
        labels.erase(le);
        buckets[labels].emplace_back(bound.value_or(NAN), s.value);
      } else if (s.name == name + "_count") {
        counts[labels] = s.value;
      } else if (s.name != name + "_sum") {
        out.errors.push_back(name + ": unexpected sample " + s.name);
      }
    }
    for (const auto& [labels, bs] : buckets) {
      for (std::size_t k = 1; k < bs.size(); ++k)
        if (!(bs[k - 1].first < bs[k].first) || bs[k - 1].second > bs[k].second)
          out.errors.push_back(name + ": buckets not increasing");
      if (bs.empty() || !std::isinf(bs.back().first)) out.errors.push_back(name + ": no +Inf bucket");
      else if (counts.count(labels) == 0 || counts.at(labels) != bs.back().second)
        out.errors.push_back(name + ": +Inf bucket differs from _count");
    }
  }
  return out;
}

}  // namespace vnfpool::observe::test
