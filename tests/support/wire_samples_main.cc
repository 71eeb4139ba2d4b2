// vnfpool-wire-samples --dialect classic|ng: prints every sample message (samples.h) encoded, as
// "<asap|enrp> <label> <hex>" lines. The Wireshark encoder check and the fuzz corpus start from these.
#include <iostream>
#include <string>

#include "samples.h"
#include "vnfpool/wire/codec.h"

int main(int argc, char** argv) {
  using namespace vnfpool;  // NOLINT(google-build-using-namespace)
  wire::Dialect dialect = wire::Dialect::Classic;
  if (argc == 3 && std::string(argv[1]) == "--dialect" && std::string(argv[2]) == "ng") {
    dialect = wire::Dialect::Ng;
  } else if (!(argc == 1 || (argc == 3 && std::string(argv[1]) == "--dialect" && std::string(argv[2]) == "classic"))) {
    std::cerr << "usage: vnfpool-wire-samples [--dialect classic|ng]\n";
    return 2;
  }
  const auto asap = test::sampleAsapMessages(dialect);
  for (std::size_t i = 0; i < asap.size(); ++i)
    std::cout << "asap " << test::label(asap[i], i) << ' ' << wire::toHex(wire::encode(asap[i], dialect).value()) << '\n';
  const auto enrp = test::sampleEnrpMessages(dialect);
  for (std::size_t i = 0; i < enrp.size(); ++i)
    std::cout << "enrp " << test::label(enrp[i], i) << ' ' << wire::toHex(wire::encode(enrp[i], dialect).value()) << '\n';
  return 0;
}
