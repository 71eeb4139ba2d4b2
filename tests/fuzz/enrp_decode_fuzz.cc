// Fuzz target: the ENRP decoder never crashes, and whatever decodes survives encode + decode unchanged.
#include <cstdlib>
#include <span>

#include "vnfpool/wire/codec.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace vnfpool::wire;  // NOLINT(google-build-using-namespace)
  const auto bytes = std::as_bytes(std::span(data, size));
  for (auto dialect : {Dialect::Classic, Dialect::Ng}) {
    DecodeReport report;
    auto first = decodeEnrp(bytes, dialect, &report);
    if (!first.ok()) continue;
    auto encoded = encode(first.value(), dialect);
    if (!encoded.ok()) std::abort();  // a decoded message can always be encoded again
    auto again = decodeEnrp(encoded.value(), dialect);
    if (!again.ok() || again.value() != first.value()) std::abort();
  }
  return 0;
}
