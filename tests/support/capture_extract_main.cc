// vnfpool-capture-extract FILE.pcap: prints every ASAP/ENRP message of a capture as
// "<frame> <asap|enrp> <hex>", one a line, in capture order. Used by the Wireshark cross-checks and to
// keep tests/data/rsplib/messages.txt in step with the captures.
#include <exception>
#include <iostream>

#include "pcap.h"
#include "vnfpool/wire/codec.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: vnfpool-capture-extract FILE.pcap\n";
    return 2;
  }
  try {
    for (const auto& m : vnfpool::test::readCapture(argv[1])) {
      std::cout << m.frame << ' ' << (m.protocol == vnfpool::wire::Protocol::Asap ? "asap" : "enrp") << ' '
                << vnfpool::wire::toHex(m.bytes) << '\n';
    }
  } catch (const std::exception& e) {
    std::cerr << "vnfpool-capture-extract: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
