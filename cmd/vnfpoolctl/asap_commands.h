// vnfpoolctl commands that speak ASAP to a registrar: resolve (a Pool User) and register (a Pool Element
// that serves a TCP echo until interrupted).
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "flags.h"
#include "vnfpool/asap/io/clients.h"

namespace vnfpool::ctl {

int runResolve(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
int runRegister(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

/// The flags every ASAP command takes (registrars, transport, dialect), and their client options.
std::vector<FlagSpec> asapSpecs();
std::optional<asap::io::ClientOptions> clientOptions(const Flags& f, std::string& error);
/// A policy from --policy and its value flags (--weight, --priority, --load ... in percent).
std::optional<wire::Policy> policyFrom(const Flags& f, std::string& error);
std::vector<FlagSpec> policySpecs();

}  // namespace vnfpool::ctl
