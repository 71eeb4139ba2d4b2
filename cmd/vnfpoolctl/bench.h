// `vnfpoolctl bench`: a load generator for a registrar (handle resolutions, registrations) and, as the
// baseline measured in the same run, for a trivial echo server over the same kind of connections.
// `vnfpoolctl serve-echo` is that echo server. docs/BENCHMARKS.md has the commands and the figures.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace vnfpool::ctl {

int runBench(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
int runServeEcho(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace vnfpool::ctl
