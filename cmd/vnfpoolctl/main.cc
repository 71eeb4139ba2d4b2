// vnfpoolctl: the command-line tool for vnfpool. Thin: it picks the subcommand and hands over.
#include <iostream>
#include <string>
#include <vector>

#include "admin_commands.h"
#include "asap_commands.h"
#include "bench.h"
#include "codec_commands.h"
#include "demo.h"
#include "vnfpool/observe/metrics.h"

namespace {

const char* kUsage =
    "usage: vnfpoolctl <command> [flags]\n"
    "commands:\n"
    "  demo         run a registrar, PEs and a pool user on loopback and watch the pool (start here)\n"
    "  resolve      ask a registrar for PEs of a pool (handle resolution)\n"
    "  register     serve a TCP echo and keep it registered as a PE until interrupted\n"
    "  pools        list pools, or one pool's PEs (admin API)\n"
    "  handlespace  print a registrar's whole handlespace (admin API)\n"
    "  watch        print handlespace changes as they happen (admin API)\n"
    "  peers        list a registrar's ENRP peers (admin API)\n"
    "  remove       remove one PE from a registrar's handlespace now (admin API)\n"
    "  bench        load generator for a registrar (and serve-echo, its baseline)\n"
    "  decode       print an ASAP or ENRP message (hex or raw bytes) as JSON\n"
    "  encode       turn the JSON form of a message back into bytes\n"
    "Run 'vnfpoolctl <command> --help' for the flags of a command; 'vnfpoolctl --version' for the version.\n";

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::cerr << kUsage;
    return args.empty() ? vnfpool::ctl::kExitUsage : vnfpool::ctl::kExitOk;
  }
  if (args[0] == "--version" || args[0] == "version") {
    std::cout << "vnfpoolctl " << vnfpool::observe::buildInfo().version << " (" << vnfpool::observe::buildInfo().revision
              << ")\n";
    return vnfpool::ctl::kExitOk;
  }
  const std::string command = args[0];
  args.erase(args.begin());
  if (command == "demo") return vnfpool::ctl::runDemo(args, std::cout, std::cerr);
  if (command == "resolve") return vnfpool::ctl::runResolve(args, std::cout, std::cerr);
  if (command == "register") return vnfpool::ctl::runRegister(args, std::cout, std::cerr);
  if (command == "pools") return vnfpool::ctl::runPools(args, std::cout, std::cerr);
  if (command == "handlespace") return vnfpool::ctl::runHandlespace(args, std::cout, std::cerr);
  if (command == "watch") return vnfpool::ctl::runWatch(args, std::cout, std::cerr);
  if (command == "peers") return vnfpool::ctl::runPeers(args, std::cout, std::cerr);
  if (command == "remove") return vnfpool::ctl::runRemove(args, std::cout, std::cerr);
  if (command == "bench") return vnfpool::ctl::runBench(args, std::cout, std::cerr);
  if (command == "serve-echo") return vnfpool::ctl::runServeEcho(args, std::cout, std::cerr);
  if (command == "decode") return vnfpool::ctl::runDecode(args, std::cin, std::cout, std::cerr);
  if (command == "encode") return vnfpool::ctl::runEncode(args, std::cin, std::cout, std::cerr);
  std::cerr << "vnfpoolctl: unknown command \"" << command << "\"\n" << kUsage;
  return vnfpool::ctl::kExitUsage;
}
