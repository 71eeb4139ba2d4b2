// `vnfpoolctl decode` and `vnfpoolctl encode`: the codec on the command line.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace vnfpool::ctl {

/// Exit codes shared by all vnfpoolctl commands.
inline constexpr int kExitOk = 0;
inline constexpr int kExitBadInput = 1;  // the message or JSON was refused; stderr says why (with the RFC cause)
inline constexpr int kExitUsage = 2;     // unknown flag, missing argument, unreadable file

int runDecode(const std::vector<std::string>& args, std::istream& in, std::ostream& out, std::ostream& err);
int runEncode(const std::vector<std::string>& args, std::istream& in, std::ostream& out, std::ostream& err);

}  // namespace vnfpool::ctl
