// vnfpoolctl: the command-line tool for vnfpool. Thin: it picks the subcommand and hands over.
#include <iostream>
#include <string>
#include <vector>

#include "codec_commands.h"

namespace {

const char* kUsage =
    "usage: vnfpoolctl <command> [flags]\n"
    "commands:\n"
    "  decode   print an ASAP or ENRP message (hex or raw bytes) as JSON\n"
    "  encode   turn the JSON form of a message back into bytes\n"
    "Run 'vnfpoolctl <command> --help' for the flags of a command.\n";

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::cerr << kUsage;
    return args.empty() ? vnfpool::ctl::kExitUsage : vnfpool::ctl::kExitOk;
  }
  const std::string command = args[0];
  args.erase(args.begin());
  if (command == "decode") return vnfpool::ctl::runDecode(args, std::cin, std::cout, std::cerr);
  if (command == "encode") return vnfpool::ctl::runEncode(args, std::cin, std::cout, std::cerr);
  std::cerr << "vnfpoolctl: unknown command \"" << command << "\"\n" << kUsage;
  return vnfpool::ctl::kExitUsage;
}
