// A small flag parser for vnfpoolctl's subcommands: --name value, --name=value, -n value, boolean
// switches, positional arguments, and environment defaults. Errors name the flag.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace vnfpool::ctl {

struct FlagSpec {
  std::string name;        // "registrar" for --registrar
  char short_name = 0;     // 'n' for -n
  bool takes_value = true; // false: a switch
  bool repeated = false;   // may be given more than once (values collect)
  std::string env{};       // environment variable giving the default, e.g. VNFPOOL_REGISTRAR
  std::string default_value{};
  std::string help{};
};

class Flags {
 public:
  /// Parses `args` against `specs`. On error returns nullopt and sets `error`.
  static std::optional<Flags> parse(const std::vector<std::string>& args, const std::vector<FlagSpec>& specs,
                                    std::string& error);
  bool has(const std::string& name) const;
  /// The last value (or the environment's, or the default).
  std::string get(const std::string& name) const;
  /// Every value; a value may hold a comma-separated list.
  std::vector<std::string> all(const std::string& name) const;
  /// get() as an unsigned number within [min, max]; nullopt + error if it is not one.
  std::optional<std::uint64_t> number(const std::string& name, std::uint64_t min, std::uint64_t max,
                                      std::string& error) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::map<std::string, std::vector<std::string>> values_;
  std::map<std::string, FlagSpec> specs_;
  std::vector<std::string> positional_;
};

/// "  --name VALUE   help" lines for a usage text.
std::string describeFlags(const std::vector<FlagSpec>& specs);

}  // namespace vnfpool::ctl
