// `vnfpoolctl demo`: the embedded default. A registrar, several PEs with a load-aware policy and a PU load,
// all on loopback in this one process, with a live view; a PE is killed to show it leaving the pool.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace vnfpool::ctl {

int runDemo(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace vnfpool::ctl
