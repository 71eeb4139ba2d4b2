// Fuzz target: the stream framer accepts any bytes in any chunking without crashing, never yields a frame
// that disagrees with its own header, and never holds more than its limit.
#include <cstdlib>
#include <span>

#include "vnfpool/wire/framer.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace vnfpool::wire;  // NOLINT(google-build-using-namespace)
  if (size < 1) return 0;
  const std::size_t chunk = 1 + data[0] % 64;  // the first byte picks the chunk size
  const auto bytes = std::as_bytes(std::span(data + 1, size - 1));
  StreamFramer framer(4096, 8192);
  for (std::size_t pos = 0; pos < bytes.size(); pos += chunk) {
    if (!framer.feed(bytes.subspan(pos, std::min(chunk, bytes.size() - pos)))) break;
    while (auto next = framer.next()) {
      if (!next->ok()) return 0;  // the stream lost its boundaries: a connection would be closed here
      const auto m = next->value();
      const std::size_t length = (std::to_integer<std::size_t>(m[2]) << 8) | std::to_integer<std::size_t>(m[3]);
      if (length < 4 || length > 4096 || m.size() != ((length + 3) & ~std::size_t{3})) std::abort();
    }
    if (framer.buffered() > 8192) std::abort();
  }
  return 0;
}
