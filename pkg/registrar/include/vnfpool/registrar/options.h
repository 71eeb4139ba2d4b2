// The registrar's configuration keys (YAML file, VNFPOOL_REGISTRAR_* environment, flags) and their
// translation into Options. docs/registrar.md lists every key.
#pragma once

#include <string>
#include <vector>

#include "vnfpool/config/config.h"
#include "vnfpool/registrar/registrar.h"

namespace vnfpool::registrar {

/// Declares every registrar key with its default, bounds and help.
config::Schema schema();

/// What a loaded configuration means, beyond Options: logging and the ready file.
struct Settings {
  Options options{};
  std::string log_level = "info";
  /// Written (JSON: PR ID, bound endpoints) once the registrar serves; tests read the ports from it.
  std::string ready_file{};
};

/// Builds Settings from a loaded configuration; errors name the key ("asap.listen: \"x\" is not
/// address:port").
config::Result<Settings> settingsFrom(const config::Config& config);

/// The ready file's content for a started registrar.
std::string readyFileContent(const Registrar& registrar);

}  // namespace vnfpool::registrar
