// vnfpoolctl commands that talk to a registrar's admin API (gRPC): pools, handlespace, watch, peers,
// remove.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace vnfpool::ctl {

int runPools(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
int runHandlespace(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
int runWatch(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
int runRemove(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
int runPeers(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace vnfpool::ctl
